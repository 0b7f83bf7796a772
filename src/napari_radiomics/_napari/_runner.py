"""Runs extractions off the UI thread: one at a time, cancellable, stale results never shown.

Each run gets a generation number; starting a run, cancelling, or editing the mask bumps the
current generation, and a worker whose generation is no longer current is ignored when it
returns, so a superseded result never reaches the table as if it were current. Cancelling sets an
event that the engine's progress callback checks; the callback then raises, which is how the
engine is told to stop (it lets exceptions from the callback propagate).

One :class:`~napari_radiomics.engine.FeatureEngine` is kept per (image layer, slice, settings),
so re-extracting after a mask edit reuses the image-side work (normalised and filtered images).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtCore import QObject, Signal

from napari_radiomics._napari._inputs import ExtractionJob
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.settings import ExtractionSettings

#: ``progress(done, total, message)``, as the engine and the feature maps call it.
Progress = Callable[[int, int, str], None]
#: Work for :meth:`ExtractionRunner.run`: ``compute(progress, cancel) -> (result, seconds)``.
Compute = Callable[[Progress, threading.Event], tuple[Any, float]]

_MAX_ENGINES = 4


class ExtractionCancelled(Exception):
    """Raised from the progress callback to stop a run that was cancelled or superseded."""


@dataclass
class _Cached:
    engine: FeatureEngine
    lock: threading.Lock


class RunSignals(QObject):
    """Qt signals of the runner; emitted in the UI thread."""

    #: generation, done, total, message (from the engine's progress callback)
    progressed = Signal(int, int, int, str)
    #: the result of the current run and the seconds it took
    finished = Signal(object, float)
    #: a run ended without a result: "cancelled" or "superseded"
    cancelled = Signal(str)
    #: a run failed: the message shown to the user
    failed = Signal(str)


class ExtractionRunner:
    """Starts workers, tracks the current one, and routes its outcome to :class:`RunSignals`."""

    def __init__(self) -> None:
        self.signals = RunSignals()
        self.generation = 0
        self.worker: FunctionWorker | None = None
        self._cancel: threading.Event | None = None
        self._engines: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        self._pbar: Any = None
        self._reason = "superseded"
        self.signals.progressed.connect(self._show_progress)

    @property
    def running(self) -> bool:
        """True while the current run's worker has not finished."""
        return self.worker is not None and self.worker.is_running

    def engine_for(self, key: Any, settings: ExtractionSettings) -> _Cached:
        """The engine kept for this image (``key``) and these settings, created if needed."""
        full_key = (key, json.dumps(settings.to_params(), sort_keys=True, default=str))
        cached = self._engines.pop(full_key, None)
        if cached is None:
            cached = _Cached(FeatureEngine(settings.copy()), threading.Lock())
        self._engines[full_key] = cached
        while len(self._engines) > _MAX_ENGINES:
            self._engines.popitem(last=False)
        return cached

    def start(self, job: ExtractionJob, key: Any, settings: ExtractionSettings, title: str) -> int:
        """Extract ``job`` in a thread with the engine cached for ``key``; see :meth:`run`."""
        cached = self.engine_for(key, settings)

        def work(progress: Progress, cancel: threading.Event) -> tuple[pd.DataFrame, float]:
            with cached.lock:  # a superseded run on the same engine stops at its next step
                if cancel.is_set():
                    raise ExtractionCancelled("cancelled before start")
                start = time.perf_counter()
                frame = cached.engine.extract(
                    job.image,
                    job.mask,
                    labels=list(job.labels) if job.labels is not None else None,
                    progress=progress,
                    metadata=job.metadata,
                )
                return frame, time.perf_counter() - start

        return self.run(work, title)

    def run(self, compute: Compute, title: str) -> int:
        """Run ``compute(progress, cancel)`` in a thread (progress in napari's activity dock)
        after superseding any other run; it returns ``(result, seconds)`` for ``finished``.
        ``progress`` raises :class:`ExtractionCancelled` once the run is cancelled or
        superseded, so work that reports progress stops at its next step."""
        self.supersede()
        cancel = threading.Event()
        generation = self.generation
        signals = self.signals

        def progress(done: int, total: int, message: str) -> None:
            if cancel.is_set():
                raise ExtractionCancelled(message)
            signals.progressed.emit(generation, done, total, message)

        # Errors are routed to our handlers (notifications), not re-raised in the event loop.
        worker = create_worker(
            compute, progress, cancel, _progress={"desc": title}, _ignore_errors=True
        )
        worker.returned.connect(lambda result: self._returned(generation, result))
        worker.errored.connect(lambda exc: self._errored(generation, exc))
        self.worker, self._cancel = worker, cancel
        self._pbar = getattr(worker, "pbar", None)
        worker.start()
        return generation

    def supersede(self, reason: str = "superseded") -> None:
        """Make any run in flight stale (its result will be dropped) and ask it to stop."""
        self._reason = reason
        self.generation += 1
        if self._cancel is not None:
            self._cancel.set()
        if self.worker is not None:
            self.worker.quit()

    def cancel(self) -> None:
        """The Cancel button: the current run stops and nothing is added."""
        self.supersede("cancelled")

    def _show_progress(self, generation: int, done: int, total: int, message: str) -> None:
        """Mirror the engine's progress into the bar in napari's activity dock."""
        pbar = self._pbar
        if pbar is None or generation != self.generation or total <= 0:
            return
        if pbar.total != total:
            pbar.total = total
        pbar.set_description(message)
        if done > pbar.n:
            pbar.update(done - pbar.n)

    def _returned(self, generation: int, result: tuple[pd.DataFrame, float]) -> None:
        if generation != self.generation:
            self.signals.cancelled.emit(self._reason)
            return
        frame, seconds = result
        self.signals.finished.emit(frame, seconds)

    def _errored(self, generation: int, exc: BaseException) -> None:
        if isinstance(exc, ExtractionCancelled):
            self.signals.cancelled.emit(self._reason)
        elif generation == self.generation:
            self.signals.failed.emit(str(exc))
