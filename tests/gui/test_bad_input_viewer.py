"""The reader hook with dirty files, in a real viewer: a broken slice never closes a folder.

The promise of a folder (and of several selected ``.mat`` files): every file that cannot be
read, whatever is wrong with it, is a zero slice named with its problem in a warning and in
``metadata["slices"]``; the others open. A bundle or a single file that cannot be read is an
error naming the file and the problem.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from hostile_files import ASTRAL_PID, BROKEN_MATS, astral_pid_v73, empty_bundle, malicious_npy
from napari_radiomics.errors import ReadError
from napari_radiomics.io.folder import FolderWarning
from napari_radiomics.io.mat import read_tumor_mat
from sample_files import case_arrays, write_bundle, write_v73

PLUGIN = "napari-radiomics"


def _dirty_folder(folder: Path) -> dict[str, Path]:
    """Two good slices, one with an astral-plane PID, and one file of every broken kind."""
    folder.mkdir()
    files = {"good-1": write_v73(folder / "1.mat", case_arrays())}
    files["astral"] = astral_pid_v73(folder / "2.mat")
    for number, (kind, writer) in enumerate(BROKEN_MATS.items(), start=3):
        files[kind] = writer(folder / f"{number}.mat")
    return files


def test_folder_with_every_kind_of_broken_file_opens(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    files = _dirty_folder(tmp_path / "dirty")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, labels = viewer.open(tmp_path / "dirty", plugin=PLUGIN)
        stack = np.asarray(image.data)  # every slice read: the broken ones show as zeros
        masks = np.asarray(labels.data[:])
    assert image.data.shape[0] == len(files)
    table = image.metadata["slices"].set_index("path")
    messages = " ".join(str(w.message) for w in caught if issubclass(w.category, FolderWarning))
    for index, (kind, path) in enumerate(files.items()):
        if kind in BROKEN_MATS:
            assert str(path) in messages, kind
            assert not stack[index].any(), kind
            assert not masks[index].any(), kind
        else:
            np.testing.assert_array_equal(stack[index], read_tumor_mat(path).image)
    # The header scan names the files it could not read in the table at once.
    header_broken = {k for k in BROKEN_MATS if not k.endswith(("background", "border"))}
    for kind in header_broken:
        assert table.loc[str(files[kind]), "problem"], kind
    assert "dangling symbolic link" in table.loc[str(files["dangling-link"]), "problem"]
    assert "is text ('glioma')" in table.loc[str(files["text-label-v5"]), "problem"]
    # A slice broken only in its mask is found when the slice is read, and named then.
    assert "cjdata.tumorMask holds negative values" in messages
    assert table.loc[str(files["astral"]), "patient_id"] == ASTRAL_PID


def test_selected_files_with_broken_ones_open_as_a_stack(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    files = _dirty_folder(tmp_path / "dirty")
    # (napari itself refuses to pass on a selected path that does not exist, a dangling link)
    chosen = [files["good-1"], files["text-label-v73"], files["huge-image"], files["astral"]]
    with pytest.warns(FolderWarning, match=r"could not be read"):
        image, _ = viewer.open(chosen, stack=True, plugin=PLUGIN)
    assert image.data.shape[0] == 4
    assert image.metadata["slices"]["patient_id"].tolist()[3] == ASTRAL_PID


def test_one_broken_file_opened_alone_names_file_and_problem(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    path = BROKEN_MATS["complex-image"](tmp_path / "9.mat")
    with pytest.raises(ReadError, match=r"9\.mat: cjdata\.image is complex-valued"):
        viewer.open(path, plugin=PLUGIN)
    assert len(viewer.layers) == 0


def test_bundles_empty_or_malicious_are_refused_and_object_ids_open(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    ids = np.empty((3, 1, 1), dtype=object)
    for i in range(3):
        ids[i, 0, 0] = np.array([[f"MR{i}"]])
    arrays = write_bundle(tmp_path / "objects", ids=ids)
    np.save(tmp_path / "objects" / "masks.npy", arrays["masks"].astype(np.int16) * 2)
    image, labels = viewer.open(tmp_path / "objects", plugin=PLUGIN)
    assert image.metadata["slices"]["patient_id"].tolist() == ["MR0", "MR1", "MR2"]
    np.testing.assert_array_equal(np.asarray(labels.data[1]), arrays["masks"][1] * 2)

    write_bundle(tmp_path / "evil")
    target = tmp_path / "created-by-payload"
    malicious_npy(tmp_path / "evil" / "patient_ids.npy", target)
    with pytest.raises(ReadError, match=r"patient_ids\.npy: holds Python objects other than"):
        viewer.open(tmp_path / "evil", plugin=PLUGIN)
    assert not target.exists()

    empty = empty_bundle(tmp_path / "empty")
    with pytest.raises(ReadError, match=r"images\.npy: holds no slices \(N = 0\)"):
        viewer.open(empty, plugin=PLUGIN)
    assert len(viewer.layers) == 2  # only the good bundle's
