"""Process states read from Linux /proc, for the tests about workers that must end with their
caller (a killed parent's workers are re-parented, so they are found before the kill); and the
command line run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
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


def run_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``napari-radiomics ARGS`` in a fresh interpreter (this one's), its output as text."""
    command = [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
