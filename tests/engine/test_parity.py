"""Parity: napari-layer input through the engine gives pyradiomics' own numbers (1e-12)."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from _layers import assert_same_features, case_layers
from napari_radiomics.convert import LayerData, layer_to_sitk, sitk_to_layer_data
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.settings import ExtractionSettings

CASES = ("brain1", "brain2", "breast1")


def baseline_settings(folder: Path, case: str) -> ExtractionSettings:
    """The settings pyradiomics' baseline values were computed with (`general_info` rows)."""
    with (folder / "baseline" / "baseline_glcm.csv").open() as handle:
        rows = {row[0]: row for row in csv.reader(handle)}
    column = rows["featureName"].index(case)
    recorded = ast.literal_eval(rows["diagnostics_Configuration_Settings"][column])
    recorded.pop("additionalInfo")
    settings = ExtractionSettings.from_params({"setting": recorded})
    settings.feature_classes = ExtractionSettings().feature_classes  # as execute() defaults
    return settings


def reference(folder: Path, case: str, settings: ExtractionSettings, **kwargs) -> dict:
    extractor = RadiomicsFeatureExtractor(settings.to_params())
    return extractor.execute(
        str(folder / f"{case}_image.nrrd"), str(folder / f"{case}_label.nrrd"), **kwargs
    )


@pytest.mark.parametrize("case", CASES)
def test_baseline_settings_through_layers(pyradiomics_data: Path, case: str) -> None:
    settings = baseline_settings(pyradiomics_data, case)
    assert settings.bin_width == 25
    assert settings.voxel_array_shift == 2000
    image, mask = case_layers(pyradiomics_data, case)
    frame = extract_features(image, mask, settings, metadata={"case": case})
    assert list(frame.columns[:2]) == ["case", "roi_label"]
    assert frame["roi_label"].tolist() == [1]
    expected = reference(pyradiomics_data, case, settings)
    assert_same_features(frame.iloc[0].to_dict(), expected, skip=("case",))


def test_real_napari_layers_without_viewer(pyradiomics_data: Path) -> None:
    from napari.layers import Image, Labels

    image = sitk.ReadImage(str(pyradiomics_data / "brain2_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain2_label.nrrd"))
    data, kwargs = sitk_to_layer_data(image)
    image_layer = Image(data, name="brain2", **kwargs)
    data, kwargs = sitk_to_layer_data(mask)
    labels_layer = Labels(data, name="brain2 mask", **kwargs)
    frame = extract_features(image_layer, labels_layer)
    assert_same_features(
        frame.iloc[0].to_dict(), reference(pyradiomics_data, "brain2", ExtractionSettings())
    )
    assert frame.attrs["provenance"]["image"] == "image 'brain2'"


def test_2d_slice_brain_tumor_preset(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "brain1")
    slice_image = LayerData(image.data[14], scale=(1.0, 1.0), translate=(0.0, 0.0), name="slice")
    slice_mask = LayerData(mask.data[14], scale=(1.0, 1.0), translate=(0.0, 0.0), name="mask")
    settings = ExtractionSettings.preset("brain-tumor-mri")
    frame = extract_features(slice_image, slice_mask, settings)
    assert "original_shape2D_Perimeter" in frame.columns
    expected = RadiomicsFeatureExtractor(settings.to_params()).execute(
        layer_to_sitk(slice_image), layer_to_sitk(slice_mask)
    )
    assert_same_features(frame.iloc[0].to_dict(), expected)


def test_force2d_on_a_single_slice_roi(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "brain1")
    data = mask.data.copy()
    data[:14] = 0
    data[15:] = 0
    one_slice = LayerData(data, mask.scale, mask.translate, affine=mask.affine)
    settings = ExtractionSettings(
        force_2d=True,
        image_types={"Original": {}, "LBP2D": {}},
        feature_classes={"firstorder": [], "glcm": [], "glszm": [], "shape2D": []},
    )
    frame = extract_features(image, one_slice, settings)
    expected = RadiomicsFeatureExtractor(settings.to_params()).execute(
        layer_to_sitk(image), layer_to_sitk(one_slice)
    )
    assert "original_shape2D_Perimeter" in expected
    assert_same_features(frame.iloc[0].to_dict(), expected)


@pytest.mark.parametrize(
    "settings",
    [
        ExtractionSettings(
            image_types={"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {}}
        ),
        ExtractionSettings(resampled_pixel_spacing=[1.0, 1.0, 1.0], interpolator="sitkLinear"),
        ExtractionSettings(
            pre_crop=True, normalize=True, image_types={"Square": {}, "LoG": {"sigma": [1.0]}}
        ),
        ExtractionSettings(resegment_range=[-1.0, 1.5], resegment_mode="sigma"),
    ],
    ids=["log-wavelet", "resampling", "precrop-normalize", "resegment"],
)
def test_filters_and_preprocessing_on_breast1(
    pyradiomics_data: Path, settings: ExtractionSettings
) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    frame = FeatureEngine(settings).extract(image, mask)
    assert_same_features(frame.iloc[0].to_dict(), reference(pyradiomics_data, "breast1", settings))


def test_resampling_with_direction_brain2(pyradiomics_data: Path) -> None:
    settings = ExtractionSettings(resampled_pixel_spacing=[2.0, 2.0, 2.0])
    image, mask = case_layers(pyradiomics_data, "brain2")
    frame = extract_features(image, mask, settings)
    assert_same_features(frame.iloc[0].to_dict(), reference(pyradiomics_data, "brain2", settings))


def test_several_labels_in_one_mask(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "brain1")
    data = mask.data.astype(np.uint16)
    data[10:14, 100:130, 100:140] = 3
    data[12, 60:70, 60:70] = 7
    data[5, 5, 5] = 9  # one voxel: pyradiomics refuses it
    labels = LayerData(data, mask.scale, mask.translate, affine=mask.affine, name="tumours")
    with pytest.warns(UserWarning, match="ROI label 9: mask only contains 1 segmented voxel"):
        frame = extract_features(image, labels, metadata={"case": "brain1"})
    assert frame["roi_label"].tolist() == [1, 3, 7]
    assert set(frame.attrs["errors"]) == {9}
    extractor = RadiomicsFeatureExtractor()
    for _, row in frame.iterrows():
        expected = extractor.execute(
            layer_to_sitk(image), layer_to_sitk(labels), label=int(row["roi_label"])
        )
        assert_same_features(row.to_dict(), expected, skip=("case",))


def test_diagnostics_match_pyradiomics(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    frame = extract_features(image, mask, diagnostics=True)
    expected = reference(pyradiomics_data, "breast1", ExtractionSettings())
    row = frame.iloc[0].to_dict()
    for name, value in expected.items():
        if name.startswith("diagnostics_"):
            assert str(row[name]) == str(value), name
    assert_same_features(row, expected)
