"""How much a correction changed a mask: voxels added and removed, Dice, HD95, a digest.

These are the numbers a methods section reports ("corrections changed the masks by a median
Dice of 0.97"), so they follow the usual definitions: Dice = 2|A∩B| / (|A| + |B|); the 95th
percentile Hausdorff distance is the larger of the two directed 95th percentiles of the
distances from one mask's surface voxels to the other's surface (MedPy's ``hd95``), measured
in millimetres when the spacing is known and in pixels when it is not (the dataset's ``.mat``
files store none).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

__all__ = ["MaskChange", "compare_masks", "mask_digest"]


@dataclass(frozen=True)
class MaskChange:
    """The difference between an original mask and its correction."""

    voxels_added: int
    voxels_removed: int
    dice: float
    hd95: float
    distance_unit: str  # "mm" or "px"

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def mask_digest(mask: np.ndarray) -> str:
    """A short fingerprint of which voxels carry which label, independent of the dtype the
    mask happens to be stored in (a bool ``.mat`` mask and its uint8 layer digest alike)."""
    labels = np.ascontiguousarray(mask, dtype=np.uint32)
    digest = hashlib.sha256(repr(labels.shape).encode())
    digest.update(labels.tobytes())
    return digest.hexdigest()[:16]


def compare_masks(
    original: np.ndarray, corrected: np.ndarray, spacing: Sequence[float] | None = None
) -> MaskChange:
    """Compare the tumour (every non-zero voxel) of two masks on the same grid.

    ``spacing`` is in the arrays' axis order (napari's, z-y-x); None means pixel units. An
    empty side gives Dice 0 (or 1 when both are empty) and an HD95 of NaN: a distance to
    nothing is undefined.
    """
    a, b = np.asarray(original) != 0, np.asarray(corrected) != 0
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    dice = 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total
    sampling = None if spacing is None else tuple(float(s) for s in spacing)
    return MaskChange(
        voxels_added=int(np.logical_and(b, ~a).sum()),
        voxels_removed=int(np.logical_and(a, ~b).sum()),
        dice=dice,
        hd95=_hd95(a, b, sampling),
        distance_unit="px" if spacing is None else "mm",
    )


def _hd95(a: np.ndarray, b: np.ndarray, sampling: tuple[float, ...] | None) -> float:
    if not a.any() or not b.any():
        return float("nan")
    if np.array_equal(a, b):
        return 0.0
    # Only the bounding box of both masks (plus a border) matters: a 512x512 slice with a
    # small tumour then costs a small distance transform, not a full-slice one.
    both = np.logical_or(a, b)
    box = tuple(slice(max(int(idx.min()) - 2, 0), int(idx.max()) + 3) for idx in np.nonzero(both))
    a, b = np.pad(a[box], 1), np.pad(b[box], 1)
    surface_a, surface_b = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=sampling)
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=sampling)
    return float(max(np.percentile(to_b[surface_a], 95), np.percentile(to_a[surface_b], 95)))


def _surface(mask: np.ndarray) -> np.ndarray:
    """The mask's voxels that touch the background (face connectivity)."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return np.logical_and(mask, ~ndimage.binary_erosion(mask, structure))
