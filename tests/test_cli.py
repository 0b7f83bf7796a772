"""The `napari-radiomics` command: in-process via main(), and as a real subprocess."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from napari_radiomics import __version__
from napari_radiomics.batch import run_batch
from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.engine import extract_features
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from processes import interrupt_extract
from sample_files import (
    MAT_FOLDER_CASES,
    assert_same_rows,
    corrupt_mat,
    empty_mask_mat,
    write_mat_folder,
)

N = MAT_FOLDER_CASES  # the shared mat_folder fixture's cases


def _cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter, as a user (or a scheduler) would."""
    command = [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"napari-radiomics {__version__}"
    assert main(["extract", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--params", "--preset", "--set", "--jobs", "--dask", "--resume", "--limit"):
        assert option in text
    assert "cvind.mat is skipped" in text
    assert "Exit status" in text
    assert main(["view", "--help"]) == 0
    assert "--no-extract" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["extract", "x.mat"], "the following arguments are required: -o/--output"),
        (["extract", "missing.mat", "-o", "f.csv"], "missing.mat: no such file or folder"),
        (["extract", "IN", "-o", "f.csv", "--jobs", "0"], "expected a positive integer"),
        (["extract", "IN", "-o", "f.csv", "--jobs", "100000"], "100000 worker processes is more"),
        (["maps", "IN", "-o", "maps", "--jobs", "100000"], "100000 worker processes is more"),
        (["robustness", "IN", "-o", "r", "--jobs", "100000"], "100000 worker processes is more"),
        (["extract", "IN", "-o", "f.csv", "--preset", "nope"], "invalid choice: 'nope'"),
        (["extract", "IN", "-o", "f.csv", "--set", "binWidth"], "expected key=value"),
        (["extract", "IN", "-o", "f.csv", "--set", "binWidht=3"], "binWidht"),
        (["extract", "IN", "-o", "f.csv", "--set", "binWidth=-1"], "binWidth"),
        (["extract", "IN", "-o", "f.csv", "--params", "nope.yaml"], "nope.yaml"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, mat_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(mat_folder) if a == "IN" else a for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_extract_in_process_with_preset_limit_and_set(
    mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.csv"
    argv = ["extract", str(mat_folder), "-o", str(out), "--preset", "brain-tumor-mri"]
    assert main([*argv, "--limit", "2", "--set", "binWidth=64", "--jobs", "1"]) == 0
    frame = read_table(out)
    assert sorted(frame["case"]) == ["1", "2"]
    params = yaml.safe_load((tmp_path / "f.params.yaml").read_text())
    assert params["setting"]["binWidth"] == 64
    preset = ExtractionSettings.preset("brain-tumor-mri").to_params()
    preset["setting"]["binWidth"] = 64
    assert params == preset
    settings = ExtractionSettings.from_params(params)
    image, mask, metadata = load_case(discover_cases([mat_folder])[0])
    expected = extract_features(image, mask, settings, metadata=metadata)
    features = [c for c in expected.columns if c.startswith("original_")]
    row = frame[frame["case"] == "1"]
    pd.testing.assert_frame_equal(
        row[features].reset_index(drop=True), expected[features], check_dtype=False
    )
    assert "2 rows for 2 cases written" in capsys.readouterr().err
    # The file exists now: a second run must say how to continue.
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume", "--overwrite"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_params_file_round_trips_through_pyradiomics_format(
    mat_folder: Path, tmp_path: Path
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("setting:\n  binWidth: 20\n  normalize: true\nimageType:\n  Original: {}\n")
    out = tmp_path / "f.csv"
    assert (
        main(["extract", str(mat_folder / "1.mat"), "-o", str(out), "--params", str(params)]) == 0
    )
    written = yaml.safe_load((tmp_path / "f.params.yaml").read_text())
    assert written["setting"]["binWidth"] == 20
    assert written["setting"]["normalize"] is True


def test_nrrd_with_mask_and_batch_csv(tmp_path: Path, pyradiomics_data: Path) -> None:
    image, mask = pyradiomics_data / "brain1_image.nrrd", pyradiomics_data / "brain1_label.nrrd"
    out = tmp_path / "one.csv"
    assert main(["extract", str(image), "--mask", str(mask), "-o", str(out), "-q"]) == 0
    one = read_table(out)
    assert one["case"].tolist() == ["brain1_image"]
    expected = extract_features(*load_case(discover_cases([image], mask=mask)[0])[:2])
    features = [c for c in expected.columns if c.startswith("original_")]
    assert "original_shape_VoxelVolume" in features  # 3D: shape, not shape2D
    pd.testing.assert_frame_equal(one[features], expected[features], check_dtype=False)

    table = tmp_path / "cases.csv"
    table.write_text(f"Image,Mask,Label,Reader\n{image},{mask},1,alice\n")
    out = tmp_path / "csv.csv"
    assert main(["extract", str(table), "-o", str(out), "-q"]) == 0
    frame = read_table(out)
    assert frame["Reader"].tolist() == ["alice"]
    assert list(frame.columns[:8]) == [
        "case", "patient_id", "label", "tumor_type", "mask_source", "mask_digest", "Reader",
        "roi_label",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(frame[features], expected[features], check_dtype=False)


def test_subprocess_exit_statuses(mat_folder: Path, tmp_path: Path) -> None:
    ok = _cli("extract", mat_folder, "-o", tmp_path / "ok.csv", "--jobs", "2")
    assert ok.returncode == 0, ok.stderr
    assert len(read_table(tmp_path / "ok.csv")) == N
    assert "cases/s" in ok.stderr

    bad = corrupt_mat(tmp_path / "77.mat")
    some = _cli("extract", mat_folder, bad, "-o", tmp_path / "some.csv", "--jobs", "2")
    assert some.returncode == 3, some.stderr
    assert len(read_table(tmp_path / "some.csv")) == N
    errors = pd.read_csv(tmp_path / "some.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["77"]
    assert "77.mat" in some.stderr

    usage = _cli("extract", "-o", tmp_path / "x.csv")
    assert usage.returncode == 2
    assert "usage:" in usage.stderr


#: Wavelet filters make each case slow enough to be caught mid-run.
SLOW = ("--set", "imageType.Wavelet={}", "--jobs", "2")


def test_ctrl_c_keeps_finished_rows(tmp_path: Path) -> None:
    folder = tmp_path / "mats"
    write_mat_folder(folder, 8, shape=(96, 96))
    stderr = interrupt_extract(folder, tmp_path / "f.csv", signal.SIGINT, *SLOW)
    assert "rerun with --resume" in stderr
    assert "Traceback" not in stderr
    kept = read_table(tmp_path / "f.csv")
    assert 3 <= len(kept) < 8
    assert (tmp_path / "f.csv").read_text().endswith("\n")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopped_with_parquet_output_names_the_journal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The Parquet table is written once, at the end: stopped before it, there is only the
    journal, named in the note, and --resume writes the whole table from it."""
    folder = tmp_path / "mats"
    write_mat_folder(folder, 8, shape=(96, 96))
    stderr = interrupt_extract(folder, tmp_path / "f.parquet", sig, *SLOW)
    assert f"finished cases are in {tmp_path / 'f.partial.csv'}" in stderr
    assert not (tmp_path / "f.parquet").exists()
    assert 3 <= len(read_table(tmp_path / "f.partial.csv")) < 8
    resumed = _cli("extract", folder, "-o", tmp_path / "f.parquet", *SLOW, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(read_table(tmp_path / "f.parquet")) == 8
    assert not (tmp_path / "f.partial.csv").exists()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_stopped_mid_run_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Kill the whole command (parent and workers) after a few rows, then --resume. SIGTERM
    (a scheduler stopping the job) acts as Ctrl-C: the note says how to resume, exit 143 (it
    used to die on the spot, -15, without a word)."""
    folder = tmp_path / "mats"
    write_mat_folder(folder, 12, shape=(96, 96))
    out = tmp_path / "f.csv"
    slow = list(SLOW)
    stderr = interrupt_extract(folder, out, sig, *slow)
    assert "Traceback" not in stderr
    if sig == signal.SIGTERM:
        assert f"finished cases are in {out}: rerun with --resume" in stderr
    interrupted = read_table(out)
    assert 3 <= len(interrupted) < 12

    resumed = _cli("extract", folder, "-o", out, *slow, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(interrupted)} already done" in resumed.stderr

    settings = ExtractionSettings.from_params(
        yaml.safe_load((tmp_path / "f.params.yaml").read_text())
    )
    run_batch(discover_cases([folder]), settings, tmp_path / "whole.csv", jobs=2)
    assert_same_rows(out, read_table(tmp_path / "whole.csv"))


def test_empty_mask_and_absent_label_are_failed_cases(
    mat_folder: Path, tmp_path: Path, pyradiomics_data: Path
) -> None:
    """The run goes on past them; both are in the errors file; exit status 3."""
    tumor = make_synthetic_slice(shape=(64, 64))
    empty = dataclasses.replace(tumor, mask=np.zeros_like(tumor.mask), border=np.zeros((0, 2)))
    write_tumor_mat(tmp_path / "50.mat", empty)
    image, mask = pyradiomics_data / "breast1_image.nrrd", pyradiomics_data / "breast1_label.nrrd"
    table = tmp_path / "cases.csv"
    table.write_text(f"Image,Mask,Label\n{image},{mask},1\n{image},{mask},7\n")
    out = tmp_path / "f.csv"
    # 2D slices and a 3D scan have different feature columns: separate outputs.
    assert main(["extract", str(tmp_path / "50.mat"), str(mat_folder), "-o", str(out), "-q"]) == 3
    assert len(read_table(out)) == N
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["50"]
    assert "empty tumour mask" in errors["message"].item()

    out = tmp_path / "g.csv"
    assert main(["extract", str(table), "-o", str(out), "-q"]) == 3
    assert read_table(out)["case"].tolist() == ["breast1_image:label1"]
    errors = pd.read_csv(tmp_path / "g.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["breast1_image:label7"]
    assert "7" in errors["message"].item()


def test_resume_still_reports_labels_that_failed_before(
    tmp_path: Path, pyradiomics_data: Path
) -> None:
    """A case whose label 1 worked and label 2 failed is finished; resuming skips it, but the
    failure in the errors file still makes the exit status 3."""
    label = sitk.ReadImage(str(pyradiomics_data / "breast1_label.nrrd"))
    array = sitk.GetArrayFromImage(label)
    array[0, 0, 0] = 2  # a one-voxel ROI pyradiomics refuses
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(label)
    sitk.WriteImage(mask, str(tmp_path / "two_labels.nrrd"))
    argv = ["extract", str(pyradiomics_data / "breast1_image.nrrd"), "--mask"]
    argv += [str(tmp_path / "two_labels.nrrd"), "-o", str(tmp_path / "f.csv"), "-q"]
    assert main(argv) == 3
    assert read_table(tmp_path / "f.csv")["roi_label"].tolist() == [1]
    assert main([*argv, "--resume"]) == 3
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert len(errors) == 1


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def test_check_names_the_cases_that_would_fail_and_writes_nothing(
    mat_folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty_mask_mat(tmp_path / "50.mat")
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    inputs = [str(tmp_path / "50.mat"), str(mat_folder)]
    assert main(["extract", *inputs, "--check"]) == 3  # no -o needed
    out, err = capsys.readouterr()
    lines = out.splitlines()
    failing = [line for line in lines if not line.startswith(("all ", f"{N} cases"))]
    assert len(failing) == 1
    assert failing[0].startswith("50: error: ")
    assert "empty tumour mask" in failing[0]
    # A note every readable case shares is said once, with its count.
    listed = ", ".join(str(i) for i in range(1, min(N, 5) + 1)) + (", ..." if N > 5 else "")
    assert f"{N} cases ({listed}): note: shape (3D) features are not computed" in out
    assert f"checked {N + 1} cases" in err
    assert f"{N} would run, 1 would fail" in err
    output = tmp_path / "f.csv"
    assert main(["extract", *inputs, "--check", "-o", str(output), "-q"]) == 3
    assert _files(tmp_path) == before  # nothing written, not even with -o
    # What extract then does: the same case fails, the others succeed.
    assert main(["extract", *inputs, "-o", str(output), "-q", "--jobs", "1"]) == 3
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["50"]


def test_check_exits_0_when_every_case_would_run(
    mat_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(mat_folder), "--check"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"all {N} cases: note: shape (3D) features are not computed on a 2D image; enable "
        "shape2D for area, perimeter and the like"
    ]
    assert f"{N} would run, 0 would fail" in err
    assert main(["extract", str(mat_folder), "--check", "--preset", "brain-tumor-mri"]) == 0
    assert capsys.readouterr().out == ""  # shape2D is on: nothing to say
    assert main(["extract", str(mat_folder), "--check", "--set", "binWidht=3"]) == 2
    assert "binWidht" in capsys.readouterr().err


def test_check_counts_a_refused_label_as_the_batch_does(
    tmp_path: Path, pyradiomics_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An absent label, and a one-voxel label beside a good one: extract reports both cases
    as failed, so --check does."""
    image, mask = pyradiomics_data / "breast1_image.nrrd", pyradiomics_data / "breast1_label.nrrd"
    table = tmp_path / "cases.csv"
    table.write_text(f"Image,Mask,Label\n{image},{mask},1\n{image},{mask},7\n")
    assert main(["extract", str(table), "--check", "-q"]) == 3
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("breast1_image:label7: error: label 7 not present in the mask")
    label = sitk.ReadImage(str(mask))
    array = sitk.GetArrayFromImage(label)
    array[0, 0, 0] = 2  # a one-voxel ROI pyradiomics refuses
    two = sitk.GetImageFromArray(array)
    two.CopyInformation(label)
    sitk.WriteImage(two, str(tmp_path / "two_labels.nrrd"))
    argv = ["extract", str(image), "--mask", str(tmp_path / "two_labels.nrrd"), "--check"]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert "breast1_image: note: label 2 in the mask is a single pixel" in out


def _sparse_roi(folder: Path) -> tuple[Path, Path]:
    """A float image and a ROI of a 2x2 square and a lone voxel: some kernels have no pair
    along some angles, so numpy warns ("Mean of empty slice") inside pyradiomics' formulas."""
    image = np.random.default_rng(0).normal(100, 20, (64, 64))
    mask = np.zeros(image.shape, dtype=np.uint8)
    mask[20:22, 20:22] = 1
    mask[30, 30] = 1
    paths = folder / "sparse.nrrd", folder / "sparse_mask.nrrd"
    for array, path in zip((image, mask), paths, strict=True):
        sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return paths


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_quiet_maps_print_no_library_warning_in_any_process(tmp_path: Path, jobs: str) -> None:
    image, mask = _sparse_roi(tmp_path)
    argv = ["maps", image, "--mask", mask, "--features", "glrlm", "--jobs", jobs]
    loud = _cli(*argv, "-o", tmp_path / "loud")
    assert loud.returncode == 0, loud.stderr
    assert "RuntimeWarning: Mean of empty slice" in loud.stderr  # the warnings exist
    quiet = _cli(*argv, "-o", tmp_path / "quiet", "-q")
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert len(list((tmp_path / "quiet").glob("*.nrrd"))) == 16  # glrlm's maps all written


def test_quiet_is_the_same_for_extract_and_robustness(mat_folder: Path, tmp_path: Path) -> None:
    """Their cases warn (2D slices have no 3D shape features); -q prints none of it."""
    runs = {
        "extract": ["extract", mat_folder, "-o", tmp_path / "f.csv", "--jobs", "1"],
        "robustness": ["robustness", mat_folder, "-o", tmp_path / "rob.csv", "--jobs", "1",
                       "--perturbations", "1", "--methods", "noise", "--threshold", "0.5"],
    }  # fmt: skip
    for name, argv in runs.items():
        loud = _cli(*argv, "--overwrite")
        assert loud.returncode == 0, loud.stderr
        assert "warning: image is 2D" in loud.stderr, name
        quiet = _cli(*argv, "--overwrite", "-q")
        assert quiet.returncode == 0, quiet.stderr
        assert quiet.stderr == "", name
