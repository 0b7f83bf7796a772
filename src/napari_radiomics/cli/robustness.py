"""`napari-radiomics robustness`: which features survive segmentation uncertainty.

A thin layer over ``analysis.robustness_run.iter_robustness``: every case is extracted on its
mask and N seeded perturbations through the batch machinery (journal, resume, errors file,
output lock, process pool or Dask), then each feature's ICC across cases is written, with a
pyradiomics params file of the robust ones.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from napari_radiomics.cli._follow import follow, start
from napari_radiomics.cli._options import (
    add_execution_options,
    add_input_options,
    add_settings_options,
    add_subcommand,
    cases_from,
    files_read,
    never_crash_on_output,
    non_negative,
    positive,
    settings_from,
)
from napari_radiomics.cli._status import (
    EXIT_FAILED_CASES,
    EXIT_OK,
)

_HELP = """\
How robust is each feature to where the tumour border was drawn? Every case is extracted on
its own mask and on N seeded perturbations of it (Zwanenburg et al. 2019):
  grow-shrink  the border moved by a random distance within --max-distance mm (default:
               twice the largest pixel spacing), never below 80% of the volume
  contour      supervoxel contour randomisation (SLIC around the ROI; each supervoxel kept
               with the probability of its overlap with the ROI; then a closing)
  noise        Gaussian image noise, its standard deviation estimated from the image
then the intraclass correlation (ICC) of each feature across cases is computed, with its 95%
confidence interval from the F distribution. A feature is robust when the interval's lower
bound reaches --threshold. INPUT is what `extract` takes (.mat files, folders, a NumPy
bundle, NRRD/NIfTI/MHA with --mask, a batch CSV); at least 2 cases.

Files written for OUTPUT rob.csv:
  rob.csv                    feature, icc, ci_low, ci_high, robust, form, reason (why an
                             ICC is NaN, e.g. a constant feature), in_params
  rob.perturbed.csv          the long table the ICC is computed from: one row per case, ROI
                             label and perturbation (0 = original mask), with perturbation,
                             seed, distance_mm, contour, noise_sigma, then the features
  rob.params.yaml            pyradiomics params enabling only robust features; pyradiomics
                             enables feature names for all image types at once, so robust
                             features it cannot single out are left out (in_params False)
  rob.perturbation.yaml      the perturbation plan (--resume refuses another one)
  rob.perturbed.params.yaml  the settings of the run; rob.perturbed.errors.csv (failed
  rob.perturbed.lock         cases) and the lock, as for extract

When some cases have corrected masks (a corrections store, see extract), their original and
corrected masks are also compared as two raters of the same ICC form (perturbations are made
from the corrected masks):
  rob.corrections.csv        feature, icc, ci_low, ci_high, robust, form, reason
  rob.corrections.long.csv   the two extractions per corrected case it is computed from

Exit status: 0 all cases ok; 2 usage error (bad or conflicting options, fewer than 2 cases,
OUTPUT held by another run or written with other settings or another plan, a file that cannot
be written); 3 some cases failed (the ICC uses the others; fewer than 2 left: no ICC); 130
interrupted (rerun with --resume).
"""

_EXAMPLES = """\
examples:
  napari-radiomics robustness data/ -o rob.csv --preset brain-tumor-mri
  napari-radiomics robustness data/ -o rob.csv --perturbations 20 --methods grow-shrink,noise
  napari-radiomics robustness data/ -o rob.csv --icc 3,1 --threshold 0.75 --resume
  napari-radiomics extract data/ -o robust.csv --params rob.params.yaml
"""


def _methods(text: str) -> tuple[str, ...]:
    from napari_radiomics.analysis import METHODS

    methods = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"{text!r}: methods are a comma-separated list of {', '.join(METHODS)}"
        )
    if len(set(methods)) != len(methods):
        raise argparse.ArgumentTypeError(f"{text!r}: a method is repeated")
    return methods


def _fraction(text: str) -> float:
    return _number(text, "a number", lambda v: 0 < v <= 1, "an ICC threshold is in (0, 1]")


def _millimetres(text: str) -> float:
    positive = "expected a positive distance in mm"
    return _number(text, "a distance in mm", lambda v: 0 < v < math.inf, positive)


def _number(text: str, expected: str, in_range: Callable[[float], bool], bounds: str) -> float:
    """``text`` as a float; an argparse error saying ``expected`` (not a number) or ``bounds``
    (out of range) otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not in_range(value):
        raise argparse.ArgumentTypeError(f"{bounds}, got {text!r}")
    return value


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `robustness` subcommand's options."""
    parser = add_subcommand(
        commands,
        "robustness",
        help="ICC of every feature under mask perturbations; params of the robust ones",
        description=_HELP,
        epilog=_EXAMPLES,
    )
    add_input_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="ICC table .csv")
    group = parser.add_argument_group("robustness")
    group.add_argument(
        "--perturbations", type=positive, default=10, metavar="N",
        help="perturbations per case (default: 10)",
    )  # fmt: skip
    group.add_argument(
        "--methods", type=_methods, default=("grow-shrink", "contour"), metavar="LIST",
        help="comma-separated: grow-shrink, contour, noise (default: grow-shrink,contour)",
    )  # fmt: skip
    group.add_argument(
        "--seed", type=non_negative, default=0, metavar="S",
        help="seed of the perturbations, an integer >= 0 (default: 0)",
    )  # fmt: skip
    group.add_argument(
        "--max-distance", type=_millimetres, metavar="MM",
        help="grow/shrink reach in mm (default: twice the largest pixel spacing)",
    )  # fmt: skip
    group.add_argument(
        "--icc", choices=("1,1", "2,1", "3,1"), default="1,1",
        help="ICC form: 1,1 one-way random (default, Zwanenburg et al.), 2,1 two-way random "
        "absolute agreement, 3,1 two-way mixed consistency",
    )  # fmt: skip
    group.add_argument(
        "--threshold", type=_fraction, default=0.9,
        help="robust when the 95%% interval's lower bound reaches it (default: 0.9)",
    )  # fmt: skip
    add_settings_options(parser)
    add_execution_options(parser)
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Perturb, extract, compute the ICC; write the files."""
    from napari_radiomics.analysis import PerturbationPlan
    from napari_radiomics.analysis.robustness_run import iter_robustness

    never_crash_on_output()
    if args.max_distance is not None and "grow-shrink" not in args.methods:
        parser.error("--max-distance sets the grow/shrink reach: add grow-shrink to --methods")
    chosen: dict[str, Any] = {}  # the settings and cases the run was started with

    def begin() -> Iterator[Any]:
        chosen["settings"] = settings = settings_from(args)
        plan = PerturbationPlan(args.perturbations, args.methods, args.seed, args.max_distance)
        chosen["cases"] = cases = cases_from(args)  # the corrected masks, unless --original-masks
        return iter_robustness(
            cases, settings, plan, args.output, form=args.icc, threshold=args.threshold,
            jobs=args.jobs, dask=args.dask, resume=args.resume, overwrite=args.overwrite,
            limit=args.limit, sources=files_read(args),
        )  # fmt: skip

    started = start(parser, "robustness", begin)
    if isinstance(started, int):
        return started
    rob, first = started
    status = _follow(args, rob, first.total)
    cases = chosen["cases"]
    if status in (EXIT_OK, EXIT_FAILED_CASES) and any(c.corrected for c in cases):
        _agreement(args, cases, chosen["settings"])
    return status


def _agreement(args: argparse.Namespace, cases: list[Any], settings: Any) -> None:
    """With corrected cases among the inputs, also the original-vs-corrected ICC."""
    from napari_radiomics.analysis.agreement import correction_agreement, write_agreement

    try:
        long, table = correction_agreement(
            cases, settings, form=args.icc, threshold=args.threshold
        )
    except ValueError as exc:
        print(f"original-vs-corrected ICC not computed: {exc}", file=sys.stderr)
        return
    icc_path, _ = write_agreement(args.output, long, table)
    if not args.quiet:
        print(
            f"original vs corrected masks: {int(table['robust'].sum())} of {len(table)} "
            f"features agree (ICC({args.icc}) lower bound >= {args.threshold:g}) over "
            f"{long['case'].nunique()} corrected cases: {icc_path}",
            file=sys.stderr,
        )


def _follow(args: argparse.Namespace, rob: Any, total: int) -> int:
    """Drive the run to its end with a progress bar; report; return the exit status."""
    from napari_radiomics.errors import BatchError

    try:
        return follow(
            rob, total, command="robustness", quiet=args.quiet, report=partial(_report, args),
            interrupted="interrupted; finished cases are kept: rerun with --resume",
        )  # fmt: skip
    except BatchError as exc:  # fewer than 2 cases succeeded: no ICC
        print(f"napari-radiomics robustness: error: {exc}", file=sys.stderr)
        return EXIT_FAILED_CASES


def _report(args: argparse.Namespace, summary: Any) -> int:
    """The ICC run's summary on stderr; its exit status."""
    batch = summary.batch
    if not args.quiet:
        print(
            f"{summary.robust} of {len(summary.icc)} features robust (ICC({args.icc}) lower "
            f"bound >= {args.threshold:g}) over {summary.cases} cases: "
            f"{summary.paths.icc}; {batch.rows} perturbed rows in {summary.paths.perturbed} "
            f"({batch.seconds:.1f} s, {batch.backend}; {batch.skipped} cases already done)",
            file=sys.stderr,
        )
        if summary.params_problem:
            print(f"{summary.paths.params} not written: {summary.params_problem}", file=sys.stderr)
        if batch.failed:
            print(f"{batch.failed} cases failed: see {batch.errors_path}", file=sys.stderr)
    return EXIT_OK if batch.ok else EXIT_FAILED_CASES
