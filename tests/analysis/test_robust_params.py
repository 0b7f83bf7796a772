"""The robust-features params file: what pyradiomics extracts with it, and what it cannot."""

from __future__ import annotations

import pandas as pd
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.analysis.robust_params import image_type_key, robust_params
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings

PARAMS = {
    "setting": {"binWidth": 32, "label": 1},
    "imageType": {"Original": {}, "Square": {}},
    "featureClass": {"firstorder": [], "glcm": [], "glrlm": [], "shape2D": []},
}


def _pyradiomics_names(params: dict[str, object]) -> set[str]:
    case = make_synthetic_slice(seed=4, shape=(96, 96))
    result = RadiomicsFeatureExtractor(params).execute(
        sitk.GetImageFromArray(case.image), sitk.GetImageFromArray(case.mask.astype("uint8"))
    )
    return {k for k in result if not k.startswith("diagnostics_")}


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("original", "Original"),
        ("wavelet-LLH", "Wavelet"),
        ("log-sigma-1-0-mm-3D", "LoG"),
        ("square", "Square"),
        ("squareroot", "SquareRoot"),
        ("lbp-2D", "LBP2D"),
    ],
)
def test_prefixes_map_to_image_types(prefix: str, key: str) -> None:
    assert image_type_key(prefix) == key


def test_pyradiomics_extracts_exactly_the_features_reported_in_the_params() -> None:
    settings = ExtractionSettings.from_params(PARAMS)
    names = sorted(_pyradiomics_names(settings.to_params()))
    robust = {
        "original_firstorder_Mean", "square_firstorder_Mean",
        "original_glcm_Contrast", "square_glcm_Contrast",
        "original_glrlm_RunEntropy",  # robust on the original image only
        "original_shape2D_Perimeter",
    }  # fmt: skip
    table = pd.DataFrame({"feature": names, "robust": [n in robust for n in names]})
    params, extracted = robust_params(table, settings)
    # Both image types with Mean and Contrast keep 4 robust features; Original alone 3.
    assert sorted(params["imageType"]) == ["Original", "Square"]
    assert params["featureClass"] == {
        "firstorder": ["Mean"], "glcm": ["Contrast"], "shape2D": ["Perimeter"]
    }  # fmt: skip
    assert params["setting"] == settings.to_params()["setting"]
    assert set(extracted) == robust - {"original_glrlm_RunEntropy"}
    assert _pyradiomics_names(params) == set(extracted)


def test_no_robust_feature_gives_no_params_rather_than_every_feature() -> None:
    table = pd.DataFrame({"feature": ["original_glcm_Contrast"], "robust": [False]})
    with pytest.raises(ValueError, match="no feature is robust"):
        robust_params(table, ExtractionSettings.from_params(PARAMS))
