"""`napari-radiomics corrections`: the corrections report of a dataset, the Review dock's.

A thin layer over ``corrections.corrections_report``: the stores of the inputs' datasets are
found as ``extract`` finds them (``batch.corrections_stores``), opened for reading only, and
each reported case's patient and tumour type read from its file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from napari_radiomics.cli._options import add_subcommand
from napari_radiomics.cli._status import EXIT_INTERRUPTED, EXIT_OK

_HELP = """\
Write the corrections report of the datasets INPUT names, as the Review dock's "Corrections
report…" writes it: one row per case with a review status in the dataset's corrections store
(where napari saves them, or --corrections DIR): case, patient_id, tumor_type, status, note,
updated_at, user, and for a corrected case mask_file, corrected_at, voxels_added,
voxels_removed, dice, hd95, distance_unit and mask_digest. The store is only read, so the
report can be written while napari is correcting the dataset; nothing is extracted.

INPUT takes what `extract` takes (folders, .mat files, a NumPy bundle, images with --mask);
every case of the stores of their datasets is reported, its patient and tumour type read from
its file (blank when the file does not say, or is gone). With more than one dataset, a first
column, dataset, names the folder each row belongs to.
Exit status: 0 written; 2 usage error (a missing input, DIR not a corrections store or the
store of another dataset, OUTPUT already there without --overwrite or not writable); 130
interrupted (143 SIGTERM), OUTPUT as it was.
"""

_EXAMPLES = """\
examples:
  napari-radiomics corrections data/ -o review.csv
  napari-radiomics corrections data/ --corrections /shared/data.corrections -o review.csv
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `corrections` subcommand's options."""
    parser = add_subcommand(
        commands,
        "corrections",
        help="the corrections report of a dataset (reviewed cases, what each correction changed)",
        description=_HELP,
        epilog=_EXAMPLES,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (above)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="report .csv")
    parser.add_argument("--mask", metavar="MASK", help="label image for NRRD/NIfTI/MHA INPUTs")
    parser.add_argument(
        "--corrections", metavar="DIR",
        help="corrections store to report (default: each dataset's own, where napari saves)",
    )  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The report; stopped by Ctrl-C or SIGTERM, one line saying that OUTPUT holds no part
    of one (it is replaced whole; "unless": the signal may come just after the rename)."""
    try:
        return _report(parser, args)
    except KeyboardInterrupt:
        print(
            f"interrupted: no partial report; {args.output} is as it was, unless the report "
            "had just been written",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _report(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Read the stores, write the report, say how far the review is."""
    import pandas as pd

    from napari_radiomics.batch import corrections_stores, discover_cases
    from napari_radiomics.cli._follow import cannot_write
    from napari_radiomics.cli._options import never_crash_on_output
    from napari_radiomics.corrections import (
        corrections_report,
        refuse_report_over_sources,
        report_summary,
        write_report,
    )
    from napari_radiomics.errors import WriteError

    never_crash_on_output()
    output = Path(args.output)
    if output.suffix.lower() != ".csv":
        parser.error(f"{output}: the report is a .csv file; name OUTPUT *.csv")
    if output.exists() and not args.overwrite:
        parser.error(f"{output}: already exists; choose another OUTPUT or use --overwrite")
    sources = [*args.inputs, *filter(None, [args.mask])]  # a batch .csv
    try:
        refuse_report_over_sources(output, sources=sources)
        cases = discover_cases(args.inputs, mask=args.mask, original_masks=True)
        stores = corrections_stores(cases, args.corrections)
        roots = [store.root for store, _ in stores]  # nor a store's review.csv or log.csv
        refuse_report_over_sources(output, roots)
    except (ValueError, OSError, WriteError) as exc:  # ReadError: an input, a store
        parser.error(str(exc))
    # Each store once, with the cases of every dataset it serves (--corrections: all).
    by_root: dict[Path, tuple[Any, list[Any]]] = {}
    for store, members in stores:
        by_root.setdefault(store.root, (store, []))[1].extend(members)
    reports = [
        (s.dataset, corrections_report(s, _identities(s, members)))
        for s, members in by_root.values()
    ]
    if len({dataset for dataset, part in reports if not part.empty}) > 1:  # both have a "1"?
        for dataset, part in reports:
            part.insert(0, "dataset", str(dataset))
    report = pd.concat([part for _, part in reports], ignore_index=True)
    try:
        write_report(report, output, roots, sources)
    except WriteError as exc:
        return cannot_write("corrections", exc)
    print(f"{report_summary(report)}: {output}")
    return EXIT_OK


def _identities(store: Any, cases: list[Any]) -> Any:
    """The identity (patient, label, tumour type) of each case of ``cases`` that ``store``
    reports, read from its file (its header, where the format has one); blank when the file
    cannot say."""
    import pandas as pd

    from napari_radiomics.batch import load_case
    from napari_radiomics.corrections import IDENTITY_COLUMNS
    from napari_radiomics.errors import ReadError

    reported = set(store.review_table()["case"])
    rows = []
    for case in cases:
        name = case.store_key[1]
        if name not in reported:
            continue
        try:
            _, _, metadata = load_case(case, image_pixels=False)
        except ReadError:
            continue
        values = {c: metadata.get(c) for c in IDENTITY_COLUMNS}
        rows.append({"case": name, **{c: "" if v is None else str(v) for c, v in values.items()}})
    return pd.DataFrame(rows, columns=["case", *IDENTITY_COLUMNS])
