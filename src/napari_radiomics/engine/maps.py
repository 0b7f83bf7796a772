"""Voxel-wise feature maps: each ROI voxel gets the features of the kernel around it.

The definition is pyradiomics' voxel mode, ``RadiomicsFeatureExtractor(params).execute(image,
mask, voxelBased=True)``, with its settings (``voxelSetting``: ``kernelRadius`` [1],
``maskedKernel`` [True], ``voxelBatch``), read through ``PyradiomicsConfig`` like every other
setting, and the same order of operations: the label mask (``getMask``), ``checkMask`` (and
``correctMask``), the enabled filters on the whole normalised image (taken from a
``FeatureEngine``'s cache), the crop to the ROI's bounding box padded by the kernel radius
(the mask steps and the crop with numpy when the mask is on the image's grid: ``_maps_roi``),
and pyradiomics' own feature classes in voxel mode. What differs is how much is computed at a time
(see ``_maps_kernels``), which makes it many times faster and bounds the memory, and:

* the maps are on the image's full grid (size, spacing, origin, direction), NaN wherever no
  value was computed (pyradiomics fills its crop with ``initValue``, 0);
* glcm MCC is computed where pyradiomics fails (method in ``_maps_kernels``);
* a 2D image, which pyradiomics' voxel mode refuses (firstorder's kernel offsets assume 3D), is
  handled as pyradiomics handles a one-slice volume: filters run on the 2D image (as in an
  extraction), then every crop becomes a one-slice 3D volume with ``force2D`` (in-plane kernels
  and angles, ``force2Ddimension`` 0), so the numbers equal pyradiomics' voxel mode on that
  volume;
* ``region="box"`` computes every voxel of the ROI's bounding box grown by ``margin`` voxels
  (clipped to the image): pyradiomics' numbers for that box as the mask;
* shape classes have no voxel-wise form (pyradiomics skips them too).

Resampling, pre-cropping and resegmentation would put the maps on another grid or ROI than the
image's; they are refused with a message naming the setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk

from napari_radiomics._pyradiomics import PyradiomicsConfig, geometry_tolerance
from napari_radiomics.convert import Grid, as_sitk
from napari_radiomics.engine._engine import FeatureEngine
from napari_radiomics.engine._maps_features import map_feature_choices, map_features, map_names
from napari_radiomics.engine._maps_kernels import class_maps
from napari_radiomics.engine._maps_memory import refuse_too_large
from napari_radiomics.engine._maps_pool import process_pool
from napari_radiomics.engine._maps_roi import MapRegion
from napari_radiomics.engine._masks import image_problem, label_array, label_boxes
from napari_radiomics.engine.preflight import grid_problems
from napari_radiomics.errors import ConversionError, ExtractionError, SettingsError
from napari_radiomics.preprocess import PreprocessedImage
from napari_radiomics.settings import ExtractionSettings

__all__ = [
    "FeatureMap",
    "feature_maps",
    "map_feature_choices",
    "map_features",
    "map_names",
    "voxel_settings",
]

Progress = Callable[[int, int, str], None]

#: pyradiomics' voxel-mode defaults, as ``execute`` and the feature classes apply them
#: (``_settings.get('kernelRadius', 1)``, ``settings.get('maskedKernel', True)``).
_DEFAULT_RADIUS = 1
_DEFAULT_MASKED = True
#: Units of progress per (image, feature class) step, so batches move the bar smoothly.
_STEP = 1000
#: Parts per worker process each class's batches are shared out in (load balance, progress).
_PARTS = 4


@dataclass(frozen=True)
class FeatureMap:
    """One feature's map on an image's grid, held as the block that has values.

    A full-grid float64 array per feature would cost the image's size once per feature (93
    maps of a 512x512x100 scan: 19 GiB); the block around the ROI is all that was computed, so
    the full grid is made only when asked for (one map at a time when writing files).
    """

    name: str
    values: np.ndarray  #: the computed block, napari axis order
    offset: tuple[int, ...]  #: index of ``values``' first voxel in the full grid
    grid: Grid  #: the image's grid

    def array(self) -> np.ndarray:
        """The map on the full grid (napari axis order), NaN outside the computed region."""
        full = np.full(self.grid.size[::-1], np.nan)
        full[self.block] = self.values
        return full

    @property
    def block(self) -> tuple[slice, ...]:
        """Where ``values`` sit in the full grid (numpy slices)."""
        return tuple(slice(o, o + n) for o, n in zip(self.offset, self.values.shape, strict=True))

    def image(self, *, box: bool = False) -> sitk.Image:
        """The map as a SimpleITK image with the grid's spacing and direction: on the full
        grid (its size and origin), or with ``box`` only the computed block, placed where it
        lies in the image (:attr:`box_origin`). The block is what pyradiomics' voxel mode
        returns; a viewer overlays it on the image as it does the full grid, at a fraction of
        the size (93 full-grid maps of a 512x512x48 CT are 9 GB of float64 to compress)."""
        out = sitk.GetImageFromArray(self.values if box else self.array())
        out.SetSpacing(self.grid.spacing)
        out.SetOrigin(self.box_origin if box else self.grid.origin)
        out.SetDirection(self.grid.direction)
        return out

    @property
    def box_origin(self) -> tuple[float, ...]:
        """The physical point of the block's first voxel: the image's origin plus the direction
        times the block's offset in millimetres (SimpleITK's index-to-point rule), so every
        voxel of the block sits at the physical point of the same voxel of the image."""
        dimension = self.grid.ndim
        index = np.asarray(self.offset[::-1], dtype=np.float64)  # SimpleITK's (x, y, z)
        direction = np.asarray(self.grid.direction, dtype=np.float64).reshape(dimension, -1)
        origin = np.asarray(self.grid.origin) + direction @ (index * self.grid.spacing)
        return tuple(float(value) for value in origin)


def voxel_settings(
    settings: ExtractionSettings | None,
    kernel_radius: int | None = None,
    masked_kernel: bool | None = None,
    voxel_batch: int | None = None,
) -> ExtractionSettings:
    """A copy of ``settings`` with the given voxel settings in its ``voxelSetting`` section, so
    the params file written with the maps says how they were made."""
    out = settings.copy() if settings is not None else ExtractionSettings()
    for key, value in (
        ("kernelRadius", kernel_radius),
        ("maskedKernel", masked_kernel),
        ("voxelBatch", voxel_batch),
    ):
        if value is not None:
            out.voxel_settings[key] = value
    out.to_params()  # validated by pyradiomics' schema
    return out


def feature_maps(
    image: Any,
    mask: Any,
    settings: ExtractionSettings | None = None,
    features: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    label: int | None = None,
    region: Literal["roi", "box"] = "roi",
    margin: int = 0,
    engine: FeatureEngine | None = None,
    jobs: int = 1,
    preprocessed: PreprocessedImage | None = None,
) -> dict[str, FeatureMap]:
    """pyradiomics' voxel-wise feature maps of ``image`` for one ROI label of ``mask``.

    Returns ``{feature name: map}`` (``original_glcm_Contrast``, ...; the names
    :func:`map_names` gives beforehand), each a :class:`FeatureMap` on ``image``'s grid, NaN
    where not computed. ``settings`` carries the
    voxel settings (see :func:`voxel_settings`); ``features`` as in :func:`map_features`.
    ``label``: the ROI
    label (default: the settings' label, else the mask's only label). ``progress(done, total,
    message)`` is called after every batch of voxels (well under a second apart); an exception
    it raises stops the computation and propagates, which is how to cancel. ``engine``: a
    ``FeatureEngine`` whose cached filtered images to reuse (its settings must be these).
    ``jobs``: worker processes sharing each class's voxel batches (1: this process); the
    batches and so the values are the same for any number, and progress then moves per part.
    ``preprocessed``: a cache of preprocessed images to take the image's from (and keep it
    in), so a dock's next run does not correct the same image again (N4 costs seconds).
    """
    settings = settings if settings is not None else ExtractionSettings()
    wanted = map_features(settings, features)
    if not wanted:
        raise SettingsError("no feature class with a voxel-wise map is enabled")
    config = PyradiomicsConfig.from_params(settings.to_params())
    voxel = config.settings
    _refuse_other_grids(voxel)
    try:
        image_sitk, mask_sitk = as_sitk(image), as_sitk(mask)
    except ConversionError as err:
        raise ExtractionError(str(err)) from None
    image_name, mask_name = _name(image, "image"), _name(mask, "mask")
    problems = grid_problems(
        Grid.of_image(image_sitk), Grid.of_image(mask_sitk), voxel, image_name, mask_name
    )
    for problem in problems:
        if problem.severity == "error":
            raise ExtractionError(problem.message)
    if engine is None or engine.settings.to_params() != _without_voxel(settings).to_params():
        # Made here and given no shared cache, the engine serves this call alone.
        engine = FeatureEngine(
            _without_voxel(settings), preprocessed=preprocessed, reuse=preprocessed is not None
        )
    boxes = label_boxes(label_array(mask_sitk, mask_name))
    label = _label(boxes, mask_name, label if label is not None else settings.label)
    with geometry_tolerance(settings.geometry_tolerance), process_pool(jobs) as pool:
        return _compute(
            image_sitk,
            mask_sitk,
            label,
            boxes[label],
            region,
            margin,
            config,
            image_name,
            wanted,
            engine,
            progress,
            pool,
            _PARTS * jobs,
        )


def _compute(
    image: sitk.Image,
    mask: sitk.Image,
    label: int,
    mask_box: tuple[slice, ...],
    region: str,
    margin: int,
    config: PyradiomicsConfig,
    image_name: str,
    wanted: dict[str, list[str] | None],
    engine: FeatureEngine,
    progress: Progress | None,
    pool: Executor | None,
    parts: int,
) -> dict[str, FeatureMap]:
    voxel = config.settings
    radius = int(voxel.get("kernelRadius", _DEFAULT_RADIUS))
    kwargs = voxel | {"label": label, "voxelBased": True, "kernelRadius": radius}
    kwargs.setdefault("maskedKernel", _DEFAULT_MASKED)
    roi = MapRegion.of(image, mask, label, region, margin, kwargs, mask_box)
    box = roi.label_box()
    if box is not None:  # else pyradiomics' checkMask names the problem
        _refuse_bad_grey_levels(image, roi.array, {label: box}, label, image_name, config)
        refuse_too_large(roi.array, box, label, wanted, config, parts // _PARTS)
    roi.check(image)
    two_d = image.GetDimension() == 2
    derived = engine.filtered_images(image, roi.roi)
    steps = len(derived) * len(wanted)
    grid = Grid.of_image(image)
    out: dict[str, FeatureMap] = {}
    for index, (name, filtered, image_kwargs) in enumerate(derived):
        crop, crop_mask = roi.crops(filtered)
        start = crop.GetOrigin()
        offset = image.TransformPhysicalPointToIndex(start)[::-1]  # numpy order
        class_kwargs = image_kwargs | kwargs
        if two_d:
            crop, crop_mask = sitk.JoinSeries([crop]), sitk.JoinSeries([crop_mask])
            class_kwargs |= {"force2D": True, "force2Ddimension": 0}
        for number, (class_name, names) in enumerate(wanted.items()):
            step = index * len(wanted) + number
            message = f"{name} {class_name}"

            def tick(done: int, total: int, step: int = step, message: str = message) -> None:
                if progress is not None:
                    progress(step * _STEP + (_STEP * done) // total, steps * _STEP, message)

            tick(0, 1)
            maps = class_maps(class_name, crop, crop_mask, class_kwargs, names, tick, pool, parts)
            for feature, values in maps.items():
                full_name = f"{name}_{class_name}_{feature}"
                values = values[0] if two_d else values
                out[full_name] = FeatureMap(full_name, values, tuple(offset), grid)
    if progress is not None:
        progress(steps * _STEP, steps * _STEP, "done")
    return out


def _refuse_other_grids(voxel: dict[str, Any]) -> None:
    """Maps live on the image's grid and ROI: settings that change either are refused."""
    if voxel.get("interpolator") is not None and voxel.get("resampledPixelSpacing") is not None:
        raise SettingsError(
            "setting resampledPixelSpacing: feature maps are computed on the image's own grid; "
            "remove the setting (or resample the image first)"
        )
    if voxel.get("preCrop", False):
        raise SettingsError("setting preCrop: not supported for feature maps; remove it")
    if voxel.get("resegmentRange") is not None:
        raise SettingsError("setting resegmentRange: not supported for feature maps; remove it")


def _refuse_bad_grey_levels(
    image: sitk.Image,
    roi: np.ndarray,
    boxes: dict[int, tuple[slice, ...]],
    label: int,
    image_name: str,
    config: PyradiomicsConfig,
) -> None:
    """The extraction's rule for NaN, infinite and constant images (``image_problem``),
    applied to the voxels mapped: pyradiomics' kernels would average around a NaN (or fail
    in its binning), so a map that ``extract`` would refuse for the same ROI is refused too,
    with the same message."""
    problem = image_problem(image, roi, boxes, [label], config.settings, config.image_types)
    if problem is not None:
        raise ExtractionError(f"{image_name} {problem}")


def _without_voxel(settings: ExtractionSettings) -> ExtractionSettings:
    """The settings as an extraction uses them (the filters do not depend on the kernel), so
    the engine's cache is shared with extractions of the same image."""
    out = settings.copy()
    out.voxel_settings = {}
    return out


def _label(boxes: dict[int, tuple[slice, ...]], mask_name: str, label: int | None) -> int:
    """The ROI label to map: the given one (checked present among the mask's ``boxes``), else
    the mask's only label."""
    if not boxes:
        raise ExtractionError(f"{mask_name} has no ROI: every voxel is 0 (background)")
    if label is None:
        if len(boxes) > 1:
            raise ExtractionError(
                f"{mask_name} has ROI labels {sorted(boxes)}: choose one label for the maps"
            )
        return next(iter(boxes))
    if label not in boxes:
        raise ExtractionError(
            f"ROI label {label} is not in {mask_name}; labels present: {sorted(boxes)}"
        )
    return int(label)


def _name(obj: Any, default: str) -> str:
    name = getattr(obj, "name", None)
    return f"{default} {name!r}" if name else default
