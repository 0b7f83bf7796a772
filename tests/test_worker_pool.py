"""The workers of both pools leave Ctrl-C to their caller, even while they are still starting.

A terminal's Ctrl-C reaches every worker. A spawned worker (macOS, Windows) imports
pyradiomics for a second or more before its initializer runs; Ctrl-C in that second used to
kill it with a traceback and break the pool. Here SIGINT is sent to every worker over and over,
from the moment it exists until its first task has answered.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, InvalidStateError
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from napari_radiomics._worker_pool import WorkerPool
from napari_radiomics.batch._worker import init_worker
from napari_radiomics.cli._signals import StopRequests
from napari_radiomics.engine._maps_pool import _init_worker as init_maps_worker
from napari_radiomics.settings import ExtractionSettings
from processes import exit_codes, start_an_answer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C is a signal here")


# Spawned, as macOS and Windows start them: a worker then imports for a second before its
# initializer runs (a forkserver's workers may start with everything imported, see
# batch._executors' preload, which leaves no window to test).
@contextmanager
def _spawned_batch_pool() -> Iterator[Executor]:
    context = multiprocessing.get_context("spawn")
    params = ExtractionSettings().to_params()
    pool = WorkerPool(1, mp_context=context, initializer=init_worker, initargs=("k", params, None))
    with pool:
        yield pool


@contextmanager
def _spawned_maps_pool() -> Iterator[Executor]:
    context = multiprocessing.get_context("spawn")
    caller = ([], logging.WARNING)  # the caller's warning filters and log level
    with WorkerPool(2, mp_context=context, initializer=init_maps_worker, initargs=caller) as pool:
        yield pool


@pytest.mark.parametrize("start", [_spawned_batch_pool, _spawned_maps_pool], ids=["batch", "maps"])
def test_ctrl_c_while_workers_start_leaves_them_working(
    start: Callable[[], AbstractContextManager[Executor]],
) -> None:
    sent = 0
    with start() as pool:
        future = pool.submit(os.getpid)
        deadline = time.monotonic() + 120
        while not future.done() and time.monotonic() < deadline:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGINT)
                sent += 1
            time.sleep(0.01)
        assert future.result(timeout=1) in {c.pid for c in multiprocessing.active_children()}
    # Starting took a while (imports), so Ctrl-C did arrive before the initializer ran.
    assert sent >= 10


def test_a_cancelled_future_takes_the_broken_pool_failure_quietly() -> None:
    """Ctrl-C or SIGTERM: the caller cancels the futures still waiting while SIGTERM kills
    the workers too, and the pool's manager thread then fails every pending future with
    BrokenProcessPool, one just cancelled included (a race between the two threads). On
    Python 3.11 that raised InvalidStateError and killed the manager thread before it closed
    the workers' queue: seen as a traceback and a ``maps`` command that hung at exit. The
    future of a WorkerPool takes it as a no-op, as Python 3.12 does."""
    with WorkerPool(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        # One worker, a queue of two: the last of four waits in the pool and can be cancelled.
        futures = [pool.submit(time.sleep, 1) for _ in range(4)]
        assert futures[-1].cancel()
        futures[-1].set_exception(BrokenProcessPool("a worker died"))  # the manager's call
        assert futures[-1].cancelled()
        done = pool.submit(os.getpid)
        pid = done.result(timeout=120)
        with pytest.raises(InvalidStateError):  # a finished future still refuses it
            done.set_exception(BrokenProcessPool("a worker died"))
        assert done.result() == pid


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _one_long_c_call(started: Path) -> bytes:
    """Says it started, then computes for many minutes in one C call that never returns to
    the interpreter (as pyradiomics' C matrices of a large 3D case do)."""
    started.touch()
    return hashlib.pbkdf2_hmac("sha256", b"case", b"salt", 2**31 - 1)


def test_a_forked_worker_stopped_mid_c_call_dies_at_once(tmp_path: Path) -> None:
    """A batch's workers are forked while the command's SIGTERM handler is installed
    (``StopRequests``) and inherit it. A Python handler runs only between bytecodes, so a
    worker that ``stop_now`` (or a scheduler) sent SIGTERM went on with its case until the
    C call under way returned, minutes for a large case. Its initializer puts SIGTERM back to
    its default: the worker dies on it at once, mid-call."""
    started = tmp_path / "started"
    params = ExtractionSettings().to_params()
    # Forked as the command forks them; where only spawn exists (the CI's spawn-only run, as
    # Windows), nothing is inherited and the worker must die at once all the same.
    forks = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forks else "spawn")
    before = set(multiprocessing.active_children())  # earlier tests' pools may still exit
    with StopRequests():
        pool = WorkerPool(
            1, mp_context=context, initializer=init_worker, initargs=("k", params, None)
        )
        pool.submit(_one_long_c_call, started)
        _wait_for(started)
        (worker,) = set(multiprocessing.active_children()) - before
        try:
            pool.stop_now()
            assert exit_codes([worker], timeout=60) == [-signal.SIGTERM]  # the call: minutes
        finally:
            worker.kill()


def _half_an_answer(started: Path, then_die: bool) -> None:
    """Sends the first bytes of an answer, then dies, or waits as a worker killed mid-send
    stays."""
    start_an_answer()
    started.touch()
    if then_die:
        os._exit(1)
    time.sleep(600)


def test_a_worker_stopped_mid_answer_leaves_no_thread_waiting(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM to the process group kills a worker wherever it is, sending its
    answer included. The pool's thread was left reading the rest of a message that never
    came, and the interpreter waits for that thread at exit: ``extract`` hung after its
    note, about once in 25 SIGTERMs. After ``stop_now`` the thread ends."""
    started = tmp_path / "started"
    pool = WorkerPool(1, mp_context=multiprocessing.get_context("spawn"))
    answers = pool._result_queue
    future = pool.submit(_half_an_answer, started, False)
    _wait_for(started)
    thread = pool._executor_manager_thread
    assert thread is not None
    assert thread.is_alive()
    try:
        pool.stop_now()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the pool's thread still waits for the answer"
        assert future.cancelled() or isinstance(future.exception(), BrokenProcessPool)
    finally:
        answers._writer.close()  # what stop_now does: lets a failing run end


def test_a_worker_dead_mid_answer_breaks_the_pool_instead_of_hanging_it(tmp_path: Path) -> None:
    """A worker dies sending its answer (the out-of-memory killer while a large map is sent)
    while another works on: the pool's thread waits for the rest of the answer, and the
    other worker keeps the pipe open, so nothing ever finished. The pool now fails every
    future with BrokenProcessPool, as for any worker that dies, and a batch reruns them."""
    started = tmp_path / "started"
    with WorkerPool(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        answers = pool._result_queue
        other = pool.submit(time.sleep, 600)
        dying = pool.submit(_half_an_answer, started, True)
        try:
            _wait_for(started)
            with pytest.raises(BrokenProcessPool):
                dying.result(timeout=60)
            with pytest.raises(BrokenProcessPool):
                other.result(timeout=60)
        finally:
            pool.stop_now()  # on failure: end the sleeper and the pipe, or pytest never exits
            answers._writer.close()
