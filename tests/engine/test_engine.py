"""The engine's own behaviour: caching, re-extraction, progress, errors, provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from radiomics.featureextractor import RadiomicsFeatureExtractor

from _layers import assert_same_features, case_layers
from napari_radiomics.convert import LayerData, layer_to_sitk
from napari_radiomics.engine import ExtractionError, FeatureEngine, extract_features
from napari_radiomics.settings import ExtractionSettings


def edited(mask: LayerData, grow: int) -> LayerData:
    """The mask with a few voxels painted next to the ROI (what a brush stroke does)."""
    data = mask.data.copy()
    z, y, x = np.nonzero(data)
    data[z[0], y[0] - grow : y[0], x[0] : x[0] + 3] = 1
    return LayerData(data, mask.scale, mask.translate, affine=mask.affine, name="edited")


def fresh(image: LayerData, mask: LayerData, settings: ExtractionSettings, **kwargs) -> dict:
    extractor = RadiomicsFeatureExtractor(settings.to_params())
    return extractor.execute(layer_to_sitk(image), layer_to_sitk(mask), **kwargs)


def test_reextraction_after_mask_edit_equals_fresh_pyradiomics(pyradiomics_data: Path) -> None:
    settings = ExtractionSettings(
        normalize=True, image_types={"Original": {}, "LoG": {"sigma": [1.0]}, "Gradient": {}}
    )
    image, mask = case_layers(pyradiomics_data, "breast1")
    engine = FeatureEngine(settings)
    first = engine.extract(image, mask)
    filtered = dict(engine._filters)
    assert set(filtered) == {"Original", "LoG", "Gradient"}
    for grow in (1, 2):
        changed = edited(mask, grow)
        row = engine.extract(image, changed).iloc[0].to_dict()
        assert_same_features(row, fresh(image, changed, settings))
        # the filtered images were reused, not recomputed
        assert all(engine._filters[k] is v for k, v in filtered.items())
    assert row["original_shape_VoxelVolume"] != first["original_shape_VoxelVolume"].iloc[0]
    # back to the first mask: that label's row comes from the cache, identical
    again = engine.extract(image, mask)
    assert again.iloc[0].to_dict() == first.iloc[0].to_dict()


def test_cache_invalidated_when_settings_or_image_change(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    settings = ExtractionSettings(image_types={"Original": {}, "Square": {}})
    engine = FeatureEngine(settings)
    engine.extract(image, mask)
    settings.bin_width = 10  # changed in place, as a settings widget does
    settings.image_types["Square"] = {"binWidth": 5}
    row = engine.extract(image, mask).iloc[0].to_dict()
    assert_same_features(row, fresh(image, mask, settings))

    brighter = LayerData(image.data + 7, image.scale, image.translate, affine=image.affine)
    row = engine.extract(brighter, mask).iloc[0].to_dict()
    assert_same_features(row, fresh(brighter, mask, settings))
    coarser = LayerData(image.data, (4.0, 1.0, 1.0), image.translate, affine=image.affine)
    coarser_mask = LayerData(mask.data, (4.0, 1.0, 1.0), mask.translate, affine=mask.affine)
    row = engine.extract(coarser, coarser_mask).iloc[0].to_dict()
    assert_same_features(row, fresh(coarser, coarser_mask, settings))


def test_extract_rows_are_the_rows_of_extract(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    settings = ExtractionSettings(image_types={"Original": {}, "Square": {}})
    frame = FeatureEngine(settings).extract(image, mask, metadata={"case": "b1"})
    rows, errors = FeatureEngine(settings).extract_rows(image, mask, metadata={"case": "b1"})
    assert errors == frame.attrs["errors"] == {}
    assert [list(row) for row in rows] == [list(frame.columns)]
    assert rows == frame.to_dict("records")


def test_progress_reports_and_cancels(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    settings = ExtractionSettings(image_types={"Original": {}, "Square": {}})
    calls: list[tuple[int, int, str]] = []
    extract_features(image, mask, settings, progress=lambda *a: calls.append(a))
    totals = {total for _, total, _ in calls}
    assert totals == {3}  # shape + two image types
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert calls[-1] == (3, 3, "done")
    messages = [message for _, _, message in calls]
    assert "original glcm" in messages
    assert "square ngtdm" in messages

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int, message: str) -> None:
        if message.startswith("square"):
            raise Cancelled

    engine = FeatureEngine(settings)
    with pytest.raises(Cancelled):
        engine.extract(image, mask, progress=cancel)
    row = engine.extract(image, mask).iloc[0].to_dict()  # the engine still works
    assert_same_features(row, fresh(image, mask, settings))


def test_label_errors(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    with pytest.warns(UserWarning, match=r"ROI label 4: Label \(4\) not present in mask"):
        frame = extract_features(image, mask, labels=[1, 4])
    assert frame["roi_label"].tolist() == [1]
    assert "Choose from [1]" in frame.attrs["errors"][4]
    with (
        pytest.warns(UserWarning, match="not present"),
        pytest.raises(ExtractionError, match="label 4"),
    ):
        extract_features(image, mask, labels=[4])
    too_small = ExtractionSettings(minimum_roi_size=1000)
    with (
        pytest.warns(UserWarning, match="too small"),
        pytest.raises(ExtractionError, match="too small"),
    ):
        extract_features(image, mask, too_small)
    empty = LayerData(np.zeros_like(mask.data), mask.scale, mask.translate, name="empty")
    with pytest.raises(ExtractionError, match="'empty' has no ROI"):
        extract_features(image, empty)


def test_bad_inputs_are_named(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    shifted = LayerData(mask.data, mask.scale, (5.0, 0.0, 0.0), affine=mask.affine, name="moved")
    with pytest.raises(
        ExtractionError, match="grid mismatch: mask 'moved' is not on the voxel grid"
    ) as info:
        extract_features(image, shifted)
    assert "correctMask" in str(info.value)
    assert "geometryTolerance" in str(info.value)
    negative = LayerData(-mask.data.astype(np.int16), mask.scale, mask.translate, name="neg")
    with pytest.raises(ExtractionError, match="'neg' holds negative values \\(from -1"):
        extract_features(image, negative)
    flat_spacing = ExtractionSettings(resampled_pixel_spacing=[1.0, 1.0])
    with pytest.raises(ExtractionError, match=r"resampledPixelSpacing \[1.0, 1.0\] has 2 values"):
        extract_features(image, mask, flat_spacing)
    rgb = LayerData(np.zeros((4, 4, 3), np.uint8), (1, 1), (0, 0), rgb=True, name="photo")
    with pytest.raises(ExtractionError, match="'photo' is an RGB"):
        extract_features(rgb, mask)


def test_correct_mask_resamples_like_pyradiomics(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    # the mask is half a voxel off: pyradiomics' correctMask resamples it onto the image grid
    offset = tuple(t + s / 2 for t, s in zip(mask.translate, mask.scale, strict=True))
    moved = LayerData(mask.data, mask.scale, offset, affine=mask.affine, name="moved")
    settings = ExtractionSettings(correct_mask=True)
    row = extract_features(image, moved, settings).iloc[0].to_dict()
    assert_same_features(row, fresh(image, moved, settings))


def test_arrays_and_provenance() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, size=(64, 64)).astype(np.int16)
    mask = np.zeros((64, 64), np.uint8)
    mask[20:40, 15:45] = 2
    with pytest.warns(UserWarning, match="is 2D: pyradiomics' 3D shape features"):
        frame = extract_features(image, mask, metadata={"case": "17", "patient_id": "100360"})
    assert list(frame.columns[:3]) == ["case", "patient_id", "roi_label"]
    assert frame["roi_label"].tolist() == [2]
    provenance = frame.attrs["provenance"]
    assert provenance["params"] == ExtractionSettings().to_params()
    assert set(provenance["versions"]) >= {"pyradiomics", "SimpleITK", "numpy", "napari-radiomics"}
    assert frame.attrs["errors"] == {}
    assert frame["original_firstorder_Mean"].dtype == np.float64


def test_diagnostics_of_an_unchanged_label_follow_another_labels_edit(
    pyradiomics_data: Path,
) -> None:
    """The row cache may reuse label 1's features, but pyradiomics' mask hash covers every
    label, so an edit of label 2 must show in label 1's diagnostics."""
    image, mask = case_layers(pyradiomics_data, "breast1")
    two = mask.data.copy()
    z, y, _ = np.nonzero(two)
    two[z[0], y[0] + 3 :, :4] = 2
    first = LayerData(two, mask.scale, mask.translate, affine=mask.affine, name="two labels")
    second_data = two.copy()
    second_data[second_data == 2] = 0
    second_data[z[0], y[0] + 3 :, :2] = 2
    second = LayerData(second_data, mask.scale, mask.translate, affine=mask.affine, name="m")
    engine = FeatureEngine(ExtractionSettings())
    engine.extract(image, first, diagnostics=True)
    frame = engine.extract(image, second, diagnostics=True)
    row = frame.set_index("roi_label").loc[1]
    settings = ExtractionSettings(label=1)
    expected = fresh(image, second, settings)
    assert row["diagnostics_Mask-original_Hash"] == expected["diagnostics_Mask-original_Hash"]
