"""The labels writer through napari's save machinery: geometry kept, sources never overwritten."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import SimpleITK as sitk
from napari.layers import Labels
from skimage.draw import polygon

from napari_radiomics import read_tumor_mat
from napari_radiomics._napari._reader import read_paths
from napari_radiomics.errors import WriteError
from sample_files import case_arrays, fill_disk, write_v5, write_v73

PLUGIN = "napari-radiomics"


@pytest.fixture(autouse=True)
def viewer(make_napari_viewer):
    """A real viewer: napari registers the plugin's writers when it starts."""
    return make_napari_viewer()


def opened_mask(path: Path) -> Labels:
    """The Labels layer the reader makes for a .mat case."""
    data, kwargs, kind = read_paths(str(path))[1]
    assert kind == "labels"
    return Labels(data, **kwargs)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha", ".nii"])
def test_medical_formats_keep_spacing_origin_and_values(tmp_path: Path, suffix: str) -> None:
    data = np.zeros((3, 10, 12), dtype=np.uint8)
    data[1, 2:6, 3:9] = 1
    data[2, 5:8, 1:4] = 2
    layer = Labels(data, scale=(2.5, 0.7, 0.4), translate=(10.0, -3.0, 4.5))
    target = tmp_path / f"corrected{suffix}"
    assert layer.save(str(target), plugin=PLUGIN) == [str(target)]
    image = sitk.ReadImage(str(target))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), data)
    assert image.GetSpacing() == pytest.approx((0.4, 0.7, 2.5))
    assert image.GetOrigin() == pytest.approx((4.5, -3.0, 10.0))


def test_rotation_affine_becomes_the_direction(tmp_path: Path) -> None:
    affine = np.eye(4)
    affine[1:3, 1:3] = [[0.0, -1.0], [1.0, 0.0]]
    layer = Labels(np.ones((2, 3, 4), dtype=np.uint8), scale=(3, 1, 1), affine=affine)
    target = tmp_path / "rotated.nrrd"
    layer.save(str(target), plugin=PLUGIN)
    direction = np.asarray(sitk.ReadImage(str(target)).GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(direction, affine[:3, :3][::-1, ::-1])
    sheared = Labels(np.ones((3, 4), dtype=np.uint8), affine=[[1, 0.5, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(WriteError, match="scales or shears"):
        sheared.save(str(tmp_path / "sheared.nrrd"), plugin=PLUGIN)


@pytest.mark.parametrize("writer", [write_v73, write_v5])
def test_mat_round_trip_with_corrected_mask(tmp_path: Path, writer) -> None:
    source = writer(tmp_path / "17.mat", case_arrays())
    layer = opened_mask(source)
    corrected = layer.data.copy()
    corrected[20:30, 5:20] = 1  # the user paints a second lobe...
    corrected[5:15, 30:50] = 0
    corrected[8:12, 30:50] = 1  # ...and trims the first one
    corrected[12:22, 18:32] = 1  # joined into one component
    layer.data = corrected
    target = tmp_path / "17_corrected.mat"
    assert layer.save(str(target), plugin=PLUGIN) == [str(target)]
    back = read_tumor_mat(target)
    np.testing.assert_array_equal(back.mask, corrected.astype(bool))
    np.testing.assert_array_equal(back.image, case_arrays()["image"])
    assert (back.label, back.patient_id) == (2, "MR048994B")
    rows, cols = polygon(back.border[:, 0], back.border[:, 1], back.mask.shape)
    filled = np.zeros_like(back.mask)
    filled[rows, cols] = True
    dice = 2 * (filled & back.mask).sum() / (filled.sum() + back.mask.sum())
    assert dice > 0.9
    assert h5py.is_hdf5(target) == h5py.is_hdf5(source)  # the source's MATLAB version is kept
    assert read_tumor_mat(source).mask.sum() == case_arrays()["tumorMask"].sum()  # untouched


def test_source_files_are_never_overwritten(tmp_path: Path) -> None:
    source = write_v73(tmp_path / "17.mat", case_arrays())
    before = source.read_bytes()
    layer = opened_mask(source)
    layer.data = np.zeros_like(layer.data) + 1
    with pytest.raises(WriteError, match=r"17\.mat: is the file this layer was opened from"):
        layer.save(str(source), plugin=PLUGIN)
    assert source.read_bytes() == before


def test_mat_needs_a_source_case_a_2d_slice_and_a_tumour(tmp_path: Path) -> None:
    orphan = Labels(np.ones((4, 5), dtype=np.uint8), name="drawn")
    with pytest.raises(WriteError, match=r"'drawn' was not opened from a brain-tumour \.mat"):
        orphan.save(str(tmp_path / "a.mat"), plugin=PLUGIN)
    source = write_v73(tmp_path / "17.mat", case_arrays())
    stack = Labels(np.ones((2, 40, 56), dtype=np.uint8), metadata={"path": str(source)})
    with pytest.raises(WriteError, match="holds one 2D slice"):
        stack.save(str(tmp_path / "b.mat"), plugin=PLUGIN)
    wrong = Labels(np.ones((56, 40), dtype=np.uint8), metadata={"path": str(source)})
    with pytest.raises(WriteError, match=r"mask shape \(56, 40\) differs"):
        wrong.save(str(tmp_path / "c.mat"), plugin=PLUGIN)
    empty = opened_mask(source)
    empty.data = np.zeros_like(empty.data)
    with pytest.raises(WriteError, match="the mask is empty"):
        empty.save(str(tmp_path / "d.mat"), plugin=PLUGIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["17.mat"]


def test_oblique_mask_read_and_saved_keeps_its_grid_exactly(
    tmp_path: Path, pyradiomics_data: Path
) -> None:
    """pyradiomics' brain1 has a flipped direction: the saved mask lands on the same grid."""
    source = pyradiomics_data / "brain1_label.nrrd"
    ((data, kwargs, kind),) = read_paths(str(source))
    assert kind == "labels"
    layer = Labels(data, **kwargs)
    target = tmp_path / "brain1_label_corrected.nii.gz"
    layer.save(str(target), plugin=PLUGIN)
    original, saved = sitk.ReadImage(str(source)), sitk.ReadImage(str(target))
    assert saved.GetDirection() == original.GetDirection()
    assert saved.GetOrigin() == pytest.approx(original.GetOrigin(), abs=1e-6)  # NIfTI is float32
    assert saved.GetSpacing() == pytest.approx(original.GetSpacing(), abs=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(saved), sitk.GetArrayFromImage(original))
    nrrd = tmp_path / "brain1_label_corrected.nrrd"
    layer.save(str(nrrd), plugin=PLUGIN)
    exact = sitk.ReadImage(str(nrrd))
    assert exact.GetOrigin() == original.GetOrigin()  # bit for bit through napari and back
    assert exact.GetSpacing() == original.GetSpacing()


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_a_save_that_fails_keeps_the_earlier_file_whole(small_disk: Path, suffix: str) -> None:
    """Saving a corrected mask again over an earlier save on a full disk fails naming the
    file, and the earlier save is still there byte for byte, with no temporary file: the file
    is written beside and renamed, never cut off in place."""
    target = small_disk / f"corrected{suffix}"
    earlier = Labels(np.zeros((4, 32, 32), dtype=np.uint8), name="mask")
    earlier.data[1:3, 8:20, 8:20] = 1
    earlier.save(str(target), plugin=PLUGIN)
    before = target.read_bytes()
    fill_disk(small_disk, 4096)  # less than the new mask's file
    noisy = np.random.default_rng(0).integers(0, 250, (8, 64, 64), dtype=np.uint8)
    with pytest.raises(WriteError, match=target.name):
        Labels(noisy, name="mask").save(str(target), plugin=PLUGIN)
    assert target.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == sorted(["filler", target.name])
