"""A dataset's corrections store: corrected masks, review statuses and their provenance.

Layout (documented for people who read it without this plugin, see docs/formats.md)::

    <dataset>.corrections/
      store.yaml         what this is and which dataset it corrects
      masks/<case>.mat   a corrected case: the source's cjdata fields, the new tumorMask and a
                         tumorBorder recomputed from it (for .mat files and NumPy bundles)
      masks/<case>.nrrd  a corrected mask with the source mask's geometry (NRRD/NIfTI/MHA
                         sources keep their own suffix)
      review.csv         one row per case with a status: the status, note, who and when, and
                         for a corrected case how much the correction changed
      log.csv            every correction, revert and status change, in order
      store.lock         held while a napari session writes here

``<case>`` is the case as ``_filenames.file_stem`` names it (valid on every OS, never hidden,
reversible; ``corrections.maskfile``). A store is refused, naming the reason, when it sits in
its dataset (or its ``masks`` folder leads there) or belongs to another dataset; one moved
or copied together with its dataset still serves it (``corrections.store_header``). Opening
checks and reads, writing nothing (``corrections.store_open``).

Every file is replaced whole (``_atomic.replaced``), mask first and tables after, so a killed
process leaves the previous or the new version of each file. Two locks: ``_writing`` lets one
write at a time reach the disk, ``_guard`` covers what is in memory and is never held across a
disk operation, so napari's GUI thread (a status, the Review table) never waits for a write
that a slow or hung share holds up. The mask files are the truth about what is corrected.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics._atomic import is_temporary
from napari_radiomics._filenames import inside
from napari_radiomics._lock import OutputLock
from napari_radiomics.corrections.location import dataset_folder
from napari_radiomics.corrections.maskfile import (
    CaseRef,
    mask_name,
    read_corrected_mask,
    write_mask,
)
from napari_radiomics.corrections.provenance import compare_masks, mask_digest
from napari_radiomics.corrections.store_header import source_entry, write_header
from napari_radiomics.corrections.store_open import contents, place, unwritable
from napari_radiomics.corrections.store_tables import (
    LOG_COLUMNS,
    REVIEW_COLUMNS,
    STATUSES,
    Status,
    Tables,
    write_table,
)
from napari_radiomics.errors import BatchError, CorrectionsError, ReadError, WriteError

__all__ = ["STATUSES", "CaseRef", "CorrectionStore", "Status"]


class _StoreLock(OutputLock):
    """One writing session per store at a time (how the lock works: napari_radiomics._lock)."""

    def refusal(self, owner: str) -> BatchError:
        return BatchError(f"in use by another napari-radiomics session ({owner})")


class CorrectionStore:
    """Read and write one dataset's corrections (thread-safe; one writer process at a time).

    Opening never fails because of the store's content: what is damaged is listed in
    ``problems`` and left out, the rest opens. A store that cannot be written (a read-only
    folder, a full disk, another session holding it) opens read-only, with the reason in
    ``read_only``; :meth:`save` then raises :class:`CorrectionsError` with that reason, so the
    caller keeps the edit in memory and tells the user instead of dropping it.

    A folder that cannot be this dataset's store at all (``store_open.place``) is ``refused``:
    nothing in it is read or written, and ``read_only`` says why.
    """

    def __init__(self, root: str | Path, dataset: str | Path, *, write: bool = True) -> None:
        self.root = Path(root).absolute()
        self.dataset = dataset_folder(dataset)
        self.problems: list[str] = []
        self.read_only: str | None = None
        self._guard = threading.RLock()  # memory: held for microseconds, never on the disk
        self._writing = threading.RLock()  # the disk: taken before _guard, never inside it
        self._lock: _StoreLock | None = None
        self._masks: dict[str, Path] = {}
        self._tables = Tables({}, [])
        #: reverts asked for and not yet recorded (:meth:`forget`, on the GUI thread)
        self._forgetting: deque[str] = deque()
        #: reverted cases whose file is still to be removed (by :meth:`revert`)
        self._removing: dict[str, Path] = {}
        self._swept = False  # a killed writer's leftovers removed (at the first write)
        found = place(self.root, self.dataset, self.problems)
        self.refused = found.refused
        #: where store.yaml recorded the dataset, if both moved since (rewritten on writing)
        self.moved_from = found.moved_from
        #: the folder store.yaml names (where the dataset is now) and what else it records
        self._home, self._moves, self._sources = found.home, list(found.moves), found.sources
        if self.refused is not None:
            self.read_only = self.refused
            return
        if write:
            self.read_only = unwritable(self.root)
            if self.read_only is None and self.root.exists():
                self._take_lock()
        else:
            self.read_only = "opened for reading only"
        self._masks, self._tables = contents(self.root, self.problems)

    # -- the lock, and the store created with its first write ----------------------------
    def _take_lock(self) -> None:
        lock = _StoreLock(self.root / "store")
        try:
            lock.acquire()
        except BatchError as exc:
            self.read_only = str(exc)
            return
        self._lock = lock

    def _ensure_created(self) -> None:
        """Create the store (folders, header, lock) for its first write."""
        if self._lock is not None:
            return
        try:
            (self.root / "masks").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.read_only = f"cannot be written ({exc.strerror or exc})"
            raise CorrectionsError(self.root, self.read_only) from None
        self._take_lock()
        self.require_writable()
        if not (self.root / "store.yaml").is_file():
            self._write_header()

    def _remove_leftovers(self) -> None:
        """Remove the temporary files a killed writer of this store left (SIGKILL, a power
        cut: no ``finally`` ran). Only with the store's lock held, so no live writer owns
        them, and only in the store's own folders, under the names its writer gives; what
        cannot be removed now is left for the next session."""
        for folder in (self.root, self.root / "masks"):
            for path in folder.iterdir() if folder.is_dir() else ():
                if is_temporary(path.name) and path.is_file() and not path.is_symlink():
                    with contextlib.suppress(OSError):
                        path.unlink()

    @property
    def writable(self) -> bool:
        return self.read_only is None

    def close(self) -> None:
        """Give the store up to other sessions (the files stay)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- reading -------------------------------------------------------------------------
    def corrected_cases(self) -> list[str]:
        with self._held():
            return sorted(self._masks)

    def mask_file(self, case: str) -> Path | None:
        with self._held():
            return self._masks.get(case)

    def load_mask(self, case: str, shape: Sequence[int]) -> np.ndarray | None:
        """The corrected mask of ``case``, whose source mask has ``shape`` (uint8, napari
        axis order), or None if it has none. A file that :func:`read_corrected_mask` refuses
        is reported in ``problems`` and the case treated as uncorrected."""
        path = self.mask_file(case)
        if path is None:
            return None
        try:
            return read_corrected_mask(path, shape)
        except ReadError as exc:
            with self._held():
                self.problems.append(f"{exc}; the original mask of case {case} is used")
                self._masks.pop(case, None)
                row = self._tables.rows.get(case, {})
                if row.get("status") == "corrected":
                    row["status"] = "unreviewed"
            return None

    def mask_digest(self, case: str) -> str:
        """The digest the review table records for the correction of ``case`` ("" if none)."""
        with self._held():
            return str(self._tables.rows.get(case, {}).get("mask_digest") or "")

    def status(self, case: str) -> Status:
        with self._held():
            return self._tables.rows.get(case, {}).get("status") or "unreviewed"

    def note(self, case: str) -> str:
        with self._held():
            return self._tables.rows.get(case, {}).get("note") or ""

    def statuses(self, cases: Sequence[str]) -> tuple[list[Status], list[str]]:
        """The status and the note of each of ``cases``, read at once (a review dock asks for
        all 3064 after every saved stroke)."""
        with self._held():
            rows = [self._tables.rows.get(case, {}) for case in cases]
        return [r.get("status") or "unreviewed" for r in rows], [r.get("note") or "" for r in rows]

    def review_table(self) -> pd.DataFrame:
        """review.csv as a DataFrame (one row per case with a status)."""
        with self._held():
            rows = [dict(r) for r in self._tables.rows.values()]
        return _frame(rows, REVIEW_COLUMNS)

    def log_table(self) -> pd.DataFrame:
        with self._held():
            log = list(self._tables.log)
        return _frame(log, LOG_COLUMNS)

    # -- writing -------------------------------------------------------------------------
    def require_writable(self) -> None:
        """Raise the store's ``CorrectionsError`` if it cannot be written (another session
        holds it, its folder is read-only)."""
        if self.read_only is not None:
            raise CorrectionsError(self.root, self.read_only)

    def _prepare_write(self) -> None:
        """Create the store if needed; after a move, rewrite the header for the folder the
        dataset was found at (not a subfolder this session opened), as one of the store's
        writes, so it never races a table write."""
        with self._writing:
            self.require_writable()
            self._ensure_created()
            if not self._swept:  # with the first write, not at opening, which writes nothing
                self._remove_leftovers()
                self._swept = True
            if self.moved_from is not None:
                self._moves.append(self.moved_from)
                self.moved_from = None
                self._write_header()

    def _write_header(self) -> None:
        """Rewrite store.yaml (with ``_writing`` held: what it records changes only so)."""
        write_header(self.root, self._home, self._moves, self._sources)

    def save(
        self,
        ref: CaseRef,
        mask: np.ndarray,
        original: np.ndarray,
        *,
        stale: Callable[[], bool] | None = None,
        since: int | None = None,
    ) -> dict[str, Any] | None:
        """Store ``mask`` as the correction of ``ref.case``; returns its review row.

        A mask equal to the original is no correction: an existing one is reverted instead.
        ``stale()`` says the case was reverted since ``mask`` was read: asked before writing
        (nothing is written) and again once the file is written (it is removed), and None
        returned. Recorded, a save of a stroke that had waited on a slow share marked the case
        corrected again after its revert, and the revert's own save then reset a status set
        in between; left on disk, the file brought the correction back in the next session.
        ``since`` (:meth:`mark`, taken at the edit ``mask`` holds): a status set after it
        stands; without it, one set after the write began (``Tables.decided``).
        """
        mask = np.asarray(mask)
        if np.array_equal(mask != 0, np.asarray(original) != 0):
            # Refused as a save is; a case never corrected writes nothing (not even the
            # store, which a revert's save created though nothing was ever corrected).
            self.revert(ref.case, since)
            self.write_tables()
            with self._held():
                return dict(
                    self._tables.rows.get(ref.case, {"case": ref.case, "status": "unreviewed"})
                )
        change, digest = compare_masks(original, mask, ref.spacing), mask_digest(mask)
        try:
            target = inside(self.root / "masks", mask_name(ref))
        except WriteError as exc:
            raise CorrectionsError(exc.path, exc.problem) from None
        with self._writing:
            self._prepare_write()
            if stale is not None and stale():
                return None
            begun = self.mark() if since is None else since
            try:
                write_mask(target, ref, mask)
            except (OSError, RuntimeError) as exc:
                raise CorrectionsError(target, f"cannot be written ({exc})") from exc
            with self._held():
                previous = self._masks.get(ref.case) or self._removing.get(ref.case)
            if previous is not None and previous != target:
                try:  # the name an older version gave it; tried again with the retry
                    previous.unlink(missing_ok=True)
                except OSError as exc:
                    raise CorrectionsError(previous, f"cannot be removed ({exc})") from exc
            with self._held():
                reverted = stale is not None and stale()  # while the file was written
                if not reverted:
                    self._removing.pop(ref.case, None)
                    self._masks[ref.case] = target
                    mask_file = target.relative_to(self.root).as_posix()
                    row = self._tables.corrected(
                        ref.case, mask_file, digest, change.as_row(), begun
                    )
            if reverted:
                self._discard(ref.case, target)
                return None
            entry = source_entry(self._home, ref.path)
            if entry is not None and self._sources.get(ref.case) != entry:
                self._sources[ref.case] = entry  # what a moved store is checked by
                self._write_header()
            self.write_tables()
            return row

    def mark(self) -> int:
        """Where the log is now; a status logged after it came after what was edited then
        (``since`` of :meth:`save`)."""
        with self._held():
            return len(self._tables.log)

    def _discard(self, case: str, target: Path) -> None:
        """Remove the file a save wrote for a case reverted meanwhile; one that cannot be
        removed now is left to the revert's own save, which tries again until it can."""
        try:
            target.unlink(missing_ok=True)
        except OSError:
            with self._held():
                if case not in self._masks:
                    self._removing.setdefault(case, target)

    def forget(self, case: str) -> None:
        """Drop the correction of ``case`` in memory, without waiting for a write in progress
        (the GUI thread calls it): recorded before anything else the store reads or changes,
        it reads as uncorrected and its row and the log say reverted, so a status set next
        stands. Its file is removed by :meth:`revert` (the saving thread, with the case's
        save). Recorded with that save instead, the revert reset a status set in between."""
        self.require_writable()
        self._forgetting.append(case)

    @contextmanager
    def _held(self) -> Iterator[None]:
        """The store's guard, with the reverts asked for since recorded first."""
        with self._guard:
            while self._forgetting:
                case = self._forgetting.popleft()
                path = self._masks.pop(case, None)
                if path is not None:
                    self._removing[case] = path
                    self._tables.reverted(case)
            yield

    def revert(self, case: str, since: int | None = None) -> None:
        """Drop the correction of ``case``: the original mask applies again (the tables are
        written by :meth:`write_tables`, as for statuses). Its file is removed before it is
        forgotten, and the revert recorded before the header is rewritten: a revert refused
        at either step is done, and recorded, when it is tried again. A status set since
        ``since`` (:meth:`mark`), or since the revert began, stands."""
        self.require_writable()
        with self._writing:
            begun = self.mark() if since is None else since
            with self._held():
                path = self._masks.get(case) or self._removing.get(case)
            if path is None:
                return
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise CorrectionsError(path, f"cannot be removed ({exc})") from exc
            with self._held():
                if self._masks.pop(case, None) is not None:
                    self._tables.reverted(case, begun)  # one :meth:`forget` recorded is not again
                self._removing.pop(case, None)
            if self._sources.pop(case, None) is not None:
                self._write_header()

    def set_status(self, case: str, status: Status, note: str | None = None) -> None:
        """Set a review status ("corrected" comes from :meth:`save` alone). In memory at
        once; on disk with the next :meth:`write_tables`, which a session runs off the GUI
        thread."""
        self.require_writable()
        if status not in STATUSES or status == "corrected":
            allowed = ", ".join(s for s in STATUSES if s != "corrected")
            raise ValueError(f"status {status!r}: use one of {allowed} (corrections set theirs)")
        with self._held():
            if case in self._masks and status == "unreviewed":
                status = "corrected"  # a corrected case stays corrected until reverted
            self._tables.set_status(case, status, note)

    def write_tables(self) -> None:
        """Write review.csv and log.csv if they changed (always after the mask they
        describe, so a row never names a mask that is not on disk yet). What they hold is
        copied under the guard and written without it; a change made meanwhile marks them
        changed again, for the next call, and a write that fails leaves them so.

        The files of cases reverted in memory (:meth:`forget`) are removed first: a status
        written before the revert's own save ran (it is queued after) said "reverted" on disk
        while the file was still there, and a session killed in between brought the
        correction back, since the mask files are the truth."""
        with self._writing:
            with self._held():
                forgotten = list(self._removing)
            for case in forgotten:
                with contextlib.suppress(CorrectionsError):  # retried by the revert's save
                    self.revert(case)
            with self._held():
                if not self._tables.unwritten:
                    return
                rows = [dict(row) for row in self._tables.rows.values()]
                log = list(self._tables.log)
                self._tables.unwritten = False
            try:
                self._prepare_write()
                write_table(self.root / "review.csv", REVIEW_COLUMNS, rows)
                write_table(self.root / "log.csv", LOG_COLUMNS, log)
            except BaseException:
                with self._guard:
                    self._tables.unwritten = True
                raise


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """``rows`` as a table of text in ``columns`` (an empty cell for a missing value): made
    as objects from the start, a column no row holds was float NaN, which ``fillna("")``
    will refuse in pandas 4."""
    return pd.DataFrame(rows, columns=list(columns), dtype=object).fillna("")
