"""glcm maps' matrices: pyradiomics' own GLCM counts as normalised non-zero entries.

pyradiomics' ``RadiomicsGLCM._calculateMatrix`` in voxel mode returns dense normalised GLCMs
(voxels, Ng, Ng, angles), almost all zeros; its C code (``cMatrices.calculate_glcm``) is
called here as it calls it, and the counts are symmetrised, the batch's empty angles dropped
and each (voxel, angle) divided by its sum as ``_calculateMatrix`` does, but on the non-zero
entries, which ``_maps_glcm`` evaluates pyradiomics' formulas on. The C code's counts are
symmetrised only at the non-zero entries (``C[i, j] + C[j, i]``, the very additions of
``C + C^T``), not as a whole dense array, and kept as they are for the few GLCMs that the
MCC's near-zero route takes on pyradiomics' levels (``_maps_glcm``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Non-zero entries of normalised GLCMs: values and their (voxel, i, j, angle) indices.
Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: The same GLCMs dense: counts (voxels, levels, levels, angles), what each (voxel, angle) is
#: divided by (voxels, angles) to be normalised (the entries' values are those quotients),
#: and whether a GLCM is those counts plus their transpose (symmetrised) or the counts alone.
Dense = tuple[np.ndarray, np.ndarray, bool]


def counted(
    instance: Any, coordinates: np.ndarray, levels: dict[str, Any]
) -> tuple[Entries, np.ndarray, Dense, tuple[int, int, int], np.ndarray, np.ndarray, int]:
    """pyradiomics' ``_calculateMatrix`` without weighting, as non-zero entries: its C code's
    counts, symmetrised (``symmetricalGLCM``), angles without a pair in the whole batch
    dropped, each (voxel, angle) divided by its sum (an empty one marked). The absent levels
    are not deleted: an entry's level is its index plus one plus the renumbering's shift.
    Returns the entries, their counts (undivided), the counts kept dense (:data:`Dense`),
    (voxels, levels, angles), the empty (voxel, angle)s, the levels by index and Ng."""
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
    voxels, size, _, angles = counts.shape
    symmetric = bool(instance.symmetricalGLCM)
    nonzero = counts != 0
    if symmetric:  # C + C^T is non-zero where C or C^T is (the counts are not negative)
        nonzero |= nonzero.transpose(0, 2, 1, 3)
    flat = np.flatnonzero(nonzero)  # numpy finds a bool's non-zeros 5-10x faster
    # ``unravel_index``'s indices, from numpy's divisions by a scalar (about twice as fast)
    rest, a = np.divmod(flat, angles)
    rest, j = np.divmod(rest, size)
    v, i = np.divmod(rest, size)
    flat_counts = counts.ravel()
    c = flat_counts[flat]
    if symmetric:  # C[j, i]: (i - j) (size - 1) angles entries before C[i, j]
        c = c + flat_counts[flat - (i - j) * ((size - 1) * angles)]
    group = v * angles + a  # one (voxel, angle) GLCM
    sums = np.bincount(group, c, voxels * angles).reshape(voxels, angles)
    if angles > 1:  # pyradiomics deletes the angles empty for every voxel of the batch
        kept = sums.sum(0) != 0
        if not kept.all():
            a = (np.cumsum(kept) - 1)[a]
            counts, sums, angles = counts[..., kept], sums[:, kept], int(kept.sum())
            group = v * angles + a
    p = c / sums.ravel()[group]
    shift = int(levels["grayLevels"].min()) - 1 if levels["grayLevels"].size else 0
    by_index = np.arange(1, size + 1) + shift
    dense = counts, sums, symmetric
    shape = (voxels, size, angles)
    return (p, v, i, j, a), c, dense, shape, sums == 0, by_index, levels["Ng"]
