"""The brain-tumour ``.mat`` format: one MRI slice, its tumour mask and border per file.

The public dataset stores a struct ``cjdata`` (``label``, ``PID``, ``image``, ``tumorBorder``,
``tumorMask``) in MATLAB v7.3 files, which are HDF5 files behind a 512-byte MATLAB header.
MATLAB is column-major, so h5py sees every 2D array transposed; this module transposes back so
arrays are in MATLAB's (row, column) orientation, the one the border coordinates refer to. The
same struct saved as v5/v7 (``scipy.io.loadmat``) is read too, because that is what most
non-MATLAB tools write.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import scipy.io
from scipy import ndimage

from napari_radiomics.errors import ReadError
from napari_radiomics.io._matlab73 import write_struct

TUMOR_TYPES: dict[int, str] = {1: "meningioma", 2: "glioma", 3: "pituitary tumor"}
FIELDS: tuple[str, ...] = ("label", "PID", "image", "tumorBorder", "tumorMask")

#: Serialises this package's HDF5 access. A folder's header scan, dask's workers and napari's
#: slicing can all read files at once; h5py has its own global lock, but waiting on a plain
#: Python lock instead keeps those threads from contending inside h5py (where garbage
#: collection of HDF5 handles from another thread has been known to deadlock).
HDF5_LOCK = threading.RLock()


@dataclass(frozen=True)
class TumorSlice:
    """One case of the dataset: an MRI slice with its tumour mask, border and identity.

    ``image`` keeps the file's dtype (int16 in the dataset) and MATLAB's (row, column)
    orientation; ``border`` is the hand-drawn polygon as 0-based (row, col) vertices, which is
    napari's Shapes convention.
    """

    image: np.ndarray
    mask: np.ndarray
    border: np.ndarray
    label: int
    tumor_type: str
    patient_id: str
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 2:
            raise ValueError(f"image must be 2D, got shape {self.image.shape}")
        if self.mask.shape != self.image.shape:
            raise ValueError(
                f"mask shape {self.mask.shape} differs from image shape {self.image.shape}"
            )
        if self.mask.dtype != bool:
            raise ValueError(f"mask must be boolean, got {self.mask.dtype}")
        if self.border.ndim != 2 or self.border.shape[1] != 2:
            raise ValueError(f"border must be (K, 2) row/col vertices, got {self.border.shape}")

    @property
    def case(self) -> str:
        """The file stem (``"17"`` for ``17.mat``), or ``"synthetic"`` for generated slices."""
        return self.path.stem if self.path is not None else "synthetic"

    @property
    def metadata(self) -> dict[str, Any]:
        """The identity of the case, as stored on napari layers and in result tables."""
        return {
            "case": self.case,
            "patient_id": self.patient_id,
            "label": self.label,
            "tumor_type": self.tumor_type,
            "path": "" if self.path is None else str(self.path),
        }


@dataclass(frozen=True)
class MatHeader:
    """What a folder listing needs from a file without reading its pixels."""

    shape: tuple[int, int]
    dtype: np.dtype
    label: int
    patient_id: str


def read_tumor_mat(path: str | Path, *, allow_empty_mask: bool = False) -> TumorSlice:
    """Read one brain-tumour ``.mat`` file (MATLAB v7.3/HDF5 or v5/v7).

    An empty tumour mask is an error unless ``allow_empty_mask`` is set: every case of the
    dataset has a tumour, so an empty mask means a broken file, and features of nothing would
    fail later with a less helpful message.
    """
    path = Path(path)
    fields = _read_fields(path)
    image = np.asarray(fields["image"])
    mask_raw = np.asarray(fields["tumorMask"])
    if image.ndim != 2:
        raise ReadError(path, f"cjdata.image must be a 2D slice, got shape {image.shape}")
    if mask_raw.shape != image.shape:
        raise ReadError(
            path,
            f"tumour mask shape {mask_raw.shape} differs from image shape {image.shape}",
        )
    mask = _usable_mask(path, mask_raw, allow_empty_mask)
    label = _check_label(path, fields["label"])
    border = _border_to_rowcol(path, fields["tumorBorder"])
    return TumorSlice(
        image=image,
        mask=mask,
        border=border,
        label=label,
        tumor_type=TUMOR_TYPES[label],
        patient_id=fields["PID"],
        path=path,
    )


def read_mat_header(path: str | Path) -> MatHeader:
    """Read the image shape, label and patient id without the pixels.

    A folder listing calls this for thousands of files before the first slice shows, so v7.3
    files go through h5py's low-level API (about half the cost of ``h5py.File``); anything
    unusual falls back to the full reader, which also produces the precise error.
    """
    path = Path(path)
    try:
        with HDF5_LOCK:
            return _read_hdf5_header(path)[0]
    except (OSError, KeyError, ValueError, TypeError, RuntimeError):
        tumor = read_tumor_mat(path, allow_empty_mask=True)
        return MatHeader(
            shape=(tumor.image.shape[0], tumor.image.shape[1]),
            dtype=tumor.image.dtype,
            label=tumor.label,
            patient_id=tumor.patient_id,
        )


def read_tumor_mask(
    path: str | Path, *, allow_empty_mask: bool = False
) -> tuple[MatHeader, np.ndarray]:
    """The header and the boolean tumour mask, without the image's pixels.

    A check before a run needs the image's shape but not its values, and the compressed image is
    most of a file's reading time (the mask alone reads ~6x faster), which matters over the
    dataset's 3064 files. The empty-mask rule is ``read_tumor_mat``'s; anything but a plain
    v7.3 file (v5, or a broken file) goes through ``read_tumor_mat``, which gives the precise
    error.
    """
    path = Path(path)
    try:
        with HDF5_LOCK:
            header, mask_raw = _read_hdf5_header(path, with_mask=True)
        if mask_raw is None or mask_raw.shape != header.shape:
            raise ValueError("tumour mask missing or not of the image's shape")
    except (OSError, KeyError, ValueError, TypeError, RuntimeError):
        tumor = read_tumor_mat(path, allow_empty_mask=allow_empty_mask)
        header = MatHeader(tumor.image.shape, tumor.image.dtype, tumor.label, tumor.patient_id)
        return header, tumor.mask
    return header, _usable_mask(path, mask_raw, allow_empty_mask)


def _usable_mask(path: Path, mask: np.ndarray, allow_empty: bool) -> np.ndarray:
    """The mask as booleans; an empty one refused unless allowed (every case has a tumour)."""
    mask = mask.astype(bool)
    if not allow_empty and not mask.any():
        raise ReadError(path, "empty tumour mask (cjdata.tumorMask has no pixel set)")
    return mask


@functools.cache
def _file_access() -> h5py.h5p.PropFAID:
    """File-access properties that close the file with its handle, made once and reused."""
    access = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    access.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    return access


def _read_hdf5_header(path: Path, with_mask: bool = False) -> tuple[MatHeader, np.ndarray | None]:
    """The header, and the raw (row, column) tumour mask when asked, in one opening."""
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY, _file_access())
    try:
        image = h5py.h5d.open(fid, b"cjdata/image")
        label = _read_lowlevel(h5py.h5d.open(fid, b"cjdata/label"), np.float64)
        pid = _read_lowlevel(h5py.h5d.open(fid, b"cjdata/PID"), np.uint16)
        shape = image.shape[::-1]
        dtype = image.dtype
        mask = None
        if with_mask:
            mask = _read_lowlevel(h5py.h5d.open(fid, b"cjdata/tumorMask"), np.uint8).T
    finally:
        fid.close()
    if len(shape) != 2:
        raise ValueError(f"image is not 2D: {shape}")
    header = MatHeader(
        shape=(int(shape[0]), int(shape[1])),
        dtype=np.dtype(dtype),
        label=_check_label(path, label),
        patient_id="".join(chr(int(c)) for c in pid.T.ravel()).strip(),
    )
    return header, mask


def _read_lowlevel(dataset: h5py.h5d.DatasetID, dtype: type) -> np.ndarray:
    out = np.empty(dataset.shape, dtype=dtype)
    dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def _read_fields(path: Path) -> dict[str, Any]:
    """Dispatch on the file's container and return the ``cjdata`` fields."""
    if not path.is_file():
        raise ReadError(path, "file not found")
    with path.open("rb") as fh:
        head = fh.read(128)
    with HDF5_LOCK:
        if h5py.is_hdf5(path):
            return _read_fields_hdf5(path)
    if head.startswith(b"MATLAB 7.3"):
        raise ReadError(path, "MATLAB 7.3 header but no readable HDF5 data (truncated file?)")
    return _read_fields_v5(path)


def _read_fields_hdf5(path: Path) -> dict[str, Any]:
    try:
        with h5py.File(path, "r") as f:
            if "cjdata" not in f or not isinstance(f["cjdata"], h5py.Group):
                found = ", ".join(sorted(f.keys())) or "none"
                raise ReadError(path, f"no 'cjdata' struct in the file (variables: {found})")
            group = f["cjdata"]
            _require_fields(path, group.keys())
            fields = {name: _hdf5_array(group[name]) for name in FIELDS if name != "PID"}
            fields["PID"] = _hdf5_text(group["PID"])
            return fields
    except ReadError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ReadError(path, f"corrupt or truncated MATLAB 7.3 (HDF5) file: {exc}") from exc


def _hdf5_array(dataset: h5py.Dataset) -> np.ndarray:
    """A MATLAB array from HDF5: transposed back, and MATLAB's empty-array marker honoured."""
    if int(np.asarray(dataset.attrs.get("MATLAB_empty", 0))):
        return np.zeros((0,), dtype=np.float64)
    return np.asarray(dataset[()]).T


def _hdf5_text(dataset: h5py.Dataset) -> str:
    """A MATLAB char array (uint16 code units) as str; numeric ids become their integer text."""
    values = _hdf5_array(dataset)
    if values.dtype == np.uint16:
        return "".join(chr(int(c)) for c in values.ravel(order="F")).strip()
    return _number_text(values)


def _number_text(values: np.ndarray) -> str:
    flat = np.asarray(values).ravel()
    if flat.size != 1:
        raise ValueError(f"expected one value, got {flat.size}")
    value = float(flat[0])
    return str(int(value)) if value.is_integer() else str(value)


def _read_fields_v5(path: Path) -> dict[str, Any]:
    try:
        contents = scipy.io.loadmat(path, simplify_cells=True)
    except Exception as exc:  # scipy raises many types for garbage input; all mean "not MAT"
        raise ReadError(path, f"not a MATLAB .mat file ({type(exc).__name__}: {exc})") from exc
    cjdata = contents.get("cjdata")
    if not isinstance(cjdata, dict):
        found = ", ".join(sorted(k for k in contents if not k.startswith("__"))) or "none"
        raise ReadError(path, f"no 'cjdata' struct in the file (variables: {found})")
    _require_fields(path, cjdata.keys())
    fields = dict(cjdata)
    pid = cjdata["PID"]
    try:
        fields["PID"] = pid.strip() if isinstance(pid, str) else _number_text(np.asarray(pid))
    except (ValueError, TypeError) as exc:
        raise ReadError(path, f"cjdata.PID is neither text nor one number: {exc}") from exc
    return fields


def _require_fields(path: Path, present: Any) -> None:
    missing = [name for name in FIELDS if name not in set(present)]
    if missing:
        raise ReadError(path, "missing field(s) " + ", ".join(f"cjdata.{m}" for m in missing))


def _check_label(path: Path, value: Any) -> int:
    flat = np.asarray(value).ravel()
    if flat.size != 1 or float(flat[0]) not in TUMOR_TYPES:
        raise ReadError(path, f"cjdata.label must be 1, 2 or 3 (tumour type), got {flat!r}")
    return int(flat[0])


def _border_to_rowcol(path: Path, value: Any) -> np.ndarray:
    """``[x1, y1, x2, y2, ...]`` 1-based (x = column) -> (K, 2) 0-based (row, col)."""
    flat = np.asarray(value, dtype=np.float64).ravel()
    if flat.size % 2:
        raise ReadError(path, f"cjdata.tumorBorder has an odd number of values ({flat.size})")
    xy = flat.reshape(-1, 2)
    return np.ascontiguousarray(xy[:, ::-1] - 1.0)


def _rowcol_to_border(border: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_border_to_rowcol`: a flat 1-based ``[x1, y1, ...]`` vector."""
    return (np.asarray(border, dtype=np.float64)[:, ::-1] + 1.0).ravel()


def border_from_mask(mask: np.ndarray) -> np.ndarray:
    """The outline of the mask's largest connected component as a (K, 2) (row, col) polygon.

    The contour runs half-way between inside and outside pixel centres, so filling the polygon
    gives back the component; collinear vertices are dropped to keep the border compact like a
    hand-drawn one.
    """
    mask = np.asarray(mask, dtype=bool)
    components, count = ndimage.label(mask)
    if count == 0:
        return np.zeros((0, 2), dtype=np.float64)
    sizes = np.bincount(components.ravel())[1:]
    largest = np.pad(components == (int(np.argmax(sizes)) + 1), 1)
    # Imported here: scikit-image pulls in scipy.signal, seconds that opening a file must not pay.
    from skimage.measure import find_contours

    closed = max(find_contours(largest.astype(np.float64), 0.5), key=len)
    outline = closed[:-1] - 1.0  # open the ring, undo the padding
    before = outline - np.roll(outline, 1, axis=0)
    after = np.roll(outline, -1, axis=0) - outline
    turn = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    return np.ascontiguousarray(outline[turn != 0], dtype=np.float64)  # corners only


def write_tumor_mat(
    path: str | Path,
    tumor: TumorSlice,
    *,
    format: Literal["7.3", "5"] = "7.3",
    overwrite: bool = False,
) -> Path:
    """Write ``tumor`` as a brain-tumour ``.mat`` file that MATLAB and this reader both open.

    The file is written next to the target and renamed into place, so a failed write never
    leaves a half-written case behind, and an existing file is only replaced when asked.
    """
    path = Path(path)
    if format not in ("7.3", "5"):
        raise ValueError(f"format must be '7.3' or '5', got {format!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: file exists (pass overwrite=True to replace it)")
    fd, tmp_name = tempfile.mkstemp(suffix=".mat.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if format == "7.3":
            with HDF5_LOCK:
                _write_hdf5(tmp, tumor)
        else:
            _write_v5(tmp, tumor)
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _write_v5(path: Path, tumor: TumorSlice) -> None:
    cjdata = {
        "label": np.float64(tumor.label),
        "PID": tumor.patient_id,
        "image": tumor.image,
        "tumorBorder": _rowcol_to_border(tumor.border).reshape(-1, 1),
        "tumorMask": tumor.mask,
    }
    with path.open("wb") as fh:
        scipy.io.savemat(fh, {"cjdata": cjdata}, format="5", do_compression=True)


def _write_hdf5(path: Path, tumor: TumorSlice) -> None:
    fields: dict[str, np.ndarray | str] = {
        "label": np.array([[float(tumor.label)]]),
        "PID": tumor.patient_id,
        "image": np.asarray(tumor.image),
        "tumorBorder": _rowcol_to_border(tumor.border).reshape(1, -1).T,  # h5py sees (1, 2K)
        "tumorMask": np.asarray(tumor.mask, dtype=bool),
    }
    write_struct(path, "cjdata", fields)
