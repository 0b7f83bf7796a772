"""One way to tell what a path is and to open it (``io.paths``), for every kind of input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.errors import ReadError
from napari_radiomics.io import (
    MatStack,
    MedicalImage,
    NpyBundle,
    TumorSlice,
    classify_path,
    open_path,
    path_kind,
    source_of,
)
from sample_files import case_arrays, write_bundle, write_mat_folder, write_v5, write_v73


def test_a_mat_file_opens_as_its_slice(tmp_path: Path) -> None:
    for write, name in ((write_v73, "1.MAT"), (write_v5, "2.mat")):
        path = write(tmp_path / name, case_arrays())
        assert source_of(path) is not None
        assert path_kind(path) == "mat"
        tumor = open_path(path)
        assert isinstance(tumor, TumorSlice)
        assert tumor.patient_id == "MR048994B"
        np.testing.assert_array_equal(tumor.image, case_arrays()["image"])


def test_a_folder_of_mat_files_opens_as_a_stack(tmp_path: Path) -> None:
    write_mat_folder(tmp_path / "set", 4)  # two slices here, two in set/more
    assert path_kind(tmp_path / "set") == "mat_folder"
    stack = open_path(tmp_path / "set", scan_budget=None)
    assert isinstance(stack, MatStack)
    assert len(stack.slices) == 2  # a folder opens without its subfolders
    # Only in a subfolder: a case folder when searching recursively (batch), else nothing.
    assert path_kind(tmp_path) is None
    assert path_kind(tmp_path, recursive=True) == "mat_folder"


def test_a_bundle_opens_from_its_folder_or_any_of_its_files(tmp_path: Path) -> None:
    arrays = write_bundle(tmp_path / "bundle", 3)
    for given in ("", "images.npy", "masks.npy", "labels.npy", "patient_ids.npy"):
        source = source_of(tmp_path / "bundle" / given)
        assert source is not None
        assert (source.kind, source.path) == ("bundle", tmp_path / "bundle")
    bundle = open_path(tmp_path / "bundle" / "labels.npy")
    assert isinstance(bundle, NpyBundle)
    np.testing.assert_array_equal(bundle.labels, arrays["labels"])


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"])
def test_a_medical_image_opens_with_its_geometry(tmp_path: Path, suffix: str) -> None:
    image = sitk.GetImageFromArray(np.arange(24, dtype=np.int16).reshape(2, 3, 4) * 50)
    image.SetSpacing((0.5, 0.75, 3.0))
    path = tmp_path / f"scan{suffix}"
    sitk.WriteImage(image, str(path))
    assert path_kind(path) == "medical"
    opened = open_path(path)
    assert isinstance(opened, MedicalImage)
    assert opened.scale == (3.0, 0.75, 0.5)


def test_what_is_none_of_them_is_refused_naming_the_path(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    stray = tmp_path / "images.npy"  # a .npy that is not a bundle's is never claimed
    np.save(stray, np.zeros((2, 4, 4)))
    (tmp_path / "empty").mkdir()
    for path in (notes, stray, tmp_path / "empty"):
        assert source_of(path) is None
        with pytest.raises(ReadError, match=r"expected a brain-tumour \.mat file, a") as info:
            open_path(path)
        assert info.value.path == path
    with pytest.raises(ReadError, match=r"holds no \.mat files and is not a NumPy bundle"):
        classify_path(tmp_path / "empty")


def test_a_kind_the_caller_does_not_take_is_named_with_what_it_takes(tmp_path: Path) -> None:
    write_bundle(tmp_path / "bundle", 2)
    with pytest.raises(ReadError) as info:
        classify_path(tmp_path / "bundle", ("mat", "medical"), role="a maps input")
    assert info.value.path == tmp_path / "bundle"
    assert info.value.problem == (
        "a NumPy bundle (images.npy, masks.npy, labels.npy), not a maps input (expected a "
        "brain-tumour .mat file or an NRRD/NIfTI/MHA image "
        "(.nii.gz/.nii/.nrrd/.nhdr/.mha/.mhd))"
    )
    with pytest.raises(ReadError, match=r"not a batch input \(expected .*\) or a batch \.csv\)$"):
        classify_path(tmp_path / "x.txt", role="a batch input", others=("a batch .csv",))
