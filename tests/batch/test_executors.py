"""The one scheduling loop of batch runs, on real executors: its window, and what it does when
a worker process dies under it, on a local process pool and on a Dask cluster."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import dask
import pandas as pd
import pytest
from distributed import LocalCluster

from napari_radiomics._worker_pool import WorkerPool
from napari_radiomics.batch import _executors, iter_batch, run_batch
from napari_radiomics.batch.cases import Case, discover_cases
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from processes import start_an_answer
from sample_files import MAT_FOLDER_CASES, assert_same_rows

N = MAT_FOLDER_CASES  # the shared mat_folder fixture's cases
SETTINGS = ExtractionSettings.from_params(
    {"setting": {"normalize": True, "binWidth": 32}, "imageType": {"Original": {}}}
)


def _poison(parent: int, mid_answer: bool) -> Poison:
    """Unpickling a Poison anywhere but in the test process kills that process at once, the
    way a crash in native code or the out-of-memory killer would; `mid_answer`: once it has
    sent the first bytes of an answer, as if killed while sending one."""
    if os.getpid() != parent:
        if mid_answer:
            start_an_answer()
        os._exit(1)
    return Poison(parent, mid_answer)


class Poison:
    """Rides along in a case (as the unused mask of a .mat case) and kills the worker that
    receives it. Harmless here, and in a Dask scheduler running in this process."""

    def __init__(self, parent: int, mid_answer: bool = False) -> None:
        self.parent = parent
        self.mid_answer = mid_answer

    def __reduce__(self) -> tuple[Any, tuple[int, bool]]:
        return _poison, (self.parent, self.mid_answer)


@pytest.fixture(scope="module")
def serial(mat_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("serial") / "features.csv"
    assert run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=1).ok
    return read_table(out)


def _with_poison(mat_folder: Path, mid_answer: bool = False) -> list[Case]:
    """The real cases with a killer second, so that it shares its chunk with a real case."""
    cases = discover_cases([mat_folder])
    poison = Poison(os.getpid(), mid_answer)
    killer = Case("killer", "mat", cases[0].path, mask=poison)  # type: ignore[arg-type]
    return [cases[0], killer, *cases[1:]]


def _check_only_the_killer_failed(
    summary: Any, out: Path, serial: pd.DataFrame, message: str
) -> None:
    assert (summary.succeeded, summary.failed, summary.rows) == (N, 1, N)
    assert_same_rows(out, serial)
    errors = pd.read_csv(out.with_name("f.errors.csv"), dtype=str)
    assert errors["case"].tolist() == ["killer"]
    assert message in errors["message"].item()


class _CountingPool(WorkerPool):
    """A real process pool that notes how many of its futures are unfinished at each submit."""

    instances: ClassVar[list[_CountingPool]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unfinished = self.most = self.submitted = 0
        self.lock = threading.Lock()
        _CountingPool.instances.append(self)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self.lock:
            self.submitted += 1
            self.unfinished += 1
            self.most = max(self.most, self.unfinished)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future[Any]) -> None:
        with self.lock:
            self.unfinished -= 1


def test_never_more_than_two_chunks_per_worker_in_flight(
    mat_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded memory: 3N cases, one per chunk, on 2 workers: at most 4 chunks are out."""
    monkeypatch.setattr(_executors, "WorkerPool", _CountingPool)
    _CountingPool.instances.clear()
    cases = discover_cases([mat_folder])
    many = [Case(f"{c.case_id}-{i}", c.kind, c.path) for i in range(3) for c in cases]
    summary = run_batch(many, SETTINGS, tmp_path / "f.csv", jobs=2, chunksize=1)
    assert (summary.succeeded, summary.rows) == (3 * N, 3 * N)
    (pool,) = _CountingPool.instances
    assert pool.submitted == 3 * N
    assert pool.most == 4


# Windows writes a pipe's message whole: no worker dies half-way through one there.
_MID_ANSWER = pytest.mark.skipif(sys.platform == "win32", reason="messages are written whole")


@pytest.mark.parametrize(
    "mid_answer", [False, pytest.param(True, marks=_MID_ANSWER)], ids=["at-once", "mid-answer"]
)
def test_process_pool_reports_only_the_case_that_kills_its_worker(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path, mid_answer: bool
) -> None:
    """The whole pool breaks: the cases in flight with the killer (in its chunk or on the
    other worker) run again and are kept; the killer, run alone, is the one reported. A
    worker that dies while sending an answer used to leave the run waiting for ever (if it
    does again, the run is stopped after 5 minutes with every thread's stack)."""
    out = tmp_path / "f.csv"
    cases = _with_poison(mat_folder, mid_answer)
    faulthandler.dump_traceback_later(300, exit=True)
    try:
        summary = run_batch(cases, SETTINGS, out, jobs=2, chunksize=2)
    finally:
        faulthandler.cancel_dump_traceback_later()
    _check_only_the_killer_failed(summary, out, serial, _executors._WORKER_DIED)


def test_a_worker_killed_while_the_caller_writes_loses_no_case(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    """The pool breaks between two submissions (here: while a result is being written), so
    the next submit itself raises BrokenProcessPool: the run still recovers like the pool
    test in test_batch.py, which kills a worker at the same point without the pause."""
    killed: list[int] = []

    def kill_a_worker_and_pause(done: int, total: int, message: str) -> None:
        if done == 1 and not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)
            victim.join(timeout=60)  # dead before the loop submits again: that submit fails

    out = tmp_path / "f.csv"
    cases = discover_cases([mat_folder])
    summary = run_batch(
        cases, SETTINGS, out, jobs=2, chunksize=1, progress=kill_a_worker_and_pause
    )
    assert killed
    assert summary.ok
    assert_same_rows(out, serial)


@pytest.fixture(scope="module")
def strict_cluster() -> Iterator[LocalCluster]:
    """Two single-threaded workers; a worker's death fails every task it held at once (Dask
    would otherwise retry them on other workers itself, hiding what the loop does)."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
    ):  # fmt: skip
        yield cluster


def test_dask_keeps_the_cases_a_killed_worker_held(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path, strict_cluster: LocalCluster
) -> None:
    """A failed Dask task (KilledWorker) fails only its chunk, and even then its cases run
    again alone: only the killer is reported, the case that shared its chunk is kept."""
    out = tmp_path / "f.csv"
    address = strict_cluster.scheduler_address
    summary = run_batch(_with_poison(mat_folder), SETTINGS, out, dask=address, chunksize=2)
    assert summary.backend == f"dask ({address})"
    _check_only_the_killer_failed(summary, out, serial, "workers died")


def test_closing_a_dask_run_at_its_first_event_disconnects_it(
    mat_folder: Path, tmp_path: Path, strict_cluster: LocalCluster
) -> None:
    """Cancel before any case finished still closes the run's client: nothing is left behind
    on the cluster."""
    scheduler = strict_cluster.scheduler
    before = set(scheduler.clients)
    run = iter_batch(
        discover_cases([mat_folder]), SETTINGS, tmp_path / "f.csv",
        dask=strict_cluster.scheduler_address,
    )  # fmt: skip
    assert next(run).case is None
    assert len(set(scheduler.clients) - before) == 1
    run.close()
    deadline = time.monotonic() + 10
    while set(scheduler.clients) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(scheduler.clients) == before
