"""The dataset's ``cvind.mat``: the fold number (1-5) of each slice, in file-number order.

It sits beside the slices and is not a case (``io.folder.NOT_A_CASE``). The published file is
MATLAB v7.3 (HDF5); a v5 copy (``scipy.io.savemat``) reads the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_radiomics.errors import ReadError

__all__ = ["read_cvind"]


def read_cvind(path: str | Path) -> np.ndarray:
    """Fold numbers as a flat integer array: entry ``i`` is slice ``i + 1``'s fold."""
    import h5py
    import scipy.io

    path = Path(path)
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                values = np.asarray(f["cvind"][()])
        else:
            values = np.asarray(scipy.io.loadmat(path)["cvind"])
    except KeyError:
        raise ReadError(path, "no 'cvind' variable: not the dataset's fold file") from None
    except (OSError, ValueError) as exc:
        raise ReadError(path, f"not a readable .mat file ({exc})") from exc
    folds = values.ravel()
    if folds.size == 0 or not np.all(np.isfinite(folds)) or np.any(folds != np.round(folds)):
        raise ReadError(path, "cvind must hold whole fold numbers")
    return folds.astype(np.int64)
