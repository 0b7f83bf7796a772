"""run_batch with the real reader, the real engine and real pyradiomics, on every backend."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster
from scipy import ndimage

from napari_radiomics.batch import BatchError, iter_batch, run_batch
from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from sample_files import MAT_FOLDER_CASES, assert_same_rows, corrupt_mat, sorted_rows, write_bundle

N = MAT_FOLDER_CASES  # the shared mat_folder fixture's cases
SETTINGS = ExtractionSettings.from_params(
    {"setting": {"normalize": True, "binWidth": 32}, "imageType": {"Original": {}}}
)


@pytest.fixture(scope="module")
def serial(mat_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The reference: every case in this process, one after another."""
    out = tmp_path_factory.mktemp("serial") / "features.csv"
    summary = run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=1)
    assert (summary.succeeded, summary.failed, summary.rows) == (N, 0, N)
    assert summary.backend == "serial"
    return read_table(out)


def test_columns_and_parity_with_the_engine(serial: pd.DataFrame, mat_folder: Path) -> None:
    assert list(serial.columns[:7]) == [
        "case", "patient_id", "label", "tumor_type", "mask_source", "mask_digest", "roi_label"
    ]  # fmt: skip
    assert set(serial["mask_source"]) == {"original"}
    features = list(serial.columns[7:])
    assert features
    assert all(name.startswith("original_") for name in features)
    assert sorted(serial["case"]) == [str(i) for i in range(1, N + 1)]
    for case in discover_cases([mat_folder]):
        image, mask, metadata = load_case(case)
        expected = extract_features(image, mask, SETTINGS, metadata=metadata)
        row = serial[serial["case"] == case.case_id]
        assert list(expected.columns) == list(serial.columns)
        pd.testing.assert_frame_equal(
            row[features].reset_index(drop=True),
            expected[features].reset_index(drop=True),
            check_exact=True,
            check_dtype=False,
        )
        assert row["patient_id"].item() == metadata["patient_id"]
        assert row["tumor_type"].item() == metadata["tumor_type"]


def test_process_pool_equals_serial(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pool.csv"
    summary = run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=2)
    assert summary.backend == "2 processes"
    assert summary.ok
    assert_same_rows(out, serial)


@dataclass(frozen=True)
class _Eroded:
    """A per-case task other than plain extraction, with a setting of its own: each case
    measured on its mask eroded ``steps`` times (defined at module level, so it pickles)."""

    steps: int

    def __call__(
        self,
        engine: FeatureEngine,
        image: Any,
        mask: Any,
        labels: list[int] | None,
        metadata: dict[str, Any],
    ) -> pd.DataFrame:
        eroded = ndimage.binary_erosion(mask, iterations=self.steps).astype(np.uint8)
        return engine.extract(image, eroded, labels=labels, metadata=metadata)


def test_workers_run_the_task_they_are_given(mat_folder: Path, tmp_path: Path) -> None:
    """The batch runs any picklable per-case task (a robustness run gives its own): here the
    worker processes measure eroded masks, exactly as the engine does on them directly."""
    out = tmp_path / "eroded.csv"
    cases = discover_cases([mat_folder])
    summary = run_batch(cases, SETTINGS, out, jobs=2, task=_Eroded(2))
    assert summary.backend == "2 processes"
    assert (summary.succeeded, summary.rows) == (N, N)
    table = read_table(out)
    features = [c for c in table.columns if c.startswith("original_")]
    for case in cases:
        image, mask, metadata = load_case(case)
        eroded = ndimage.binary_erosion(mask, iterations=2).astype(np.uint8)
        expected = extract_features(image, eroded, SETTINGS, metadata=metadata)
        row = table[table["case"] == case.case_id]
        pd.testing.assert_frame_equal(
            row[features].reset_index(drop=True),
            expected[features].reset_index(drop=True),
            check_exact=True,
            check_dtype=False,
        )


def test_dask_local_cluster_equals_serial(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    """`dask="local"`: a LocalCluster of 2 single-threaded worker processes on loopback."""
    out = tmp_path / "dask.csv"
    summary = run_batch(discover_cases([mat_folder]), SETTINGS, out, dask="local", jobs=2)
    assert summary.backend == "dask (local)"
    assert summary.ok
    assert_same_rows(out, serial)


def test_dask_scheduler_address_from_the_command_line(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    """`--dask tcp://...`: an already running cluster, as on a real multi-machine setup."""
    params = SETTINGS.save(tmp_path / "params.yaml")
    out = tmp_path / "dask.csv"
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        argv = ["extract", str(mat_folder), "-o", str(out), "--params", str(params)]
        assert main([*argv, "--dask", cluster.scheduler_address, "-q"]) == 0
    assert_same_rows(out, serial)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "locall"])
def test_unreachable_dask_keeps_the_output_it_would_overwrite(
    mat_folder: Path, tmp_path: Path, address: str
) -> None:
    out = tmp_path / "f.csv"
    run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=1, limit=2)
    before = out.read_bytes()
    argv = ["extract", str(mat_folder), "-o", str(out), "--overwrite", "--dask", address, "-q"]
    assert main(argv) == 2
    assert out.read_bytes() == before


def test_failures_go_to_the_errors_file_and_the_run_goes_on(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    bad = corrupt_mat(tmp_path / "99.mat")
    cases = discover_cases([mat_folder, bad])
    summary = run_batch(cases, SETTINGS, tmp_path / "f.csv", jobs=2)
    assert (summary.succeeded, summary.failed, summary.rows) == (N, 1, N)
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert list(errors.columns) == ["case", "path", "message"]
    assert errors["case"].tolist() == ["99"]
    assert errors["path"].tolist() == [str(bad)]
    assert "99.mat" in errors["message"].item()
    pd.testing.assert_frame_equal(sorted_rows(read_table(tmp_path / "f.csv")), sorted_rows(serial))


def test_parquet_output(serial: pd.DataFrame, mat_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=1, limit=3)
    assert not (tmp_path / "features.partial.csv").exists()
    assert len(pd.read_parquet(out)) == 3
    summary = run_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=1, resume=True)
    assert (summary.skipped, summary.succeeded) == (3, N - 3)
    pd.testing.assert_frame_equal(sorted_rows(pd.read_parquet(out)), sorted_rows(serial))


def test_resume_skips_finished_cases_and_repairs_a_torn_line(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    cases = discover_cases([mat_folder])
    run_batch(cases, SETTINGS, out, jobs=1, limit=4)
    # A kill during the write of case 5 leaves half a line at the end.
    lines = out.read_text().splitlines(keepends=True)
    with out.open("a") as fh:
        fh.write(lines[-1][: len(lines[-1]) // 2].replace(lines[-1].split(",")[0], "5", 1))
    events = []
    summary = run_batch(
        cases, SETTINGS, out, jobs=1, resume=True, progress=lambda *e: events.append(e)
    )
    # The last complete case before the torn line is redone too: it may have been cut.
    assert (summary.skipped, summary.succeeded) == (3, N - 3)
    assert events[-1][:2] == (N - 3, N - 3)
    assert out.read_text().endswith("\n")
    assert_same_rows(out, serial)


def test_existing_output_and_changed_settings_are_refused(
    mat_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    cases = discover_cases([mat_folder])
    run_batch(cases, SETTINGS, out, jobs=1, limit=1)
    with pytest.raises(BatchError, match="already exists; pass --resume"):
        run_batch(cases, SETTINGS, out, jobs=1)
    other = ExtractionSettings.from_params({"setting": {"normalize": True, "binWidth": 16}})
    with pytest.raises(BatchError, match=r"different settings .*binWidth: 32 -> 16"):
        run_batch(cases, other, out, jobs=1, resume=True)
    summary = run_batch(cases, other, out, jobs=1, overwrite=True, limit=2)
    assert summary.rows == 2
    assert "binWidth: 16" in (tmp_path / "f.params.yaml").read_text()
    # The same settings with pyradiomics' default voxelArrayShift spelled out resume the run.
    spelled = ExtractionSettings.from_params(
        {"setting": {"normalize": True, "binWidth": 16, "voxelArrayShift": 0}}
    )
    assert run_batch(cases, spelled, out, jobs=1, resume=True, limit=3).rows == 1


def test_a_killed_worker_loses_no_case(
    serial: pd.DataFrame, mat_folder: Path, tmp_path: Path
) -> None:
    """SIGKILL one pool process mid-run: its cases run again, nothing is lost or doubled."""
    killed = []

    def kill_a_worker(done: int, total: int, message: str) -> None:
        if done == 1 and not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    out = tmp_path / "f.csv"
    summary = run_batch(
        discover_cases([mat_folder]), SETTINGS, out, jobs=2, chunksize=1, progress=kill_a_worker
    )
    assert killed
    assert summary.ok
    assert_same_rows(out, serial)


def test_bundle_and_limit(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    write_bundle(folder, 5)
    summary = run_batch(discover_cases([folder]), SETTINGS, tmp_path / "f.csv", jobs=2, limit=3)
    frame = read_table(tmp_path / "f.csv")
    assert summary.total == 3
    assert sorted(frame["case"]) == ["0", "1", "2"]
    assert set(frame["patient_id"]) == {"P0", "P1", "P2"}


def test_closing_the_generator_stops_the_run(mat_folder: Path, tmp_path: Path) -> None:
    """What Cancel in the GUI does: rows finished so far stay, and a resume completes."""
    out = tmp_path / "f.csv"
    run = iter_batch(discover_cases([mat_folder]), SETTINGS, out, jobs=2, chunksize=1)
    first = next(run)
    assert first.total == N
    assert first.case is None
    assert next(run).done == 1
    started = time.perf_counter()
    run.close()
    assert time.perf_counter() - started < 10
    kept = read_table(out)
    assert 1 <= len(kept) < N
    summary = run_batch(discover_cases([mat_folder]), SETTINGS, out, resume=True, jobs=1)
    assert summary.skipped == len(kept)
    assert len(read_table(out)) == N


def test_a_warning_shared_by_every_case_is_shown_once(mat_folder: Path, tmp_path: Path) -> None:
    """pyradiomics' defaults on 2D slices: no 3D shape features, said once, not N times."""
    with pytest.warns(UserWarning, match="is 2D") as caught:
        summary = run_batch(
            discover_cases([mat_folder]), ExtractionSettings(), tmp_path / "f.csv", jobs=2
        )
    assert summary.ok
    assert len([w for w in caught if "is 2D" in str(w.message)]) == 1
    columns = read_table(tmp_path / "f.csv").columns
    assert not any("shape" in c for c in columns)


def test_cases_with_other_feature_columns_are_refused_not_mixed(
    mat_folder: Path, tmp_path: Path, pyradiomics_data: Path
) -> None:
    """A 3D scan after 2D slices has shape, not shape2D, features: it cannot share the table."""
    image, mask = pyradiomics_data / "breast1_image.nrrd", pyradiomics_data / "breast1_label.nrrd"
    cases = discover_cases([mat_folder / "1.mat", image], mask=mask)
    summary = run_batch(cases, SETTINGS, tmp_path / "f.csv", jobs=1)
    assert (summary.succeeded, summary.failed) == (1, 1)
    assert read_table(tmp_path / "f.csv")["case"].tolist() == ["1"]
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["breast1_image"]
    assert "feature columns differ from the first case's" in errors["message"].item()


def test_deprecation_warnings_are_not_relayed_as_case_warnings(pyradiomics_data: Path) -> None:
    """pyradiomics' LBP3D filter imports from a deprecated SciPy namespace on every call: a
    note for developers, not something to show a user once per run as a case warning."""
    import SimpleITK as sitk
    from radiomics import imageoperations

    from napari_radiomics.batch._worker import run_case
    from napari_radiomics.engine import FeatureEngine, ensure_lbp3d_support

    (case,) = discover_cases(
        [pyradiomics_data / "breast1_image.nrrd"], mask=pyradiomics_data / "breast1_label.nrrd"
    )
    settings = ExtractionSettings(
        image_types={"LBP3D": {"binWidth": 1}}, feature_classes={"firstorder": []}
    )
    image, mask = sitk.ReadImage(case.path), sitk.ReadImage(case.mask)
    ensure_lbp3d_support()
    with pytest.warns(DeprecationWarning, match="scipy.ndimage.interpolation"):
        list(imageoperations.getLBP3DImage(image, mask))  # what the worker sees, and keeps
    result = run_case(FeatureEngine(settings), case)
    assert not result.errors
    assert any("lbp-3D" in name for name in result.feature_columns)
    assert not [w for w in result.warnings if "deprecated" in w.lower()]


def test_an_input_file_is_never_the_output_or_one_of_its_companions(
    pyradiomics_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o`` naming the batch CSV read, a case's mask or image, or a file the output's
    companions would replace (``features.params.yaml`` given as ``--params``) is a usage
    error naming the file, even with --overwrite (which deleted the mask and replaced the
    batch CSV with features), and every input is left byte for byte."""
    for name in ("brain1_image.nrrd", "brain1_label.nrrd", "brain2_image.nrrd"):
        (tmp_path / name).write_bytes((pyradiomics_data / name).read_bytes())
    image, mask = tmp_path / "brain1_image.nrrd", tmp_path / "brain1_label.nrrd"
    batch = tmp_path / "cases.csv"
    batch.write_text("Image,Mask\nbrain1_image.nrrd,brain1_label.nrrd\n", encoding="utf-8")
    params = tmp_path / "features.params.yaml"
    ExtractionSettings().save(params)
    other = tmp_path / "brain2_image.nrrd"  # another dataset's image: no table replaces it
    kept = {p: p.read_bytes() for p in (image, mask, batch, params, other)}
    for inputs, output, given in (
        ([str(batch)], batch, batch),
        ([str(image), "--mask", str(mask)], mask, mask),
        ([str(image), "--mask", str(mask)], other, None),
        ([str(batch), "--params", str(params)], tmp_path / "features.csv", params),
    ):
        argv = ["extract", *inputs, "-o", str(output), "--overwrite", "-q"]
        assert main(argv) == 2, argv
        error = capsys.readouterr().err
        assert (
            f"{given}: is an input of this run" in error if given else ".csv or .parquet" in error
        )
        assert {p: p.read_bytes() for p in kept} == kept
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)
