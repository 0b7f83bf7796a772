"""`napari-radiomics landmarks`: Nyul histogram landmarks learned on training cases, the FILE
that `extract --preprocess n4,nyul --nyul-landmarks FILE` applies."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari_radiomics.cli._options import (
    add_input_options,
    add_subcommand,
    cases_from,
    files_read,
    never_crash_on_output,
    step_names,
)
from napari_radiomics.cli._status import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import SimpleITK as sitk

    from napari_radiomics.batch import Case

_HELP = """\
Learn the landmarks of Nyul histogram standardisation on the cases INPUT names (found as
`extract` finds them) and write them to FILE (JSON), for
`extract --preprocess ...,nyul --nyul-landmarks FILE` and the Extract dock.

Each image goes through the steps --preprocess puts before nyul (n4: N4 bias-field
correction), exactly as extraction will run them, with their options in the --params file
extraction will use (their defaults without one), and its percentiles are taken within the
Otsu head mask (or the whole image: the file's nyul within), as extraction takes them.

Learn them on training cases only: a model's test cases must not shape the intensity scale
they are measured on (see docs/cli.md, "Learning Nyul landmarks").

Exit status: 0 written; 2 usage error, FILE not *.json, already there (without --overwrite),
or one of the INPUTs, a case that cannot be read or standardised (FILE
is then not written).
"""

_EXAMPLES = """\
examples:
  napari-radiomics landmarks train/ -o nyul.json --preprocess n4,nyul
  napari-radiomics extract data/ -o f.csv --preprocess n4,nyul --nyul-landmarks nyul.json
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `landmarks` subcommand's options."""
    landmarks = add_subcommand(
        commands,
        "landmarks",
        help="learn Nyul standardisation landmarks on training cases (for --nyul-landmarks)",
        description=_HELP,
        epilog=_EXAMPLES,
    )
    add_input_options(landmarks)
    landmarks.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the landmarks file (JSON)"
    )
    landmarks.add_argument(
        "--preprocess", type=step_names, metavar="STEPS",
        help="the preprocessing extraction will run, ending with nyul (n4,nyul learns on "
        "N4-corrected images); default: the --params file's steps and nyul, else nyul alone",
    )  # fmt: skip
    landmarks.add_argument(
        "--params", metavar="FILE",
        help="the params file extraction will use: each step runs with its options there "
        "(its #%% block; e.g. N4's shrink factor), nyul with its percentiles, scale, within",
    )  # fmt: skip
    landmarks.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    return landmarks


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Learn the landmarks and write them; a refused FILE or a bad case writes nothing."""
    from napari_radiomics.errors import PreprocessError, ReadError, SettingsError, WriteError
    from napari_radiomics.preprocess import learn_nyul

    never_crash_on_output()
    output = _output(parser, args)
    try:
        cases = cases_from(args)
    except ReadError as exc:
        return _error(str(exc), output)
    if not cases:
        return _error(f"no cases in {', '.join(args.inputs)}", output)
    reading: list[Case] = []  # the case being read, to name it when it cannot be used
    try:
        steps = _steps(args)
    except SettingsError as exc:
        parser.error(str(exc))
    try:
        standardizer = learn_nyul(_images(cases, reading), steps)
        standardizer.save(output)
    except SettingsError as exc:
        parser.error(f"--preprocess: {exc}")
    except PreprocessError as exc:
        case = reading[-1]
        return _error(f"case {case.case_id} ({case.path}): {exc}", output)
    except (ReadError, WriteError) as exc:
        return _error(str(exc), output)
    print(f"Nyul landmarks learned from {len(cases)} cases -> {output}")
    return EXIT_OK


def _output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """``-o`` checked before any work: a .json file (so never a case's image, mask or
    correction, none of which is JSON), never an INPUT (nor a --params .json), never an
    existing file unless ``--overwrite``, never a folder."""
    from napari_radiomics._filenames import same_file

    output = Path(args.output)
    if any(same_file(output, item) for item in files_read(args)):  # by any name: a link
        parser.error(f"-o {output}: is one of the INPUTs; name a new file for the landmarks")
    if output.is_dir():
        parser.error(f"-o {output}: is a folder; name a file for the landmarks")
    if output.suffix.lower() != ".json":  # and so never an image, a mask or a .mat slice
        parser.error(f"-o {output}: the landmarks are a .json file; name FILE *.json")
    if output.exists() and not args.overwrite:
        parser.error(f"-o {output}: already exists (--overwrite replaces it)")
    return output


def _steps(args: argparse.Namespace) -> dict[str, Any]:
    """The steps named by ``--preprocess`` (default: the ``--params`` file's, then nyul), each
    with its options in the ``--params`` file (its defaults without one)."""
    from napari_radiomics.settings import ExtractionSettings

    given = ExtractionSettings.load(args.params).preprocess if args.params else {}
    names = args.preprocess if args.preprocess is not None else [*given, "nyul"]
    return {name: dict(given.get(name) or {}) for name in dict.fromkeys(names)}


def _images(cases: list[Case], reading: list[Case]) -> Iterator[sitk.Image]:
    """Each case's image as the engine sees it, read one at a time; ``reading`` holds the case
    read last."""
    from napari_radiomics.batch import load_case
    from napari_radiomics.convert import as_sitk

    for case in cases:
        reading[:] = [case]
        image, _mask, _metadata = load_case(case)
        yield as_sitk(image)


def _error(message: str, output: Path) -> int:
    print(f"error: {message}\nno landmarks were written: {output} is as it was", file=sys.stderr)
    return EXIT_USAGE
