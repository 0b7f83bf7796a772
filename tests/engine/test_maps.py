"""Feature maps equal pyradiomics' voxel mode (``execute(voxelBased=True)``) to 1e-9 relative.

pyradiomics' voxel mode is slow (a minute for brain1's 4137 voxels at radius 1), so brain1 is
mapped on a sub-ROI: the ROI voxels within a 9x9x3 box at its centre (a few hundred voxels,
the kernels still reaching ROI voxels outside the sub-ROI is not what is tested: both sides see
the same mask). breast1 is mapped whole (143 voxels). pyradiomics' reference runs once per case
and radius (session-scoped). 2D slices are compared with pyradiomics on the slice as a one-slice
volume with force2D, the derivation ``engine.maps`` documents.
"""

from __future__ import annotations

import functools
import gzip
import logging
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import getFeatureClasses
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._limits import MEMORY_ENV
from napari_radiomics.cli import build_parser, main
from napari_radiomics.cli._options import settings_from
from napari_radiomics.cli.maps import _EXAMPLES
from napari_radiomics.engine import FeatureEngine, _engine, extract_features
from napari_radiomics.engine._maps_memory import maps_problem
from napari_radiomics.engine.maps import feature_maps, map_features, voxel_settings
from napari_radiomics.errors import ExtractionError, SettingsError
from napari_radiomics.io import make_synthetic_slice
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.preprocess import PreprocessedImage
from napari_radiomics.settings import ExtractionSettings
from sample_files import fill_disk, write_bundle

TEXTURE = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
ALL_CLASSES = {name: [] for name in TEXTURE}


def sub_roi(mask: sitk.Image, half: tuple[int, int, int] = (1, 4, 4)) -> sitk.Image:
    """The ROI voxels within a box around the ROI's centre, as a new mask (label 1)."""
    array = sitk.GetArrayFromImage(mask) == 1
    centre = np.round(np.argwhere(array).mean(axis=0)).astype(int)
    box = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half, strict=True))
    out = np.zeros(array.shape, dtype=np.uint8)
    out[box] = array[box]
    image = sitk.GetImageFromArray(out)
    image.CopyInformation(mask)
    return image


@functools.cache
def case_inputs(folder: str, case: str) -> tuple[sitk.Image, sitk.Image]:
    image = sitk.ReadImage(str(Path(folder) / f"{case}_image.nrrd"))
    mask = sitk.ReadImage(str(Path(folder) / f"{case}_label.nrrd"))
    return image, (sub_roi(mask) if case == "brain1" else mask)


_REFERENCES: dict[tuple, dict[str, np.ndarray]] = {}


def pyradiomics_maps(
    image: sitk.Image, mask: sitk.Image, radius: int, masked: bool, force_2d: bool
) -> dict[str, np.ndarray]:
    """pyradiomics' own voxel-mode maps on the image's full grid (its crop pasted back), run
    once per input and settings in the session."""
    key = (id(image), id(mask), radius, masked, force_2d)
    if key not in _REFERENCES:
        _REFERENCES[key] = _pyradiomics_maps(image, mask, radius, masked, force_2d)
    return _REFERENCES[key]


def _pyradiomics_maps(
    image: sitk.Image, mask: sitk.Image, radius: int, masked: bool, force_2d: bool
) -> dict[str, np.ndarray]:
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)  # MCC's traceback
    params = {
        "setting": {"additionalInfo": False, "force2D": force_2d},
        "featureClass": ALL_CLASSES,
        "voxelSetting": {"kernelRadius": radius, "maskedKernel": masked},
    }
    result = RadiomicsFeatureExtractor(params).execute(image, mask, voxelBased=True)
    full = sitk.GetArrayViewFromImage(image).shape
    out = {}
    for name, value in result.items():
        if not isinstance(value, sitk.Image):
            continue
        array = sitk.GetArrayFromImage(value)
        start = image.TransformPhysicalPointToIndex(value.GetOrigin())[::-1]
        pasted = np.full(full, np.nan)
        pasted[tuple(slice(s, s + n) for s, n in zip(start, array.shape, strict=True))] = array
        out[name] = pasted
    return out


def assert_maps_equal(ours: dict, reference: dict, roi: np.ndarray, expected: int) -> None:
    """Every map pyradiomics computes equals ours on the ROI (1e-9 relative; values at
    round-off size near 0 compared to 1e-9 of the map's scale), and ours is NaN elsewhere."""
    assert len(ours) == expected
    assert set(ours) == set(reference)
    # Where pyradiomics' MCC fails (LinAlgError) its map keeps initValue, 0: ours is then
    # compared with pyradiomics' definition per kernel in its own test.
    mcc_failed = (reference["original_glcm_MCC"][roi] == 0).all()
    for name, feature_map in ours.items():
        values = feature_map.array()
        assert np.isnan(values[~roi]).all(), name
        if name == "original_glcm_MCC" and mcc_failed:
            continue
        theirs = reference[name][roi]
        scale = np.nanmax(np.abs(theirs)) if np.isfinite(theirs).any() else 0.0
        np.testing.assert_allclose(
            values[roi], theirs, rtol=1e-9, atol=1e-9 * scale, equal_nan=True, err_msg=name
        )


def expected_count() -> int:
    classes = getFeatureClasses()
    return sum(
        sum(not deprecated for deprecated in classes[c].getFeatureNames().values())
        for c in TEXTURE
    )


@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("case", ["brain1", "breast1"])
def test_3d_maps_equal_pyradiomics_voxel_mode(
    pyradiomics_data: Path, case: str, radius: int
) -> None:
    image, mask = case_inputs(str(pyradiomics_data), case)
    settings = voxel_settings(ExtractionSettings(feature_classes=ALL_CLASSES), radius)
    ours = feature_maps(image, mask, settings)
    reference = pyradiomics_maps(image, mask, radius, True, False)
    roi = sitk.GetArrayFromImage(mask) == 1
    assert_maps_equal(ours, reference, roi, expected_count())


def test_unmasked_kernel_equals_pyradiomics(pyradiomics_data: Path) -> None:
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(
        ExtractionSettings(feature_classes=ALL_CLASSES), kernel_radius=1, masked_kernel=False
    )
    ours = feature_maps(image, mask, settings)
    reference = pyradiomics_maps(image, mask, 1, False, False)
    roi = sitk.GetArrayFromImage(mask) == 1
    assert_maps_equal(ours, reference, roi, expected_count())


def slice_cases(folder: Path) -> list[tuple[str, sitk.Image, sitk.Image]]:
    """A 2D slice of brain1 through its ROI and a synthetic dataset slice (a crop of the
    tumour, so pyradiomics' reference stays quick)."""
    image, mask = case_inputs(str(folder), "brain1")
    z = int(np.argwhere(sitk.GetArrayViewFromImage(mask)).mean(axis=0)[0].round())
    brain = (image[:, :, z], mask[:, :, z])
    tumour = make_synthetic_slice(seed=3, shape=(128, 128))
    rows, cols = np.nonzero(tumour.mask)
    r, c = int(rows.mean()), int(cols.mean())
    crop = np.zeros(tumour.mask.shape, dtype=np.uint8)
    crop[r - 6 : r + 6, c - 6 : c + 6] = tumour.mask[r - 6 : r + 6, c - 6 : c + 6]
    synthetic = (
        sitk.GetImageFromArray(tumour.image.astype(np.float64)),
        sitk.GetImageFromArray(crop),
    )
    return [("brain1 slice", *brain), ("synthetic slice", *synthetic)]


@pytest.mark.parametrize("radius", [1, 2])
def test_2d_slice_maps_equal_pyradiomics_on_a_one_slice_volume(
    pyradiomics_data: Path, radius: int
) -> None:
    for what, image, mask in slice_cases(pyradiomics_data):
        assert image.GetDimension() == 2
        settings = voxel_settings(ExtractionSettings(feature_classes=ALL_CLASSES), radius)
        ours = feature_maps(image, mask, settings)
        volume, volume_mask = sitk.JoinSeries([image]), sitk.JoinSeries([mask])
        reference = {
            name: values[0]
            for name, values in pyradiomics_maps(volume, volume_mask, radius, True, True).items()
        }
        roi = sitk.GetArrayFromImage(mask) == 1
        assert ours["original_glcm_Contrast"].values.ndim == 2, what
        assert_maps_equal(ours, reference, roi, expected_count())


def test_mcc_is_computed_where_pyradiomics_fails_and_equals_it_per_kernel(
    pyradiomics_data: Path,
) -> None:
    """Each voxel's MCC is pyradiomics' segment-mode MCC of its kernel (the ROI voxels of the
    3x3x3 cube around it): the definition pyradiomics applies to a whole ROI."""
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(ExtractionSettings(feature_classes={"glcm": ["MCC"]}), 1)
    mcc = feature_maps(image, mask, settings)["original_glcm_MCC"].array()
    roi = sitk.GetArrayFromImage(mask) == 1
    assert np.isfinite(mcc[roi]).all()
    assert ((mcc[roi] >= 0) & (mcc[roi] <= 1 + 1e-12)).all()
    extractor = RadiomicsFeatureExtractor({"featureClass": {"glcm": ["MCC"]}})
    checked = 0
    for voxel in np.argwhere(roi)[::10]:
        kernel = np.zeros(roi.shape, dtype=np.uint8)
        box = tuple(slice(max(v - 1, 0), v + 2) for v in voxel)
        kernel[box] = roi[box]
        if np.count_nonzero(kernel) < 2 or sum(np.ptp(np.argwhere(kernel), 0) > 0) < 2:
            continue  # pyradiomics refuses a segment-mode ROI that small
        kernel_mask = sitk.GetImageFromArray(kernel)
        kernel_mask.CopyInformation(mask)
        expected = extractor.execute(image, kernel_mask)["original_glcm_MCC"]
        np.testing.assert_allclose(mcc[tuple(voxel)], expected, rtol=1e-9, atol=1e-12)
        checked += 1
    assert checked >= 5


def test_results_do_not_depend_on_the_batch_size(pyradiomics_data: Path) -> None:
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    classes = {"glcm": [], "glszm": [], "firstorder": []}
    settings = voxel_settings(ExtractionSettings(feature_classes=classes))
    default = feature_maps(image, mask, settings)
    tiny = feature_maps(
        image, mask, voxel_settings(ExtractionSettings(feature_classes=classes), voxel_batch=7)
    )
    for name, feature_map in default.items():
        np.testing.assert_allclose(tiny[name].values, feature_map.values, rtol=1e-12, err_msg=name)


def test_a_call_without_an_engine_does_not_hash_the_image(
    pyradiomics_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an engine or a shared preprocessed cache, ``feature_maps`` makes an engine that
    only this call uses: the image's SHA-1, the key of that engine's caches (~15 ms for the
    `maps` benchmark's 25 MB CT), would never be compared, so it is not taken. Given a shared
    cache (a dock's), the image is still keyed, as that cache needs."""
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(ExtractionSettings(feature_classes={"firstorder": ["Mean"]}))
    expected = feature_maps(image, mask, settings)["original_firstorder_Mean"].values

    def refuse(image: sitk.Image) -> tuple:
        raise AssertionError("the image was hashed")

    monkeypatch.setattr(_engine, "image_key", refuse)
    values = feature_maps(image, mask, settings)["original_firstorder_Mean"].values
    np.testing.assert_array_equal(values, expected)
    with pytest.raises(AssertionError, match="hashed"):
        feature_maps(image, mask, settings, preprocessed=PreprocessedImage())


def test_an_engine_not_reused_starts_afresh_on_an_image_changed_in_place(
    pyradiomics_data: Path,
) -> None:
    """``FeatureEngine(reuse=False)`` keeps no image key: a second call on the same image
    object, changed in place, normalises it again (a cached normalised image would be the
    old one's), as the hashing engine does."""
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    image = sitk.Image(image)  # a copy: the cached case stays as read
    engine = FeatureEngine(ExtractionSettings(normalize=True), reuse=False)
    first = sitk.GetArrayFromImage(engine.filtered_images(image, mask)[0][1])
    index = tuple(int(i) for i in np.argwhere(sitk.GetArrayViewFromImage(mask) == 1)[0][::-1])
    image[index] = image[index] + 1000
    second = sitk.GetArrayFromImage(engine.filtered_images(image, mask)[0][1])
    reference = FeatureEngine(ExtractionSettings(normalize=True)).filtered_images(image, mask)
    np.testing.assert_array_equal(second, sitk.GetArrayFromImage(reference[0][1]))
    assert not np.array_equal(second, first)


def test_box_region_maps_every_voxel_of_the_grown_box(pyradiomics_data: Path) -> None:
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(ExtractionSettings(feature_classes={"firstorder": ["Mean"]}))
    values = feature_maps(image, mask, settings, region="box", margin=2)
    mean = values["original_firstorder_Mean"].array()
    roi = np.argwhere(sitk.GetArrayFromImage(mask) == 1)
    low, high = np.maximum(roi.min(0) - 2, 0), roi.max(0) + 3
    box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    assert np.isfinite(mean[box]).all()
    assert np.isnan(mean).sum() == mean.size - mean[box].size


def test_progress_reports_batches_and_an_exception_cancels(pyradiomics_data: Path) -> None:
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(ExtractionSettings(feature_classes={"glcm": []}), voxel_batch=20)
    calls: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, message: str) -> None:
        calls.append((done, total, message))
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        feature_maps(image, mask, settings, progress=progress)
    assert len(calls) == 3  # stopped at the batch that raised
    assert calls[0] == (0, 1000, "original glcm")
    assert 0 < calls[1][0] < calls[2][0] < 1000


def test_feature_selection_and_clear_errors(pyradiomics_data: Path) -> None:
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = ExtractionSettings()
    assert map_features(settings, ["glcm", "original_firstorder_Mean"]) == {
        "glcm": None,
        "firstorder": ["Mean"],
    }
    assert "shape" not in map_features(settings)  # no voxel-wise shape, as in pyradiomics
    with pytest.raises(SettingsError, match=r"'glcm_Contrst'.*no feature 'Contrst'"):
        map_features(settings, ["glcm_Contrst"])
    with pytest.raises(SettingsError, match="resampledPixelSpacing"):
        feature_maps(image, mask, ExtractionSettings(resampled_pixel_spacing=[1, 1, 1]))
    two = sitk.GetArrayFromImage(mask)
    two[two.shape[0] // 2 :] *= 2
    labels = sitk.GetImageFromArray(two)
    labels.CopyInformation(mask)
    with pytest.raises(ExtractionError, match=r"labels \[1, 2\]: choose one"):
        feature_maps(image, labels, settings, features=["firstorder_Mean"])


def brain2_sub_roi(folder: Path, tmp_path: Path) -> tuple[Path, sitk.Image, sitk.Image, Path]:
    """brain2's image (path, image) and a 3x5x5 sub-ROI of its mask (mask, path written)."""
    image_path = folder / "brain2_image.nrrd"
    mask = sub_roi(sitk.ReadImage(str(folder / "brain2_label.nrrd")), (1, 2, 2))
    mask_path = tmp_path / "mask.nrrd"
    sitk.WriteImage(mask, str(mask_path))
    return image_path, sitk.ReadImage(str(image_path)), mask, mask_path


def test_cli_writes_maps_on_the_roi_box_aligned_with_the_image(
    pyradiomics_data: Path, tmp_path: Path
) -> None:
    """brain2 (its direction flips y): every written map, read back with SimpleITK, has the
    image's spacing and direction, covers the ROI's bounding box plus the kernel radius, and
    each of its voxels lies at the physical point of the same voxel of the image, holding the
    value ``feature_maps`` gives there (NaN off the ROI); the params file runs in
    pyradiomics."""
    image_path, image, mask, mask_path = brain2_sub_roi(pyradiomics_data, tmp_path)
    out = tmp_path / "maps"
    argv = [str(image_path), "--mask", str(mask_path), "-o", str(out), "-q"]
    features = ["--features", "glcm_Contrast", "firstorder_Mean"]
    assert main(["maps", *argv, *features, "--set", "voxelSetting.kernelRadius=2"]) == 0
    names = sorted(p.name for p in out.iterdir())
    maps = ["original_firstorder_Mean.nrrd", "original_glcm_Contrast.nrrd"]
    assert names == ["maps.params.yaml", *maps]
    settings = ExtractionSettings.load(out / "maps.params.yaml")
    expected = feature_maps(image, mask, settings)
    assert set(expected) == {"original_glcm_Contrast", "original_firstorder_Mean"}
    roi = np.argwhere(sitk.GetArrayViewFromImage(mask) == 1)
    box = [(int(lo) - 2, int(hi) + 3) for lo, hi in zip(roi.min(0), roi.max(0), strict=True)]
    for name, feature_map in expected.items():
        written = sitk.ReadImage(str(out / f"{name}.nrrd"))
        assert written.GetSpacing() == image.GetSpacing()
        assert written.GetDirection() == image.GetDirection()
        assert sitk.GetArrayViewFromImage(written).shape == tuple(hi - lo for lo, hi in box)
        full = feature_map.array()
        values = sitk.GetArrayFromImage(written)
        corner = np.array([lo for lo, _ in box])
        for index in [(0, 0, 0), tuple(np.array(values.shape) - 1), *(roi - corner)]:
            in_image = tuple(int(i) for i in np.add(index, corner))
            np.testing.assert_allclose(
                written.TransformIndexToPhysicalPoint(tuple(int(i) for i in index[::-1])),
                image.TransformIndexToPhysicalPoint(in_image[::-1]),
                rtol=0, atol=1e-9,
            )  # fmt: skip
            np.testing.assert_array_equal(values[tuple(index)], full[in_image])
        assert np.isfinite(full[tuple(roi.T)]).all()
        assert np.isnan(values).sum() == values.size - len(roi)  # NaN off the ROI
    RadiomicsFeatureExtractor(str(out / "maps.params.yaml"))  # pyradiomics accepts the file
    assert main(["maps", *argv]) == 2  # maps already there, no --overwrite


def test_cli_writes_the_full_grid_when_asked(pyradiomics_data: Path, tmp_path: Path) -> None:
    """``--grid full``: every map has the image's size, spacing, origin and direction and the
    full-grid values of ``feature_maps`` (NaN off the ROI)."""
    image_path, image, mask, mask_path = brain2_sub_roi(pyradiomics_data, tmp_path)
    out = tmp_path / "maps"
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-o", str(out), "-q"]
    assert main([*argv, "--features", "firstorder_Mean", "--grid", "full"]) == 0
    written = sitk.ReadImage(str(out / "original_firstorder_Mean.nrrd"))
    assert written.GetSize() == image.GetSize()
    assert written.GetSpacing() == image.GetSpacing()
    assert written.GetOrigin() == image.GetOrigin()
    assert written.GetDirection() == image.GetDirection()
    expected = feature_maps(image, mask, ExtractionSettings(), features=["firstorder_Mean"])
    full = expected["original_firstorder_Mean"].array()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), full)


def test_nifti_maps_hold_nan_off_the_roi_which_simpleitk_reads_as_zero(
    pyradiomics_data: Path, tmp_path: Path
) -> None:
    """What docs/formats.md says is outside the ROI in a NIfTI map: the file holds NaN (its
    raw float64 data), and SimpleITK (like every ITK-based viewer) reads those voxels as 0,
    while the ROI voxels keep their values."""
    image, _, _, mask_path = brain2_sub_roi(pyradiomics_data, tmp_path)
    out = tmp_path / "maps"
    argv = ["maps", str(image), "--mask", str(mask_path), "-q", "--features", "firstorder_Mean"]
    assert main([*argv, "-o", str(out), "--format", "nii.gz"]) == 0
    path = out / "original_firstorder_Mean.nii.gz"
    nrrd = tmp_path / "nrrd"
    assert main([*argv, "-o", str(nrrd)]) == 0
    reference = sitk.GetArrayFromImage(
        sitk.ReadImage(str(nrrd / path.name.replace("nii.gz", "nrrd")))
    )
    read = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    off_roi = np.isnan(reference)
    assert off_roi.any()
    assert not off_roi.all()
    np.testing.assert_array_equal(read[~off_roi], reference[~off_roi])
    assert (read[off_roi] == 0).all()  # SimpleITK's NIfTI reader: NaN becomes 0
    raw = gzip.decompress(path.read_bytes())
    offset = int(np.frombuffer(raw[108:112], "<f4")[0])  # NIfTI-1 vox_offset
    stored = np.frombuffer(raw[offset:], "<f8").reshape(reference.shape)
    np.testing.assert_array_equal(stored, reference)  # NaN in the file, as in the NRRD


def test_jobs_share_the_batches_and_give_identical_maps(
    pyradiomics_data: Path, tmp_path: Path
) -> None:
    """Every class, in two worker processes with small batches (so each part has several):
    the same blocks, bit for bit, as in this process; the CLI's files too."""
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    settings = voxel_settings(ExtractionSettings(feature_classes=ALL_CLASSES), voxel_batch=9)
    serial = feature_maps(image, mask, settings)
    steps: list[int] = []
    pooled = feature_maps(image, mask, settings, jobs=2, progress=lambda d, t, m: steps.append(d))
    assert list(pooled) == list(serial)
    for name, feature_map in serial.items():
        assert pooled[name].offset == feature_map.offset, name
        np.testing.assert_array_equal(pooled[name].values, feature_map.values, err_msg=name)
    assert steps == sorted(steps)
    assert len(steps) > 2 * len(TEXTURE)  # moves per part, not only per class
    image_path = pyradiomics_data / "breast1_image.nrrd"
    argv = [str(image_path), "--mask", str(pyradiomics_data / "breast1_label.nrrd"), "-q"]
    argv += ["--features", "glcm_Contrast", "glszm"]
    assert main(["maps", *argv, "-o", str(tmp_path / "one")]) == 0
    assert main(["maps", *argv, "-o", str(tmp_path / "two"), "--jobs", "2"]) == 0
    written = sorted(p.name for p in (tmp_path / "one").glob("*.nrrd"))
    assert len(written) == 17  # Contrast and glszm's 16
    for name in written:
        one = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "one" / name)))
        two = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "two" / name)))
        np.testing.assert_array_equal(two, one, err_msg=name)
    with pytest.raises(SettingsError, match="jobs 0"):
        feature_maps(image, mask, settings, jobs=0)


def nan_case(folder: Path) -> tuple[Path, Path]:
    """A float image whose ROI holds one NaN (binning still works, so pyradiomics' kernels
    average around it), written as NRRD with its mask."""
    image = np.random.default_rng(0).normal(100, 20, (48, 48))
    image[24, 24] = np.nan
    mask = np.zeros(image.shape, dtype=np.uint8)
    mask[16:32, 16:32] = 1
    paths = folder / "nan.nrrd", folder / "nan_mask.nrrd"
    for array, path in zip((image, mask), paths, strict=True):
        sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return paths


def test_nan_in_the_roi_is_refused_as_extract_refuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The image rule of an extraction holds for maps: the API refuses with extract's very
    message, the CLI fails the ROI (exit 3) naming the input and writes nothing."""
    image_path, mask_path = nan_case(tmp_path)
    image, mask = sitk.ReadImage(str(image_path)), sitk.ReadImage(str(mask_path))
    with pytest.raises(ExtractionError) as extracted:
        extract_features(image, mask)
    with pytest.raises(ExtractionError) as mapped:
        feature_maps(image, mask, features=["firstorder_Mean"])
    assert str(mapped.value) == str(extracted.value)
    assert "1 NaN or infinite voxel(s) inside ROI label 1" in str(mapped.value)
    with pytest.raises(ExtractionError, match="inside ROI label 1"):  # the box holds it too
        feature_maps(image, mask, features=["firstorder_Mean"], region="box")
    out = tmp_path / "maps"
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-o", str(out), "-q"]
    assert main([*argv, "--features", "firstorder_Mean"]) == 3
    assert f"{image_path}: {extracted.value}" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture
def small_slice(tmp_path: Path) -> Path:
    """A 64x64 synthetic dataset slice as a real .mat file (it holds its own mask)."""
    return write_tumor_mat(tmp_path / "3.mat", make_synthetic_slice(shape=(64, 64)))


def test_help_examples_use_settings_the_command_accepts() -> None:
    """Every ``--set`` of the help's examples is accepted as it is written (the kernel radius
    is documented as voxelSetting.kernelRadius; a bare kernelRadius is refused)."""
    sets = [
        token
        for line in _EXAMPLES.splitlines()
        for token in line.split()
        if "=" in token and not token.startswith("-")
    ]
    assert "voxelSetting.kernelRadius=2" in sets
    for value in sets:
        args = build_parser().parse_args(["maps", "a.nrrd", "-o", "out", "--set", value])
        settings_from(args)  # raises SettingsError for a setting pyradiomics does not know


def test_an_output_that_is_a_file_is_refused_before_any_work(
    small_slice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "maps.txt"
    existing.write_text("keep me")
    for output in (existing, existing / "maps"):
        assert main(["maps", str(small_slice), "-o", str(output), "-q"]) == 2
        assert f"{existing}: exists and is not a folder" in capsys.readouterr().err
        assert existing.read_text() == "keep me"


def test_an_input_neither_image_nor_slice_is_named_with_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one path classification (``io.classify_path``) says what was given and expected."""
    write_bundle(tmp_path / "bundle", 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    given = {
        tmp_path / "bundle": "a NumPy bundle (images.npy, masks.npy, labels.npy), not",
        tmp_path / "bundle" / "labels.npy": "a NumPy bundle (images.npy, masks.npy, labels",
        notes: "not a maps input",
    }
    for path, what in given.items():
        assert main(["maps", str(path), "-o", str(tmp_path / "maps"), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"{path}: {what}" in err
        assert "(expected a brain-tumour .mat file or an NRRD/NIfTI/MHA image" in err
    assert not (tmp_path / "maps").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--features", "../../x_glcm_Contrast"], "'../../x' is not an image type the settings"),
        (["--features", "wavelet-LLH_glcm_Contrast"], "enabled: Original"),
        (
            ["--features", "glcm_Contrast", "--params", "firstorder:"],
            "the settings do not enable feature class 'glcm'",
        ),
        (
            ["--features", "glcm_Idmn", "--params", "glcm: [Contrast]"],
            "the settings enable only Contrast of glcm",
        ),
        (["--margin", "-1"], "argument --margin: expected an integer >= 0, got '-1'"),
        (["--label", "0"], "argument --label: expected a positive integer, got '0'"),
        (["--jobs", "0"], "argument -j/--jobs: expected a positive integer, got '0'"),
    ],
)
def test_names_and_numbers_that_are_not_pyradiomics_own_are_refused(
    extra: list[str],
    message: str,
    small_slice: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "--params" in extra:  # a params file enabling only the classes given
        params = tmp_path / "params.yaml"
        params.write_text(f"featureClass:\n  {extra[-1]}\n")
        extra = [*extra[:-1], str(params)]
    out = tmp_path / "maps"
    assert main(["maps", str(small_slice), "-o", str(out), "-q", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert not (tmp_path.parent / "x_glcm_Contrast.nrrd").exists()


def test_a_huge_kernel_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kernelRadius 300 on a 512x512 slice: pyradiomics' padded arrays alone would be 5.5 GiB
    (601 x 1112 x 1112), the kernels far more. Refused at once, stating the limit and how to
    raise it; nothing written."""
    case = write_tumor_mat(tmp_path / "17.mat", make_synthetic_slice(seed=17))
    out = tmp_path / "maps"
    argv = ["maps", str(case), "-o", str(out), "--set", "voxelSetting.kernelRadius=300", "-q"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "feature maps of ROI label 1 would need about" in err
    assert "mostly for the kernels of kernelRadius 300, 601^3 voxels each" in err
    assert "more than the limit of 8.0 GiB, so nothing was allocated" in err
    assert f"raise the limit with the environment variable {MEMORY_ENV}" in err
    assert not out.exists()


def test_the_memory_limit_is_read_from_the_environment(
    pyradiomics_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A volume too large for the limit is refused from its size (the 1000^3 volume of the
    report by the estimate; a smaller one by a lowered limit, so the test allocates little);
    the same maps run once the limit allows them; a malformed limit names the variable."""
    assert "mostly for the filtered images" in maps_problem(
        "maps", (1000, 1000, 1000), (20, 20, 20), 4000, 1, 93, 1, True, 1
    )
    image, mask = case_inputs(str(pyradiomics_data), "breast1")
    monkeypatch.setenv(MEMORY_ENV, "1MiB")
    with pytest.raises(ExtractionError, match=r"more than the limit of 1\.0 MiB.*" + MEMORY_ENV):
        feature_maps(image, mask, features=["firstorder_Mean"])
    monkeypatch.setenv(MEMORY_ENV, "2GiB")
    assert set(feature_maps(image, mask, features=["firstorder_Mean"])) == {
        "original_firstorder_Mean"
    }
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(SettingsError, match=f"{MEMORY_ENV}='lots': expected an amount"):
        feature_maps(image, mask, features=["firstorder_Mean"])


def test_the_first_map_that_cannot_be_written_stops_the_rest(
    small_slice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A map whose file cannot be written (a folder in its place) ends the run at once: the
    93 maps queued behind it are not attempted, and nothing the user had there is removed."""
    out = tmp_path / "maps"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "original_firstorder_10Percentile.nrrd").mkdir()  # the first map's file name
    assert main(["maps", str(small_slice), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{out / 'original_firstorder_10Percentile.nrrd'}: the map cannot be written (Is a" in err
    )
    written = [path for path in out.glob("*.nrrd") if path.is_file()]
    assert len(written) < 93 // 4  # the files already under way, not every other map
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "original_firstorder_10Percentile.nrrd").is_dir()


def test_a_full_disk_is_named_and_leaves_what_was_there(
    small_slice: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_disk / "maps"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    fill_disk(small_disk, 4096)  # room for a map or two, not for 93
    assert main(["maps", str(small_slice), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"error: {out}/original_" in err, err  # the map that did not fit, by name
    assert "the map cannot be written" in err
    assert "disk full" in err or "No space left on device" in err
    assert (out / "notes.txt").read_text() == "mine"
    assert not list(out.glob(".*"))  # no temporary file left behind
    assert not (out / "maps.params.yaml").exists()
