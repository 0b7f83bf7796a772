"""Faster forms of the few pyradiomics voxel-mode formulas that dominate a map's time.

pyradiomics' voxel mode evaluates each feature on arrays of many voxels at once, and a few of
its formulas are slow there for reasons unrelated to the mathematics:

* firstorder's percentiles (10th, 90th, interquartile range, robust mean absolute deviation)
  call ``numpy.nanpercentile`` along the kernel axis, which runs a Python-level loop over
  every voxel (``apply_along_axis``), and its median ``numpy.nanmedian``, which goes through
  masked arrays; here the kernels are sorted once per batch as a 2D array, the percentiles
  read with numpy's own "linear" rule (its virtual index, floor and ``_lerp``, written the
  same way, so the values are numpy's to the last bit or so), the median as numpy takes it
  (the two middle values summed and halved: the same value).

* glrlm's matrix: pyradiomics sizes its run-length axis by the longest side of the image
  (of a batch's sub-box here), 20-30 at radius 2 on brain1, then deletes the run lengths no
  voxel has. In voxel mode its C code counts runs inside each voxel's kernel only, never
  longer than the kernel's side (2 r + 1), so here the C code is given that length: the
  matrix is 4-6 times smaller, and so are its copies (pyradiomics' deletions) and the sums
  over it; the run lengths kept, and every value, are the same. Its coefficients (the sums
  over grey levels and over run lengths) are then taken by ``numpy.einsum``, whole counts.

* the four emphases of glrlm, glszm and gldm that weight by both the grey level i and the
  run length (zone size, dependence size) j (``ShortRunLowGrayLevelEmphasis``, ...):
  pyradiomics multiplies and divides the whole matrix (voxels, Ng, j, angles) by the
  broadcast powers of i and j, a temporary per operation, then sums it; here the small
  weights ``i^+-2 j^+-2`` (Ng, j) are made first and the matrix is summed against them in one
  ``numpy.einsum`` pass (a rounding apart: 1e-16 relative), then divided and (glrlm)
  averaged over angles as pyradiomics does.

* firstorder's histogram per voxel (``_initCalculation``'s ``p_i``): pyradiomics gathers
  the kernels' grey levels once per grey level of the batch and compares; here they are
  gathered once and counted with ``numpy.bincount`` (whole counts, so the same numbers).

* firstorder's central moments (``_moment``): Skewness and Kurtosis each ask for the second
  one, every call takes the kernels' mean again, and ``numpy.power`` calls ``pow`` per
  element for the third and fourth powers; here the deviations from the mean and each moment
  are computed once per batch, the powers as products (a rounding or two apart from
  ``pow``'s, 1e-16 relative).

(glcm's formulas are all replaced, in ``_maps_glcm``.)

Each replacement is installed on one instance (``speed_up``), as an instance attribute that
pyradiomics' ``_calculateFeatures`` finds by its own ``get<Feature>FeatureValue`` lookup, and
reads the instance's arrays exactly as pyradiomics' method does. The parity tests compare every
map with pyradiomics' ``execute(voxelBased=True)`` to 1e-9 relative.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np


def speed_up(instance: Any, class_name: str) -> None:
    """Install the faster formulas on a voxel-mode feature-class ``instance``."""
    if class_name == "firstorder":
        kernels = _SortedKernels(instance)
        for name, method in _FIRSTORDER.items():
            setattr(instance, f"get{name}FeatureValue", partial(method, kernels))
        instance._initCalculation = lambda coordinates: _first_order_init(instance, coordinates)
        instance._moment = _KeptMoments()
    if class_name == "glrlm" and instance.weightingNorm is None:
        instance._calculateMatrix = lambda coordinates: _glrlm_matrix(instance, coordinates)
        instance._calculateCoefficients = lambda: _glrlm_coefficients(instance)
    if class_name in _EMPHASES:
        matrix, count, emphases = _EMPHASES[class_name]
        for name, powers in emphases.items():
            method = partial(_emphasis, instance, matrix, count, *powers)
            setattr(instance, f"get{name}FeatureValue", method)


def _glrlm_matrix(instance: Any, coordinates: np.ndarray) -> np.ndarray:
    """pyradiomics' ``RadiomicsGLRLM._calculateMatrix`` in voxel mode without weighting, the
    run-length axis as long as a kernel's side: the C code's run counts (voxels, Ng, runs,
    angles), the rows of the grey levels present, the angles without a run in the batch
    dropped, ``Nr`` (runs per voxel and angle, NaN for none) in the coefficients."""
    from radiomics import cMatrices

    settings = instance.settings
    radius = settings.get("kernelRadius", 1)
    longest = min(int(np.max(instance.imageArray.shape)), 2 * radius + 1)
    matrix, _ = cMatrices.calculate_glrlm(
        instance.imageArray,
        instance.maskArray,
        instance.coefficients["Ng"],
        longest,
        settings.get("force2D", False),
        settings.get("force2Ddimension", 0),
        radius,
        coordinates,
    )
    matrix = matrix[:, np.asarray(instance.coefficients["grayLevels"], dtype=int) - 1]
    runs = np.einsum("vgra->va", matrix)  # whole counts: exact; 3x np.sum over two axes
    if matrix.shape[3] > 1:
        kept = np.sum(runs, 0) != 0
        if not kept.all():
            matrix, runs = matrix[..., kept], runs[:, kept]
    runs[runs == 0] = np.nan
    instance.coefficients["Nr"] = runs
    return matrix


def _powers(short: str, long: str) -> dict[str, tuple[int, int]]:
    """The four emphases named ``{short|long}{Low|High}GrayLevelEmphasis``: the powers of the
    grey level i and of j (run length, zone or dependence size) each weights by."""
    return {
        f"{short}LowGrayLevelEmphasis": (-2, -2),
        f"{short}HighGrayLevelEmphasis": (2, -2),
        f"{long}LowGrayLevelEmphasis": (-2, 2),
        f"{long}HighGrayLevelEmphasis": (2, 2),
    }


#: Per class: its matrix, the count its sums are divided by, and its emphases.
_EMPHASES = {
    "glrlm": ("P_glrlm", "Nr", _powers("ShortRun", "LongRun")),
    "glszm": ("P_glszm", "Nz", _powers("SmallArea", "LargeArea")),
    "gldm": ("P_gldm", "Nz", _powers("SmallDependence", "LargeDependence")),
}


def _emphasis(instance: Any, matrix: str, count: str, i_power: int, j_power: int) -> np.ndarray:
    """pyradiomics' ``sum_ij P(i, j) i^i_power j^j_power / count`` per voxel (glrlm: per angle,
    then averaged over angles), the weights made on the (Ng, j) grid and summed against in one
    pass."""
    weights = (instance.coefficients["ivector"][:, None] ** float(i_power)) * (
        instance.coefficients["jvector"][None, :] ** float(j_power)
    )
    p = getattr(instance, matrix)
    if p.ndim == 4:  # glrlm's angles
        return np.nanmean(np.einsum("vija,ij->va", p, weights) / instance.coefficients[count], 1)
    return np.einsum("vij,ij->v", p, weights) / instance.coefficients[count]


def _glrlm_coefficients(instance: Any) -> None:
    """pyradiomics' ``RadiomicsGLRLM._calculateCoefficients`` on the whole run counts of
    :func:`_glrlm_matrix`: the runs per run length (``pr``) and per grey level (``pg``), the
    level and run-length vectors, the run lengths no voxel has deleted. Its sums over one axis
    of four are taken by ``numpy.einsum`` (3x ``numpy.sum`` there; whole counts, so the same
    numbers), and the matrix is copied only when a run length is deleted."""
    matrix = instance.P_glrlm
    pr = np.einsum("vgra->vra", matrix)
    pg = np.einsum("vgra->vga", matrix)
    kept = np.einsum("vra->r", pr) != 0
    jvector = np.arange(1, matrix.shape[2] + 1, dtype=np.float64)[kept]
    if not kept.all():
        instance.P_glrlm, pr = matrix[:, :, kept], pr[:, kept]
    instance.coefficients.update(
        pr=pr, pg=pg, ivector=instance.coefficients["grayLevels"].astype(float), jvector=jvector
    )


def _first_order_init(instance: Any, coordinates: np.ndarray) -> None:
    """pyradiomics' ``RadiomicsFirstOrder._initCalculation`` in voxel mode: each voxel's
    kernel values (``targetVoxelArray``) and its histogram over the ``grayLevels``, ``p_i``
    (voxels, levels), divided by its sum; the kernel's levels gathered once, not once per
    level."""
    coordinates = coordinates + instance.settings.get("kernelRadius", 1)  # the padding
    kernel = tuple(instance.kernelOffsets[:, None, :] + coordinates[:, :, None])
    instance.targetVoxelArray = instance.imageArray[kernel]  # (voxels, kernel)
    levels = np.asarray(instance.coefficients["grayLevels"])
    found = instance.discretizedImageArray[kernel]
    index = np.searchsorted(levels, found)  # NaN (outside the mask) sorts past the end
    known = index < levels.size
    known[known] = levels[index[known]] == found[known]
    voxels = np.broadcast_to(np.arange(found.shape[0])[:, None], found.shape)
    cells = voxels[known] * levels.size + index[known]
    p_i = np.bincount(cells, minlength=found.shape[0] * levels.size).astype(float)
    p_i = p_i.reshape(found.shape[0], levels.size)
    total = np.sum(p_i, 1, keepdims=True)
    total[total == 0] = 1  # pyradiomics' guard against dividing by 0
    instance.coefficients["p_i"] = p_i / total


class _KeptMoments:
    """pyradiomics' ``RadiomicsFirstOrder._moment(a, moment)``, the n-th central moment of
    each row of ``a`` (NaN ignored), with the deviations' powers and each moment kept for the
    last ``a`` (a batch's kernels). A copy is returned: pyradiomics' callers change the
    moments in place."""

    def __init__(self) -> None:
        self.of: np.ndarray | None = None
        self.powers: dict[int, np.ndarray] = {}
        self.moments: dict[int, np.ndarray] = {}

    def __call__(self, a: np.ndarray, moment: int = 1) -> np.ndarray:
        if moment == 1:
            return np.float64(0.0)
        if self.of is not a:  # a new batch (the last one is held, so its id is not reused)
            self.of, self.moments = a, {}
            self.powers = {1: a - np.nanmean(a, 1, keepdims=True)}
        if moment not in self.moments:
            self.moments[moment] = np.nanmean(self._power(moment), 1)
        return self.moments[moment].copy()

    def _power(self, n: int) -> np.ndarray:
        """The deviations to the ``n``-th power, by products of lower powers."""
        if n not in self.powers:
            half = self._power(n // 2)
            self.powers[n] = half * half if n % 2 == 0 else half * self._power(n - n // 2)
        return self.powers[n]


class _SortedKernels:
    """Each kernel's values (the rows of a firstorder ``instance``'s ``targetVoxelArray``)
    sorted, NaN last, and how many are numbers, kept for the last batch: the median and the
    percentiles all read them (pyradiomics sorts, or partitions, once per feature)."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self.of: np.ndarray | None = None
        self.ordered = self.count = np.empty(0)

    def values(self) -> np.ndarray:
        values = self.instance.targetVoxelArray
        if self.of is not values:  # a new batch (the last one is held, so its id is not reused)
            self.of, self.ordered = values, np.sort(values, axis=1)
            self.count = np.count_nonzero(~np.isnan(values), axis=1)
        return values

    def percentile(self, q: float) -> np.ndarray:
        """``numpy.nanpercentile(values, q, axis=1)`` (method "linear"), without a Python loop
        over the rows; a row of NaN only gives NaN."""
        self.values()
        ordered, count = self.ordered, self.count
        quantile = np.true_divide(q, 100)
        # numpy's _compute_virtual_index with alpha = beta = 1, the "linear" method
        virtual = count * quantile + (1 + quantile * (1 - 1 - 1)) - 1
        previous = np.floor(virtual)
        gamma = virtual - previous
        last = np.maximum(count - 1, 0)
        below = np.clip(previous, 0, last).astype(int)
        above = np.clip(previous + 1, 0, last).astype(int)
        a = np.take_along_axis(ordered, below[:, None], axis=1)[:, 0]
        b = np.take_along_axis(ordered, above[:, None], axis=1)[:, 0]
        difference = b - a
        out = np.where(gamma >= 0.5, b - difference * (1 - gamma), a + difference * gamma)
        out[count == 0] = np.nan
        return out

    def median(self) -> np.ndarray:
        """``numpy.nanmedian(values, axis=1)`` as numpy takes it: the two middle values of
        each row (the middle one twice for an odd count) summed and halved; a row of NaN only
        gives NaN. numpy gets there through masked arrays, several times slower here."""
        self.values()
        high = self.count // 2
        low = np.where(self.count % 2 == 1, high, np.maximum(high - 1, 0))
        pair = np.take_along_axis(self.ordered, np.stack([low, high], axis=1), axis=1)
        out = (pair[:, 0] + pair[:, 1]) / 2
        out[self.count == 0] = np.nan
        return out


def _robust_mean_absolute_deviation(kernels: _SortedKernels) -> np.ndarray:
    """pyradiomics' rMAD: the mean absolute deviation of the values within [P10, P90]."""
    values = kernels.values()
    low, high = kernels.percentile(10), kernels.percentile(90)
    with np.errstate(invalid="ignore"):
        outside = (values - low[:, None] < 0) | (values - high[:, None] > 0)
    kept = np.where(outside, np.nan, values)
    return np.nanmean(np.absolute(kept - np.nanmean(kept, 1, keepdims=True)), 1)


_FIRSTORDER = {
    "Median": _SortedKernels.median,
    "10Percentile": partial(_SortedKernels.percentile, q=10),
    "90Percentile": partial(_SortedKernels.percentile, q=90),
    "InterquartileRange": lambda k: k.percentile(75) - k.percentile(25),
    "RobustMeanAbsoluteDeviation": _robust_mean_absolute_deviation,
}
