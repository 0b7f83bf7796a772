"""Feature maps written as gzip NRRD files without an image writer, checked by their bytes.

``maps`` writes 93 small files per run. Through SimpleITK each cost ~2 ms of CPU: copying the
map into an image, setting up ITK's writer, compressing with zlib, then decompressing the file
again to catch a cut-off or changed one (SimpleITK does not report a full disk). Here the
header is the text ITK's NRRD writer makes for the same image, byte for byte (so 3D Slicer,
ITK-SNAP and SimpleITK read the same geometry), the pixels are compressed by ISA-L's gzip
(plain gzip, 3-4 times faster than zlib at a size within a few percent), and the file is
checked by reading it back and comparing it with the bytes meant for it: a file cut off
anywhere, with a byte changed or with bytes after it, is refused, at the cost of one read of
a few KB instead of a decompression. The write itself goes through Python's file object, which
raises on a short write (a full disk) where ITK stays silent.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from isal import igzip

__all__ = ["nrrd_bytes", "write_nrrd"]

#: NRRD's names of the pixel types maps are written in (ITK's spelling).
_TYPES = {np.dtype(np.float64): "double", np.dtype(np.float32): "float"}
#: ISA-L's gzip level: its level 1 took a quarter of zlib level 1's CPU on a map's box, for a
#: file 3% larger (levels 0-3; 0 is larger still for no measurable gain).
COMPRESSION_LEVEL = 1


def _number(value: float) -> str:
    """A coordinate as ITK writes it (``%.17g``, so it reads back to the same double; -0 as 0)."""
    return format(float(value) + 0.0, ".17g")


def _vector(values: Sequence[float]) -> str:
    return "(" + ",".join(_number(v) for v in values) + ")"


def nrrd_bytes(
    values: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float],
    direction: Sequence[float],
    *,
    components: bool = False,
    fields: dict[str, str] | None = None,
) -> bytes:
    """The whole gzip NRRD file of ``values`` (napari axis order; with ``components`` the
    last axis holds each voxel's components), on a grid of ``spacing``, ``origin`` and
    ``direction`` (SimpleITK's order and row-major matrix), with ``fields`` as ``key:=value``
    lines, as ITK's writer makes it (one component is written as a scalar image, as ITK
    writes a one-component vector image)."""
    if components and values.shape[-1] == 1:
        values, components = values[..., 0], False
    dtype = values.dtype.newbyteorder("=")
    if dtype not in _TYPES:
        raise ValueError(f"NRRD maps are float32 or float64, not {values.dtype}")
    dimension = len(spacing)
    if values.ndim != dimension + components or dimension not in (2, 3):
        raise ValueError(f"{values.shape} values on a {dimension}D grid")
    matrix = np.asarray(direction, dtype=np.float64).reshape(dimension, dimension)
    axes = [_vector(matrix[:, i] * spacing[i]) for i in range(dimension)]
    sizes = list(values.shape[::-1]) if not components else [values.shape[-1]]
    if components:
        sizes += list(values.shape[-2::-1])
    lines = [
        "NRRD0004",
        "# Complete NRRD file format specification at:",
        "# http://teem.sourceforge.net/nrrd/format.html",
        f"type: {_TYPES[dtype]}",
        f"dimension: {dimension + components}",
        "space: left-posterior-superior" if dimension == 3 else "space dimension: 2",
        "sizes: " + " ".join(map(str, sizes)),
        "space directions: " + " ".join(["none"] * components + axes),
        "kinds: " + " ".join(["vector"] * components + ["domain"] * dimension),
        f"endian: {sys.byteorder}",
        "encoding: gzip",
        f"space origin: {_vector(origin)}",
    ]
    for key, value in (fields or {}).items():
        if "\n" in key + value or ":=" in key:
            raise ValueError(f"NRRD field {key!r}: no line break or ':=' in a field")
        lines.append(f"{key}:={value}")
    pixels = np.ascontiguousarray(values, dtype=dtype)
    body = igzip.compress(memoryview(pixels).cast("B"), COMPRESSION_LEVEL)
    return ("\n".join(lines) + "\n\n").encode("latin-1") + body


def write_nrrd(path: Path, data: bytes) -> None:
    """``data`` (from :func:`nrrd_bytes`) to ``path``, then the file read back and compared
    with it: an ``OSError`` if the disk took less or other bytes (Python's own write already
    raises on a short write; the read-back also catches what a network file system loses)."""
    with path.open("wb") as file:
        file.write(data)
    if path.read_bytes() != data:
        raise OSError("the file written is incomplete; is the disk full?")
