"""A corrections store's two tables, ``review.csv`` and ``log.csv``: their columns and
statuses, what a correction, a revert and a status record in them (``Tables``, the store's
copy in memory), and how they are read back and written.

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
    "Tables",
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


class Tables:
    """The rows of review.csv (by case) and the entries of log.csv as a store holds them, and
    what each change records in them. Not thread-safe: the store changes them with its guard
    held, and writes copies (``unwritten`` says they changed since they were last written)."""

    def __init__(self, rows: dict[str, dict[str, Any]], log: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.log = log
        self.unwritten = False

    def decided(self, case: str, begun: int) -> Status | None:
        """The decision (accepted, flagged) set on ``case`` since log entry ``begun``: since
        the edit a write of the case records, or since the write began. It came after the
        edit, and stands: it was overwritten by the write's "corrected" or "unreviewed", set
        while the write was waiting its turn or on the disk."""
        if not any(e["case"] == case and e["event"] == "status" for e in self.log[begun:]):
            return None
        status = self.rows[case].get("status")
        return status if status in ("accepted", "flagged") else None

    def corrected(
        self, case: str, mask_file: str, digest: str, change: dict[str, Any], begun: int
    ) -> dict[str, Any]:
        """Record ``mask_file`` (relative to the store) as the correction of ``case``, and
        ``change``, its provenance columns; its row. A status set since the edit it records
        (log entry ``begun``) stands (:meth:`decided`)."""
        row = self.rows.setdefault(case, {"case": case})
        row.update(
            status=self.decided(case, begun) or "corrected",
            updated_at=now(),
            user=user(),
            mask_file=mask_file,
            corrected_at=now(),
            mask_digest=digest,
            **change,
        )
        self._event(case, "corrected")
        return dict(row)

    def reverted(self, case: str, begun: int | None = None) -> None:
        """Record the revert of ``case``; a status set since log entry ``begun`` stands
        (:meth:`decided`)."""
        decided = None if begun is None else self.decided(case, begun)
        row = self.rows.setdefault(case, {"case": case})
        for column in REVIEW_COLUMNS[5:]:
            row[column] = ""
        row.update(status=decided or "unreviewed", updated_at=now(), user=user())
        self._event(case, "reverted")

    def set_status(self, case: str, status: Status, note: str | None) -> None:
        """Record ``status`` (and ``note``, unless None) as the review of ``case``."""
        row = self.rows.setdefault(case, {"case": case})
        row.update(status=status, updated_at=now(), user=user())
        if note is not None:
            row["note"] = note
        self._event(case, "status")

    def _event(self, case: str, event: str) -> None:
        row = self.rows[case]
        entry = {"time": now(), "user": user(), "case": case, "event": event}
        entry.update({c: row.get(c, "") for c in LOG_COLUMNS if c not in entry})
        self.log.append(entry)
        self.unwritten = True
