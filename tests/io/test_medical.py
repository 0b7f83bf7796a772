"""NRRD/NIfTI/MHA through SimpleITK: geometry kept in napari's axis order, masks recognised."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.convert import LayerData, layer_to_sitk
from napari_radiomics.errors import ReadError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.io.medical import (
    MAPS_FEATURES_FIELD,
    _gzip_nrrd_is_whole,
    case_name,
    read_medical_image,
    write_medical_image,
)

OBLIQUE = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def make_image(values: np.ndarray, direction: np.ndarray | None = None) -> sitk.Image:
    image = sitk.GetImageFromArray(values)
    direction = np.eye(3) if direction is None else direction
    image.SetSpacing((0.5, 0.75, 3.0))
    image.SetOrigin((-10.0, 20.0, 5.0))
    image.SetDirection(tuple(direction.ravel()))
    return image


def _write(path: Path, image: sitk.Image) -> Path:
    sitk.WriteImage(image, str(path))
    return path


def ramp() -> np.ndarray:
    return (np.arange(4 * 6 * 8, dtype=np.int16) * 13).reshape(4, 6, 8)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_spacing_and_origin_become_scale_and_translate(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t1{suffix}"
    sitk.WriteImage(make_image(ramp()), str(path))
    medical = read_medical_image(path)
    np.testing.assert_array_equal(medical.data, ramp())
    assert medical.scale == pytest.approx((3.0, 0.75, 0.5))
    assert medical.translate == pytest.approx((5.0, 20.0, -10.0))
    assert medical.affine is None
    assert not medical.is_mask
    assert medical.metadata == CaseMetadata("t1", path=str(path))
    assert medical.geometry["spacing"] == pytest.approx((0.5, 0.75, 3.0))


def test_direction_becomes_an_affine_that_matches_physical_points(tmp_path: Path) -> None:
    path = tmp_path / "oblique.nrrd"
    image = make_image(ramp(), OBLIQUE)
    sitk.WriteImage(image, str(path))
    medical = read_medical_image(path)
    assert medical.affine is not None
    index_xyz = (3, 2, 1)
    world = np.asarray(medical.scale) * np.array(index_xyz[::-1]) + np.asarray(medical.translate)
    world = (medical.affine @ np.r_[world, 1.0])[:3]
    expected = image.TransformIndexToPhysicalPoint(index_xyz)
    np.testing.assert_allclose(world[::-1], expected)
    layer = LayerData(medical.data, medical.scale, medical.translate, affine=medical.affine)
    back = layer_to_sitk(layer)  # what the writer and the engine do with such a layer
    assert back.GetSpacing() == pytest.approx(image.GetSpacing())
    assert back.GetOrigin() == pytest.approx(image.GetOrigin())
    assert back.GetDirection() == pytest.approx(image.GetDirection())


def test_masks_are_recognised_by_name_or_content(tmp_path: Path) -> None:
    labels = np.zeros((4, 6, 8), dtype=np.uint8)
    labels[1:3, 2:5, 3:7] = 1
    sitk.WriteImage(make_image(labels), str(tmp_path / "anything.nrrd"))
    assert read_medical_image(tmp_path / "anything.nrrd").is_mask
    as_float = make_image(labels.astype(np.float32))
    sitk.WriteImage(as_float, str(tmp_path / "case_seg.nii.gz"))
    mask = read_medical_image(tmp_path / "case_seg.nii.gz")
    assert mask.is_mask
    assert mask.data.dtype == np.uint8
    smooth = make_image(ramp().astype(np.float32) / 7.0)
    sitk.WriteImage(smooth, str(tmp_path / "t1_mask.mha"))
    with pytest.warns(UserWarning, match="named like a mask but holds non-integer values"):
        assert not read_medical_image(tmp_path / "t1_mask.mha").is_mask
    assert not read_medical_image(_write(tmp_path / "t1.nrrd", make_image(ramp()))).is_mask
    assert case_name(tmp_path / "case_seg.nii.gz") == "case_seg"


def test_pyradiomics_case_opens_with_its_geometry(pyradiomics_data: Path) -> None:
    image = read_medical_image(pyradiomics_data / "brain1_image.nrrd")
    label = read_medical_image(pyradiomics_data / "brain1_label.nrrd")
    reference = sitk.ReadImage(str(pyradiomics_data / "brain1_image.nrrd"))
    assert not image.is_mask
    assert label.is_mask
    assert image.scale == pytest.approx(reference.GetSpacing()[::-1])
    assert image.translate == pytest.approx(reference.GetOrigin()[::-1])
    assert image.data.shape == reference.GetSize()[::-1]


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.nrrd"
    path.write_text("NRRD0004\nnonsense\n")
    with pytest.raises(ReadError, match="SimpleITK cannot read it") as info:
        read_medical_image(path)
    assert info.value.path == path


def test_multichannel_image_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.nrrd"
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))
    with pytest.raises(ReadError, match=r"photo\.nrrd: .*components per pixel") as info:
        read_medical_image(path)
    assert info.value.path == path


def test_a_maps_file_whose_header_does_not_name_each_component_is_refused(
    tmp_path: Path,
) -> None:
    """A vector image is opened as maps only when its header field names each component once:
    two names for three components is an error naming the file and the field, not maps
    opened under the wrong names."""
    image = sitk.GetImageFromArray(np.zeros((2, 3, 4, 3)), isVector=True)
    image.SetMetaData(MAPS_FEATURES_FIELD, "original_glcm_Contrast original_firstorder_Mean")
    path = _write(tmp_path / "maps.nrrd", image)
    with pytest.raises(ReadError, match=rf"maps\.nrrd: .*{MAPS_FEATURES_FIELD} names 2 "):
        read_medical_image(path)


def test_a_cut_off_nrrd_is_told_from_a_whole_one(
    tmp_path: Path,
) -> None:
    """``write_medical_image`` checks a gzip NRRD file by decompressing its pixels, without
    an image reader: the whole file SimpleITK wrote passes, and the same file cut off anywhere
    (a full disk SimpleITK did not report), or holding only its header, or nothing, or with a
    byte more, does not."""
    values = np.random.default_rng(0).normal(size=(6, 7, 8))
    values[0, 0, :3] = np.nan
    path = tmp_path / "map.nrrd"
    write_medical_image(make_image(values), path)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), values)
    whole = path.read_bytes()
    assert _gzip_nrrd_is_whole(path, values)
    header = whole.index(b"\n\n") + 2
    for length in (len(whole) - 1, len(whole) - 4, (header + len(whole)) // 2, header, 0):
        path.write_bytes(whole[:length])
        assert not _gzip_nrrd_is_whole(path, values), length
    path.write_bytes(whole + b"\0")
    assert not _gzip_nrrd_is_whole(path, values)


def test_a_byte_changed_inside_the_gzip_stream_is_refused(tmp_path: Path) -> None:
    """A file of the right length whose compressed pixels hold one changed byte (the trailer,
    which carries the stream's length and CRC-32, intact) is not taken for whole: the pixels
    are decompressed and their CRC-32 compared with the image's."""
    values = np.random.default_rng(1).normal(size=(6, 7, 8))
    path = tmp_path / "map.nrrd"
    write_medical_image(make_image(values), path)
    whole = path.read_bytes()
    start = whole.index(b"\n\n") + 2
    for offset in (start + 12, (start + len(whole)) // 2, len(whole) - 12):
        damaged = bytearray(whole)
        damaged[offset] ^= 0x01
        path.write_bytes(bytes(damaged))
        assert not _gzip_nrrd_is_whole(path, values), offset
    path.write_bytes(whole)
    other = values.copy()
    other[3, 3, 3] += 1.0  # the file is whole, but not of this image
    assert not _gzip_nrrd_is_whole(path, other)


def test_an_nrrd_with_a_header_longer_than_64_kib_is_written(tmp_path: Path) -> None:
    """A header field of 80 KB (``maps --single-file`` names every map in one; all image
    types make ~76 KB) is read to its end: the whole file is accepted, not refused as
    incomplete and deleted."""
    values = np.random.default_rng(2).normal(size=(3, 4, 5))
    image = make_image(values)
    names = " ".join(f"wavelet-LLH_glcm_feature_number_{i:05d}" for i in range(2000))
    image.SetMetaData("napari_radiomics_features", names)
    path = tmp_path / "maps.nrrd"
    write_medical_image(image, path)
    back = sitk.ReadImage(str(path))
    assert len(back.GetMetaData("napari_radiomics_features")) > 1 << 16
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), values)


#: Run in a child whose files the OS cuts at 64 KiB (``RLIMIT_FSIZE``; SIGXFSZ ignored, so a
#: write past it is a short write, as on a full disk): prints the error or "written".
_CUT_OFF_WRITE = """
import resource, signal, sys
from pathlib import Path
import numpy as np, SimpleITK as sitk
from napari_radiomics.io import write_medical_image
from napari_radiomics.io.nrrd_maps import nrrd_bytes, write_nrrd
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
values = np.random.default_rng(0).normal(size=(40, 50, 60))  # ~900 KB compressed
data = nrrd_bytes(values, (1.0,) * 3, (0.0,) * 3, (1, 0, 0, 0, 1, 0, 0, 0, 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
try:
    if sys.argv[2] == "write_nrrd":
        write_nrrd(Path(sys.argv[1]), data)
    else:
        write_medical_image(sitk.GetImageFromArray(values), sys.argv[1])
except OSError as err:
    print(f"OSError: {err}")
else:
    print("written")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="file size limits are POSIX (setrlimit)")
@pytest.mark.parametrize(
    ("name", "writer", "error"),
    [
        ("cut.nii.gz", "write_medical_image", "the file written is incomplete; is the disk full?"),
        ("cut.nrrd", "write_medical_image", "failed to write to file"),  # SimpleITK's report
        ("cut.nrrd", "write_nrrd", "File too large"),  # Python's own write
    ],
)
def test_a_file_the_os_cuts_off_is_an_error_from_either_writer(
    tmp_path: Path, name: str, writer: str, error: str
) -> None:
    """A real short write: the OS stops the file at 64 KiB. SimpleITK writes a cut-off NIfTI
    file without a word; ``write_medical_image`` still raises, and for NRRD it passes on
    SimpleITK's own report; the maps' ``write_nrrd`` raises Python's own error."""
    path = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-c", _CUT_OFF_WRITE, str(path), writer],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.startswith("OSError: "), done.stdout
    assert error in done.stdout
    assert path.stat().st_size == 1 << 16


def test_read_medical_sitk_gives_the_file_as_stored_and_refuses_what_is_no_grey_level_image(
    tmp_path: Path,
) -> None:
    """The engine's read (``maps``): the pixels, type and geometry as the file stores them, with
    no napari conversion (an image named like a mask, with negative values, is still an
    image); a ``maps --single-file`` file and a vector image are refused naming the file."""
    from napari_radiomics.io.medical import read_medical_sitk

    values = np.arange(-30, 30, dtype=np.int16).reshape(3, 4, 5)
    path = _write(tmp_path / "ct_seg.nrrd", make_image(values, OBLIQUE))
    image = read_medical_sitk(path)
    assert image.GetPixelID() == sitk.sitkInt16
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), values)
    written = make_image(values, OBLIQUE)
    for get in ("GetSpacing", "GetOrigin", "GetDirection"):
        assert getattr(image, get)() == getattr(written, get)()
    vector = sitk.GetImageFromArray(np.zeros((3, 4, 5, 2)), isVector=True)
    maps = sitk.Image(vector)
    maps.SetMetaData(MAPS_FEATURES_FIELD, "original_glcm_Contrast original_firstorder_Mean")
    for name, image, reason in (
        ("maps.nrrd", maps, "is a maps.nrrd of `maps --single-file` (2 feature map"),
        ("rgb.nrrd", vector, "2 components per pixel"),
    ):
        with pytest.raises(ReadError, match=rf"{name}: .*{re.escape(reason)}"):
            read_medical_sitk(_write(tmp_path / name, image))
