"""glcm maps' matrices: pyradiomics' own GLCM counts as normalised non-zero entries.

pyradiomics' ``RadiomicsGLCM._calculateMatrix`` in voxel mode returns dense normalised GLCMs
(voxels, Ng, Ng, angles), almost all zeros; its C code (``cMatrices.calculate_glcm``) is
called here as it calls it, and the counts are symmetrised, the batch's empty angles dropped
and each (voxel, angle) divided by its sum as ``_calculateMatrix`` does, but on the non-zero
entries, which ``_maps_glcm`` evaluates pyradiomics' formulas on. The dense counts are kept
beside them for the MCC's per-angle matrices (``_maps_mcc.stacks``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Non-zero entries of normalised GLCMs: values and their (voxel, i, j, angle) indices.
Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: The same GLCMs dense: (voxels, levels, levels, angles) and what each (voxel, angle) is
#: divided by (voxels, angles) to be normalised (the entries' values are those quotients).
Dense = tuple[np.ndarray, np.ndarray]


def counted(
    instance: Any, coordinates: np.ndarray, levels: dict[str, Any]
) -> tuple[Entries, Dense, tuple[int, int, int], np.ndarray, np.ndarray, int]:
    """pyradiomics' ``_calculateMatrix`` without weighting, as non-zero entries: its C code's
    counts, symmetrised (``symmetricalGLCM``), angles without a pair in the whole batch
    dropped, each (voxel, angle) divided by its sum (an empty one marked). The absent levels
    are not deleted: an entry's level is its index plus one plus the renumbering's shift.
    Returns the entries, the counts kept dense (:data:`Dense`), (voxels, levels, angles), the
    empty (voxel, angle)s, the levels by index and Ng."""
    from radiomics import cMatrices

    settings = instance.settings
    counts, _ = cMatrices.calculate_glcm(
        instance.imageArray,
        instance.maskArray,
        np.array(settings.get("distances", [1])),
        instance.coefficients["Ng"],
        settings.get("force2D", False),
        settings.get("force2Ddimension", 0),
        settings.get("kernelRadius", 1),
        coordinates,
    )
    if instance.symmetricalGLCM:
        counts = counts + counts.transpose(0, 2, 1, 3)
    voxels, size, _, angles = counts.shape
    flat = np.flatnonzero(counts != 0)  # numpy finds a bool's non-zeros 5-10x faster
    c = counts.ravel()[flat]
    # ``unravel_index``'s indices, from numpy's divisions by a scalar (about twice as fast)
    rest, a = np.divmod(flat, angles)
    rest, j = np.divmod(rest, size)
    v, i = np.divmod(rest, size)
    sums = np.bincount(v * angles + a, c, voxels * angles).reshape(voxels, angles)
    if angles > 1:  # pyradiomics deletes the angles empty for every voxel of the batch
        kept = sums.sum(0) != 0
        if not kept.all():
            a = (np.cumsum(kept) - 1)[a]
            counts, sums, angles = counts[..., kept], sums[:, kept], int(kept.sum())
    p = c / sums[v, a]
    shift = int(levels["grayLevels"].min()) - 1 if levels["grayLevels"].size else 0
    by_index = np.arange(1, size + 1) + shift
    dense = counts, sums
    return (p, v, i, j, a), dense, (voxels, size, angles), sums == 0, by_index, levels["Ng"]
