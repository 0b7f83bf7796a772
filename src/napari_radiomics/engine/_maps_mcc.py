"""glcm MCC per voxel, from the GLCMs' non-zero entries (see ``_maps_glcm``'s docstring).

pyradiomics' MCC is the square root of the second largest eigenvalue of
``Q(i, j) = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k) + eps)``, taken with ``numpy.linalg.eigvals``
over the whole batch (it fails as soon as one voxel has an empty angle). Here each (voxel,
angle)'s GLCM is put on its own levels and stacked with those of as many levels; B's second
singular value comes from ``numpy.linalg.eigvalsh`` (of 2-4 levels and symmetric, from B
deflated by its known top eigenvector), and pyradiomics' own Q (epsilon included) is used
where that value is nearly 0.

Nearly 0, pyradiomics' value is the square root of LAPACK's rounding of a zero eigenvalue
(up to about 1e-16, so up to 1e-8), which depends on the matrix it is given: pyradiomics'
Q spans all the ROI's grey levels (absent ones as zero rows and columns) and is summed over k
one term after the other. There Q is built the same way, on the same levels, so LAPACK
rounds the same; on the angle's own levels an angle's 7e-9 became 0 and the voxel's mean
was 1.3e-9 (relative) off.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: One stack of GLCMs with as many levels: which (voxel, angle)s, their counts on those
#: levels (n, L, L), what each is divided by to be normalised (n) and their marginals p_x,
#: p_y (n, L).
Stack = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def stacks(
    px: np.ndarray,
    py: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    counts: np.ndarray,
    divisor: np.ndarray,
) -> list[Stack]:
    """The GLCMs of the non-zero entries ``counts`` (each at its ``row`` and ``column``: the
    flat (voxel, level, angle) of its i and of its j; each (voxel, angle)'s GLCM divided by
    ``divisor`` (voxels, angles) to be normalised), with marginals ``px``, ``py`` (voxels,
    levels, angles), each on the levels it has (a row or a column with a pair), stacked by
    that number of levels: each entry scattered into its GLCM's block at its levels' ranks
    among the GLCM's, the rest 0 (the GLCMs' values are the entries', to the bit), left
    undivided (the MCC's B divides once, by the divisor and the marginals together; a largest
    entry divided is the largest value, to the bit). Scattering the entries writes a sixth of
    what gathering each block from the batch's dense counts read."""
    voxels, levels_in_batch, angles = px.shape
    here = (px > 0) | (py > 0)  # (voxels, levels, angles)
    present = here.transpose(0, 2, 1).reshape(voxels * angles, -1)
    size = present.sum(1)  # levels per (voxel, angle)
    rows = px.transpose(0, 2, 1).ravel()  # (voxel, angle, level)
    columns = rows if py is px else py.transpose(0, 2, 1).ravel()
    # Ordered by size (stably: ascending within a size), each stack's GLCMs are a run of
    # ``order``, their levels a run of ``found`` and their blocks a run of ``blocks``.
    order = np.argsort(size, kind="stable")
    found = np.nonzero(present[order])[1]  # ascending in each row
    ends = np.cumsum(size[order])
    areas = size[order] ** 2
    start = np.empty(order.size, dtype=np.intp)  # of each GLCM's block
    start[order] = np.cumsum(areas) - areas
    # per (voxel, level, angle): the level's rank among its GLCM's, and where its row starts
    rank = np.cumsum(here, axis=1) - 1
    row_start = start.reshape(voxels, 1, angles) + rank * size.reshape(voxels, 1, angles)
    blocks = np.zeros(int(areas.sum()))
    blocks[row_start.ravel()[row] + rank.ravel()[column]] = counts
    flat_divisor = divisor.ravel()
    sizes, first = np.unique(size[order], return_index=True)
    out = []
    for n, begin, stop in zip(sizes, first, [*first[1:], order.size], strict=True):
        if n == 0:
            continue
        chosen = order[begin:stop]
        levels = found[ends[begin] - n : ends[stop - 1]].reshape(-1, n)
        at = start[chosen[0]]
        glcm = blocks[at : at + chosen.size * n * n].reshape(-1, n, n)
        at_levels = chosen[:, None] * levels_in_batch + levels
        dx = rows.take(at_levels)
        dy = dx if py is px else columns.take(at_levels)
        out.append((chosen, glcm, flat_divisor[chosen], dx, dy))
    return out


def maximal_correlation(
    stacked: list[Stack],
    flat: np.ndarray,
    empty: np.ndarray,
    symmetric: bool,
    as_pyradiomics: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """MCC per voxel of the ``stacked`` GLCMs; ``flat`` (voxels) marks the kernels of one grey
    level, ``empty`` (voxels, angles) the angles without pairs; ``as_pyradiomics(chosen)``
    gives pyradiomics' own MCC of the (voxel, angle)s ``chosen`` (flat indices), on its
    matrices' levels (:func:`mcc_of_q`). See the module docstring."""
    mcc = np.zeros(empty.size)  # one level in the angle: 0
    for chosen, counts, divisor, dx, dy in stacked:
        if counts.shape[1] < 2:
            continue
        mcc[chosen] = _second_singular_value(counts, divisor, dx, dy, symmetric)
        # Where it is (nearly) 0, pyradiomics' epsilon in Q and LAPACK's rounding decide
        # the square root (sqrt(2 eps) is 2e-8): those few take pyradiomics' own route.
        tiny = mcc[chosen] < _TINY
        if tiny.any():
            mcc[chosen[tiny]] = as_pyradiomics(chosen[tiny])
    mcc = mcc.reshape(empty.shape)
    mcc[flat] = 1.0
    mcc[empty] = np.nan
    return nanmean_over_angles(mcc) if empty.shape[1] else np.full(len(empty), np.nan)


#: Below this second singular value of B (1e-8 for Q's eigenvalue), pyradiomics' epsilon
#: changes the MCC by more than 1e-11: such angles are computed with it, as pyradiomics does.
_TINY = 1e-4


def _second_singular_value(
    counts: np.ndarray, divisor: np.ndarray, dx: np.ndarray, dy: np.ndarray, symmetric: bool
) -> np.ndarray:
    """The second largest singular value of each ``B = Dx^-1/2 P Dy^-1/2`` (n, L, L), P the
    ``counts`` divided by ``divisor`` (n): symmetric, the second largest ``|mu|`` of B's
    eigenvalues (the largest is 1); else the square root of ``B B^T``'s second largest
    eigenvalue. One division per entry, by the divisor and both roots together."""
    root_x = np.sqrt(dx)
    root_x[root_x == 0] = 1.0  # an absent level: its row (column) of P is 0
    root_y = root_x if dy is dx else np.sqrt(dy)
    root_y[root_y == 0] = 1.0
    b = counts / ((divisor[:, None] * root_x)[:, :, None] * root_y[:, None, :])
    if symmetric and b.shape[1] <= _DEFLATED:
        return _largest_other_eigenvalue(b, root_x)
    if symmetric:  # ascending: the largest |mu| but the last is at one end or the other
        eigen = np.linalg.eigvalsh(b)
        return np.maximum(eigen[:, -2], -eigen[:, 0])
    eigen = np.linalg.eigvalsh(b @ b.transpose(0, 2, 1))
    return np.sqrt(np.maximum(eigen[:, -2], 0.0))


#: Up to this many levels, the MCC's eigenvalues are those of B deflated (measured on the
#: benchmark CT's angles, mostly 3-5 levels: 1.4x; at 10-20 levels, as brain1's, no faster).
_DEFLATED = 4


def _largest_other_eigenvalue(b: np.ndarray, root: np.ndarray) -> np.ndarray:
    """The largest ``|mu|`` among the eigenvalues of the symmetric ``b`` (n, L, L) other than
    its largest, 1, whose eigenvector is ``root`` = sqrt(p_x) (n, L): B sqrt(p_x) =
    Dx^-1/2 P 1 = sqrt(p_x).

    A Householder reflection H that maps that eigenvector to the first axis makes H B H
    block diagonal, 1 then an (L - 1) x (L - 1) block holding B's other eigenvalues (to a
    rounding or two of B's norm, 1: the MCC is at least 1e-4 here, see ``_TINY``): a number
    for L = 2, a 2 x 2 block's closed form for L = 3, both without LAPACK, whose cost per
    matrix is mostly its overhead at these sizes, and a smaller one beyond."""
    u = root / np.linalg.norm(root, axis=1, keepdims=True)
    w = u.copy()
    w[:, 0] += 1.0  # u + e1: u > 0, so no cancellation; H u = -e1
    beta = 1.0 / (1.0 + u[:, :1])  # 2 / |w|^2
    p = beta * np.einsum("nij,nj->ni", b, w)
    q = p - (0.5 * beta * np.einsum("ni,ni->n", w, p)[:, None]) * w
    block = (b - w[:, :, None] * q[:, None, :] - q[:, :, None] * w[:, None, :])[:, 1:, 1:]
    if block.shape[1] == 1:
        return np.abs(block[:, 0, 0])
    if block.shape[1] > 2:
        eigen = np.linalg.eigvalsh(block)
        return np.maximum(eigen[:, -1], -eigen[:, 0])
    half_sum = 0.5 * (block[:, 0, 0] + block[:, 1, 1])
    half_gap = 0.5 * (block[:, 0, 0] - block[:, 1, 1])
    return np.abs(half_sum) + np.hypot(half_gap, 0.5 * (block[:, 0, 1] + block[:, 1, 0]))


def mcc_of_q(
    glcm: np.ndarray, dx: np.ndarray, dy: np.ndarray, position: np.ndarray, size: int
) -> np.ndarray:
    """pyradiomics' MCC of stacked GLCMs (n, L, L) with marginals ``dx``, ``dy`` (n, L), on
    ``size`` levels of which theirs are at ``position`` (n, L, ascending): the square root of
    Q's second largest eigenvalue (NaN if negative), its epsilon included, Q summed over k as
    ``RadiomicsGLCM.getMCCFeatureValue`` sums it, term by term.

    The sum runs over the GLCMs' own L levels only: on the others p(i, k) p(j, k) is 0, which
    adds nothing (exactly), and Q's rows and columns there are 0. So Q has pyradiomics'
    values bit for bit at L^3 instead of size^3 operations (a 164-level ROI's 20-level angles
    took minutes the other way). Its eigenvalues are taken on the ``size`` x ``size`` matrix
    pyradiomics has, zeros included, so that LAPACK rounds as it rounds there; a few
    matrices at a time, to bound the memory."""
    eps = np.spacing(1)
    q = (glcm[:, :, None, 0] * glcm[:, None, :, 0]) / (dx[:, :, None] * dy[:, None, None, 0] + eps)
    for k in range(1, glcm.shape[2]):
        q += (glcm[:, :, None, k] * glcm[:, None, :, k]) / (
            dx[:, :, None] * dy[:, None, None, k] + eps
        )
    out = np.empty(len(q))
    for start in range(0, len(q), _Q_CHUNK):
        part = slice(start, start + _Q_CHUNK)
        where = position[part]
        full = np.zeros((len(where), size, size))
        full[np.arange(len(where))[:, None, None], where[:, :, None], where[:, None, :]] = q[part]
        eigen = np.sort(np.linalg.eigvals(full).real, axis=-1)
        with np.errstate(invalid="ignore"):
            out[part] = np.sqrt(eigen[:, -2])
    return out


#: Matrices of pyradiomics' size whose eigenvalues are taken at once (a 164-level ROI's
#: 64 Q matrices: 14 MB).
_Q_CHUNK = 64


def nanmean_over_angles(values: np.ndarray) -> np.ndarray:
    """pyradiomics' ``numpy.nanmean`` over angles (axis 1), computed as numpy does it (NaN
    taken as 0 in the sum, divided by the count of the others) without its checks and
    warnings: a voxel with no pair at all is NaN, as in pyradiomics."""
    counted = ~np.isnan(values)
    count = counted.sum(1)
    # divided only where there is a count, for no 0 / 0 to silence: a ``numpy.errstate`` per
    # call cost more than the rest of it (7 ms of brain1's ~1000 calls at radius 2)
    total = np.where(counted, values, 0.0).sum(1)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
