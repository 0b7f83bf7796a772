"""Files replaced whole or not at all: write a temporary file beside the target, then rename.

A killed process, a full disk or an exception while writing leaves the previous version (or
nothing), never half a file: a rename within one folder is atomic. Every file this package
writes whole (a corrected ``.mat``, a feature map, a run's params or errors file, a Parquet
table) goes through :func:`replaced`; a folder written whole (an export) is written in a
:func:`staging_folder` beside its target, then renamed.

The temporary file is created with mode 0o666 and the kernel applies the user's umask, as for
any file a program creates: the result is as readable by colleagues on shared storage as the
user's umask says (``tempfile.mkstemp`` would make every file 0o600, whatever the umask).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["is_temporary", "replaced", "staging_folder"]

#: How much of the target's stem the temporary name keeps: the name stays within the 255
#: bytes a file name may have however long the target's name is.
_STEM_CHARS = 60


def _new_beside(path: Path, stem: str, suffix: str, make: Callable[[Path], None]) -> Path:
    """A hidden name beside ``path`` that nothing holds yet, made (exclusively) by ``make``."""
    while True:
        candidate = path.parent / f".{stem[:_STEM_CHARS]}.{secrets.token_hex(4)}{suffix}"
        try:
            make(candidate)
        except FileExistsError:
            continue
        return candidate


def _create_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def _create_beside(path: Path, suffix: str) -> Path:
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return _new_beside(path, stem, f".tmp{suffix}", _create_file)


def staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` (``.{name}.{8 hex digits}.export``), in which a
    folder is written whole before it is renamed to ``target``: same file system, so the
    rename is atomic. Created with the user's umask like any folder a program makes."""
    return _new_beside(target, target.name, ".export", Path.mkdir)


@contextlib.contextmanager
def replaced(path: str | Path) -> Iterator[Path]:
    """A temporary path to write in place of ``path``; renamed onto ``path`` when the block
    ends normally, removed when it raises. It keeps ``path``'s suffix (``.nii.gz`` included),
    for writers that choose the format by the name."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    temporary = _create_beside(path, suffix)
    try:
        yield temporary
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


#: The names :func:`_create_beside` gives, ``.{stem}.{8 hex digits}.tmp{suffix}``, and
#: :func:`staging_folder`'s, ``.{name}.{8 hex digits}.export``.
_TEMPORARY = re.compile(r"\..*\.[0-9a-f]{8}\.(tmp(\.[^.]+)*|export)")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file or staging folder left by a killed writer (readers
    of a folder skip those, and only those: a data file may start with a dot too)."""
    return _TEMPORARY.fullmatch(name) is not None
