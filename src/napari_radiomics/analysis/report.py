"""A model evaluation on disk and in figures: what ``napari-radiomics model -o DIR`` writes.

The figures are matplotlib ``Figure`` objects built without pyplot, so the same functions draw
them into the CLI's report (PNG) and into a napari dock (a Qt canvas) without global state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import same_file
from napari_radiomics._spreadsheet import escape_frame
from napari_radiomics.analysis.models import ModelResult
from napari_radiomics.errors import WriteError

__all__ = [
    "MODEL_REPORT_FILES",
    "confusion_figure",
    "count_heatmap",
    "importance_figure",
    "refuse_inputs_as_report",
    "write_files",
    "write_model_report",
]

#: The files :func:`write_model_report` writes in its folder (the importances' two only when
#: importances were computed).
MODEL_REPORT_FILES = (
    "metrics.json",
    "predictions.csv",
    "confusion.png",
    "importances.csv",
    "importances.png",
    "report.md",
)


def confusion_figure(result: ModelResult, **style: Any) -> Any:
    """The confusion matrix summed over the test folds, counts and row percentages."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.8, 4.2), layout="constrained", **style)
    axes = figure.add_subplot()
    count_heatmap(axes, result.confusion, result.classes, result.classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = result.metrics["balanced_accuracy"]
    axes.set_title(f"balanced accuracy {accuracy['mean']:.3f} ± {accuracy['std']:.3f}")
    return figure


def count_heatmap(
    axes: Any, counts: np.ndarray, rows: Sequence[Any], columns: Sequence[Any]
) -> None:
    """Counts with their row percentages, shaded by the percentage (a confusion matrix, a
    contingency table)."""
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if share[row, column] > 0.5 else "black"
        text = f"{count}\n{share[row, column]:.0%}"
        axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=9)
    axes.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), [str(r) for r in rows])


def importance_figure(result: ModelResult, top: int = 20, **style: Any) -> Any:
    """The ``top`` permutation importances (drop in balanced accuracy on the test folds)."""
    from matplotlib.figure import Figure

    table = result.importances.head(top).iloc[::-1]
    figure = Figure(figsize=(6.4, 0.25 * max(len(table), 4) + 1.2), layout="constrained", **style)
    axes = figure.add_subplot()
    axes.barh(table["feature"], table["importance"], xerr=table["std"], color="tab:blue")
    axes.set_xlabel("drop in balanced accuracy when permuted (test folds)")
    axes.tick_params(axis="y", labelsize=7)
    return figure


def write_model_report(
    result: ModelResult, folder: str | Path, inputs: Sequence[str | Path] = ()
) -> list[Path]:
    """``metrics.json``, ``predictions.csv`` (out of fold), ``importances.csv``, the two
    figures and ``report.md`` (:data:`MODEL_REPORT_FILES`); returns the paths written.

    Each file is replaced whole (a killed run leaves the previous report's file, not half of
    one); CSV cells are written safe for spreadsheets. A folder that cannot be made or
    written (``folder`` is a file, a read-only disk), or that holds one of ``inputs`` (the
    features table, a ``cvind.mat``) under a name written here, raises :class:`WriteError`
    naming it (:func:`write_files`).
    """
    has_importances = not result.importances.empty
    writers: dict[str, Callable[[Path], Any]] = {
        "metrics.json": lambda p: p.write_text(
            json.dumps(result.metrics, indent=2) + "\n", encoding="utf-8"
        ),
        "predictions.csv": lambda p: escape_frame(result.predictions).to_csv(p, index=False),
        "confusion.png": lambda p: confusion_figure(result).savefig(p, dpi=120),
    }
    if has_importances:
        writers["importances.csv"] = lambda p: escape_frame(result.importances).to_csv(
            p, index=False
        )
        writers["importances.png"] = lambda p: importance_figure(result).savefig(p, dpi=120)
    writers["report.md"] = lambda p: p.write_text(
        _markdown(result, has_importances=has_importances), encoding="utf-8"
    )
    return write_files(folder, writers, "the model report", inputs)


def refuse_inputs_as_report(
    folder: str | Path, names: Iterable[str], inputs: Sequence[str | Path], what: str
) -> None:
    """A :class:`WriteError` naming the input when one of ``inputs`` (the files a report is
    made from: a features table, a ``cvind.mat``) is ``folder/name`` for one of ``names``,
    the files ``what`` writes there, by any name (``same_file``: a hard link, another case
    where case is ignored): writing the report would replace what it was made from. Commands
    and docks call it before any work; :func:`write_files` again before writing."""
    folder = Path(folder)
    for name in names:
        for given in inputs:
            if same_file(given, folder / name):
                raise WriteError(
                    given,
                    f"is read for {what}, which writes {folder / name} over it; choose "
                    "another output folder",
                )


def write_files(
    folder: str | Path,
    writers: Mapping[str, Callable[[Path], Any]],
    what: str,
    inputs: Sequence[str | Path] = (),
) -> list[Path]:
    """``folder/name`` for each of ``writers``, written by ``writers[name](temporary)`` and
    replaced whole (a killed run leaves the previous file, not half of one); returns the paths.
    A folder that is a file, or that cannot be made or written (a read-only or full disk),
    raises :class:`WriteError` naming it or the file, and ``what`` the folder was for; so
    does one of ``inputs`` that a file written would replace (:func:`refuse_inputs_as_report`),
    before anything is written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise WriteError(folder, f"is a file; name a folder for {what}")
    refuse_inputs_as_report(folder, writers, inputs, what)
    where = folder  # what the error names: the folder, then the file being written
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, write in writers.items():
            where = folder / name
            with replaced(where) as tmp:
                write(tmp)
    except OSError as exc:
        raise WriteError(where, f"cannot be written ({exc.strerror or exc})") from None
    return [folder / name for name in writers]


def _markdown(result: ModelResult, has_importances: bool) -> str:
    metrics = result.metrics
    accuracy = metrics["balanced_accuracy"]
    lines = [
        f"# {metrics['target']} from {metrics['features']} features",
        "",
        f"{metrics['cases']} cases of {metrics['groups']} {metrics['group']} groups, "
        f"classifier `{metrics['classifier']}`, {len(metrics['folds'])} folds grouped by "
        f"`{metrics['group']}` (no group in both the training and the test part of a fold).",
        "",
        f"- balanced accuracy: **{accuracy['mean']:.3f} ± {accuracy['std']:.3f}** (sd over folds)",
        f"- macro F1: {metrics['macro_f1']['mean']:.3f}",
        "- recall per class: " + ", ".join(f"{c} {r:.3f}" for c, r in metrics["recall"].items()),
        "",
        "![confusion matrix](confusion.png)",
    ]
    if metrics.get("left_out"):
        left_out = ", ".join(f"`{c}`" for c in metrics["left_out"])
        lines[7:7] = [f"- not used as features (the target, the group or the batch): {left_out}"]
    if metrics.get("harmonization"):
        column = metrics["harmonization"]["batch_column"]
        lines[4:4] = [  # after the paragraph on the folds
            f"Harmonised by `{column}` with ComBat (parametric empirical Bayes, no covariate), "
            "learned on the training part of each fold.",
            "",
        ]
    if has_importances:
        lines += ["", "![permutation importances](importances.png)"]
    lines += ["", "| fold | test groups | balanced accuracy | macro F1 |", "|---|---:|---:|---:|"]
    lines += [
        f"| {f['fold']} | {len(f['test_groups'])} | {f['balanced_accuracy']:.3f} | "
        f"{f['macro_f1']:.3f} |"
        for f in metrics["folds"]
    ]
    return "\n".join(lines) + "\n"
