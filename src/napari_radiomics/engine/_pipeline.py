"""pyradiomics' extraction for one ROI label, step for step, without re-doing image-only work.

``RadiomicsFeatureExtractor.execute`` (pyradiomics/featureextractor.py) does, per call: read
image and mask; cast the mask to UInt32 and list its labels; normalise the whole image; resample
or pre-crop when asked; check the mask (bounding box, size, dimensions) with a
LabelStatisticsImageFilter over the whole image; resegment; compute shape on the ROI crop; run
every image filter on the whole image and compute the other feature classes on the ROI crop of
each filtered image. On top it hashes and summarises image and mask for the diagnostics.

The numbers only depend on the ROI crops (grey values, mask, spacing) and on the settings, so
this module calls the same pyradiomics building blocks in the same order with the same arguments,
but takes the image-only parts (normalised image, filtered images) from a cache and the bounding
box from numpy. Two routes, both ending in pyradiomics' own feature classes:

* the direct route (no resampling, pre-crop, resegmentation, mask correction or diagnostics):
  crops come straight from numpy arrays of the cached (filtered) images;
* the replica route (any of those): pyradiomics' ``getMask``/``resampleImage``/``checkMask``/
  ``resegmentMask``/``cropToTumorMask`` on SimpleITK images, exactly as ``execute`` calls them;
  filtered images are still cached when the filters run on the whole image (no resampling or
  pre-crop, whose grids depend on the mask).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk
from radiomics import generalinfo, getFeatureClasses, imageoperations

from napari_radiomics.engine._shape import FastShape
from napari_radiomics.engine._shared import feature_class, shared_binning

if TYPE_CHECKING:  # imported by rows_frame: feature maps make no table
    import pandas as pd

#: Image types whose filter reads the mask (LBP3D samples only the ROI): never cached.
MASK_DEPENDENT_TYPES = frozenset({"LBP3D"})


class Steps:
    """Progress over the whole extraction: one step per label for shape and one per image type;
    messages name the image and feature class being computed."""

    def __init__(self, progress: Callable[[int, int, str], None] | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def report(self, message: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, message)

    def advance(self) -> None:
        self.done = min(self.done + 1, self.total)


@dataclass
class Derived:
    """One image pyradiomics computes features on: its name (``original``, ``log-sigma-1-0-mm-3D``,
    ``wavelet-LLH``...), the SimpleITK image and a numpy view of it."""

    name: str
    image: sitk.Image
    array: np.ndarray


@dataclass
class Job:
    """Everything one ROI label needs; shared, image-level parts come from the engine's cache."""

    settings: dict[str, Any]  # pyradiomics' ``_settings`` for this label (label included)
    image_types: dict[str, dict[str, Any]]
    features: dict[str, list[str] | None]
    image: sitk.Image  # the image as given
    mask: sitk.Image  # the mask as given
    base: sitk.Image  # the image after normalisation (what filters and features see)
    derived: Callable[[str, sitk.Image, sitk.Image, dict[str, Any], bool], list[Derived]]
    steps: Steps
    diagnostics: bool = False


def crop_to(image: sitk.Image, array: np.ndarray, box: tuple[slice, ...]) -> sitk.Image:
    """The ROI crop ``cropToTumorMask`` would return, built from a numpy view of ``image``."""
    cropped = sitk.GetImageFromArray(array[box])
    cropped.SetSpacing(image.GetSpacing())
    cropped.SetDirection(image.GetDirection())
    cropped.SetOrigin(image.TransformIndexToPhysicalPoint([int(s.start) for s in box[::-1]]))
    return cropped


def check_box(box: tuple[slice, ...], count: int, settings: dict[str, Any]) -> None:
    """``imageoperations.checkMask``'s ROI checks, with its messages, on a numpy bounding box."""
    sizes = np.array([s.stop - s.start for s in box])
    ndims = int(np.sum(sizes > 1))
    min_dims = settings.get("minimumROIDimensions", 2)
    min_size = settings.get("minimumROISize")
    if ndims == 0:
        raise ValueError(
            "mask only contains 1 segmented voxel! Cannot extract features for a single voxel."
        )
    if ndims < min_dims:
        raise ValueError(
            f"mask has too few dimensions (number of dimensions {ndims}, minimum required "
            f"{min_dims})"
        )
    if min_size is not None and count <= min_size:
        raise ValueError(
            f"Size of the ROI is too small (minimum size: {min_size}, ROI size: {count}"
        )


def shape_features(
    image: sitk.Image,
    mask: sitk.Image,
    sizes: np.ndarray,
    settings: dict[str, Any],
    features: dict[str, list[str] | None],
) -> dict[str, Any]:
    """``RadiomicsFeatureExtractor.computeShape`` on an already cropped image and mask."""
    out: dict[str, Any] = collections.OrderedDict()
    classes = getFeatureClasses()

    def compute(shape_type: str) -> None:
        feature_class = FastShape if shape_type == "shape" else classes[shape_type]
        instance = feature_class(image, mask, **settings)
        for feature in features[shape_type] or []:
            instance.enableFeatureByName(feature)
        for name, value in instance.execute().items():
            out[f"original_{shape_type}_{name}"] = value

    ndim = mask.GetDimension()
    if "shape" in features and ndim == 3:
        compute("shape")
    # In 3D, pyradiomics computes shape2D only with force2D and (sic) checks the bounding box
    # size along force2Ddimension counted in (x, y, z) order.
    forced = settings.get("force2D", False) and sizes[settings.get("force2Ddimension", 0)] > 1
    if "shape2D" in features and (ndim == 2 or forced):
        compute("shape2D")
    return out


def _shape_step(
    job: Job, image: sitk.Image, mask: sitk.Image, sizes: np.ndarray, settings: dict[str, Any]
) -> dict[str, Any]:
    """Shape features as one progress step (when a shape class is enabled)."""
    if not any(name.startswith("shape") for name in job.features):
        return collections.OrderedDict()
    job.steps.report("original shape")
    out = shape_features(image, mask, sizes, settings, job.features)
    job.steps.advance()
    return out


def _class_features(
    job: Job, name: str, image: sitk.Image, mask: sitk.Image, kwargs: dict[str, Any]
) -> dict:
    """``RadiomicsFeatureExtractor.computeFeatures`` for one (filtered) image crop; ``kwargs``
    are the settings with the image type's overrides, as the filter generator yields them."""
    out: dict[str, Any] = collections.OrderedDict()
    classes = getFeatureClasses()
    with shared_binning():  # the classes discretise the same crop alike: once (see _shared)
        for class_name, names in job.features.items():
            if class_name.startswith("shape") or class_name not in classes:
                continue
            job.steps.report(f"{name} {class_name}")
            instance = feature_class(classes[class_name])(image, mask, **kwargs)
            for feature in names or []:
                instance.enableFeatureByName(feature)
            for feature, value in instance.execute().items():
                out[f"{name}_{class_name}_{feature}"] = value
    return out


def run_filters(
    image_type: str, image: sitk.Image, mask: sitk.Image, kwargs: dict[str, Any]
) -> list[Derived]:
    """Run pyradiomics' ``get<Type>Image`` generator to the end."""
    generator: Iterator = getattr(imageoperations, f"get{image_type}Image")(image, mask, **kwargs)
    return [Derived(name, out, sitk.GetArrayViewFromImage(out)) for out, name, _ in generator]


def direct_route(job: Job, mask_array: np.ndarray, box: tuple[slice, ...]) -> dict:
    """Features for the label in ``job.settings`` from numpy crops (see module docstring)."""
    label = job.settings["label"]
    mask_crop = mask_array[box].astype(np.uint32)  # pyradiomics casts the mask to UInt32
    count = int(np.count_nonzero(mask_crop == label))
    check_box(box, count, job.settings)
    mask_image = sitk.GetImageFromArray(mask_crop)
    mask_image.SetSpacing(job.base.GetSpacing())
    mask_image.SetDirection(job.base.GetDirection())
    sizes = np.array([s.stop - s.start for s in box[::-1]])  # (x, y, z) like pyradiomics
    base_array = sitk.GetArrayViewFromImage(job.base)
    out = _shape_step(job, crop_to(job.base, base_array, box), mask_image, sizes, job.settings)
    for image_type in job.image_types:
        kwargs = job.settings | job.image_types[image_type]
        for derived in job.derived(image_type, job.base, job.mask, kwargs, True):
            image = crop_to(derived.image, derived.array, box)
            out.update(_class_features(job, derived.name, image, mask_image, kwargs))
        job.steps.advance()
    return out


def replica_route(job: Job) -> dict:
    """Features for the label in ``job.settings`` through pyradiomics' own preprocessing calls."""
    settings = job.settings
    label = settings["label"]
    info = generalinfo.GeneralInfo() if job.diagnostics else None
    mask = imageoperations.getMask(job.mask, **settings)
    if info is not None:
        info.addGeneralSettings(settings)
        info.addEnabledImageTypes(job.image_types)
        info.addImageElements(job.image)
        info.addMaskElements(None, mask, label)
    image = job.base
    whole_image = True  # filters see the whole normalised image (cacheable)
    if (
        settings.get("interpolator") is not None
        and settings.get("resampledPixelSpacing") is not None
    ):
        image, mask = imageoperations.resampleImage(image, mask, **settings)
        whole_image = False
        if info is not None:
            info.addImageElements(image, "interpolated")
            info.addMaskElements(image, mask, label, "interpolated")
    elif settings.get("preCrop", False):
        bounding_box, corrected = imageoperations.checkMask(image, mask, **settings)
        if corrected is not None:
            mask = corrected
        image, mask = imageoperations.cropToTumorMask(image, mask, bounding_box, **settings)
        whole_image = False
    bounding_box, corrected = imageoperations.checkMask(image, mask, **settings)
    if corrected is not None:
        if info is not None:
            info.addMaskElements(image, corrected, label, "corrected")
        mask = corrected
    resegmented = None
    if settings.get("resegmentRange") is not None:
        resegmented = imageoperations.resegmentMask(image, mask, **settings)
        bounding_box, _ = imageoperations.checkMask(image, resegmented, **settings)
        if info is not None:
            info.addMaskElements(image, resegmented, label, "resegmented")
    out: dict[str, Any] = collections.OrderedDict()
    if info is not None:
        out.update(info.getGeneralInfo())
    if settings.get("resegmentShape", False) and resegmented is not None:
        mask = resegmented
    image_crop, mask_crop = imageoperations.cropToTumorMask(image, mask, bounding_box)
    sizes = bounding_box[1::2] - bounding_box[0::2] + 1
    out.update(_shape_step(job, image_crop, mask_crop, sizes, settings))
    if resegmented is not None:
        mask = resegmented
    for image_type in job.image_types:
        kwargs = settings | job.image_types[image_type]
        for derived in job.derived(image_type, image, mask, kwargs, whole_image):
            image_crop, mask_crop = imageoperations.cropToTumorMask(
                derived.image, mask, bounding_box, padDistance=0
            )
            out.update(_class_features(job, derived.name, image_crop, mask_crop, kwargs))
        job.steps.advance()
    return out


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``pd.DataFrame(rows)``, built column by column: the same columns (in order of first
    appearance), values and dtypes, without pandas' record-by-record path, which costs ~10 ms
    for one row of a hundred features, a tenth of a slice's extraction."""
    import pandas as pd

    names = dict.fromkeys(name for row in rows for name in row)
    return pd.DataFrame({name: [row.get(name, np.nan) for row in rows] for name in names})
