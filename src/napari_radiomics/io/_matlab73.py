"""MATLAB v7.3 containers: an HDF5 file behind MATLAB's 512-byte header.

MATLAB itself, ``hdf5storage`` and this package's reader recognise a v7.3 file by this layout:
the header text and version in the HDF5 userblock, arrays stored transposed (MATLAB is
column-major), and a ``MATLAB_class`` attribute on every dataset telling MATLAB which type to
rebuild (``char`` for text stored as uint16 code units, ``logical`` for uint8 masks).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

HEADER_SIZE = 512
_COMPRESS_FROM = 1024  # elements; MATLAB compresses large arrays, small ones stay contiguous
_INTEGERS = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
_CLASSES: dict[np.dtype, str] = {
    np.dtype("float64"): "double",
    np.dtype("float32"): "single",
    **{np.dtype(name): name for name in _INTEGERS},
}


def matlab_header() -> bytes:
    """The 128 bytes MATLAB writes first: text, subsystem offset, version 0x0200, 'IM'."""
    created = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {created} HDF5 schema 1.00 ."
    return text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_struct(path: Path, name: str, fields: dict[str, np.ndarray | str]) -> None:
    """Write one MATLAB struct of 2D arrays and strings, as ``save(path, name, '-v7.3')`` does.

    Boolean arrays become ``logical``, strings ``char``; an empty array is stored as its
    dimensions with ``MATLAB_empty`` set, which is how MATLAB keeps empty fields.
    """
    with h5py.File(path, "w", userblock_size=HEADER_SIZE, libver="earliest") as f:
        group = f.create_group(name)
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        group.attrs.create(
            "MATLAB_fields",
            [np.array(list(field), dtype="S1") for field in fields],
            dtype=h5py.vlen_dtype(np.dtype("S1")),
        )
        for field, value in fields.items():
            _write_field(group, field, value)
    with path.open("r+b") as fh:
        fh.write(matlab_header())


def _write_field(group: h5py.Group, name: str, value: np.ndarray | str) -> None:
    if isinstance(value, str):
        codes = np.array([[ord(c) for c in value]], dtype=np.uint16)
        _dataset(group, name, codes, "char").attrs["MATLAB_int_decode"] = np.int32(2)
        return
    array = np.asarray(value)
    if array.ndim != 2:
        raise ValueError(f"MATLAB field {name!r} must be 2D, got shape {array.shape}")
    if array.dtype == bool:
        matlab_class, array = "logical", array.astype(np.uint8)
    elif array.dtype in _CLASSES:
        matlab_class = _CLASSES[array.dtype]
    else:
        raise ValueError(f"MATLAB field {name!r}: dtype {array.dtype} has no MATLAB class")
    if array.size == 0:
        empty = group.create_dataset(name, data=np.array(array.shape, dtype=np.uint64))
        empty.attrs["MATLAB_class"] = np.bytes_(matlab_class)
        empty.attrs["MATLAB_empty"] = np.uint8(1)
        return
    _dataset(group, name, array, matlab_class)


def _dataset(group: h5py.Group, name: str, array: np.ndarray, matlab_class: str) -> h5py.Dataset:
    """Store a MATLAB (row, col) array the way MATLAB does: transposed, with its class name."""
    options: dict[str, Any] = {}
    if array.size >= _COMPRESS_FROM:
        options = {"compression": "gzip", "compression_opts": 3}
    dataset = group.create_dataset(name, data=np.ascontiguousarray(array.T), **options)
    dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    return dataset
