"""Features after preprocessing are pyradiomics' features of the preprocessed image (1e-12),
and N4 is not run again when only the mask (or a pyradiomics setting) changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from _layers import assert_same_features, case_layers
from napari_radiomics.convert import LayerData, layer_to_sitk
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.engine.maps import feature_maps, voxel_settings
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import NyulStandardizer, PreprocessError, apply_steps
from napari_radiomics.settings import ExtractionSettings


def _slice(seed: int = 2, shape: tuple[int, int] = (128, 128)) -> tuple[LayerData, LayerData]:
    tumour = make_synthetic_slice(seed=seed, shape=shape)
    image = LayerData(tumour.image, scale=(0.8, 0.8), translate=(0.0, 0.0), name="slice")
    mask = LayerData(tumour.mask.astype(np.uint8), scale=(0.8, 0.8), translate=(0.0, 0.0),
                     name="tumour")  # fmt: skip
    return image, mask


def _pyradiomics_on_preprocessed(
    settings: ExtractionSettings, image: LayerData, mask: LayerData
) -> dict:
    """pyradiomics' execute on the image the steps make, with the same pyradiomics settings."""
    params = settings.to_params()
    steps = params.pop("preprocess")
    return RadiomicsFeatureExtractor(params).execute(
        apply_steps(layer_to_sitk(image), steps), layer_to_sitk(mask)
    )


def _nyul(shape: tuple[int, int]) -> dict:
    images = [sitk.GetImageFromArray(make_synthetic_slice(seed=s, shape=shape).image)
              for s in (10, 11, 12)]  # fmt: skip
    heads = [sitk.OtsuThreshold(image, 0, 1, 200) for image in images]
    return NyulStandardizer().fit(images, heads).to_dict()


@pytest.mark.parametrize(
    ("steps", "bin_width"),
    [({"n4": {}}, 25), ({"n4": {}, "zscore": {}}, 0.25), ({"n4": {}, "nyul": None}, 2)],
    ids=["n4", "n4+zscore", "n4+nyul"],
)
def test_2d_slice_parity_with_pyradiomics_on_the_preprocessed_image(
    steps: dict, bin_width: float
) -> None:
    image, mask = _slice()
    if "nyul" in steps:
        steps = {"n4": {}, "nyul": _nyul((128, 128))}
    settings = ExtractionSettings.preset("brain-tumor-mri")
    settings.normalize, settings.bin_width, settings.preprocess = False, bin_width, steps
    frame = extract_features(image, mask, settings)
    expected = _pyradiomics_on_preprocessed(settings, image, mask)
    assert_same_features(frame.iloc[0].to_dict(), expected)
    assert frame.attrs["provenance"]["params"]["preprocess"] == steps
    plain = settings.copy()
    plain.preprocess = {}
    before = extract_features(image, mask, plain).iloc[0]
    assert before["original_firstorder_Mean"] != frame.iloc[0]["original_firstorder_Mean"]


def test_3d_volume_with_filters_and_normalize(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "brain1")
    settings = ExtractionSettings(
        normalize=True,
        image_types={"Original": {}, "LoG": {"sigma": [2.0]}},
        feature_classes={"firstorder": [], "glcm": [], "shape": []},
        preprocess={"n4": {"shrink_factor": 4, "iterations": [20, 10]}},
    )
    frame = extract_features(image, mask, settings)
    assert_same_features(
        frame.iloc[0].to_dict(), _pyradiomics_on_preprocessed(settings, image, mask)
    )


def test_mask_edit_and_new_bin_width_reuse_the_corrected_image() -> None:
    image, mask = _slice()
    settings = ExtractionSettings(
        feature_classes={"firstorder": []}, preprocess={"n4": {}, "zscore": {}}, bin_width=0.1
    )
    engine = FeatureEngine(settings)
    first = engine.extract(image, mask)
    edited = mask.data.copy()
    edited[np.nonzero(edited)[0].min()] = 0  # the mask's top row erased
    edited_mask = LayerData(edited, scale=mask.scale, translate=mask.translate)
    second = engine.extract(image, edited_mask)
    fresh = FeatureEngine(settings.copy()).extract(image, edited_mask)  # N4 run anew
    assert second.iloc[0].to_dict() == fresh.iloc[0].to_dict()
    settings.bin_width = 0.2  # a pyradiomics setting: the features change, the image does not
    third = engine.extract(image, mask)
    assert engine.preprocessed.runs == 1
    assert (
        first.iloc[0]["original_firstorder_Entropy"]
        != second.iloc[0]["original_firstorder_Entropy"]
        != third.iloc[0]["original_firstorder_Entropy"]
    )
    other, _ = _slice(seed=3)
    engine.extract(other, mask)  # another image: corrected anew
    assert engine.preprocessed.runs == 2
    settings.preprocess = {"n4": {"shrink_factor": 2}}  # other steps: corrected anew
    engine.extract(other, mask)
    assert engine.preprocessed.runs == 3


def test_n4_on_an_all_zero_image_names_the_image() -> None:
    _, mask = _slice()
    black = LayerData(
        np.zeros(mask.data.shape, np.int16),
        scale=mask.scale,
        translate=mask.translate,
        name="blank",
    )
    settings = ExtractionSettings(preprocess={"n4": {}})
    with pytest.raises(PreprocessError, match=r"image 'blank': the image is constant"):
        extract_features(black, mask, settings)


def test_feature_maps_are_the_maps_of_the_preprocessed_image() -> None:
    tumour = make_synthetic_slice(seed=4, shape=(96, 96))
    image = sitk.GetImageFromArray(tumour.image)
    mask = sitk.GetImageFromArray(tumour.mask.astype(np.uint8))
    steps = {"n4": {}, "zscore": {}}
    plain = voxel_settings(
        ExtractionSettings(feature_classes={"firstorder": ["Mean", "Entropy"]}, bin_width=0.25), 1
    )
    with_steps = plain.copy()
    with_steps.preprocess = steps
    ours = feature_maps(image, mask, with_steps)
    expected = feature_maps(apply_steps(image, steps), mask, plain)
    assert (
        set(ours) == set(expected) == {"original_firstorder_Mean", "original_firstorder_Entropy"}
    )
    for name, feature_map in ours.items():
        assert np.array_equal(feature_map.values, expected[name].values, equal_nan=True), name
    unprocessed = feature_maps(image, mask, plain)["original_firstorder_Mean"].values
    assert not np.allclose(unprocessed, ours["original_firstorder_Mean"].values, equal_nan=True)


def test_nyul_on_a_head_with_many_pixels_at_its_lowest_value_extracts() -> None:
    # 15% of the head at its lowest value ties Nyul's 1st and 10th percentiles; the air's
    # pixels once became -inf, and the LoG filter carried them into the ROI (pyradiomics then
    # failed with "arange: cannot compute length").
    image, mask = _slice()
    array = image.data.astype(np.float64)
    head = sitk.GetArrayFromImage(sitk.OtsuThreshold(sitk.GetImageFromArray(array), 0, 1, 200))
    inside = head == 1
    array[inside & (array < np.percentile(array[inside], 15))] = array[inside].min()
    array[~inside] = 0  # dark air, so Otsu finds the same head again
    tied = LayerData(array, scale=image.scale, translate=image.translate, name="tied")
    settings = ExtractionSettings(
        image_types={"Original": {}, "LoG": {"sigma": [1.0]}},
        feature_classes={"firstorder": []},
        preprocess={"nyul": _nyul((128, 128))},
        bin_width=2,
    )
    frame = extract_features(tied, mask, settings)
    assert_same_features(
        frame.iloc[0].to_dict(), _pyradiomics_on_preprocessed(settings, tied, mask)
    )
    assert np.isfinite(frame.iloc[0]["log-sigma-1-0-mm-3D_firstorder_Minimum"])


def test_nyul_on_a_head_of_one_value_names_the_image() -> None:
    _, mask = _slice()
    flat = np.zeros(mask.data.shape, np.float64)
    flat[8:-8, 8:-8] = 500.0  # a head (Otsu finds it) without a histogram to standardise
    image = LayerData(flat, scale=mask.scale, translate=mask.translate, name="flat")
    settings = ExtractionSettings(preprocess={"nyul": _nyul((128, 128))})
    with pytest.raises(PreprocessError, match=r"image 'flat': .*percentiles are equal \(500\)"):
        extract_features(image, mask, settings)
