"""`napari-radiomics model`: a patient-grouped, cross-validated model of a features table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from napari_radiomics.cli._options import (
    add_subcommand,
    add_table_options,
    features_table,
    non_negative,
    positive,
)
from napari_radiomics.cli._status import EXIT_OK

_HELP = """\
Cross-validate a classifier of TARGET (default tumor_type) on a features table (this plugin's
CSV or Parquet). Folds are grouped by GROUP (default patient_id), so no patient is ever in both
the training and the test part of a fold, and stratified by class where the groups allow;
--folds cvind.mat uses the dataset's own split instead (case ids are slice numbers). Scaling,
feature selection and the classifier are fitted inside each training fold. Identifying and
diagnostics_* columns are never features, nor is the TARGET or GROUP column when it names a
feature (it is left out, and the run says so). Rows with an empty TARGET or GROUP cell are
refused (drop them first). OUTPUT_DIR is created if needed; an existing file there is refused,
and so is one where a file written would replace FEATURES or the cvind.mat (by any name).
--harmonize COLUMN removes the batch effect of COLUMN (site, scanner) with ComBat, learned on
the training part of each fold and applied to its test part; COLUMN is never a feature, and
each batch of a test part needs training rows (ComBat cannot harmonise a batch it has not
seen).

Written to OUTPUT_DIR: metrics.json (balanced_accuracy {mean, std}, per-fold train_groups,
test_groups and scores; with --harmonize, how, and each fold's train_batches and
test_batches), predictions.csv (out-of-fold, one row per case), importances.csv
(permutation importances on the test folds), confusion.png, importances.png, report.md.
"""


def _folds(text: str) -> int | Path:
    if text.isdigit():
        value = int(text)
        if value < 2:
            raise argparse.ArgumentTypeError(f"--folds needs at least 2 folds, got {value}")
        return value
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"--folds {text}: neither a fold count nor a file")
    return path


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `model` subcommand's options."""
    from napari_radiomics.analysis.models import CLASSIFIERS

    model = add_subcommand(
        commands, "model",
        help="cross-validate a patient-grouped tumour-type model of a features table",
        description=_HELP,
    )  # fmt: skip
    add_table_options(model, target="column to predict", group="column folds are grouped by")
    model.add_argument("--classifier", choices=CLASSIFIERS, default=CLASSIFIERS[0])
    model.add_argument(
        "--folds", type=_folds, default=5, metavar="K|cvind.mat",
        help="number of grouped folds (default 5), or the dataset's cvind.mat",
    )  # fmt: skip
    model.add_argument("--seed", type=int, default=0, help="random seed (folds, models)")
    model.add_argument("--select", type=positive, metavar="K", help="keep the K best features")
    model.add_argument(
        "--harmonize", metavar="COLUMN",
        help="ComBat by this batch column (site, scanner), learned inside each training fold",
    )  # fmt: skip
    model.add_argument(
        "--importance-repeats", type=non_negative, default=3, metavar="R",
        help="permutations per feature and fold (0: no importances)",
    )  # fmt: skip
    return model


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the headline."""
    from napari_radiomics.analysis.models import evaluate_model, folds_from_cvind
    from napari_radiomics.analysis.report import MODEL_REPORT_FILES, write_model_report
    from napari_radiomics.cli._follow import cannot_write
    from napari_radiomics.errors import WriteError

    cvind = [args.folds] if isinstance(args.folds, Path) else []
    table, output = features_table(parser, args, "the report", MODEL_REPORT_FILES, cvind)
    try:  # every refusal names the file (or the column, prefixed with the file)
        folds = args.folds
        if isinstance(folds, Path):
            case = table["case"] if "case" in table.columns else None
            if case is None:
                raise ValueError(f"{args.features}: no 'case' column to match cvind.mat to")
            folds = folds_from_cvind(folds, case)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        result = evaluate_model(
            table, target=args.target, group=args.group, classifier=args.classifier,
            folds=folds, seed=args.seed, select=args.select,
            importance_repeats=args.importance_repeats, harmonize=args.harmonize,
        )  # fmt: skip
    except ValueError as exc:  # names the column or the option
        parser.error(f"{args.features}: {exc}")
    try:
        written = write_model_report(result, output, [args.features, *cvind])
    except WriteError as exc:
        return cannot_write("model", exc)
    for column in result.metrics["left_out"]:
        print(
            f"note: column {column!r} is the target or the group, so it is not used as a feature",
            file=sys.stderr,
        )
    accuracy = result.metrics["balanced_accuracy"]
    print(
        f"balanced accuracy {accuracy['mean']:.3f} ± {accuracy['std']:.3f} over "
        f"{len(result.metrics['folds'])} folds grouped by {args.group}; "
        f"written to {Path(args.output)} ({len(written)} files)",
        file=sys.stderr,
    )
    return EXIT_OK
