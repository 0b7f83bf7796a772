"""Features tables on disk: recognised from the header alone, bad files named with the problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from napari_radiomics.errors import ReadError
from napari_radiomics.feature_tables import (
    check_features_header,
    looks_like_features_table,
    read_features_table,
)

TABLE = pd.DataFrame(
    {
        "case": ["017", "2"],
        "patient_id": ["00123", "P2"],
        "original_firstorder_Mean": [1.5, 2.5],
        "wavelet-LLH_glcm_Contrast": [0.1, 0.2],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_features_table_is_recognised_and_read_with_ids_as_text(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"features{suffix}"
    if suffix == ".csv":
        TABLE.to_csv(path, index=False)
    else:
        TABLE.to_parquet(path, index=False)
    assert looks_like_features_table(path)
    assert check_features_header(path) == list(TABLE.columns)
    table = read_features_table(path)
    assert table["case"].tolist() == ["017", "2"]
    assert table["original_firstorder_Mean"].tolist() == [1.5, 2.5]


def test_other_files_are_not_claimed_and_reading_them_names_the_problem(tmp_path: Path) -> None:
    points = tmp_path / "points.csv"  # napari's own points CSV
    points.write_text("index,axis-0,axis-1\n0,1.0,2.0\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81 not text")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 truncated")
    text = tmp_path / "features.txt"
    TABLE.to_csv(text, index=False)
    cases = [
        (points, "has no feature columns"),
        (empty, "is empty"),
        (binary, "cannot be read as CSV"),
        (broken, "cannot be read as PARQUET"),
        (text, "not a features table: expected .csv or .parquet"),
        (tmp_path / "missing.csv", "no such file"),
    ]
    for path, problem in cases:
        assert not looks_like_features_table(path)
        with pytest.raises(ReadError, match=problem) as raised:
            read_features_table(path)
        assert raised.value.path == path


def test_the_viewers_reader_undoes_the_spreadsheet_escape(tmp_path: Path) -> None:
    """What the dataset table shows for a table this plugin wrote: the ids, not their
    escaped cells (see docs/bad-input.md, "CSV files and spreadsheets")."""
    from napari_radiomics._spreadsheet import escape_frame

    ids = ["=1+1", "-5", "'quoted", "017"]
    frame = pd.DataFrame({"case": ids, "patient_id": ids, "original_firstorder_Mean": -1.5})
    path = tmp_path / "features.csv"
    escape_frame(frame).to_csv(path, index=False)
    assert "'=1+1" in path.read_text()
    table = read_features_table(path)
    assert table["case"].tolist() == table["patient_id"].tolist() == ids
    assert table["original_firstorder_Mean"].tolist() == [-1.5] * 4
