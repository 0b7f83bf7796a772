"""The output lock's guarantees that no batch test shows directly (the batch tests in
tests/batch/test_faults.py show the rest through the CLI): a worker forked while the lock is
held does not keep it once its parent is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from napari_radiomics._lock import OutputLock

_FORKS_THEN_WAITS = """
import os, sys, time
from pathlib import Path
from napari_radiomics._lock import OutputLock
lock = OutputLock(Path(sys.argv[1])).acquire()
if os.fork() == 0:  # the worker, running once it prints: it outlives its parent
    print(os.getpid(), flush=True)
    time.sleep(120)
    os._exit(0)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="only where processes can fork")
def test_a_forked_worker_does_not_keep_its_dead_parents_lock(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_FORKS_THEN_WAITS), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    worker = int(owner.stdout.readline())
    try:
        with pytest.raises(Exception, match=f"pid {owner.pid} on "):
            OutputLock(out).acquire()  # held while its owner runs
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=60)
        os.kill(worker, 0)  # the worker still runs ...
        lock = OutputLock(out).acquire()  # ... and the lock is free all the same
        assert lock.previous is not None
        assert lock.previous.startswith(f"pid {owner.pid} on ")
        lock.release()
    finally:
        os.kill(worker, signal.SIGKILL)  # first: it holds the pipe communicate reads to its end
        if owner.poll() is None:
            owner.kill()
        owner.communicate(timeout=60)
