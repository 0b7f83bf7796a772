"""A corrections store moved or copied with its dataset (corrections.store_header): it opens
where its dataset is now, and never beside data it was not made for."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.cli import main
from napari_radiomics.corrections import (
    CorrectionStore,
    store_dir_for,
)
from napari_radiomics.corrections.location import config_dir
from napari_radiomics.io import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import save_square, write_mat_folder


def _moved(tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A dataset with its default store holding a correction of case 1, then moved, copied
    or renamed with it as a user would; returns (old dataset, new dataset, new store)."""
    monkeypatch.delenv("NAPARI_RADIOMICS_CORRECTIONS_HOME")  # the store beside the dataset
    old = tmp_path / "disk" / "study" / "brain"
    write_mat_folder(old, 2)
    store = CorrectionStore(store_dir_for(old), old)
    save_square(store, "1", old / "1.mat")
    store.close()
    header = store.root / "store.yaml"
    if how == "header of an earlier version":  # no dataset_relative recorded
        text = header.read_text(encoding="utf-8")
        header.write_text(text.replace("dataset_relative: ../brain\n", ""), encoding="utf-8")
    elif how == "recorded on a Windows drive":  # relpath cannot cross drives: none recorded
        header.write_text(
            "format: napari-radiomics corrections\nversion: 1\ndataset: D:\\scans\\brain\n",
            encoding="utf-8",
        )
    new_parent = tmp_path / "other disk"
    if how == "copied":
        for item in (old, store.root):
            shutil.copytree(item, new_parent / item.name)
    elif how == "renamed parent":
        new_parent = tmp_path / "disk" / "study 2024"
        shutil.move(old.parent, new_parent)
    else:
        new_parent.mkdir()
        for item in (old, store.root):
            shutil.move(item, new_parent / item.name)
    return old, new_parent / "brain", new_parent / "brain.corrections"


@pytest.mark.parametrize(
    "how",
    [
        "moved",
        "copied",
        "renamed parent",
        "header of an earlier version",
        "recorded on a Windows drive",
    ],
)
def test_a_store_moved_with_its_dataset_opens_and_takes_new_corrections(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, folder, root = _moved(tmp_path, how, monkeypatch)
    if how == "copied":
        before = {p.name: p.read_bytes() for p in (old.parent / "brain.corrections").rglob("*")
                  if p.is_file() and p.name != "store.lock"}  # fmt: skip
    assert store_dir_for(folder) == root
    store = CorrectionStore(root, folder)
    assert store.refused is None
    assert store.writable, store.read_only
    assert store.corrected_cases() == ["1"]
    second = save_square(store, "2", folder / "more" / "2.mat")  # made after the move
    store.close()
    reopened = CorrectionStore(root, folder)
    assert reopened.corrected_cases() == ["1", "2"]
    np.testing.assert_array_equal(reopened.load_mask("2", (64, 64)), second)
    assert [reopened.status(c) for c in ("1", "2")] == ["corrected", "corrected"]
    reopened.close()
    header = yaml.safe_load((root / "store.yaml").read_text(encoding="utf-8"))
    assert header["dataset"] == str(folder)  # where it is now, and where it was
    assert header["dataset_relative"] == "../brain"
    assert header["moved_from"] == [
        str(old) if how != "recorded on a Windows drive" else "D:\\scans\\brain"
    ]
    # a batch measures both corrections
    cases = discover_cases([folder], corrections=root)
    assert [c.mask_source for c in cases] == ["corrected", "corrected"]
    if how == "copied":  # the original is untouched and still its own dataset's store
        after = {p.name: p.read_bytes() for p in (old.parent / "brain.corrections").rglob("*")
                 if p.is_file() and p.name != "store.lock"}  # fmt: skip
        assert after == before
        assert CorrectionStore(old.parent / "brain.corrections", old).corrected_cases() == ["1"]


@pytest.mark.parametrize("how", ["moved", "header of an earlier version"])
def test_a_moved_store_beside_another_dataset_is_still_refused(
    tmp_path: Path,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The store moved along, but the dataset opened with it is not the one beside it."""
    _, folder, root = _moved(tmp_path, how, monkeypatch)
    other = folder.parent / "second"
    write_mat_folder(other, 2)  # the same case names: 1.mat, 2.mat
    store = CorrectionStore(root, other)
    assert store.refused is not None
    assert not store.writable
    assert f"is the corrections store of the dataset {tmp_path / 'disk'}" in store.refused
    assert f"not of {other}" in store.refused
    output = tmp_path / "f.csv"
    assert main(["extract", str(other), "-o", str(output), "--corrections", str(root)]) == 2
    assert f"{root}: is the corrections store of the dataset" in capsys.readouterr().err
    assert not output.exists()


def test_a_moved_store_written_from_a_subfolder_still_serves_the_whole_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first write after a move records the folder the dataset was found at, not the
    subfolder this session opened."""
    _, folder, root = _moved(tmp_path, "moved", monkeypatch)
    store = CorrectionStore(root, folder / "more")
    assert store.refused is None
    store.set_status("2", "flagged")
    store.write_tables()
    store.close()
    header = yaml.safe_load((root / "store.yaml").read_text(encoding="utf-8"))
    assert header["dataset"] == str(folder)
    assert header["dataset_relative"] == "../brain"
    whole = CorrectionStore(root, folder)
    assert whole.refused is None
    assert whole.corrected_cases() == ["1"]
    assert whole.status("2") == "flagged"


def _header(root: Path) -> dict:
    return yaml.safe_load((root / "store.yaml").read_text(encoding="utf-8"))


def test_a_store_copied_alone_beside_an_unrelated_same_named_dataset_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, folder, root = _moved(tmp_path, "copied", monkeypatch)
    shutil.rmtree(folder)  # the store arrives alone; another study of the same name is there
    write_mat_folder(folder, 2, shape=(48, 48))
    store = CorrectionStore(root, folder)
    assert store.refused is not None
    assert f"was made for the dataset {old} and now sits beside {folder}" in store.refused
    assert "its corrected case's file 1.mat has" in store.refused
    assert not store.writable
    assert main(["extract", str(folder), "-o", str(tmp_path / "f.csv"), "--corrections",
                 str(root)]) == 2  # fmt: skip


def test_a_moved_store_whose_dataset_gained_cases_opens_and_one_whose_file_changed_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule (corrections.store_header): the corrected cases' files, not the folder."""
    _, folder, root = _moved(tmp_path, "moved", monkeypatch)
    size = (folder / "1.mat").stat().st_size
    assert _header(root)["sources"] == {"1": {"file": "1.mat", "bytes": size}}
    write_tumor_mat(folder / "9.mat", make_synthetic_slice(seed=9, shape=(64, 64)))
    store = CorrectionStore(root, folder)
    assert store.refused is None
    assert store.corrected_cases() == ["1"]
    store.close()
    write_tumor_mat(folder / "1.mat", make_synthetic_slice(seed=1, shape=(80, 80)), overwrite=True)
    assert "its corrected case's file 1.mat has" in CorrectionStore(root, folder).refused


def test_moved_from_keeps_each_place_once_and_only_the_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, folder, root = _moved(tmp_path, "moved", monkeypatch)
    places = [old.parent, folder.parent]
    for back in range(4):  # back and forth between the two disks
        here, there = places[back % 2 == 0], places[back % 2]
        for name in ("brain", "brain.corrections"):
            shutil.move(here / name, there / name)
        store = CorrectionStore(there / "brain.corrections", there / "brain")
        assert store.refused is None, store.refused
        store.set_status("2", "accepted")
        store.write_tables()
        store.close()
    # ends where it started (never written there): each place once, the latest last
    assert _header(root)["moved_from"] == [str(folder), str(old)]
    header = _header(root)
    header["moved_from"] = [f"/mnt/share{i}/brain" for i in range(15)]
    (root / "store.yaml").write_text(yaml.safe_dump(header), encoding="utf-8")
    for name in ("brain", "brain.corrections"):
        shutil.move(folder.parent / name, old.parent / name)
    store = CorrectionStore(old.parent / "brain.corrections", old)
    store.set_status("2", "flagged")
    store.write_tables()
    store.close()
    moves = _header(old.parent / "brain.corrections")["moved_from"]
    assert len(moves) == 10
    assert moves[-1] == str(folder)
    assert moves[0] == "/mnt/share6/brain"


def test_an_earlier_header_that_recorded_a_single_file_still_moves_with_its_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers without a fingerprint: the default layout, also when a file was recorded."""
    old, folder, root = _moved(tmp_path, "moved", monkeypatch)
    (root / "store.yaml").write_text(
        f"format: napari-radiomics corrections\nversion: 1\ndataset: {old / '1.mat'}\n",
        encoding="utf-8",
    )
    store = CorrectionStore(root, folder)
    assert store.refused is None, store.refused
    assert store.corrected_cases() == ["1"]


def test_a_store_of_statuses_alone_copied_beside_another_same_named_dataset_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAPARI_RADIOMICS_CORRECTIONS_HOME")
    old = tmp_path / "a" / "brain"
    write_mat_folder(old, 2)
    store = CorrectionStore(store_dir_for(old), old)
    store.set_status("1", "flagged")
    store.write_tables()
    store.close()
    other = tmp_path / "b" / "brain"
    write_mat_folder(other, 3)
    shutil.copytree(store.root, other.parent / "brain.corrections")
    copied = CorrectionStore(other.parent / "brain.corrections", other)
    assert "its files differ from those the store was made with" in copied.refused
    shutil.rmtree(other)
    shutil.copytree(old, other)  # the dataset copied with it: the same files
    assert CorrectionStore(other.parent / "brain.corrections", other).refused is None


def test_a_reverted_case_leaves_the_fingerprint(tmp_path: Path) -> None:
    """A reverted case's file may go from the dataset without the store refusing its move."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    store = CorrectionStore(tmp_path / "brain.corrections", folder)
    save_square(store, "1", folder / "1.mat")
    save_square(store, "2", folder / "more" / "2.mat")
    store.revert("1")
    store.close()
    size = (folder / "more" / "2.mat").stat().st_size
    assert _header(store.root)["sources"] == {"2": {"file": "more/2.mat", "bytes": size}}


def test_store_choices_made_at_once_in_two_processes_are_all_remembered(tmp_path: Path) -> None:
    """Two napari sessions (processes) each moving stores of their datasets at the same time:
    every choice is remembered, none overwritten by the other session's update of the
    registry (a lost choice would reopen that dataset on the default store, and ``extract``
    would measure its original masks)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from napari_radiomics.corrections import remember_store\n"
        "base, tag = sys.argv[1], sys.argv[2]\n"
        "sys.stdin.readline()\n"  # both start together
        "for i in range(60):\n"
        "    remember_store(f'{base}/{tag}{i}', f'{base}/stores/{tag}{i}')\n"
    )
    for tag in ("a", "b"):
        for i in range(60):
            (tmp_path / f"{tag}{i}").mkdir()  # a dataset folder
    src = str(Path(__import__("napari_radiomics").__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    sessions = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), tag], stdin=subprocess.PIPE, env=env
        )
        for tag in ("a", "b")
    ]
    for session in sessions:
        assert session.stdin is not None
        session.stdin.write(b"go\n")
        session.stdin.flush()
    assert [session.wait(timeout=120) for session in sessions] == [0, 0]
    chosen = yaml.safe_load((config_dir() / "corrections.yaml").read_text(encoding="utf-8"))
    assert len(chosen) == 120
    for tag in ("a", "b"):
        for i in range(60):
            assert store_dir_for(tmp_path / f"{tag}{i}") == tmp_path / "stores" / f"{tag}{i}"
