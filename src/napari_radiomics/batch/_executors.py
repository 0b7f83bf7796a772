"""Where batch cases run: in this process, in a local process pool, or on a Dask cluster.

Each backend is a generator of `CaseResult`s in completion order. Work is submitted in a
bounded window (a few chunks per worker), so a 3000-case run never holds 3000 futures or their
results; closing the generator (Ctrl-C, Cancel in the GUI) stops submitting and shuts the
workers down, and every result already yielded has been written by the caller.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from napari_radiomics.batch._worker import (
    CaseResult,
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
    """The CPUs this process may use (respects affinity masks and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_serial(cases: list[Case], key: str, params: dict[str, Any]) -> Iterator[CaseResult]:
    """One case after another in this process (`--jobs 1`; also easiest to debug)."""
    engine = engine_for(key, params)
    for case in cases:
        yield run_case(engine, case)


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


def _new_pool(jobs: int, key: str, params: dict[str, Any]) -> ProcessPoolExecutor:
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        # The server imports the worker module once; each worker then forks from it.
        context.set_forkserver_preload(["napari_radiomics.batch._worker"])
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=init_worker, initargs=(key, params)
    )


def run_process_pool(
    cases: list[Case], key: str, params: dict[str, Any], jobs: int, chunksize: int | None = None
) -> Iterator[CaseResult]:
    """Cases over `jobs` local worker processes.

    A worker that dies (killed, out of memory, a crash in native code) breaks the whole pool.
    The cases that were in flight then run again one at a time in a fresh pool: those that
    succeed are kept, and the one that kills its worker even alone is reported as failed.
    """
    queue, suspects = deque(cases), deque[Case]()
    testing: Case | None = None  # a suspect running alone after a worker died
    sizer = _ChunkSizer(chunksize, jobs)
    in_flight: dict[Future[list[CaseResult]], list[Case]] = {}
    pool: ProcessPoolExecutor | None = None
    try:
        while queue or suspects or in_flight:
            if pool is None:
                pool = _new_pool(jobs, key, params)
            if suspects and not in_flight:
                testing = suspects.popleft()
                in_flight[pool.submit(run_chunk, key, params, [testing])] = [testing]
            while testing is None and not suspects and queue and len(in_flight) < 2 * jobs:
                chunk = [queue.popleft() for _ in range(min(sizer.size(len(queue)), len(queue)))]
                in_flight[pool.submit(run_chunk, key, params, chunk)] = chunk
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                if isinstance(future.exception(), BrokenProcessPool):
                    broken = True
                    continue
                in_flight.pop(future)
                for result in future.result():
                    sizer.record(result)
                    yield result
            if broken:
                lost = [case for chunk in in_flight.values() for case in chunk]
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
                if testing is not None:
                    yield CaseResult(testing.case_id, testing.path, errors=[_WORKER_DIED])
                else:
                    suspects.extend(lost)
            if not in_flight:
                testing = None
        # Done: wait for the idle workers to exit, so no pool thread outlives the run (a later
        # pool in this process can then fork again; see start_method).
        if pool is not None:
            pool.shutdown(wait=True)
            pool = None
    finally:
        if pool is not None:  # interrupted or cancelled: do not wait for cases in progress
            pool.shutdown(wait=False, cancel_futures=True)


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
    from distributed import LocalCluster

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
        from distributed import Client
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


def run_dask(
    cases: list[Case], key: str, params: dict[str, Any], client: Any, cluster: Any
) -> Iterator[CaseResult]:
    """Cases on the Dask cluster of :func:`connect_dask`; closes it when done."""
    from distributed import as_completed

    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        queue = deque(cases)
        sizer = _ChunkSizer(None, workers)
        chunks: dict[Any, list[Case]] = {}
        pending = as_completed()
        while queue or chunks:
            while queue and len(chunks) < 2 * workers:
                chunk = [queue.popleft() for _ in range(min(sizer.size(len(queue)), len(queue)))]
                future = client.submit(run_chunk, key, params, chunk, pure=False)
                chunks[future] = chunk
                pending.add(future)
            future = next(pending)
            chunk = chunks.pop(future)
            try:
                results = future.result()
            except Exception as exc:  # e.g. KilledWorker: the cases fail, the run goes on
                results = [CaseResult(c.case_id, c.path, errors=[f"Dask: {exc}"]) for c in chunk]
            for result in results:
                sizer.record(result)
                yield result
    finally:
        close_dask(client, cluster)


def close_dask(client: Any, cluster: Any) -> None:
    """Close what :func:`connect_dask` opened (closing twice is harmless)."""
    client.close()
    if cluster is not None:
        cluster.close()
