"""Ids to file names: valid on every OS, reversible, unique where case is ignored, kept inside."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from napari_radiomics._filenames import (
    MAX_STEM_BYTES,
    file_stem,
    id_from_stem,
    inside,
    refuse_sources,
    same_file,
    unique_stems,
)
from napari_radiomics.errors import WriteError

HOSTILE_IDS = [
    "17",
    "a/1",
    "/abs/olute",
    "../../x",
    "..",
    ".",
    ".5",
    "C:\\Windows\\x",
    'a:b*c?d"e<f>g|h',
    "line\nbreak\ttab",
    "trailing dot.",
    "trailing space ",
    "CON",
    "nul.txt",
    "com1",
    "LPT9",
    "100%",
    "%41",
    "",
    "MR048994B",
    "Zürich-Ω",
    "\udc80",
]


@pytest.mark.parametrize("identifier", HOSTILE_IDS)
def test_a_stem_is_valid_everywhere_and_gives_its_id_back(identifier: str) -> None:
    stem = file_stem(identifier)
    assert id_from_stem(stem) == identifier
    assert stem not in ("", ".", "..")
    assert not stem.startswith(".")
    assert not stem.endswith((".", " "))
    assert not set('<>:"/\\|?*') & set(stem)
    assert all(ord(c) >= 32 for c in stem)
    assert stem.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT9"}


def test_ordinary_ids_keep_their_names() -> None:
    assert [file_stem(i) for i in ("1", "3064", "MR048994B", "brain1", "case-7_a")] == [
        "1",
        "3064",
        "MR048994B",
        "brain1",
        "case-7_a",
    ]


def test_a_long_id_is_shortened_with_a_digest_and_stays_distinct() -> None:
    one, two = "x" * 244 + "1", "x" * 244 + "2"
    assert len(file_stem(one).encode()) <= MAX_STEM_BYTES
    assert file_stem(one) != file_stem(two)
    assert len(file_stem("é" * 200).encode()) <= MAX_STEM_BYTES  # cut on a character


def test_ids_that_differ_only_in_case_get_names_that_differ_without_case() -> None:
    stems = unique_stems(["Case1", "case1", "CASE1", "other", "Case1"])
    assert len(stems) == 4
    assert len({s.casefold() for s in stems.values()}) == 4
    assert stems["Case1"] == "Case1"


@pytest.mark.parametrize("identifier", HOSTILE_IDS)
def test_every_stem_lands_inside_the_folder(tmp_path: Path, identifier: str) -> None:
    target = inside(tmp_path, file_stem(identifier) + ".mat")
    assert target.parent == tmp_path


@pytest.mark.parametrize("name", ["../x.mat", "/etc/passwd", "a/b.mat", "..", ".", ""])
def test_a_name_that_is_not_plain_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(WriteError, match="refused"):
        inside(tmp_path, name)


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "source"
    out.mkdir()
    elsewhere.mkdir()
    (out / "1.mat").symlink_to(elsewhere / "1.mat")
    with pytest.raises(WriteError, match="outside the output folder"):
        inside(out, "1.mat")


def test_same_file_is_asked_of_the_file_system_not_of_the_spelling(tmp_path: Path) -> None:
    """A hard link under another name is the file it links to (as ``Cases.csv`` is
    ``cases.csv`` where case is ignored), though the resolved paths differ; so are a symbolic
    link and a path spelled through ``..``. A file not there yet is compared by its resolved
    path; another file, with the same content, is not the same."""
    source = tmp_path / "cases.csv"
    source.write_text("Image,Mask\n", encoding="utf-8")
    linked = tmp_path / "out" / "predictions.csv"
    linked.parent.mkdir()
    os.link(source, linked)
    assert linked.resolve() != source.resolve()
    assert same_file(linked, source)
    assert same_file(str(source), str(linked))
    (tmp_path / "symbolic.csv").symlink_to(source)
    assert same_file(tmp_path / "symbolic.csv", source)
    assert same_file(tmp_path / "out" / ".." / "cases.csv", source)
    assert same_file(tmp_path / "out" / ".." / "new.csv", tmp_path / "new.csv")
    (tmp_path / "copy.csv").write_bytes(source.read_bytes())
    assert not same_file(tmp_path / "copy.csv", source)
    assert not same_file(tmp_path / "new.csv", source)


def test_refuse_sources_names_the_file_and_the_reason_by_any_name(tmp_path: Path) -> None:
    """A source by its name or a hard link, and a folder's file by any name inside it or a
    hard link to it from outside, are refused with the reason given; a new file beside the
    sources, or the same content in another file, is not."""
    source = tmp_path / "17.mat"
    source.write_bytes(b"case")
    store = tmp_path / "store"
    (store / "masks").mkdir(parents=True)
    (store / "review.csv").write_text("case,status\n", encoding="utf-8")
    sources = {str(source): "is the source of layer '17'"}
    folders = {str(store): "would be a file of the store"}
    os.link(source, tmp_path / "link.csv")
    os.link(store / "review.csv", tmp_path / "statuses.csv")
    refusals = {
        source: "is the source of layer '17'",
        tmp_path / "link.csv": "is the source of layer '17'",
        store / "masks" / "new.mat": "would be a file of the store",
        tmp_path / "statuses.csv": "would be a file of the store",
    }
    for path, reason in refusals.items():
        with pytest.raises(WriteError, match=f"^{re.escape(str(path))}: {re.escape(reason)}$"):
            refuse_sources(path, sources, folders)
    (tmp_path / "copy.mat").write_bytes(source.read_bytes())
    for path in (tmp_path / "copy.mat", tmp_path / "features.csv"):
        refuse_sources(path, sources, folders)


def test_a_path_spelled_through_the_store_and_out_of_it_is_not_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store/../report.csv`` (``-o ../report.csv`` typed from inside the store) is a file
    beside the store, written there; a name that leads into the store through ``..`` or a
    linked folder, or a link in the store to a file outside it, is still refused."""
    store = tmp_path / "store"
    (store / "masks").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "into").symlink_to(store / "masks")
    (store / "link.csv").symlink_to(tmp_path / "report.csv")
    folders = {str(store): "would be a file of the store"}
    monkeypatch.chdir(store)
    beside = ("../report.csv", store / ".." / "report.csv", store / "masks" / ".." / ".." / "x")
    for path in beside:
        refuse_sources(path, {}, folders)
    for path in (outside / ".." / "store" / "x.csv", outside / "into" / "x.csv", "link.csv"):
        with pytest.raises(WriteError, match="would be a file of the store"):
            refuse_sources(path, {}, folders)


def test_an_existing_file_is_compared_once_and_a_store_walked_only_for_a_hard_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving again over an earlier export (one name, no hard link) costs a look at each
    source, not two, and no walk through a store: on the GUI thread, for a stack of 3064
    cases and a store of hundreds of masks, at every save. A second name makes it walk."""
    sources = {}
    for i in range(20):
        (tmp_path / f"{i}.mat").write_bytes(b"case")
        sources[str(tmp_path / f"{i}.mat")] = "is a case"
    store = tmp_path / "store"
    (store / "masks").mkdir(parents=True)
    (store / "masks" / "1.mat").write_bytes(b"mask")
    earlier = tmp_path / "features.csv"
    earlier.write_text("x\n", encoding="utf-8")
    looked: list[str] = []
    stat, scandir = os.stat, os.scandir
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: looked.append(str(p)) or stat(p, *a, **k))
    monkeypatch.setattr(os, "scandir", lambda p=".": looked.append(f"walk {p}") or scandir(p))
    folders = {str(store): "would be a file of the store"}
    refuse_sources(earlier, sources, folders)
    assert sorted(looked).count(str(earlier)) <= 1
    assert f"walk {store / 'masks'}" not in looked
    assert all(looked.count(source) <= 1 for source in sources)
    os.link(store / "masks" / "1.mat", tmp_path / "mask.csv")
    with pytest.raises(WriteError, match="would be a file of the store"):
        refuse_sources(tmp_path / "mask.csv", sources, folders)


def test_a_store_folder_linked_elsewhere_is_the_store_there_too(tmp_path: Path) -> None:
    """A store whose ``masks`` is a link to another disk (which opening a store allows): a
    mask there, a new file there, and a hard link to a mask there are the store's files."""
    disk = tmp_path / "disk" / "masks"
    disk.mkdir(parents=True)
    (disk / "1.mat").write_bytes(b"mask")
    store = tmp_path / "store"
    store.mkdir()
    (store / "masks").symlink_to(disk)
    os.link(disk / "1.mat", tmp_path / "mask.csv")
    folders = {str(store): "would be a file of the store"}
    for path in (disk / "1.mat", disk / "new.csv", tmp_path / "mask.csv"):
        with pytest.raises(WriteError, match="would be a file of the store"):
            refuse_sources(path, {}, folders)
    refuse_sources(tmp_path / "disk" / "report.csv", {}, folders)
