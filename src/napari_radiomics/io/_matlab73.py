"""MATLAB v7.3 containers: an HDF5 file behind MATLAB's 512-byte header.

MATLAB itself, ``hdf5storage`` and this package's reader recognise a v7.3 file by this layout:
the header text and version in the HDF5 userblock, arrays stored transposed (MATLAB is
column-major), and a ``MATLAB_class`` attribute on every dataset telling MATLAB which type to
rebuild (``char`` for text stored as uint16 code units, ``logical`` for uint8 masks).

The reading side is here too, for any file however broken: sizes are checked from the
declared shape before anything is allocated, and the ways MATLAB stores text (``char``,
numbers, a one-element ``cell``) are all read as the text they hold.
"""

from __future__ import annotations

import functools
import math
import os
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


#: Most values one field may declare: 8192 x 8192, sixty times the dataset's 512 x 512 slices.
#: A file declaring more is broken (or hostile) and is refused before the array is allocated.
MAX_FIELD_VALUES = 1 << 26


#: The most a deflate stream can expand: a 258-byte match costs at least two bits. A chunk
#: declared larger than its stored bytes times this is damage, refused before the declared
#: size is allocated (so an allocation is bounded by the file's size, not only by the shape).
MAX_INFLATE_RATIO = 1032
#: The filters that never make data smaller than it is stored (byte shuffle, a checksum).
_EXPANDING_NOTHING = frozenset({h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32})


class FieldError(ValueError):
    """One field of a struct cannot be read; the message names the field (not yet the file)."""


def char_text(codes: np.ndarray) -> str:
    """MATLAB ``char`` data (UTF-16 code units, a (row, column) array) as the text it holds.

    A character outside the Basic Multilingual Plane is stored as two code units (a surrogate
    pair) and is read back as that one character; an unpaired surrogate (not text in any
    encoding) becomes its ``\\udXXX`` escape, so the id stays printable and distinct.
    """
    units = np.asarray(codes).ravel(order="F").astype("<u2")
    return units.tobytes().decode("utf-16-le", errors="backslashreplace").strip()


@functools.cache
def _file_access() -> h5py.h5p.PropFAID:
    """File-access properties that close the file with its handle, made once and reused."""
    access = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    access.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    return access


def open_lowlevel(path: Path) -> h5py.h5f.FileID:
    """The file through h5py's low-level API (about half the cost of ``h5py.File``)."""
    return h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY, _file_access())


def read_lowlevel(
    dataset: h5py.h5d.DatasetID, name: str, dtype: np.dtype | type | None = None
) -> np.ndarray:
    """A low-level dataset, its declared size checked first; in its own dtype unless ``dtype``
    is given (HDF5 converts silently: a -1 read into uint8 is 0, a double 100360 into uint16
    is 65535, so only a conversion that cannot change a value may be asked for)."""
    shape = dataset.shape  # ~15 us each time it is asked: once per dataset
    check_size(name, shape)
    check_stored(dataset, name, shape)
    out = np.empty(shape, dtype=dataset.dtype if dtype is None else dtype)
    dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def check_size(name: str, shape: tuple[int, ...]) -> None:
    """Refuse a declared shape too large to be a slice, before allocating it."""
    count = math.prod(int(n) for n in shape)
    if count > MAX_FIELD_VALUES:
        raise FieldError(
            f"{name} declares a {' x '.join(map(str, shape))} array ({count:.3g} values); "
            f"at most {MAX_FIELD_VALUES} are read, so the file is refused before allocating it"
        )


def check_stored(dataset: h5py.h5d.DatasetID, name: str, shape: tuple[int, ...]) -> None:
    """Refuse a dataset whose values are not all in the file.

    HDF5 gives the fill value (zeros) for any part of a dataset that was never written: a
    chunk missing from a damaged file's index, or contiguous storage never allocated. Read
    that way, a damaged slice would look like a valid image with black parts, so it is refused
    here. (MATLAB and every writer of this dataset write every value.)
    """
    if math.prod(shape) == 0:
        return
    creation = dataset.get_create_plist()
    layout = creation.get_layout()
    if layout == h5py.h5d.CHUNKED:
        chunk = creation.get_chunk()
        expected = math.prod(-(-int(n) // c) for n, c in zip(shape, chunk, strict=True))
        written = dataset.get_num_chunks()
        if written < expected:
            raise FieldError(
                f"{name}: {expected - written} of its {expected} chunks are missing from the "
                "file (a damaged file; HDF5 would show them as zeros)"
            )
        filters = {creation.get_filter(index)[0] for index in range(creation.get_nfilters())}
        if filters <= {h5py.h5z.FILTER_DEFLATE, *_EXPANDING_NOTHING}:  # (others: no bound)
            ratio = MAX_INFLATE_RATIO if h5py.h5z.FILTER_DEFLATE in filters else 1
            declared = written * math.prod(chunk) * dataset.dtype.itemsize
            stored = dataset.get_storage_size()
            if declared > ratio * stored:
                raise FieldError(
                    f"{name}: its chunks declare {declared} bytes but the file stores {stored} "
                    "bytes of them, more than they can expand to (a damaged file)"
                )
    elif layout == h5py.h5d.CONTIGUOUS and not dataset.get_storage_size():
        raise FieldError(f"{name}: its values were never written to the file (a damaged file)")


def dataset_array(dataset: h5py.Dataset, name: str) -> np.ndarray:
    """A MATLAB array from HDF5: size checked, transposed back, MATLAB's empty marker honoured,
    and MATLAB's complex layout (a compound of ``real`` and ``imag``) made complex."""
    if int(np.asarray(dataset.attrs.get("MATLAB_empty", 0))):
        return np.zeros((0,), dtype=np.float64)
    check_size(name, dataset.shape)
    check_stored(dataset.id, name, dataset.shape)
    values = np.asarray(dataset[()])
    if values.dtype.names and {"real", "imag"} <= set(values.dtype.names):
        values = values["real"] + 1j * values["imag"]
    return values.T


def dataset_text(dataset: h5py.Dataset, name: str) -> str:
    """Text however MATLAB stored it: ``char`` code units, a number (its integer text), or a
    one-element ``cell`` holding either."""
    if h5py.check_dtype(ref=dataset.dtype) is not None:
        refs = np.asarray(dataset[()]).ravel()
        if refs.size != 1:
            raise FieldError(f"{name} is a cell array of {refs.size} entries; expected one text")
        return dataset_text(dataset.file[refs[0]], f"{name}{{1}}")
    values = dataset_array(dataset, name)
    if values.dtype == np.uint16 and _matlab_class(dataset) in ("char", ""):
        return char_text(values)
    if values.dtype.kind not in "iuf":
        raise FieldError(f"{name} holds {values.dtype} data; expected text or one number")
    return number_text(name, values)


def number_text(name: str, values: np.ndarray) -> str:
    """One number as an id (``100360``, not ``100360.0``)."""
    flat = np.asarray(values).ravel()
    if flat.size != 1:
        raise FieldError(f"{name} holds {flat.size} numbers; expected text or one number")
    value = float(flat[0])
    return str(int(value)) if value.is_integer() else str(value)


def _matlab_class(dataset: h5py.Dataset) -> str:
    value = dataset.attrs.get("MATLAB_class", b"")
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def is_text(dataset: h5py.Dataset) -> bool:
    """Whether MATLAB would rebuild the dataset as ``char``."""
    return _matlab_class(dataset) == "char"


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
