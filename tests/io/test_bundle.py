"""The pre-converted NumPy bundle: memory-mapped, consistent, and never unpickled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_radiomics.errors import ReadError
from napari_radiomics.io.bundle import is_npy_bundle, read_npy_bundle
from sample_files import write_bundle


def test_reads_memory_mapped_arrays_and_a_slice_table(tmp_path: Path) -> None:
    arrays = write_bundle(tmp_path)
    assert is_npy_bundle(tmp_path)
    bundle = read_npy_bundle(tmp_path)
    assert isinstance(bundle.images, np.memmap)
    np.testing.assert_array_equal(bundle.images, arrays["images"])
    assert bundle.masks.dtype == np.uint8  # napari labels need integers
    np.testing.assert_array_equal(bundle.masks, arrays["masks"])
    assert bundle.patient_ids.tolist() == ["P0", "P1", "P2"]
    table = bundle.slices
    assert table["tumor_type"].tolist() == ["meningioma", "glioma", "pituitary tumor"]
    assert sorted(table["case"]) == ["0", "1", "2"]  # rows in the order cases finish


def test_byte_string_patient_ids_are_decoded(tmp_path: Path) -> None:
    write_bundle(tmp_path, ids=np.array([b"100360", b"MR048994B", b"7"]))
    assert read_npy_bundle(tmp_path).patient_ids.tolist() == ["100360", "MR048994B", "7"]


def test_object_arrays_of_plain_values_are_read_and_others_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path, ids=np.array(["a", 2, "c"], dtype=object))
    assert read_npy_bundle(tmp_path).patient_ids.tolist() == ["a", "2", "c"]
    np.save(tmp_path / "patient_ids.npy", np.array(["a", {"x": 1}, "c"], dtype=object))
    with pytest.raises(ReadError, match=r"objects other than text and numbers") as e:
        read_npy_bundle(tmp_path)
    assert e.value.path == tmp_path / "patient_ids.npy"
    assert "allow_pickle" not in str(e.value)  # never advice that runs a payload
    np.save(tmp_path / "images.npy", np.zeros((3, 32, 48), dtype=object))
    with pytest.raises(ReadError, match=r"images\.npy: holds Python objects, not numbers"):
        read_npy_bundle(tmp_path)


def test_inconsistent_or_incomplete_bundles_are_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path / "a")
    np.save(tmp_path / "a" / "masks.npy", np.zeros((3, 32, 47), dtype=bool))
    with pytest.raises(ReadError, match=r"masks.npy: mask shape"):
        read_npy_bundle(tmp_path / "a")
    write_bundle(tmp_path / "b")
    np.save(tmp_path / "b" / "labels.npy", np.array([1, 2, 5]))
    with pytest.raises(ReadError, match=r"labels.npy: labels must be 1, 2 or 3"):
        read_npy_bundle(tmp_path / "b")
    write_bundle(tmp_path / "c")
    (tmp_path / "c" / "images.npy").write_bytes(b"garbage")
    with pytest.raises(ReadError, match=r"images.npy: not a .npy file"):
        read_npy_bundle(tmp_path / "c")
    truncated = (tmp_path / "a" / "images.npy").read_bytes()[:200]
    (tmp_path / "c" / "images.npy").write_bytes(truncated)
    with pytest.raises(ReadError, match=r"images.npy: not a readable .npy"):
        read_npy_bundle(tmp_path / "c")
    write_bundle(tmp_path / "d")
    (tmp_path / "d" / "labels.npy").unlink()
    assert not is_npy_bundle(tmp_path / "d")
    with pytest.raises(ReadError, match=r"missing labels.npy"):
        read_npy_bundle(tmp_path / "d")


def test_the_three_file_form_opens_and_runs_with_empty_patient_ids(tmp_path: Path) -> None:
    """What the widely used conversion script writes: no patient_ids.npy, labels (N, 1, 1) as
    some notebooks save them, masks as 0/1 floats."""
    from napari_radiomics.cli import main
    from napari_radiomics.results import read_table

    arrays = write_bundle(tmp_path / "b", 3)
    (tmp_path / "b" / "patient_ids.npy").unlink()
    np.save(tmp_path / "b" / "labels.npy", arrays["labels"].reshape(3, 1, 1).astype(float))
    np.save(tmp_path / "b" / "masks.npy", arrays["masks"].astype(np.float32))
    bundle = read_npy_bundle(tmp_path / "b")
    assert bundle.patient_ids.tolist() == ["", "", ""]
    assert bundle.labels.tolist() == arrays["labels"].tolist()
    np.testing.assert_array_equal(np.asarray(bundle.masks[1]), arrays["masks"][1])
    out = tmp_path / "f.csv"
    assert (
        main(["extract", str(tmp_path / "b"), "-o", str(out), "--preset", "brain-tumor-mri", "-q"])
        == 0
    )
    table = read_table(out)
    assert sorted(table["case"]) == ["0", "1", "2"]  # rows in the order cases finish
    assert table["patient_id"].isna().all()  # an empty id is an empty CSV field
