"""The `napari-radiomics` command: one module per subcommand.

``extract`` (a whole dataset into one table, or ``--check``), ``landmarks`` (Nyul
standardisation landmarks learned on training cases, for ``extract``), ``export`` (a corrected copy
of a dataset), ``corrections`` (a dataset's corrections report), ``model`` (a
patient-grouped, cross-validated model of a features table), ``cluster`` (clusters of the
cases and their agreement with the tumour type), ``robustness`` (each feature's
ICC under mask perturbations), ``maps`` (voxel-wise feature maps), ``view`` (napari, ready to
extract), ``ibsi`` (the IBSI compliance report of the digital phantom). Each subcommand
module has ``add_parser(commands)`` and ``run(parser, args)``; the options that several
share live in ``_options``, the exit statuses in ``_status``:

0 when every case succeeded, 2 for a usage error (bad option, missing input, invalid setting,
output already there), 3 when some cases failed (their messages are in
`<output>.errors.csv`; every good row is written), 130 when interrupted with Ctrl-C (finished
rows are kept: rerun with --resume), 143 when stopped with SIGTERM (a scheduler; kept as for
Ctrl-C). `extract --check` extracts nothing: 0 when every case
would run, 3 when some would fail.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from napari_radiomics.cli._signals import StopRequests
from napari_radiomics.cli._status import (
    EXIT_FAILED_CASES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_FAILED_CASES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


def _subcommands() -> tuple[ModuleType, ...]:
    """The subcommands' modules, in the order `--help` lists them. Imported when ``main`` runs,
    not with this package: they take half a second (NumPy, SimpleITK), and a Ctrl-C in that
    time must end the command as quietly as one later (see ``main``)."""
    from napari_radiomics.cli import (
        cluster,
        corrections,
        export,
        extract,
        ibsi,
        landmarks,
        maps,
        model,
        robustness,
        view,
    )

    return (extract, landmarks, export, corrections, model, cluster, robustness, maps, view, ibsi)


class _VersionAction(argparse.Action):
    """``--version``: the version is read (``importlib.metadata``, 20-50 ms) only when asked,
    not by every command at start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0,
            help="show program's version number and exit",
        )  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from napari_radiomics import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full argument parser (also what `--help` prints), or with ``only`` the parser of
    that one subcommand under the same program name.

    Some subcommands' options list choices that live in the analyses (``model``'s
    classifiers, ``cluster``'s methods), and importing those loads SciPy's statistics and
    image modules: about 0.8 s that ``maps`` or ``extract`` would pay at every start for
    options they never parse.
    """
    parser = argparse.ArgumentParser(
        prog="napari-radiomics",
        description="Radiomics features (pyradiomics) for images and tumour segmentations.",
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _subcommands():
        if only is not None and _name(module) != only:
            continue
        sub = module.add_parser(commands)
        # Its own usage line goes with its errors; its run function does the work.
        sub.set_defaults(command_parser=sub, run=module.run)
    return parser


def _name(module: ModuleType) -> str:
    """A subcommand's name: its module's (``napari_radiomics.cli.maps`` is ``maps``)."""
    return module.__name__.rpartition(".")[2]


def _requested(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, when its first word is one (else the full parser is
    built: ``--help``, ``--version``, a typo listed against every subcommand)."""
    first = argv[0] if argv else None
    return first if first in {_name(module) for module in _subcommands()} else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `napari-radiomics`; returns the exit status (see module docstring).

    Ctrl-C and SIGTERM end it with 130 and 143 and one line, never a traceback, whenever they
    come: while the subcommands are imported, while a run starts its workers or writes its
    output (each run keeps what it finished and says how to resume; see ``_signals``).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    stop = StopRequests()
    try:
        with stop:
            status = _run(argv)
    except KeyboardInterrupt:  # before a run began, or in a command that keeps nothing partial
        print("napari-radiomics: interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    # SIGTERM is a Terminated, which a run catches as Ctrl-C to keep its rows: 143, not 130.
    return EXIT_TERMINATED if status == EXIT_INTERRUPTED and stop.terminated else status


def _run(argv: list[str]) -> int:
    """The subcommand ``argv`` asks for, run; its exit status."""
    from napari_radiomics.cli._options import quiet

    parser = build_parser(_requested(argv))
    try:
        args = parser.parse_args(argv)
        with quiet(getattr(args, "quiet", False)):
            return args.run(args.command_parser, args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
