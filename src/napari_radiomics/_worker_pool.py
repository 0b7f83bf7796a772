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
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
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


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers are born with Ctrl-C held; their initializer must call
    `leave_ctrl_c_to_caller` first."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        with _ctrl_c_held():
            return super().submit(fn, *args, **kwargs)


def leave_ctrl_c_to_caller() -> None:
    """In a worker of a `WorkerPool`: ignore Ctrl-C, then let go of the one held since birth."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
