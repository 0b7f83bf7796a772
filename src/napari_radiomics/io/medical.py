"""NRRD, NIfTI and MetaImage files through SimpleITK, with their geometry kept.

Radiomics features depend on voxel spacing, so the geometry is never dropped: napari axes are
(z, y, x) where SimpleITK's are (x, y, z), hence ``scale == spacing[::-1]`` and
``translate == origin[::-1]``. A non-identity direction (an oblique or flipped acquisition)
becomes a napari ``affine`` that rotates about the origin, so ``scale`` and ``translate`` keep
their plain meaning and world coordinates equal SimpleITK's physical points:
``world = D @ (scale * index) + origin`` (in z, y, x order).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics.io.errors import ReadError

MEDICAL_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
MASK_NAME_HINTS: tuple[str, ...] = ("_label", "label_", "mask", "seg")
MAX_MASK_VALUES = 16  # an integer image with at most this many distinct values is a mask


@dataclass(frozen=True)
class MedicalImage:
    """Pixels in napari axis order and the geometry napari needs to place them."""

    data: np.ndarray
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    affine: np.ndarray | None
    is_mask: bool
    path: Path
    rgb: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def layer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a napari layer (``affine`` only when it is not identity)."""
        kwargs: dict[str, Any] = {"scale": self.scale, "translate": self.translate}
        if self.affine is not None:
            kwargs["affine"] = self.affine
        return kwargs


def medical_suffix(path: str | Path) -> str | None:
    """The recognised suffix of ``path`` (``.nii.gz`` counts as one), or None."""
    name = Path(path).name.lower()
    return next((s for s in MEDICAL_SUFFIXES if name.endswith(s)), None)


def case_name(path: str | Path) -> str:
    """The file name without its (possibly double) medical suffix."""
    name = Path(path).name
    suffix = medical_suffix(path)
    return name[: -len(suffix)] if suffix else Path(path).stem


def read_medical_image(path: str | Path) -> MedicalImage:
    """Read an image or mask; masks are recognised by file name or by their content."""
    path = Path(path)
    if not path.is_file():
        raise ReadError(path, "file not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        problem = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise ReadError(path, f"SimpleITK cannot read it: {problem}") from exc
    data, scale, translate, affine = sitk_to_arrays(image)
    rgb = image.GetNumberOfComponentsPerPixel() > 1
    if rgb and (data.shape[-1] not in (3, 4) or data.dtype != np.uint8):
        raise ReadError(
            path,
            f"{image.GetNumberOfComponentsPerPixel()}-component {data.dtype} pixels are not "
            "supported (only RGB/RGBA uint8 or single-component images)",
        )
    is_mask = False
    if not rgb:
        is_mask = looks_like_mask(path, data)
        if is_mask:
            data = _as_label_array(path, data)
    metadata = {
        "case": case_name(path),
        "path": str(path),
        "spacing": tuple(image.GetSpacing()),
        "origin": tuple(image.GetOrigin()),
        "direction": tuple(image.GetDirection()),
    }
    return MedicalImage(data, scale, translate, affine, is_mask, path, rgb, metadata)


def sitk_to_arrays(
    image: sitk.Image,
) -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...], np.ndarray | None]:
    """Pixels (z, y, x) plus ``scale``, ``translate`` and the affine (None for identity)."""
    data = sitk.GetArrayFromImage(image)
    ndim = image.GetDimension()
    scale = tuple(float(s) for s in image.GetSpacing()[::-1])
    translate = tuple(float(o) for o in image.GetOrigin()[::-1])
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(ndim, ndim)
    if np.allclose(direction, np.eye(ndim), atol=0.0, rtol=0.0):
        return data, scale, translate, None
    linear = direction[::-1, ::-1]  # (x, y, z) rows/columns -> (z, y, x)
    origin = np.asarray(translate)
    affine = np.eye(ndim + 1)
    affine[:ndim, :ndim] = linear
    affine[:ndim, ndim] = (np.eye(ndim) - linear) @ origin  # rotate about the origin, not 0
    return data, scale, translate, affine


def arrays_to_sitk(
    data: np.ndarray,
    scale: Any = None,
    translate: Any = None,
    affine: Any = None,
    rotate: Any = None,
) -> sitk.Image:
    """Inverse of :func:`sitk_to_arrays` for any napari layer's geometry.

    napari maps ``world = A @ (R @ (scale * index) + translate) + a`` (``R``: the layer's
    ``rotate``); SimpleITK maps ``point = D @ (spacing * index) + origin``, so ``D = A @ R`` and
    ``origin = A @ translate + a``. When ``a`` is the rotation-about-the-origin offset that
    :func:`sitk_to_arrays` writes, ``translate`` is taken as the origin unchanged, so a file
    read and written back keeps its origin bit for bit.
    """
    data = np.asarray(data)
    ndim = data.ndim
    scale_arr = np.ones(ndim) if scale is None else np.asarray(scale, dtype=np.float64)
    shift = np.zeros(ndim) if translate is None else np.asarray(translate, dtype=np.float64)
    matrix = np.eye(ndim + 1) if affine is None else np.asarray(affine, dtype=np.float64)
    if matrix.shape != (ndim + 1, ndim + 1):
        raise ValueError(f"affine must be {ndim + 1}x{ndim + 1}, got {matrix.shape}")
    linear, offset = matrix[:ndim, :ndim], matrix[:ndim, ndim]
    rotation = np.eye(ndim) if rotate is None else np.asarray(rotate, dtype=np.float64)
    direction = linear @ rotation[-ndim:, -ndim:]
    if not np.allclose(direction @ direction.T, np.eye(ndim), atol=1e-6):
        raise ValueError(
            "the layer's affine scales or shears; only rotations/flips can be stored as an "
            "image direction (put the voxel size in the layer's scale instead)"
        )
    about_origin = np.array_equal(offset, (np.eye(ndim) - linear) @ shift)
    origin = shift if about_origin else linear @ shift + offset
    image = sitk.GetImageFromArray(data)
    image.SetSpacing(tuple(float(s) for s in scale_arr[::-1]))
    image.SetOrigin(tuple(float(o) for o in origin[::-1]))
    image.SetDirection(tuple(float(v) for v in direction[::-1, ::-1].ravel()))
    return image


def looks_like_mask(path: Path, data: np.ndarray) -> bool:
    """A mask by name (``*_label*``, ``*mask*``, ``*seg*``) or by few integer values."""
    name = case_name(path).lower()
    if any(hint in name for hint in MASK_NAME_HINTS):
        if _is_integral(data):
            return True
        warnings.warn(
            f"{path}: named like a mask but holds non-integer values; opened as an image",
            UserWarning,
            stacklevel=3,
        )
        return False
    if data.dtype != bool and not np.issubdtype(data.dtype, np.integer):
        return False
    sample = data.ravel()[:: max(1, data.size // 100_000)]
    if np.unique(sample).size > MAX_MASK_VALUES:  # cheap rejection of real images
        return False
    values = np.unique(data)
    return values.size <= MAX_MASK_VALUES and values.min() >= 0


def _is_integral(data: np.ndarray) -> bool:
    if data.dtype == bool or np.issubdtype(data.dtype, np.integer):
        return True
    return bool(np.all(np.isfinite(data)) and np.all(np.mod(data, 1) == 0))


def _as_label_array(path: Path, data: np.ndarray) -> np.ndarray:
    """napari Labels need non-negative integers; keep the values, pick a fitting dtype."""
    if data.size and data.min() < 0:
        raise ReadError(path, "mask holds negative values; labels must be >= 0")
    if data.dtype == bool or not np.issubdtype(data.dtype, np.integer):
        top = int(data.max()) if data.size else 0
        return data.astype(np.min_scalar_type(top) if top > 1 else np.uint8)
    return data
