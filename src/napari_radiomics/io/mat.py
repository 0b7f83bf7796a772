"""The brain-tumour ``.mat`` format: one MRI slice, its tumour mask and border per file.

The public dataset stores a struct ``cjdata`` (``label``, ``PID``, ``image``, ``tumorBorder``,
``tumorMask``) in MATLAB v7.3 files, which are HDF5 files behind a 512-byte MATLAB header.
MATLAB is column-major, so h5py sees every 2D array transposed; this module transposes back so
arrays are in MATLAB's (row, column) orientation, the one the border coordinates refer to. The
same struct saved as v5/v7 (``scipy.io.loadmat``) is read too, because that is what most
non-MATLAB tools write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import scipy.io
from scipy import ndimage

from napari_radiomics._atomic import replaced
from napari_radiomics.convert import label_problem
from napari_radiomics.errors import ReadError
from napari_radiomics.io._mat_fields import HDF5_LOCK, read_fields
from napari_radiomics.io._matlab73 import (
    FieldError,
    char_text,
    check_size,
    check_stored,
    open_lowlevel,
    read_lowlevel,
    write_struct,
)
from napari_radiomics.io.metadata import TUMOR_TYPES, CaseMetadata


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
    def metadata(self) -> CaseMetadata:
        """The identity of the case, as napari layers and result tables carry it."""
        path = "" if self.path is None else str(self.path)
        return CaseMetadata(self.case, self.patient_id, self.label, self.tumor_type, path)


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
    try:
        return _tumor_slice(path, read_fields(path), allow_empty_mask)
    except ReadError:
        raise
    except FieldError as exc:
        raise ReadError(path, str(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError) as exc:
        # A field of an unexpected kind that no check above foresaw: still the file's fault,
        # and a folder shows it as a broken slice instead of failing to open.
        raise ReadError(path, f"unexpected content ({type(exc).__name__}: {exc})") from None


def _tumor_slice(path: Path, fields: dict[str, Any], allow_empty_mask: bool) -> TumorSlice:
    image = _check_image(path, np.asarray(fields["image"]))
    mask_raw = np.asarray(fields["tumorMask"])
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


def _check_image(path: Path, image: np.ndarray) -> np.ndarray:
    """The slice as pyradiomics can measure it: 2D, real, integer or float grey levels."""
    if image.dtype.kind == "c":
        raise ReadError(
            path,
            "cjdata.image is complex-valued; pyradiomics needs a real grey-level image "
            "(take its magnitude or real part first)",
        )
    if image.dtype.kind not in "biuf":
        raise ReadError(path, f"cjdata.image holds {image.dtype} data, not grey levels")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        raise ReadError(
            path,
            f"cjdata.image is an RGB(A) or multi-channel image (shape {image.shape}); "
            "pyradiomics needs one grey-level 2D slice: convert it to greyscale first",
        )
    if image.ndim != 2:
        raise ReadError(path, f"cjdata.image must be a 2D slice, got shape {image.shape}")
    return image


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
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, MemoryError):
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
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, MemoryError):
        tumor = read_tumor_mat(path, allow_empty_mask=allow_empty_mask)
        header = MatHeader(tumor.image.shape, tumor.image.dtype, tumor.label, tumor.patient_id)
        return header, tumor.mask
    return header, _usable_mask(path, mask_raw, allow_empty_mask)


def _usable_mask(path: Path, mask: np.ndarray, allow_empty: bool) -> np.ndarray:
    """The mask as booleans; an empty one refused unless allowed (every case has a tumour).

    Only a mask of integer labels >= 0 is cast (``convert.label_problem``, the engine's own
    rule): cast to bool, a -1 background or a 0.5 border would silently become tumour.
    MATLAB's ``logical`` (bytes of 0 and 1, which ``label_problem`` accepts whatever their
    values) is read as booleans without a copy: one pass finds its largest value, which says
    both that the bytes are 0 and 1 and whether the mask is empty.
    """
    if mask.dtype == np.uint8 and mask.size:
        high = int(mask.max())
        mask = mask.view(bool) if high <= 1 else mask.astype(bool)  # (labels > 1 are tumour)
        empty = high == 0
    else:
        problem = label_problem(mask)
        if problem is not None:
            raise ReadError(path, f"cjdata.tumorMask {problem}")
        mask = mask.astype(bool)
        empty = not mask.any()
    if empty and not allow_empty:
        raise ReadError(path, "empty tumour mask (cjdata.tumorMask has no pixel set)")
    return mask


def _read_hdf5_header(path: Path, with_mask: bool = False) -> tuple[MatHeader, np.ndarray | None]:
    """The header, and the raw (row, column) tumour mask when asked, in one opening.

    Only the dataset's plain layout is read here (a uint16 ``char`` PID); anything else raises,
    and the caller falls back to the full reader, which knows every layout and names problems.
    """
    fid = open_lowlevel(path)
    try:
        image = h5py.h5d.open(fid, b"cjdata/image")
        # float64 holds any number a label can be exactly; text codes fail the 1/2/3 check.
        label = read_lowlevel(h5py.h5d.open(fid, b"cjdata/label"), "cjdata.label", np.float64)
        pid = read_lowlevel(h5py.h5d.open(fid, b"cjdata/PID"), "cjdata.PID")
        shape = image.shape[::-1]
        dtype = image.dtype
        mask = None
        if with_mask:  # (the image's values are not read, but a check may ask if they are there)
            check_stored(image, "cjdata.image", image.shape)
            mask = read_lowlevel(h5py.h5d.open(fid, b"cjdata/tumorMask"), "cjdata.tumorMask").T
    finally:
        fid.close()
    if len(shape) != 2 or np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"image is not a 2D grey-level slice: {shape}, {dtype}")
    if pid.dtype != np.uint16:
        raise ValueError("PID or label not in the dataset's layout")
    check_size("cjdata.image", shape)
    header = MatHeader(
        shape=(int(shape[0]), int(shape[1])),
        dtype=np.dtype(dtype),
        label=_check_label(path, label),
        patient_id=char_text(pid.T),
    )
    return header, mask


def _check_label(path: Path, value: Any) -> int:
    if isinstance(value, str):
        raise ReadError(
            path, f"cjdata.label is text ({value!r}); expected the number 1, 2 or 3 (tumour type)"
        )
    flat = np.asarray(value).ravel()
    if flat.dtype.kind not in "biuf" or flat.size != 1 or float(flat[0]) not in TUMOR_TYPES:
        raise ReadError(path, f"cjdata.label must be 1, 2 or 3 (tumour type), got {flat!r:.80}")
    return int(flat[0])


def _border_to_rowcol(path: Path, value: Any) -> np.ndarray:
    """``[x1, y1, x2, y2, ...]`` 1-based (x = column) -> (K, 2) 0-based (row, col)."""
    if np.asarray(value).dtype.kind not in "biuf":
        raise ReadError(path, f"cjdata.tumorBorder holds {np.asarray(value).dtype} data")
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
    with replaced(path) as tmp:
        if format == "7.3":
            with HDF5_LOCK:
                _write_hdf5(tmp, tumor)
        else:
            _write_v5(tmp, tumor)
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
