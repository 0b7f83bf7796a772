"""napari-radiomics: pyradiomics features from napari layers, for one slice or a whole dataset.

The names below are the public Python API; everything they need lives in the Qt-free core, so
importing this package never imports napari or Qt.
"""

from importlib.metadata import PackageNotFoundError, version

from napari_radiomics.io.mat import TumorSlice, read_tumor_mat, write_tumor_mat

try:
    __version__ = version("napari-radiomics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"

__all__ = ["TumorSlice", "__version__", "read_tumor_mat", "write_tumor_mat"]
