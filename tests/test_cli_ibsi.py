"""`napari-radiomics ibsi -o DIR`, as a user runs it: a real subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from napari_radiomics._spreadsheet import unescape_frame
from napari_radiomics.analysis.ibsi import COLUMNS
from napari_radiomics.cli import main
from sample_files import fill_disk
from test_cli import _cli


def test_ibsi_writes_only_its_two_files_inside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "ibsi"
    result = _cli("ibsi", "-o", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "new", "new/ibsi", "new/ibsi/ibsi.csv", "new/ibsi/ibsi.md",
    ]  # fmt: skip
    table = unescape_frame(pd.read_csv(out / "ibsi.csv", keep_default_na=False))
    assert tuple(table.columns) == COLUMNS
    kurtosis = table.set_index("ibsi_tag").loc["stat_kurt"]
    assert kurtosis["status"] == "deviates"
    assert "features match the IBSI reference values" in result.stderr
    assert "# IBSI compliance" in (out / "ibsi.md").read_text(encoding="utf-8")


def test_ibsi_into_a_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("mine", encoding="utf-8")
    assert main(["ibsi", "-o", str(blocker)]) == 2
    assert f"{blocker}: is a file" in capsys.readouterr().err
    assert blocker.read_text(encoding="utf-8") == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_ibsi_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ibsi"]) == 2
    assert "the following arguments are required: -o/--output" in capsys.readouterr().err


def test_a_full_or_read_only_disk_exits_2_naming_the_file(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_disk / "out"
    filler = fill_disk(small_disk, 4096)  # one page: less than ibsi.csv
    assert main(["ibsi", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {out / 'ibsi.csv'}: cannot be written (No space left on device)" in err
    assert list(out.iterdir()) == []  # no half file, no temporary file

    filler.unlink()
    out.rmdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        assert main(["ibsi", "-o", str(out)]) == 2
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert f"error: {out}: cannot be written (Read-only file system)" in capsys.readouterr().err
