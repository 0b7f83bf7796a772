"""`napari-radiomics ibsi`: which features reproduce the IBSI reference values."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from napari_radiomics.cli._options import add_subcommand
from napari_radiomics.cli._status import EXIT_OK, EXIT_USAGE

_HELP = """\
Extract the IBSI 1 digital phantom (shipped with the package; Image Biomarker Standardisation
Initiative, CC BY 4.0) through the same engine as `extract`, with binWidth 1 (its integer grey
levels, undiscretised), in 3D, with pyradiomics' texture aggregation (features averaged over
the 13 directions), and compare every pyradiomics feature that IBSI defines with the IBSI
consensus value. A feature matches when its value, rounded to IBSI's three significant digits,
is within the reference's tolerance.

Written to OUTPUT_DIR (created if needed; nothing else is written there):
  ibsi.csv  one row per feature: feature, ibsi_tag, value, reference, tolerance,
            status (match, deviates, no_reference) and note (the known reason of a deviation)
  ibsi.md   the same as a readable report, with the counts per feature class

Exit status: 0 when the report is written (deviations are findings, not errors); 2 when
OUTPUT_DIR is a file or cannot be written.
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `ibsi` subcommand's options."""
    ibsi = add_subcommand(
        commands,
        "ibsi",
        help="an IBSI compliance report: pyradiomics' features on the IBSI digital phantom",
        description=_HELP,
    )
    ibsi.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR")
    return ibsi


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Compute the report, write it, print the counts."""
    from napari_radiomics.analysis.ibsi import class_counts, ibsi_report, write_ibsi_report
    from napari_radiomics.cli._follow import cannot_write
    from napari_radiomics.errors import ExtractionError, ReadError, WriteError

    try:
        report = ibsi_report()
    except (ReadError, ExtractionError) as exc:  # a damaged install: the phantom's files
        print(f"napari-radiomics ibsi: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        written = write_ibsi_report(report, args.output)
    except WriteError as exc:
        return cannot_write("ibsi", exc)
    total = class_counts(report).loc["total"]
    print(
        f"{total['match']} of {len(report)} features match the IBSI reference values, "
        f"{total['deviates']} deviate, {total['no_reference']} have no reference; "
        f"written to {written[0]} and {written[1]}",
        file=sys.stderr,
    )
    return EXIT_OK
