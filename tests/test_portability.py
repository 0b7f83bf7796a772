"""Code paths of the platforms CI does not have, exercised on Linux: no `fcntl` (Windows), the
parent-death watches of macOS and of spawned workers, no `pwd`/`os.getuid` (Windows), and
file modes that follow the umask. Real processes throughout; `portability/no_fcntl` is the
same site folder `.ci/run` uses to run the core tests without `fcntl`."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from napari_radiomics.batch import run_batch
from napari_radiomics.batch.cases import discover_cases
from processes import running

NO_FCNTL = Path(__file__).resolve().parent / "portability" / "no_fcntl"
LINUX = sys.platform.startswith("linux")


def _env(*first: Path) -> dict[str, str]:
    """This environment with `first` put at the front of PYTHONPATH (kept: the src under
    test may be on it)."""
    paths = [*map(str, first), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _python(code: str, *args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def _extract(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`extract` as a user runs it: not with `-q`, which also silences the takeover warning
    these tests read."""
    command = [sys.executable, "-m", "napari_radiomics.cli", "extract", *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=60)


# --- without fcntl --------------------------------------------------------------------------


def test_the_site_folder_refuses_fcntl_in_subprocesses_too() -> None:
    """The premise of the no-fcntl CI run: every process started from the run locks without
    it (filelock finds none), as on Windows."""
    code = """
    import subprocess, sys
    code = "import filelock; print(filelock.has_fcntl)"
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
    """
    proc = _python(code, env=_env(NO_FCNTL))
    assert proc.communicate(timeout=60)[0].split() == ["False"]


_HOLD_OUTPUT = """
import sys, time
from pathlib import Path
from napari_radiomics._lock import OutputLock
lock = OutputLock(Path(sys.argv[1])).acquire()
print("native" if lock.native else "by creation", flush=True)
time.sleep(120)
"""


def test_without_fcntl_a_run_owns_its_output_and_a_dead_owner_is_taken_over(
    mat_folder: Path, tmp_path: Path
) -> None:
    """Where nothing can lock a file, the lock file's creation is the lock: a second run is
    refused naming the first and the file to remove, and the lock of a run killed with
    SIGKILL is taken over with a warning naming it."""
    env = _env(NO_FCNTL)
    out, lock = tmp_path / "f.csv", tmp_path / "f.lock"
    holder = _python(_HOLD_OUTPUT, out, env=env)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "by creation"
        refused = _extract(mat_folder, "-o", out, env=env)
        assert refused.returncode == 2, refused.stderr
        assert f"another run is writing this output (pid {holder.pid} on " in refused.stderr
        remove = f"this file system cannot lock files, so if that run has ended, remove {lock}"
        assert remove in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not out.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        _stop(holder)
    done = _extract(mat_folder, "-o", out, env=env)
    assert done.returncode == 0, done.stderr
    assert f"took over the lock of a run that ended without releasing it (pid {holder.pid}" in (
        done.stderr
    )
    assert not lock.exists()
    assert out.read_text().count("\n") > 1


_STORE = """
import sys, time
from napari_radiomics.corrections import CorrectionStore
store = CorrectionStore(sys.argv[1], sys.argv[2])
print(store.read_only, flush=True)
if sys.argv[3] == "hold":
    time.sleep(120)
"""


def test_without_fcntl_one_session_writes_a_corrections_store(tmp_path: Path) -> None:
    env = _env(NO_FCNTL)
    root, dataset = tmp_path / "store", tmp_path / "dataset"
    root.mkdir()
    dataset.mkdir()
    holder = _python(_STORE, root, dataset, "hold", env=env)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "None"  # writable
        second = _python(_STORE, root, dataset, "look", env=env).communicate(timeout=120)[0]
        assert second.startswith(
            f"in use by another napari-radiomics session (pid {holder.pid} on "
            f"{socket.gethostname()} since "
        ), second
    finally:
        holder.send_signal(signal.SIGKILL)
        _stop(holder)
    third = _python(_STORE, root, dataset, "look", env=env).communicate(timeout=120)[0]
    assert third.strip() == "None"  # the dead session's lock was taken over


# --- the parent-death watch of macOS and Windows --------------------------------------------

_PARENT = """
import subprocess, sys
watcher = (
    "import os, time\\n"
    "from napari_radiomics._parent_death import watch_parent\\n"
    "watch_parent(os.getppid(), interval=0.1)\\n"
    "print('watching', flush=True)\\n"
    "time.sleep(120)\\n"
)
worker = subprocess.Popen([sys.executable, "-c", watcher])
print(worker.pid, flush=True)
worker.wait()
"""


@pytest.mark.skipif(not LINUX, reason="reads process states from Linux /proc")
def test_the_polling_watch_ends_a_worker_whose_parent_is_killed() -> None:
    """What workers use where the kernel cannot be asked (no PR_SET_PDEATHSIG): forced here
    by starting the watch alone, in a worker whose parent is then killed with SIGKILL."""
    parent = _python(_PARENT, env=_env())
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    try:
        assert parent.stdout.readline().strip() == "watching"
        assert running(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 30
        while running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(worker), "the worker outlived its killed parent"
    finally:
        _stop(parent)
        if running(worker):
            os.kill(worker, signal.SIGKILL)


_LATE_WORKER = """
import multiprocessing, sys, time
from pathlib import Path


def watch_late(go: str) -> None:
    while not Path(go).exists():  # the test kills the caller, then creates `go`
        time.sleep(0.02)
    from napari_radiomics._parent_death import die_with_parent

    die_with_parent(None)
    print("watching", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[2])
    worker = context.Process(target=watch_late, args=(sys.argv[1],))
    worker.start()
    print(worker.pid, flush=True)
    worker.join()
"""


@pytest.mark.skipif(not LINUX, reason="reads process states from Linux /proc")
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_worker_whose_caller_died_before_its_initializer_ends(
    tmp_path: Path, method: str
) -> None:
    """A spawned worker imports for seconds before its pool's initializer asks to end with its
    caller; a caller killed meanwhile (the CI run that froze a run mid-way, then killed it)
    must still take the worker with it, although by then the worker's parent is init."""
    script, go = tmp_path / "caller.py", tmp_path / "go"
    script.write_text(_LATE_WORKER)
    caller = subprocess.Popen(
        [sys.executable, str(script), str(go), method],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert caller.stdout is not None
    worker = int(caller.stdout.readline())
    try:
        caller.send_signal(signal.SIGKILL)
        caller.wait(timeout=60)
        go.touch()
        deadline = time.monotonic() + 60
        while running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(worker), "the worker outlived its caller, killed before it watched"
    finally:
        if running(worker):
            os.kill(worker, signal.SIGKILL)
        _stop(caller)


# --- no pwd, no os.getuid (Windows) ---------------------------------------------------------

_NO_USER = """
import os, sys
sys.modules["pwd"] = None  # Windows has no pwd module ...
del os.getuid  # ... nor os.getuid
from napari_radiomics.corrections import CorrectionStore
store = CorrectionStore(sys.argv[1], sys.argv[2])
store.set_status("1", "accepted")
print(store.log_table()["user"].tolist())
"""


def test_a_review_decision_is_saved_where_no_user_name_can_be_found(tmp_path: Path) -> None:
    """Windows with no USERNAME: getpass finds no name and there is no uid to fall back on."""
    env = {k: v for k, v in _env().items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    (tmp_path / "dataset").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _NO_USER, str(tmp_path / "store"), str(tmp_path / "dataset")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['unknown user']"


# --- file modes -----------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_a_runs_tables_are_as_readable_as_the_umask_says(mat_folder: Path, tmp_path: Path) -> None:
    """A group-writable umask (shared project folders) gives group-writable tables."""
    out = tmp_path / "f.csv"
    previous = os.umask(0o002)
    try:
        run_batch(discover_cases([mat_folder]), None, out, jobs=1)
    finally:
        os.umask(previous)
    for path in (out, out.with_suffix(".params.yaml")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path
