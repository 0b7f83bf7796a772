"""The brain-tumour .mat reader and writer against files laid out like the dataset's."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import hdf5storage
import numpy as np
import pytest
import scipy.io
from skimage.draw import polygon

from napari_radiomics import TumorSlice, read_tumor_mat, write_tumor_mat
from napari_radiomics.errors import ReadError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.io.mat import border_from_mask, read_mat_header, read_tumor_mask
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import ROWS, case_arrays, write_v5, write_v73

WRITERS = {"v7.3": write_v73, "v5": write_v5}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def filled(border: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows, cols = polygon(border[:, 0], border[:, 1], shape)
    out = np.zeros(shape, dtype=bool)
    out[rows, cols] = True
    return out


@pytest.mark.parametrize("version", WRITERS)
def test_reads_orientation_dtype_and_identity(tmp_path: Path, version: str) -> None:
    fields = case_arrays()
    path = WRITERS[version](tmp_path / "17.mat", fields)
    tumor = read_tumor_mat(path)
    np.testing.assert_array_equal(tumor.image, fields["image"])
    assert tumor.image.dtype == np.int16
    assert tumor.mask.dtype == bool
    np.testing.assert_array_equal(tumor.mask, fields["tumorMask"])
    expected_border = [(4.5, 29.5), (4.5, 49.5), (14.5, 49.5), (14.5, 29.5)]
    np.testing.assert_allclose(tumor.border, expected_border)
    assert (tumor.label, tumor.tumor_type, tumor.patient_id) == (2, "glioma", "MR048994B")
    assert tumor.metadata == CaseMetadata("17", "MR048994B", 2, "glioma", str(path))
    assert tumor.metadata.as_dict() == {
        "case": "17",
        "patient_id": "MR048994B",
        "label": 2,
        "tumor_type": "glioma",
        "path": str(path),
    }
    assert dice(filled(tumor.border, tumor.image.shape), tumor.mask) > 0.9


@pytest.mark.parametrize("version", WRITERS)
def test_header_reads_shape_and_identity_only(tmp_path: Path, version: str) -> None:
    path = WRITERS[version](tmp_path / "3.mat", case_arrays())
    header = read_mat_header(path)
    assert header.shape == (40, 56)
    assert header.dtype == np.int16
    assert (header.label, header.patient_id) == (2, "MR048994B")


@pytest.mark.parametrize("version", ["7.3", "5"])
def test_write_read_round_trip_keeps_everything(tmp_path: Path, version: str) -> None:
    tumor = make_synthetic_slice(seed=3, shape=(96, 80), label=3, patient_id="100360")
    path = write_tumor_mat(tmp_path / "case.mat", tumor, format=version)
    back = read_tumor_mat(path)
    np.testing.assert_array_equal(back.image, tumor.image)
    np.testing.assert_array_equal(back.mask, tumor.mask)
    np.testing.assert_allclose(back.border, tumor.border)
    assert (back.label, back.tumor_type, back.patient_id) == (3, "pituitary tumor", "100360")
    assert back.image.dtype == np.int16
    assert dice(filled(back.border, back.image.shape), back.mask) > 0.9


def test_written_v73_has_matlabs_raw_layout(tmp_path: Path) -> None:
    tumor = make_synthetic_slice(seed=1, shape=(64, 48), label=1, patient_id="MR1")
    path = write_tumor_mat(tmp_path / "1.mat", tumor)
    head = path.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file")
    assert b"HDF5 schema 1.00" in head
    assert head[124:128] == b"\x00\x02IM"
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        group = f["cjdata"]
        assert group.attrs["MATLAB_class"] == b"struct"
        classes = {name: group[name].attrs["MATLAB_class"] for name in group}
        assert classes == {
            "label": b"double",
            "PID": b"char",
            "image": b"int16",
            "tumorBorder": b"double",
            "tumorMask": b"logical",
        }
        assert group["image"].shape == (48, 64)  # transposed: MATLAB is column-major
        assert group["image"].dtype == np.int16
        np.testing.assert_array_equal(group["image"][()].T, tumor.image)
        assert group["tumorMask"].dtype == np.uint8
        np.testing.assert_array_equal(group["tumorMask"][()].T, tumor.mask)
        assert group["PID"].dtype == np.uint16
        assert group["PID"].shape == (3, 1)
        assert group["label"].shape == (1, 1)
        assert group["tumorBorder"].shape == (1, 2 * len(tumor.border))
        xy = group["tumorBorder"][()].reshape(-1, 2)
        np.testing.assert_allclose(xy, tumor.border[:, ::-1] + 1)  # x = column, 1-based


def test_written_files_open_in_independent_matlab_readers(tmp_path: Path) -> None:
    tumor = make_synthetic_slice(seed=2, shape=(64, 72), label=2, patient_id="MR048994B")
    v73 = hdf5storage.loadmat(str(write_tumor_mat(tmp_path / "a.mat", tumor)))["cjdata"]
    np.testing.assert_array_equal(v73["image"][0], tumor.image)  # a (1,) struct array
    np.testing.assert_array_equal(v73["tumorMask"][0], tumor.mask)
    assert v73["tumorMask"].dtype == bool  # MATLAB_class 'logical' is honoured
    assert v73["PID"].ravel()[0] == "MR048994B"
    v5 = scipy.io.loadmat(write_tumor_mat(tmp_path / "b.mat", tumor, format="5"))["cjdata"]
    np.testing.assert_array_equal(v5["image"][0, 0], tumor.image)
    assert v5["PID"][0, 0][0] == "MR048994B"
    assert float(v5["label"][0, 0][0, 0]) == 2.0


def test_writer_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    tumor = make_synthetic_slice(seed=0, shape=(48, 48))
    path = write_tumor_mat(tmp_path / "1.mat", tumor)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"1\.mat"):
        write_tumor_mat(path, tumor)
    assert path.read_bytes() == before
    write_tumor_mat(path, make_synthetic_slice(seed=5, shape=(48, 48)), overwrite=True)
    assert not np.array_equal(read_tumor_mat(path).image, tumor.image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.mat"]  # no temporary left


def _truncated(tmp_path: Path) -> Path:
    path = write_v73(tmp_path / "cut.mat", case_arrays())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _mask_shape(tmp_path: Path, writer: str) -> Path:
    fields = case_arrays()
    fields["tumorMask"] = np.ones((ROWS, 20), dtype=bool)
    return WRITERS[writer](tmp_path / "shape.mat", fields)


def _empty_mask(tmp_path: Path) -> Path:
    fields = case_arrays()
    fields["tumorMask"] = np.zeros((ROWS, 56), dtype=bool)
    return write_v73(tmp_path / "empty.mat", fields)


def _other_v73(tmp_path: Path) -> Path:
    path = tmp_path / "other.mat"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    return path


def _unwritten(tmp_path: Path, name: str, columns: int, chunks: tuple[int, int] | None) -> Path:
    """The reference case with the field ``name`` re-created (chunked and compressed, or
    contiguous when ``chunks`` is None) and only its first ``columns`` columns of HDF5's
    (transposed) layout written: the rest was never stored, as in a file cut or damaged while
    written, and HDF5 reads it as its fill value, zeros."""
    path = write_v73(tmp_path / "unwritten.mat", case_arrays())
    with h5py.File(path, "r+") as f:
        values, matlab_class = f["cjdata"][name][()], f["cjdata"][name].attrs["MATLAB_class"]
        del f["cjdata"][name]
        options = {} if chunks is None else {"chunks": chunks, "compression": "gzip"}
        dataset = f["cjdata"].create_dataset(name, values.shape, values.dtype, **options)
        if columns:
            dataset[:, :columns] = values[:, :columns]
        dataset.attrs["MATLAB_class"] = matlab_class
    return path


BAD_FILES = {
    "image chunks never written": (
        lambda p: _unwritten(p, "image", 16, (16, 16)),
        r"cjdata\.image: 8 of its 12 chunks are missing from the file",
    ),
    "mask chunk never written": (
        lambda p: _unwritten(p, "tumorMask", 32, (16, 16)),
        r"cjdata\.tumorMask: 4 of its 12 chunks are missing",
    ),
    "border never written": (
        lambda p: _unwritten(p, "tumorBorder", 0, None),
        r"cjdata\.tumorBorder: its values were never written to the file",
    ),
    "truncated v7.3": (_truncated, "truncated"),
    "text named .mat": (
        lambda p: (p / "notes.mat").write_text("hello") and p / "notes.mat",
        "not a MATLAB",
    ),
    "no cjdata (v7.3)": (_other_v73, "no 'cjdata'"),
    "no cjdata (v5)": (
        lambda p: scipy.io.savemat(p / "x.mat", {"img": np.ones(3)}) or p / "x.mat",
        "no 'cjdata'",
    ),
    "missing mask (v7.3)": (
        lambda p: write_v73(p / "m.mat", case_arrays(), omit=["tumorMask"]),
        "missing field.*cjdata.tumorMask",
    ),
    "missing PID (v5)": (
        lambda p: write_v5(p / "m.mat", case_arrays(), omit=["PID"]),
        "missing field.*cjdata.PID",
    ),
    "mask shape (v7.3)": (lambda p: _mask_shape(p, "v7.3"), "mask shape .* differs"),
    "mask shape (v5)": (lambda p: _mask_shape(p, "v5"), "mask shape .* differs"),
    "empty mask": (_empty_mask, "empty tumour mask"),
    "bad label": (
        lambda p: write_v73(p / "l.mat", {**case_arrays(), "label": 7}),
        "label must be 1, 2 or 3",
    ),
    "missing file": (lambda p: p / "absent.mat", "file not found"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    make, problem = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(ReadError, match=problem) as info:
        read_tumor_mat(path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_empty_mask_is_readable_when_allowed(tmp_path: Path) -> None:
    tumor = read_tumor_mat(_empty_mask(tmp_path), allow_empty_mask=True)
    assert not tumor.mask.any()


def test_border_from_mask_outlines_the_largest_component() -> None:
    mask = np.zeros((30, 40), dtype=bool)
    mask[2:5, 2:5] = True  # small blob, ignored
    mask[10:25, 12:35] = True
    mask[15:20, 20:28] = False  # a hole does not change the outline
    border = border_from_mask(mask)
    assert border.shape[1] == 2
    assert border[:, 0].min() == pytest.approx(9.5)
    assert border[:, 1].max() == pytest.approx(34.5)
    big = np.zeros_like(mask)
    big[10:25, 12:35] = True
    np.testing.assert_array_equal(filled(border, mask.shape), big)
    assert border_from_mask(np.zeros((5, 5), dtype=bool)).shape == (0, 2)


def test_tumor_slice_rejects_inconsistent_arrays() -> None:
    with pytest.raises(ValueError, match="mask shape"):
        TumorSlice(
            image=np.zeros((4, 5), np.int16),
            mask=np.zeros((5, 4), bool),
            border=np.zeros((0, 2)),
            label=1,
            tumor_type="meningioma",
            patient_id="1",
        )


def test_read_error_survives_a_process_pool(tmp_path: Path) -> None:
    """Batch workers send errors back pickled: path and problem must come through."""
    error = pickle.loads(pickle.dumps(ReadError(tmp_path / "9.mat", "empty tumour mask")))
    assert isinstance(error, ValueError)
    assert (error.path, error.problem) == (tmp_path / "9.mat", "empty tumour mask")
    assert str(error) == f"{tmp_path / '9.mat'}: empty tumour mask"


@pytest.mark.parametrize("version", ["7.3", "5"])
def test_empty_mask_and_border_round_trip_when_allowed(tmp_path: Path, version: str) -> None:
    tumor = make_synthetic_slice(seed=0, shape=(40, 40))
    empty = TumorSlice(
        image=tumor.image,
        mask=np.zeros_like(tumor.mask),
        border=np.zeros((0, 2)),
        label=1,
        tumor_type="meningioma",
        patient_id="P",
    )
    path = write_tumor_mat(tmp_path / "e.mat", empty, format=version)
    if version == "7.3":
        with h5py.File(path, "r") as f:
            assert f["cjdata/tumorBorder"].attrs["MATLAB_empty"] == 1
    back = read_tumor_mat(path, allow_empty_mask=True)
    assert back.border.shape == (0, 2)
    assert not back.mask.any()


def test_a_damaged_chunk_is_named_as_hdf5_names_it(tmp_path: Path) -> None:
    """A chunk of the image whose compressed bytes are damaged: the direct reader gives up and
    the full reader names the file and HDF5's problem, as before."""
    path = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=3, shape=(512, 512)))
    with h5py.File(path, "r") as f:
        info = f["cjdata/image"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    middle = info.byte_offset + info.size // 2
    data[middle : middle + 64] = bytes(range(64))
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match=r"corrupt or truncated MATLAB 7\.3") as raised:
        read_tumor_mat(path)
    assert str(raised.value).startswith(f"{path}: ")


@pytest.mark.parametrize("name", ["image", "tumorMask"])
def test_a_chunk_never_written_is_refused_by_every_reader(tmp_path: Path, name: str) -> None:
    """HDF5 reads a chunk missing from the file as zeros: a damaged slice would pass for a
    valid one with a black part. The pixels' reader and the mask's reader (the check before a
    run, which reads the mask through HDF5's low-level calls) both refuse it, naming the file
    and the field."""
    path = _unwritten(tmp_path, name, 16, (16, 16))
    with h5py.File(path, "r") as f:  # what HDF5 alone makes of it: a plausible array
        assert f["cjdata"][name][()].shape == case_arrays()[name].T.shape
    for read in (read_tumor_mat, read_tumor_mask):
        with pytest.raises(ReadError, match=rf"cjdata\.{name}: \d+ of its 12 chunks are missing"):
            read(path)


def test_a_byte_mask_is_tumour_wherever_it_is_not_zero(tmp_path: Path) -> None:
    """MATLAB's ``logical`` bytes are read as booleans without a copy when they are 0 and 1;
    a byte mask holding other labels (2 here) still reads as tumour wherever it is not 0, by
    both readers of the mask, and an all-zero one is still empty."""
    fields = case_arrays()
    labels = fields["tumorMask"].astype(np.uint8)
    rows, cols = np.nonzero(labels)
    labels[rows[::2], cols[::2]] = 2  # every other tumour pixel
    assert set(np.unique(labels)) == {0, 1, 2}
    for name, mask in {"01": fields["tumorMask"], "012": labels}.items():
        path = write_v73(tmp_path / f"{name}.mat", {**fields, "tumorMask": mask})
        tumor = read_tumor_mat(path)
        assert tumor.mask.dtype == bool
        np.testing.assert_array_equal(tumor.mask, mask != 0)
        np.testing.assert_array_equal(read_tumor_mask(path)[1], mask != 0)
    empty = write_v73(tmp_path / "zeros.mat", {**fields, "tumorMask": np.zeros_like(labels)})
    with pytest.raises(ReadError, match="empty tumour mask"):
        read_tumor_mat(empty)
    assert not read_tumor_mat(empty, allow_empty_mask=True).mask.any()
