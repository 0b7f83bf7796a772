"""Compute pyradiomics features for an image and a labels mask: one row per ROI label.

``extract_features`` is the one-shot call; ``FeatureEngine`` keeps what depends on the image
alone between calls, so re-extracting after a mask edit only redoes the work the mask touches.
The numbers are pyradiomics' own: its feature classes compute them, on the same crops, with the
same settings, after the same preprocessing (see ``_pipeline``); only the shape class gets its
mesh coefficients from a faster implementation of the same definitions (see ``_shape``).

What the engine caches (for the last image and the current settings only):

* the preprocessed image (``settings.preprocess``: N4, z-score, Nyul), for the last image and
  steps whatever the pyradiomics settings: N4 costs seconds and depends on the image alone;
* the normalised image (``normalize``), recognised by a SHA-1 of the pixels plus the grid;
* every filtered image (LoG, Wavelet, Square, ..., not LBP3D, which reads the mask) of the whole
  normalised image. Not cached when the filters run on a mask-dependent grid: with resampling
  (``resampledPixelSpacing``; the grid is the ROI's bounding box) or ``preCrop``;
* each ROI label's features, keyed by that label's voxels (bounding box and a hash of the
  cropped binary mask): a label the edit did not touch is not recomputed at all.

A different image (pixels or grid) or changed settings empty the cache. Filtered images cost one
float image each in memory; past ``cache_bytes`` they are recomputed instead of kept.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import json
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics._pyradiomics import PREPROCESS_KEY, PyradiomicsConfig, geometry_tolerance
from napari_radiomics.columns import ROI_LABEL
from napari_radiomics.engine import _pipeline
from napari_radiomics.engine._inputs import Inputs
from napari_radiomics.engine._logging import quiet_pyradiomics_logging
from napari_radiomics.engine._masks import (
    array_digest,
    image_key,
    image_problem,
    label_array,
    label_boxes,
    wanted_labels,
)
from napari_radiomics.engine._versions import library_versions
from napari_radiomics.errors import ExtractionError, PreprocessError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.preprocess import PreprocessedImage
from napari_radiomics.settings import ExtractionSettings

if TYPE_CHECKING:  # the rows are made by _pipeline; maps need no pandas at all
    import pandas as pd

__all__ = ["FeatureEngine", "extract_features"]

Progress = Callable[[int, int, str], None]

quiet_pyradiomics_logging()


class FeatureEngine:
    """Extract features with fixed settings, reusing image-only work between calls.

    The settings object is read on every call; if it was changed in place, or the image differs
    from the last call's, the cache is emptied first.
    """

    def __init__(
        self,
        settings: ExtractionSettings | None = None,
        *,
        cache_bytes: int = 2 << 30,
        preprocessed: PreprocessedImage | None = None,
        reuse: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else ExtractionSettings()
        self.cache_bytes = cache_bytes
        #: False for an engine made for one call, whose caches no later call asks: the image
        #: is then not hashed (~15 ms for a 25 MB CT) and each call starts afresh.
        self.reuse = reuse
        self._state_key: tuple | None = None
        self._base: sitk.Image | None = None
        #: The image after ``settings.preprocess`` (before ``normalize``), checked like the
        #: image itself: the message is then ours, not pyradiomics'.
        self._stepped: sitk.Image | None = None
        self._filters: dict[str, list[_pipeline.Derived]] = {}
        self._filter_bytes = 0
        self._rows: collections.OrderedDict[tuple, dict] = collections.OrderedDict()
        self._lock = threading.Lock()  # one extraction at a time (GUIs call from worker threads)
        self._params_memo: tuple[tuple[str, frozenset[str]], dict[str, Any]] | None = None
        #: The last image after ``settings.preprocess``; kept when only the mask or the
        #: pyradiomics settings change (``preprocessed.runs`` counts real runs). Given, it is
        #: shared with other engines (one per settings in the Extract dock).
        self.preprocessed = preprocessed if preprocessed is not None else PreprocessedImage()

    def _params(self) -> dict[str, Any]:
        """``settings.to_params()`` once per state of the settings (validating costs ms per call;
        the repr plus the explicitly given keys, which it leaves out, tell a change in place)."""
        key = (repr(self.settings), self.settings.given_keys)
        if self._params_memo is None or self._params_memo[0] != key:
            self._params_memo = (key, self.settings.to_params())
        return copy.deepcopy(self._params_memo[1])

    # -- cache -----------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every cached image, filtered image and label result."""
        self.preprocessed.clear()
        self._forget_settings_state()

    def _forget_settings_state(self) -> None:
        """Forget what depends on the pyradiomics settings: all but the preprocessed images."""
        self._state_key = None
        self._base = None
        self._stepped = None
        self._filters = {}
        self._filter_bytes = 0
        self._rows.clear()

    def _derived(
        self,
        image_type: str,
        image: sitk.Image,
        mask: sitk.Image,
        kwargs: dict[str, Any],
        whole_image: bool,
    ) -> list[_pipeline.Derived]:
        cacheable = whole_image and image_type not in _pipeline.MASK_DEPENDENT_TYPES
        if cacheable and image_type in self._filters:
            return self._filters[image_type]
        derived = _pipeline.run_filters(image_type, image, mask, kwargs)
        size = sum(d.array.nbytes for d in derived if d.image is not image)
        if cacheable and self._filter_bytes + size <= self.cache_bytes:
            self._filters[image_type] = derived
            self._filter_bytes += size
        return derived

    def filtered_images(
        self, image: sitk.Image, mask: sitk.Image
    ) -> list[tuple[str, sitk.Image, dict[str, Any]]]:
        """``(name, image, settings)`` of every image pyradiomics computes the non-shape classes
        on (the normalised image, then each enabled filter's outputs), with the settings that
        image type runs with.

        Feature maps need the same filtered whole images as an extraction; taking them from
        this cache means maps after an extraction (or at a second kernel radius) filter
        nothing again. ``mask``: pyradiomics' label mask on ``image``'s grid (LBP3D reads it).
        """
        with self._lock:
            params = self._params()
            config = PyradiomicsConfig.from_params(params)
            self._prepare(image, params, config.settings)
            assert self._base is not None
            out = []
            for image_type, overrides in config.image_types.items():
                kwargs = config.settings | overrides
                for derived in self._derived(image_type, self._base, mask, kwargs, True):
                    out.append((derived.name, derived.image, kwargs))
            return out

    # -- extraction -------------------------------------------------------------------------------
    def extract(
        self,
        image: Any,
        mask: Any,
        labels: Sequence[int] | None = None,
        progress: Progress | None = None,
        metadata: Mapping[str, Any] | CaseMetadata | None = None,
        diagnostics: bool = False,
    ) -> pd.DataFrame:
        """Features of every ROI label in ``mask`` (or of ``labels``): one row per label.

        ``image``/``mask``: napari layers (or layer-like), SimpleITK images, or arrays (spacing 1).
        ``progress(done, total, message)`` is called per image type and feature class; an
        exception it raises stops the extraction and propagates (that is how to cancel).
        Columns: the ``metadata`` keys (a reader's ``CaseMetadata`` gives its fields),
        ``roi_label``, pyradiomics' diagnostics (only with ``diagnostics=True``) and
        pyradiomics' feature names. ``df.attrs["errors"]`` maps each label that could not be
        computed to pyradiomics' reason; ``df.attrs["provenance"]``
        holds the params and library versions.
        """
        rows, errors, provenance = self._extraction(
            image, mask, labels, progress, metadata, diagnostics
        )
        frame = _pipeline.rows_frame(rows)
        frame.attrs["errors"] = errors
        frame.attrs["provenance"] = provenance
        return frame

    def extract_rows(
        self,
        image: Any,
        mask: Any,
        labels: Sequence[int] | None = None,
        metadata: Mapping[str, Any] | CaseMetadata | None = None,
    ) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """``extract`` without the DataFrame: each label's row as a dict (the frame's columns
        and values) and the labels that failed with pyradiomics' reason (``attrs["errors"]``).

        For callers that make one table of many extractions: a robustness run extracts each
        case 1 + N times, and a frame per extraction cost about a tenth of it.
        """
        rows, errors, _ = self._extraction(image, mask, labels, None, metadata, False)
        return rows, errors

    def _extraction(
        self,
        image: Any,
        mask: Any,
        labels: Sequence[int] | None,
        progress: Progress | None,
        metadata: Mapping[str, Any] | CaseMetadata | None,
        diagnostics: bool,
    ) -> tuple[list[dict[str, Any]], dict[int, str], dict[str, Any]]:
        if isinstance(metadata, CaseMetadata):
            metadata = metadata.as_dict()
        with self._lock, geometry_tolerance(self.settings.geometry_tolerance):
            return self._extract(image, mask, labels, progress, metadata, diagnostics)

    def _extract(
        self,
        image: Any,
        mask: Any,
        labels: Sequence[int] | None,
        progress: Progress | None,
        metadata: Mapping[str, Any] | None,
        diagnostics: bool,
    ) -> tuple[list[dict[str, Any]], dict[int, str], dict[str, Any]]:
        params = self._params()
        inputs = Inputs(image, mask)
        image_name, mask_name, image_sitk, mask_sitk = (
            inputs.image_name, inputs.mask_name, inputs.image, inputs.mask
        )  # fmt: skip
        config = PyradiomicsConfig.from_params(params)
        settings, image_types, features = config.settings, config.image_types, config.features
        inputs.check(config)
        try:
            self._prepare(image_sitk, params, settings)
        except PreprocessError as err:
            raise PreprocessError(f"{image_name}: {err}") from None
        assert self._base is not None
        mask_array = label_array(mask_sitk, mask_name)
        boxes = label_boxes(mask_array)
        wanted = wanted_labels(labels, self.settings.label, boxes, mask_name)
        # The image pyradiomics will see: after the preprocessing, when there is one.
        assert self._stepped is not None
        problem = image_problem(self._stepped, mask_array, boxes, wanted, settings, image_types)
        if problem is not None:
            stepped = " after preprocessing" if params.get(PREPROCESS_KEY) else ""
            raise ExtractionError(f"{image_name}{stepped} {problem}")

        direct = inputs.direct(settings, diagnostics)

        per_label = len(image_types) + any(c.startswith("shape") for c in features)
        steps = _pipeline.Steps(progress, max(1, per_label * len(wanted)))

        rows, errors = [], {}
        for label in wanted:
            try:
                values = self._label_features(
                    label,
                    boxes,
                    mask_array,
                    mask_sitk,
                    settings,
                    image_types,
                    features,
                    image_sitk,
                    direct,
                    diagnostics,
                    steps,
                )
            except ValueError as err:  # pyradiomics' verdict on this label's ROI
                errors[label] = str(err)
                warnings.warn(f"{mask_name}, ROI label {label}: {err}", stacklevel=4)
                values = None
            steps.done = (wanted.index(label) + 1) * per_label  # also past a failed label
            if values is not None:
                row = dict(metadata or {})
                row[ROI_LABEL] = label
                row.update(values)
                rows.append(row)
        steps.done = steps.total
        steps.report("done")
        if not rows:
            raise ExtractionError(
                f"no ROI label of {mask_name} could be computed: "
                + "; ".join(f"label {k}: {v}" for k, v in errors.items())
            )
        provenance = {
            "params": params,
            "versions": library_versions(),
            "image": image_name,
            "mask": mask_name,
            "labels": [int(row[ROI_LABEL]) for row in rows],
        }
        return rows, errors, provenance

    def _prepare(self, image: sitk.Image, params: dict, settings: dict) -> None:
        """Make the cache belong to this image and these settings (normalising once)."""
        from radiomics import imageoperations

        # Not reused, the key only has to differ from any earlier call's: a new object does.
        identity = image_key(image) if self.reuse else (object(),)
        key = (identity, json.dumps(params, sort_keys=True))
        if key == self._state_key:
            return
        self._forget_settings_state()  # the preprocessed images survive changed settings
        base = self.preprocessed.get(image, params.get(PREPROCESS_KEY) or {}, identity)
        self._stepped = base
        if settings.get("normalize", False):
            base = imageoperations.normalizeImage(base, **settings)
        self._base = base
        self._state_key = key

    def _label_features(
        self,
        label: int,
        boxes: dict[int, tuple[slice, ...]],
        mask_array: np.ndarray,
        mask_sitk: sitk.Image,
        settings: dict[str, Any],
        image_types: dict[str, dict[str, Any]],
        features: dict[str, list[str] | None],
        image_sitk: sitk.Image,
        direct: bool,
        diagnostics: bool,
        steps: _pipeline.Steps,
    ) -> dict[str, Any]:
        """One label's features: from the cache when this label's voxels are unchanged."""
        if label not in boxes:
            present = sorted(boxes)
            raise ValueError(f"Label ({label}) not present in mask. Choose from {present}")
        box = boxes[label]
        binary = mask_array[box] == label
        key = (
            label,
            tuple((s.start, s.stop) for s in box),
            hashlib.sha1(np.packbits(binary).data).hexdigest(),
            mask_sitk.GetSize(),
            mask_sitk.GetSpacing(),
            mask_sitk.GetOrigin(),
            mask_sitk.GetDirection(),
            # pyradiomics' diagnostics hash the whole mask: another label's edit changes them.
            array_digest(mask_array) if diagnostics else None,
        )
        if key in self._rows:
            self._rows.move_to_end(key)
            return self._rows[key]
        job = _pipeline.Job(
            settings=settings | {"label": label},
            image_types=image_types,
            features=features,
            image=image_sitk,
            mask=mask_sitk,
            base=self._base,
            derived=self._derived,
            steps=steps,
            diagnostics=diagnostics,
        )
        if direct:
            values = _pipeline.direct_route(job, mask_array, box)
        else:
            values = _pipeline.replica_route(job)
        values = {
            name: (
                float(value)
                if isinstance(value, np.ndarray | np.generic) and np.ndim(value) == 0
                else value
            )
            for name, value in values.items()
        }
        self._rows[key] = values
        while len(self._rows) > 256:
            self._rows.popitem(last=False)
        return values


def extract_features(
    image: Any,
    mask: Any,
    settings: ExtractionSettings | None = None,
    labels: Sequence[int] | None = None,
    progress: Progress | None = None,
    metadata: Mapping[str, Any] | CaseMetadata | None = None,
    diagnostics: bool = False,
) -> pd.DataFrame:
    """pyradiomics features of ``image`` for every ROI label of ``mask``; see
    ``FeatureEngine.extract``. ``settings=None`` means pyradiomics' defaults."""
    return FeatureEngine(settings).extract(
        image, mask, labels=labels, progress=progress, metadata=metadata, diagnostics=diagnostics
    )
