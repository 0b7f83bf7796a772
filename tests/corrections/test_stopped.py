"""`export` and `corrections` stopped by Ctrl-C, SIGTERM or SIGKILL at exact moments (real
subprocesses in their own session; see ``processes.run_cli_signalled``): the output is the
previous one or the new one, never a part, and a rerun gives what an uninterrupted run gives."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_radiomics._atomic import is_temporary
from napari_radiomics.batch import discover_cases
from napari_radiomics.corrections import store_dir_for
from napari_radiomics.io import read_tumor_mat
from processes import STOPPED_STATUS, run_cli, run_cli_signalled
from sample_files import file_states, write_mat_folder


def _case_ids(export: Path) -> list[str]:
    return sorted(pd.read_csv(export / "cases.csv", dtype=str)["case"])


def _assert_stopped(
    stopped: subprocess.CompletedProcess[str], sig: signal.Signals, said: str
) -> None:
    """Exited as the command does for `sig` (130, 143, killed), without a traceback, its last
    line (but when killed) beginning with `said`, which says what is kept."""
    assert stopped.returncode == STOPPED_STATUS[sig], stopped.stderr
    assert "Traceback" not in stopped.stderr
    if sig != signal.SIGKILL:
        assert stopped.stderr.strip().splitlines()[-1].startswith(said), stopped.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_export_stopped_mid_write_leaves_nothing_and_a_rerun_completes_it(
    reviewed, tmp_path: Path, sig: signal.Signals
) -> None:
    """Stopped as the corrected case is renamed into the staging folder (uncorrected cases
    already copied): no -o, no hidden folder, the dataset and its store untouched; the rerun
    writes what an uninterrupted export writes."""
    folder, _session, _slices = reviewed
    store = store_dir_for(folder)
    expected, out = tmp_path / "expected", tmp_path / "out"
    assert run_cli("export", folder, "-o", expected).returncode == 0
    inputs = {**file_states(folder), **file_states(store)}
    stopped = run_cli_signalled(sig, "os.rename", ".tmp.mat", "export", folder, "-o", out)
    _assert_stopped(stopped, sig, f"interrupted: no partial export; {out} is as it was")
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert {**file_states(folder), **file_states(store)} == inputs
    assert run_cli("export", folder, "-o", out).returncode == 0
    assert _case_ids(out) == _case_ids(expected)
    for path in expected.glob("*.mat"):
        written, wanted = read_tumor_mat(out / path.name), read_tumor_mat(path)
        np.testing.assert_array_equal(written.mask, wanted.mask)
        np.testing.assert_array_equal(written.image, wanted.image)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_report_stopped_at_its_rename_keeps_the_previous_one(
    reviewed, tmp_path: Path, sig: signal.Signals
) -> None:
    """`corrections -o review.csv --overwrite`, stopped as the new report is renamed over the
    previous one: that one whole, the dataset and the store untouched (the store is only
    read), no temporary file but a kill's, which nothing reads; the rerun writes the report
    an uninterrupted run writes."""
    folder, _session, _slices = reviewed
    store = store_dir_for(folder)
    expected, out = tmp_path / "expected.csv", tmp_path / "reports" / "review.csv"
    assert run_cli("corrections", folder, "-o", expected).returncode == 0
    out.parent.mkdir()
    out.write_text("the previous report\n")
    inputs = {**file_states(folder), **file_states(store)}
    command = ("corrections", folder, "-o", out, "--overwrite")
    stopped = run_cli_signalled(sig, "os.rename", str(out), *command)
    _assert_stopped(stopped, sig, f"interrupted: no partial report; {out} is as it was")
    assert out.read_text() == "the previous report\n"
    left = [p.name for p in out.parent.iterdir() if p != out]
    assert len(left) == (1 if sig == signal.SIGKILL else 0)
    assert all(is_temporary(name) for name in left)
    assert {**file_states(folder), **file_states(store)} == inputs
    assert run_cli(*command).returncode == 0
    assert out.read_bytes() == expected.read_bytes()


def test_an_export_killed_inside_its_dataset_leaves_no_cases_behind(tmp_path: Path) -> None:
    """`export data -o data/corrected`, killed mid-write, leaves its hidden staging folder of
    copies in the dataset: a rerun exported them as 3 more cases (``.corrected.1a2b3c4d.export/
    1``...), and `extract` measured them, instead of ignoring them as the leftover they are."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    out = folder / "corrected"
    command = ("export", folder, "-o", out)
    killed = run_cli_signalled(signal.SIGKILL, "shutil.copyfile", "", *command, nth=4)
    assert killed.returncode == -signal.SIGKILL
    (staging,) = (p for p in folder.iterdir() if p.name.startswith("."))
    assert len(list(staging.iterdir())) == 3
    assert not out.exists()
    assert all(staging not in Path(c.path).parents for c in discover_cases([folder]))
    rerun = run_cli(*command)
    assert rerun.returncode == 0, rerun.stderr
    assert _case_ids(out) == [str(i) for i in range(1, 7)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_an_export_stopped_at_its_last_rename_leaves_the_empty_output_folder(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """-o named an empty folder, and the signal came as the finished export was renamed onto
    it: the folder was already removed (then the export renamed), so `-o` was gone, not "as
    it was". Now it is replaced in one rename: still there, empty, and a rerun fills it."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    out = tmp_path / "exports" / "out"
    out.mkdir(parents=True)
    sources = file_states(folder)
    command = ("export", folder, "-o", out)
    stopped = run_cli_signalled(sig, "os.rename", str(out), *command)
    _assert_stopped(stopped, sig, f"interrupted: no partial export; {out} is as it was")
    assert out.is_dir()
    assert not any(out.iterdir())
    left = [p.name for p in out.parent.iterdir() if p != out]
    assert len(left) == (1 if sig == signal.SIGKILL else 0)  # a kill leaves its staging
    assert all(is_temporary(name) for name in left)
    assert file_states(folder) == sources
    rerun = run_cli(*command)
    assert rerun.returncode == 0, rerun.stderr
    assert _case_ids(out) == [str(i) for i in range(1, 7)]
