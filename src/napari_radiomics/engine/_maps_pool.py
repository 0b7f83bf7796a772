"""The worker processes of feature maps: how they start, and what they take from the caller.

Kept out of ``maps`` so that module reads as the order of operations.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

import SimpleITK as sitk

from napari_radiomics._parent_death import die_with_parent
from napari_radiomics._worker_pool import WorkerPool, leave_ctrl_c_to_caller
from napari_radiomics.errors import SettingsError


@contextmanager
def process_pool(jobs: int) -> Iterator[Executor | None]:
    """Worker processes for the voxel batches (``None`` for one job). They start from a
    forkserver (or are spawned), never forked from this process: the maps may be computed in a
    GUI's worker thread, and a fork there could copy a lock another thread holds. Leaving on
    an exception (Ctrl-C, SIGTERM, the dock's Cancel) terminates the workers mid-part, as a
    batch does: nobody reads those parts any more, and a caller exiting would wait for them."""
    if jobs < 1:
        raise SettingsError(f"jobs {jobs}: expected 1 or more worker processes")
    if jobs == 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    caller = (_warning_filters(), logging.getLogger("radiomics").level)
    pool = WorkerPool(jobs, mp_context=context, initializer=_init_worker, initargs=caller)
    try:
        yield pool
    except BaseException:
        pool.stop_now()
        raise
    pool.shutdown(wait=False, cancel_futures=True)


def _warning_filters() -> list[tuple[Any, ...]]:
    """The caller's warning filters that a worker can take (one on a warning class that
    cannot be pickled stays behind)."""
    out = []
    for entry in warnings.filters:
        try:
            pickle.loads(pickle.dumps(entry))
        except Exception:  # any failure means: this one cannot travel
            continue
        out.append(entry)
    return out


def _init_worker(filters: list[tuple[Any, ...]], log_level: int) -> None:
    """In a maps worker: it ends with its caller (a caller killed with SIGKILL cannot drop its
    pool), warnings and pyradiomics' log are as the caller has them (``-q`` silences both),
    Ctrl-C is the caller's to handle (it drops the pool), and parallelism comes from the
    processes, so SimpleITK runs single-threaded."""
    leave_ctrl_c_to_caller()
    die_with_parent(None)  # never forked from the caller, see process_pool
    warnings.resetwarnings()
    for action, message, category, module, lineno in reversed(filters):
        # A filter holds a compiled pattern, or a plain name (Python's own ``__main__``).
        text, where = (getattr(p, "pattern", p) or "" for p in (message, module))
        warnings.filterwarnings(action, text, category, where, lineno)
    logging.getLogger("radiomics").setLevel(log_level)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
