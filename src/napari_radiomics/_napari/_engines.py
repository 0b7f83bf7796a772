"""Feature engines kept between runs of the "Extract features" dock.

One :class:`~napari_radiomics.engine.FeatureEngine` is kept per (image layer, slice, settings),
so re-extracting after a mask edit reuses the image-side work (normalised and filtered
images). A few are kept, the least recently used dropped first. Their preprocessed images
(N4 costs seconds) are one cache shared by all, keyed on the image and the steps alone, so a
new bin width (a new engine) does not run N4 again.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from napari_radiomics._napari._inputs import ExtractionJob
from napari_radiomics._napari._runner import Progress
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.preprocess import PreprocessedImage
from napari_radiomics.settings import ExtractionSettings

_MAX_ENGINES = 4


@dataclass
class _Cached:
    engine: FeatureEngine
    lock: threading.Lock  # one run at a time on an engine (it is not thread-safe)


class EngineCache:
    """The engines of recent (image, slice, settings), and extraction work that uses them."""

    def __init__(self) -> None:
        self._engines: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        #: The preprocessed images of every engine (``runs`` counts the real runs).
        self.preprocessed = PreprocessedImage(size=_MAX_ENGINES)

    def _engine_for(self, key: Any, settings: ExtractionSettings) -> _Cached:
        full_key = (key, json.dumps(settings.to_params(), sort_keys=True, default=str))
        cached = self._engines.pop(full_key, None)
        if cached is None:
            engine = FeatureEngine(settings.copy(), preprocessed=self.preprocessed)
            cached = _Cached(engine, threading.Lock())
        self._engines[full_key] = cached
        while len(self._engines) > _MAX_ENGINES:
            self._engines.popitem(last=False)
        return cached

    def extraction(
        self, job: ExtractionJob, key: Any, settings: ExtractionSettings
    ) -> Callable[[Progress], pd.DataFrame]:
        """Work for the runner: extract ``job`` with the engine kept for ``key`` (the image
        and slice) and these settings."""
        cached = self._engine_for(key, settings)

        def work(progress: Progress) -> pd.DataFrame:
            with cached.lock:  # a superseded run on the same engine stops at its next step
                progress(0, 0, "starting")  # cancelled while waiting: stop here
                return cached.engine.extract(
                    job.image,
                    job.mask,
                    labels=list(job.labels) if job.labels is not None else None,
                    progress=progress,
                    metadata=job.metadata,
                )

        return work
