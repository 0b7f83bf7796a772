"""The faster forms of pyradiomics' voxel-mode steps (``engine._maps_fast``) give its numbers.

The maps as a whole are compared with pyradiomics' voxel mode in ``test_maps.py`` (1e-9);
here a replaced step is compared with pyradiomics' own method on the same real instance, bit
for bit where the replacement only reorganises whole counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import firstorder, getFeatureClasses, glrlm

from napari_radiomics.engine._maps_fast import speed_up


def _first_order_at_radius_2(pyradiomics_data: Path) -> tuple[Any, Any]:
    """pyradiomics' first-order class on brain1 at radius 2, and the same sped up, both
    with every voxel's kernel gathered."""
    image = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain1_label.nrrd"))
    theirs = firstorder.RadiomicsFirstOrder(image, mask, voxelBased=True, kernelRadius=2)
    ours = firstorder.RadiomicsFirstOrder(image, mask, voxelBased=True, kernelRadius=2)
    speed_up(ours, "firstorder")
    coordinates = theirs.labelledVoxelCoordinates
    theirs._initCalculation(coordinates)
    ours._initCalculation(coordinates)
    return theirs, ours


def test_first_order_histogram_is_pyradiomics_own_bit_for_bit(pyradiomics_data: Path) -> None:
    """``p_i`` (each kernel's histogram over the grey levels) and the kernels' values, for
    every voxel of brain1's ROI at radius 2: the ROI's border (kernels partly outside the
    mask, NaN in pyradiomics' padded arrays) and levels absent from a kernel included."""
    theirs, ours = _first_order_at_radius_2(pyradiomics_data)
    assert len(theirs.coefficients["grayLevels"]) > 10
    assert np.isnan(theirs.targetVoxelArray).any()  # kernels that leave the ROI
    np.testing.assert_array_equal(ours.targetVoxelArray, theirs.targetVoxelArray)
    np.testing.assert_array_equal(ours.coefficients["p_i"], theirs.coefficients["p_i"])
    assert (theirs.coefficients["p_i"] == 0).any()  # levels a kernel lacks


def test_first_order_moments_equal_pyradiomics_and_survive_its_in_place_changes(
    pyradiomics_data: Path,
) -> None:
    """Skewness and Kurtosis, whose moments are kept per batch and whose powers are products
    (pyradiomics calls ``pow``), equal pyradiomics' own on every voxel of brain1's ROI at
    radius 2 (kernels leaving the ROI hold NaN) to 1e-12 relative, 1e-15 near 0 (the third
    moment's cancellation), each asked twice: pyradiomics' methods change the moments they are
    given in place, which must not reach the kept ones."""
    theirs, ours = _first_order_at_radius_2(pyradiomics_data)
    assert np.isnan(theirs.targetVoxelArray).any()
    for name in ("Skewness", "Kurtosis", "Skewness", "Kurtosis"):
        expected = getattr(theirs, f"get{name}FeatureValue")()
        np.testing.assert_allclose(
            getattr(ours, f"get{name}FeatureValue")(), expected, 1e-12, 1e-15, err_msg=name
        )
    second = ours._moment(ours.targetVoxelArray, 2)
    second[:] = -1  # as pyradiomics' ``m2[m2 == 0] = 1`` does to a flat kernel's
    np.testing.assert_array_equal(
        ours._moment(ours.targetVoxelArray, 2), theirs._moment(theirs.targetVoxelArray, 2)
    )
    flat = np.zeros((2, 9))  # a flat kernel: pyradiomics' 0 for both, not a division by 0
    theirs.targetVoxelArray = ours.targetVoxelArray = flat
    assert (ours.getSkewnessFeatureValue() == theirs.getSkewnessFeatureValue()).all()
    assert (ours.getKurtosisFeatureValue() == theirs.getKurtosisFeatureValue()).all()


@pytest.mark.parametrize(
    ("class_name", "short", "long"),
    [
        ("glrlm", "ShortRun", "LongRun"),
        ("glszm", "SmallArea", "LargeArea"),
        ("gldm", "SmallDependence", "LargeDependence"),
    ],
)
def test_grey_level_and_size_emphases_equal_pyradiomics(
    pyradiomics_data: Path, class_name: str, short: str, long: str
) -> None:
    """The four emphases weighting by the grey level and the run length (zone, dependence
    size), summed against their small weight grid in one pass, equal pyradiomics' own methods
    on the same matrices to 1e-13 relative (a rounding apart), on 300 voxels of brain1's ROI at
    radius 2 (glrlm: angles without a run, NaN in ``Nr``, included)."""
    image = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain1_label.nrrd"))
    ours = getFeatureClasses()[class_name](image, mask, voxelBased=True, kernelRadius=2)
    theirs = getFeatureClasses()[class_name](image, mask, voxelBased=True, kernelRadius=2)
    speed_up(ours, class_name)
    coordinates = theirs.labelledVoxelCoordinates[:, :300]
    ours._initCalculation(coordinates)
    theirs._initCalculation(coordinates)
    for size in (short, long):
        for level in ("Low", "High"):
            name = f"get{size}{level}GrayLevelEmphasisFeatureValue"
            assert name in vars(ours)  # replaced on the instance
            expected = getattr(theirs, name)()
            assert np.isfinite(expected).all()
            np.testing.assert_allclose(getattr(ours, name)(), expected, rtol=1e-13, err_msg=name)


def test_first_order_median_is_pyradiomics_own_bit_for_bit(pyradiomics_data: Path) -> None:
    """The median, taken from the sorted kernels instead of numpy's masked arrays, equals
    pyradiomics' ``numpy.nanmedian`` to the bit on every voxel of brain1's ROI at radius 2
    (kernels of odd and even counts: NaN outside the ROI), and on rows of one value and of
    none (NaN, where numpy also warns)."""
    theirs, ours = _first_order_at_radius_2(pyradiomics_data)
    counts = np.count_nonzero(~np.isnan(theirs.targetVoxelArray), axis=1)
    assert (counts % 2 == 0).any()
    assert (counts % 2 == 1).any()
    expected = theirs.getMedianFeatureValue()
    np.testing.assert_array_equal(ours.getMedianFeatureValue(), expected)
    rows = np.full((3, 4), np.nan)
    rows[0, :2] = [3.5, -1.25]
    rows[1, 2] = 7.0
    theirs.targetVoxelArray = ours.targetVoxelArray = rows
    with pytest.warns(RuntimeWarning):  # numpy's "All-NaN slice"
        expected = theirs.getMedianFeatureValue()
    np.testing.assert_array_equal(ours.getMedianFeatureValue(), expected)
    assert np.isnan(expected[2])


def test_glrlm_coefficients_are_pyradiomics_own_bit_for_bit(pyradiomics_data: Path) -> None:
    """The run counts per run length and per grey level, the level and run-length vectors and
    the matrix with the run lengths no voxel has deleted, taken by ``numpy.einsum``, equal
    pyradiomics' ``_calculateCoefficients`` on the same matrix to the bit: brain1's first 200
    ROI voxels at radius 3, where some run lengths (7 voxels long) occur in no kernel."""
    image = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain1_label.nrrd"))
    ours = glrlm.RadiomicsGLRLM(image, mask, voxelBased=True, kernelRadius=3)
    theirs = glrlm.RadiomicsGLRLM(image, mask, voxelBased=True, kernelRadius=3)
    speed_up(ours, "glrlm")
    speed_up(theirs, "glrlm")
    del theirs._calculateCoefficients  # pyradiomics' own again, on the same matrix
    coordinates = theirs.labelledVoxelCoordinates[:, :200]
    ours._initCalculation(coordinates)
    theirs._initCalculation(coordinates)
    assert len(theirs.coefficients["jvector"]) < 7  # run lengths deleted
    np.testing.assert_array_equal(ours.P_glrlm, theirs.P_glrlm)
    for name in ("pr", "pg", "ivector", "jvector", "Nr"):
        np.testing.assert_array_equal(ours.coefficients[name], theirs.coefficients[name])
