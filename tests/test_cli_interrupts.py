"""The command stopped as a terminal (Ctrl-C: SIGINT to the process group) or a scheduler
(SIGTERM, as SLURM sends at a job's time limit) stops it, at moments other than mid-run
(tests/test_cli.py stops `extract` after 3 rows, SIGTERM included): while it still imports.
Real subprocesses in their own process group, signalled once an observable state is reached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from processes import HAS_PROC, STOPPED_STATUS


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
    assert proc.returncode == STOPPED_STATUS[sig], stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "napari-radiomics: interrupted"
    assert not out.exists()
