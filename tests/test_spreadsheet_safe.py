"""CSV files safe to open in a spreadsheet, and ids that still come back exactly.

Every CSV this project writes puts a ``'`` before text that a spreadsheet would run as a
formula (and before a leading ``'``); its own readers take exactly one off again. Checked on
the files themselves (what a spreadsheet would open) and through the project's readers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_radiomics._spreadsheet import FORMULA_STARTS, escape_frame, unescape_frame
from napari_radiomics.cli import main
from napari_radiomics.corrections import CorrectionStore, attach, stack_refs, store_dir_for
from napari_radiomics.io import open_mat_stack, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import read_table
from sample_files import write_mat_folder

#: Ids a spreadsheet would run (or that look like numbers), which must come back exactly.
HOSTILE = ["=1+1", "-5", "+49 30", "@SUM(A1)", "'quoted", "017"]


def _cells(path: Path) -> list[list[str]]:
    """The cells as a spreadsheet sees them (no unescaping)."""
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _assert_no_formula(path: Path) -> None:
    """No text cell starts like a formula (a negative number is a number, not a formula)."""
    for row in _cells(path):
        for cell in row:
            if _is_number(cell):
                continue
            assert not cell.startswith(FORMULA_STARTS), f"{path.name}: {cell!r} runs as a formula"


def test_the_rule_round_trips_every_text_and_leaves_numbers_alone() -> None:
    texts = [*HOSTILE, "\tx", "\rx", "''", "", "plain"]
    frame = pd.DataFrame({"case": texts, "original_firstorder_Mean": np.linspace(-2, 2, 11)})
    escaped = escape_frame(frame)
    assert (
        escaped["original_firstorder_Mean"].tolist() == frame["original_firstorder_Mean"].tolist()
    )
    assert escaped["case"].tolist()[:5] == ["'=1+1", "'-5", "'+49 30", "'@SUM(A1)", "''quoted"]
    assert escaped["case"].iloc[5] == "017"
    assert unescape_frame(escaped.copy())["case"].tolist() == texts


def _hostile_folder(tmp_path: Path) -> Path:
    """One .mat file per HOSTILE id, named by it and holding it as its patient id."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i, name in enumerate(HOSTILE):
        tumor = make_synthetic_slice(seed=i, shape=(48, 48), label=i % 3 + 1, patient_id=name)
        write_tumor_mat(folder / f"{name}.mat", tumor)
    return folder


def test_features_csv_escapes_ids_and_resume_still_knows_them(tmp_path: Path) -> None:
    """Case ids from file names and patient ids from inside the .mat files, through
    ``extract``: the file holds no formula, read_table gives the ids back, and ``--resume``
    recognises every finished case (no row is written twice)."""
    folder = _hostile_folder(tmp_path)
    out = tmp_path / "features.csv"
    assert main(["extract", str(folder), "-o", str(out), "-q", "--jobs", "1"]) == 0
    _assert_no_formula(out)
    table = read_table(out)
    assert sorted(table["case"]) == sorted(HOSTILE)
    assert (table["case"] == table["patient_id"]).all()
    assert (table.select_dtypes("number").to_numpy() < 0).any()  # negative numbers stay numbers
    assert main(["extract", str(folder), "-o", str(out), "-q", "--resume", "--jobs", "1"]) == 0
    assert len(read_table(out)) == len(table)
    parquet = tmp_path / "features.parquet"
    assert main(["extract", str(folder), "-o", str(parquet), "-q", "--jobs", "1"]) == 0
    assert sorted(pd.read_parquet(parquet)["case"]) == sorted(HOSTILE)  # values as they are


def test_an_exports_cases_csv_escapes_ids(tmp_path: Path) -> None:
    folder = _hostile_folder(tmp_path)
    out = tmp_path / "export"
    assert main(["export", str(folder), "-o", str(out), "--format", "mat"]) == 0
    _assert_no_formula(out / "cases.csv")
    assert sorted(read_table(out / "cases.csv")["case"]) == sorted(HOSTILE)


def test_model_predictions_escape_case_ids(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):
        kind = ("glioma", "meningioma")[i % 2]
        rows.append(
            {
                "case": f"{HOSTILE[i % len(HOSTILE)]}{i}" if i % 6 else "=1+1",
                "patient_id": f"-P{i // 2}",
                "tumor_type": kind,
                "original_firstorder_Mean": rng.normal(3.0 * (i % 2), 1.0),
                "original_firstorder_Energy": rng.normal(0.0, 1.0),
            }
        )
    table = tmp_path / "features.csv"
    escape_frame(pd.DataFrame(rows)).to_csv(table, index=False)
    out = tmp_path / "model"
    assert main(["model", str(table), "-o", str(out), "--importance-repeats", "1"]) == 0
    predictions = out / "predictions.csv"
    _assert_no_formula(predictions)
    assert sorted(read_table(predictions)["case"]) == sorted(r["case"] for r in rows)
    assert set(read_table(predictions)["patient_id"]) == {r["patient_id"] for r in rows}


def test_cluster_files_escape_case_ids(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = [
        {
            "case": f"{HOSTILE[i % len(HOSTILE)]}{i}" if i % 6 else "=1+1",
            "patient_id": f"-P{i // 2}",
            "tumor_type": ("=glioma", "meningioma")[i // 2 % 2],
            "original_firstorder_Mean": rng.normal(3.0 * (i // 2 % 2), 1.0),
            "original_firstorder_Energy": rng.normal(0.0, 1.0),
        }
        for i in range(40)
    ]
    table = tmp_path / "features.csv"
    escape_frame(pd.DataFrame(rows)).to_csv(table, index=False)
    out = tmp_path / "clusters"
    assert main(["cluster", str(table), "-o", str(out), "--clusters", "2"]) == 0
    for name in ("clusters.csv", "contingency.csv"):
        _assert_no_formula(out / name)
    clusters = read_table(out / "clusters.csv")
    assert list(clusters["case"]) == [r["case"] for r in rows]
    assert "=glioma" in read_table(out / "contingency.csv").columns


def test_review_notes_and_the_log_are_escaped_and_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "brain"
    write_mat_folder(folder, 4)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    session = attach(stack.mask, refs, folder, stack=True)
    note = '=HYPERLINK("http://example.invalid","see")'
    session.set_status(0, "flagged", note)
    session.set_status(1, "accepted", "'quoted")
    assert session.autosave.flush(timeout=10)
    root = store_dir_for(folder)
    for name in ("review.csv", "log.csv"):
        _assert_no_formula(root / name)
    reopened = CorrectionStore(root, folder, write=False)
    assert reopened.note(refs[0].case) == note
    assert reopened.note(refs[1].case) == "'quoted"
    assert reopened.log_table()["note"].tolist() == [note, "'quoted"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_column_name_round_trips(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.csv"
    escape_frame(pd.DataFrame({text: ["a"], "original_firstorder_Mean": [-1.0]})).to_csv(
        path, index=False
    )
    _assert_no_formula(path)
    assert list(read_table(path).columns) == [text, "original_firstorder_Mean"]
