"""Files replaced whole or not at all: write a temporary file beside the target, then rename.

A killed process, a full disk or an exception while writing leaves the previous version (or
nothing), never half a file: a rename within one folder is atomic. Every file this package
writes whole (a corrected ``.mat``, a feature map, a run's params or errors file, a Parquet
table) goes through :func:`replaced`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replaced"]


@contextlib.contextmanager
def replaced(path: str | Path) -> Iterator[Path]:
    """A temporary path to write in place of ``path``; renamed onto ``path`` when the block
    ends normally, removed when it raises. It keeps ``path``'s suffix (``.nii.gz`` included),
    for writers that choose the format by the name."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
