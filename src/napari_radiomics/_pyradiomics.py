"""pyradiomics' own answers: its names, and what it makes of a params dict.

The one module that asks pyradiomics what it would do, so no other module re-derives it.

The engine runs pyradiomics' own building blocks step by step, so it needs the settings, the
enabled image types and the enabled features exactly as ``RadiomicsFeatureExtractor`` holds
them for the same params: defaults filled in, an empty ``featureClass`` meaning every class, an
empty ``imageType`` meaning ``Original``, ``voxelSetting`` merged into the settings. Re-deriving
those rules by hand is how copies drift from pyradiomics, so this module builds the extractor
and reads its attributes; the settings model, the preflight checks and the engine all go
through it. Feature-class and image-type names come from ``getFeatureClasses`` and
``getImageTypes``.

Building an extractor validates the params with pykwalify (~10 ms), so the result is cached
per params. pyradiomics' constructor also sets SimpleITK's process-wide geometry tolerances
when ``geometryTolerance`` is given; :func:`geometry_tolerance` confines that change to the
extraction that asked for it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import SimpleITK as sitk

__all__ = [
    "PREPROCESS_KEY",
    "PyradiomicsConfig",
    "coordinate_tolerance",
    "default_features",
    "default_image_types",
    "feature_class_names",
    "geometry_tolerance",
    "image_type_names",
    "pyradiomics_part",
]

#: The one key of a params dict that is napari-radiomics', not pyradiomics': the preprocessing
#: applied to the image before pyradiomics (``napari_radiomics.preprocess``). It travels with
#: the params (batch workers, provenance, resume checks) and is dropped here, before any
#: extractor sees the dict; a params *file* holds it as comments (see ``settings``).
PREPROCESS_KEY = "preprocess"

#: Held while SimpleITK's global tolerances differ from what the process had: two threads
#: extracting with different tolerances must not see each other's.
_TOLERANCE_LOCK = threading.RLock()


@dataclass(frozen=True)
class PyradiomicsConfig:
    """``RadiomicsFeatureExtractor``'s ``settings``, ``enabledImagetypes`` and
    ``enabledFeatures`` for one params dict (a class mapped to ``[]`` or ``None``: all of it)."""

    settings: dict[str, Any]
    image_types: dict[str, dict[str, Any]]
    features: dict[str, list[str] | None]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PyradiomicsConfig:
        """The extractor's view of ``params`` (a fresh copy: callers may modify it); the
        preprocessing, which is not pyradiomics', plays no part."""
        return copy.deepcopy(_resolve(json.dumps(pyradiomics_part(params), sort_keys=True)))


def pyradiomics_part(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the project's own preprocessing key: what pyradiomics is given,
    validates and writes (it refuses a key its schema does not know)."""
    return {key: value for key, value in params.items() if key != PREPROCESS_KEY}


@functools.lru_cache(maxsize=64)
def _resolve(params_json: str) -> PyradiomicsConfig:
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    with _restored_tolerances():
        return _config_of(RadiomicsFeatureExtractor(json.loads(params_json)))


def _config_of(extractor: Any) -> PyradiomicsConfig:
    """What a built ``RadiomicsFeatureExtractor`` holds, copied out of it."""
    return PyradiomicsConfig(
        settings=dict(extractor.settings),
        image_types={name: dict(kw or {}) for name, kw in extractor.enabledImagetypes.items()},
        features={name: list(f) if f else f for name, f in extractor.enabledFeatures.items()},
    )


@contextlib.contextmanager
def _restored_tolerances() -> Iterator[None]:
    """Put SimpleITK's global coordinate and direction tolerances back as they were."""
    with _TOLERANCE_LOCK:
        coordinate = sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance()
        direction = sitk.ProcessObject.GetGlobalDefaultDirectionTolerance()
        try:
            yield
        finally:
            sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(coordinate)
            sitk.ProcessObject.SetGlobalDefaultDirectionTolerance(direction)


@contextlib.contextmanager
def geometry_tolerance(tolerance: float | None) -> Iterator[float]:
    """SimpleITK's tolerances as pyradiomics sets them for ``geometryTolerance``, only inside
    the ``with`` block; yields the coordinate tolerance in force there.

    pyradiomics leaves the global tolerances changed for the rest of the process, so a later
    extraction with default settings would accept a mask that a fresh process refuses.
    """
    if tolerance is None:
        yield coordinate_tolerance(None)
        return
    with _restored_tolerances():
        sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(tolerance)
        sitk.ProcessObject.SetGlobalDefaultDirectionTolerance(tolerance)
        yield coordinate_tolerance(tolerance)


def coordinate_tolerance(tolerance: float | None) -> float:
    """The tolerance an extraction with ``geometryTolerance: tolerance`` compares grids with,
    without changing SimpleITK's global state (a check before the run needs only the number)."""
    if tolerance is None:
        return sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance()
    return float(tolerance)


def feature_class_names() -> list[str]:
    """pyradiomics' feature classes (``firstorder``, ``shape``, ``shape2D``, ``glcm``, ...)."""
    from radiomics import getFeatureClasses

    return list(getFeatureClasses())


def image_type_names() -> list[str]:
    """pyradiomics' image types (``Original``, ``LoG``, ``Wavelet``, ...), ``Original`` first."""
    from radiomics import getImageTypes

    names = list(getImageTypes())
    return sorted(names, key=lambda name: name != "Original")


@functools.cache
def _defaults() -> PyradiomicsConfig:
    """``RadiomicsFeatureExtractor()``'s view, built once (no params is not the same as empty
    params: pyradiomics then leaves shape2D off)."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    with _restored_tolerances():
        return _config_of(RadiomicsFeatureExtractor())


def default_features() -> dict[str, list[str] | None]:
    """The feature classes ``RadiomicsFeatureExtractor()`` enables when given no params (all
    but shape2D in pyradiomics 3.1), as a fresh dict."""
    return copy.deepcopy(_defaults().features)


def default_image_types() -> dict[str, dict[str, Any]]:
    """The image types ``RadiomicsFeatureExtractor()`` enables when given no params (the
    original image), as a fresh dict."""
    return copy.deepcopy(_defaults().image_types)
