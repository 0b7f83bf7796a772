"""Process states read from Linux /proc, for the tests about workers that must end with their
caller (a killed parent's workers are re-parented, so they are found before the kill); and the
command line run as a real subprocess."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterable
from multiprocessing.process import BaseProcess
from pathlib import Path

HAS_PROC = Path("/proc/self/task").exists()


def children(pid: int) -> set[int]:
    """Direct children of `pid`."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with_children = task / "children"
        if with_children.exists():
            found.update(int(c) for c in with_children.read_text().split())
    return found


def descendants(pid: int) -> set[int]:
    """Children of `pid`, their children, and so on (a forkserver's workers are grandchildren
    of the caller)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        new = children(todo.pop()) - found
        found |= new
        todo.extend(new)
    return found


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def exit_codes(workers: Iterable[BaseProcess], timeout: float = 120) -> list[int | None]:
    """The exit codes of a pool's worker processes once they have all ended (None for one
    still running at the deadline). Polled, not joined: the pool's own thread joins them
    too, and of two threads waiting for one process, the one the system does not hand the
    status to sees no exit code at all."""
    workers = list(workers)
    deadline = time.monotonic() + timeout
    while any(w.exitcode is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [w.exitcode for w in workers]


def run_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``napari-radiomics ARGS`` in a fresh interpreter (this one's), its output as text."""
    command = [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


#: ``python -c`` code run by :func:`run_cli_signalled`: an audit hook, then the command.
_SIGNAL_AT = """
import os, sys
def _hook(event, args, seen=[0]):
    if event == {event!r} and any({contains!r} in str(a) for a in args):
        seen[0] += 1
        if seen[0] == {nth}:
            os.killpg(os.getpgrp(), {sig})
sys.addaudithook(_hook)
from napari_radiomics.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_cli_signalled(
    sig: signal.Signals, event: str, contains: str, *args: str | Path, nth: int = 1
) -> subprocess.CompletedProcess[str]:
    """``napari-radiomics ARGS`` in a fresh interpreter and its own session, whose process
    group gets `sig` (as from a terminal's Ctrl-C or a scheduler) the `nth` time Python audits
    `event` (``open``, ``os.rename``, ``shutil.copyfile``...) with an argument holding
    `contains`: an exact moment, such as just before an output's rename, that no polling from
    outside can catch. The hook sends the signal itself; a caught one is raised as the hook
    returns, so the audited call does not happen."""
    code = _SIGNAL_AT.format(event=event, contains=contains, nth=nth, sig=int(sig))
    command = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, start_new_session=True
    )


#: What the command exits with when its process group is sent each signal (a negative status
#: is a death by that signal): Ctrl-C and SIGTERM are caught, SIGKILL cannot be.
STOPPED_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def interrupt_extract(folder: Path, out: Path, sig: signal.Signals, *extra: str) -> str:
    """Start ``extract``, send `sig` to its process group once 3 rows are written (what
    Ctrl-C in a terminal or a scheduler's kill does); returns its stderr. Every worker process
    it started must end with it (none is left computing for nobody)."""
    journal = out.with_suffix(".partial.csv") if out.suffix == ".parquet" else out
    command = [sys.executable, "-m", "napari_radiomics.cli", "extract", str(folder)]
    command += ["-o", str(out), *extra]
    proc = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline, workers = time.monotonic() + 120, set()
    while time.monotonic() < deadline and proc.poll() is None:
        workers |= descendants(proc.pid) if HAS_PROC else set()
        if journal.exists() and journal.read_text().count("\n") >= 4:  # header + 3 rows
            os.killpg(proc.pid, sig)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == STOPPED_STATUS[sig], f"the run was not stopped mid-way: {stderr}"
    assert_ended(workers)
    return stderr


def assert_ended(pids: set[int], within: float = 60) -> None:
    """Every process of `pids` ends within `within` seconds (a worker of a killed caller ends
    when it notices, which takes a moment on a loaded machine)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(running(pid) for pid in pids):
        time.sleep(0.05)
    assert not [pid for pid in pids if running(pid)], "worker processes outlived their caller"


def start_an_answer() -> None:
    """In a pool's worker: the first bytes of an answer (the length of a whole one, and a
    few) sent on the pool's pipe of answers under its lock, as a worker sends one; the rest
    never comes, as when a worker is killed mid-send. Called from a task, or from unpickling
    one: the worker loop up the stack holds the pipe."""
    frame = sys._getframe()
    while "result_queue" not in frame.f_locals:
        frame = frame.f_back
    answers = frame.f_locals["result_queue"]
    if answers._wlock is not None:  # None on Windows
        answers._wlock.acquire()
    os.write(answers._writer.fileno(), struct.pack("!i", 1 << 20) + b"half")
