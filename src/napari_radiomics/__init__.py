"""napari-radiomics: pyradiomics features from napari layers, for one slice or a whole dataset.

The names below are the public Python API; everything they need lives in the Qt-free core
(``show_features`` excepted: it docks a table in a viewer), so importing this package never
imports napari or Qt. They are resolved on first use: napari imports this package to find the
plugin manifest at start-up, and that must not pay for loading pyradiomics, SimpleITK and
pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari_radiomics._lazy import lazy_names

if TYPE_CHECKING:
    from napari_radiomics._napari import show_features
    from napari_radiomics._version import __version__
    from napari_radiomics.batch import discover_cases, run_batch
    from napari_radiomics.convert import layer_to_sitk, sitk_to_layer_data
    from napari_radiomics.engine import FeatureEngine, extract_features
    from napari_radiomics.io import TumorSlice, read_tumor_mat, write_tumor_mat
    from napari_radiomics.settings import ExtractionSettings

_PUBLIC = {
    "ExtractionSettings": "napari_radiomics.settings",
    "FeatureEngine": "napari_radiomics.engine",
    "TumorSlice": "napari_radiomics.io",
    "__version__": "napari_radiomics._version",
    "discover_cases": "napari_radiomics.batch",
    "extract_features": "napari_radiomics.engine",
    "layer_to_sitk": "napari_radiomics.convert",
    "read_tumor_mat": "napari_radiomics.io",
    "run_batch": "napari_radiomics.batch",
    "show_features": "napari_radiomics._napari",
    "sitk_to_layer_data": "napari_radiomics.convert",
    "write_tumor_mat": "napari_radiomics.io",
}

__all__ = [
    "ExtractionSettings",
    "FeatureEngine",
    "TumorSlice",
    "__version__",
    "discover_cases",
    "extract_features",
    "layer_to_sitk",
    "read_tumor_mat",
    "run_batch",
    "show_features",
    "sitk_to_layer_data",
    "write_tumor_mat",
]


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
