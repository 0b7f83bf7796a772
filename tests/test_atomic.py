"""Whole-file writes: the new version or the old one, never half of one, and no leftovers."""

from __future__ import annotations

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
