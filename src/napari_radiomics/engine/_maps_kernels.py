"""One pyradiomics feature class, voxel by voxel, in small local batches.

pyradiomics' voxel mode (``execute(voxelBased=True)``) builds every texture matrix of all ROI
voxels at once, sized by the ROI's grey levels (GLCM: voxels x Ng x Ng x 13 angles) and, for
GLSZM, by the ROI's voxel count, then evaluates each feature on those dense arrays. Almost all of
it is zeros: a radius-1 kernel holds at most 27 voxels, so at most 27 grey levels.

The numbers here come from pyradiomics' own feature classes, instantiated once per (filtered)
image with ``voxelBased=True`` (so binning, kernel offsets and masking are pyradiomics' own), but
each batch of neighbouring voxels is given only the part of the image its kernels reach: the
instance's arrays are swapped for a sub-box around the batch, and its ``grayLevels`` for the
levels that occur in that sub-box (a handful of slow formulas are swapped for faster equal
forms, see ``_maps_fast``). pyradiomics' matrix code then drops the absent rows itself
(as it does for levels absent from the ROI), which changes no value: an absent level contributes
zero to every sum, and the features that need the number of levels read ``Ng`` (the ROI's
maximum level), which is kept. Empty angles and run lengths are dropped per batch by pyradiomics
already, so its own results do not depend on ``voxelBatch`` either. Batches follow the voxels
tile by tile (glcm: by their kernels' grey levels), so each sub-box stays compact.

glcm takes only its matrices from pyradiomics (``_calculateMatrix``); its features are
pyradiomics' formulas evaluated on the matrices' non-zero entries (``_maps_glcm``), MCC
included. pyradiomics computes MCC with ``numpy.linalg.eigvals`` over the whole batch and fails
(``LinAlgError``) as soon as one voxel's kernel has an empty angle (NaN in its GLCM), dropping
the map; here it is computed per voxel and angle, with the empty angles skipped as pyradiomics'
``nanmean`` over angles does: pyradiomics' segment-mode MCC of the kernel's voxels, which the
tests check voxel by voxel.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from concurrent.futures.process import BrokenProcessPool
from functools import cached_property
from typing import Any

import numpy as np
import SimpleITK as sitk
from radiomics import getFeatureClasses

from napari_radiomics.engine._maps_fast import speed_up
from napari_radiomics.engine._maps_glcm import glcm_values
from napari_radiomics.errors import ExtractionError

#: Matrix classes whose ``Ng`` only sizes the matrix (not used by a formula): a batch may
#: pass its own maximum level, which keeps the C allocation small.
_LOCAL_NG = frozenset({"glrlm", "glszm", "gldm", "ngtdm"})

#: Bytes of matrix a batch may allocate (pyradiomics' matrix plus the features' temporaries).
BATCH_BYTES = 64 << 20
#: Most voxels per batch.
_MAX_BATCH = 4096
#: glrlm's most voxels per batch times the ROI's grey levels: its grey-level axis spans the
#: batch's sub-box, so its cost per voxel grows with the batch's extent, while each batch
#: pays pyradiomics' per-feature overhead. 64 voxels measured fastest on brain1 (33 levels,
#: radius 1 and 2: 256 and 1024 were 20-30% slower at radius 2), 256-1024 on the benchmark's
#: CT (7 levels: a third less glrlm time than 64).
_GLRLM_VOXEL_LEVELS = 2048


def class_maps(
    class_name: str,
    image: sitk.Image,
    mask: sitk.Image,
    kwargs: dict[str, Any],
    names: list[str] | None,
    tick: Callable[[int, int], None],
    pool: Executor | None = None,
    parts: int = 1,
) -> dict[str, np.ndarray]:
    """Maps of one feature class on the grid of ``image`` (a 3D crop padded by the kernel
    radius), NaN where not computed. ``kwargs`` are pyradiomics' settings with
    ``voxelBased=True``; ``tick(done, total)`` is called after every batch (it may raise to
    cancel). With a ``pool`` (a process pool), the batches are shared out in ``parts`` calls of
    :func:`class_part`, given this process's batch layout, so every batch and value is the same
    as in this process; ``tick`` then follows the parts."""
    shape = sitk.GetArrayViewFromImage(image).shape
    plan = _ClassPlan(class_name, image, mask, kwargs, names)
    out = {name: np.full(shape, np.nan) for name in plan.enabled}
    if pool is None:
        for number in range(plan.batches):
            where, values = plan.run(number)
            for name, value in values.items():
                out[name][where] = value
            tick(number + 1, plan.batches)
        return out
    layout = plan.layout()
    futures = []
    try:
        for part in range(min(parts, plan.batches)):  # a pool broken by now refuses them
            args = (class_name, image, mask, kwargs, names, layout, part, parts)
            futures.append(pool.submit(class_part, *args))
        for done, future in enumerate(as_completed(futures), 1):
            where, values = future.result()
            for name, value in values.items():
                out[name][tuple(where)] = value
            tick(done, len(futures))
    except BrokenProcessPool:
        # A worker killed mid-part: the out-of-memory killer, most often (a part's matrices
        # and its answer are the largest things a worker holds), or a user.
        raise ExtractionError(
            f"a worker process died while computing the {class_name} maps (out of memory, "
            "or killed); run again with fewer jobs, or on a smaller region"
        ) from None
    finally:
        for future in futures:
            future.cancel()  # after a cancelling tick: parts not yet started never start
    return out


def class_part(
    class_name: str,
    image: sitk.Image,
    mask: sitk.Image,
    kwargs: dict[str, Any],
    names: list[str] | None,
    layout: Layout,
    part: int,
    parts: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Batches ``part``, ``part + parts``, ... of :func:`class_maps` (run in a worker process):
    their voxels (3, M) and each feature's values there. Interleaved, so every part gets
    batches of low and high grey levels alike (glcm's cost grows with them)."""
    plan = _ClassPlan(class_name, image, mask, kwargs, names, layout)
    voxels, values = [np.empty((3, 0), dtype=int)], {name: [np.empty(0)] for name in plan.enabled}
    for number in range(part, plan.batches, parts):
        where, batch = plan.run(number)
        voxels.append(np.asarray(where))
        for name in plan.enabled:  # NaN where pyradiomics failed, as in this process
            values[name].append(batch.get(name, np.full(len(where[0]), np.nan)))
    return np.concatenate(voxels, axis=1), {k: np.concatenate(v) for k, v in values.items()}


#: What decides the batches: the voxels in batch order (3, N), the GLCM angle witnesses and
#: the batch size.
Layout = tuple[np.ndarray, list[np.ndarray], int]


class _ClassPlan:
    """One feature class's instance on a crop and its batch :data:`Layout` (worked out here,
    or given: a worker process takes its caller's, so both make the very same batches)."""

    def __init__(
        self,
        class_name: str,
        image: sitk.Image,
        mask: sitk.Image,
        kwargs: dict[str, Any],
        names: list[str] | None,
        layout: Layout | None = None,
    ) -> None:
        instance = getFeatureClasses()[class_name](image, mask, **kwargs)
        speed_up(instance, class_name)
        if names:
            for name in names:
                instance.enableFeatureByName(name)
        else:
            instance.enableAllFeatures()
        self.instance = instance
        self.enabled = [name for name, on in instance.enabledFeatures.items() if on]
        self.glcm = class_name == "glcm"
        self.view = _LocalView(instance, class_name, int(kwargs.get("kernelRadius", 1)))
        if layout is None:
            layout = self._layout(class_name, kwargs)
        self.coordinates, self.witnesses, self.size = layout
        self.batches = -(-self.coordinates.shape[1] // self.size)

    def layout(self) -> Layout:
        """The batches' layout, to give a worker process."""
        return self.coordinates, self.witnesses, self.size

    def _layout(self, class_name: str, kwargs: dict[str, Any]) -> Layout:
        coordinates = self.instance.labelledVoxelCoordinates  # (3, N), raster order
        size = _batch_size(kwargs.get("voxelBatch", -1), self.view)
        witnesses: list[np.ndarray] = []
        if coordinates.shape[1] and class_name == "glcm":
            # Its cost grows with the square of a batch's grey levels: batch kernels of
            # similar levels together (the order of the voxels changes no value).
            coordinates = coordinates[:, self.view.by_level_range(coordinates)]
            found = angle_witnesses(self.instance, coordinates, kwargs)
            if found is None:  # distances beyond the kernel radius: pyradiomics' one batch
                size = coordinates.shape[1]
            else:
                witnesses = found
        elif coordinates.shape[1]:
            coordinates = coordinates[:, by_tile(coordinates, size)]
        return coordinates, witnesses, size

    def run(self, number: int) -> tuple[tuple[np.ndarray, ...], dict[str, np.ndarray]]:
        """Batch ``number``: its voxels (numpy index) and each enabled feature's values."""
        start = number * self.size
        batch = self.coordinates[:, start : start + self.size]
        count = batch.shape[1]
        extra = self.coordinates[:, _nearest_witnesses(self.witnesses, start, start + count)]
        local = self.view.enter(np.concatenate([batch, extra], axis=1))
        if self.glcm:
            levels = {
                "Ng": self.view.coefficients["Ng"],
                "grayLevels": self.view.levels,
                "roiLevels": self.view.coefficients["grayLevels"],
            }
            found = glcm_values(self.instance, local, self.enabled, levels).items()
        else:
            found = (
                (name, value) for ok, name, value in self.instance._calculateFeatures(local) if ok
            )
        values = {name: value[:count] for name, value in found}
        self.view.leave()
        return tuple(batch), values


def angle_witnesses(
    instance: Any, coordinates: np.ndarray, kwargs: dict[str, Any]
) -> list[np.ndarray] | None:
    """For every GLCM angle with a pair anywhere in the ROI, the (sorted) positions in
    ``coordinates`` of the voxels whose kernels hold such a pair.

    pyradiomics drops an angle from a batch's GLCMs only when no voxel of the batch has a pair
    along it, and otherwise leaves it NaN for the voxels without one; features that average
    the angles with ``mean`` (Joint Average, ...) are then NaN for those voxels. Its default
    batch is the whole ROI, so an angle is dropped only when it is empty for the whole ROI.
    A batch without such a voxel gets one added (its values discarded), so each batch decides
    as the whole ROI does. ``None`` when a distance exceeds the kernel radius (a pair then
    fits a kernel without containing the kernel's voxel, and one batch is used).
    """
    from radiomics import cMatrices

    radius = int(kwargs.get("kernelRadius", 1))
    distances = np.asarray(kwargs.get("distances", [1]), dtype=int)
    if distances.max() > radius:
        return None
    mask = instance.maskArray
    shape = np.array(mask.shape)
    angles = cMatrices.generate_angles(
        shape, distances, False, kwargs.get("force2D", False), kwargs.get("force2Ddimension", 0)
    )
    out = []
    for angle in angles:
        holds = np.zeros(coordinates.shape[1], dtype=bool)
        for distance in distances:
            for offset in (angle * distance, -angle * distance):
                other = coordinates + offset[:, None]
                inside = ((other >= 0) & (other < shape[:, None])).all(axis=0)
                hits = np.flatnonzero(inside)
                holds[hits[mask[tuple(other[:, hits])]]] = True
        if holds.any():
            out.append(np.flatnonzero(holds))
    return out


def _nearest_witnesses(witnesses: list[np.ndarray], start: int, stop: int) -> np.ndarray:
    """Positions to add to the batch ``[start, stop)``: for each angle the batch has no
    witness of, the nearest one in the voxel order (kernels of similar grey levels, so the
    batch's levels barely grow)."""
    chosen = set()
    for positions in witnesses:
        at = int(np.searchsorted(positions, start))
        if at < positions.size and positions[at] < stop:
            continue  # the batch has one
        near = [p for p in (at - 1, at) if 0 <= p < positions.size]
        chosen.add(int(min((positions[p] for p in near), key=lambda q: abs(q - start))))
    return np.array(sorted(chosen), dtype=int)


def by_tile(coordinates: np.ndarray, size: int) -> np.ndarray:
    """An order of the voxels tile by tile (cubes of about ``size`` voxels), so a batch's
    sub-box is compact (glrlm's matrix is sized by its longest side, glszm's by its voxels)."""
    side = max(round(size ** (1 / 3)), 2)
    tiles = coordinates // side
    return np.lexsort((*coordinates[::-1], *tiles[::-1]))


def _batch_size(voxel_batch: int, view: _LocalView) -> int:
    """pyradiomics' ``voxelBatch`` when set; else as many voxels as fit ``BATCH_BYTES``."""
    if voxel_batch is not None and voxel_batch > 0:
        return int(voxel_batch)
    per_voxel = view.bytes_per_voxel()
    most = _MAX_BATCH
    if view.class_name == "glrlm":
        most = int(np.clip(_GLRLM_VOXEL_LEVELS // max(int(view.coefficients["Ng"]), 1), 64, most))
    return int(np.clip(BATCH_BYTES // max(per_voxel, 1), 16, most))


class _LocalView:
    """Swaps a voxel-mode feature-class instance's arrays for the sub-box a batch reaches."""

    def __init__(self, instance: Any, class_name: str, radius: int) -> None:
        self.instance = instance
        self.class_name = class_name
        self.radius = radius
        self.first_order = class_name == "firstorder"
        self.names = ["imageArray", "maskArray"]
        if self.first_order:
            self.names.append("discretizedImageArray")  # padded by the radius, like the rest
        self.full = {name: getattr(instance, name) for name in self.names}
        self.levels_of = self.full["discretizedImageArray" if self.first_order else "imageArray"]
        self.coefficients = dict(instance.coefficients)
        self.levels = np.empty(0, dtype=int)  #: glcm: the levels of the batch's kernels

    def bytes_per_voxel(self) -> int:
        ng = int(self.coefficients["Ng"])
        side = 2 * self.radius + 1
        kernel = side**3
        if self.class_name == "glcm":
            return 8 * 13 * ng * ng * 6  # matrix, copies and temporaries of the coefficients
        return 8 * (13 * ng * kernel + kernel * 8)

    @cached_property
    def _roi_level(self) -> np.ndarray:
        """Whether each whole number up to the ROI's highest grey level is one of its levels."""
        levels = np.asarray(self.coefficients["grayLevels"]).astype(np.intp)
        table = np.zeros(int(levels.max(initial=0)) + 1, dtype=bool)
        table[levels] = True
        return table

    @cached_property
    def _kernel_lookup(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The grey levels, 0 outside the mask, padded by the radius with 0 (so no kernel
        leaves them) and flat; their strides and each kernel offset's step, in entries."""
        levels = np.where(self.full["maskArray"], self.levels_of, 0)
        padded = np.pad(levels, self.radius)
        side = np.arange(-self.radius, self.radius + 1)
        offsets = np.stack(np.meshgrid(side, side, side, indexing="ij")).reshape(3, -1)
        strides = np.array(padded.strides) // padded.itemsize
        return padded.ravel(), strides, strides @ offsets

    def kernel_levels(self, batch: np.ndarray) -> np.ndarray:
        """Grey level of every kernel voxel of ``batch`` (voxels, kernel), 0 outside the mask
        or the image (levels start at 1)."""
        flat, strides, steps = self._kernel_lookup
        centres = (batch + self.radius).T @ strides
        return flat.take(centres[:, None] + steps[None, :])

    def by_level_range(self, coordinates: np.ndarray) -> np.ndarray:
        """An order of the voxels by their kernels' lowest, then highest grey level."""
        levels = self.kernel_levels(coordinates)
        lowest = np.where(levels > 0, levels, np.inf).min(axis=1)
        return np.lexsort((levels.max(axis=1), lowest))

    def enter(self, batch: np.ndarray) -> np.ndarray:
        """Point the instance at the sub-box around ``batch``; returns its local coordinates."""
        shape = np.array(self.full["maskArray"].shape)
        if self.first_order:  # arrays padded by the radius: the kernel never leaves them
            low = batch.min(axis=1)
            high = batch.max(axis=1) + 2 * self.radius + 1
        else:
            low = np.maximum(batch.min(axis=1) - self.radius, 0)
            high = np.minimum(batch.max(axis=1) + self.radius + 1, shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
        for name in self.names:
            setattr(self.instance, name, self.full[name][box])
        if self.class_name == "glcm":
            self._shift_levels(batch)
            return batch - low[:, None]
        levels = self.levels_of[box][self.full["maskArray"][box]]
        if levels.dtype.kind in "iu" and levels.min(initial=0) >= 0:  # counted, not sorted
            roi = self._roi_level
            found = np.bincount(levels, minlength=roi.size)[: roi.size] > 0
            present = np.flatnonzero(found & roi)
        else:  # Only levels the ROI has (the padding's NaN is not a level).
            present = np.unique(levels)
            present = present[np.isin(present, self.coefficients["grayLevels"])]
        self.instance.coefficients = dict(self.coefficients)
        self.instance.coefficients["grayLevels"] = present
        if self.class_name in _LOCAL_NG and present.size:
            self.instance.coefficients["Ng"] = int(present.max())
        return batch - low[:, None]

    def _shift_levels(self, batch: np.ndarray) -> None:
        """glcm: the sub-box's levels shifted so that the lowest of the batch's kernels is 1.
        pyradiomics' C code sizes its matrix (voxels, Ng, Ng, angles) by the highest level
        (the ROI's Ng, then the absent rows are deleted); shifted, it is sized by the batch's
        range of levels. A pair is counted by its two levels whatever their numbers, so the
        matrices are the same; the features read the true levels (:attr:`levels`) and Ng."""
        present = np.flatnonzero(np.bincount(self.kernel_levels(batch).ravel()))
        self.levels = present[present > 0]
        shift = int(self.levels.min()) - 1 if self.levels.size else 0
        top = int(self.levels.max()) - shift if self.levels.size else 1
        # Levels beyond the range are never read (no kernel of the batch holds them).
        self.instance.imageArray = np.clip(self.instance.imageArray - shift, 1, top)
        self.instance.coefficients = dict(self.coefficients)
        self.instance.coefficients.update(grayLevels=self.levels - shift, Ng=top)

    def leave(self) -> None:
        for name in self.names:
            setattr(self.instance, name, self.full[name])
        self.instance.coefficients = dict(self.coefficients)
