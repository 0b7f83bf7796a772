"""The journal's bytes: CSV records appended in one write each, read back record by record,
and a tail cut off by a crash found and repaired (what ``journal.BatchOutput`` stands on).

A value holding a line break is quoted and spans lines, as CSV allows (``csv_records``), so a
case name with one reads back exactly. Text is UTF-8, and what UTF-8 cannot hold is written
as a backslash escape (``as_written``). A write that fails is rolled back to the last complete
record and raises a WriteError naming the file.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from napari_radiomics._atomic import replaced
from napari_radiomics._spreadsheet import escape_cell, unescape_cell
from napari_radiomics.columns import MASK_DIGEST, MASK_SOURCE
from napari_radiomics.errors import BatchError, WriteError

__all__ = [
    "append_text",
    "as_written",
    "csv_records",
    "csv_text",
    "read_rows",
    "replace_text",
    "scan_journal",
]


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV lines ending in ``\n``. The csv module quotes a value holding ``\n`` but not one
    holding a carriage return alone (not part of this line terminator), which readers would
    take for a line end: such a row has every value quoted."""
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        cells = [escape_cell(v) for v in row]  # formula-like text: napari_radiomics._spreadsheet
        (quoted if any(isinstance(v, str) and "\r" in v for v in cells) else plain).writerow(cells)
    return buffer.getvalue()


def csv_records(lines: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """The records of a CSV file from its lines (a file opened in binary mode), each with
    whether it is complete.

    A value holding a line break is quoted and spans lines, so lines are joined until their
    quotes pair up: CSV doubles a quote inside a quoted value, so an odd count means a value
    is still open. Only the last record can be incomplete (no final newline, or a quote still
    open): a write cut off by a crash.
    """
    record, quotes = b"", 0
    for line in lines:
        record += line
        quotes += line.count(b'"')
        if line.endswith(b"\n") and quotes % 2 == 0:
            yield record, True
            record, quotes = b"", 0
    if record:
        yield record, False


def read_rows(path: Path) -> list[list[str]]:
    """A CSV file this module wrote, as rows of text with the spreadsheet escapes undone."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [[unescape_cell(v) for v in row] for row in csv.reader(fh)]


def as_written(text: str) -> str:
    """`text` as the files hold it: UTF-8, with what UTF-8 cannot hold (a lone surrogate, say
    from a file name that is not UTF-8) spelled as a backslash escape instead of crashing the
    run. Case ids are compared in this form when a run is resumed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: What a write failure (a full disk, a quota, a read-only remount) leaves the user to do.
_KEPT = "the cases finished before are kept; free some space, then rerun with --resume"


def append_text(path: Path, text: str) -> None:
    """Append `text` with a single write on an O_APPEND descriptor (no partial lines behind).

    A full disk may take part of the write: the file is then cut back to where it was (which
    frees space, so it cannot fail for want of it) and a WriteError names the file, so the
    journal never keeps half a line. The lock guarantees nobody else appends meanwhile.
    """
    data = text.encode("utf-8", "backslashreplace")
    # 0o666: the umask decides who may read the table; O_BINARY: no newline translation.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o666)
    try:
        start = os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError as exc:
            os.ftruncate(fd, start)
            raise WriteError(path, f"cannot be written ({exc.strerror}); {_KEPT}") from None
    finally:
        os.close(fd)


def replace_text(path: Path, text: str) -> None:
    """Write a whole small file atomically (a temporary file, then a rename): a full disk
    leaves the previous version, never a truncated one that --resume cannot parse."""
    try:
        with replaced(path) as tmp:
            tmp.write_bytes(text.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        raise WriteError(path, f"cannot be written ({exc.strerror}); {_KEPT}") from None


def scan_journal(path: Path) -> tuple[list[str] | None, dict[str, tuple[str, str]]]:
    """Header and finished cases of a journal, each with the (mask_source, mask_digest) its
    rows were measured on (empty for journals older than those columns); repairs a tail cut
    off by a crash.

    A truncated last record means the process died inside the write of one case: that record
    and the complete records of the same case before it are removed, so the case runs again.
    """
    header: list[str] | None = None
    done: dict[str, tuple[str, str]] = {}
    offset = 0
    where: tuple[int, int] | None = None  # positions of mask_source and mask_digest
    tail_start, tail_case, keep = 0, None, 0
    with path.open("rb") as fh:
        for raw, complete in csv_records(fh):
            if not complete:  # cut off mid-write
                keep = tail_start if tail_case is not None else offset
                if tail_case is not None:
                    done.pop(tail_case, None)
                break
            try:
                fields = [
                    unescape_cell(f)
                    for f in next(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
                ]
            except UnicodeDecodeError as exc:
                raise BatchError(
                    f"{path}: cannot resume, byte {offset + exc.start} is not UTF-8 (this run "
                    "writes UTF-8; was the file edited?); use --overwrite to start again"
                ) from None
            if header is None:
                header = fields
                if MASK_SOURCE in header and MASK_DIGEST in header:
                    where = (header.index(MASK_SOURCE), header.index(MASK_DIGEST))
            elif fields:
                if fields[0] != tail_case:
                    tail_start, tail_case = offset, fields[0]
                mask = (fields[where[0]], fields[where[1]]) if where else ("", "")
                done[fields[0]] = mask
            offset += len(raw)
            keep = offset
    if keep != path.stat().st_size:
        os.truncate(path, keep)
        if keep == 0:
            header = None
    return header, done
