"""A dataset's corrections report: every case with a review status, who set it and when, and
for a corrected case what the correction changed (voxels added and removed, Dice, HD95).

The Review dock writes it for the dataset under review and ``napari-radiomics corrections``
for a dataset named on the command line, both through this module, so the two reports have
the same rows and columns: ``review.csv``'s columns with the case's patient and tumour type
after ``case``. Those two come from whoever knows the cases (the dock from its layer's
per-slice table, the command from the case files), since the store keeps case names only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import refuse_sources
from napari_radiomics._spreadsheet import escape_frame
from napari_radiomics.columns import CASE_COLUMNS
from napari_radiomics.corrections.store import STATUSES, CorrectionStore
from napari_radiomics.errors import WriteError

__all__ = [
    "IDENTITY_COLUMNS",
    "corrections_report",
    "refuse_report_over_sources",
    "report_summary",
    "write_report",
]

#: The identifying columns a report adds to the store's rows, after ``case``: every table's.
IDENTITY_COLUMNS = CASE_COLUMNS[1:]


def corrections_report(
    store: CorrectionStore, identities: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The report of ``store``: one row per case with a status, as text.

    ``identities`` has a ``case`` column and any of :data:`IDENTITY_COLUMNS`, one row per case
    (the first row counts for a case named twice); a case it does not name, or a column it
    lacks, is blank in the report.
    """
    # As text: a row saved in this session holds numbers, the same row read back holds text.
    table = store.review_table().astype(str)
    known = pd.DataFrame(columns=["case"]) if identities is None else identities
    known = known.astype({"case": str}).drop_duplicates("case").set_index("case")
    for at, column in enumerate(IDENTITY_COLUMNS, start=1):
        values = known[column].astype(str).to_dict() if column in known else {}
        table.insert(at, column, [values.get(case, "") for case in table["case"]])
    return table


def report_summary(report: pd.DataFrame) -> str:
    """One line saying how far the review is: "5 cases with a status: 2 accepted, ..."."""
    counts = Counter(report["status"])
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
    return f"{len(report)} cases with a status" + (f": {', '.join(parts)}" if parts else "")


def refuse_report_over_sources(
    path: str | Path, stores: Iterable[str | Path] = (), sources: Iterable[str | Path] = ()
) -> None:
    """A WriteError naming ``path`` when the report written there would replace what it is
    made from: one of ``sources`` (an INPUT given, a batch .csv; a case's file), or a file
    inside one of the corrections ``stores`` (``review.csv``, ``log.csv``, a mask). Asked of
    the file system (``same_file``), so a hard link, or a name in another case where case is
    ignored (macOS, Windows), is caught as the name itself is."""
    refuse_sources(
        path,
        dict.fromkeys(map(str, sources), "is one of the INPUTs; choose another OUTPUT"),
        {str(root): f"is inside the corrections store {root}; choose another" for root in stores},
    )


def write_report(
    report: pd.DataFrame,
    path: str | Path,
    stores: Iterable[str | Path] = (),
    sources: Iterable[str | Path] = (),
) -> Path:
    """Write ``report`` as CSV at ``path``, whole or not at all, text cells escaped for
    spreadsheets (docs/bad-input.md). Raises WriteError naming the file, also when it would
    replace a file of ``stores`` or one of ``sources`` (:func:`refuse_report_over_sources`)."""
    path = Path(path)
    refuse_report_over_sources(path, stores, sources)
    try:
        with replaced(path) as tmp:
            escape_frame(report).to_csv(tmp, index=False, lineterminator="\n")
    except OSError as exc:
        raise WriteError(path, f"cannot be written ({exc.strerror or exc})") from exc
    return path
