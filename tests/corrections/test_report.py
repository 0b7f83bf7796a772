"""The corrections report: the store's reviewed cases with their identities, written as CSV,
and `napari-radiomics corrections`, which writes the same report from the files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from napari_radiomics._spreadsheet import unescape_frame
from napari_radiomics.cli import main
from napari_radiomics.columns import CASE_COLUMNS
from napari_radiomics.corrections import (
    attach,
    corrections_report,
    report_summary,
    stack_refs,
    store_dir_for,
    write_report,
)
from napari_radiomics.errors import WriteError
from napari_radiomics.io import open_mat_stack
from sample_files import write_mat_folder


def test_the_report_joins_identities_and_reads_back(reviewed, tmp_path: Path) -> None:
    _folder, session, slices = reviewed
    report = corrections_report(session.store, slices[list(CASE_COLUMNS)])
    assert list(report.columns[:5]) == ["case", "patient_id", "label", "tumor_type", "status"]
    rows = report.set_index("case")
    assert rows["status"].to_dict() == {"1": "accepted", "2": "corrected", "3": "flagged"}
    assert rows.loc["2", "patient_id"] == str(slices.set_index("case").loc["2", "patient_id"])
    assert int(rows.loc["2", "voxels_added"]) > 0
    assert rows.loc["1", "voxels_added"] == ""  # provenance is for corrections only
    assert report_summary(report) == "3 cases with a status: 1 accepted, 1 corrected, 1 flagged"
    # cases the identities do not name, or a column they lack, stay blank
    partial = corrections_report(session.store, pd.DataFrame({"case": ["2", "2"]}))
    assert (partial[["patient_id", "label", "tumor_type"]] == "").all().all()
    path = write_report(report, tmp_path / "report.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw.set_index("case").loc["1", "note"] == "'=HYPERLINK(1)"  # escaped for spreadsheets
    pd.testing.assert_frame_equal(unescape_frame(raw), report, check_dtype=False)


def test_the_cli_writes_the_report_of_the_dataset_from_its_files(
    reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, session, slices = reviewed
    expected = write_report(
        corrections_report(session.store, slices[list(CASE_COLUMNS)]),
        tmp_path / "expected.csv",
    )
    out = tmp_path / "report.csv"
    assert main(["corrections", str(folder), "-o", str(out)]) == 0
    assert out.read_bytes() == expected.read_bytes()
    printed = capsys.readouterr().out
    assert printed == f"3 cases with a status: 1 accepted, 1 corrected, 1 flagged: {out}\n"
    # the same store named explicitly
    store = store_dir_for(folder)
    again = tmp_path / "again.csv"
    assert main(["corrections", str(folder), "--corrections", str(store), "-o", str(again)]) == 0
    assert again.read_bytes() == expected.read_bytes()


def test_cli_refusals_exit_2_naming_the_problem(
    reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _session, _slices = reviewed
    out = tmp_path / "report.csv"
    out.write_text("keep me")
    assert main(["corrections", str(folder), "-o", str(out)]) == 2
    assert f"{out}: already exists; choose another OUTPUT or use --overwrite" in (
        capsys.readouterr().err
    )
    assert out.read_text() == "keep me"
    assert main(["corrections", str(folder), "-o", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("case,patient_id,label,tumor_type,status,")
    capsys.readouterr()
    not_a_store = tmp_path / "elsewhere"
    not_a_store.mkdir()
    argv = ["corrections", str(folder), "--corrections", str(not_a_store), "-o", "x.csv"]
    assert main(argv) == 2
    assert f"{not_a_store}: not a corrections store (no store.yaml)" in capsys.readouterr().err
    assert main(["corrections", str(tmp_path / "missing"), "-o", "x.csv"]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err


def test_the_report_never_replaces_a_source_or_a_store_file(
    reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even with --overwrite: not a case file, not a batch .csv given as INPUT, not the
    store's own review.csv or log.csv."""
    folder, _session, _slices = reviewed
    store = store_dir_for(folder)
    batch = tmp_path / "cases.csv"
    batch.write_text(f"Image\n{folder / '1.mat'}\n")
    targets = {
        folder / "1.mat": "the report is a .csv file",
        batch: "is one of the INPUTs",
        store / "review.csv": f"is inside the corrections store {store}",
        store / "log.csv": f"is inside the corrections store {store}",
    }
    for target, problem in targets.items():
        before = target.read_bytes()
        inputs = [str(batch)] if target == batch else [str(folder)]
        argv = ["corrections", *inputs, "-o", str(target), "--overwrite"]
        assert main(argv) == 2, target
        assert f"{target}: {problem}" in capsys.readouterr().err
        assert target.read_bytes() == before


def test_the_report_never_replaces_an_input_reached_under_another_name(
    reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OUTPUT that is the batch .csv given, by another name (a hard link, as ``Cases.csv``
    is ``cases.csv`` where case is ignored), is refused with --overwrite too, before the
    stores are read, and the batch .csv is left byte for byte; the core refuses a case's file
    given as the report's path (what the Review dock passes: its store and case files)."""
    folder, session, _slices = reviewed
    image = sitk.GetImageFromArray(np.arange(64, dtype=np.int16).reshape(4, 4, 4))
    sitk.WriteImage(image, str(tmp_path / "scan.nrrd"))
    sitk.WriteImage(sitk.Cast(image > 30, sitk.sitkUInt8), str(tmp_path / "seg.nrrd"))
    batch = tmp_path / "cases.csv"
    batch.write_text("Image,Mask\nscan.nrrd,seg.nrrd\n")
    linked = tmp_path / "out" / "report.csv"
    linked.parent.mkdir()
    os.link(batch, linked)
    before = batch.read_bytes()
    assert main(["corrections", str(batch), "-o", str(linked), "--overwrite"]) == 2
    assert f"{linked}: is one of the INPUTs; choose another OUTPUT" in capsys.readouterr().err
    assert batch.read_bytes() == before
    assert linked.samefile(batch)
    report = corrections_report(session.store)
    sources = [ref.path for ref in session.refs]
    case = folder / "1.mat"
    data = case.read_bytes()
    with pytest.raises(WriteError, match="is one of the INPUTs"):
        write_report(report, case, [session.store.root], sources)
    with pytest.raises(WriteError, match="is inside the corrections store"):
        write_report(report, store_dir_for(folder) / "review.csv", [session.store.root])
    assert case.read_bytes() == data


def test_a_report_over_two_datasets_names_the_dataset_of_each_row(
    reviewed, tmp_path: Path
) -> None:
    """Both datasets have a case "1": without a dataset column the rows could not be told apart."""
    first, _session, _slices = reviewed
    second = tmp_path / "other"
    write_mat_folder(second, 2)
    stack = open_mat_stack(second)
    session = attach(stack.mask, stack_refs(stack.slices), second, stack=True)
    session.set_status(0, "flagged", "second dataset")
    assert session.autosave.flush(timeout=10)
    out = tmp_path / "both.csv"
    assert main(["corrections", str(first), str(second), "-o", str(out)]) == 0
    report = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert report.columns[0] == "dataset"
    statuses = report.set_index(["dataset", "case"])["status"].to_dict()
    assert statuses[(str(first.resolve()), "1")] == "accepted"
    assert statuses[(str(second.resolve()), "1")] == "flagged"
    assert len(report) == 4
