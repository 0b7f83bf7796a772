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
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

_T = TypeVar("_T")
_MASKS = hasattr(signal, "pthread_sigmask")


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
    """A process pool whose workers are born with Ctrl-C held; their initializer must call
    `leave_ctrl_c_to_caller` first."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        with _ctrl_c_held():
            future = super().submit(fn, *args, **kwargs)
        future.__class__ = _Future  # the pool holds this very object: see _Future
        return future

    def stop_now(self) -> None:
        """Stop without waiting for the work in progress, whose results nobody wants any
        more (the run was interrupted or cancelled): what waits is cancelled and the workers
        are terminated mid-task. ``shutdown(wait=False)`` lets each worker finish its task
        first, and the interpreter waits for that at exit: Ctrl-C or a scheduler's SIGTERM
        then took as long as the slowest case in progress to end the command (minutes for a
        large 3D case, past the seconds a scheduler waits before SIGKILL), and a cancelled
        run kept every CPU busy meanwhile. Python 3.14's ``terminate_workers`` does this;
        before it, the workers are the pool's ``_processes``."""
        processes = list((getattr(self, "_processes", None) or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with suppress(ProcessLookupError, ValueError):  # ended meanwhile, or closed
                if process.is_alive():
                    process.terminate()


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
