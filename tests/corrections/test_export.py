"""A corrected dataset exported as .mat files, a NumPy bundle or NIfTI reads back exactly."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.batch import discover_cases
from napari_radiomics.cli import main
from napari_radiomics.corrections import attach, stack_refs
from napari_radiomics.io import open_mat_stack, read_npy_bundle, read_tumor_mat
from sample_files import write_mat_folder


@pytest.fixture
def corrected(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder of 3 slices (and 3 more in a subfolder); slice 2.mat corrected in memory."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    session.mask[1, 2:10, 2:20] = 1
    assert session.autosave.flush(timeout=10)
    masks = {c.case_id: np.asarray(read_tumor_mat(c.path).mask) for c in discover_cases([folder])}
    masks["2"] = session.mask.slice(1) != 0
    return folder, masks


def test_mat_export_round_trips_and_copies_uncorrected_cases(corrected, tmp_path: Path) -> None:
    folder, masks = corrected
    out = tmp_path / "out"
    assert main(["export", str(folder), "-o", str(out)]) == 0
    for case, mask in masks.items():
        np.testing.assert_array_equal(read_tumor_mat(out / f"{case}.mat").mask, mask)
    assert (out / "1.mat").read_bytes() == (folder / "1.mat").read_bytes()
    exported, source = read_tumor_mat(out / "2.mat"), read_tumor_mat(folder / "2.mat")
    np.testing.assert_array_equal(exported.image, source.image)
    assert (exported.label, exported.patient_id) == (source.label, source.patient_id)
    with h5py.File(out / "2.mat") as handle:  # what MATLAB and h5py users open
        assert set(handle["cjdata"]) == {"label", "PID", "image", "tumorBorder", "tumorMask"}
    # the export reopens as a dataset of its own, with the corrected masks as its originals
    again = {c.case_id: c.mask_source for c in discover_cases([out])}
    assert set(again.values()) == {"original"}


def test_bundle_and_nifti_exports_round_trip(corrected, tmp_path: Path) -> None:
    folder, masks = corrected
    assert main(["export", str(folder), "-o", str(tmp_path / "npy"), "--format", "npy"]) == 0
    bundle = read_npy_bundle(tmp_path / "npy")
    cases = [c.case_id for c in discover_cases([folder])]
    for index, case in enumerate(cases):
        np.testing.assert_array_equal(np.asarray(bundle.masks[index]) != 0, masks[case])
    assert bundle.patient_ids.tolist() == [
        read_tumor_mat(c.path).patient_id for c in discover_cases([folder])
    ]
    assert main(["export", str(folder), "-o", str(tmp_path / "nii"), "--format", "nifti"]) == 0
    for case in cases:
        image = sitk.ReadImage(str(tmp_path / "nii" / f"{case}_mask.nii.gz"))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image) != 0, masks[case])


def test_export_never_writes_into_a_folder_that_holds_files(corrected, capsys) -> None:
    folder, _ = corrected
    assert main(["export", str(folder), "-o", str(folder)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
