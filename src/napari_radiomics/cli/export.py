"""`napari-radiomics export`: a corrected copy of a dataset, as .mat files, a bundle or NIfTI."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from napari_radiomics.cli._options import add_input_options, add_subcommand, cases_from
from napari_radiomics.cli._status import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

_HELP = """\
Write a copy of a dataset in which every case corrected in napari has its corrected mask
(from the dataset's corrections store, or --corrections DIR), ready for tools that know
nothing of this plugin. The sources are never modified; OUTPUT must be a new or empty folder.
Files are named from the case ids, made valid on every OS (unsafe characters escaped as %XX);
OUTPUT/cases.csv lists each case's exact id and its file.

Forms (--format):
  mat    one brain-tumour .mat per case (cjdata: label, PID, image, tumorBorder recomputed
         from the corrected mask, tumorMask); uncorrected .mat cases are copied unchanged
  npy    a NumPy bundle: images.npy, masks.npy (bool), labels.npy, patient_ids.npy
  nifti  <case>_mask.nii.gz per case, with the source geometry (NRRD/NIfTI inputs too)

INPUT takes what `extract` takes (folders, .mat files, a bundle, images with --mask).
Exit status: 0 written; 2 usage error, a case that cannot be read or written in this form,
or a full or unwritable disk; 130 interrupted (143 SIGTERM). An export is all or nothing:
after an error or an interruption OUTPUT is as it was.
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `export` subcommand's options."""
    export = add_subcommand(
        commands,
        "export",
        help="a copy of a dataset with its corrected masks (.mat, NumPy bundle or NIfTI)",
        description=_HELP,
    )
    add_input_options(export)
    export.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="new folder")
    export.add_argument(
        "--format", choices=("mat", "npy", "nifti"), default="mat", help="default: mat"
    )
    return export


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from napari_radiomics.corrections import export_dataset
    from napari_radiomics.errors import ReadError, WriteError

    try:
        cases = cases_from(args)
        written = export_dataset(cases, args.output, args.format)
    except (ReadError, WriteError) as exc:
        print(f"error: {exc}\nnothing was exported: {args.output} is as it was", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM; "unless": it may come after the rename
        print(
            f"interrupted: no partial export; {args.output} is as it was, unless the export had "
            "just completed",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    corrected = sum(c.corrected is not None for c in cases)
    print(
        f"{len(cases)} cases ({corrected} corrected) -> {args.output}: {len(written)} files, "
        f"{written[-1].name} lists each case's file"
    )
    return EXIT_OK
