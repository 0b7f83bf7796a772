"""The `napari-radiomics` command: one module per subcommand.

``extract`` (a whole dataset into one table, or ``--check``), ``export`` (a corrected copy
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
rows are kept: rerun with --resume). `extract --check` extracts nothing: 0 when every case
would run, 3 when some would fail.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from napari_radiomics import __version__
from napari_radiomics.cli import (
    cluster,
    corrections,
    export,
    extract,
    ibsi,
    maps,
    model,
    robustness,
    view,
)
from napari_radiomics.cli._options import quiet
from napari_radiomics.cli._status import (
    EXIT_FAILED_CASES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_FAILED_CASES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

#: The subcommands, in the order `--help` lists them.
SUBCOMMANDS = (extract, export, corrections, model, cluster, robustness, maps, view, ibsi)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also what `--help` prints)."""
    parser = argparse.ArgumentParser(
        prog="napari-radiomics",
        description="Radiomics features (pyradiomics) for images and tumour segmentations.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        sub = module.add_parser(commands)
        # Its own usage line goes with its errors; its run function does the work.
        sub.set_defaults(command_parser=sub, run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `napari-radiomics`; returns the exit status (see module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        with quiet(getattr(args, "quiet", False)):
            return args.run(args.command_parser, args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
