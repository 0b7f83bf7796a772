"""Edits to disk without a save action: a background thread that writes each edited case.

napari paints on its GUI thread, a few hundred small writes per stroke. Writing a case after
every one would stall the brush, so the mask only *records* which cases a write touched
(:meth:`AutoSave.touched`, microseconds) and this thread saves a case once it has been left
alone for ``delay`` seconds: the end of a stroke, a fill, an undo. A stroke that lasts longer
is saved on the way too, which only costs a write. Everything else a store does on disk
(review tables after a status change, a revert) is queued here as well, in order.

At interpreter exit the queue is flushed; a process killed with SIGKILL loses at most what was
painted in the last ``delay`` seconds plus the write in flight, which the store's atomic
replacement turns into "the previous version".
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_radiomics.corrections.store import CaseRef, CorrectionStore

__all__ = ["AutoSave"]

# _FATAL: nothing a save raises ends this thread. Whatever it is (a store whose lock file
# cannot be written on a full disk raised a WriteError nobody caught), the case stays in
# memory and in ``unsaved``, the user is told (``on_error``), and it is saved with its next
# edit, with the next save that succeeds (the store has room again) or at exit, whichever
# comes first; a thread that died instead saved nothing more for the rest of the session,
# and ``flush`` still answered that all was saved. Nor does anything ``on_saved`` or
# ``on_error`` raise end it (see ``_report``).

Saved = Callable[[int, dict], None]
Failed = Callable[[int, Exception], None]


class AutoSave:
    """Saves the cases of an editable mask (``EditableStack`` / ``EditableArray``) to a store.

    ``originals(i)`` gives case ``i``'s source mask (read on this thread, so a lazy stack's
    file read never happens on the GUI thread). ``on_saved(i, row)`` and ``on_error(i, exc)``
    are called on the writer thread; a GUI forwards them to its own thread. A case whose save
    failed stays in ``unsaved`` (with the reason) and in memory, and is tried again with its
    next edit, or when the session moves to another store. ``to_source(i, mask)`` gives a
    case's mask (and original) as its source file holds it, for a case shown resized.
    """

    def __init__(
        self,
        store: CorrectionStore,
        mask: object,
        refs: list[CaseRef],
        originals: Callable[[int], np.ndarray],
        *,
        delay: float = 0.3,
        to_source: Callable[[int, np.ndarray], np.ndarray] | None = None,
        on_saved: Saved | None = None,
        on_error: Failed | None = None,
    ) -> None:
        self.store = store
        self.mask = mask
        self.refs = refs
        self.originals = originals
        self.delay = delay
        self.to_source = to_source
        self.on_saved = on_saved
        self.on_error = on_error
        self.unsaved: dict[int, str] = {}
        self._dirty: dict[int, float] = {}  # case index -> time of its last edit
        #: case index -> the store's log at its last edit (``CorrectionStore.mark``): a
        #: status set after it stands against the save of that edit, however late it runs
        self._edited: dict[int, int] = {}
        self._tasks: deque[Callable[[], None]] = deque()
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        mask.on_write = self.touched  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._run, name="corrections-autosave", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def touched(self, indices: list[int], *, edit: bool = True) -> None:
        """Record an edit of these cases (called by the mask, on the thread that painted;
        ``edit`` False: save them again, nothing new was painted)."""
        now = time.monotonic()
        mark = self.store.mark() if edit else None
        with self._cond:
            if self._closed:  # handed over (:meth:`hand_over`): the next saver has them
                return
            for index in indices:
                self._dirty[index] = now
                if mark is not None:
                    self._edited[index] = mark
            self._cond.notify()

    def due(self, index: int) -> None:
        """Save case ``index`` as soon as this thread is free, with no stroke to wait for (a
        revert: the case now reads as its original, whose save reverts it in the store)."""
        with self._cond:
            self._dirty[index] = -float("inf")
            self._cond.notify()

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the writer thread, after what is already queued."""
        with self._cond:
            self._tasks.append(task)
            self._cond.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Save everything now and wait for it; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            for index in self._dirty:
                self._dirty[index] = -float("inf")
            self._cond.notify_all()
            while self._dirty or self._tasks or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, *, retry: bool = True) -> None:
        """Flush, then stop the thread (closing twice is harmless). ``retry``: try once more
        what a save refused (at exit; not when the session moves to another store, which
        saves those itself)."""
        if self._closed:
            return
        if self._thread.is_alive():
            if retry and self.store.writable:  # a read-only store refuses them all again
                self.touched(list(self.unsaved), edit=False)
                # Review tables a failed write left unwritten (a status set on a full disk):
                # written with the next change only, they were lost if none came.
                self.submit(self.store.write_tables)
            self.flush(timeout=30)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        atexit.unregister(self.close)

    def hand_over(self, then: Callable[[], None]) -> None:
        """Stop taking edits, without waiting (the session moved to another store, whose
        saver saves every case edited in memory): what is queued is still written, on this
        thread, and ``then`` runs here after it (the old store is given up). Waiting for it
        on the GUI thread froze napari for up to 30 s behind a save a hung share held, and
        giving the store up there (its lock file is on that share) froze it for good."""
        with self._cond:
            self._tasks.extend(functools.partial(self._save, index) for index in self._dirty)
            self._dirty.clear()
            self._tasks.append(then)
            self._closed = True
            self._cond.notify_all()
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            with self._cond:
                work = self._next_work()
                while work is None:
                    if self._closed:
                        return
                    self._cond.wait(self._wait_time())
                    work = self._next_work()
                self._busy = True
            try:
                work()
            except Exception as exc:  # a table write: reported, never fatal (see _FATAL)
                self._report(self.on_error, -1, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _next_work(self) -> Callable[[], None] | None:
        if self._tasks:
            return self._tasks.popleft()
        now = time.monotonic()
        due = next((i for i, t in self._dirty.items() if now - t >= self.delay), None)
        if due is None:
            return None
        del self._dirty[due]
        return lambda: self._save(due)

    def _wait_time(self) -> float | None:
        if not self._dirty:
            return None
        oldest = min(self._dirty.values())
        return max(self.delay - (time.monotonic() - oldest), 0.0)

    def _save(self, index: int) -> None:
        mask: Any = self.mask
        try:
            with mask.lock:  # the snapshot and the reverts it follows, together
                snapshot, restores = mask.snapshot(index), mask.restores(index)
            with self._cond:
                since = self._edited.get(index)
            original = self.originals(index)
            if self.to_source is not None:
                snapshot = self.to_source(index, snapshot)
                original = self.to_source(index, original)
            row = self.store.save(
                self.refs[index], snapshot, original,
                stale=lambda: mask.restores(index) != restores, since=since,
            )  # fmt: skip
        except Exception as exc:  # any: see _FATAL
            self.unsaved[index] = str(exc)
            self._report(self.on_error, index, exc)
            return
        if row is None:  # reverted since its snapshot: the revert's own save follows
            return
        self.unsaved.pop(index, None)
        # The store has just taken a save: what it refused before (a full disk the user has
        # since cleared) is tried again now, not only with its case's next stroke, which may
        # never come before the session ends. Once per success: a case that fails again
        # waits for the next one, so a lasting failure is not retried in a loop.
        retry = [i for i in self.unsaved if i != index]
        if retry:
            self.touched(retry, edit=False)
        self._report(self.on_saved, index, row)

    @staticmethod
    def _report(callback: Callable[..., None] | None, *args: object) -> None:
        """Tell ``callback``; what it raises goes to ``threading.excepthook`` (which napari
        shows as a notification), not up this thread: a listener that failed when told of a
        failure, raising again, used to end the thread."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:
            hook_args = (type(exc), exc, exc.__traceback__, threading.current_thread())
            threading.excepthook(threading.ExceptHookArgs(hook_args))
