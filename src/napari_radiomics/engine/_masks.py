"""The mask side of an extraction: which labels, where they are, and an identity for images.

Kept out of ``engine`` so the engine module reads as the order of operations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics.convert import label_problem
from napari_radiomics.errors import ExtractionError

#: Largest label value for which bounding boxes come from one pass of ``ndimage.find_objects``.
_FIND_OBJECTS_MAX_LABEL = 1 << 20


def array_digest(array: np.ndarray) -> str:
    """SHA-1 of an array's bytes (~2 ms for 1.6 M voxels of int16)."""
    return hashlib.sha1(np.ascontiguousarray(array).data).hexdigest()


def image_key(image: sitk.Image) -> tuple:
    """Identity of an image's content and grid."""
    array = sitk.GetArrayViewFromImage(image)
    return (
        array_digest(array),
        array.dtype.str,
        image.GetSize(),
        image.GetSpacing(),
        image.GetOrigin(),
        image.GetDirection(),
    )


def label_array(mask: sitk.Image, what: str) -> np.ndarray:
    """The mask's pixels, checked (by the readers' own rule) to survive pyradiomics' cast to
    UInt32 unchanged."""
    array = sitk.GetArrayViewFromImage(mask)
    if array.size == 0:
        raise ExtractionError(f"{what} is empty")
    problem = label_problem(array)
    if problem is not None:
        raise ExtractionError(f"{what} {problem}")
    return array


def label_boxes(array: np.ndarray) -> dict[int, tuple[slice, ...]]:
    """Bounding box (numpy slices) of every non-zero label.

    The labels are looked for only inside the box of all non-zero voxels, found from one-axis
    projections: a tumour fills a small part of a scan, and this halves the cost of a
    re-extraction's mask scan on pyradiomics' brain1 case. When that box holds one label (a
    binary mask, the usual case), it is that label's box: SciPy's image module, 0.4-0.6 s to
    import, is needed only for masks of several labels.
    """
    outer = _nonzero_box(array)
    if outer is None:
        return {}
    crop = array[outer]
    offset = [box.start for box in outer]
    top = crop.max()
    if np.array_equal(crop != 0, crop == top):  # one label
        found = {int(top): tuple(slice(0, n) for n in crop.shape)}
    elif top <= _FIND_OBJECTS_MAX_LABEL:
        from scipy import ndimage

        integers = crop if np.issubdtype(crop.dtype, np.integer) else crop.astype(np.int64)
        found = {
            index + 1: box
            for index, box in enumerate(ndimage.find_objects(integers))
            if box is not None
        }
    else:
        found = {}
        for label in np.unique(crop):
            if label:
                where = np.nonzero(crop == label)
                found[int(label)] = tuple(slice(int(w.min()), int(w.max()) + 1) for w in where)
    return {
        label: tuple(
            slice(start + box.start, start + box.stop)
            for start, box in zip(offset, boxes, strict=True)
        )
        for label, boxes in found.items()
    }


def _nonzero_box(array: np.ndarray) -> tuple[slice, ...] | None:
    """Smallest box holding every non-zero voxel, or None for an all-zero array."""
    nonzero = array != 0
    box = []
    for axis in range(array.ndim):
        hits = np.flatnonzero(nonzero.any(axis=tuple(a for a in range(array.ndim) if a != axis)))
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def wanted_labels(
    labels: Sequence[int] | None,
    setting_label: int | None,
    boxes: Mapping[int, Any],
    mask_name: str,
) -> list[int]:
    """Requested labels, else the settings' label, else every label present."""
    if labels is not None:
        wanted = [int(v) for v in labels]
    elif setting_label is not None:
        wanted = [int(setting_label)]
    else:
        wanted = sorted(boxes)
    if not wanted:
        raise ExtractionError(f"{mask_name} has no ROI: every voxel is 0 (background)")
    for value in wanted:
        if value <= 0:
            raise ExtractionError(
                f"ROI label {value} is not allowed: labels are positive integers"
            )
    return list(dict.fromkeys(wanted))


def image_problem(
    image: sitk.Image,
    mask_array: np.ndarray,
    boxes: Mapping[int, tuple[slice, ...]],
    labels: Sequence[int],
    settings: Mapping[str, Any],
    image_types: Mapping[str, Any],
) -> str | None:
    """Why the image's grey levels cannot give honest features for these labels, or None.

    pyradiomics drops NaN voxels of the ROI without a word (the features then describe a
    smaller ROI than the mask shows) and fails on the rest deep inside its binning with
    ``arange: cannot compute length``. This is the policy instead: a NaN or infinite voxel
    inside a measured ROI is refused, and outside it only when normalisation (the whole
    image's mean and spread) or a filter (neighbouring voxels) would carry it into the ROI;
    a constant image is refused only for ``normalize``, which divides by its spread, 0.
    To measure the ROI without such voxels anyway, set them to 0 in the mask: the choice is
    then visible in the mask, not hidden in the numbers. The answer completes
    ``"{image name} {problem}"``.
    """
    array = sitk.GetArrayViewFromImage(image)
    normalize = bool(settings.get("normalize", False))
    if array.dtype.kind == "f":
        for label in labels:
            if label not in boxes:
                continue  # reported per label by the engine
            box = boxes[label]
            inside = array[box][mask_array[box] == label]
            bad = int(inside.size - np.count_nonzero(np.isfinite(inside)))
            if bad:
                return (
                    f"holds {bad} NaN or infinite voxel(s) inside ROI label {label}; "
                    "pyradiomics would leave them out of the features silently, so the ROI is "
                    "refused: replace them, or set them to 0 in the mask to measure the ROI "
                    "without them"
                )
        spreads = normalize or any(name != "Original" for name in image_types)
        if spreads and not np.isfinite(array).all():
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            why = "normalize uses the whole image" if normalize else "its filters mix voxels"
            return (
                f"holds {bad} NaN or infinite voxel(s) outside the ROI and {why}, which would "
                "carry them into the ROI: replace them (e.g. with the background value), or "
                "measure the Original image without normalize"
            )
    if normalize and array.size and array.min() == array.max():
        return (
            f"is constant (every voxel is {array.flat[0]:g}), and normalize divides by its "
            "standard deviation, 0: switch normalize off for it"
        )
    return None
