"""One open dataset's corrections: its store, its editable mask and the autosave between them.

The reader builds a session when it opens a dataset (:func:`attach`), so whatever the user
paints is saved whether or not a widget is open; the Review dock finds the session again
through :func:`session_for` (the mask a layer shows carries its session). Stores
are opened once per process and shared, so two layers of one dataset write through one store
and one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from napari_radiomics.columns import CASE, PATH
from napari_radiomics.corrections.autosave import AutoSave
from napari_radiomics.corrections.location import remember_store, store_dir_for
from napari_radiomics.corrections.store import CaseRef, CorrectionStore, Status
from napari_radiomics.errors import ReadError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.io.editable import EditableArray, EditableStack
from napari_radiomics.io.folder import resize_mask
from napari_radiomics.io.mat import read_mat_header

__all__ = ["CorrectionSession", "attach", "open_store", "session_for", "stack_refs"]

#: A case's mask as shown -> as its source file holds it: (case index, mask) -> mask.
ToSource = Callable[[int, np.ndarray], np.ndarray]

_STORES: dict[Path, CorrectionStore] = {}
_GUARD = threading.Lock()


def open_store(dataset: str | Path, root: str | Path | None = None) -> CorrectionStore:
    """This process's store for ``dataset`` (at ``root``, or where it is kept by default)."""
    root = Path(root or store_dir_for(dataset)).absolute()
    with _GUARD:
        store = _STORES.get(root)
        if store is None or not store.writable:
            # A store that could not be written (another session held it, the disk was full)
            # is asked again: the layers that have the old one keep it, new ones may write.
            store = _STORES[root] = CorrectionStore(root, dataset)
        return store


class CorrectionSession:
    """Review and correction of the cases of one editable mask (one layer).

    Case ``i`` is ``refs[i]``: slice ``i`` of a stack, or the single case of a slice or
    volume. Every change goes to disk through the autosave thread; the methods here only
    touch memory, so they are safe to call from the GUI thread. ``to_source`` takes a case
    shown resized (a folder stack's odd-sized slice) back to its file's grid for saving.

    Listeners are told ``(case index, event)``: "saved" (a revert's save too), "status",
    "reverted" (in memory, before its save), "error: ..." (a save failed) and "problem: ..."
    (a stored correction found unusable when its slice was first shown, so the original is
    shown instead).
    """

    def __init__(
        self,
        store: CorrectionStore,
        mask: EditableStack | EditableArray,
        refs: Sequence[CaseRef],
        original: Callable[[int], np.ndarray],
        *,
        delay: float = 0.3,
        to_source: ToSource | None = None,
    ) -> None:
        self.store = store
        self.mask = mask
        self.refs = list(refs)
        self.original = original
        self.listeners: list[Callable[[int, str], None]] = []  # (case index, event)
        self.autosave = AutoSave(
            store, mask, self.refs, original, delay=delay, to_source=to_source,
            on_saved=lambda i, _row: self._tell(i, "saved"),
            on_error=lambda i, exc: self._tell(i, f"error: {exc}"),
        )  # fmt: skip

    def _tell(self, index: int, event: str) -> None:
        """Tell every listener, even after one fails (the first failure is raised after all
        were told): a listener that raised used to leave the others, napari's warning of an
        unsaved correction among them, unaware."""
        failure: Exception | None = None
        for listener in list(self.listeners):
            try:
                listener(index, event)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    @property
    def cases(self) -> list[str]:
        return [r.case for r in self.refs]

    def status(self, index: int) -> Status:
        return self.store.status(self.refs[index].case)

    def set_status(self, index: int, status: Status, note: str | None = None) -> None:
        self.store.set_status(self.refs[index].case, status, note)
        self.autosave.submit(self.store.write_tables)
        self._tell(index, "status")

    def revert(self, index: int) -> None:
        """Back to the original mask: in the viewer at once, in the store by the saving thread
        after what it is doing (the case's mask now equals its original, and saving that is
        the store's revert). It used to wait here, on the GUI thread, for every queued save
        and then remove the file itself: a slow share froze napari for as long, a hung one
        for good. A revert the store refuses (a full disk) is kept and tried again as a
        refused save is (``AutoSave.unsaved``). The store records the revert at once
        (``forget``): recorded with the save, it reset a status set in between."""
        self.store.require_writable()  # refused at once, as a status change is
        # The mask first: a save of a snapshot taken before is then seen as stale by the
        # store (``restores``) before it records this revert.
        if isinstance(self.mask, EditableStack):
            self.mask.restore(index)
        else:
            self.mask.replace(self.original(index))
        self.store.forget(self.refs[index].case)
        self.autosave.due(index)
        self._tell(index, "reverted")  # the Review table shows it now, not after the save

    def reviewed(self) -> tuple[int, int]:
        """(cases with a status other than unreviewed, all cases): "412 / 3064 reviewed"."""
        statuses, _ = self.store.statuses(self.cases)
        return sum(status != "unreviewed" for status in statuses), len(statuses)

    def next_index(self, start: int, step: int = 1, status: Status = "unreviewed") -> int | None:
        """The next case after ``start`` (``step`` -1: before) with ``status``, or None."""
        count = len(self.refs)
        for offset in range(1, count + 1):
            index = (start + step * offset) % count
            if self.status(index) == status:
                return index
        return None

    def table(self) -> pd.DataFrame:
        """One row per case: its status and note (the Review dock adds the dataset's columns)."""
        statuses, notes = self.store.statuses(self.cases)
        return pd.DataFrame({"case": self.cases, "status": statuses, "note": notes})

    def relocate(self, root: str | Path) -> CorrectionStore:
        """Keep this dataset's corrections in ``root`` from now on (remembered for next time):
        every case edited in memory is saved there, including those the old store refused."""
        store = open_store(self.store.dataset, root)
        if store.writable:
            remember_store(self.store.dataset, store.root)
        old = self.store
        # Not waited for: the old store's saver may be held by a hung share (hand_over). The
        # new store saves what the old refused.
        self.autosave.hand_over(old.close if old is not store else lambda: None)
        self.store = store
        self.autosave = AutoSave(
            store, self.mask, self.refs, self.original, delay=self.autosave.delay,
            to_source=self.autosave.to_source,
            on_saved=self.autosave.on_saved, on_error=self.autosave.on_error,
        )  # fmt: skip
        edited = self.mask.edited if isinstance(self.mask, EditableStack) else [0]
        self.autosave.touched(edited, edit=False)
        return store


def stack_refs(slices: pd.DataFrame) -> list[CaseRef]:
    """The cases of a folder stack's per-slice table (``MatStack.slices``), in slice order."""
    cases = (CaseMetadata.from_mapping(row) for row in slices[[CASE, PATH]].to_dict("records"))
    return [CaseRef(case.case, "mat", case.path) for case in cases]


def attach(
    mask_source: np.ndarray | object,
    refs: Sequence[CaseRef],
    dataset: str | Path,
    *,
    stack: bool,
    root: str | Path | None = None,
    delay: float = 0.3,
) -> CorrectionSession:
    """An editable, self-saving mask over ``mask_source`` with the store's corrections applied.

    ``stack``: a lazy (N, H, W) stack, case ``i`` being slice ``i``, becomes an
    :class:`EditableStack` whose corrected slices are read from the store when first shown.
    A slice whose file has another shape (the stack shows it resized) is saved on its file's
    grid and shown resized again. Otherwise the mask is one case (a 2D slice or a volume) and
    becomes an :class:`EditableArray` holding its correction if there is one. The mask's
    ``session`` attribute is the session, so it lives as long as the layer that shows it.
    """
    store = open_store(dataset, root)
    if not stack:
        source = np.asarray(mask_source)
        stored = store.load_mask(refs[0].case, source.shape)
        single = EditableArray(source if stored is None else stored.astype(source.dtype))
        original = lambda _i: source  # noqa: E731 - the source mask, kept as read
        session = CorrectionSession(store, single, refs, original, delay=delay)
        single.session = session
        return session
    shown = tuple(int(n) for n in mask_source.shape[1:])

    def overlay(index: int) -> np.ndarray | None:
        known = len(session.store.problems)
        stored = session.store.load_mask(refs[index].case, _source_shape(refs[index], shown))
        for problem in session.store.problems[known:]:
            session._tell(index, f"problem: {problem}")
        return None if stored is None else resize_mask(stored, shown)

    def to_source(index: int, array: np.ndarray) -> np.ndarray:
        shape = _source_shape(refs[index], shown)
        return array if array.shape == shape else resize_mask(array, shape)

    corrected = {i for i, r in enumerate(refs) if store.mask_file(r.case) is not None}
    mask = EditableStack(mask_source, overlay=overlay, overlaid=corrected)
    session = CorrectionSession(store, mask, refs, mask.original, delay=delay, to_source=to_source)
    mask.session = session
    return session


def _source_shape(ref: CaseRef, shown: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``ref``'s mask in its file (a folder stack shows odd-sized slices
    resized to ``shown``); ``shown`` when the file cannot tell (it is shown as zeros)."""
    if ref.kind != "mat":
        return shown
    try:
        return tuple(read_mat_header(ref.path).shape)
    except ReadError:
        return shown


def session_for(mask: object) -> CorrectionSession | None:
    """The session saving ``mask`` (a layer's data), if the reader attached one."""
    session = getattr(mask, "session", None)
    return session if isinstance(session, CorrectionSession) else None
