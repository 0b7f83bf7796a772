"""Plausible alternatives of one segmentation (and image): what a robustness study measures on.

A feature is only worth reporting if it barely moves when the tumour border moves within what
two careful readers would draw. Zwanenburg et al. (2019, "Assessing robustness of radiomic
features by image perturbation", Sci Rep 9:614) perturb the mask in three ways, combined:

* **grow or shrink** the ROI by a physical distance (an exact Euclidean distance in mm, so an
  anisotropic voxel grid grows by the same millimetres along every axis), or to a volume
  fraction, never below 80% of the volume;
* **contour randomisation**: the image around the ROI is cut into supervoxels (SLIC); each is
  kept with a probability equal to the fraction of it inside the ROI (>= 0.9 always kept,
  < 0.2 never, the most-overlapping one always kept) and the union is closed morphologically;
* **image noise**: Gaussian, with the standard deviation estimated from the image itself
  (the wavelet median-absolute-deviation estimator, robust to the anatomy).

Everything is seeded: the same ``seed`` gives the same perturbations, whatever ran before.
Arrays are in napari order ((z,) y, x) and ``spacing`` matches them, like ``layer.scale``.
2D masks (the dataset's slices) are perturbed as 2D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from napari_radiomics._limits import memory_problem

__all__ = [
    "METHODS",
    "Method",
    "Perturbation",
    "PerturbationPlan",
    "Supervoxels",
    "add_noise",
    "grow_shrink",
    "grow_shrink_volume",
    "mask_outlines",
    "noise_sigma",
    "perturb",
    "supervoxel_contour",
    "supervoxels",
]

Method = Literal["grow-shrink", "contour", "noise"]
METHODS: tuple[Method, ...] = ("grow-shrink", "contour", "noise")

#: Smallest volume a shrink may leave, as a fraction of the original (Zwanenburg et al.).
MIN_VOLUME_FRACTION = 0.8
#: Supervoxel overlap rules of contour randomisation.
ALWAYS_KEEP, NEVER_KEEP = 0.9, 0.2
#: How far around the ROI contour randomisation cuts the image into supervoxels.
CONTOUR_MARGIN_MM = 10.0


@dataclass(frozen=True)
class PerturbationPlan:
    """How a robustness run perturbs each case: ``n`` perturbations combining ``methods``,
    seeded by ``seed``; grow/shrink distances within +-``max_distance_mm`` (default: twice the
    largest voxel spacing, since a border moves by whole voxels: within one spacing a grow
    or shrink often moves nothing)."""

    n: int
    methods: tuple[Method, ...] = ("grow-shrink", "contour")
    seed: int = 0
    max_distance_mm: float | None = None

    def __post_init__(self) -> None:
        # Checked when the plan is made, so a run refuses a bad plan before its first case.
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(
                f"perturbation methods must be among {', '.join(METHODS)}; "
                f"got {list(self.methods)}"
            )
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"perturbation methods are repeated: {list(self.methods)}")
        if self.n < 1:
            raise ValueError(f"the number of perturbations must be at least 1, got {self.n}")
        if self.max_distance_mm is not None and not self.max_distance_mm > 0:
            raise ValueError(f"the grow/shrink reach must be positive, got {self.max_distance_mm}")


@dataclass(frozen=True)
class Perturbation:
    """One perturbed (image, mask) pair and how it was made (for the output's id columns)."""

    index: int
    image: np.ndarray
    mask: np.ndarray
    description: dict[str, Any] = field(default_factory=dict)


def _checked(mask: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    roi = np.asarray(mask).astype(bool)
    if roi.ndim not in (2, 3):
        raise ValueError(f"a mask to perturb is 2D or 3D, got shape {roi.shape}")
    sampling = np.asarray(spacing, dtype=float)
    if sampling.shape != (roi.ndim,) or np.any(sampling <= 0):
        raise ValueError(f"spacing {tuple(spacing)} must hold {roi.ndim} positive values")
    if not roi.any():
        raise ValueError("the mask is empty: there is no ROI to perturb")
    return roi, sampling


def grow_shrink(mask: np.ndarray, spacing: Sequence[float], distance_mm: float) -> np.ndarray:
    """The ROI grown (``distance_mm`` > 0) or shrunk (< 0) by a physical distance.

    Grown: every voxel whose centre lies within ``distance_mm`` of an ROI voxel centre.
    Shrunk: every ROI voxel whose centre is farther than ``-distance_mm`` from any
    background voxel centre (outside the image counts as background).
    """
    roi, sampling = _checked(mask, spacing)
    if distance_mm >= 0:
        return ndimage.distance_transform_edt(~roi, sampling=sampling) <= distance_mm
    padded = np.pad(roi, 1)
    inside = ndimage.distance_transform_edt(padded, sampling=sampling)
    shrunk = (inside > -distance_mm)[tuple(slice(1, -1) for _ in range(roi.ndim))]
    if not shrunk.any():
        raise ValueError(
            f"shrinking by {-distance_mm:g} mm empties the ROI (its largest inscribed radius is "
            f"{inside.max():g} mm): the ROI is too small to shrink that far"
        )
    return shrunk


def grow_shrink_volume(mask: np.ndarray, spacing: Sequence[float], fraction: float) -> np.ndarray:
    """The ROI grown or shrunk to about ``fraction`` of its volume (1.1: 10% larger).

    The boundary moves by one physical distance everywhere; the distance is the one whose
    result comes closest to the target volume. Shrinking below 80% is refused.
    """
    roi, sampling = _checked(mask, spacing)
    if fraction < MIN_VOLUME_FRACTION:
        raise ValueError(
            f"volume fraction {fraction:g} shrinks below {MIN_VOLUME_FRACTION:g} of the ROI, "
            "which no longer describes the same tumour"
        )
    target = fraction * roi.sum()
    if fraction >= 1:  # grow: voxels within a distance of the ROI
        distances = ndimage.distance_transform_edt(~roi, sampling=sampling)
        levels = np.unique(distances)
        volumes = np.searchsorted(np.sort(distances.ravel()), levels, side="right")
        return distances <= levels[np.argmin(np.abs(volumes - target))]
    inner = np.pad(roi, 1)  # shrink: ROI voxels deeper than a distance
    depth = ndimage.distance_transform_edt(inner, sampling=sampling)
    depth = depth[tuple(slice(1, -1) for _ in range(roi.ndim))]
    ordered = np.sort(depth[roi])
    levels = np.concatenate(([0.0], np.unique(ordered)))
    volumes = ordered.size - np.searchsorted(ordered, levels, side="right")
    # The boundary moves in steps of whole voxels: the closest step may lie below the floor,
    # which is not a shrink this function may return.
    allowed = volumes >= MIN_VOLUME_FRACTION * roi.sum()
    distance = np.where(allowed, np.abs(volumes - target), np.inf)
    return roi & (depth > levels[np.argmin(distance)])


@dataclass(frozen=True)
class Supervoxels:
    """SLIC supervoxels of the image around a ROI: ``labels`` (1..n) fill the ``box``."""

    labels: np.ndarray
    box: tuple[slice, ...]


def supervoxels(
    image: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    *,
    segments: int = 100,
    margin_mm: float = CONTOUR_MARGIN_MM,
) -> Supervoxels:
    """SLIC on the image inside the ROI's bounding box plus ``margin_mm``, with about
    ``segments`` supervoxels in that box (spacing-aware).

    They depend on the image alone (SLIC draws nothing at random), so a case's perturbations
    share them, as in MIRP: only the choice of supervoxels is random.
    """
    from skimage.segmentation import slic

    roi, sampling = _checked(mask, spacing)
    pixels = np.asarray(image, dtype=float)
    if pixels.shape != roi.shape:
        raise ValueError(f"image shape {pixels.shape} differs from mask shape {roi.shape}")
    box = _box(roi, sampling, margin_mm)
    crop = pixels[box]
    span = np.ptp(crop)
    scaled = (crop - crop.min()) / span if span > 0 else np.zeros_like(crop)
    labels = slic(
        scaled,
        n_segments=segments,
        compactness=0.1,
        spacing=sampling,
        channel_axis=None,
        start_label=1,
        enforce_connectivity=True,
    )
    return Supervoxels(labels, box)


def supervoxel_contour(
    image: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    rng: np.random.Generator,
    *,
    segments: int = 100,
    margin_mm: float = CONTOUR_MARGIN_MM,
    cells: Supervoxels | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A randomised contour from supervoxels around the ROI; returns it and the overlaps.

    ``cells``: the image's :func:`supervoxels`, made once for several contours (by default
    made here, with ``segments`` and ``margin_mm``); the ROI must lie inside their box. The
    returned dict holds each supervoxel's overlap with the ROI and whether it was kept, so
    the rules can be checked.
    """
    roi, _ = _checked(mask, spacing)
    if cells is None:
        cells = supervoxels(image, roi, spacing, segments=segments, margin_mm=margin_mm)
    labels, box = cells.labels, cells.box
    roi_crop = roi[box]
    if roi_crop.sum() != roi.sum():
        raise ValueError("the ROI reaches outside the supervoxels' box")
    count = int(labels.max())
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    inside = np.bincount(labels.ravel(), weights=roi_crop.ravel(), minlength=count + 1)[1:]
    overlap = inside / np.maximum(sizes, 1)
    draw = rng.random(count)
    keep = (overlap >= ALWAYS_KEEP) | ((overlap >= NEVER_KEEP) & (draw < overlap))
    keep[int(np.argmax(overlap))] = True
    chosen = np.isin(labels, np.flatnonzero(keep) + 1)
    structure = ndimage.generate_binary_structure(roi.ndim, 1)
    closed = ndimage.binary_closing(np.pad(chosen, 1), structure=structure)
    out = np.zeros_like(roi)
    out[box] = closed[tuple(slice(1, -1) for _ in range(roi.ndim))]
    return out, {"labels": labels, "box": box, "overlap": overlap, "kept": keep}


def _box(roi: np.ndarray, sampling: np.ndarray, margin_mm: float) -> tuple[slice, ...]:
    where = np.nonzero(roi)
    box = []
    for axis, index in enumerate(where):
        pad = int(np.ceil(margin_mm / sampling[axis]))
        box.append(slice(max(0, index.min() - pad), min(roi.shape[axis], index.max() + 1 + pad)))
    return tuple(box)


def mask_outlines(mask: np.ndarray, prefix: Sequence[float] = ()) -> list[np.ndarray]:
    """The outlines of a 2D mask as (row, column) paths along its pixels' edges, each point
    preceded by ``prefix`` (a stack's slice index, so that napari draws the path on its
    slice): how a perturbation is shown over the image."""
    from skimage.measure import find_contours

    padded = np.pad(np.asarray(mask, dtype=float), 1)
    lead = np.asarray(prefix, dtype=float)
    return [
        np.hstack([np.broadcast_to(lead, (len(path), lead.size)), path - 1.0])
        for path in find_contours(padded, 0.5)
    ]


def noise_sigma(image: np.ndarray) -> float:
    """The image's noise standard deviation (wavelet MAD estimator; Donoho & Johnstone)."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(np.asarray(image, dtype=float), channel_axis=None))


def add_noise(
    image: np.ndarray, rng: np.random.Generator, sigma: float | None = None
) -> np.ndarray:
    """The image plus Gaussian noise of ``sigma`` (default: :func:`noise_sigma`), as float."""
    pixels = np.asarray(image, dtype=float)
    sd = noise_sigma(pixels) if sigma is None else float(sigma)
    return pixels + rng.normal(0.0, sd, size=pixels.shape)


def perturb(
    image: np.ndarray, mask: np.ndarray, spacing: Sequence[float], plan: PerturbationPlan
) -> list[Perturbation]:
    """``plan.n`` perturbations of one case, the plan's methods combined in each.

    Perturbation ``i`` draws from its own generator (``plan.seed``, ``i``), so a case's i-th
    perturbation does not depend on how many were asked for or on other cases. Grow/shrink
    distances are drawn uniformly within the plan's reach; a shrink that would leave less
    than 80% of the volume stops at the deepest one that keeps 80%, and a ROI that no shrink
    leaves 80% of is refused (ValueError: too small to shrink).
    """
    n, methods, seed = plan.n, plan.methods, plan.seed
    roi, sampling = _checked(mask, spacing)
    _check_memory(n, roi, image, methods)
    reach = 2 * float(np.max(sampling)) if plan.max_distance_mm is None else plan.max_distance_mm
    # Mask-side work happens in a box that holds every grown ROI and its supervoxels'
    # margin: the same result as on the whole image (the box's border is background the
    # distances never reach), at the cost of the tumour's size rather than the image's.
    margin = CONTOUR_MARGIN_MM + reach
    box = _box(roi, sampling, margin + float(np.max(sampling)))
    small, pixels_box = roi[box], np.asarray(image)[box]
    if "grow-shrink" in methods:
        _check_shrinkable(small, sampling)
    cells = (
        supervoxels(pixels_box, small, sampling, margin_mm=margin)
        if "contour" in methods
        else None
    )
    sigma = noise_sigma(image) if "noise" in methods else None
    out = []
    for index in range(n):
        rng = np.random.default_rng([seed, index])
        current = small
        description: dict[str, Any] = {"perturbation": index, "seed": seed}
        if "grow-shrink" in methods:
            distance = float(rng.uniform(-reach, reach))
            current = _grow_or_shrink(small, sampling, distance)
            description["distance_mm"] = distance
        if "contour" in methods:
            current, _ = supervoxel_contour(pixels_box, current, sampling, rng, cells=cells)
            description["contour"] = True
        pixels = np.asarray(image)
        if "noise" in methods:
            pixels = add_noise(pixels, rng, sigma)
            description["noise_sigma"] = sigma
        if not current.any():
            raise ValueError(f"perturbation {index} emptied the mask")
        whole = np.zeros(roi.shape, dtype=np.uint8)
        whole[box] = current
        out.append(Perturbation(index, pixels, whole, description))
    return out


def _check_memory(n: int, roi: np.ndarray, image: np.ndarray, methods: Sequence[str]) -> None:
    """Refuse, before making any, perturbations that would not fit the memory limit: each is
    kept as a whole-image mask, and with noise as a whole float64 image as well."""
    each = roi.size + (np.size(image) * 8 if "noise" in methods else 0)
    problem = memory_problem(
        f"{n} perturbations of this case",
        n * each,
        "ask for fewer perturbations (--perturbations)",
        mostly=f"{n} copies of the {'image and ' if 'noise' in methods else ''}mask",
    )
    if problem is not None:
        raise ValueError(problem)


def _grow_or_shrink(roi: np.ndarray, sampling: np.ndarray, distance: float) -> np.ndarray:
    """:func:`grow_shrink`, with a shrink held at the deepest one that keeps 80% of the volume."""
    try:
        moved = grow_shrink(roi, sampling, distance)
    except ValueError:  # emptied: the ROI is thinner than the distance
        moved = np.zeros_like(roi)
    if moved.sum() >= MIN_VOLUME_FRACTION * roi.sum():
        return moved
    return grow_shrink_volume(roi, sampling, MIN_VOLUME_FRACTION)


def _check_shrinkable(roi: np.ndarray, sampling: np.ndarray) -> None:
    """Raise ValueError when no shrink keeps 80% of the ROI: its outer layer of voxels alone
    is more than a fifth of it, so any shrink would describe another, smaller tumour. Checked
    per case, not per draw, so whether a case fails does not depend on the seed."""
    if grow_shrink_volume(roi, sampling, MIN_VOLUME_FRACTION).sum() < roi.sum():
        return
    depth = ndimage.distance_transform_edt(np.pad(roi, 1), sampling=sampling)
    depth = depth[tuple(slice(1, -1) for _ in range(roi.ndim))]
    outer = np.count_nonzero(roi & (depth <= depth[roi].min()))
    raise ValueError(
        f"the ROI ({int(roi.sum())} voxels) is too small to shrink: its outer layer of voxels "
        f"alone is {outer / roi.sum():.0%} of it, and a shrink may remove at most "
        f"{1 - MIN_VOLUME_FRACTION:.0%}; leave grow-shrink out of the methods (contour "
        "randomisation and noise still apply)"
    )
