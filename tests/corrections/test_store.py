"""The corrections store: what is saved, where, how it reopens, and what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.corrections import (
    CaseRef,
    CorrectionStore,
    attach,
    compare_masks,
    mask_digest,
    stack_refs,
    store_dir_for,
)
from napari_radiomics.corrections.location import remember_store
from napari_radiomics.errors import CorrectionsError
from napari_radiomics.io import open_mat_stack, read_tumor_mat
from sample_files import write_mat_folder


def _folder(tmp_path: Path, n: int = 6) -> Path:
    """A dataset folder with `n` // 2 slices at its top (the others in a subfolder)."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, n)
    return folder


def _paint(session, index: int) -> np.ndarray:
    """Add a 5x5 square beside the tumour of case ``index``; returns the corrected slice."""
    session.mask[index, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    return session.mask.slice(index)


def test_a_painted_slice_is_a_readable_mat_with_provenance(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    session = attach(stack.mask, refs, folder, stack=True)
    corrected = _paint(session, 1)
    root = store_dir_for(folder)
    saved = root / "masks" / f"{refs[1].case}.mat"
    assert saved.is_file()
    with h5py.File(saved) as handle:  # a MATLAB v7.3 file with the dataset's fields
        assert set(handle["cjdata"]) == {"label", "PID", "image", "tumorBorder", "tumorMask"}
    tumor, source = read_tumor_mat(saved), read_tumor_mat(refs[1].path)
    np.testing.assert_array_equal(tumor.mask, corrected != 0)
    np.testing.assert_array_equal(tumor.image, source.image)
    assert (tumor.label, tumor.patient_id) == (source.label, source.patient_id)
    assert len(tumor.border) >= 3
    row = session.store.review_table().set_index("case").loc[refs[1].case]
    change = compare_masks(source.mask, corrected)
    assert row["status"] == "corrected"
    assert int(row["voxels_added"]) == change.voxels_added > 0
    assert float(row["dice"]) == pytest.approx(change.dice)
    assert row["distance_unit"] == "px"
    assert row["user"]
    assert row["mask_digest"] == mask_digest(corrected)
    # the source file is untouched, and the store is where the docs say: beside the dataset
    np.testing.assert_array_equal(read_tumor_mat(refs[1].path).mask, stack.mask[1].compute() != 0)


def test_reopening_applies_the_correction_and_revert_restores_the_original(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    first = attach(stack.mask, refs, folder, stack=True)
    corrected = _paint(first, 2)
    first.set_status(0, "flagged", "border unclear")
    assert first.autosave.flush(timeout=10)
    reopened = CorrectionStore(store_dir_for(folder), folder, write=False)
    np.testing.assert_array_equal(reopened.load_mask(refs[2].case, (64, 64)), corrected)
    assert reopened.status(refs[0].case) == "flagged"
    assert reopened.note(refs[0].case) == "border unclear"
    assert first.reviewed() == (2, len(refs))
    first.revert(2)
    assert first.autosave.flush(timeout=10)
    np.testing.assert_array_equal(first.mask.slice(2), stack.mask[2].compute())
    again = CorrectionStore(store_dir_for(folder), folder, write=False)
    assert again.corrected_cases() == []
    assert again.status(refs[2].case) == "unreviewed"
    events = again.log_table()["event"].tolist()
    assert events == ["corrected", "status", "reverted"]


def test_a_medical_mask_keeps_its_geometry(tmp_path: Path) -> None:
    mask = np.zeros((6, 20, 30), np.uint8)
    mask[2:4, 5:15, 5:20] = 1
    image = sitk.GetImageFromArray(mask)
    image.SetSpacing((0.5, 0.8, 2.5))
    image.SetOrigin((10.0, -4.0, 3.0))
    source = tmp_path / "ct" / "case_mask.nrrd"
    source.parent.mkdir()
    sitk.WriteImage(image, str(source))
    ref = CaseRef("case_mask", "medical", str(source), spacing=(2.5, 0.8, 0.5))
    session = attach(mask, [ref], source, stack=False)
    session.mask[3, 15:18, 5:20] = 1
    assert session.autosave.flush(timeout=10)
    saved = sitk.ReadImage(str(store_dir_for(source) / "masks" / "case_mask.nrrd"))
    assert saved.GetSpacing() == image.GetSpacing()
    assert saved.GetOrigin() == image.GetOrigin()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(saved), np.asarray(session.mask))
    row = session.store.review_table().iloc[0]
    assert row["distance_unit"] == "mm"
    assert float(row["hd95"]) > 0


def test_the_default_store_sits_beside_the_dataset_and_a_choice_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAPARI_RADIOMICS_CORRECTIONS_HOME")
    folder = tmp_path / "data" / "brain"
    folder.mkdir(parents=True)
    assert store_dir_for(folder) == tmp_path / "data" / "brain.corrections"
    assert store_dir_for(folder / "17.mat") == store_dir_for(folder)  # one store per folder
    remember_store(folder, tmp_path / "elsewhere")
    assert store_dir_for(folder) == tmp_path / "elsewhere"


def _unwritable_location(tmp_path: Path) -> Path:
    """A folder this process cannot write: a read-only folder, or for root (whom permissions
    do not stop) sysfs, which refuses new entries to everyone."""
    if os.geteuid() == 0:
        return Path("/sys/napari-radiomics-test.corrections")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked / "store"


def test_an_unwritable_location_is_named_before_anything_is_painted(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 1)
    store = CorrectionStore(_unwritable_location(tmp_path), folder)
    assert not store.writable
    assert "cannot be written" in store.read_only
    ref = CaseRef("1", "mat", str(folder / "1.mat"))
    with pytest.raises(CorrectionsError, match="cannot be written"):
        store.save(ref, np.ones((64, 64), np.uint8), np.zeros((64, 64), np.uint8))


def test_an_edit_the_store_refuses_is_kept_and_saved_after_relocating(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    session = attach(stack.mask, refs, folder, stack=True, root=_unwritable_location(tmp_path))
    errors: list[tuple[int, str]] = []
    session.listeners.append(lambda i, event: errors.append((i, event)))
    corrected = _paint(session, 0)
    assert 0 in session.autosave.unsaved
    assert errors
    assert errors[-1][1].startswith("error")
    store = session.relocate(tmp_path / "chosen")
    assert store.writable
    assert session.autosave.flush(timeout=10)
    assert session.autosave.unsaved == {}
    np.testing.assert_array_equal(store.load_mask(refs[0].case, (64, 64)), corrected)
    assert store_dir_for(folder) == tmp_path / "chosen"


_HOLDER = """
import sys, time
import numpy as np
from napari_radiomics.corrections import CaseRef, CorrectionStore
store = CorrectionStore(sys.argv[1], sys.argv[2])
ref = CaseRef("1", "mat", sys.argv[3])
store.save(ref, np.ones((64, 64), np.uint8), np.zeros((64, 64), np.uint8))
print("holding", flush=True)
time.sleep(60)
"""


def test_a_second_process_gets_a_clear_message_and_cannot_corrupt_the_store(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, 1)
    root = tmp_path / "shared.corrections"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_HOLDER),
            str(root),
            str(folder),
            str(folder / "1.mat"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        second = CorrectionStore(root, folder)
        assert not second.writable
        assert f"in use by another napari-radiomics session (pid {holder.pid}" in second.read_only
        assert second.corrected_cases() == ["1"]  # it still shows what the first one saved
        with pytest.raises(CorrectionsError, match="in use"):
            second.set_status("1", "accepted")
    finally:
        holder.kill()
        holder.wait()
    third = CorrectionStore(root, folder)  # the lock died with its holder
    assert third.writable
    third.close()


def test_a_damaged_store_opens_and_names_what_is_wrong(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 3)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    session = attach(stack.mask, refs, folder, stack=True)
    _paint(session, 0)
    _paint(session, 1)
    session.store.close()
    root = store_dir_for(folder)
    (root / "masks" / f"{refs[1].case}.mat").write_bytes(b"not a mat file")
    (root / "log.csv").write_bytes(b"\x00\xff garbage")
    store = CorrectionStore(root, folder, write=False)
    assert store.load_mask(refs[0].case, (64, 64)) is not None
    assert store.load_mask(refs[1].case, (64, 64)) is None
    problems = "\n".join(store.problems)
    assert f"{refs[1].case}.mat: unreadable" in problems
    assert "original mask" in problems
    assert "log.csv: unreadable" in problems
    assert store.status(refs[0].case) == "corrected"


def test_painting_a_case_back_to_its_original_leaves_a_consistent_store(tmp_path: Path) -> None:
    """Erasing a correction stroke by stroke (or undoing it) is a revert: the mask file goes,
    and the review table says so on disk, not only in memory."""
    folder = _folder(tmp_path)
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    original = session.mask.slice(0)
    _paint(session, 0)
    session.mask[0] = original  # the correction painted away again
    assert session.autosave.flush(timeout=10)
    reread = CorrectionStore(store_dir_for(folder), folder, write=False)
    assert reread.corrected_cases() == []
    assert reread.status("1") == "unreviewed"
    assert reread.problems == []
    assert reread.log_table()["event"].tolist() == ["corrected", "reverted"]
