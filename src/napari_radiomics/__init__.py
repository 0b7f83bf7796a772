"""napari-radiomics: pyradiomics features from napari layers, for one slice or a whole dataset.

The names below are the public Python API; everything they need lives in the Qt-free core, so
importing this package never imports napari or Qt.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-radiomics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"

from napari_radiomics.convert import layer_to_sitk, sitk_to_layer_data
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.settings import ExtractionSettings

__all__ = [
    "ExtractionSettings",
    "FeatureEngine",
    "__version__",
    "extract_features",
    "layer_to_sitk",
    "sitk_to_layer_data",
]
