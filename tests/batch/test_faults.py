"""Faults during a batch run: two runs on one output, a stale lock, a full disk, a killed
parent. Real processes throughout: the command runs as a subprocess, as a user runs it."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from napari_radiomics.batch import BatchError, iter_batch, run_batch
from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.errors import WriteError
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from processes import HAS_PROC, children, exit_codes, running
from sample_files import MAT_FOLDER_CASES, assert_same_rows, fill_disk, write_mat_folder

N = MAT_FOLDER_CASES
#: Wavelet filters make each case slow enough for a run to be caught in the middle.
SLOW = ("--set", "imageType.Wavelet={}")
SLOW_CASES = 16


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]


def _cli(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args), capture_output=True, text=True, timeout=timeout, check=False
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll `condition` until it holds (bounded: the machine may be slow, never stuck)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _rows_in(path: Path) -> int:
    return max(path.read_text().count("\n") - 1, 0) if path.exists() else 0


@pytest.fixture(scope="module")
def slow_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cases slow enough that a run can be caught (and stopped with SIGSTOP) mid-way."""
    folder = tmp_path_factory.mktemp("slow")
    write_mat_folder(folder, SLOW_CASES, shape=(96, 96))
    return folder


def _start(folder: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """The command in its own session (so signals to it never reach pytest)."""
    command = _command("extract", folder, "-o", out, *SLOW, *extra)
    return subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)


def _stopped_mid_run(folder: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """A run frozen (SIGSTOP to the parent) once its first row is written: it holds its
    output for as long as the test needs, whatever the machine's speed."""
    proc = _start(folder, out, *extra)
    _wait_for(lambda: _rows_in(out) >= 1 or proc.poll() is not None, "the run's first row")
    assert proc.poll() is None, proc.communicate()[1]
    os.kill(proc.pid, signal.SIGSTOP)
    return proc


def _end(proc: subprocess.Popen[str]) -> None:
    """Make sure a started run is gone (a failing test must not leave it running)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


# --- a run owns its output ----------------------------------------------------------------


def test_a_second_run_on_the_same_output_is_refused_naming_the_owner(
    slow_folder: Path, tmp_path: Path
) -> None:
    """While one run writes, another (plain, --overwrite or --resume) exits 2 naming it and
    touches nothing; the first run's output stays one header and whole, unique rows."""
    out = tmp_path / "f.csv"
    owner = _stopped_mid_run(slow_folder, out, "--jobs", "2", "-q")
    try:
        others = [
            subprocess.Popen(
                _command("extract", slow_folder, "-o", out, *flags),
                stderr=subprocess.PIPE,
                text=True,
            )
            for flags in ((), ("--overwrite",), ("--resume",))
        ]
        for other in others:
            _, stderr = other.communicate(timeout=120)
            assert other.returncode == 2, stderr
            assert f"{out}: another run is writing this output (pid {owner.pid} on " in stderr, (
                stderr
            )
            assert socket.gethostname() in stderr
            assert "Traceback" not in stderr
        os.kill(owner.pid, signal.SIGCONT)
        _, stderr = owner.communicate(timeout=180)
    finally:
        _end(owner)
    assert owner.returncode == 0, stderr
    assert not (tmp_path / "f.lock").exists()
    text = out.read_text()
    assert text.count("case,patient_id") == 1
    frame = read_table(out)
    assert sorted(frame["case"], key=int) == [str(i) for i in range(1, SLOW_CASES + 1)]


def test_a_run_in_this_process_holds_its_output_until_it_ends(
    mat_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    cases = discover_cases([mat_folder])
    first = iter_batch(cases, None, out, jobs=1)
    next(first)
    with pytest.raises(BatchError, match=f"pid {os.getpid()} on {socket.gethostname()}"):
        run_batch(cases, None, out, jobs=1, overwrite=True)
    first.close()
    assert not (tmp_path / "f.lock").exists()

    def ctrl_c(done: int, total: int, message: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C (or any exception) releases it too
        run_batch(cases, None, out, jobs=1, overwrite=True, progress=ctrl_c)
    assert not (tmp_path / "f.lock").exists()
    summary = run_batch(cases, None, out, jobs=1, resume=True)
    assert (summary.skipped, summary.succeeded) == (2, N - 2)


def test_closing_a_run_terminates_its_workers_mid_case(slow_folder: Path, tmp_path: Path) -> None:
    """Ctrl-C, SIGTERM or the dock's Cancel close the run: its workers are terminated at once,
    mid-case. They used to finish the cases in hand, whose results nobody reads any more,
    and the command waited for that at exit: as long as the slowest case in progress (a large
    3D case takes minutes, past the seconds a scheduler waits between SIGTERM and SIGKILL)."""
    settings = ExtractionSettings.from_params({"imageType": {"Wavelet": {}}})
    before = set(multiprocessing.active_children())
    run = iter_batch(discover_cases([slow_folder]), settings, tmp_path / "f.csv", jobs=2)
    next(run)  # the run has started
    next(run)  # a case is done: the workers have the next ones in hand
    workers = set(multiprocessing.active_children()) - before
    run.close()
    assert workers
    # A worker that finished its case and exited on its own would say 0.
    assert exit_codes(workers) == [-signal.SIGTERM] * len(workers)
    assert 1 <= len(read_table(tmp_path / "f.csv")) < SLOW_CASES


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_of_a_dead_run_is_taken_over(mat_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    dead = _dead_pid()
    owner = {"pid": dead, "host": socket.gethostname(), "started": time.time() - 60}
    (tmp_path / "f.lock").write_text(json.dumps(owner))
    with pytest.warns(UserWarning, match=f"took over the lock .*pid {dead} on"):
        summary = run_batch(discover_cases([mat_folder]), None, out, jobs=1)
    assert summary.succeeded == N
    assert not (tmp_path / "f.lock").exists()


def test_sigkill_leaves_a_stale_lock_that_resume_takes_over(
    slow_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    killed = _stopped_mid_run(slow_folder, out, "--jobs", "2", "-q")
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=60)
    lock = json.loads((tmp_path / "f.lock").read_text())
    assert lock["pid"] == killed.pid
    assert 1 <= len(read_table(out)) < SLOW_CASES

    resumed = _cli("extract", slow_folder, "-o", out, *SLOW, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"took over the lock of a run that ended without releasing it (pid {killed.pid}" in (
        resumed.stderr
    )
    assert not (tmp_path / "f.lock").exists()
    frame = read_table(out)
    assert sorted(frame["case"], key=int) == [str(i) for i in range(1, SLOW_CASES + 1)]


# --- a full disk ----------------------------------------------------------------------------

_PAGE = 4096


def test_a_full_disk_stops_the_run_cleanly_and_resume_finishes_it(
    mat_folder: Path, small_disk: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.csv"
    run_batch(discover_cases([mat_folder]), None, reference, jobs=1)
    header_and_first = len("".join(reference.read_text().splitlines(keepends=True)[:2]))
    room = -(-header_and_first // _PAGE) * _PAGE  # whole pages, as tmpfs counts them
    assert room < reference.stat().st_size, "the cases are too small to fill the room"
    # Room for the lock, the params file and a few rows: a later row is cut mid-write.
    filler = fill_disk(small_disk, 2 * _PAGE + room)
    out = small_disk / "f.csv"

    full = _cli("extract", mat_folder, "-o", out, "--jobs", "1")
    assert full.returncode == 2, full.stderr
    assert f"{out}: cannot be written (No space left on device)" in full.stderr
    assert "rerun with --resume" in full.stderr
    assert "Traceback" not in full.stderr
    text = out.read_text()
    assert text.endswith("\n")  # no half-written line is left behind
    partial = read_table(out)
    assert 1 <= len(partial) < N
    assert not (small_disk / "f.lock").exists()

    filler.unlink()
    resumed = _cli("extract", mat_folder, "-o", out, "--jobs", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial)} already done" in resumed.stderr
    assert_same_rows(out, read_table(reference))


def test_a_disk_full_from_the_start_names_the_file_it_cannot_write(
    mat_folder: Path, small_disk: Path
) -> None:
    fill_disk(small_disk, 0)
    out = small_disk / "f.csv"
    with pytest.raises(WriteError, match=r"f\.lock: cannot be written"):
        run_batch(discover_cases([mat_folder]), None, out, jobs=1)
    full = _cli("extract", mat_folder, "-o", out)
    assert full.returncode == 2
    assert "f.lock: cannot be written (No space left on device)" in full.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


# --- a killed parent ------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("execution", "processes"),
    [(("--jobs", "2"), 2), (("--dask", "local", "--jobs", "2"), 2)],
    ids=["process-pool", "dask-local"],
)
def test_workers_end_when_their_parent_is_killed(
    slow_folder: Path, tmp_path: Path, execution: tuple[str, ...], processes: int
) -> None:
    out = tmp_path / "f.csv"
    parent = _stopped_mid_run(slow_folder, out, *execution, "-q")
    workers = children(parent.pid)  # the workers (and multiprocessing's resource tracker)
    try:
        assert len(workers) >= processes, workers
        os.kill(parent.pid, signal.SIGKILL)  # the parent only: nobody stops its workers
        parent.communicate(timeout=60)
        _wait_for(
            lambda: not any(running(pid) for pid in workers),
            f"the workers {sorted(workers)} of a killed parent to end",
            timeout=60,
        )
    finally:
        _end(parent)
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)  # do not leave them to the next test
