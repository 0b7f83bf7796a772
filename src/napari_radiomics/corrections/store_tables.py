"""A corrections store's two tables, ``review.csv`` and ``log.csv``: their columns and
statuses, and how they are read back and written.

Both are UTF-8 CSV files safe to open in a spreadsheet (text cells escaped, see
``_spreadsheet``), written whole and atomically. A table that cannot be read is named in the
store's problems and rebuilt from what is left (the mask files are the truth about what is
corrected), never a reason for the store not to open.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from napari_radiomics._atomic import replaced
from napari_radiomics._spreadsheet import escape_cell, unescape_frame
from napari_radiomics.errors import CorrectionsError

__all__ = [
    "LOG_COLUMNS",
    "REVIEW_COLUMNS",
    "STATUSES",
    "Status",
    "now",
    "read_table",
    "user",
    "write_table",
]

#: review.csv's statuses ("corrected" is set by a correction alone).
Status = Literal["unreviewed", "accepted", "corrected", "flagged"]
STATUSES: tuple[Status, ...] = ("unreviewed", "accepted", "corrected", "flagged")

#: review.csv's columns, in order; provenance columns are empty for uncorrected cases.
REVIEW_COLUMNS = (
    "case", "status", "note", "updated_at", "user", "mask_file", "corrected_at",
    "voxels_added", "voxels_removed", "dice", "hd95", "distance_unit", "mask_digest",
)  # fmt: skip
LOG_COLUMNS = ("time", "user", "case", "event", "status", "note", *REVIEW_COLUMNS[7:])


def now() -> str:
    """The time a row records: ISO 8601, to the second, with the local time zone."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def user() -> str:
    """Who a row records: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry (a container), no pwd module
        # (Windows without USERNAME): the uid says who where there is one
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown user"


def read_table(path: Path, columns: Sequence[str], problems: list[str]) -> list[dict[str, Any]]:
    """The rows of the table ``path`` with ``columns`` (missing ones empty), [] if there is
    none; an unreadable one is added to ``problems`` and read as empty."""
    if not path.is_file():
        return []
    try:
        frame = unescape_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
        if "case" not in frame.columns:
            raise ValueError("it has no 'case' column")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        problems.append(f"{path}: unreadable ({exc}); it is rebuilt from what is left")
        return []
    rows = frame.reindex(columns=list(columns), fill_value="").to_dict("records")
    return [r for r in rows if r["case"]]


def write_table(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Replace the table ``path`` with ``rows`` (atomically; CorrectionsError if it cannot)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: escape_cell(v) for k, v in row.items()} for row in rows)
    try:
        with replaced(path) as tmp:
            tmp.write_text(text.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise CorrectionsError(path, f"cannot be written ({exc})") from exc
