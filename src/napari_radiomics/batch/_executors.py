"""Where batch cases run: in this process, in a local process pool, or on a Dask cluster.

The pool and Dask are both a `concurrent.futures.Executor` (`Client.get_executor` for Dask), so
one loop drives them; a small `_Backend` says only what differs (how to start an executor, and
what a failed future means). The loop yields `CaseResult`s in completion order. Work is
submitted in a bounded window (two chunks per worker), so a 3000-case run never holds 3000
futures or their results; closing the generator (Ctrl-C, Cancel in the GUI) stops submitting
and shuts the workers down, and every result already yielded has been written by the caller.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Any

from napari_radiomics._imports import import_once
from napari_radiomics._limits import usable_cpus
from napari_radiomics._worker_pool import WorkerPool
from napari_radiomics.batch._worker import (
    CaseResult,
    CaseTask,
    engine_for,
    init_worker,
    run_case,
    run_chunk,
)
from napari_radiomics.batch.cases import Case
from napari_radiomics.errors import BatchError

#: Aim for chunks that take about this long, so tiny cases do not drown in round trips
#: while slow ones are still sent one by one (good balance at the end of a run).
_CHUNK_SECONDS = 0.25
_MAX_CHUNK = 16
_WORKER_DIED = (
    "the worker process died while extracting this case (killed, out of memory, or crashed)"
)


def default_jobs() -> int:
    """One worker per CPU this process may use."""
    return usable_cpus()


def run_serial(
    cases: list[Case], key: str, params: dict[str, Any], task: CaseTask
) -> Generator[CaseResult, None, None]:
    """One case after another in this process (`--jobs 1`; also easiest to debug)."""
    engine = engine_for(key, params)
    for case in cases:
        yield run_case(engine, case, task)


class _ChunkSizer:
    """Chunk size from the measured time per case: 1 for real slices, more for tiny ones."""

    def __init__(self, fixed: int | None, workers: int) -> None:
        self.fixed, self.workers = fixed, workers
        self.seconds, self.count = 0.0, 0

    def record(self, result: CaseResult) -> None:
        self.seconds += result.seconds
        self.count += 1

    def size(self, remaining: int) -> int:
        if self.fixed:
            return self.fixed
        if not self.count:
            return 1
        wanted = int(_CHUNK_SECONDS / max(self.seconds / self.count, 1e-6))
        balance = max(1, remaining // (4 * self.workers))  # keep the tail short
        return max(1, min(wanted, _MAX_CHUNK, balance))


@dataclass(frozen=True)
class _Backend:
    """What differs between executors, and nothing else. `fatal`: failures that take the
    executor down with every future in flight (a pool whose worker died is broken for good),
    so all of them are rerun on a fresh executor; any other failure is its own future's (Dask
    reports a dead worker as its task's KilledWorker), so only that chunk is rerun."""

    start: Callable[[], Executor]
    workers: int
    fatal: tuple[type[Exception], ...]
    describe: Callable[[Exception], str]  # a failure, as the errors file says it
    #: an interrupted or cancelled run's executor, stopped without waiting for its cases
    abandon: Callable[[Executor], None]


@dataclass(frozen=True)
class _Chunk:
    cases: list[Case]
    suspect: bool  # one case rerun alone after a failure: if it fails again, it is to blame


def _outcome(future: Future[list[CaseResult]]) -> list[CaseResult] | Exception:
    try:
        return future.result()
    except Exception as exc:  # the task's failure (or Dask cancelled it), not a bad case's
        return exc


def _run_on(
    backend: _Backend,
    cases: list[Case],
    key: str,
    params: dict[str, Any],
    chunksize: int | None,
    task: CaseTask,
) -> Generator[CaseResult, None, None]:
    """``task`` on the cases, in chunks over `backend`'s executor, at most two chunks per
    worker in flight.

    A failed chunk loses no case: its cases (after a fatal failure, every case in flight) run
    again one at a time, alone, so that a failure is known to be that case's own. Those that
    succeed are kept; the one that fails even alone (the case that kills its worker) is
    reported as failed. No case is tried more than twice, so a run always ends.
    """
    queue, suspects = deque(cases), deque[Case]()
    sizer = _ChunkSizer(chunksize, backend.workers)
    in_flight: dict[Future[list[CaseResult]], _Chunk] = {}
    executor: Executor | None = None

    def submit(executor: Executor, chunk: _Chunk) -> None:
        try:
            future = executor.submit(run_chunk, key, params, chunk.cases, task)
        except backend.fatal as exc:  # it broke since the last wait: fail like its futures
            future = Future()
            future.set_exception(exc)
        in_flight[future] = chunk

    try:
        while queue or suspects or in_flight:
            if executor is None:
                executor = backend.start()
            if suspects and not in_flight:
                submit(executor, _Chunk([suspects.popleft()], suspect=True))
            alone = any(chunk.suspect for chunk in in_flight.values())
            while queue and not suspects and not alone and len(in_flight) < 2 * backend.workers:
                size = min(sizer.size(len(queue)), len(queue))
                submit(executor, _Chunk([queue.popleft() for _ in range(size)], suspect=False))
            done = wait(in_flight, return_when=FIRST_COMPLETED).done
            outcomes = [(in_flight.pop(future), _outcome(future)) for future in done]
            if any(isinstance(outcome, backend.fatal) for _, outcome in outcomes):
                # The executor fails everything else in flight at once: collect it all (a chunk
                # that finished just before is kept) and start a fresh one.
                outcomes += [(in_flight.pop(f), _outcome(f)) for f in wait(in_flight).done]
                executor.shutdown(wait=False)
                executor = None
            for chunk, outcome in outcomes:
                if not isinstance(outcome, Exception):
                    for result in outcome:
                        sizer.record(result)
                        yield result
                elif chunk.suspect:
                    case = chunk.cases[0]
                    yield CaseResult(case.case_id, case.path, errors=[backend.describe(outcome)])
                else:
                    suspects.extend(chunk.cases)
        # Done: wait for the idle workers to exit, so no pool thread outlives the run (a later
        # pool in this process can then fork again; see start_method).
        if executor is not None:
            executor.shutdown(wait=True)
            executor = None
    finally:
        if executor is not None:  # interrupted or cancelled: do not wait for cases in progress
            for future in in_flight:
                future.cancel()
            backend.abandon(executor)


def start_method() -> str:
    """How to start workers: `fork` when this process runs a single thread (the CLI, a
    script): workers start in milliseconds with pyradiomics already imported. Otherwise (napari,
    whose batch runs in a worker thread; Jupyter; a Dask client) forking could copy a lock held
    by another thread and deadlock, so a forkserver starts them from a clean process."""
    methods = multiprocessing.get_all_start_methods()
    single = threading.current_thread() is threading.main_thread()
    if "fork" in methods and single and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _new_pool(jobs: int, key: str, params: dict[str, Any]) -> WorkerPool:
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        # The server imports the worker module once; each worker then forks from it.
        context.set_forkserver_preload(["napari_radiomics.batch._worker"])
    # Forked workers are this process's children: they end when it dies (see die_with_parent).
    parent = os.getpid() if context.get_start_method() == "fork" else None
    return WorkerPool(
        max_workers=jobs,
        mp_context=context,
        initializer=init_worker,
        initargs=(key, params, parent),
    )


def run_process_pool(
    cases: list[Case],
    key: str,
    params: dict[str, Any],
    jobs: int,
    task: CaseTask,
    chunksize: int | None = None,
) -> Generator[CaseResult, None, None]:
    """Cases over `jobs` local worker processes. A worker that dies (killed, out of memory, a
    crash in native code) breaks the whole pool. An interrupted run ends its workers at once,
    mid-case (`WorkerPool.stop_now`)."""
    start = partial(_new_pool, jobs, key, params)
    backend = _Backend(
        start, jobs, (BrokenProcessPool,), lambda exc: _WORKER_DIED, WorkerPool.stop_now
    )
    return _run_on(backend, cases, key, params, chunksize, task)


def run_dask(
    cases: list[Case],
    key: str,
    params: dict[str, Any],
    client: Any,
    task: CaseTask,
    chunksize: int | None = None,
) -> Generator[CaseResult, None, None]:
    """Cases on the Dask cluster of `client` (:func:`connect_dask`; the caller closes it)."""
    slots = max(1, sum(client.nthreads().values()))  # a 4-thread worker runs 4 chunks at once
    start = partial(client.get_executor, pure=False)
    # Dask's own shutdown (the base class's does nothing): without waiting, it cancels.
    abandon = lambda executor: executor.shutdown(wait=False)  # noqa: E731
    backend = _Backend(start, slots, (), lambda exc: f"Dask: {exc}", abandon)
    return _run_on(backend, cases, key, params, chunksize, task)


def local_cluster(n_workers: int) -> Any:
    """A Dask LocalCluster for extraction: `n_workers` single-threaded worker processes on
    127.0.0.1, no dashboard, tuned for long CPU-bound tasks:

    - without Dask's MALLOC_TRIM_THRESHOLD_ for its workers: with it, glibc maps and unmaps
      every image-sized array instead of reusing memory (10-20% slower per case here; Dask
      would also write it into this process's environment);
    - with the workers' statistical profiler off and their event-loop tick, memory and system
      monitors slowed down: on a machine with as many workers as cores they otherwise wake
      many times a second and take ~10% from the extraction.
    """
    import dask

    LocalCluster = import_once("distributed").LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    quiet = {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "500ms",
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.admin.system-monitor.interval": "2s",
    }
    with dask.config.set(quiet):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )


def connect_dask(address: str, jobs: int) -> tuple[Any, Any]:
    """(client, cluster or None) for `address`: "local" starts a LocalCluster of `jobs`
    single-threaded worker processes on loopback; otherwise `address` is a running scheduler
    (`tcp://host:port`), whose workers need napari-radiomics installed and the input paths
    readable. Called before the output is touched, so a bad address loses nothing."""
    try:
        Client = import_once("distributed").Client
    except ImportError:
        raise BatchError(
            "--dask needs dask.distributed: pip install 'napari-radiomics[distributed]'"
        ) from None
    if address == "local":
        cluster = local_cluster(jobs)
        return Client(cluster), cluster
    try:
        return Client(address, timeout="10s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(f"--dask {address}: cannot reach the scheduler ({exc})") from None


def close_dask(client: Any, cluster: Any) -> None:
    """Close what :func:`connect_dask` opened (closing twice is harmless)."""
    client.close()
    if cluster is not None:
        cluster.close()
