"""`napari-radiomics extract`: a whole dataset into one table, or (`--check`) what
pyradiomics would refuse or skip in it, without extracting."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari_radiomics.cli._follow import follow, start
from napari_radiomics.cli._options import (
    add_execution_options,
    add_input_options,
    add_settings_options,
    add_subcommand,
    cases_from,
    files_read,
    never_crash_on_output,
    settings_from,
)
from napari_radiomics.cli._status import (
    EXIT_FAILED_CASES,
    EXIT_OK,
)

if TYPE_CHECKING:
    from napari_radiomics.batch import CaseCheck

_EXTRACT_HELP = """\
Extract pyradiomics features for every case of a dataset into one table: one row per case
and ROI label with the columns case, patient_id, label, tumor_type, mask_source,
mask_digest, roi_label, then pyradiomics' feature columns (original_firstorder_Mean, ...).

Masks corrected in napari are used by default: each dataset's corrections store (beside it,
or where it was moved) supplies the corrected masks, and mask_source says "original" or
"corrected" per row. --corrections DIR names a store; --original-masks ignores them all.
--resume re-extracts the cases whose correction changed after their rows were written.

INPUT may be any mix of:
  * brain-tumour .mat files (MATLAB v7.3 or v5), e.g. data/*.mat
  * folders, searched recursively for .mat files (cvind.mat is skipped)
  * a NumPy bundle folder (images.npy, masks.npy, labels.npy, patient_ids.npy): one case
    per slice, read one slice at a time
  * NRRD / NIfTI / MHA image files, measured against --mask
  * a pyradiomics batch CSV with columns Image, Mask and optional Label (paths relative to
    the CSV); its other columns are copied into the output

Files written next to OUTPUT (say features.csv):
  features.csv          rows appended as each case finishes (a crash loses nothing)
  features.params.yaml  the pyradiomics parameters used (a valid pyradiomics params file)
  features.errors.csv   case, path, message of each failed case (only if some failed)
  features.lock         while the run lasts: who is writing this output
An OUTPUT ending in .parquet is journaled to features.partial.csv and converted at the end.

With --check nothing is extracted or written (-o is not needed): each case is read and
checked for what pyradiomics would refuse (empty mask, absent label, one-voxel ROI, mask on
another grid) or silently skip (LoG sigmas too large, shape on 2D, ...), the checks the
napari widget makes before a run.

One run at a time per OUTPUT: a run holds features.lock while it lasts, and a second run on
the same output (even with --overwrite or --resume) is refused, naming the first one.

Exit status: 0 all cases ok; 2 usage error, OUTPUT held by another run, or an output file
that cannot be written (a full disk: finished cases are kept, rerun with --resume); 3 some
cases failed (all good rows written); 130 interrupted (rerun with --resume to continue).
With --check: 0 every case would run, 3 some would fail.
"""

_EXAMPLES = """\
examples:
  napari-radiomics extract data/ -o features.csv --preset brain-tumor-mri
  napari-radiomics extract data/ -o features.csv --resume
  napari-radiomics extract data/ --check --preset brain-tumor-mri
  napari-radiomics extract data/*.mat -o f.parquet --set binWidth=25 --jobs 8
  napari-radiomics extract scan.nrrd --mask seg.nrrd -o f.csv --params params.yaml
  napari-radiomics extract cases.csv -o f.csv --dask tcp://scheduler:8786
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `extract` subcommand's options."""
    extract = add_subcommand(
        commands,
        "extract",
        help="extract features for a whole dataset into a CSV or Parquet table",
        description=_EXTRACT_HELP,
        epilog=_EXAMPLES,
    )
    add_input_options(extract)
    extract.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="features .csv or .parquet (required unless --check)",
    )
    extract.add_argument(
        "--check", action="store_true",
        help="extract nothing: say per case what pyradiomics would refuse or skip",
    )  # fmt: skip
    add_settings_options(extract)
    add_execution_options(extract)
    return extract


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Extract, or only check with --check."""
    never_crash_on_output()
    if args.check:
        return _check(parser, args)
    if args.output is None:  # required unless --check
        parser.error("the following arguments are required: -o/--output")
    return _extract(parser, args)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`extract --check`: the preflight on every case; problems on stdout, summary on stderr."""
    from napari_radiomics.batch import check_cases
    from napari_radiomics.errors import ReadError

    start = time.perf_counter()
    try:
        settings = settings_from(args)
        cases = cases_from(args)
        if not cases:
            raise ReadError(args.inputs[0], "no cases found")
    except (ValueError, OSError) as exc:  # ReadError, SettingsError are ValueErrors
        parser.error(str(exc))
    results = list(check_cases(cases, settings))
    failing = [r for r in results if not r.runs]
    for line in _check_report(results):
        print(line)
    if not args.quiet:
        print(
            f"checked {len(results)} cases in {time.perf_counter() - start:.1f} s: "
            f"{len(results) - len(failing)} would run, {len(failing)} would fail "
            "(nothing was extracted)",
            file=sys.stderr,
        )
    return EXIT_FAILED_CASES if failing else EXIT_OK


def _check_report(results: Sequence[CaseCheck]) -> list[str]:
    """One line per case that would fail (case id, then each `severity: message`); then each
    other note once, with the cases it concerns (`all N cases` when it concerns every one)."""
    lines = []
    shared: dict[str, list[str]] = {}
    for result in results:
        case_id, problems = result.case.case_id, result.checked.problems
        own = [p for p in problems if p.severity == "error" or p.labels]
        if own:
            lines.append(f"{case_id}: " + "; ".join(f"{p.severity}: {p.message}" for p in own))
        for problem in problems:
            if problem not in own:
                shared.setdefault(problem.message, []).append(case_id)
    for message, ids in shared.items():
        if len(ids) == len(results) > 1:
            where = f"all {len(results)} cases"
        elif len(ids) == 1:
            where = ids[0]
        else:
            listed = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            where = f"{len(ids)} cases ({listed})"
        lines.append(f"{where}: note: {message}")
    return lines


def _extract(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        print(f"warning: {message}", file=sys.stderr)  # one line, not a source excerpt

    with warnings.catch_warnings():
        warnings.showwarning = show  # e.g. a stale lock taken over
        started = start(parser, "extract", partial(_begin, args))
        if isinstance(started, int):
            return started
        run, first = started
        return _follow(parser, args, run, first.total)


def _begin(args: argparse.Namespace) -> Iterator[Any]:
    """The batch run ``args`` ask for (not started: :func:`start` takes its first event)."""
    from napari_radiomics.batch import iter_batch
    from napari_radiomics.errors import ReadError

    settings = settings_from(args)
    cases = cases_from(args)
    if not cases:
        raise ReadError(args.inputs[0], "no cases found")
    return iter_batch(
        cases, settings, args.output, jobs=args.jobs, dask=args.dask,
        resume=args.resume, limit=args.limit, overwrite=args.overwrite,
        sources=files_read(args),
    )  # fmt: skip


def _follow(
    parser: argparse.ArgumentParser, args: argparse.Namespace, run: Any, total: int
) -> int:
    """Drive a started run to its end, with a progress bar; returns the exit status."""
    from napari_radiomics.batch import BatchError, companion_paths

    journal = companion_paths(Path(args.output))[0]  # a Parquet output is written last
    try:
        return follow(
            run, total, command="extract", quiet=args.quiet, report=partial(_report, args),
            interrupted=f"interrupted; finished cases are in {journal}: rerun with --resume",
        )  # fmt: skip
    except BatchError as exc:  # e.g. Dask not installed or its scheduler unreachable
        parser.error(str(exc))


def _report(args: argparse.Namespace, summary: Any) -> int:
    """The finished run's summary on stderr; its exit status."""
    if not args.quiet:
        print(
            f"{summary.rows} rows for {summary.succeeded} cases written to {summary.output} "
            f"in {summary.seconds:.1f} s ({summary.cases_per_second:.2f} cases/s, "
            f"{summary.backend}); {summary.skipped} already done",
            file=sys.stderr,
        )
        if summary.failed:
            print(f"{summary.failed} cases failed: see {summary.errors_path}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILED_CASES
