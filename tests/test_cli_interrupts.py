"""The command stopped as a terminal (Ctrl-C: SIGINT to the process group) or a scheduler
(SIGTERM, as SLURM sends at a job's time limit) stops it, at moments other than mid-run
(tests/test_cli.py stops `extract` after 3 rows, SIGTERM included): while it still imports,
and `maps` while its workers compute.
Real subprocesses in their own process group, signalled once an observable state is reached."""

from __future__ import annotations

import linecache
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from napari_radiomics.cli._signals import StopRequests
from napari_radiomics.errors import Terminated
from processes import HAS_PROC, STOPPED_STATUS, assert_ended, descendants


def _mapped(pid: int, library: str) -> bool:
    """Whether process `pid` has loaded the shared library whose file name holds `library`."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc to see the imports under way")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopped_while_importing_exits_quietly(
    mat_folder: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """Signalled once NumPy's core is loaded, the command is still importing its subcommands
    (SimpleITK, pyradiomics' settings: hundreds of ms more). It exits 130 (Ctrl-C) or 143
    (SIGTERM) with one line, as it does mid-run: no traceback (Ctrl-C printed one and exited
    -2), nothing written."""
    out = tmp_path / "f.csv"
    command = [sys.executable, "-m", "napari_radiomics.cli", "extract", str(mat_folder)]
    proc = subprocess.Popen(
        [*command, "-o", str(out)], start_new_session=True, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not _mapped(proc.pid, "_multiarray_umath") and time.monotonic() < deadline:
        assert proc.poll() is None, "the command ended before it was signalled"
        time.sleep(0.002)
    os.killpg(proc.pid, sig)
    _, stderr = proc.communicate(timeout=120)
    # A Ctrl-C that passed through some of SciPy's imports before main caught it leaves
    # CPython's "unhandled Ctrl-C" mark set, and CPython then ends the process with SIGINT
    # (-2) instead of 130; a shell reports both as 130.
    expected = {STOPPED_STATUS[sig], -signal.SIGINT} if sig == signal.SIGINT else {143}
    assert proc.returncode in expected, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "napari-radiomics: interrupted"
    assert not out.exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_maps_stopped_mid_compute_ends_quietly(
    tmp_path: Path, pyradiomics_data: Path, sig: signal.Signals
) -> None:
    """Signalled once its workers compute, ``maps`` exits 130 or 143 (SIGTERM killed it
    with -15), writes nothing and leaves no worker."""
    out = tmp_path / "maps"
    command = [sys.executable, "-m", "napari_radiomics.cli", "maps", "--jobs", "2"]
    command += [str(pyradiomics_data / "brain1_image.nrrd"), "-o", str(out), "--mask"]
    command += [str(pyradiomics_data / "brain1_label.nrrd")]
    command += ["--features", "glcm_Contrast", "firstorder_Mean"]
    proc = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    while "original glcm" not in seen:  # the progress line: batches are out to the workers
        piece = proc.stderr.read(1)
        assert piece, f"the command ended before it computed: {seen}"
        seen += piece
    workers = descendants(proc.pid) if HAS_PROC else set()
    os.killpg(proc.pid, sig)
    try:
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the command hung after it was signalled")
    assert proc.returncode == STOPPED_STATUS[sig], stderr
    assert "Traceback" not in stderr
    assert "interrupted: no maps written" in stderr
    assert not out.exists() or not any(out.iterdir())
    assert_ended(workers)


class _SignalledWhileCollected:
    """Its ``__del__`` receives `sig`: Python runs the handler there, and drops what it
    raises (as in the import system's weakref callbacks, where a CI run's SIGTERM landed)."""

    def __init__(self, sig: signal.Signals) -> None:
        self.sig = sig

    def __del__(self) -> None:
        signal.raise_signal(self.sig)  # the handler runs before this call returns


def _stopped_in_a_callback(stop: StopRequests, sig: signal.Signals, then_wait: float) -> None:
    with stop:
        _SignalledWhileCollected(sig)  # collected at once: the stop is raised there, dropped
        time.sleep(then_wait)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is not sent this way there")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("then_wait", [10, 0], ids=["waiting", "leaving"])
def test_a_stop_that_lands_where_python_drops_exceptions_is_not_lost(
    sig: signal.Signals, then_wait: float
) -> None:
    """It is asked for again, silently, once that code has returned (and interrupts the wait
    under way), or on leaving the block if that comes first: the command used to go on to
    the end, exit 0, after an "Exception ignored" traceback. Nothing is sent after the block
    (a stop the handlers before it would take as a crash)."""
    before = sys.unraisablehook, signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    stop = StopRequests()
    with pytest.raises(KeyboardInterrupt) as raised:
        _stopped_in_a_callback(stop, sig, then_wait)
    assert time.monotonic() - started < then_wait + 5
    assert isinstance(raised.value, Terminated) == (sig == signal.SIGTERM)
    assert stop.terminated == (sig == signal.SIGTERM)
    assert (sys.unraisablehook, *map(signal.getsignal, (signal.SIGINT, signal.SIGTERM))) == (
        *before,
    )
    time.sleep(0.3)  # the moment it would have been sent again has passed: nothing comes


def test_a_signal_ignored_by_the_caller_stays_ignored() -> None:
    """A shell starts a background job (``cmd &`` in a script) with Ctrl-C ignored, so that
    Ctrl-C at the terminal leaves it running; a supervisor may ignore SIGTERM likewise."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopRequests():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def _leave_traced(tracer: Any) -> None:
    with StopRequests():
        sys.settrace(tracer)  # the frames from here on: __exit__ and what it calls


def test_a_stop_while_the_handlers_are_put_back_leaves_them_put_back() -> None:
    """A Ctrl-C landing just as ``StopRequests`` puts a handler back (``signal.signal`` runs a
    pending handler first) left its own handlers installed for good: a later SIGTERM was a
    ``Terminated`` raised into whatever ran, not the death it is outside the block."""
    before = sys.unraisablehook, signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    landed: list[int] = []

    def at_a_put_back(frame: FrameType, event: str, arg: object) -> Any:
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
        if event == "line" and not landed and "signal.signal(signum, before)" in line:
            landed.append(frame.f_lineno)
            raise KeyboardInterrupt  # the stop, exactly there
        return at_a_put_back

    def in_leaving(frame: FrameType, event: str, arg: object) -> Any:
        return at_a_put_back if frame.f_code.co_name in {"__exit__", "_put_back"} else None

    try:
        with pytest.raises(KeyboardInterrupt):
            _leave_traced(in_leaving)
    finally:
        sys.settrace(None)
    assert landed
    assert (
        sys.unraisablehook,
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
    ) == before
