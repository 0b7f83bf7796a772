"""The pre-converted NumPy copy of the dataset: a folder with four ``.npy`` files.

``images.npy`` (N, H, W), ``masks.npy`` (N, H, W), ``labels.npy`` (N,) and ``patient_ids.npy``
(N,). The images are memory-mapped, so opening the bundle costs nothing and napari reads a
slice only when it is shown. Nothing is ever unpickled: a ``.npy`` file holding Python objects
can run code when loaded, so such a file is refused with the one-line command that converts
it to a plain text array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from napari_radiomics.errors import ReadError
from napari_radiomics.io.mat import TUMOR_TYPES

BUNDLE_FILES: tuple[str, ...] = ("images.npy", "masks.npy", "labels.npy", "patient_ids.npy")
_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class NpyBundle:
    """The four arrays of a bundle; ``images``/``masks`` are read-only memory maps."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    patient_ids: np.ndarray
    folder: Path

    @property
    def slices(self) -> pd.DataFrame:
        """One row per slice: the same columns as a folder of ``.mat`` files."""
        return pd.DataFrame(
            {
                "case": [str(i) for i in range(len(self.labels))],
                "path": str(self.folder),
                "patient_id": self.patient_ids,
                "label": self.labels,
                "tumor_type": [TUMOR_TYPES[int(v)] for v in self.labels],
            }
        )


def is_npy_bundle(folder: str | Path) -> bool:
    """True when ``folder`` holds the four bundle files."""
    folder = Path(folder)
    return folder.is_dir() and all((folder / name).is_file() for name in BUNDLE_FILES)


def read_npy_bundle(folder: str | Path) -> NpyBundle:
    """Open a bundle without reading the images; checks the four arrays agree."""
    folder = Path(folder)
    if not is_npy_bundle(folder):
        missing = [n for n in BUNDLE_FILES if not (folder / n).is_file()]
        raise ReadError(folder, "not a NumPy bundle; missing " + ", ".join(missing))
    images = _load(folder / "images.npy")
    masks = _load(folder / "masks.npy")
    labels = np.asarray(_load(folder / "labels.npy"))
    ids = np.asarray(_load(folder / "patient_ids.npy"))
    if images.ndim != 3:
        raise ReadError(folder / "images.npy", f"expected (N, H, W) images, got {images.shape}")
    if masks.shape != images.shape:
        raise ReadError(
            folder / "masks.npy", f"mask shape {masks.shape} differs from images {images.shape}"
        )
    for name, array in (("labels.npy", labels), ("patient_ids.npy", ids)):
        if array.shape != images.shape[:1]:
            raise ReadError(
                folder / name, f"expected shape ({images.shape[0]},), got {array.shape}"
            )
    if not np.issubdtype(labels.dtype, np.number) or not np.isin(labels, list(TUMOR_TYPES)).all():
        raise ReadError(folder / "labels.npy", "labels must be 1, 2 or 3 (tumour types)")
    if masks.dtype == bool:  # napari labels need integers; a view keeps the memory map
        masks = masks.view(np.uint8)
    if ids.dtype.kind == "S":
        ids = np.char.decode(ids, "utf-8")
    return NpyBundle(
        images=images,
        masks=masks,
        labels=labels.astype(np.int64),
        patient_ids=ids.astype(str),
        folder=folder,
    )


def _load(path: Path) -> np.ndarray:
    with path.open("rb") as fh:
        if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:  # np.load would take it for a pickle
            raise ReadError(path, "not a .npy file (no NumPy header)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Python objects" in str(exc):
            raise ReadError(
                path,
                "holds Python objects, which are not loaded because unpickling can run "
                "arbitrary code; convert it once to a text array with: python -c "
                f"\"import numpy as np; a = np.load('{path.name}', allow_pickle=True); "
                f"np.save('{path.name}', a.astype(str))\"",
            ) from exc
        raise ReadError(path, f"not a readable .npy file: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise ReadError(path, f"not a readable .npy file: {exc}") from exc
