"""What runs inside a batch worker process (a local process pool or a Dask worker).

Kept apart from the scheduling code so a worker imports only what extraction needs. Each worker
builds one feature engine per settings and reuses it for every case it is given: building a
pyradiomics extractor (parameter validation, filter setup) costs as much as a small slice.

What a worker does with a case once it is read is a :class:`CaseTask`: plain extraction
(:func:`extract_case`) unless the caller gives another (a robustness run measures each case
under perturbations). The batch knows only the task's signature, so nothing here depends on
what a task computes.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import SimpleITK as sitk

from napari_radiomics._parent_death import die_with_parent
from napari_radiomics._worker_pool import leave_ctrl_c_to_caller
from napari_radiomics.batch._journal_file import as_written
from napari_radiomics.batch.cases import Case, load_case
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.settings import ExtractionSettings

# Per thread, because a Dask worker may run several tasks at once in threads.
_LOCAL = threading.local()


class CaseTask(Protocol):
    """What a batch does with one case once it is read: its rows, one per ROI label (or more,
    e.g. per perturbation), identifying columns first (the ``metadata`` keys), features after.

    It travels to every worker process, so it must pickle: a module-level function, or an
    instance of a module-level class holding its settings (a frozen dataclass). ``labels``
    None means every label of the mask. A failure raises; the batch records it as the case's
    error and goes on. Per-label failures go in the frame's ``attrs["errors"]``, as
    ``FeatureEngine.extract`` puts them.
    """

    def __call__(
        self,
        engine: FeatureEngine,
        image: Any,
        mask: Any,
        labels: list[int] | None,
        metadata: dict[str, Any],
    ) -> pd.DataFrame: ...


def extract_case(
    engine: FeatureEngine,
    image: Any,
    mask: Any,
    labels: list[int] | None,
    metadata: dict[str, Any],
) -> pd.DataFrame:
    """The default task: the features of each ROI label, as ``FeatureEngine.extract``."""
    return engine.extract(image, mask, labels=labels, metadata=metadata)


@dataclass
class CaseResult:
    """The outcome of one case, small enough to send back cheaply: plain lists, no DataFrame."""

    case_id: str
    path: str
    metadata: dict[str, Any] = field(default_factory=dict)
    feature_columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def setup_worker_process() -> None:
    """In worker processes only (never the caller's): pyradiomics logs a WARNING for every ROI
    it rejects, which over thousands of cases would drown the progress bar (those go to the
    errors file); and parallelism comes from one process per core, so SimpleITK filters run
    single-threaded instead of oversubscribing the cores."""
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def init_worker(key: str, params: dict[str, Any], parent: int | None) -> None:
    """Process-pool initializer: the worker ends with its caller (`parent`: the caller's pid
    if it forked the worker, else None, see `die_with_parent`); Ctrl-C is the caller's to
    handle (it stops the pool and keeps the rows written so far); and the engine
    is built before the first case arrives."""
    leave_ctrl_c_to_caller()
    die_with_parent(parent)
    setup_worker_process()
    engine_for(key, params)


def engine_for(key: str, params: dict[str, Any]) -> FeatureEngine:
    """This process's engine for the settings fingerprinted by `key` (built once)."""
    cached: tuple[str, FeatureEngine] | None = getattr(_LOCAL, "engine", None)
    if cached is None or cached[0] != key:
        cached = (key, FeatureEngine(ExtractionSettings.from_params(params)))
        _LOCAL.engine = cached
    return cached[1]


def run_case(engine: FeatureEngine, case: Case, task: CaseTask = extract_case) -> CaseResult:
    """Read one case and run ``task`` on it with this process's engine. Never raises for a bad
    case: one corrupt file must not stop a 3000-case run, so any failure becomes an error
    message for the errors file."""
    start = time.perf_counter()
    result = CaseResult(case.case_id, case.path)
    label_errors: dict[int, str] = {}
    caught: list[warnings.WarningMessage] = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _own_warnings(caught)
        try:
            image, mask, raw = load_case(case)
            # Ids as the output files will hold them: a file name that is not UTF-8 gives a
            # case id with lone surrogates, which no table (Arrow strings) can hold.
            metadata = {k: as_written(v) if isinstance(v, str) else v for k, v in raw.items()}
            labels = None if case.roi_label is None else [case.roi_label]
            frame = task(engine, image, mask, labels, metadata)
        except Exception as exc:  # reported per case; see docstring
            result.errors.append(str(exc) or type(exc).__name__)
        else:
            label_errors = frame.attrs.get("errors", {})
            # Without attrs: pandas deep-copies them on every column access (~30 ms per case).
            frame.attrs = {}
            keep = [i for i, c in enumerate(frame.columns) if c not in metadata]
            result.metadata = metadata
            result.feature_columns = [str(frame.columns[i]) for i in keep]
            # Python scalars, exact, in one conversion (a column at a time costs ~15 ms a case).
            result.rows = frame.to_numpy(dtype=object)[:, keep].tolist()
            result.errors.extend(f"roi_label {k}: {v}" for k, v in label_errors.items())
    # A label's failure is already an error; other warnings (e.g. "2D: no 3D shape features")
    # go back to the caller, which shows each distinct one once.
    # Deprecation warnings speak to developers about libraries (pykwalify's module loading,
    # SciPy namespaces), not to the user about a case.
    meant_for_users = (w for w in caught if not issubclass(w.category, DeprecationWarning))
    result.warnings = [
        text
        for text in dict.fromkeys(str(w.message) for w in meant_for_users)
        if not any(text.endswith(f"ROI label {k}: {v}") for k, v in label_errors.items())
    ]
    result.seconds = time.perf_counter() - start
    return result


def _own_warnings(caught: list[warnings.WarningMessage]) -> Callable[..., None]:
    """A ``showwarning`` that keeps this thread's warnings in ``caught`` and passes on those
    of other threads. Warnings are process-wide: a case run in the napari process (one job)
    recorded, as if its own, what any thread warned meanwhile, so a correction the autosave
    thread could not save was listed among the case's warnings and never shown."""
    mine, shown = threading.get_ident(), warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if threading.get_ident() == mine:
            caught.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
        else:
            shown(message, category, filename, lineno, file, line)

    return show


def run_chunk(
    key: str, params: dict[str, Any], cases: list[Case], task: CaseTask = extract_case
) -> list[CaseResult]:
    """What the process pool and Dask run: ``task`` on several cases per round trip."""
    setup_worker_process()  # runs in a worker process (pool or Dask), never in the caller's
    engine = engine_for(key, params)
    return [run_case(engine, case, task) for case in cases]
