"""The ``cjdata`` fields of a brain-tumour ``.mat`` file, from either container, however broken.

Kept apart from :mod:`napari_radiomics.io.mat` (which turns the fields into a checked
:class:`~napari_radiomics.io.mat.TumorSlice`) because a dirty file can break in many ways at
this step: a missing or dangling file, HDF5 damage, a struct without the fields, text stored as
a cell array, a declared size too large to allocate. Each becomes a ``ReadError`` naming the
file and the problem, never another exception: a folder shows such a file as a broken slice.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from napari_radiomics.errors import ReadError
from napari_radiomics.io._hdf5_bytes import Unusual, read_struct
from napari_radiomics.io._matlab73 import (
    FieldError,
    char_text,
    check_size,
    dataset_array,
    dataset_text,
    is_text,
    number_text,
)

FIELDS: tuple[str, ...] = ("label", "PID", "image", "tumorBorder", "tumorMask")

#: Serialises this package's HDF5 access. A folder's header scan, dask's workers and napari's
#: slicing can all read files at once; h5py has its own global lock, but waiting on a plain
#: Python lock instead keeps those threads from contending inside h5py (where garbage
#: collection of HDF5 handles from another thread has been known to deadlock).
HDF5_LOCK = threading.RLock()


def read_fields(path: Path) -> dict[str, Any]:
    """Dispatch on the file's container and return the ``cjdata`` fields."""
    if not path.is_file():
        raise ReadError(path, _missing(path))
    fields = _read_fields_plain(path)
    if fields is not None:
        return fields
    with HDF5_LOCK:
        if h5py.is_hdf5(path):
            return _read_fields_hdf5(path)
    with path.open("rb") as fh:
        head = fh.read(128)
    if head.startswith(b"MATLAB 7.3"):
        raise ReadError(path, "MATLAB 7.3 header but no readable HDF5 data (truncated file?)")
    return _read_fields_v5(path)


def _missing(path: Path) -> str:
    """Why a path that should be a file is not: a dangling link or a link loop said so."""
    if not path.is_symlink():
        return "file not found" if not path.exists() else "not a file"
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points, through others, back to itself)"
        return f"dangling symbolic link to {path.readlink()} (its target does not exist)"
    return "symbolic link to something that is not a file"


def _read_fields_plain(path: Path) -> dict[str, Any] | None:
    """The fields of a v7.3 file in the dataset's own layout, the fast way; None for anything
    else (a v5 file, a missing field, MATLAB's empty marker, complex or cell data, text stored
    otherwise, a damaged chunk), which the full reader then reads or names.

    What the full reader spends on top of inflating the two compressed datasets is HDF5's
    opening of the file, its datasets and their attributes, through h5py's objects: here the
    file is read once and walked directly (``_hdf5_bytes``, no HDF5 call, so no lock either).
    The fields equal the full reader's, value for value (tests/io/test_mat.py reads both ways).
    """
    try:
        fields = read_struct(path, "cjdata", FIELDS)
    except (Unusual, OSError):
        return None
    if any("MATLAB_empty" in field.attributes for field in fields.values()):
        return None
    pid, label = fields["PID"], fields["label"]
    if pid.values.dtype != np.uint16 or pid.matlab_class not in ("char", ""):
        return None
    if label.matlab_class == "char":
        return None
    values = {name: fields[name].values.T for name in FIELDS if name != "PID"}
    return {**values, "PID": char_text(pid.values.T)}


def _read_fields_hdf5(path: Path) -> dict[str, Any]:
    try:
        with h5py.File(path, "r") as f:
            if "cjdata" not in f or not isinstance(f["cjdata"], h5py.Group):
                found = ", ".join(sorted(f.keys())) or "none"
                raise ReadError(path, f"no 'cjdata' struct in the file (variables: {found})")
            group = f["cjdata"]
            _require_fields(path, group.keys())
            fields: dict[str, Any] = {
                name: dataset_array(group[name], f"cjdata.{name}")
                for name in FIELDS
                if name not in ("PID", "label")
            }
            fields["PID"] = dataset_text(group["PID"], "cjdata.PID")
            label = group["label"]
            fields["label"] = (
                dataset_text(label, "cjdata.label")
                if is_text(label)
                else dataset_array(label, "cjdata.label")
            )
            return fields
    except (ReadError, FieldError):
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ReadError(path, f"corrupt or truncated MATLAB 7.3 (HDF5) file: {exc}") from exc


def _read_fields_v5(path: Path) -> dict[str, Any]:
    try:
        contents = scipy.io.loadmat(path, simplify_cells=True)
    except MemoryError:
        raise ReadError(
            path, "declares an array too large to allocate; the file is broken or not a slice"
        ) from None
    except Exception as exc:  # scipy raises many types for garbage input; all mean "not MAT"
        raise ReadError(path, f"not a MATLAB .mat file ({type(exc).__name__}: {exc})") from exc
    cjdata = contents.get("cjdata")
    if not isinstance(cjdata, dict):
        found = ", ".join(sorted(k for k in contents if not k.startswith("__"))) or "none"
        raise ReadError(path, f"no 'cjdata' struct in the file (variables: {found})")
    _require_fields(path, cjdata.keys())
    fields = dict(cjdata)
    pid = cjdata["PID"]
    if isinstance(pid, list | np.ndarray) and np.asarray(pid, dtype=object).size == 1:
        pid = np.asarray(pid, dtype=object).ravel()[0]  # a one-element cell: {'MR048994B'}
    if isinstance(pid, str):
        fields["PID"] = pid.strip()
    elif isinstance(pid, int | float | np.ndarray) and np.asarray(pid).dtype.kind in "iuf":
        fields["PID"] = number_text("cjdata.PID", np.asarray(pid))
    else:
        raise ReadError(path, f"cjdata.PID is neither text nor one number (got {pid!r:.60})")
    for name in ("image", "tumorMask"):
        check_size(f"cjdata.{name}", np.shape(cjdata[name]))
    return fields


def _require_fields(path: Path, present: Any) -> None:
    missing = [name for name in FIELDS if name not in set(present)]
    if missing:
        raise ReadError(path, "missing field(s) " + ", ".join(f"cjdata.{m}" for m in missing))
