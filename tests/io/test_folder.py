"""A folder of .mat slices: discovery, the lazy stack, odd shapes and broken files."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.errors import ReadError
from napari_radiomics.io.folder import FolderWarning, find_mat_files, open_mat_stack
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import case_arrays, write_mat_folder, write_mixed_folder, write_v5, write_v73


def test_find_mat_files_sorts_naturally_and_skips_the_split_file(tmp_path: Path) -> None:
    for name in ["10.mat", "2.mat", "1.mat", "cvind.mat", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "3.mat").write_bytes(b"")
    assert [p.name for p in find_mat_files(tmp_path)] == ["1.mat", "2.mat", "10.mat"]
    recursive = [p.relative_to(tmp_path).as_posix() for p in find_mat_files(tmp_path, True)]
    assert recursive == ["1.mat", "2.mat", "10.mat", "sub/3.mat"]
    with pytest.raises(ReadError, match=r"not a folder"):
        find_mat_files(tmp_path / "1.mat")


def test_find_mat_files_lists_links_as_glob_did_and_no_folders(tmp_path: Path) -> None:
    """The folder's listing reads file types from the directory entries: a link to a case,
    a dangling link and a link loop stand for cases (the reader names the broken ones), a
    folder or a link to one named ``*.mat`` is none, the split file is none in any case."""
    (tmp_path / "1.mat").write_bytes(b"")
    (tmp_path / "folder.mat").mkdir()
    (tmp_path / "CVIND.mat").write_bytes(b"")
    (tmp_path / "3.mat").symlink_to(tmp_path / "1.mat")
    (tmp_path / "20.mat").symlink_to(tmp_path / "missing.mat")
    (tmp_path / "4.mat").symlink_to(tmp_path / "4.mat")  # a loop
    (tmp_path / "linked-folder.mat").symlink_to(tmp_path / "folder.mat")
    (tmp_path / "folder.mat" / "2.mat").write_bytes(b"")
    found = find_mat_files(tmp_path)
    assert [p.name for p in found] == ["1.mat", "3.mat", "4.mat", "20.mat"]
    assert all(p.parent == tmp_path for p in found)
    recursive = [p.relative_to(tmp_path).as_posix() for p in find_mat_files(tmp_path, True)]
    assert recursive == ["1.mat", "3.mat", "4.mat", "20.mat", "folder.mat/2.mat"]


def test_macos_appledouble_companions_are_no_cases(tmp_path: Path) -> None:
    """A dataset copied by macOS to an exFAT drive gets a 4 KiB ``._1.mat`` beside each slice:
    listed, each would be one more unreadable case, in the folder and in a batch."""
    slices = write_mat_folder(tmp_path, 4, shape=(32, 32))
    for path in [*slices, tmp_path / "cvind.mat"]:
        (path.parent / f"._{path.name}").write_bytes(b"\x00\x05\x16\x07" + bytes(4092))
    assert find_mat_files(tmp_path) == [p for p in slices if p.parent == tmp_path]
    assert find_mat_files(tmp_path, recursive=True) == slices
    assert [case.path for case in discover_cases([tmp_path])] == [str(p) for p in slices]


def test_what_a_killed_write_left_is_no_case(tmp_path: Path) -> None:
    """A write killed before its rename leaves its hidden temporary file (``.2.1a2b3c4d.tmp.mat``,
    a whole or half case), and a killed export its staging folder of copies: both were listed
    as cases, in the folder and in a batch. A dot file of any other name still is one."""
    slices = write_mat_folder(tmp_path, 4, shape=(32, 32))
    (tmp_path / ".2.1a2b3c4d.tmp.mat").write_bytes(slices[1].read_bytes())
    staging = tmp_path / ".corrected.1a2b3c4d.export"
    (staging / "more").mkdir(parents=True)
    (staging / "1.mat").write_bytes(slices[0].read_bytes())
    (staging / "more" / "4.mat").write_bytes(slices[3].read_bytes())
    dotted = tmp_path / ".5.mat"
    dotted.write_bytes(slices[0].read_bytes())
    here = {dotted, *(p for p in slices if p.parent == tmp_path)}
    assert set(find_mat_files(tmp_path)) == here
    assert set(find_mat_files(tmp_path, recursive=True)) == {dotted, *slices}
    assert len(discover_cases([tmp_path])) == len(slices) + 1


def test_mixed_shapes_are_resized_and_named(tmp_path: Path) -> None:
    slices = write_mixed_folder(tmp_path)
    with pytest.warns(FolderWarning, match=r"1 slice\(s\) resized .*64x64.*3\.mat"):
        stack = open_mat_stack(tmp_path)
    assert isinstance(stack.image, da.Array)
    assert isinstance(stack.mask, da.Array)
    assert stack.image.shape == stack.mask.shape == (4, 64, 64)
    assert stack.image.dtype == np.int16
    assert stack.resized == [str(tmp_path / "3.mat")]
    assert stack.wait(timeout=0)  # everything was scanned before returning
    np.testing.assert_array_equal(stack.image[0].compute(), slices["1.mat"].image)
    np.testing.assert_array_equal(stack.mask[3].compute(), slices["4.mat"].mask)  # v5 file
    odd = slices["3.mat"]
    zoomed = ndimage.zoom(odd.image.astype(np.float32), 2, order=1, grid_mode=True, mode="nearest")
    np.testing.assert_array_equal(stack.image[2].compute(), np.rint(zoomed).astype(np.int16))
    # each pixel of the mask becomes a 2x2 block, aligned with the image's pixel centres
    doubled = np.repeat(np.repeat(odd.mask.astype(np.uint8), 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(stack.mask[2].compute(), doubled)
    assert set(np.unique(stack.mask[2].compute())) == {0, 1}  # nearest keeps a binary mask
    table = stack.slices
    assert isinstance(table, pd.DataFrame)
    assert list(table["case"]) == ["1", "2", "3", "4"]
    assert list(table["patient_id"]) == ["P1", "P2", "P3", "P4"]
    assert list(table["tumor_type"]) == ["glioma", "pituitary tumor", "meningioma", "glioma"]
    assert list(table["height"]) == [64, 64, 32, 64]


def test_broken_files_become_zeros_and_the_rest_still_open(tmp_path: Path) -> None:
    write_v73(tmp_path / "1.mat", case_arrays())
    (tmp_path / "2.mat").write_text("not a mat file")
    write_v5(tmp_path / "3.mat", case_arrays(), omit=["tumorBorder"])
    write_v73(tmp_path / "4.mat", case_arrays())
    with pytest.warns(FolderWarning, match=r"2 slice\(s\) could not be read") as record:
        stack = open_mat_stack(tmp_path)
    message = str(record[0].message)
    assert "2.mat (not a MATLAB .mat file" in message
    assert "3.mat (missing field(s) cjdata.tumorBorder)" in message
    assert stack.image.shape == (4, 40, 56)
    assert not stack.image[1].compute().any()
    np.testing.assert_array_equal(stack.image[3].compute(), case_arrays()["image"])
    assert stack.slices["problem"].astype(bool).tolist() == [False, True, True, False]
    assert stack.slices["label"].isna().tolist() == [False, True, True, False]


def test_pixels_are_read_only_when_a_slice_is_shown(tmp_path: Path) -> None:
    """The header check passes a file whose mask is the wrong shape: proof pixels are lazy."""
    write_v73(tmp_path / "1.mat", case_arrays())
    bad = case_arrays()
    bad["tumorMask"] = np.ones((40, 20), dtype=bool)
    write_v73(tmp_path / "2.mat", bad)
    stack = open_mat_stack(tmp_path)  # no warning: the pixels were not read
    assert stack.broken == {}
    with pytest.warns(FolderWarning, match=r"2\.mat: tumour mask shape"):
        shown = stack.image[1].compute()
    assert not shown.any()


def test_list_of_files_and_folders_without_cases(tmp_path: Path) -> None:
    paths = [write_v73(tmp_path / f"{i}.mat", case_arrays()) for i in (1, 2)]
    assert open_mat_stack(paths).image.shape == (2, 40, 56)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReadError, match=r"no .mat files"):
        open_mat_stack(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "1.mat").write_text("junk")
    with pytest.raises(ReadError, match=r"none of the 1 .mat files .*1\.mat: not a MATLAB"):
        open_mat_stack(tmp_path / "junk")


def test_scan_past_its_budget_finishes_in_the_background(tmp_path: Path) -> None:
    slices = write_mixed_folder(tmp_path)
    (tmp_path / "5.mat").write_text("broken")
    with warnings.catch_warnings(record=True) as record:  # warnings come from two threads
        warnings.simplefilter("always")
        stack = open_mat_stack(tmp_path, scan_budget=0.0, min_headers=1)  # the first file alone
        assert stack.image.shape == (5, 64, 64)
        np.testing.assert_array_equal(stack.image[0].compute(), slices["1.mat"].image)
        assert stack.wait(timeout=30)
    assert all(w.category is FolderWarning for w in record)
    messages = " ".join(str(w.message) for w in record)
    assert "3.mat" in messages
    assert "5.mat (not a MATLAB .mat file" in messages
    assert stack.resized == [str(tmp_path / "3.mat")]
    assert list(stack.broken) == [str(tmp_path / "5.mat")]
    assert stack.slices["patient_id"].tolist() == ["P1", "P2", "P3", "P4", ""]
    assert stack.slices["height"].tolist()[:4] == [64, 64, 32, 64]
    assert not stack.image[4].compute().any()


def test_the_background_scan_hands_its_rows_over_in_one_step(tmp_path: Path) -> None:
    """The scan thread never writes the table others read: it builds the missing rows and
    hands one step over, run by the thread ``deliver`` chooses (here, this one)."""
    write_mixed_folder(tmp_path)
    handed: list = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        stack = open_mat_stack(tmp_path, scan_budget=0.0, deliver=handed.append, min_headers=1)
        table = stack.slices
        before = table.copy()
        deadline = time.monotonic() + 30
        while not handed and time.monotonic() < deadline:
            time.sleep(0.01)  # the scan thread is done once it has handed its step over
        assert len(handed) == 1
        assert not stack.scanned.is_set()
        pd.testing.assert_frame_equal(table, before)  # untouched by the scan thread
        assert table["patient_id"].tolist() == ["P1", "", "", ""]
        assert not record  # its warnings come with its rows
        handed[0]()  # the step, on the thread that reads the table
    assert stack.scanned.is_set()
    assert stack.slices is table  # completed in place: every holder of it sees the rows
    assert table["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    assert table["height"].tolist() == [64, 64, 32, 64]
    assert stack.resized == [str(tmp_path / "3.mat")]
    assert any("3.mat" in str(w.message) for w in record)


def test_exiting_while_the_background_scan_runs_does_not_hang(tmp_path: Path) -> None:
    """Closing napari right after opening a big folder must end the process, not deadlock
    on h5py's lock held by a scan thread frozen at interpreter exit."""
    tumor = make_synthetic_slice(seed=1, shape=(32, 32))
    for index in range(1, 401):
        write_tumor_mat(tmp_path / f"{index}.mat", tumor)
    code = (
        "import sys\n"
        "from napari_radiomics.io.folder import open_mat_stack\n"
        "stack = open_mat_stack(sys.argv[1], scan_budget=0.0, min_headers=1)\n"
        "stack.image[0].compute()\n"
        "print(stack.scanned.is_set())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"  # the process exited while the scan was running


def test_a_minority_shape_first_in_the_folder_does_not_win_on_a_slow_disk(tmp_path: Path) -> None:
    """Past the time budget at once (a cold or network disk), the common shape is still
    chosen from the first MIN_HEADERS files, not from the first one."""
    for i in range(3):  # the first files, in a shape few others have
        write_tumor_mat(tmp_path / f"a{i}.mat", make_synthetic_slice(seed=i, shape=(32, 32)))
    for i in range(5):
        write_tumor_mat(tmp_path / f"b{i}.mat", make_synthetic_slice(seed=i, shape=(64, 64)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FolderWarning)  # the three resized ones, named
        stack = open_mat_stack(tmp_path, scan_budget=0.0)
    assert stack.image.shape == (8, 64, 64)
    assert stack.scanned.is_set()  # eight files: all read before the shape was chosen
    assert stack.resized == [str(tmp_path / f"a{i}.mat") for i in range(3)]
