"""The names of a set of maps, known before any is computed (``engine.maps.map_names``): equal
to the names of the images pyradiomics' own filters yield and of the maps computed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.convert import Grid
from napari_radiomics.engine import ensure_lbp3d_support
from napari_radiomics.engine._maps_features import _derived_names
from napari_radiomics.engine._pipeline import run_filters
from napari_radiomics.engine.maps import feature_maps, map_names
from napari_radiomics.settings import ExtractionSettings

#: Every image type pyradiomics has, with settings that change its names or what it yields.
IMAGE_TYPES: dict[str, list[dict[str, Any]]] = {
    "Original": [{}],
    "LoG": [{"sigma": [1.0, 2, 0.5, 3.5, -1]}, {"sigma": []}],
    "Wavelet": [{}, {"force2D": True}, {"level": 2}, {"level": 3, "start_level": 1}],
    "Square": [{}],
    "SquareRoot": [{}],
    "Logarithm": [{}],
    "Exponential": [{}],
    "Gradient": [{}],
    "LBP2D": [{}, {"force2D": True}],
    "LBP3D": [{}, {"lbp3DLevels": 3}],
}


def _image(shape: tuple[int, ...], spacing: tuple[float, ...]) -> tuple[sitk.Image, sitk.Image]:
    values = np.random.default_rng(0).normal(100, 20, shape)
    image = sitk.GetImageFromArray(values.astype(np.int16))  # grey levels, as a scan has
    image.SetSpacing(spacing)
    mask = sitk.GetImageFromArray(np.ones(shape, dtype=np.uint8))
    mask.CopyInformation(image)
    return image, mask


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [
        ((6, 9, 8), (0.8, 0.7, 2.5)),  # 3D; LoG's larger sigmas need more voxels along z
        ((3, 9, 8), (1.0, 1.0, 1.0)),  # under 4 slices: no LoG at all
        ((9, 8), (0.5, 0.5)),  # 2D: two-letter wavelets, no LBP3D
        ((20, 5), (0.1, 2.0)),  # 2D, a sigma too large for the x axis
    ],
)
def test_derived_image_names_are_the_names_pyradiomics_filters_yield(
    shape: tuple[int, ...], spacing: tuple[float, ...]
) -> None:
    """For each image type and setting that matters (LoG's sigmas against the image's size
    and spacing, the wavelet's levels and force2D, LBP3D's levels and dimension), the names
    worked out without filtering are the names, in order, that running pyradiomics' own
    ``get<Type>Image`` generator yields."""
    assert ensure_lbp3d_support() is None
    image, mask = _image(shape, spacing)
    grid = Grid.of_image(image)
    for image_type, variants in IMAGE_TYPES.items():
        for kwargs in variants:
            yielded = [derived.name for derived in run_filters(image_type, image, mask, kwargs)]
            assert _derived_names(image_type, kwargs, grid) == yielded, (image_type, kwargs)


def _params(image_types: dict[str, Any], features: dict[str, Any], **setting: Any) -> Any:
    return ExtractionSettings.from_params(
        {"imageType": image_types, "featureClass": features, "setting": setting}
    )


@pytest.mark.parametrize(
    ("shape", "settings", "features"),
    [
        (  # 3D, custom image types with their own settings, a class and two features
            (10, 14, 12),
            _params(
                {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}, "Wavelet": {"level": 1}},
                {"firstorder": ["Mean"], "glcm": [], "glszm": []},
                binWidth=25,
            ),
            ["firstorder_Mean", "glcm_Contrast", "glszm"],
        ),
        (  # 2D with force2D: one-letter wavelets, LBP2D, every non-shape feature enabled
            (14, 12),
            _params(
                {"Original": {}, "Wavelet": {}, "LBP2D": {"binWidth": 1}},
                {"firstorder": [], "ngtdm": []},
                force2D=True,
            ),
            None,
        ),
    ],
)
def test_predicted_names_are_the_names_of_the_maps_computed(
    shape: tuple[int, ...], settings: ExtractionSettings, features: list[str] | None
) -> None:
    """``map_names`` gives, before any work, exactly the names ``feature_maps`` returns, in
    its order: the names a command writes its files under."""
    image, _ = _image(shape, (0.9, 0.8, 2.0)[: len(shape)])
    roi = np.zeros(shape, dtype=np.uint8)
    roi[tuple(slice(n // 2 - 2, n // 2 + 2) for n in shape)] = 1
    mask = sitk.GetImageFromArray(roi)
    mask.CopyInformation(image)
    maps = feature_maps(image, mask, settings, features)
    assert map_names(Grid.of_image(image), settings, features) == list(maps)
