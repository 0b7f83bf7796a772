"""One run per output: the lock that keeps two runs from writing into the same table.

Two runs appending to one journal interleave their rows, write two headers (or none, after an
`--overwrite` deletes the file under the other), and both report success. So a run takes
`features.lock` before it reads, deletes or writes anything of its output, and holds it until
it ends. The corrections store takes the same lock on `store.lock` (one session per store).

The lock is the operating system's, taken through `filelock` on a descriptor this module
owns (`flock` on Linux and macOS, `LockFileEx` on Windows; why that library and not its
`FileLock` class: docs/architecture.md). The kernel releases it when the process dies,
however it dies: a run killed with SIGKILL (or a machine that lost power) leaves the file
behind, but not the lock, and the next run takes it over. The file names the owner (pid,
host, start time) so that a refused run can say who holds the output; the owner is written
after a newline because Windows forbids other processes to read the locked first byte. These
locks belong to the open file, so a second lock in the same process is refused too; worker
processes forked while the lock is held close their copy of it, so that the lock ends with
its owner and not with its last worker.

Where the file system has no locks (an NFS mount without a lock daemon, some FUSE file
systems; a Python without `fcntl`), the file's exclusive creation is the lock instead, and a
lock whose owner has died on this host is taken over; one whose owner cannot be checked is
refused with the file to remove by hand.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from napari_radiomics.errors import BatchError, WriteError

with warnings.catch_warnings():
    # Without fcntl filelock warns at import that its FileLock class falls back to a soft
    # lock; this module does not use that class, and chooses its own fallback (see above).
    warnings.filterwarnings("ignore", "only soft file lock is available")
    from filelock import lock_descriptor, unlock_descriptor

__all__ = ["OutputLock", "lock_path", "updating"]

#: File descriptors of the locks this process holds; a forked child must not keep them.
_HELD: set[int] = set()

#: What a file system (or a Python without fcntl) answers when it cannot lock at all.
_UNSUPPORTED = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP}

_OPEN = os.O_RDWR | getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _close_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):  # no fork on Windows, so nothing to close there
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


def _read_at(fd: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, 4096)


def _read_owner(fd: int) -> dict[str, object]:
    try:
        try:
            data = _read_at(fd, 0)
        except PermissionError:  # Windows: the holder's lock covers the first byte
            data = _read_at(fd, 1)
        text = data.decode("utf-8", "replace")
        owner = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _has_ended(owner: dict[str, object]) -> bool:
    """Whether the owner of a lock without an operating-system lock has surely ended: it ran
    on this host and its pid is gone. Anything unsure counts as running."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    if os.name != "posix":  # os.kill would end the process on Windows, not probe it
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, someone else's
        return False
    return False


class OutputLock:
    """The exclusive right to write `output` and its companion files (a context manager).

    `previous` describes the owner of a stale lock this run took over (a run that died without
    releasing it), or is None. `native` tells whether the operating system holds the lock
    (False: the file system cannot lock, the file's exclusive creation is the lock).
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path(output)
        self.previous: str | None = None
        self.native = True
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock, or raise BatchError naming the run that holds it."""
        if not self.path.parent.is_dir():
            raise BatchError(f"{self.path}: folder {self.path.parent} does not exist")
        while True:
            created, fd = self._open()
            try:
                locked = lock_descriptor(fd, blocking=False)
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:
                    return self._acquire_without_locks(created)
                raise BatchError(f"{self.path}: cannot lock ({exc.strerror or exc})") from None
            if not locked:
                owner = _read_owner(fd)
                os.close(fd)
                raise self.refusal(_describe(owner)) from None
            # The owner before us may have deleted the file between our open and our lock:
            # then we locked a file nobody else will ever see. Try again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), self.path.stat())
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._own(fd)
        return self

    def _open(self) -> tuple[bool, int]:
        """The lock file's descriptor, and whether this call created the file (0o666: the
        umask decides who may read it, as for any file the user makes)."""
        while True:
            try:
                try:
                    return True, os.open(self.path, _OPEN | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    return False, os.open(self.path, _OPEN)
            except FileNotFoundError:  # released between the two: create it after all
                continue
            except OSError as exc:  # a read-only folder, no inode left
                raise WriteError(self.path, f"cannot be written ({exc.strerror})") from None

    def _acquire_without_locks(self, created: bool) -> OutputLock:
        """The lock where the file system has none: the run that created the file owns it; a
        file left by a run that has ended on this host is taken over."""
        self.native = False
        fd = os.open(self.path, _OPEN)
        if not created:
            owner = _read_owner(fd)
            if not _has_ended(owner):
                os.close(fd)
                raise self.refusal(
                    f"{_describe(owner)}; this file system cannot lock files, so if that run "
                    f"has ended, remove {self.path}"
                )
        self._own(fd)
        return self

    def _own(self, fd: int) -> None:
        old = _read_owner(fd)
        if old:
            self.previous = _describe(old)
        self._fd = fd
        _HELD.add(fd)
        self._write_owner(fd)

    def refusal(self, owner: str) -> BatchError:
        """The error for a lock held by `owner` (a description: pid, host, since when)."""
        return BatchError(
            f"{self.output}: another run is writing this output ({owner}; lock {self.path}); "
            "wait for it to end, or write to another output"
        )

    def _write_owner(self, fd: int) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        data = b"\n" + json.dumps(owner).encode()
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self.release()
            raise WriteError(self.path, f"cannot be written ({exc.strerror})") from None

    def release(self) -> None:
        """Give the output up. The file is emptied, then removed while still locked, so no
        other run can have locked it meanwhile (Windows cannot remove an open file: there it
        goes after closing, unless another run has opened it since; being empty, it names no
        stale owner). Releasing twice is harmless."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            if os.name == "posix":
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            if self.native:
                with contextlib.suppress(OSError):
                    unlock_descriptor(fd)
            os.close(fd)
        if os.name != "posix":
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


@contextlib.contextmanager
def updating(path: Path, wait: float = 5.0) -> Iterator[None]:
    """Hold ``path``'s lock (an :class:`OutputLock`, so also where the file system cannot
    lock) while that file, shared by every process of the user, is read, changed and
    replaced: two processes updating it at once take turns instead of each writing back what
    it read, losing the other's change. A turn lasts milliseconds; a lock still held after
    ``wait`` seconds (its owner on another host, which cannot be checked) or one that cannot
    be made (a read-only folder) lets the update go ahead unlocked, as it did before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = OutputLock(path)
    deadline = time.monotonic() + wait
    held = False
    while not held:
        try:
            lock.acquire()
            held = True
        except BatchError:  # the other process's turn
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        except WriteError:
            break
    try:
        yield
    finally:
        if held:
            lock.release()
