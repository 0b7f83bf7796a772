"""Options shared by the subcommands: how a subcommand's help is laid out; the inputs,
settings and execution options of those that extract; the table and report folder of those
that analyse a features table (``model``, ``cluster``).

Every subcommand that runs the engine over cases (``extract``, and the ones built on it) takes
the same settings options (``--preset``, ``--params``, ``--set``) and the same execution
options (``--jobs``, ``--dask``, ``--resume``, ``--overwrite``, ``-q``), defined here once so
their spelling, help and validation cannot drift apart.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from napari_radiomics._limits import JOBS_PER_CPU, max_jobs, usable_cpus
from napari_radiomics._yaml import load_yaml
from napari_radiomics.columns import DEFAULT_GROUP, DEFAULT_TARGET
from napari_radiomics.settings import ExtractionSettings, SettingsError


def add_subcommand(
    commands: Any, name: str, *, help: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``: ``help`` in the list of subcommands, ``description``
    and ``epilog`` (its examples) shown with their line breaks, as written."""
    return commands.add_parser(
        name, help=help, description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def add_table_options(
    parser: argparse.ArgumentParser, *, target: str = "", group: str = ""
) -> None:
    """FEATURES, ``-o OUTPUT_DIR`` and the ``--target``/``--group`` columns of a subcommand
    that analyses a features table; ``target`` and ``group`` say what it does with them.
    Without them the columns are left to :func:`add_column_options`, for a subcommand whose
    help lists them after its own options (``cluster``, as it always has)."""
    parser.add_argument("features", metavar="FEATURES", help="features .csv or .parquet")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR")
    if target:
        add_column_options(parser, target=target, group=group)


def add_column_options(parser: argparse.ArgumentParser, *, target: str, group: str) -> None:
    """The ``--target`` and ``--group`` columns (see :func:`add_table_options`)."""
    parser.add_argument("--target", default=DEFAULT_TARGET, help=target)
    parser.add_argument("--group", default=DEFAULT_GROUP, help=group)


def features_table(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    purpose: str,
    files: Sequence[str],
    also: Sequence[str | Path] = (),
) -> tuple[Any, Path]:
    """The FEATURES table and the ``-o`` folder for ``purpose`` (:func:`output_folder`) of a
    subcommand with :func:`add_table_options`, which writes ``files`` there and reads FEATURES
    and ``also`` (a cvind.mat); a refusal (naming the file: one of those read is one of those
    written, by any name) is a usage error, made before any work."""
    from napari_radiomics.analysis.report import refuse_inputs_as_report
    from napari_radiomics.errors import WriteError
    from napari_radiomics.results import read_table

    output = output_folder(parser, args.output, purpose)
    try:
        refuse_inputs_as_report(output, files, [args.features, *also], purpose)
        return read_table(args.features), output
    except (ValueError, OSError, WriteError) as exc:
        parser.error(str(exc))


def key_value(text: str) -> tuple[str, Any]:
    """Parse `key=value`; the value is read as YAML, so 32, true, [1, 1] get their types."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key.strip(), load_yaml(value) if value.strip() else None
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc}") from None
    except yaml.YAMLError as exc:
        problem = f"{key}: value {value!r} is not valid YAML ({exc})"
        raise argparse.ArgumentTypeError(problem) from None


def positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _at_least(text, 1, "a positive integer")


def worker_count(text: str) -> int:
    """An argparse type: a number of worker processes, >= 1 and at most ``_limits.max_jobs``
    (the Batch dock's bound too), so a typo such as ``--jobs 200`` cannot exhaust memory."""
    count = positive(text)
    if count > max_jobs():
        raise argparse.ArgumentTypeError(
            f"{count} worker processes is more than {JOBS_PER_CPU} per CPU here "
            f"({usable_cpus()} usable): at most {max_jobs()}"
        )
    return count


def non_negative(text: str) -> int:
    """An argparse type: an integer >= 0 (a seed, a margin)."""
    return _at_least(text, 0, "an integer >= 0")


def _at_least(text: str, low: int, expected: str) -> int:
    """``text`` as an integer >= ``low``; argparse names the option in its error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """INPUT... and what narrows them (``--mask``, ``--limit``)."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (above)")
    group = parser.add_argument_group("inputs")
    group.add_argument("--mask", metavar="MASK", help="label image for NRRD/NIfTI/MHA INPUTs")
    group.add_argument("--limit", type=positive, metavar="N", help="only the first N cases")
    masks = group.add_mutually_exclusive_group()
    masks.add_argument(
        "--corrections", metavar="DIR",
        help="corrections store to take corrected masks from (default: each dataset's own, "
        "where napari saves them)",
    )  # fmt: skip
    masks.add_argument(
        "--original-masks", action="store_true",
        help="ignore every corrections store: measure the masks as the dataset has them",
    )  # fmt: skip


def files_read(args: argparse.Namespace) -> list[str]:
    """What a run reads besides its cases' images and masks, which its output must never
    replace: the INPUTs (a batch .csv) and the ``--mask``, ``--params`` and
    ``--nyul-landmarks`` files the subcommand takes and was given."""
    named = (getattr(args, option, None) for option in ("mask", "params", "nyul_landmarks"))
    return [*args.inputs, *filter(None, named)]


def cases_from(args: argparse.Namespace) -> list[Any]:
    """The batch cases that the input options name (corrections applied unless refused)."""
    from napari_radiomics.batch import discover_cases

    cases = discover_cases(
        args.inputs,
        mask=args.mask,
        corrections=args.corrections,
        original_masks=args.original_masks,
    )
    return cases[: args.limit]


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """``--preset`` or ``--params``, then any number of ``--set`` overrides."""
    from napari_radiomics.settings import PRESETS

    choice = parser.add_argument_group("settings (default: pyradiomics' defaults)")
    source = choice.add_mutually_exclusive_group()
    source.add_argument(
        "--preset", choices=sorted(PRESETS), metavar="NAME",
        help=f"named settings: {', '.join(sorted(PRESETS))}",
    )  # fmt: skip
    source.add_argument("--params", metavar="FILE", help="pyradiomics params file (YAML/JSON)")
    choice.add_argument(
        "--set", dest="overrides", type=key_value, action="append", default=[],
        metavar="KEY=VALUE",
        help=textwrap.dedent("""\
            override one pyradiomics setting, e.g. binWidth=25 or
            resampledPixelSpacing=[1,1]; values are YAML. section.key=value targets
            imageType/featureClass/voxelSetting (featureClass.glcm=[Contrast]) or a
            preprocessing step's options (preprocess.n4={shrink_factor: 2}).
            Repeatable."""),
    )  # fmt: skip
    choice.add_argument(
        "--preprocess", type=step_names, metavar="STEPS",
        help="preprocess each image before pyradiomics: n4 (N4 bias-field correction), then "
        "zscore (within the head) or nyul (histogram standardisation), comma-separated "
        "(n4,zscore); none for no preprocessing. Default: the settings' own",
    )  # fmt: skip
    choice.add_argument(
        "--nyul-landmarks", metavar="FILE",
        help="landmarks learned for the nyul step (a JSON file NyulStandardizer.save wrote)",
    )  # fmt: skip


def step_names(text: str) -> list[str]:
    """``n4,zscore`` as step names; ``none`` (or nothing) for no preprocessing."""
    from napari_radiomics.preprocess import STEP_OPTIONS

    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return []
    unknown = [name for name in names if name not in STEP_OPTIONS]
    if unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected step names from {', '.join(STEP_OPTIONS)} (or none), each once, "
            f"comma-separated, got {text!r}"
        )
    return names


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Where cases run and what happens to an existing output."""
    run = parser.add_argument_group("execution")
    run.add_argument(
        "-j", "--jobs", type=worker_count, metavar="N",
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


def settings_from(args: argparse.Namespace) -> ExtractionSettings:
    """Settings from --preset/--params, then --set overrides: the core's choice
    (``settings_choice.choose_settings``, which the docks use too), so an error names the
    preset, the file or the key, and the problem, as it does in napari."""
    from napari_radiomics.settings_choice import choose_settings

    return choose_settings(
        preset=args.preset,
        params=args.params,
        preprocess=args.preprocess,
        nyul_landmarks=args.nyul_landmarks,
        overrides=args.overrides,
    )


def output_folder(parser: argparse.ArgumentParser, output: str, purpose: str) -> Path:
    """``-o`` as the folder for ``purpose`` (made when written); a file there is refused
    before any work, not after a long computation."""
    path = Path(output)
    if path.exists() and not path.is_dir():
        parser.error(f"-o {path}: is a file; name a folder for {purpose}")
    return path


def never_crash_on_output() -> None:
    """Print any text, whatever the streams' encoding: a case id from a file name that is not
    UTF-8 (a lone surrogate), or a patient id outside what the terminal's encoding holds, is
    printed as a backslash escape instead of ending the run with a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:  # a real text stream (not a test's capture buffer)
            reconfigure(errors="backslashreplace")


@contextmanager
def quiet(enabled: bool) -> Iterator[None]:
    """``-q`` of every subcommand: besides no progress and no summary, no warnings, whether a
    library's (numpy's "Mean of empty slice" for a kernel without pairs, pyradiomics' log
    warnings) or the run's own notes. Errors and failed cases are still printed. Workers
    follow: batch workers hand their warnings to this process, and map workers take its
    warning filters and pyradiomics' log level when they start."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("radiomics")
    level = logger.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)
