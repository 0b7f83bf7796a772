"""Worker processes end with the process that started them, however it ends.

A caller killed with SIGKILL cannot stop its pool, and idle workers would otherwise wait for
work forever, each holding a few hundred MB. Batch workers and feature-map workers both call
`die_with_parent` from their pool's initializer.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(forked_from: int | None) -> None:
    """End this worker when its caller dies.

    `forked_from` is the caller's pid when the worker was forked from it: the caller is then
    the parent, so on Linux the kernel is asked (`_kernel_ends_orphan`) and elsewhere a thread
    polls the parent (`watch_parent`). None when multiprocessing started the worker with spawn
    or from a forkserver (`_watch_sentinel`).
    """
    if forked_from is None:
        _watch_sentinel()
    elif not _kernel_ends_orphan(forked_from):
        watch_parent(forked_from)


def _kernel_ends_orphan(parent: int) -> bool:
    """Linux only: ask the kernel to send SIGKILL to this process when its parent goes
    (`PR_SET_PDEATHSIG`; the parent *thread*, which is why pools are only forked from the
    main thread, see `batch._executors.start_method`); a parent that died before the request
    was made shows as a changed `getppid()`. False where the request cannot be made."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # gone before the kernel was asked to watch it
        os._exit(1)
    return True


def watch_parent(parent: int, interval: float = 1.0) -> None:
    """Where the kernel cannot be asked (macOS): a daemon thread ends this process once its
    parent `parent` is gone, which a POSIX orphan sees as a changed `getppid()` (it is
    re-parented)."""

    def gone() -> None:
        while os.getppid() == parent:
            time.sleep(interval)

    _exit_after(gone)


def _watch_sentinel() -> None:
    """A spawned worker imports for seconds before its initializer runs, and its caller may
    die meanwhile: `getppid()` then already names init (or a forkserver, or a subreaper), and
    a watch on it would never fire. multiprocessing hands every worker a parent sentinel
    instead: a pipe (a process handle on Windows) that the caller holds from before the worker
    starts and that reaches its end when the caller dies, whenever that was. A daemon thread
    waits on it."""
    parent = multiprocessing.parent_process()
    if parent is None:
        raise RuntimeError("not a multiprocessing worker: it has no parent sentinel to watch")
    _exit_after(parent.join)


def _exit_after(wait: Callable[[], None]) -> None:
    def watch() -> None:
        wait()
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
