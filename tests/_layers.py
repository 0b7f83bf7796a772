"""A minimal layer-like object: what the Qt-free core needs from a napari layer, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics.convert import sitk_to_layer_data


@dataclass
class LayerLike:
    """``data``/``scale``/``translate``/``affine`` like a napari layer, without napari."""

    data: Any
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    affine: np.ndarray | None = None
    name: str = "layer"
    multiscale: bool = False
    rgb: bool = False
    metadata: dict = field(default_factory=dict)


def layer_from_file(path: Path, name: str | None = None) -> LayerLike:
    """Read a NRRD with SimpleITK and wrap it as napari would show it."""
    data, kwargs = sitk_to_layer_data(sitk.ReadImage(str(path)))
    return LayerLike(data=data, name=name or path.stem, **kwargs)


def case_layers(folder: Path, case: str) -> tuple[LayerLike, LayerLike]:
    """Image and label layers for one of pyradiomics' test cases."""
    return (
        layer_from_file(folder / f"{case}_image.nrrd", case),
        layer_from_file(folder / f"{case}_label.nrrd", f"{case} mask"),
    )
