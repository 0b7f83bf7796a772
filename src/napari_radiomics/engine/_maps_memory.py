"""What a feature-map computation will hold in memory, estimated from sizes before it starts.

The terms follow what ``maps`` and ``_maps_kernels`` allocate, each from numbers known before
anything is filtered or cropped (the image's size, the ROI's bounding box and voxel count, the
kernel radius, the features, the worker processes):

* the image side: the normalised image and every filtered image (LoG per sigma, Wavelet per
  band, ...), float64 on the whole grid, all held while the maps are computed;
* the maps: one float64 block per feature on the crop (the ROI's box grown by the radius);
* per feature class, in this process and each worker: pyradiomics' voxel-mode arrays (the crop
  padded by the radius on every axis, also the third axis of a 2D slice: 601 x 1112 x 1112 for
  a radius of 300 on a 512 x 512 slice), and the kernels' grey levels (``_LocalView`` reads a
  cube of (2 r + 1)^3 voxels per voxel: for glcm over the whole ROI to order it, for the other
  classes per batch of at least 16 voxels).

The constants are the bytes per element those arrays take (float64 values, int64 indices,
bool masks, temporaries), rounded up: the estimate errs towards refusing, by a small factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from napari_radiomics._limits import memory_problem
from napari_radiomics._pyradiomics import PyradiomicsConfig
from napari_radiomics.errors import ExtractionError

#: Bytes per voxel of pyradiomics' padded voxel-mode arrays: image, binned image (float64),
#: mask (bool) and a copy made while binning.
_PADDED = 8 + 8 + 1 + 8
#: Bytes per (voxel, kernel voxel) of the kernels' grey levels: indices (3 x int64), the
#: inside mask, the levels and their clipped copy.
_KERNEL = 3 * 8 + 1 + 8 + 8
#: Bytes per (voxel, kernel voxel) of a non-glcm batch (pyradiomics' per-kernel arrays and
#: matrices with a single grey level, the least there can be).
_BATCH_KERNEL = 8 * 13 + 8 * 8
#: The smallest batch ``_maps_kernels`` makes, whatever the memory per voxel.
_MIN_BATCH = 16


def derived_images(
    image_types: Mapping[str, Mapping[str, Any]], settings: Mapping[str, Any], dimension: int
) -> int:
    """How many images the enabled image types make (pyradiomics' counts: one LoG image per
    sigma, 2^d - 1 wavelet bands per level plus the last approximation, LBP3D's levels plus
    its kurtosis image)."""
    count = 0
    for name, overrides in image_types.items():
        kwargs = {**settings, **overrides}
        if name == "LoG":
            count += len(kwargs.get("sigma") or [])
        elif name == "Wavelet":
            count += int(kwargs.get("level", 1)) * (2**dimension - 1) + 1
        elif name == "LBP3D":
            count += int(kwargs.get("lbp3DLevels", 2)) + 1
        else:
            count += 1
    return max(count, 1)


def maps_problem(
    what: str,
    image_shape: Sequence[int],
    roi_box: Sequence[int],
    roi_voxels: int,
    radius: int,
    features: int,
    images: int,
    glcm: bool,
    processes: int,
) -> str | None:
    """None when the maps fit the memory limit, else why not (see ``_limits``).

    ``image_shape`` and ``roi_box`` (the extent of the ROI's bounding box) in numpy order;
    ``features`` per image, ``images`` the derived images, ``glcm`` whether glcm is mapped,
    ``processes`` those that each hold one class's arrays (the caller and its workers).
    """
    side = 2 * radius + 1
    kernel = side**3  # _LocalView's cube, also for a 2D slice
    crop = [min(n + 2 * radius, size) for n, size in zip(roi_box, image_shape, strict=True)]
    if len(crop) == 2:  # a slice is mapped as a one-slice volume
        crop = [1, *crop]
    padded = math.prod(n + 2 * radius for n in crop)
    terms = {
        "the filtered images": math.prod(image_shape) * 8 * (images + 1),
        "the maps": features * images * math.prod(crop) * 8,
        f"the kernels of kernelRadius {radius}, {side}^3 voxels each": processes
        * (
            padded * _PADDED
            + _MIN_BATCH * kernel * _BATCH_KERNEL
            + (roi_voxels * kernel * _KERNEL if glcm else 0)
        ),
    }
    largest = max(terms, key=terms.__getitem__)
    smaller = {
        "the filtered images": "map a smaller image (crop it around the ROI) or fewer image types",
        "the maps": "map fewer features, fewer image types or a smaller ROI",
    }.get(largest, "use a smaller kernelRadius, fewer worker processes (jobs) or a smaller ROI")
    return memory_problem(what, sum(terms.values()), smaller, mostly=largest)


def refuse_too_large(
    roi: np.ndarray,
    box: tuple[slice, ...],
    label: int,
    wanted: dict[str, list[str] | None],
    config: PyradiomicsConfig,
    jobs: int,
) -> None:
    """Refuse (ExtractionError), before the filters or any kernel array are made, maps of
    ``label`` that would need more memory than the limit. ``roi``: the label mask on the
    image's grid (numpy order), ``box`` the label's bounding box in it; ``wanted`` as
    ``map_features`` gives it; ``jobs`` the worker processes."""
    from radiomics import getFeatureClasses

    classes = getFeatureClasses()
    features = sum(
        len(names) if names else sum(not d for d in classes[c].getFeatureNames().values())
        for c, names in wanted.items()
    )
    images = derived_images(config.image_types, config.settings, roi.ndim)
    problem = maps_problem(
        f"feature maps of ROI label {label}",
        roi.shape,
        [s.stop - s.start for s in box],
        int(np.count_nonzero(roi[box] == label)),
        int(config.settings.get("kernelRadius", 1)),  # pyradiomics' default
        features,
        images,
        "glcm" in wanted,
        jobs + 1 if jobs > 1 else 1,
    )
    if problem is not None:
        raise ExtractionError(problem)
