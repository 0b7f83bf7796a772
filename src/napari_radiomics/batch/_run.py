"""Whole-dataset extraction: run the feature engine over many cases, safely and in parallel.

`run_batch` is the one-call API (the CLI and scripts); `iter_batch` is the same run as a
generator of progress events, which is what a GUI worker thread needs to show progress and to
cancel (closing the generator stops the workers; everything finished is already on disk).

Parallel by default over local processes; `jobs=1` runs in this process; `dask="local"` or a
scheduler address runs on Dask. Output, resume and errors files: see `batch_output`.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from napari_radiomics.batch._executors import (
    close_dask,
    connect_dask,
    default_jobs,
    run_dask,
    run_process_pool,
    run_serial,
)
from napari_radiomics.batch._worker import CaseResult, CaseTask, extract_case
from napari_radiomics.batch.cases import Case, metadata_columns
from napari_radiomics.batch.journal import BatchOutput, refuse_inputs_as_output, settings_hash
from napari_radiomics.errors import BatchError
from napari_radiomics.settings import ExtractionSettings

__all__ = ["BatchOptions", "BatchProgress", "BatchSummary", "iter_batch", "run_batch"]


@dataclass(frozen=True)
class BatchProgress:
    """One step of a run: `done` of `total` cases of this run finished; `case` is the case
    that just finished (None for the first event, which announces `total`)."""

    done: int
    total: int
    case: str | None
    ok: bool
    message: str


@dataclass
class BatchSummary:
    """What a run did. `failed` counts cases (or ROI labels) listed in the errors file."""

    output: Path
    errors_path: Path
    total: int
    skipped: int
    succeeded: int
    failed: int
    rows: int
    seconds: float
    backend: str

    @property
    def cases_per_second(self) -> float:
        """Throughput of this run (cases it processed, per wall-clock second)."""
        processed = self.total - self.skipped
        return processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when no case failed."""
        return self.failed == 0


def _check_unique(cases: list[Case]) -> None:
    dupes = [cid for cid, n in Counter(c.case_id for c in cases).items() if n > 1]
    if dupes:
        raise BatchError(f"case ids must be unique (resume relies on them); repeated: {dupes[:5]}")


def iter_batch(
    cases: Iterable[Case],
    settings: ExtractionSettings | None,
    output: str | Path,
    *,
    jobs: int | None = None,
    dask: str | None = None,
    resume: bool = False,
    limit: int | None = None,
    overwrite: bool = False,
    chunksize: int | None = None,
    task: CaseTask = extract_case,
    sources: Sequence[str | Path] = (),
) -> Generator[BatchProgress, None, BatchSummary]:
    """Run a batch, yielding a BatchProgress after each case; returns the BatchSummary.

    ``task`` is what is done with each case once read (:class:`CaseTask`; by default its
    features are extracted). A robustness run gives its own, which measures each case under
    perturbations (``napari_radiomics.analysis.robustness_run``). ``sources``: files read
    besides the cases' images and masks (a batch CSV, a params file), which the output must
    not replace, as it must not replace those.

    Raises BatchError before any work when the output cannot be used (exists without
    resume/overwrite, was written with other settings, another run is writing it, Dask
    missing), and WriteError when a file of the output cannot be written (a full disk): the
    rows written before stay, complete, for --resume.
    """
    start = time.perf_counter()
    settings = settings if settings is not None else ExtractionSettings()
    todo = list(cases) if limit is None else list(cases)[: max(limit, 0)]
    _check_unique(todo)
    refuse_inputs_as_output(
        output, [*sources, *(f for c in todo for f in (c.path, c.mask) if f is not None)]
    )
    params = settings.to_params()
    key = settings_hash(params)
    # Dask is reached before the output is opened: with --overwrite, a wrong address must not
    # cost the previous results. It is closed however the run ends, even when this generator
    # is closed before it asked the cluster for anything.
    connection = connect_dask(dask, jobs or default_jobs()) if dask else None
    results: Generator[CaseResult, None, None] | None = None
    out: BatchOutput | None = None
    try:
        out = BatchOutput(
            output, params, metadata_columns(todo), resume=resume, overwrite=overwrite
        )
        if out.lock.previous is not None:
            warnings.warn(
                f"{out.lock.path}: took over the lock of a run that ended without releasing "
                f"it ({out.lock.previous}); its finished rows are kept",
                stacklevel=2,
            )
        out.forget(out.changed_masks(todo))  # corrected (or reverted) since their rows
        pending = [c for c in todo if not out.is_done(c.case_id)]
        out.prune_errors(c.case_id for c in pending)
        workers = min(jobs or default_jobs(), max(len(pending), 1))
        if connection is not None:
            results = run_dask(pending, key, params, connection[0], task, chunksize)
            backend = f"dask ({dask})"
        elif workers > 1:
            results = run_process_pool(pending, key, params, workers, task, chunksize)
            backend = f"{workers} processes"
        else:
            results = run_serial(pending, key, params, task)
            backend = "serial"
        yield BatchProgress(0, len(pending), None, True, f"{len(pending)} cases on {backend}")
        succeeded = 0
        seen_warnings: set[str] = set()
        for done, result in enumerate(results, start=1):
            for text in set(result.warnings) - seen_warnings:
                seen_warnings.add(text)
                warnings.warn(f"{text} (case {result.case_id}; shown once)", stacklevel=2)
            errors = _store(out, result)
            succeeded += not errors
            message = f"{result.case_id}: " + (errors[0] if errors else "ok")
            yield BatchProgress(done, len(pending), result.case_id, not errors, message)
        out.finish()
    finally:
        if results is not None:
            results.close()  # stops the workers first
        if connection is not None:
            close_dask(*connection)
        if out is not None:  # however the run ended: the output is free for the next one
            out.close()
    return BatchSummary(
        output=out.output,
        errors_path=out.errors_path,
        total=len(todo),
        skipped=len(todo) - len(pending),
        succeeded=succeeded,
        failed=len(out.failed_cases),
        rows=out.rows_written,
        seconds=time.perf_counter() - start,
        backend=backend,
    )


def _store(out: BatchOutput, result: CaseResult) -> list[str]:
    """Write a result's rows, then its errors; returns the error messages."""
    errors = list(result.errors)
    if result.rows:
        problem = out.add(result.case_id, result.metadata, result.feature_columns, result.rows)
        if problem:
            errors.insert(0, problem)
    for message in errors:
        out.add_error(result.case_id, result.path, message)
    return errors


class BatchOptions(TypedDict, total=False):
    """How :func:`iter_batch` runs; :func:`run_batch` passes them on unchanged."""

    jobs: int | None
    dask: str | None
    resume: bool
    limit: int | None
    overwrite: bool
    chunksize: int | None
    task: CaseTask
    sources: Sequence[str | Path]


def run_batch(
    cases: Iterable[Case],
    settings: ExtractionSettings | None,
    output: str | Path,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    **options: Unpack[BatchOptions],
) -> BatchSummary:
    """Extract features for every case into `output` (CSV, or Parquet by suffix).

    `jobs`: worker processes (default: the usable CPUs; 1 = serial in this process).
    `dask`: "local" for a LocalCluster of `jobs` workers, or a scheduler address.
    `resume`: skip cases already in `output` (same settings required). `limit`: only the
    first N cases. `overwrite`: replace an existing output. `chunksize`: cases per task
    (default: adaptive). `task`: what is done with each case (default: extraction; see
    :func:`iter_batch`). `progress(done, total, message)` is called after each case; if it
    raises, the run stops (finished rows stay written) and the exception propagates.
    """
    run = iter_batch(cases, settings, output, **options)
    try:
        while True:
            event = next(run)
            if progress is not None:
                progress(event.done, event.total, event.message)
    except StopIteration as stop:
        return stop.value
    finally:
        run.close()
