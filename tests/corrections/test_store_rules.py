"""The corrections store's rules against hostile stores: where a store may be, which dataset it
serves, how its files are named, and which corrected masks it refuses to apply."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.corrections import (
    CaseRef,
    CorrectionStore,
    attach,
    stack_refs,
    store_dir_for,
)
from napari_radiomics.errors import CorrectionsError, ReadError
from napari_radiomics.io import open_mat_stack, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import save_square, write_mat_folder


def _sources(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*.mat"))}


@pytest.mark.parametrize("how", ["masks folder links into the dataset", "store in the dataset"])
def test_a_store_inside_the_dataset_is_refused_and_no_source_is_written(
    tmp_path: Path, how: str
) -> None:
    folder = tmp_path / "brain"
    write_mat_folder(folder, 4)
    if how == "store in the dataset":
        root = folder / "brain.corrections"
    else:
        root = tmp_path / "brain.corrections"
        root.mkdir()
        (root / "masks").symlink_to(folder, target_is_directory=True)
    before = _sources(folder)
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True, root=root)
    store = session.store
    assert not store.writable
    assert f"inside the dataset {folder}" in store.read_only
    assert store.corrected_cases() == []  # the sources are not taken for corrections either
    session.mask[0, 2:7, 2:7] = 1  # painting: kept in memory, refused on disk
    assert session.autosave.flush(timeout=10)
    assert "inside the dataset" in session.autosave.unsaved[0]
    with pytest.raises(CorrectionsError, match="inside the dataset"):
        session.revert(1)  # Revert is refused: it deletes nothing
    assert _sources(folder) == before


def test_a_relative_corrections_home_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The viewer in one folder and extract in another would each read NAPARI_RADIOMICS_
    CORRECTIONS_HOME=stores as their own ./stores: extract would measure the originals."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    monkeypatch.setenv("NAPARI_RADIOMICS_CORRECTIONS_HOME", "stores")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorrectionsError, match="NAPARI_RADIOMICS_CORRECTIONS_HOME is a relative"):
        store_dir_for(folder)
    assert main(["extract", str(folder), "-o", str(tmp_path / "f.csv")]) == 2
    error = capsys.readouterr().err
    assert "stores: NAPARI_RADIOMICS_CORRECTIONS_HOME is a relative path" in error
    assert "absolute path" in error
    assert not (tmp_path / "f.csv").exists()


def test_another_datasets_store_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_mat_folder(first, 2)
    write_mat_folder(second, 2)  # the same case names: 1.mat, 2.mat
    root = tmp_path / "first.corrections"
    save_square(CorrectionStore(root, first), "1", first / "1.mat")
    output = tmp_path / "f.csv"
    assert main(["extract", str(second), "-o", str(output), "--corrections", str(root)]) == 2
    error = capsys.readouterr().err
    assert f"{root}: is the corrections store of the dataset {first}, not of {second}" in error
    assert not output.exists()
    # its own dataset still uses it, subfolders included (extract reads them with it)
    cases = discover_cases([first], corrections=root)
    assert [c.mask_source for c in cases] == ["corrected", "original"]


def test_a_case_whose_name_starts_with_a_dot_is_saved_and_reopened(tmp_path: Path) -> None:
    folder = tmp_path / "brain"
    folder.mkdir()
    names = [".5", "CON", "a:b", "x."]  # hidden, reserved on Windows, refused, trailing dot
    for seed, name in enumerate(names):
        write_tumor_mat(folder / f"{name}.mat", make_synthetic_slice(seed=seed, shape=(32, 32)))
    root = tmp_path / "brain.corrections"
    store = CorrectionStore(root, folder)
    saved = {name: save_square(store, name, folder / f"{name}.mat") for name in names}
    store.close()
    files = sorted(p.name for p in (root / "masks").iterdir())
    assert files == ["%2E5.mat", "%43ON.mat", "a%3Ab.mat", "x%2E.mat"]
    reopened = CorrectionStore(root, folder, write=False)
    assert reopened.corrected_cases() == sorted(names)
    for name, mask in saved.items():
        np.testing.assert_array_equal(reopened.load_mask(name, (32, 32)), mask)
    assert reopened.problems == []


def test_a_store_written_with_the_earlier_names_still_opens(tmp_path: Path) -> None:
    """Stores written before named masks with urllib's quote (``a%20b.mat``, ``.6.mat``):
    their corrections still apply, and a new save of such a case leaves one file."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    root = tmp_path / "brain.corrections"
    store = CorrectionStore(root, folder)
    corrected = save_square(store, "1", folder / "1.mat")
    store.close()
    masks = root / "masks"
    shutil.copy(masks / "1.mat", masks / "a%20b.mat")
    shutil.copy(masks / "1.mat", masks / ".6.mat")
    (masks / ".1.0123abcd.tmp.mat").write_bytes(b"half a write")  # a killed write's leftover
    reopened = CorrectionStore(root, folder)
    assert reopened.corrected_cases() == [".6", "1", "a b"]
    np.testing.assert_array_equal(reopened.load_mask("a b", (64, 64)), corrected)
    save_square(reopened, "a b", folder / "1.mat")
    assert sorted(p.name for p in masks.iterdir() if "tmp" not in p.name) == [
        ".6.mat",
        "1.mat",
        "a b.mat",
    ]
    reopened.close()


def _medical_case(tmp_path: Path) -> tuple[Path, Path, CorrectionStore]:
    """An NRRD image and mask with a saved correction; returns (image, mask, store)."""
    mask = np.zeros((4, 16, 16), np.uint8)
    mask[1:3, 4:10, 4:10] = 1
    image = sitk.GetImageFromArray(mask * 100)
    image.SetSpacing((0.5, 0.5, 2.0))
    folder = tmp_path / "ct"
    folder.mkdir()
    sitk.WriteImage(image, str(folder / "case.nrrd"))
    mask_image = sitk.GetImageFromArray(mask)
    mask_image.CopyInformation(image)
    sitk.WriteImage(mask_image, str(folder / "case_mask.nrrd"))
    store = CorrectionStore(store_dir_for(folder), folder)
    corrected = mask.copy()
    corrected[1, 10:12, 4:10] = 1
    store.save(CaseRef("case_mask", "medical", str(folder / "case_mask.nrrd")), corrected, mask)
    store.close()
    return folder / "case.nrrd", folder / "case_mask.nrrd", store


@pytest.mark.parametrize(
    ("values", "problem"),
    [(-1.0, "holds negative values"), (0.5, "holds non-integer values")],
)
def test_a_corrected_nrrd_mask_follows_the_mask_rule_everywhere(
    tmp_path: Path, values: float, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """-1 cast to uint8 would show and measure the whole volume as tumour, 0.5 nothing."""
    image, mask, store = _medical_case(tmp_path)
    saved = store.mask_file("case_mask")
    damaged = sitk.GetImageFromArray(np.full((4, 16, 16), values, np.float32))
    damaged.CopyInformation(sitk.ReadImage(str(saved)))
    sitk.WriteImage(damaged, str(saved))
    # the viewer's store: the original is used and the file named with its problem
    reopened = CorrectionStore(store.root, image.parent, write=False)
    assert reopened.load_mask("case_mask", (4, 16, 16)) is None
    assert f"{saved}: corrected mask {problem}" in "\n".join(reopened.problems)
    # a batch run and an export: the case fails, naming the file
    (case,) = discover_cases([image], mask=mask)
    assert case.mask_source == "corrected"
    with pytest.raises(ReadError, match=f"{saved}: corrected mask {problem}"):
        load_case(case)
    output = tmp_path / "export"
    export = ["export", str(image), "--mask", str(mask), "-o", str(output), "--format", "nifti"]
    assert main(export) == 2
    assert f"corrected mask {problem}" in capsys.readouterr().err
    assert not list(output.glob("*.nii.gz"))


def test_a_corrected_mask_of_another_shape_is_never_reshaped(tmp_path: Path) -> None:
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    root = tmp_path / "brain.corrections"
    store = CorrectionStore(root, folder)
    save_square(store, "1", folder / "1.mat")
    store.close()
    # 32x128 holds as many pixels as the case's 64x64
    other = make_synthetic_slice(shape=(32, 128))
    write_tumor_mat(root / "masks" / "1.mat", other, overwrite=True)
    reopened = CorrectionStore(root, folder, write=False)
    assert reopened.load_mask("1", (64, 64)) is None
    assert "1.mat: corrected mask is 32x128 but its case's mask is 64x64" in reopened.problems[-1]
    (case, _) = discover_cases([folder], corrections=root)
    with pytest.raises(ReadError, match="corrected mask is 32x128 but its case's mask is 64x64"):
        load_case(case)
