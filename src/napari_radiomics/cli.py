"""The `napari-radiomics` command: `extract` (whole-dataset extraction, no display needed) and
`view` (napari, ready to extract).

Exit status: 0 when every case succeeded, 2 for a usage error (bad option, missing input,
invalid setting, output already there), 3 when some cases failed (their messages are in
`<output>.errors.csv`; every good row is written), 130 when interrupted with Ctrl-C (finished
rows are kept: rerun with --resume). `extract --check` extracts nothing: 0 when every case
would run, 3 when some would fail.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from napari_radiomics import __version__

if TYPE_CHECKING:
    from napari_radiomics.batch import CaseCheck

EXIT_OK, EXIT_USAGE, EXIT_FAILED_CASES, EXIT_INTERRUPTED = 0, 2, 3, 130

#: Sections of a pyradiomics params file that `--set section.key=value` may target.
_SECTIONS = ("setting", "imageType", "featureClass", "voxelSetting")

_EXTRACT_HELP = """\
Extract pyradiomics features for every case of a dataset into one table: one row per case
and ROI label with the columns case, patient_id, label, tumor_type, roi_label, then
pyradiomics' feature columns (original_firstorder_Mean, ...).

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
An OUTPUT ending in .parquet is journaled to features.partial.csv and converted at the end.

With --check nothing is extracted or written (-o is not needed): each case is read and
checked for what pyradiomics would refuse (empty mask, absent label, one-voxel ROI, mask on
another grid) or silently skip (LoG sigmas too large, shape on 2D, ...), the checks the
napari widget makes before a run.

Exit status: 0 all cases ok; 2 usage error; 3 some cases failed (all good rows written);
130 interrupted (rerun with --resume to continue). With --check: 0 every case would run,
3 some would fail.
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


def _key_value(text: str) -> tuple[str, Any]:
    """Parse `key=value`; the value is read as YAML, so 32, true, [1, 1] get their types."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        problem = f"{key}: value {value!r} is not valid YAML ({exc})"
        raise argparse.ArgumentTypeError(problem) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also what `--help` prints)."""
    from napari_radiomics.settings import PRESETS

    parser = argparse.ArgumentParser(
        prog="napari-radiomics",
        description="Radiomics features (pyradiomics) for images and tumour segmentations.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    extract = commands.add_parser(
        "extract",
        help="extract features for a whole dataset into a CSV or Parquet table",
        description=_EXTRACT_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    extract.set_defaults(command_parser=extract)  # its usage line goes with its errors
    extract.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (above)")
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
    mask = extract.add_argument_group("inputs")
    mask.add_argument("--mask", metavar="MASK", help="label image for NRRD/NIfTI/MHA INPUTs")
    mask.add_argument("--limit", type=_positive, metavar="N", help="only the first N cases")
    choice = extract.add_argument_group("settings (default: pyradiomics' defaults)")
    source = choice.add_mutually_exclusive_group()
    source.add_argument(
        "--preset", choices=sorted(PRESETS), metavar="NAME",
        help=f"named settings: {', '.join(sorted(PRESETS))}",
    )  # fmt: skip
    source.add_argument("--params", metavar="FILE", help="pyradiomics params file (YAML/JSON)")
    choice.add_argument(
        "--set", dest="overrides", type=_key_value, action="append", default=[],
        metavar="KEY=VALUE",
        help=textwrap.dedent("""\
            override one pyradiomics setting, e.g. binWidth=25 or
            resampledPixelSpacing=[1,1]; values are YAML. section.key=value targets
            imageType/featureClass/voxelSetting (featureClass.glcm=[Contrast]).
            Repeatable."""),
    )  # fmt: skip
    run = extract.add_argument_group("execution")
    run.add_argument(
        "-j", "--jobs", type=_positive, metavar="N",
        help="worker processes (default: all usable CPUs; 1 = serial)",
    )  # fmt: skip
    run.add_argument(
        "--dask", metavar="ADDRESS",
        help="run on Dask: 'local' starts a LocalCluster of --jobs workers, "
        "or tcp://host:port of a running scheduler (needs napari-radiomics[distributed])",
    )  # fmt: skip
    existing = run.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume", action="store_true",
        help="skip cases already in OUTPUT (written with the same settings)",
    )  # fmt: skip
    existing.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")

    view = commands.add_parser(
        "view",
        help="open napari ready to extract (needs napari and Qt)",
        description="Open napari with the given files (the synthetic brain-tumour sample when "
        "none), the extraction and results docks, and a first extraction with the "
        "brain-tumor-mri preset.",
    )
    view.set_defaults(command_parser=view)
    view.add_argument("paths", nargs="*", metavar="PATH", help=".mat, folder, NRRD/NIfTI...")
    view.add_argument("--no-extract", action="store_true", help="do not extract on opening")
    return parser


def _view(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """napari is imported only here, so `extract` keeps working on a server without Qt."""
    try:
        from napari_radiomics._napari._launch import launch
    except ImportError as exc:
        hint = "pip install 'napari-radiomics[all]'"
        parser.error(f"view needs napari and a Qt binding ({exc}): {hint}")
    launch(args.paths, extract=not args.no_extract)
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Any:
    """Settings from --preset/--params, then --set overrides, validated by the settings model
    (so an error names the offending key and its allowed values)."""
    from napari_radiomics.settings import ExtractionSettings

    if args.preset:
        settings = ExtractionSettings.preset(args.preset)
    elif args.params:
        settings = ExtractionSettings.load(args.params)
    else:
        settings = ExtractionSettings()
    if not args.overrides:
        return settings
    params = settings.to_params()
    for key, value in args.overrides:
        section, dot, name = key.partition(".")
        if not dot or section not in _SECTIONS:
            section, name = "setting", key
        params[section] = dict(params.get(section) or {})
        params[section][name] = value
    return ExtractionSettings.from_params(params)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`extract --check`: the preflight on every case; problems on stdout, summary on stderr."""
    from napari_radiomics.batch import check_cases, discover_cases
    from napari_radiomics.errors import ReadError

    start = time.perf_counter()
    try:
        settings = _settings(args)
        cases = discover_cases(args.inputs, mask=args.mask)[: args.limit]
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
    from tqdm import tqdm

    from napari_radiomics.batch import BatchError, iter_batch
    from napari_radiomics.batch.cases import discover_cases
    from napari_radiomics.batch.journal import companion_paths
    from napari_radiomics.errors import ReadError

    try:
        settings = _settings(args)
        cases = discover_cases(args.inputs, mask=args.mask)
        if not cases:
            raise ReadError(args.inputs[0], "no cases found")
        run = iter_batch(
            cases, settings, args.output, jobs=args.jobs, dask=args.dask,
            resume=args.resume, limit=args.limit, overwrite=args.overwrite,
        )  # fmt: skip
        first = next(run)
    except (ValueError, OSError) as exc:  # ReadError, SettingsError, BatchError are ValueErrors
        parser.error(str(exc))
    # No tqdm monitor thread: a single-threaded parent may fork its workers (fast start-up).
    tqdm.monitor_interval = 0
    bar = tqdm(
        total=first.total, unit="case", file=sys.stderr, disable=args.quiet,
        desc="extract", mininterval=0.5, smoothing=0.1,
    )  # fmt: skip

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        bar.write(f"warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # one line above the bar, not a source excerpt
            while True:
                event = next(run)
                bar.update(1)
                if not event.ok:
                    bar.write(f"failed: {event.message}", file=sys.stderr)
    except StopIteration as stop:
        summary = stop.value
    except KeyboardInterrupt:
        run.close()
        bar.close()
        journal = companion_paths(Path(args.output))[0]  # a Parquet output is written last
        print(
            f"interrupted; finished cases are in {journal}: rerun with --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except BatchError as exc:  # e.g. Dask not installed or its scheduler unreachable
        bar.close()
        parser.error(str(exc))
    finally:
        bar.close()
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `napari-radiomics`; returns the exit status (see module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "view":
            return _view(args.command_parser, args)
        if args.check:
            return _check(args.command_parser, args)
        if args.output is None:  # required unless --check
            args.command_parser.error("the following arguments are required: -o/--output")
        return _extract(args.command_parser, args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
