"""Whole-file writes: the new version or the old one, never half of one, and no leftovers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from napari_radiomics._atomic import replaced


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "features.params.yaml"
    target.write_text("old")

    def write_half_then_fail() -> None:
        with replaced(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="mid-write"):
        write_half_then_fail()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.params.yaml"]
    with replaced(target) as temporary:
        temporary.write_text("new")
        assert target.read_text() == "old"  # nothing is visible until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.params.yaml"]


def test_the_temporary_file_keeps_the_format_suffix(tmp_path: Path) -> None:
    with replaced(tmp_path / "original_glcm_Contrast.nii.gz") as temporary:
        assert temporary.name.endswith(".nii.gz")
        assert temporary.parent == tmp_path  # same folder: the rename is atomic
        temporary.write_bytes(b"")


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_written_file_honours_the_umask(tmp_path: Path, umask: int) -> None:
    """mkstemp's 0o600 made every written file unreadable to colleagues on shared storage."""
    old = os.umask(umask)
    try:
        with replaced(tmp_path / "review.csv") as temporary:
            temporary.write_text("case,status\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "review.csv").stat().st_mode) == 0o666 & ~umask


def test_a_long_target_name_gets_a_temporary_name_the_file_system_takes(tmp_path: Path) -> None:
    target = tmp_path / ("c" * 245 + ".csv")
    with replaced(target) as temporary:
        assert len(temporary.name.encode()) <= 255
        temporary.write_text("x")
    assert target.read_text() == "x"
