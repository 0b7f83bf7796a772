"""Worker pools whose workers leave Ctrl-C to their caller from their first instant.

A terminal's Ctrl-C reaches its whole process group, workers included. The caller handles it:
it stops the pool and keeps every row already written. A worker must not: one that dies of it
prints a traceback and breaks the pool. Ignoring SIGINT in the pool's initializer comes too late
for a spawned worker (the start method on macOS and Windows), which imports for seconds first,
so Ctrl-C in those seconds killed it mid-import.

So `WorkerPool` starts its workers (`ProcessPoolExecutor` does so in `submit`) with SIGINT
blocked in the starting thread. A worker inherits the blocked signal through fork and exec,
and its initializer calls `leave_ctrl_c_to_caller`, which ignores SIGINT before unblocking it:
a Ctrl-C that waited meanwhile is discarded. The caller loses nothing: a signal blocked in one
thread is delivered to another (CPython runs its handler in the main thread either way), or
once the thread unblocks it. Windows has no signal masks and delivers Ctrl-C as a console event;
there a worker still starting is not covered.

A worker that dies while it sends its answer (Ctrl-C or SIGTERM to the whole group, the
out-of-memory killer while a large map is pickled and sent) leaves half a message in the pipe
of answers. The pool's thread, reading it, waits for the rest, and the pipe never ends: this
process holds its writing end (it never writes there), and so does every live worker. The pool
then neither answers nor notices the dead worker, and the interpreter waits for its thread at
exit. `WorkerPool.stop_now` and a watchdog (`_watch_workers`) end every worker and drop this
process's writing end: the pipe ends, the read fails, and the pool's thread closes the pool as
broken, as it does for any worker that dies (a batch reruns its cases on a fresh pool).
"""

from __future__ import annotations

import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

_T = TypeVar("_T")
_MASKS = hasattr(signal, "pthread_sigmask")
_DROPPING = threading.Lock()
if sys.platform == "win32":
    from _winapi import CloseHandle as _close_handle
else:
    from os import close as _close_handle
#: How often the watchdog looks for a dead worker the pool has not noticed (it notices one in
#: milliseconds, unless its thread is stuck reading half an answer).
_WATCH_EVERY = 1.0


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """SIGINT blocked in this thread for the duration (processes started here inherit it)."""
    if not _MASKS:
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class _Future(Future[_T]):
    """A pool's future that takes a failure set after it was cancelled as a no-op, as Python
    3.12 and later do. When a worker dies, the pool's manager thread sets BrokenProcessPool
    on every pending future; on Python 3.11 one cancelled meanwhile (the pool shut down with
    ``cancel_futures`` on Ctrl-C while its workers died of the same SIGTERM) raised
    InvalidStateError there. That killed the thread with a traceback before it closed the
    queue to the workers, and the thread feeding that queue, blocked on a full pipe (a maps
    run sends voxel arrays), was waited for at exit: forever."""

    def set_exception(self, exception: BaseException | None) -> None:
        try:
            super().set_exception(exception)
        except InvalidStateError:
            if not self.cancelled():
                raise


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers are born with Ctrl-C held (their initializer must call
    `leave_ctrl_c_to_caller` first), and which a worker dying mid-answer cannot leave stuck
    while it runs (`_watch_workers`) or when it is stopped (`stop_now`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("max_tasks_per_child"):  # its workers leave alive: the watchdog's "dead"
            raise ValueError("a WorkerPool's workers live as long as the pool")
        super().__init__(*args, **kwargs)
        self._watchdog: threading.Thread | None = None

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        with _ctrl_c_held():
            future = super().submit(fn, *args, **kwargs)
        future.__class__ = _Future  # the pool holds this very object: see _Future
        if self._watchdog is None:
            manager = self._executor_manager_thread  # started by the first submit
            self._watchdog = threading.Thread(
                target=_watch_workers,
                args=(weakref.ref(self), manager),
                name="WorkerPoolWatchdog",
                daemon=True,
            )
            self._watchdog.start()
        return future

    def stop_now(self) -> None:
        """Stop without waiting for the work in progress, whose results nobody wants any
        more (the run was interrupted or cancelled): what waits is cancelled and the workers
        are terminated mid-task. ``shutdown(wait=False)`` lets each worker finish its task
        first, and the interpreter waits for that at exit: Ctrl-C or a scheduler's SIGTERM
        then took as long as the slowest case in progress to end the command (minutes for a
        large 3D case, past the seconds a scheduler waits before SIGKILL), and a cancelled
        run kept every CPU busy meanwhile. Python 3.14's ``terminate_workers`` does this;
        before it, the workers are the pool's ``_processes``. The same Ctrl-C may have
        killed a worker mid-answer (see the module's docstring): without `_end_workers`'
        dropped pipe end, the command hung at exit after printing its note."""
        processes = self._workers()
        answers = getattr(self, "_result_queue", None)
        self.shutdown(wait=False, cancel_futures=True)
        _end_workers(processes, answers)

    def _workers(self) -> list[BaseProcess]:
        """The worker processes (none once shut down); the pool's thread changes the dict."""
        return list((getattr(self, "_processes", None) or {}).values())


def _end_workers(processes: list[BaseProcess], answers: Any) -> None:
    """Terminates `processes`, then drops this process's writing end of the pipe of answers
    (`answers`, the pool's result queue), which it never writes: once the workers are gone
    the pipe ends, and the pool's thread cannot wait on it for ever."""
    for process in processes:
        with suppress(ProcessLookupError, ValueError):  # ended meanwhile, or closed
            if process.is_alive():
                process.terminate()
    if answers is not None:
        _drop(answers._writer)


def _drop(connection: Any) -> None:
    """Closes `connection` once, whichever of the caller's threads and the watchdog comes
    first: its handle is taken out under a lock before it is closed (``close()`` clears it
    only after the system call, which another thread may enter too: a second close of the
    same number, or of a file opened meanwhile under it). A later ``close()`` does nothing."""
    with _DROPPING:
        handle, connection._handle = connection._handle, None
    if handle is not None:
        _close_handle(handle)


def _watch_workers(pool_ref: weakref.ref[WorkerPool], manager: threading.Thread | None) -> None:
    """While the pool's thread runs: a worker found dead at two looks in a row (the pool's
    thread sees a death in milliseconds, unless it is stuck reading the answer that worker
    was sending) breaks the pool as the pool would have, by ending the other workers and the
    pipe. Its futures then fail with BrokenProcessPool instead of never finishing."""
    dead_before: set[int | None] = set()
    while manager is not None and manager.is_alive():
        manager.join(_WATCH_EVERY)
        pool = pool_ref()
        if pool is None or pool._shutdown_thread:  # gone, shut down, or already broken
            return
        processes = pool._workers()
        try:
            ready = set(wait([p.sentinel for p in processes], timeout=0))
            dead = {p.pid for p in processes if p.sentinel in ready}
        except (ValueError, OSError):  # a process closed, or its handle, meanwhile
            dead = set()
        if dead & dead_before and manager.is_alive():
            _end_workers(processes, getattr(pool, "_result_queue", None))
            return
        dead_before = dead
        del pool  # hold no reference between looks: the pool may be collected


def leave_ctrl_c_to_caller() -> None:
    """In a worker of a `WorkerPool`: ignore Ctrl-C, then let go of the one held since birth.

    SIGTERM goes back to its default action: a worker forked while the command's handler
    was installed (``cli._signals``) inherits it, and a Python handler runs only between
    bytecodes, so a worker sent SIGTERM (`WorkerPool.stop_now`, a scheduler) went on until
    the C call under way returned (minutes in a large case's pyradiomics matrices)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
