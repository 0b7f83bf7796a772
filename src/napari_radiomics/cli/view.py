"""`napari-radiomics view`: napari, ready to extract or to explore a features table (napari is
imported only here, so the other subcommands keep working on a server without Qt)."""

from __future__ import annotations

import argparse
from typing import Any

from napari_radiomics.cli._signals import sigterm_default
from napari_radiomics.cli._status import EXIT_OK
from napari_radiomics.errors import ReadError


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `view` subcommand's options."""
    view = commands.add_parser(
        "view",
        help="open napari ready to extract (needs napari and Qt)",
        description="Open napari with the given files (the synthetic brain-tumour sample when "
        "none), the extraction and results docks, and a first extraction with the "
        "brain-tumor-mri preset; or with a features table in the dataset table (--features), "
        "its rows linked to the files given.",
    )
    view.add_argument("paths", nargs="*", metavar="PATH", help=".mat, folder, NRRD/NIfTI...")
    view.add_argument("--no-extract", action="store_true", help="do not extract on opening")
    view.add_argument(
        "--features", metavar="TABLE",
        help="a features table (CSV/Parquet, this plugin's or pyradiomics' batch CSV) to "
        "show in the dataset table; no sample, no extraction unless PATHs are given",
    )  # fmt: skip
    return view


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Open napari (blocks until its window closes)."""
    if args.features is not None:
        from napari_radiomics.feature_tables import check_features_header  # pandas: only here

        # Said here, before a window opens and the message ends up in a notification.
        try:
            check_features_header(args.features)
        except ReadError as exc:
            parser.error(str(exc))
    with sigterm_default():  # nothing to keep: SIGTERM ends napari as any program
        try:
            from napari_radiomics._napari import launch
        except ImportError as exc:
            hint = "pip install 'napari-radiomics[all]'"
            parser.error(f"view needs napari and a Qt binding ({exc}): {hint}")
        launch(args.paths, extract=not args.no_extract, features=args.features)
    return EXIT_OK
