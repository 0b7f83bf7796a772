"""Text that is not plain UTF-8 on the way in never breaks a run, its output or its messages:
a batch CSV saved as Latin-1, file names that are not UTF-8, patient ids outside the Basic
Multilingual Plane (UTF-16 surrogate pairs in the .mat file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.errors import ReadError
from napari_radiomics.results import read_table
from sample_files import assert_same_rows, case_arrays, corrupt_mat, write_v73

#: What MATLAB stores for the patient id "😀": two UTF-16 code units, a surrogate pair.
EMOJI_UNITS = "\ud83d\ude00"


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        command, capture_output=True, text=True, errors="replace", env=environ, timeout=180
    )


def test_a_latin1_batch_csv_names_the_file_line_and_encoding(
    tmp_path: Path, pyradiomics_data: Path
) -> None:
    image, mask = pyradiomics_data / "breast1_image.nrrd", pyradiomics_data / "breast1_label.nrrd"
    table = tmp_path / "cases.csv"
    table.write_bytes(f"Image,Mask,Reader\n{image},{mask},Ren\xe9e\n".encode("latin-1"))
    with pytest.raises(ReadError, match=r"cases\.csv: line 2 is not UTF-8 text \(byte 0xe9"):
        discover_cases([table])
    usage = _cli("extract", table, "-o", tmp_path / "f.csv")
    assert usage.returncode == 2
    assert f"{table}: line 2 is not UTF-8 text" in usage.stderr
    assert "save the batch CSV as UTF-8" in usage.stderr
    assert "Traceback" not in usage.stderr


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    """A good slice named in Latin-1 (not UTF-8) with a non-BMP patient id, and a corrupt one
    whose name is not UTF-8 either."""
    folder = tmp_path / "odd"
    folder.mkdir()
    try:
        write_v73(folder / os.fsdecode(b"caf\xe9.mat"), {**case_arrays(), "PID": EMOJI_UNITS})
        corrupt_mat(folder / os.fsdecode(b"\xff.mat"))
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"this file system refuses file names that are not UTF-8: {exc}")
    return folder


def test_odd_names_and_ids_reach_a_utf8_table_and_resume_recognises_them(
    odd_names: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    first = _cli("extract", odd_names, "-o", out, "--jobs", "1")
    assert first.returncode == 3, first.stderr  # the corrupt slice, and only it, failed
    assert "Traceback" not in first.stderr
    assert "failed: \\udcff:" in first.stderr
    for path in (out, tmp_path / "f.errors.csv"):
        path.read_bytes().decode("utf-8")  # strict: every file of the output is UTF-8
    row = read_table(out)
    assert row["case"].tolist() == ["caf\\udce9"]
    # Read as the character it is once the reader decodes surrogate pairs; until then its
    # code units, escaped; never a crash.
    assert row["patient_id"].item() in ("\U0001f600", "\\ud83d\\ude00")
    errors = read_table(tmp_path / "f.errors.csv")
    assert errors["case"].tolist() == ["\\udcff"]

    again = _cli("extract", odd_names, "-o", out, "--jobs", "1", "--resume")
    assert again.returncode == 3, again.stderr
    assert "1 already done" in again.stderr
    assert len(read_table(out)) == 1


def test_check_prints_odd_names_on_any_terminal_encoding(odd_names: Path) -> None:
    """An ASCII terminal (or a pipe with an ASCII locale) gets escapes, not a crash."""
    check = _cli("extract", odd_names, "--check", env={"PYTHONIOENCODING": "ascii"})
    assert check.returncode == 3, check.stderr
    assert "Traceback" not in check.stderr
    assert "\\udcff: error: " in check.stdout
    assert "1 would run, 1 would fail" in check.stderr


def test_line_breaks_and_tabs_in_case_names_are_kept_and_resume_recognises_them(
    tmp_path: Path,
) -> None:
    names = ["a\nb", "c\td", "e\r\nf", "g\rh", 'q"uote\n']
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in names:
        write_v73(folder / f"{name}.mat", case_arrays())
    out, options = tmp_path / "f.csv", ("--jobs", "1", "--set", "featureClass.glcm=[Contrast]")
    first = _cli("extract", folder, "-o", out, *options)
    assert first.returncode == 0, first.stderr
    complete = read_table(out)
    assert sorted(complete["case"]) == sorted(names)  # the exact names, not mangled ids

    again = _cli("extract", folder, "-o", out, "--resume", *options)
    assert again.returncode == 0, again.stderr
    assert f"{len(names)} already done" in again.stderr
    assert_same_rows(out, complete)  # no duplicate row

    # A crash cut the file just after a line break inside a quoted name: that case runs again.
    data = out.read_bytes()
    cut = data.index(b'"q""uote\n') + len(b'"q""uote\n')
    out.write_bytes(data[:cut])
    kept = data[:cut].decode().replace('"', "")  # the rows before the cut, unquoted
    before = sum(1 for name in names if f"{name}," in kept)
    resumed = _cli("extract", folder, "-o", out, "--resume", *options)
    assert resumed.returncode == 0, resumed.stderr
    # The cut case runs again, and so does the one before it (whose rows it might continue).
    assert f"{before - 1} already done" in resumed.stderr
    assert_same_rows(out, complete)
