"""The glcm maps' own evaluation (``engine._maps_glcm``) equals pyradiomics' glcm formulas.

Each feature is computed from the non-zero entries of the GLCMs and MCC from a symmetric form,
so both are compared with pyradiomics' own ``RadiomicsGLCM`` methods on the same normalised
GLCMs: random ones (sparse, as a kernel's are) and the awkward ones, one grey level, empty
angles, a second eigenvalue of exactly 0 (where pyradiomics' epsilon decides the MCC), a
two-level GLCM with no pair on the diagonal (an eigenvalue -1), symmetric or not, one angle (as
``weightingNorm`` leaves). The maps of a whole ROI with these settings are compared with
pyradiomics' voxel mode in ``test_glcm_settings_equal_pyradiomics_voxel_mode``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import glcm
from radiomics.featureextractor import RadiomicsFeatureExtractor
from test_maps import case_inputs

from napari_radiomics.engine._maps_glcm import FEATURES, _Glcm
from napari_radiomics.engine.maps import feature_maps, voxel_settings
from napari_radiomics.settings import ExtractionSettings

LEVELS = np.array([2, 3, 5, 8, 9])  # grey levels present, not contiguous
NG = 10


def awkward_counts(rng: np.random.Generator, angles: int, symmetric: bool) -> np.ndarray:
    """Co-occurrence counts (voxels, levels, levels, angles): 40 random sparse voxels, then
    the awkward cases."""
    size = len(LEVELS)
    counts = rng.integers(1, 4, (40, size, size, angles)) * (
        rng.random((40, size, size, angles)) < 0.25
    )
    special = np.zeros((6, size, size, angles), dtype=int)
    special[0, 1, 1, :] = 3  # one grey level
    special[1, :2, :2, :] = np.array([[2, 1], [1, 0]])[..., None]
    special[1, :, :, 0] = 0  # an empty angle
    special[2, 1:3, 1:3, :] = 2  # rank one: second eigenvalue 0
    special[3, 0, 4, :] = 1  # no pair on the diagonal: eigenvalues 1 and -1
    special[3, 4, 0, :] = 1
    special[4, 2, 2, :] = 2  # one level in every angle but the last
    special[4, 2:4, 2:4, -1] = [[1, 2], [2, 1]]
    # special[5]: no pair at all (NaN)
    counts = np.concatenate([counts, special])
    if symmetric:
        counts = counts + counts.transpose(0, 2, 1, 3)
    return counts


def normalised(counts: np.ndarray) -> np.ndarray:
    """pyradiomics' normalisation: each (voxel, angle) GLCM sums to 1, NaN when empty."""
    sums = counts.sum((1, 2)).astype(float)
    sums[sums == 0] = np.nan
    return counts / sums[:, None, None, :]


@pytest.fixture(scope="module")
def pyradiomics_glcm() -> glcm.RadiomicsGLCM:
    """A real pyradiomics glcm instance, its matrices to be swapped for the test's."""
    rng = np.random.default_rng(3)
    image = sitk.GetImageFromArray(rng.normal(size=(4, 4, 4)))
    mask = sitk.GetImageFromArray(np.ones((4, 4, 4), dtype=np.uint8))
    return glcm.RadiomicsGLCM(image, mask, voxelBased=True, kernelRadius=1)


def pyradiomics_values(instance: glcm.RadiomicsGLCM, p_glcm: np.ndarray, levels: np.ndarray):
    """pyradiomics' coefficients and feature methods on the GLCMs ``p_glcm``."""
    instance.coefficients["Ng"] = NG
    instance.coefficients["grayLevels"] = levels
    instance.P_glcm = p_glcm.copy()
    instance._calculateCoefficients()
    return instance


def pyradiomics_mcc(instance: glcm.RadiomicsGLCM, p_glcm: np.ndarray) -> np.ndarray:
    """pyradiomics' MCC per voxel, as its segment mode gives it for the voxel's kernel: on the
    grey levels the voxel has (1 if only one) and its non-empty angles (pyradiomics' own
    batch fails on an empty angle, and would keep a level the kernel does not have)."""
    out = np.full(len(p_glcm), np.nan)
    for voxel, matrices in enumerate(p_glcm):
        angles = np.isfinite(matrices).all((0, 1))
        counts = np.nan_to_num(matrices)
        present = ((counts.sum(0) > 0) | (counts.sum(1) > 0)).any(1)
        if not angles.any():
            continue
        kept = matrices[np.ix_(present, present, angles)][None]
        pyradiomics_values(instance, kept, LEVELS[present])
        out[voxel] = np.real(np.ravel(instance.getMCCFeatureValue()))[0]  # 1: a flat region
    return out


@pytest.mark.parametrize(("symmetric", "angles"), [(True, 13), (False, 13), (True, 1), (False, 4)])
def test_every_feature_equals_pyradiomics_formula(
    pyradiomics_glcm: glcm.RadiomicsGLCM, symmetric: bool, angles: int
) -> None:
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)
    p_glcm = normalised(awkward_counts(np.random.default_rng(angles), angles, symmetric))
    coefficients = {"Ng": NG, "grayLevels": LEVELS}
    ours = _Glcm.of_matrices(p_glcm, coefficients, symmetric)
    reference = pyradiomics_values(pyradiomics_glcm, p_glcm, LEVELS)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # pyradiomics' NaN means
        expected = {
            name: getattr(reference, f"get{name}FeatureValue")() for name in FEATURES - {"MCC"}
        }
    for name, values in expected.items():
        np.testing.assert_allclose(
            ours.feature(name), values, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name
        )
    mcc = ours.feature("MCC")
    # Not symmetric, an angle whose second eigenvalue is 0 gets from pyradiomics the square
    # root of its rounding noise (up to 2e-8, or 0 when the noise is negative): not a value
    # of the GLCM, so compared at that size.
    atol = 1e-12 if symmetric else 1e-8
    np.testing.assert_allclose(
        mcc, pyradiomics_mcc(pyradiomics_glcm, p_glcm), rtol=1e-9, atol=atol, equal_nan=True
    )
    if symmetric:  # the awkward voxels are what the test says they are
        assert mcc[40] == 1.0
        assert np.isnan(mcc[45])
        assert 0 < mcc[42] < 1e-7  # pyradiomics' sqrt(2 eps) where the value is 0
        assert mcc[43] == pytest.approx(1.0)


def test_glcm_settings_equal_pyradiomics_voxel_mode(pyradiomics_data: Path) -> None:
    """A non-symmetric GLCM and weighted angles (one GLCM per voxel), whole ROI of breast1,
    against pyradiomics' own voxel mode (its MCC included, which it computes here)."""
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    roi = sitk.GetArrayFromImage(mask) == 1
    for extra in ({"symmetricalGLCM": False}, {"weightingNorm": "euclidean"}):
        settings = ExtractionSettings.from_params({"setting": extra, "featureClass": {"glcm": []}})
        ours = feature_maps(image, mask, voxel_settings(settings, 1))
        params = {
            "setting": extra,
            "featureClass": {"glcm": []},
            "voxelSetting": {"kernelRadius": 1},
        }
        result = RadiomicsFeatureExtractor(params).execute(image, mask, voxelBased=True)
        checked = 0
        for name, feature_map in ours.items():
            if name not in result or (sitk.GetArrayViewFromImage(result[name]) == 0).all():
                continue  # a map pyradiomics failed (MCC on an empty angle)
            reference = result[name]
            start = image.TransformPhysicalPointToIndex(reference.GetOrigin())[::-1]
            theirs = np.full(roi.shape, np.nan)
            array = sitk.GetArrayFromImage(reference)
            theirs[tuple(slice(s, s + n) for s, n in zip(start, array.shape, strict=True))] = array
            values, theirs = feature_map.array()[roi], theirs[roi]
            if name.endswith("MCC"):
                # A kernel of one grey level: pyradiomics' voxel batch gives 0 (its Q spans
                # the ROI's levels), its segment mode 1 (a flat region); the maps keep 1.
                flat = theirs == 0
                assert (values[flat] == 1).all()
                values, theirs = values[~flat], theirs[~flat]
            scale = np.nanmax(np.abs(theirs))
            np.testing.assert_allclose(
                values, theirs, rtol=1e-9, atol=1e-9 * scale, equal_nan=True,
                err_msg=f"{extra} {name}",
            )  # fmt: skip
            checked += 1
        assert checked >= 23, extra


#: The maps benchmark's synthetic CT (``benchmarks/bench_maps.py``, its 4137-voxel ROI) around
#: voxel (27, 293, 196), two voxels each side: a kernel where one angle's GLCM is exactly
#: p_x p_y. Kept here as numbers, so the test depends on neither the benchmark nor its
#: 48 x 512 x 512 noise (z, then rows of y, each x from 194 to 198; a line per z).
_BENCHMARK_CT_HU = """
 79  97  95  97  73 101  85  24  59  28  83 107  66  75  46  34  50  80  32  66  54  65  78  92  68
 67  36  89  75  82  66  61  56  53  72  40  35  90  61  68  81  48  77  44  80  75  87  77  85  94
 81  76  43  68 107  69  88  97  92  85  60  64  58  65  78  83  64  65  48 120  52 102  94  78  62
 43  41  24  71  40  51  61  57  53  58  16  43  89  74  88  99  93  47  38  85  72  77  79  87  58
 46  17  52  14  72  39  29  48  36  32  49  59  -9  44  34  40  53  35  22  39  40  51  36  16  32
"""
#: Its ROI there, in the same order (1 inside).
_BENCHMARK_CT_ROI = "11111" * 15 + "0000000011011111111111111" + "00000" * 5


def benchmark_ct_kernel(half: int = 1) -> tuple[sitk.Image, sitk.Image]:
    """The neighbourhood of the benchmark CT's voxel (27, 293, 196), ``half`` (1 or 2)
    voxels each side, as image and mask."""
    hu = np.array(_BENCHMARK_CT_HU.split(), dtype=np.int16).reshape(5, 5, 5)
    roi = np.array(list(_BENCHMARK_CT_ROI), dtype=np.uint8).reshape(5, 5, 5)
    box = (slice(2 - half, 3 + half),) * 3
    return sitk.GetImageFromArray(hu[box]), sitk.GetImageFromArray(roi[box])


def test_imc2_of_an_angle_without_correlation_equals_pyradiomics() -> None:
    """A kernel of the benchmark's CT with an angle whose GLCM is exactly p_x p_y: pyradiomics
    sums HXY and HXY2 one term after the other and finds them equal (Imc2 0 for that angle);
    summed pairwise, HXY2 was one rounding off, and the square root made it an Imc2 of 3e-8,
    4e-9 relative in the voxel's mean over angles."""
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)
    image, mask = benchmark_ct_kernel()
    ours = feature_maps(
        image, mask, voxel_settings(ExtractionSettings(feature_classes={"glcm": []}), 1)
    )
    params = {"featureClass": {"glcm": []}, "voxelSetting": {"kernelRadius": 1}}
    result = RadiomicsFeatureExtractor(params).execute(image, mask, voxelBased=True)
    for name in ("Imc1", "Imc2"):
        reference = result[f"original_glcm_{name}"]
        centre = tuple(1 - i for i in image.TransformPhysicalPointToIndex(reference.GetOrigin()))
        theirs = sitk.GetArrayViewFromImage(reference)[centre[::-1]]
        assert ours[f"original_glcm_{name}"].array()[1, 1, 1] == pytest.approx(theirs, rel=1e-9)


def test_mcc_of_an_angle_without_correlation_equals_pyradiomics() -> None:
    """The same kernel's angle, P = p_x p_y, has a second eigenvalue of 0: pyradiomics' MCC is
    the square root of LAPACK's rounding of it (7e-9 here), which depends on the matrix: its Q
    spans the ROI's five levels, not the angle's three. Compared with pyradiomics' voxel mode
    on that voxel alone (its batch of the whole ROI fails on an empty angle elsewhere)."""
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)
    image, mask = benchmark_ct_kernel(half=2)
    settings = voxel_settings(ExtractionSettings(feature_classes={"glcm": ["MCC"]}), 1)
    ours = feature_maps(image, mask, settings)["original_glcm_MCC"].array()[2, 2, 2]
    reference = glcm.RadiomicsGLCM(image, mask, voxelBased=True, kernelRadius=1)
    assert reference.coefficients["grayLevels"].size == 5
    reference.P_glcm = reference._calculateMatrix(np.array([[2], [2], [2]]))
    reference._calculateCoefficients()
    assert ours == pytest.approx(reference.getMCCFeatureValue()[0], rel=1e-12)


def test_mcc_near_zero_in_a_roi_of_many_levels_equals_pyradiomics() -> None:
    """The kernel above, its angle without correlation, beside a second texture spanning
    4000 HU: the ROI has 164 grey levels, so pyradiomics' Q for that angle is 164 x 164
    (zero outside the angle's levels), and LAPACK's rounding of its zero eigenvalue there is
    the MCC's 7e-9. Q is built on the angle's levels and placed among the ROI's (building it
    on all of them, k by k, took minutes on such a ROI); the voxel's MCC and those of the
    other texture equal pyradiomics' voxel mode on the same voxels (its batch of the whole ROI
    fails on an empty angle of the CT kernel's edge, and its 164-level matrices of every
    voxel would not fit)."""
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)
    kernel, kernel_roi = benchmark_ct_kernel(half=2)
    rng = np.random.default_rng(7)
    hu = np.zeros((5, 6, 10), dtype=np.int16)
    hu[:, :5, :5] = sitk.GetArrayViewFromImage(kernel)
    other = np.ones(hu.shape, dtype=bool)
    other[:, :5, :5] = False
    every = np.arange(-2000, 2100, 25)  # the second texture: every level at least once
    hu[other] = rng.permutation(np.resize(every, int(other.sum())))
    roi = np.ones(hu.shape, dtype=np.uint8)
    roi[:, :5, :5] = sitk.GetArrayViewFromImage(kernel_roi)
    image, mask = sitk.GetImageFromArray(hu), sitk.GetImageFromArray(roi)
    settings = voxel_settings(ExtractionSettings(feature_classes={"glcm": ["MCC"]}), 1)
    ours = feature_maps(image, mask, settings)["original_glcm_MCC"].array()
    reference = glcm.RadiomicsGLCM(image, mask, voxelBased=True, kernelRadius=1)
    assert reference.coefficients["grayLevels"].size == 164
    voxels = np.array([[2, 2, 2], [2, 2, 7], [1, 2, 7], [2, 3, 7], [2, 1, 8], [3, 3, 6]]).T
    reference.P_glcm = reference._calculateMatrix(voxels)
    reference._calculateCoefficients()
    theirs = reference.getMCCFeatureValue()
    np.testing.assert_allclose(ours[tuple(voxels)], theirs, rtol=1e-12)
