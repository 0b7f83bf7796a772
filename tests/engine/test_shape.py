"""The numpy shape coefficients against pyradiomics' C code, and the shape class built on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import cShape
from radiomics.shape import RadiomicsShape

from napari_radiomics.engine._shape import FastShape, calculate_coefficients


def padded_roi(mask: np.ndarray) -> np.ndarray:
    where = np.nonzero(mask)
    box = tuple(slice(w.min(), w.max() + 1) for w in where)
    return np.pad(mask[box], 1)


def random_masks() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    masks = [(np.pad(rng.random((6, 9, 8)) > 0.5, 1), np.array([2.5, 0.7, 0.9]))]
    z, y, x = np.mgrid[:24, :40, :36]
    blob = ((z - 12) / 10) ** 2 + ((y - 20) / 17) ** 2 + ((x - 18) / 15) ** 2 <= 1
    blob &= rng.random(blob.shape) > 0.05  # holes and a ragged border
    masks.append((np.pad(blob, 1), np.array([3.0, 0.8, 0.8])))
    masks.append((np.pad(blob[12:13], 1), np.array([5.0, 0.5, 0.5])))  # a single slice
    masks.append((np.pad(np.ones((3, 3, 3), bool), 1), np.array([1.0, 1.0, 1.0])))
    return masks


def assert_same_coefficients(mask: np.ndarray, spacing: np.ndarray) -> None:
    want_surface, want_volume, want_diameters = cShape.calculate_coefficients(mask, spacing)
    surface, volume, diameters = calculate_coefficients(mask, spacing)
    assert diameters == pytest.approx(want_diameters, rel=0, abs=0)  # the same arithmetic
    assert surface == pytest.approx(want_surface, rel=1e-13)
    assert volume == pytest.approx(want_volume, rel=1e-13)


@pytest.mark.parametrize("case", ["brain1", "brain2", "breast1"])
def test_pyradiomics_cases(pyradiomics_data: Path, case: str) -> None:
    label = sitk.ReadImage(str(pyradiomics_data / f"{case}_label.nrrd"))
    mask = padded_roi(sitk.GetArrayFromImage(label) == 1)
    assert_same_coefficients(mask, np.array(label.GetSpacing()[::-1]))


def test_random_and_degenerate_masks() -> None:
    for mask, spacing in random_masks():
        assert_same_coefficients(mask, spacing)


def test_shape_class_equals_pyradiomics(pyradiomics_data: Path) -> None:
    image = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    label = sitk.ReadImage(str(pyradiomics_data / "brain1_label.nrrd"))
    ours = FastShape(image, label, label=1).execute()
    theirs = RadiomicsShape(image, label, label=1).execute()
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        assert float(ours[name]) == pytest.approx(float(value), rel=1e-12), name


def test_the_patched_initialisation_is_pyradiomics_own_and_runs_ours(
    pyradiomics_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastShape reuses pyradiomics' initialisation code with another ``cShape`` global: if
    pyradiomics renames the method, stops calling ``cShape.calculate_coefficients`` from it, or
    the engine stops using FastShape, this fails instead of silently losing the fast path."""
    from napari_radiomics.engine import _shape, extract_features

    original = RadiomicsShape._initSegmentBasedCalculation
    assert FastShape._initSegmentBasedCalculation.__code__ is original.__code__
    assert "cShape" in original.__code__.co_names
    assert FastShape._initSegmentBasedCalculation.__globals__["cShape"] is _shape._Coefficients

    calls: list[int] = []

    def counted(mask: np.ndarray, spacing: np.ndarray) -> tuple:
        calls.append(mask.size)
        return calculate_coefficients(mask, spacing)

    monkeypatch.setattr(_shape._Coefficients, "calculate_coefficients", staticmethod(counted))
    image = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain1_label.nrrd"))
    frame = extract_features(image, mask)
    assert calls, "FastShape did not call the module's coefficients"
    assert calls[0] >= _shape.NUMPY_MIN_VOXELS  # brain1 takes the numpy route
    assert frame["original_shape_Maximum3DDiameter"].notna().all()
