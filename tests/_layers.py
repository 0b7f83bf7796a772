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


def assert_same_features(
    ours: dict, reference: dict, rel: float = 1e-12, skip: tuple[str, ...] = ()
) -> None:
    """Every feature pyradiomics returned is in ``ours`` with the same value (1e-12 relative),
    and ``ours`` has no feature pyradiomics did not compute. ``skip``: metadata columns."""
    expected = {k: v for k, v in reference.items() if not k.startswith("diagnostics_")}
    got = {
        k: v
        for k, v in ours.items()
        if k != "roi_label" and k not in skip and not k.startswith("diagnostics_")
    }
    assert expected, "pyradiomics computed nothing"
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:10]
    for name, value in expected.items():
        want, have = float(value), float(got[name])
        if np.isnan(want):
            assert np.isnan(have), name
        else:
            assert abs(have - want) <= rel * abs(want), (name, want, have)
