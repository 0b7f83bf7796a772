"""One run per output: the lock that keeps two runs from writing into the same table.

Two runs appending to one journal interleave their rows, write two headers (or none, after an
`--overwrite` deletes the file under the other), and both report success. So a run takes
`features.lock` before it reads, deletes or writes anything of its output, and holds it until
it ends.

The lock is a `flock` on the lock file, which the kernel takes atomically and releases when
the process dies, however it dies: a run killed with SIGKILL (or a machine that lost power)
leaves the file behind, but not the lock, and the next run takes it over. The file's content
names the owner (pid, host, start time) so that a refused run can say who holds the output.
`flock` locks belong to the open file, so a second run in the same process is refused too
(POSIX `lockf` locks would let it through); worker processes forked while the lock is held
close their copy of it, so that the lock ends with its owner and not with its last worker.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from napari_radiomics.errors import BatchError, WriteError

__all__ = ["OutputLock", "lock_path"]

#: File descriptors of the locks this process holds; a forked child must not keep them.
_HELD: set[int] = set()


def _close_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


def lock_path(output: Path) -> Path:
    """The lock of `output` (`features.csv` and `features.parquet` share companions, and so
    the lock)."""
    return output.with_suffix(".lock")


def _describe(owner: dict[str, object]) -> str:
    if not owner:
        return "a run whose lock file names no owner yet"
    since = owner.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if since else ""
    return f"pid {owner.get('pid')} on {owner.get('host')}{when}"


def _read_owner(fd: int) -> dict[str, object]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        owner = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


class OutputLock:
    """The exclusive right to write `output` and its companion files (a context manager).

    `previous` describes the owner of a stale lock this run took over (a run that died without
    releasing it), or is None.
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path(output)
        self.previous: str | None = None
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock, or raise BatchError naming the run that holds it."""
        if not self.path.parent.is_dir():
            raise BatchError(f"{self.path}: folder {self.path.parent} does not exist")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise self.refusal(_describe(owner)) from None
            except OSError as exc:
                os.close(fd)
                raise BatchError(f"{self.path}: cannot lock ({exc.strerror})") from None
            # The owner before us may have deleted the file between our open and our flock:
            # then we locked a file nobody else will ever see. Try again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), self.path.stat())
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        old = _read_owner(fd)
        if old:
            self.previous = _describe(old)
        self._fd = fd
        _HELD.add(fd)
        self._write_owner(fd)
        return self

    def refusal(self, owner: str) -> BatchError:
        """The error for a lock held by `owner` (a description: pid, host, since when)."""
        return BatchError(
            f"{self.output}: another run is writing this output ({owner}; lock {self.path}); "
            "wait for it to end, or write to another output"
        )

    def _write_owner(self, fd: int) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        data = json.dumps(owner).encode()
        try:
            os.ftruncate(fd, 0)
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self.release()
            raise WriteError(self.path, f"cannot be written ({exc.strerror})") from None

    def release(self) -> None:
        """Give the output up (removing the lock file while still holding the lock, so no
        other run can have locked it meanwhile). Releasing twice is harmless."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
