"""One image and one mask -> pyradiomics features, fast and equal to pyradiomics.

``extract_features`` is the one-shot call; ``FeatureEngine`` keeps the image-only work between
calls (re-extraction after a mask edit). ``preflight`` says, without extracting, what
pyradiomics would refuse or skip for an input; the widgets and ``extract --check`` share it.

Private modules: ``_engine`` (the cache and the order of operations), ``_inputs`` (the image
and mask converted and checked before any work), ``_logging`` (pyradiomics' log kept quiet),
``_pipeline``
(pyradiomics' per-label steps), ``_masks`` (labels and their boxes), ``_shape`` (fast shape
coefficients), ``_compat`` (pyradiomics' LBP3D imports on current SciPy) and the ``_maps_*``
helpers of ``maps``. What a real ``RadiomicsFeatureExtractor`` makes of a params dict is
``napari_radiomics._pyradiomics``'s.
"""

from napari_radiomics.engine._compat import ensure_lbp3d_support
from napari_radiomics.engine._engine import FeatureEngine, extract_features
from napari_radiomics.engine._logging import quiet_pyradiomics_logging
from napari_radiomics.errors import ExtractionError

__all__ = [
    "ExtractionError",
    "FeatureEngine",
    "ensure_lbp3d_support",
    "extract_features",
    "quiet_pyradiomics_logging",
]
