"""The pre-converted NumPy copy of the dataset: a folder with three or four ``.npy`` files.

``images.npy`` (N, H, W), ``masks.npy`` (N, H, W), ``labels.npy`` ((N,), (N, 1) or (N, 1, 1))
and, in some conversions only, ``patient_ids.npy`` (same shapes, often each entry a 1x1 array
of the id). The widely used conversion script writes no patient ids: they are then empty.
The images are memory-mapped, so opening the bundle costs nothing
and napari reads a slice only when it is shown. Nothing is ever unpickled with code: labels and
patient ids saved as Python objects (some conversions do) are read by ``_npy``'s restricted
reader, which builds nothing but arrays of text and numbers.

Masks follow the engine's label rule (``convert.label_problem``): bool and unsigned masks are
used as they are; a signed or float mask is checked slice by slice when the bundle opens, so a
-1 background or a 0.5 border is refused, naming the slice, instead of becoming tumour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd

from napari_radiomics.convert import label_problem
from napari_radiomics.errors import ReadError
from napari_radiomics.io._npy import as_column, load_npy
from napari_radiomics.io.metadata import TUMOR_TYPES, CaseMetadata, cases_table

BUNDLE_FILES: tuple[str, ...] = ("images.npy", "masks.npy", "labels.npy", "patient_ids.npy")
#: The files every bundle has; ``patient_ids.npy`` is optional.
REQUIRED_FILES: tuple[str, ...] = BUNDLE_FILES[:3]


@dataclass(frozen=True)
class NpyBundle:
    """The arrays of a bundle (``patient_ids`` empty strings when the bundle has none);
    ``images``/``masks`` are read-only memory maps (``masks``
    a lazy dask array when its file's dtype needed casting)."""

    images: np.ndarray
    masks: np.ndarray | da.Array
    labels: np.ndarray
    patient_ids: np.ndarray
    folder: Path

    def metadata(self, index: int) -> CaseMetadata:
        """Slice ``index``'s identity: its index as the case id, the bundle folder as path."""
        return CaseMetadata(
            case=str(index),
            patient_id=str(self.patient_ids[index]),
            label=int(self.labels[index]),
            path=str(self.folder),
        )

    @property
    def slices(self) -> pd.DataFrame:
        """One row per slice: the same columns as a folder of ``.mat`` files."""
        return cases_table(self.metadata(i) for i in range(len(self.labels)))


def is_npy_bundle(folder: str | Path) -> bool:
    """True when ``folder`` holds a bundle's images, masks and labels."""
    folder = Path(folder)
    return folder.is_dir() and all((folder / name).is_file() for name in REQUIRED_FILES)


def read_npy_bundle(folder: str | Path) -> NpyBundle:
    """Open a bundle without reading the images; checks the arrays agree."""
    folder = Path(folder)
    if not is_npy_bundle(folder):
        missing = [n for n in REQUIRED_FILES if not (folder / n).is_file()]
        raise ReadError(folder, "not a NumPy bundle; missing " + ", ".join(missing))
    images = load_npy(folder / "images.npy")
    masks = load_npy(folder / "masks.npy")
    if images.ndim != 3:
        raise ReadError(folder / "images.npy", f"expected (N, H, W) images, got {images.shape}")
    if images.shape[0] == 0:
        raise ReadError(folder / "images.npy", "holds no slices (N = 0): the bundle is empty")
    if images.dtype.kind not in "biuf":
        raise ReadError(folder / "images.npy", f"holds {images.dtype} data, not grey levels")
    if masks.shape != images.shape:
        raise ReadError(
            folder / "masks.npy", f"mask shape {masks.shape} differs from images {images.shape}"
        )
    count = images.shape[0]
    labels = as_column(folder / "labels.npy", load_npy(folder / "labels.npy", objects=True), count)
    id_file = folder / "patient_ids.npy"
    ids = as_column(id_file, load_npy(id_file, objects=True), count) if id_file.is_file() else []
    ids = ids or [""] * count
    if not all(isinstance(v, int | float) and v in TUMOR_TYPES for v in labels):
        raise ReadError(folder / "labels.npy", "labels must be 1, 2 or 3 (tumour types)")
    return NpyBundle(
        images=images,
        masks=_usable_masks(folder / "masks.npy", masks),
        labels=np.array(labels, dtype=np.int64),
        patient_ids=np.array([_id_text(v) for v in ids], dtype=str),
        folder=folder,
    )


def _usable_masks(path: Path, masks: np.ndarray) -> np.ndarray:
    """Masks napari can show and the engine measures as the file means them (see the module
    docstring); read through once only when their dtype can hold a value that is not a label."""
    if masks.dtype == bool:  # napari labels need integers; a view keeps the memory map
        return masks.view(np.uint8)
    if masks.dtype.kind == "u" and masks.dtype.itemsize <= 4:
        return masks
    for index in range(masks.shape[0]):
        problem = label_problem(np.asarray(masks[index]))
        if problem is not None:
            raise ReadError(path, f"slice {index}: the mask {problem}")
    top = max(int(np.asarray(masks[i]).max()) for i in range(masks.shape[0]))
    # Lazy, like the memory map it wraps: a slice is cast when it is read.
    lazy = da.from_array(masks, chunks=(1, *masks.shape[1:]), asarray=True)
    return lazy.astype(np.min_scalar_type(max(top, 1)))


def _id_text(value: object) -> str:
    """A patient id as text: bytes decoded, a whole number without its ``.0``."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace").strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
