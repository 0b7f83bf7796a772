"""`napari-radiomics view`: napari, ready to extract (imported only here, so the other
subcommands keep working on a server without Qt)."""

from __future__ import annotations

import argparse
from typing import Any

from napari_radiomics.cli._status import EXIT_OK


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `view` subcommand's options."""
    view = commands.add_parser(
        "view",
        help="open napari ready to extract (needs napari and Qt)",
        description="Open napari with the given files (the synthetic brain-tumour sample when "
        "none), the extraction and results docks, and a first extraction with the "
        "brain-tumor-mri preset.",
    )
    view.add_argument("paths", nargs="*", metavar="PATH", help=".mat, folder, NRRD/NIfTI...")
    view.add_argument("--no-extract", action="store_true", help="do not extract on opening")
    return view


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Open napari (blocks until its window closes)."""
    try:
        from napari_radiomics._napari._launch import launch
    except ImportError as exc:
        hint = "pip install 'napari-radiomics[all]'"
        parser.error(f"view needs napari and a Qt binding ({exc}): {hint}")
    launch(args.paths, extract=not args.no_extract)
    return EXIT_OK
