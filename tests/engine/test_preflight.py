"""What pyradiomics would refuse or skip, said before a run, and that the run agrees.

Napari-free: the inputs are LayerData, arrays and SimpleITK images.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.convert import LayerData
from napari_radiomics.engine import extract_features
from napari_radiomics.engine.preflight import Preflight, check_inputs
from napari_radiomics.errors import ExtractionError, SettingsError
from napari_radiomics.settings import ExtractionSettings

DEFAULT = ExtractionSettings.from_params(
    {"setting": {"binWidth": 25}, "imageType": {"Original": {}}, "featureClass": {}}
)
#: Quick to extract: the agreement tests run the real engine.
FIRSTORDER = ExtractionSettings(feature_classes={"firstorder": []})


def case_layers(
    shape: tuple[int, ...] = (64, 64),
    spacing: tuple[float, ...] = (1.0, 1.0),
    mask_translate: tuple[float, ...] | None = None,
) -> tuple[LayerData, LayerData]:
    rng = np.random.default_rng(0)
    zeros = (0.0,) * len(shape)
    image = LayerData(
        rng.integers(0, 900, shape).astype(np.int16), spacing, zeros, name="17 glioma"
    )
    mask = np.zeros(shape, np.uint8)
    mask[..., 10:30, 10:30] = 1
    translate = zeros if mask_translate is None else mask_translate
    return image, LayerData(mask, spacing, translate, name="17 glioma mask")


def settings(params: dict[str, Any]) -> ExtractionSettings:
    return ExtractionSettings.from_params(params)


def messages(image: Any, mask: Any, params: ExtractionSettings = DEFAULT, **kw: Any) -> list[str]:
    return [f"{p.severity}: {p.message}" for p in check_inputs(image, mask, params, **kw).problems]


def test_empty_mask_absent_label_and_single_pixel_are_errors() -> None:
    image, labels = case_layers()
    labels.data[:] = 0
    assert messages(image, labels) == [
        "error: mask '17 glioma mask' is empty: paint the ROI first (nothing is segmented)"
    ]
    labels.data[10:30, 10:30] = 1
    assert not check_inputs(image, labels, DEFAULT, labels=[4]).ok
    assert (
        "label 4 not present in mask '17 glioma mask'; present: 1"
        in messages(image, labels, labels=[4])[0]
    )
    # one absent label among others is only a note: the others still come out
    assert check_inputs(image, labels, DEFAULT, labels=[1, 4]).ok
    labels.data[50, 50] = 2
    assert "single pixel" in messages(image, labels, labels=[2])[0]
    mixed = check_inputs(image, labels, DEFAULT)  # every label: 2 is refused, 1 comes out
    assert mixed.ok
    assert mixed.refused_labels == [2]


def test_the_labels_measured_are_the_engines() -> None:
    """No labels given: the settings' label, else every label, as the engine chooses."""
    image, labels = case_layers()
    checked = check_inputs(image, labels, ExtractionSettings(label=3))
    assert not checked.ok
    assert "label 3 not present" in checked.errors[0].message
    assert checked.refused_labels == [3]
    labels.data[40:44, 50] = 2  # a line: pyradiomics wants an ROI of 2 dimensions by default
    line = check_inputs(image, labels, DEFAULT, labels=[2])
    assert "too few dimensions" in line.errors[0].message
    assert check_inputs(image, labels, ExtractionSettings(minimum_roi_dimensions=1), labels=[2]).ok


def test_grid_mismatch_is_an_error() -> None:
    image, _ = case_layers()
    _, small = case_layers((32, 32))
    assert "grid mismatch" in messages(image, small)[0]
    _, moved = case_layers(spacing=(1.0, 2.0))
    assert "correctMask" in messages(image, moved)[0]
    corrected = settings({**DEFAULT.to_params(), "setting": {"correctMask": True}})
    assert check_inputs(image, moved, corrected).ok
    volume, _ = case_layers((4, 64, 64), (1.0, 1.0, 1.0))
    assert "3D but the mask is 2D" in messages(volume, small, corrected)[0]  # never corrected


def test_geometry_tolerance_is_the_engines() -> None:
    """A 0.001 mm offset is within geometryTolerance 0.01 (the engine computes the case)."""
    image, shifted = case_layers(mask_translate=(0.001, 0.0))
    assert "geometryTolerance" in messages(image, shifted)[0]  # SimpleITK's default: 1e-6
    assert check_inputs(image, shifted, ExtractionSettings(geometry_tolerance=0.01)).ok
    _, far = case_layers(mask_translate=(0.1, 0.0))
    assert "origin" in messages(image, far, ExtractionSettings(geometry_tolerance=0.01))[0]


def _case(
    offset: float = 0.0,
    labels: list[int] | None = None,
    edit: Callable[[np.ndarray], None] | None = None,
    **options: Any,
) -> Callable[[], tuple[Any, Any, ExtractionSettings, list[int] | None]]:
    def make() -> tuple[Any, Any, ExtractionSettings, list[int] | None]:
        image, mask = case_layers(mask_translate=(offset, 0.0))
        if edit is not None:
            edit(mask.data)
        chosen = FIRSTORDER.copy()
        for name, value in options.items():
            setattr(chosen, name, value)
        return image, mask, chosen, labels

    return make


def _clear(mask: np.ndarray) -> None:
    mask[:] = 0


def _single_pixel(mask: np.ndarray) -> None:
    mask[50, 50] = 2


AGREEMENT = {
    "good": _case(),
    "0.001 mm, tolerance 0.01": _case(0.001, geometry_tolerance=0.01),
    "0.001 mm, default tolerance": _case(0.001),
    "0.1 mm, tolerance 0.01": _case(0.1, geometry_tolerance=0.01),
    "0.1 mm, correctMask": _case(0.1, correct_mask=True),
    "empty mask": _case(edit=_clear),
    "absent label": _case(labels=[4]),
    "one absent label of two": _case(labels=[1, 4]),
    "single pixel": _case(labels=[2], edit=_single_pixel),
    "single pixel among labels": _case(edit=_single_pixel),
    "label from the settings": _case(label=3),
    "resampled spacing of 3 values on 2D": _case(resampled_pixel_spacing=[1.0, 1.0, 1.0]),
}


@pytest.mark.parametrize("name", list(AGREEMENT))
def test_an_error_exactly_when_the_engine_raises(name: str) -> None:
    image, mask, chosen, labels = AGREEMENT[name]()
    checked = check_inputs(image, mask, chosen, labels=labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a refused label among others is a warning
        try:
            extract_features(image, mask, chosen, labels=labels)
        except ExtractionError as err:
            raised: str | None = str(err)
        else:
            raised = None
    assert checked.ok == (raised is None), (raised, checked.text())


def test_what_pyradiomics_skips_is_explained() -> None:
    image, labels = case_layers()
    with pytest.raises(SettingsError, match="sigma"):  # pyradiomics' schema refuses sigma 0
        settings({"imageType": {"LoG": {"sigma": [1.0, 0.0]}}})
    log = settings(
        {
            "setting": {},
            "imageType": {"LoG": {"sigma": [1.0, 100.0]}, "LBP3D": {}},
            "featureClass": {"shape": []},
        }
    )
    notes = messages(image, labels, log)
    assert any("LoG sigma 100.0 mm is skipped by pyradiomics: too large" in n for n in notes)
    assert not any("sigma 1.0" in n for n in notes)  # LoG on a 2D image works
    assert "note: LBP3D is skipped by pyradiomics on a 2D image (use LBP2D)" in notes
    assert any("shape (3D) features are not computed on a 2D image" in n for n in notes)
    assert check_inputs(image, labels, log).ok  # notes do not block
    stack_image, stack_labels = case_layers((3, 64, 64), (1.0, 1.0, 1.0))
    notes = messages(stack_image, stack_labels, settings({"imageType": {"LoG": {"sigma": [1]}}}))
    assert any("at least 4 pixels along every axis" in n for n in notes)


def test_feature_classes_are_read_from_pyradiomics() -> None:
    """An empty featureClass enables every class (shape2D too), pyradiomics' defaults not."""
    image, labels = case_layers()
    assert messages(image, labels, DEFAULT) == []  # shape and shape2D: nothing skipped on 2D
    assert any("shape (3D)" in n for n in messages(image, labels, ExtractionSettings()))
    volume, volume_mask = case_layers((8, 64, 64), (1.0, 1.0, 1.0))
    assert "note: shape2D is only computed on a 3D image with force2D on" in messages(
        volume, volume_mask, DEFAULT
    )
    assert not messages(volume, volume_mask, ExtractionSettings())


def test_log_sigmas_use_the_resampled_spacing_in_pyradiomics_order() -> None:
    """resampledPixelSpacing is (x, y, z); 0 keeps that axis' spacing."""
    image, labels = case_layers((64, 8))  # 64 rows (y), 8 columns (x)
    log = {"imageType": {"LoG": {"sigma": [8.0]}}}
    assert any("too large" in n for n in messages(image, labels, settings(log)))
    coarse = settings({**log, "setting": {"resampledPixelSpacing": [2.0, 0]}})  # x: 2 mm
    assert not any("too large" in n for n in messages(image, labels, coarse))


def test_inputs_of_every_kind() -> None:
    """Arrays and SimpleITK images, as the engine takes them; unconvertible ones are errors."""
    image, mask = case_layers()
    assert check_inputs(image.data, mask.data).ok
    assert check_inputs(sitk.GetImageFromArray(image.data), sitk.GetImageFromArray(mask.data)).ok
    rgb = LayerData(np.zeros((8, 8, 3), np.uint8), (1.0, 1.0), (0.0, 0.0), name="photo", rgb=True)
    problems = check_inputs(rgb, mask).problems
    assert [p.severity for p in problems] == ["error"]
    assert "RGB" in problems[0].message
    preflight = Preflight(DEFAULT)  # the settings are read once, for many cases
    assert all(preflight.check(image, mask).ok for _ in range(3))


def _never_read(block: np.ndarray) -> np.ndarray:
    raise AssertionError("the preflight read the pixels of a large lazy array")


def test_a_large_lazy_mask_is_checked_by_shape_only() -> None:
    import dask.array as da

    big = (5, 512, 512)  # a folder's stack: reading it on every click would freeze the viewer

    def unreadable(dtype: type) -> da.Array:
        return da.zeros(big, dtype=dtype, chunks=big).map_blocks(_never_read, dtype=dtype)

    ones = (1.0, 1.0, 1.0)
    image = LayerData(unreadable(np.int16), ones, (0.0, 0.0, 0.0), name="folder")
    mask = LayerData(unreadable(np.uint8), ones, (0.0, 0.0, 0.0), name="folder mask")
    notes = messages(image, mask)
    assert any("read lazily" in n for n in notes)
    assert check_inputs(image, mask).ok
    moved = LayerData(mask.data, ones, (0.0, 0.0, 0.5), name="folder mask")
    assert "grid mismatch" in messages(image, moved)[0]  # the grid is still checked
    small = LayerData(da.zeros((64, 64), dtype=np.uint8), (1.0, 1.0), (0.0, 0.0), name="slice")
    assert "is empty" in messages(case_layers()[0], small)[0]  # a small lazy mask is read


def test_lbp3d_note_matches_what_pyradiomics_does() -> None:
    """No LBP3D note where the engine runs LBP3D, and then pyradiomics' own filter (its
    imports made to resolve by the engine) yields its images too."""
    from radiomics import imageoperations

    rng = np.random.default_rng(0)
    volume = rng.integers(0, 100, size=(8, 8, 8)).astype(np.int16)
    image = LayerData(volume, (1.0,) * 3, (0.0,) * 3, name="volume")
    labels = LayerData(np.ones_like(volume, dtype=np.uint8), (1.0,) * 3, (0.0,) * 3)
    notes = messages(image, labels, settings({"setting": {}, "imageType": {"LBP3D": {}}}))
    assert not [n for n in notes if "LBP3D" in n]
    produced = list(
        imageoperations.getLBP3DImage(
            sitk.GetImageFromArray(volume), sitk.GetImageFromArray(np.ones_like(volume))
        )
        or []
    )
    assert [name for _, name, _ in produced] == ["lbp-3D-m1", "lbp-3D-m2", "lbp-3D-k"]
