"""One corrected case as a file of a store's ``masks`` folder: its name, and writing and
reading it (the store's layout: ``corrections.store``).

A file is named after its case through ``_filenames.file_stem`` (valid on every OS, never
hidden, reversible), and read back through :func:`read_corrected_mask`, the one check every
user of a correction gets: the viewer, a batch run and an export. A batch case carries its
correction as a :class:`CorrectedMask`, so the batch reads it without knowing the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import SimpleITK as sitk

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import file_stem, id_from_stem
from napari_radiomics.convert import label_problem
from napari_radiomics.errors import ReadError
from napari_radiomics.io import path_kind, tumor_type_of
from napari_radiomics.io.mat import (
    HDF5_LOCK,
    TumorSlice,
    border_from_mask,
    read_tumor_mat,
    write_tumor_mat,
)
from napari_radiomics.io.medical import case_name, medical_suffix, write_medical_image

__all__ = [
    "CaseRef",
    "CorrectedMask",
    "mask_case",
    "mask_name",
    "read_corrected_mask",
    "write_mask",
]


@dataclass(frozen=True)
class CaseRef:
    """Where a case's original comes from, so a correction can be written readable alone.

    ``kind`` "mat": ``path`` is the case's ``.mat`` file; "bundle": slice ``index`` of the
    NumPy bundle folder ``path``; "medical": ``path`` is the mask file. ``spacing`` (napari
    axis order) makes distances millimetres; None means pixels.
    """

    case: str
    kind: Literal["mat", "bundle", "medical"]
    path: str
    index: int | None = None
    spacing: tuple[float, ...] | None = None
    label: int | None = None
    patient_id: str = ""


def mask_name(ref: CaseRef) -> str:
    """The file name of ``ref``'s correction: its case as a file stem, its source's suffix."""
    if ref.kind == "medical":
        return file_stem(ref.case) + (medical_suffix(ref.path) or ".nrrd")
    return file_stem(ref.case) + ".mat"


def mask_case(path: Path) -> str:
    """The case a mask file holds the correction of (also reading the names stores gave
    before ``file_stem``: urllib's ``quote``, which ``id_from_stem`` undoes alike)."""
    return id_from_stem(case_name(path))  # the stem, less a double suffix like .nii.gz


def read_corrected_mask(path: str | Path, shape: Sequence[int]) -> np.ndarray:
    """The corrected mask in ``path`` (uint8, napari axis order) for a case whose mask has
    ``shape``; ReadError naming the file and the problem if it cannot stand for that mask.

    The one check of a correction, made wherever one is used (the viewer, a batch run, an
    export): the project's mask rule (``convert.label_problem``: a -1 background or a 0.5
    border is refused, never cast) and its case's shape. A damaged or hand-made store may
    hold a mask of another shape, which would otherwise be reshaped into a scrambled mask.
    """
    path = Path(path)
    try:
        if path_kind(path) == "mat":
            array = read_tumor_mat(path, allow_empty_mask=True).mask
        else:
            array = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except ReadError as exc:
        raise ReadError(path, f"unreadable ({exc.problem})") from None
    except (RuntimeError, OSError) as exc:
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ReadError(path, f"unreadable ({last})") from None
    problem = label_problem(array)
    if problem is None and array.size and array.max() > np.iinfo(np.uint8).max:
        problem = f"holds labels up to {array.max()}; a correction holds labels 0 to 255"
    if problem is not None:
        raise ReadError(path, f"corrected mask {problem}")
    if array.shape != tuple(shape):
        raise ReadError(
            path,
            f"corrected mask is {'x'.join(map(str, array.shape))} but its case's mask is "
            f"{'x'.join(map(str, shape))}",
        )
    return array.astype(np.uint8)


@dataclass(frozen=True)
class CorrectedMask:
    """A case's correction as a batch case carries it to a worker process: the file in the
    store and the digest the store recorded for it ("" if none; a resumed run compares it
    with the digest of the rows already written). Small and picklable: a path, not pixels.
    """

    path: str
    digest: str = ""

    def read(self, original: np.ndarray | sitk.Image) -> np.ndarray | sitk.Image:
        """The corrected mask in place of ``original`` (checked by
        :func:`read_corrected_mask` against its shape), on its grid: an array for an array, a
        SimpleITK image with the original's spacing, origin and direction for an image."""
        grid = isinstance(original, sitk.Image)
        shape = original.GetSize()[::-1] if grid else original.shape
        corrected = read_corrected_mask(self.path, shape)
        if not grid:
            return corrected
        image = sitk.GetImageFromArray(corrected)
        image.CopyInformation(original)
        return image


def write_mask(target: Path, ref: CaseRef, mask: np.ndarray) -> None:
    """One corrected case, readable without this plugin (see the module docstring)."""
    if ref.kind == "medical":
        source = sitk.ReadImage(ref.path)
        image = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=np.uint8))
        image.CopyInformation(source)
        with replaced(target) as tmp:
            write_medical_image(image, tmp)
        return
    if ref.kind == "mat":
        original = read_tumor_mat(ref.path, allow_empty_mask=True)
        image, label, patient_id = original.image, original.label, original.patient_id
        with HDF5_LOCK:  # keep the MATLAB version of the source
            version = "7.3" if h5py.is_hdf5(ref.path) else "5"
    else:  # a bundle slice: its image from the memory map, its identity from the ref
        image = np.array(np.load(Path(ref.path) / "images.npy", mmap_mode="r")[ref.index])
        label, patient_id, version = int(ref.label or 0), ref.patient_id, "7.3"
    corrected = np.asarray(mask) != 0
    tumor = TumorSlice(
        image=image,
        mask=corrected,
        border=border_from_mask(corrected) if corrected.any() else np.zeros((0, 2)),
        label=label,
        tumor_type=tumor_type_of(label),
        patient_id=patient_id,
    )
    write_tumor_mat(target, tumor, format=version, overwrite=True)
