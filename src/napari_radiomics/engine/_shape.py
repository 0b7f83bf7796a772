"""pyradiomics' 3D shape coefficients (mesh surface, mesh volume, maximum diameters), faster.

pyradiomics' ``cShape.calculate_coefficients`` walks the marching-cubes mesh of the padded ROI
mask once for surface and volume, and then compares every mesh vertex with every other one for
the four maximum diameters. That all-pairs loop is the most expensive step of a whole default
extraction for a large ROI. This module returns the same three results from the same
definitions:

* The mesh vertices are the midpoints of the grid edges whose two voxels differ (the ROI
  boundary), at ``(index + 0.5) * spacing`` along the edge: the coordinates pyradiomics
  computes. The largest distance between two points of a set is between two vertices of its
  convex hull; a hull vertex is the first or last point on every grid line through it, so the
  candidates are pruned to those line extremes (and, in 3D, to the hull) before comparing pairs
  with pyradiomics' own arithmetic. The per-plane diameters compare points of the same plane.
* Surface and volume are sums over the marching cubes. A cube's triangles depend only on which of
  its 8 corners are inside; the surface of a configuration does not depend on the position and
  its volume term grows linearly with it. Both are measured once per spacing by running
  pyradiomics' own C code on one- and two-cube masks of every configuration, then summed over the
  ROI's cubes with numpy.

Floating-point sums run in a different order than in C, so results agree to ~1e-15 relative
(parity tests hold them to 1e-12), not bit for bit.
"""

from __future__ import annotations

import functools
import itertools
import types

import numpy as np
from radiomics import cShape, shape

#: (dz, dy, dx) of cube corner ``b``: bit ``b`` of a cube's configuration index.
_CORNERS = list(itertools.product((0, 1), repeat=3))
_ROW_CHUNK = 512


def _configuration(block: np.ndarray) -> int:
    return sum(1 << b for b, corner in enumerate(_CORNERS) if block[corner])


@functools.lru_cache(maxsize=16)
def _tables(spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per configuration: surface, volume at the origin, and volume change per index step along
    z, y, x; measured with pyradiomics' C code on one- and two-cube masks."""
    spacing_array = np.asarray(spacing, dtype=float)
    surface, volume = np.zeros(256), np.zeros(256)
    slope = np.zeros((3, 256))
    cubes = []
    for index in range(256):
        cube = np.zeros((2, 2, 2), dtype=bool)
        for b, corner in enumerate(_CORNERS):
            cube[corner] = bool(index >> b & 1)
        cubes.append(cube)
        surface[index], volume[index], _ = cShape.calculate_coefficients(cube, spacing_array)
    for axis in range(3):
        for index, cube in enumerate(cubes):
            shape = [2, 2, 2]
            shape[axis] = 3
            pair = np.zeros(shape, dtype=bool)
            pair[tuple(slice(1, None) if d == axis else slice(None) for d in range(3))] = cube
            first = _configuration(pair[tuple(slice(0, 2) for _ in range(3))])
            _, both, _ = cShape.calculate_coefficients(pair, spacing_array)
            slope[axis, index] = both - volume[first] - volume[index]
    return surface, volume, slope


def _surface_and_volume(
    mask: np.ndarray, spacing: tuple[float, float, float]
) -> tuple[float, float]:
    surface, volume, slope = _tables(spacing)
    nz, ny, nx = (n - 1 for n in mask.shape)
    index = np.zeros((nz, ny, nx), dtype=np.intp)
    for b, (dz, dy, dx) in enumerate(_CORNERS):
        index |= mask[dz : dz + nz, dy : dy + ny, dx : dx + nx].astype(np.intp) << b
    flat = index.ravel()
    counts = np.bincount(flat, minlength=256)
    total_volume = float(counts @ volume)
    for axis, size in enumerate((nz, ny, nx)):
        shape = [1, 1, 1]
        shape[axis] = size
        position = np.broadcast_to(np.arange(size, dtype=float).reshape(shape), index.shape)
        total_volume += float(
            np.bincount(flat, weights=position.ravel(), minlength=256) @ slope[axis]
        )
    return float(counts @ surface), total_volume


def _vertices(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Mesh vertices: midpoints of grid edges between an ROI voxel and a background voxel."""
    points = []
    for axis in range(3):
        low = [slice(None)] * 3
        high = [slice(None)] * 3
        low[axis], high[axis] = slice(0, -1), slice(1, None)
        where = np.argwhere(mask[tuple(low)] != mask[tuple(high)]).astype(float)
        where[:, axis] += 0.5
        points.append(where)
    return np.concatenate(points) * spacing


def _line_extremes(points: np.ndarray, axis: int) -> np.ndarray:
    """Points that are first or last along ``axis`` on their grid line (other two coordinates)."""
    if len(points) == 0:
        return points
    others = [d for d in range(3) if d != axis]
    order = np.lexsort((points[:, axis], points[:, others[1]], points[:, others[0]]))
    ordered = points[order]
    same = np.all(ordered[1:, others] == ordered[:-1, others], axis=1)
    first = np.concatenate(([True], ~same))
    last = np.concatenate((~same, [True]))
    return ordered[first | last]


def _max_squared_distance(points: np.ndarray) -> float:
    """Largest squared distance between two points, with pyradiomics' operation order."""
    best = 0.0
    for start in range(0, len(points), _ROW_CHUNK):
        delta = points[start : start + _ROW_CHUNK, None, :] - points[None, :, :]
        delta *= delta
        distance = delta[..., 0] + delta[..., 1] + delta[..., 2]
        best = max(best, float(distance.max(initial=0.0)))
    return best


def _per_plane(points: np.ndarray, axis: int) -> float:
    """Largest squared distance between two points with equal coordinate ``axis``."""
    if len(points) == 0:
        return 0.0
    order = np.argsort(points[:, axis], kind="stable")
    ordered = points[order]
    cuts = np.flatnonzero(ordered[1:, axis] != ordered[:-1, axis]) + 1
    groups = [group for group in np.split(ordered, cuts) if len(group) > 1]
    # No pair in a plane is farther apart than the corners of the plane's bounding box (also in
    # floating point: rounding is monotonic), so planes are visited largest box first and the
    # search stops once no box can beat the best pair found.
    extent = [group.max(axis=0) - group.min(axis=0) for group in groups]
    bounds = [float(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]) for e in extent]
    best = 0.0
    for bound, group in sorted(zip(bounds, groups, strict=True), key=lambda item: -item[0]):
        if bound <= best:
            break
        best = max(best, _max_squared_distance(group))
    return best


def _hull_points(points: np.ndarray) -> np.ndarray:
    # Imported at the first shape feature: 0.2-0.3 s that feature maps (no shape) never need.
    from scipy.spatial import ConvexHull, QhullError

    try:
        return points[ConvexHull(points).vertices]
    except (QhullError, ValueError):  # flat or tiny point sets: compare them all
        return points


def calculate_coefficients(
    mask: np.ndarray, spacing: np.ndarray
) -> tuple[float, float, tuple[float, float, float, float]]:
    """Drop-in for ``cShape.calculate_coefficients(mask, spacing)`` (padded boolean mask)."""
    spacing_tuple = tuple(float(s) for s in spacing)
    surface, volume = _surface_and_volume(mask, spacing_tuple)
    vertices = _vertices(mask, np.asarray(spacing_tuple))
    along_x = _line_extremes(vertices, 2)
    along_y = _line_extremes(vertices, 1)
    squared = (
        _per_plane(along_x, 0),  # same slice (z): hull vertices are x-line extremes
        _per_plane(along_x, 1),  # same row (y)
        _per_plane(along_y, 2),  # same column (x): y-line extremes
        _max_squared_distance(_hull_points(_line_extremes(along_x, 1))),
    )
    return surface, volume, tuple(float(np.sqrt(s)) for s in squared)


#: Padded ROI boxes smaller than this go to pyradiomics' C code, which is faster for them.
NUMPY_MIN_VOXELS = 20_000


def _coefficients(mask: np.ndarray, spacing: np.ndarray) -> tuple:
    if mask.size < NUMPY_MIN_VOXELS:
        return cShape.calculate_coefficients(mask, spacing)
    return calculate_coefficients(mask, spacing)


class _Coefficients:
    """Stands in for the ``cShape`` module inside ``FastShape``'s initialisation."""

    calculate_coefficients = staticmethod(_coefficients)


class FastShape(shape.RadiomicsShape):
    """pyradiomics' shape feature class, with ``calculate_coefficients`` from this module.

    The initialisation is pyradiomics' own function object run with ``cShape`` bound to this
    module's version (same code, different global), so everything else (padding, eigenvalues,
    every feature formula) stays pyradiomics'. Nothing in pyradiomics is modified.
    """

    __module__ = shape.RadiomicsShape.__module__  # log through pyradiomics' shape logger
    _initSegmentBasedCalculation = types.FunctionType(
        shape.RadiomicsShape._initSegmentBasedCalculation.__code__,
        {**vars(shape), "cShape": _Coefficients},
        "_initSegmentBasedCalculation",
    )
