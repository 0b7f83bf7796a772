"""napari sample data: a synthetic brain-tumour slice, generated on the fly (no download).

The layers are the ones the reader makes for a real ``.mat`` case, so everything that works on
the sample works on the dataset.
"""

from __future__ import annotations

from napari_radiomics._napari._reader import LayerData, tumor_layers
from napari_radiomics.io.synthetic import make_synthetic_slice


def make_sample_slice() -> list[LayerData]:
    """Image, tumour mask and border layers of synthetic case 0 (a glioma)."""
    return tumor_layers(make_synthetic_slice(seed=0, label=2))
