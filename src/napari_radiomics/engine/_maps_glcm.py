"""glcm maps from pyradiomics' own GLCMs, every feature from their non-zero entries.

pyradiomics' voxel mode evaluates each of the 24 glcm features on the dense normalised
matrices (voxels, Ng, Ng, angles), a dozen full passes or more per feature; a kernel of radius
1 holds at most 27 voxels, so almost every entry is zero. Here the matrices are pyradiomics'
C counts (``cMatrices.calculate_glcm``, in ``_maps_glcm_counts``) made into
``_calculateMatrix``'s normalised GLCMs on their non-zero entries only (symmetrised, the
batch's empty angles dropped, each divided by its sum; pyradiomics' own ``_calculateMatrix``
when angles are weighted), and each feature is pyradiomics' formula per voxel and angle,
evaluated on the non-zero entries (``numpy.bincount`` per voxel and angle) or on the
marginals (p_x, p_y, p_x+y, p_x-y), which are small. An entry that is zero adds zero to every
sum pyradiomics takes (``0 * log2(0 + eps)`` included), so only the order of the
additions differs. The per-angle values are then averaged over angles as pyradiomics does
(``nanmean``, ``mean`` for Joint Average), with pyradiomics' NaN for a voxel's empty angle.

MCC, pyradiomics' square root of the second largest eigenvalue of
``Q(i, j) = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k) + eps)``: pyradiomics takes
``numpy.linalg.eigvals`` of Q over the whole batch and fails as soon as one voxel has an empty
angle. Without eps, ``Q = Dx^-1 P Dy^-1 P^T`` is similar to ``B B^T`` with
``B = Dx^-1/2 P Dy^-1/2``, so the MCC is B's second largest singular value. With a symmetric
GLCM (pyradiomics' default, ``symmetricalGLCM``) B is symmetric, its largest eigenvalue is 1
(eigenvector sqrt(p_x)) and the MCC is the largest ``|mu|`` among its other eigenvalues;
otherwise it is the square root of ``B B^T``'s second eigenvalue. Both come from
``numpy.linalg.eigvalsh`` on B restricted to the levels present in the voxel's angle (at most
the kernel's voxel count: tiny matrices, stacked by size). eps moves ``p_x p_y`` (at least
1 / (2 pairs)^2) by under 1e-10 relative, and the MCC by about 1e-12, except where the second
value is near 0, where the square root magnifies it (pyradiomics gives sqrt(2 eps) = 2e-8, not
0): there, below 1e-4, the angle takes pyradiomics' own route (Q with eps, ``eigvals``, on
the ROI's levels, see ``_maps_mcc``). An angle with one level gives 0, a kernel with one level
in all 1 (pyradiomics' value for a flat region), an empty angle is skipped.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import Any

import numpy as np

from napari_radiomics.engine._maps_glcm_counts import Dense, Entries, counted
from napari_radiomics.engine._maps_mcc import (
    Stack,
    maximal_correlation,
    mcc_of_q,
    nanmean_over_angles,
    stacks,
)

#: Below this HXY2 - HXY, Imc2 takes HXY2 summed term by term as pyradiomics sums it: above,
#: the factored HXY2's few roundings (1e-15 of HXY2's few bits) move Imc2 by under 1e-11.
_IMC2_TIE = 1e-3

#: Every glcm feature pyradiomics computes (not deprecated), each computed here.
FEATURES = frozenset(
    {
        "Autocorrelation", "ClusterProminence", "ClusterShade", "ClusterTendency",
        "Contrast", "Correlation", "DifferenceAverage", "DifferenceEntropy",
        "DifferenceVariance", "Id", "Idm", "Idmn", "Idn", "Imc1", "Imc2", "InverseVariance",
        "JointAverage", "JointEnergy", "JointEntropy", "MCC", "MaximumProbability",
        "SumAverage", "SumEntropy", "SumSquares",
    }
)  # fmt: skip


def glcm_values(
    instance: Any, coordinates: np.ndarray, enabled: list[str], levels: dict[str, Any]
) -> dict[str, Any]:
    """Each of ``enabled``'s features per voxel of ``coordinates`` (pyradiomics' voxel-mode
    glcm ``instance``, its ``grayLevels`` those of the batch, maybe renumbered from 1) with
    the true grey ``levels`` (``Ng``, ``grayLevels``, and ``roiLevels``: the ROI's, which
    pyradiomics' own matrices span, for its MCC's rounding). A feature this module does not
    compute (a deprecated one asked for by name) is left to pyradiomics' own method, which
    says it is deprecated, so it is left out as pyradiomics leaves it out."""
    out: dict[str, Any] = {}
    rest = [name for name in enabled if name not in FEATURES]
    if instance.weightingNorm is None and not rest:
        matrices = counted(instance, coordinates, levels)
        glcm = _Glcm(*matrices, instance.symmetricalGLCM, levels.get("roiLevels"))
    else:  # pyradiomics' own matrices (weighted angles; its deprecated features)
        instance.P_glcm = instance._calculateMatrix(coordinates)
        instance.coefficients.update(levels)
        if rest:
            instance._calculateCoefficients()
        for name in rest:
            with contextlib.suppress(DeprecationWarning):
                out[name] = getattr(instance, f"get{name}FeatureValue")()
        glcm = _Glcm.of_matrices(instance.P_glcm, instance.coefficients, instance.symmetricalGLCM)
    for name in enabled:
        if name in FEATURES:
            out[name] = glcm.feature(name)
    return out


class _Glcm:
    """One batch's GLCMs as their non-zero entries, and pyradiomics' features of them."""

    def __init__(
        self,
        entries: Entries,
        counts: np.ndarray,
        dense: Dense,
        shape: tuple[int, int, int],
        empty: np.ndarray,
        levels: np.ndarray,
        ng: int,
        symmetric: bool,
        matrix_levels: np.ndarray | None = None,
    ) -> None:
        """``entries`` of GLCMs (voxels, levels, levels, angles) as ``shape`` says (voxels,
        levels, angles), their ``counts`` (the values undivided), the same GLCMs ``dense``,
        ``empty`` (voxels, angles) marking the
        GLCMs without a pair, the grey level of each index, ``Ng``; ``matrix_levels``, the
        levels pyradiomics' own matrices would span (its voxel batch's: the ROI's), by
        default ``levels``."""
        voxels, size, angles = shape
        self.shape = (voxels, angles)
        self.eps = np.spacing(1)
        self.ng = ng
        self.levels = np.asarray(levels, dtype=float)
        self.matrix_levels = self.levels if matrix_levels is None else matrix_levels
        self.symmetric = symmetric
        self.empty = empty
        self.dense = dense
        self.levels_in_batch = size
        self.p, v, i, j, a = entries
        self.counts = counts
        self.i, self.j = i, j
        self.gi, self.gj = self.levels[i], self.levels[j]
        self.group = v * angles + a  # one (voxel, angle) GLCM
        self.count = voxels * angles
        self.row = (v * size + i) * angles + a  # p_x's entry, (voxel, level, angle)
        self.column = (v * size + j) * angles + a

    @classmethod
    def of_matrices(
        cls, p_glcm: np.ndarray, coefficients: dict[str, Any], symmetric: bool
    ) -> _Glcm:
        """From pyradiomics' normalised GLCMs (voxels, levels, levels, angles), an empty
        (voxel, angle) NaN, and its coefficients (``Ng``, ``grayLevels``)."""
        voxels, size, _, angles = p_glcm.shape
        # pyradiomics marks an angle without pairs by NaN in the whole (i, j) plane.
        empty = np.isnan(p_glcm[:, 0, 0, :]) if size else np.ones((voxels, angles), bool)
        flat = np.flatnonzero(p_glcm != 0)  # NaN included; a bool's non-zeros: faster
        p = p_glcm.ravel()[flat]
        if empty.any():  # their NaN are not entries
            kept = ~np.isnan(p)
            flat, p = flat[kept], p[kept]
        entries = (p, *np.unravel_index(flat, p_glcm.shape))
        levels, ng = coefficients["grayLevels"], coefficients["Ng"]
        dense = p_glcm, np.ones((voxels, angles)), False
        shape = (voxels, size, angles)
        return cls(entries, p, dense, shape, empty, levels, ng, symmetric)

    def total(self, weights: np.ndarray) -> np.ndarray:
        """Sum of ``weights`` (one per non-zero entry) per (voxel, angle)."""
        return np.bincount(self.group, weights, self.count).reshape(self.shape)

    def feature(self, name: str) -> np.ndarray:
        """pyradiomics' value of feature ``name`` per voxel (its mean over angles)."""
        values = getattr(self, f"_{name}")()
        if name == "JointAverage":
            return values.mean(1)  # pyradiomics' mean: NaN when one angle is empty
        if name == "MCC":
            return values
        values = np.where(self.empty, np.nan, values)
        return nanmean_over_angles(values)

    # coefficients, as pyradiomics' _calculateCoefficients, per (voxel, angle)

    @cached_property
    def ux(self) -> np.ndarray:
        return np.where(self.empty, np.nan, self.total(self.p * self.gi))

    @cached_property
    def uy(self) -> np.ndarray:
        return np.where(self.empty, np.nan, self.total(self.p * self.gj))

    @cached_property
    def px(self) -> np.ndarray:
        """(voxels, levels, angles)."""
        voxels, angles = self.shape
        size = self.levels_in_batch
        return np.bincount(self.row, self.p, voxels * size * angles).reshape(voxels, size, angles)

    @cached_property
    def py(self) -> np.ndarray:
        if self.symmetric:
            return self.px
        voxels, angles = self.shape
        size = self.levels_in_batch
        counts = np.bincount(self.column, self.p, voxels * size * angles)
        return counts.reshape(voxels, size, angles)

    def _marginal(self, offset: np.ndarray, size: int) -> np.ndarray:
        """A marginal over grey-level sums or differences, (voxels, angles, ``size``)."""
        index = self.group * size + offset.astype(np.intp)
        counts = np.bincount(index, self.p, self.count * size)
        return counts.reshape(*self.shape, size)

    @cached_property
    def sums(self) -> tuple[np.ndarray, np.ndarray]:
        """p_x+y and its k (from the lowest level sum present: lower ones are zero)."""
        low = 2 * self.levels.min(initial=1)
        size = int(2 * self.levels.max(initial=1) - low) + 1
        return self._marginal(self.gi + self.gj - low, size), low + np.arange(size, dtype=float)

    @cached_property
    def differences(self) -> tuple[np.ndarray, np.ndarray]:
        """p_x-y and its k (0 up to the largest difference present: higher ones are zero)."""
        size = int(np.ptp(self.levels)) + 1 if self.levels.size else 1
        return self._marginal(np.abs(self.gi - self.gj), size), np.arange(size, dtype=float)

    def _entries(self, per_group: np.ndarray) -> np.ndarray:
        """A (voxel, angle) quantity at each non-zero entry."""
        return per_group.ravel()[self.group]

    @cached_property
    def hxy(self) -> np.ndarray:
        return -self.total(self.p * np.log2(self.p + self.eps))

    @cached_property
    def centred(self) -> tuple[np.ndarray, np.ndarray]:
        """i - ux and j - uy at each non-zero entry."""
        return self.gi - self._entries(self.ux), self.gj - self._entries(self.uy)

    @cached_property
    def _cluster_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """i + j - ux - uy at each non-zero entry and its square (the three cluster
        features' weights are its powers)."""
        t = self.gi + self.gj - self._entries(self.ux) - self._entries(self.uy)
        return t, t * t  # products, not ``**``: numpy's pow per element is far slower

    def _cluster(self, power: int) -> np.ndarray:
        t, square = self._cluster_terms
        weights = {2: square, 3: square * t, 4: square * square}[power]
        return self.total(self.p * weights)

    def _entropy(self, marginal: np.ndarray, axis: int) -> np.ndarray:
        return -np.sum(marginal * np.log2(marginal + self.eps), axis)

    # the features, per (voxel, angle)

    def _Autocorrelation(self) -> np.ndarray:
        return self.total(self.p * (self.gi * self.gj))

    def _JointAverage(self) -> np.ndarray:
        return self.ux

    def _ClusterProminence(self) -> np.ndarray:
        return self._cluster(4)

    def _ClusterShade(self) -> np.ndarray:
        return self._cluster(3)

    def _ClusterTendency(self) -> np.ndarray:
        return self._cluster(2)

    def _Contrast(self) -> np.ndarray:
        return self.total(self.p * np.abs(self.gi - self.gj) ** 2)

    def _Correlation(self) -> np.ndarray:
        di, dj = self.centred
        sigx = self.total(self.p * di**2) ** 0.5
        sigy = self.total(self.p * dj**2) ** 0.5
        corr = self.total(self.p * di * dj) / (sigx * sigy + self.eps)
        corr[sigx * sigy == 0] = 1
        return corr

    def _DifferenceAverage(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(k * p, 2)

    def _DifferenceEntropy(self) -> np.ndarray:
        return self._entropy(self.differences[0], 2)

    def _DifferenceVariance(self) -> np.ndarray:
        p, k = self.differences
        average = np.sum(k * p, 2, keepdims=True)
        return np.sum(p * (k - average) ** 2, 2)

    def _JointEnergy(self) -> np.ndarray:
        return self.total(self.p**2)

    def _JointEntropy(self) -> np.ndarray:
        return self.hxy

    def _Imc1(self) -> np.ndarray:
        hx = self._entropy(self.px, 1)
        hy = hx if self.py is self.px else self._entropy(self.py, 1)
        product = self.px.ravel()[self.row] * self.py.ravel()[self.column]
        hxy1 = -self.total(self.p * np.log2(product + self.eps))
        div = np.fmax(hx, hy)
        imc1 = self.hxy - hxy1
        imc1[div != 0] /= div[div != 0]
        imc1[div == 0] = 0
        return imc1

    def _Imc2(self) -> np.ndarray:
        hxy2 = self._hxy2_factored()
        # Near a tie (an angle whose GLCM is nearly p_x p_y) HXY2 - HXY is a rounding or two
        # and the square root magnifies it: there, HXY2 on each angle's levels (the others
        # add 0), term by term in (i, j) order as numpy sums pyradiomics' dense array (and
        # ``total`` HXY), so that where P = p_x p_y, HXY2 == HXY as in pyradiomics, not one
        # pairwise rounding apart (an Imc2 of 3e-8).
        near = ((hxy2 - self.hxy) < _IMC2_TIE).ravel()
        hxy2 = hxy2.ravel()
        for chosen, _, _, dx, dy in self.stacked:
            tied = near[chosen]
            if not tied.any():
                continue
            product = dx[tied][:, :, None] * dy[tied][:, None, :]
            terms = (product * np.log2(product + self.eps)).ravel()
            owner = np.repeat(np.arange(product.shape[0]), product[0].size)
            hxy2[chosen[tied]] = -np.bincount(owner, terms, product.shape[0])  # in order
        hxy2 = hxy2.reshape(self.shape)
        with np.errstate(invalid="ignore"):
            imc2 = (1 - np.e ** (-2 * (hxy2 - self.hxy))) ** 0.5
        imc2[hxy2 == self.hxy] = 0
        return imc2

    def _hxy2_factored(self) -> np.ndarray:
        """pyradiomics' HXY2, -sum_ij p_x(i) p_y(j) log2(p_x(i) p_y(j) + eps), as
        HX S_y + HY S_x - n_x n_y eps / ln 2 (S the marginals' sums, n their non-zero
        counts, HX = -sum_i p_x(i) log2 p_x(i)): log2(a + eps) = log2 a + eps / (a ln 2) to
        within (eps / a)^2, a >= 1 / (2 pairs)^2. One pass over the marginals instead of
        one over every (i, j) of every angle; exact to a few roundings of HXY2."""
        px, py = self.px, self.py
        with np.errstate(divide="ignore"):
            hx = -np.sum(px * np.log2(np.where(px > 0, px, 1)), 1)
            hy = hx if self.symmetric else -np.sum(py * np.log2(np.where(py > 0, py, 1)), 1)
        nx, ny = np.count_nonzero(px, 1), np.count_nonzero(py, 1)
        return hx * py.sum(1) + hy * px.sum(1) - nx * ny * (self.eps / np.log(2))

    def _Idm(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(p / (1 + k**2), 2)

    def _Idmn(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(p / (1 + (k**2) / (self.ng**2)), 2)

    def _Id(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(p / (1 + k), 2)

    def _Idn(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(p / (1 + (k / self.ng)), 2)

    def _InverseVariance(self) -> np.ndarray:
        p, k = self.differences
        return np.sum(p[..., 1:] / k[1:] ** 2, 2)

    def _MaximumProbability(self) -> np.ndarray:
        out = np.zeros(self.count)
        for chosen, counts, divisor, _, _ in self.stacked:
            out[chosen] = counts.max((1, 2)) / divisor
        return out.reshape(self.shape)

    def _SumAverage(self) -> np.ndarray:
        p, k = self.sums
        return np.sum(k * p, 2)

    def _SumEntropy(self) -> np.ndarray:
        return self._entropy(self.sums[0], 2)

    def _SumSquares(self) -> np.ndarray:
        return self.total(self.p * self.centred[0] ** 2)

    @cached_property
    def stacked(self) -> list[Stack]:
        return stacks(self.px, self.py, self.row, self.column, self.counts, self.dense[1])

    def _MCC(self) -> np.ndarray:
        # one grey level with a pair in the kernel: pyradiomics' flat region
        flat = ((self.px > 0) | (self.py > 0)).any(2).sum(1) < 2
        return maximal_correlation(
            self.stacked, flat, self.empty, self.symmetric, self._mcc_as_pyradiomics
        )

    def _mcc_as_pyradiomics(self, chosen: np.ndarray) -> np.ndarray:
        """pyradiomics' MCC of the (voxel, angle)s ``chosen`` (flat indices) on the levels its
        matrices have (the ROI's: :attr:`matrix_levels`): each GLCM gathered on the levels of
        its angle (a row or a column with a pair), grouped by their number, and placed at
        their positions among the ROI's levels (:func:`mcc_of_q`)."""
        voxel, angle = np.divmod(chosen, self.shape[1])
        px, py = self.px[voxel, :, angle], self.py[voxel, :, angle]
        present = (px > 0) | (py > 0)
        count = present.sum(1)
        counts, divisor, halves = self.dense
        # an entry's level is always one of the ROI's
        position = np.searchsorted(self.matrix_levels, self.levels)
        out = np.empty(chosen.size)
        for n in np.unique(count):
            rows = np.flatnonzero(count == n)
            levels = np.nonzero(present[rows])[1].reshape(-1, n)  # ascending in each row
            v, a = voxel[rows][:, None, None], angle[rows][:, None, None]
            glcm = counts[v, levels[:, :, None], levels[:, None, :], a]
            if halves:  # C + C^T, added as pyradiomics adds them
                glcm = glcm + counts[v, levels[:, None, :], levels[:, :, None], a]
            glcm /= divisor[v, a]
            dx = np.take_along_axis(px[rows], levels, 1)
            dy = np.take_along_axis(py[rows], levels, 1)
            out[rows] = mcc_of_q(glcm, dx, dy, position[levels], self.matrix_levels.size)
        return out
