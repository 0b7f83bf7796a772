"""What one extraction from the viewer needs, and what pyradiomics would refuse or skip.

Kept free of Qt so it is tested without a window: the widget hands over the chosen layers, the
current slice and the pyradiomics params; this module returns the arrays to extract (a single
slice of a stack when asked), the metadata that must travel with the results, and a list of
problems to explain *before* a run. pyradiomics refuses some inputs with an error (empty mask,
absent label, image/mask geometry mismatch, a single-voxel ROI) and silently skips others with
only a log warning (a LoG sigma too large for the image, LoG on fewer than 4 slices, shape on a
2D image, LBP3D on 2D); both kinds are reported here, errors block the run, notes do not.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from napari_radiomics.convert import LayerData
from napari_radiomics.results import IDENTIFYING_COLUMNS

#: Largest lazy (e.g. dask) array whose content is read for the checks, in voxels.
_LAZY_CHECK_LIMIT = 4 * 512 * 512
#: Metadata keys the readers put on layers, in the order they appear in results.
METADATA_KEYS = (*IDENTIFYING_COLUMNS, "path")


@dataclass(frozen=True)
class ExtractionJob:
    """Image and mask to extract, ROI labels (``None``: all), and metadata for the results."""

    image: Any  # a napari layer or a LayerData: anything the engine converts
    mask: Any
    labels: tuple[int, ...] | None
    metadata: dict[str, Any]
    slice_index: int | None = None
    #: True for a whole stack of unrelated slices (a folder), not one volume
    stack: bool = False


@dataclass(frozen=True)
class Problem:
    """One reason a run would fail (``error``) or silently compute less than asked (``note``)."""

    severity: Literal["error", "note"]
    message: str


@dataclass
class Checked:
    """The problems found for a job; ``ok`` when none of them blocks the run."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing would make pyradiomics refuse the run."""
        return not any(p.severity == "error" for p in self.problems)

    def add(self, severity: Literal["error", "note"], message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(severity, message))

    def text(self) -> str:
        """The problems as lines for the widget, errors first."""
        ordered = sorted(self.problems, key=lambda p: p.severity != "error")
        return "\n".join(f"{p.severity.upper()}: {p.message}" for p in ordered)


def is_stack(layer: Any) -> bool:
    """A folder of slices: per-slice metadata table, and slices are not one volume."""
    return isinstance(layer.metadata.get("slices"), pd.DataFrame)


def layer_metadata(layer: Any) -> dict[str, Any]:
    """The reader's identifying metadata on a layer, in results order (missing keys left out)."""
    return {k: layer.metadata[k] for k in METADATA_KEYS if k in layer.metadata}


def slice_metadata(layer: Any, index: int) -> dict[str, Any]:
    """Metadata of slice ``index`` of a stack, from the reader's per-slice table."""
    slices: pd.DataFrame = layer.metadata["slices"]
    if not 0 <= index < len(slices):
        raise IndexError(f"layer {layer.name!r} has {len(slices)} slices, not slice {index}")
    row = slices.iloc[index]
    metadata = {k: _plain(row[k]) for k in METADATA_KEYS if k in slices.columns}
    return metadata | {"slice": index}


def view_of(layer: Any, slice_index: int | None = None) -> Any:
    """The layer itself, or a :class:`LayerData` of slice ``slice_index`` along its first axis.

    A whole layer goes to the engine as it is, so its affine (direction) is converted too; a
    slice of a stack (the readers' stacks carry no affine) keeps the scale and translate of the
    two remaining axes.
    """
    if slice_index is None:
        return layer
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    return LayerData(
        np.asarray(data[slice_index]),
        tuple(float(s) for s in layer.scale[1:]),
        tuple(float(t) for t in layer.translate[1:]),
        name=layer.name,
    )


def _level0(view: Any) -> Any:
    """Level 0 of a (possibly multiscale) layer's data, not loaded."""
    return view.data[0] if getattr(view, "multiscale", False) else view.data


def _loaded(data: Any) -> np.ndarray | None:
    """The data as NumPy if it is in memory or small; ``None`` for a large lazy array.

    The checks run on every change of a control; reading a 3000-slice folder each time would
    freeze the viewer, so lazy data is only checked by shape (the run itself reads it).
    """
    if isinstance(data, np.ndarray) or math.prod(data.shape) <= _LAZY_CHECK_LIMIT:
        return np.asarray(data)
    return None


def build_job(
    image_layer: Any,
    labels_layer: Any,
    *,
    labels: Sequence[int] | None = None,
    slice_index: int | None = None,
) -> ExtractionJob:
    """Gather what to extract: arrays (one slice if ``slice_index``), labels and metadata.

    Metadata comes from the image layer (reader keys), the labels layer filling gaps; for a
    slice of a stack, from the stack's per-slice table.
    """
    if slice_index is not None and is_stack(image_layer):
        metadata = slice_metadata(image_layer, slice_index)
    elif slice_index is not None and is_stack(labels_layer):
        metadata = slice_metadata(labels_layer, slice_index)
    else:
        metadata = layer_metadata(labels_layer) | layer_metadata(image_layer)
        if slice_index is not None:
            metadata["slice"] = slice_index
    metadata = {k: metadata[k] for k in (*METADATA_KEYS, "slice") if k in metadata}
    return ExtractionJob(
        image=view_of(image_layer, slice_index),
        mask=view_of(labels_layer, slice_index),
        labels=None if labels is None else tuple(int(v) for v in labels),
        metadata=metadata,
        slice_index=slice_index,
        stack=slice_index is None and (is_stack(image_layer) or is_stack(labels_layer)),
    )


def parse_label_list(text: str) -> list[int]:
    """``"1, 3 4"`` -> ``[1, 3, 4]``; refuses anything that is not a positive integer."""
    values = []
    for token in text.replace(",", " ").split():
        if not token.isdigit() or int(token) == 0:
            raise ValueError(f"ROI labels must be positive integers, got {token!r}")
        values.append(int(token))
    if not values:
        raise ValueError("no ROI label given: type one or more label values, e.g. 1, 2")
    return values


def check_job(job: ExtractionJob, params: Mapping[str, Any]) -> Checked:
    """What pyradiomics would refuse (errors) or silently skip (notes) for this job."""
    checked = Checked()
    image, mask = job.image, job.mask
    image_data, mask_data = _level0(image), _level0(mask)
    if getattr(image, "rgb", False) or image_data.ndim not in (2, 3):
        checked.add(
            "error",
            f"image {image.name!r} has shape {_shape(image_data)}; pyradiomics takes 2D or 3D "
            "grey-level images (not RGB/multichannel)",
        )
        return checked
    if image_data.shape != mask_data.shape:
        checked.add(
            "error",
            f"grid mismatch: image {image.name!r} is {_shape(image_data)} but labels "
            f"{mask.name!r} are {_shape(mask_data)}; pick layers of the same case or resample "
            "the mask first",
        )
        return checked
    setting = params.get("setting") or {}
    if not setting.get("correctMask") and (
        not np.allclose(image.scale, mask.scale)
        or not np.allclose(image.translate, mask.translate)
    ):
        checked.add(
            "error",
            f"grid mismatch: labels {mask.name!r} have scale {mask.scale} / translate "
            f"{mask.translate}, image {image.name!r} has {image.scale} / {image.translate}; "
            "pyradiomics refuses a mask on another grid (its remedy: correctMask)",
        )
    if job.stack:
        checked.add(
            "note",
            f"{image.name!r} is a stack of separate slices, not one volume: "
            "3D features across them mean little (tick 'current slice only')",
        )
    mask_array = _loaded(mask_data)
    if mask_array is None:
        checked.add(
            "note",
            f"labels {mask.name!r} are read lazily: their content is checked when the run starts",
        )
    else:
        _check_labels(checked, job, mask_array)
    _check_image_types(checked, tuple(image_data.shape), tuple(image.scale), params)
    return checked


def _check_labels(checked: Checked, job: ExtractionJob, mask: np.ndarray) -> None:
    present = [int(v) for v in np.unique(mask) if v != 0]
    where = f"labels layer {job.mask.name!r}" + (
        f" (slice {job.slice_index})" if job.slice_index is not None else ""
    )
    if not present:
        checked.add("error", f"{where} is empty: paint the ROI first (nothing is segmented)")
        return
    wanted = list(job.labels) if job.labels is not None else present
    absent = [v for v in wanted if v not in present]
    if absent:
        severity: Literal["error", "note"] = "error" if len(absent) == len(wanted) else "note"
        checked.add(
            severity,
            f"label {', '.join(map(str, absent))} not present in {where}; "
            f"present: {', '.join(map(str, present))}",
        )
    for value in wanted:
        if value in present and int(np.count_nonzero(mask == value)) == 1:
            checked.add(
                "error",
                f"label {value} in {where} is a single pixel; pyradiomics "
                "cannot extract features for a single voxel",
            )


@functools.cache
def _lbp3d_unavailable() -> str | None:
    """Why pyradiomics' LBP3D filter cannot run here, or None. It imports these itself and
    skips the filter with a log warning when one fails (e.g. ``sph_harm``, gone from SciPy
    1.15 on, or ``trimesh`` not installed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from scipy.ndimage.interpolation import map_coordinates  # noqa: F401
            from scipy.special import sph_harm  # noqa: F401
            from trimesh.creation import icosphere  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def _check_image_types(
    checked: Checked, size: tuple[int, ...], scale: tuple[float, ...], params: Mapping[str, Any]
) -> None:
    # Sizes in napari order; pyradiomics checks every axis the same way, so order is irrelevant.
    setting = params.get("setting") or {}
    image_types = params.get("imageType") or {"Original": {}}
    classes = params.get("featureClass")
    spacing = setting.get("resampledPixelSpacing") or scale
    ndim = len(size)
    force_2d = bool(setting.get("force2D"))
    if "LoG" in image_types:
        sigmas = (image_types["LoG"] or {}).get("sigma") or setting.get("sigma") or []
        if not sigmas:
            checked.add(
                "note",
                "LoG is enabled without sigmas: pyradiomics computes no LoG "
                "image (give sigmas in mm, e.g. 1, 3)",
            )
        elif min(size) < 4:
            checked.add(
                "note",
                f"LoG is skipped by pyradiomics: the image is {_shape(size)}, "
                "it needs at least 4 pixels along every axis (a stack of fewer than 4 "
                "slices: use 'current slice only')",
            )
        for sigma in sigmas:
            if sigma <= 0:
                checked.add("note", f"LoG sigma {sigma} is skipped by pyradiomics (must be > 0)")
            elif any(
                n < math.ceil(sigma / abs(s)) + 1 for n, s in zip(size, spacing, strict=False)
            ):
                checked.add(
                    "note",
                    f"LoG sigma {sigma} mm is skipped by pyradiomics: too large "
                    f"for an image of {_shape(size)} pixels at spacing {tuple(spacing)}",
                )
    if "LBP3D" in image_types:
        if ndim != 3:
            checked.add("note", "LBP3D is skipped by pyradiomics on a 2D image (use LBP2D)")
        elif (missing := _lbp3d_unavailable()) is not None:
            checked.add("note", f"LBP3D is skipped by pyradiomics here: {missing}")
    if "LBP2D" in image_types and importlib.util.find_spec("skimage") is None:
        checked.add("note", "LBP2D is skipped by pyradiomics: it needs scikit-image")
    if classes:
        if ndim == 2 and "shape" in classes and "shape2D" not in classes:
            checked.add(
                "note",
                "shape (3D) features are not computed on a 2D image; "
                "enable shape2D for area, perimeter and the like",
            )
        if ndim == 3 and "shape2D" in classes and not force_2d:
            checked.add("note", "shape2D is only computed on a 3D image with force2D on")


def _shape(shape_or_array: Any) -> str:
    shape = getattr(shape_or_array, "shape", shape_or_array)
    return "x".join(str(n) for n in shape)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
