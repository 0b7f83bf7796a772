"""napari layer data <-> SimpleITK images, keeping the physical grid exact.

pyradiomics works on SimpleITK images, whose size, spacing and origin are in (x, y, z) order;
napari arrays are (..., z, y, x). Anisotropic spacing changes texture and shape features, so the
grid must survive the trip unchanged, bit for bit:

* ``layer.scale == spacing[::-1]`` and ``layer.translate == origin[::-1]``.
* The direction cosines go into the layer's ``affine``. napari maps a data index ``i`` to world
  coordinates as ``world = A @ (scale * i + translate) + b`` (``A``, ``b``: linear part and
  translation of ``layer.affine``); SimpleITK maps it to physical space as
  ``point = origin + D @ (spacing * i)``. With ``A = D`` reversed to napari axis order
  (``D[::-1, ::-1]``) and ``b = (I - A) @ translate`` both formulas give the same point, so the
  napari world coordinates are the physical coordinates in (z, y, x) order, and reading the layer
  back uses ``translate`` as the origin unchanged. A layer whose affine translation is anything
  else (a user's own affine) gets the origin ``A @ translate + b``, where napari draws it.

A layer's own ``rotate`` (napari applies it before ``translate``) joins the direction too; a
sheared layer is refused, as no image grid is sheared.

The module is Qt- and napari-free: anything that satisfies :class:`LayerLike` is accepted (a
napari layer does); :class:`LayerData` is the core's own, for arrays, slices and files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import SimpleITK as sitk

from napari_radiomics.errors import ConversionError

__all__ = [
    "ConversionError",
    "Grid",
    "LayerData",
    "LayerLike",
    "as_sitk",
    "describe_grid_mismatch",
    "grid_of",
    "label_problem",
    "layer_to_sitk",
    "sitk_pixels_problem",
    "sitk_to_layer_data",
]

#: pyradiomics casts every mask to unsigned 32-bit labels, so this is the largest label it keeps.
_UINT32_MAX = int(np.iinfo(np.uint32).max)

#: How far the affine's linear part may be from orthonormal and still count as a direction matrix.
_ORTHONORMAL_TOLERANCE = 1e-6


@runtime_checkable
class LayerLike(Protocol):
    """What the core reads from a napari layer: pixels and where they sit in the world.

    Optional attributes, read when present: ``affine``, ``rotate``, ``shear``, ``multiscale``,
    ``rgb``, ``name`` and ``metadata`` (the readers' identifying keys).
    """

    data: Any
    scale: Sequence[float]
    translate: Sequence[float]


@dataclass(frozen=True)
class LayerData:
    """A :class:`LayerLike` without napari: an array with its grid (spacing as ``scale``,
    origin as ``translate``, napari axis order), for one slice of a stack, a file being
    written, or arrays given to the API."""

    data: Any
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    affine: np.ndarray | None = None
    rotate: np.ndarray | None = None
    shear: Any = 0.0
    name: str = ""
    multiscale: bool = False
    rgb: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grid:
    """An image's voxel grid as SimpleITK holds it, in (x, y, z) order: what an image and its
    mask must share. Known without reading a pixel, so a large lazy layer is checked cheaply."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @classmethod
    def of_image(cls, image: sitk.Image) -> Grid:
        """The grid of a SimpleITK image."""
        return cls(image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection())

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return len(self.size)


def _name(obj: Any) -> str:
    """A human name for error messages: the layer's name when it has one."""
    name = getattr(obj, "name", None)
    return f"layer {name!r}" if name else f"{type(obj).__name__} input"


def _level0(data: Any, multiscale: bool) -> Any:
    """Level 0 of a multiscale pyramid (the data itself otherwise), not read."""
    if multiscale or (isinstance(data, list | tuple) and data and hasattr(data[0], "shape")):
        return data[0]
    return data if hasattr(data, "shape") else np.asarray(data)


def _to_numpy(data: Any, multiscale: bool) -> np.ndarray:
    """Materialise layer data: level 0 of a multiscale pyramid, dask arrays computed."""
    data = _level0(data, multiscale)
    if hasattr(data, "compute"):
        data = data.compute()
    return np.asarray(data)


def _check_pixel_type(dtype: np.dtype, what: str) -> None:
    """Refuse a pixel type SimpleITK cannot hold as a grey level (known from the dtype alone)."""
    if np.issubdtype(dtype, np.bool_):
        return
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise ConversionError(
            f"{what}: pixel type {dtype} is not supported; pyradiomics needs a grey-level "
            "(integer or float) image"
        )


def _pixel_array(array: np.ndarray, what: str) -> np.ndarray:
    """Return an array SimpleITK can hold without changing a value, or refuse."""
    _check_pixel_type(array.dtype, what)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype == np.float16:
        return array.astype(np.float32)  # exact: every float16 is a float32
    return np.ascontiguousarray(array)


def label_problem(array: np.ndarray) -> str | None:
    """Why ``array`` cannot be a labels mask, or None: the one rule every reader and the engine
    apply, so no entry point can turn a mask into a different ROI than its file shows.

    A mask holds integer labels >= 0 (0 = background); a bool or 0/1 float mask is fine. Casting
    anything else is what goes wrong silently: to bool, a -1 background or a 0.5 border becomes
    ROI; to pyradiomics' UInt32, -1 becomes label 4294967295. The answer completes
    ``"{what} {problem}"`` (``"mask 'seg' holds negative values ..."``).
    """
    dtype = array.dtype
    if dtype.kind == "b" or array.size == 0:
        return None
    if dtype.kind == "c":
        return "holds complex values; a mask needs integer labels >= 0 (0 = background)"
    if dtype.kind not in "iuf":
        return f"holds {dtype} values; a mask needs integer labels >= 0 (0 = background)"
    if dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            return (
                f"holds {int(array.size - np.count_nonzero(finite))} NaN or infinite value(s); "
                "a mask needs integer labels >= 0 (0 = background)"
            )
        fractional = array != np.floor(array)
        if fractional.any():
            example = float(array[fractional].flat[0])
            return (
                f"holds non-integer values (e.g. {example:g}, {int(np.count_nonzero(fractional))} "
                "voxels); a mask needs integer labels >= 0 (0 = background): threshold a "
                "probability map or a resampled mask first"
            )
    low = array.min() if dtype.kind != "u" else 0
    high = array.max()
    if low < 0:
        return (
            f"holds negative values (from {low:g} to {high:g}); a mask needs integer labels "
            ">= 0, with 0 as background"
        )
    if high > _UINT32_MAX:
        return (
            f"holds labels up to {high:g}; pyradiomics reads masks as unsigned 32-bit labels, "
            f"so labels must be within 0..{_UINT32_MAX}"
        )
    return None


def _affine_parts(affine: Any, ndim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Linear part and translation of a napari affine (Affine object or matrix), or None."""
    if affine is None:
        return None
    matrix = getattr(affine, "affine_matrix", affine)
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (ndim + 1, ndim + 1):
        # napari pads the affine of a layer to the layer's own dimensionality; anything else
        # cannot be a spatial transform of this data.
        raise ValueError(f"affine has shape {matrix.shape}, expected {(ndim + 1, ndim + 1)}")
    return matrix[:ndim, :ndim], matrix[:ndim, ndim]


def layer_to_sitk(layer: Any) -> sitk.Image:
    """Build the SimpleITK image pyradiomics sees for a napari layer (or anything layer-like).

    Raises ConversionError for RGB/multichannel data, unsupported pixel types, and affines that
    are not a pure rotation/reflection (scaling belongs in ``layer.scale``).
    """
    grid = _layer_grid(layer)
    array = _pixel_array(
        _to_numpy(layer.data, bool(getattr(layer, "multiscale", False))), _name(layer)
    )
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    image.SetDirection(grid.direction)
    return image


def _layer_grid(layer: Any) -> Grid:
    """The grid ``layer_to_sitk`` gives a layer, and every refusal it makes, from the layer's
    shape, dtype and transforms alone (the pixels are not read)."""
    what = _name(layer)
    if getattr(layer, "rgb", False):
        raise ConversionError(
            f"{what} is an RGB(A) image; pyradiomics computes features of one grey-level channel. "
            "Convert it to greyscale or split the channels into separate layers first."
        )
    data = _level0(layer.data, bool(getattr(layer, "multiscale", False)))
    shape = tuple(int(n) for n in data.shape)
    ndim = len(shape)
    if ndim not in (2, 3):
        raise ConversionError(
            f"{what} has {ndim} dimensions (shape {shape}); pyradiomics needs a 2D or "
            "3D image. For multichannel or time series data, pick one channel/time point first."
        )
    _check_pixel_type(np.dtype(data.dtype), what)
    scale = np.asarray(layer.scale, dtype=float)[-ndim:]
    translate = np.asarray(layer.translate, dtype=float)[-ndim:]
    if np.any(scale <= 0):
        raise ConversionError(f"{what}: scale {tuple(scale)} must be positive (it is the spacing)")

    try:
        parts = _affine_parts(getattr(layer, "affine", None), ndim)
    except ValueError as err:
        raise ConversionError(f"{what}: {err}") from None
    if np.any(np.asarray(getattr(layer, "shear", 0.0), dtype=float) != 0):
        raise ConversionError(f"{what} is sheared; a SimpleITK image grid cannot be sheared")
    rotate = getattr(layer, "rotate", None)
    rotation = np.eye(ndim) if rotate is None else np.asarray(rotate, dtype=float)[-ndim:, -ndim:]
    linear, offset = parts if parts is not None else (np.eye(ndim), np.zeros(ndim))
    # napari: world = A @ (R @ (scale * index) + translate) + b, so the direction is A @ R.
    direction = linear @ rotation
    transformed = parts is not None or rotate is not None  # else the identity: nothing to test
    if transformed and not np.allclose(
        direction @ direction.T, np.eye(ndim), atol=_ORTHONORMAL_TOLERANCE
    ):
        raise ConversionError(
            f"{what}: the affine's linear part is not a rotation/reflection (it scales or "
            "shears); put the voxel size into layer.scale so it becomes the image spacing."
        )
    origin = translate
    if not np.array_equal(offset, (np.eye(ndim) - linear) @ translate):
        origin = linear @ translate + offset
    return Grid(
        size=shape[::-1],
        spacing=tuple(float(s) for s in scale[::-1]),
        origin=tuple(float(o) for o in origin[::-1]),
        direction=tuple(float(d) for d in direction[::-1, ::-1].ravel()),
    )


def sitk_pixels_problem(image: sitk.Image) -> None:
    """A ``ConversionError`` if ``image``'s pixels are not one real number each (a vector, RGB
    or complex image), which pyradiomics cannot use."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ConversionError(
            f"SimpleITK image with {image.GetNumberOfComponentsPerPixel()} components per pixel "
            "(vector/RGB); pyradiomics needs a scalar image"
        )
    if "complex" in image.GetPixelIDTypeAsString():
        raise ConversionError(
            f"SimpleITK image of {image.GetPixelIDTypeAsString()} pixels (complex-valued); "
            "pyradiomics needs a real grey-level image: take its magnitude or real part first"
        )


def sitk_to_layer_data(image: sitk.Image) -> tuple[np.ndarray, dict[str, Any]]:
    """Array (z, y, x) and the layer kwargs (``scale``, ``translate``, and ``affine`` when the
    direction is not the identity) that put the image where SimpleITK says it is."""
    sitk_pixels_problem(image)
    ndim = image.GetDimension()
    data = sitk.GetArrayFromImage(image)
    kwargs: dict[str, Any] = {
        "scale": tuple(image.GetSpacing())[::-1],
        "translate": tuple(image.GetOrigin())[::-1],
    }
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(ndim, ndim)
    if not np.array_equal(direction, np.eye(ndim)):
        linear = direction[::-1, ::-1]
        affine = np.eye(ndim + 1)
        affine[:ndim, :ndim] = linear
        affine[:ndim, ndim] = (np.eye(ndim) - linear) @ np.asarray(kwargs["translate"])
        kwargs["affine"] = affine
    return data, kwargs


def as_sitk(
    obj: Any,
    *,
    spacing: Sequence[float] | None = None,
    origin: Sequence[float] | None = None,
) -> sitk.Image:
    """SimpleITK image from a SimpleITK image (returned as is), a layer-like object, or an array.

    ``spacing`` and ``origin`` apply to arrays only and are in napari axis order ((z, y, x) or
    (y, x)), like a layer's ``scale`` and ``translate``; they default to 1 and 0.
    """
    source = _image_or_layer(obj, spacing, origin)
    return source if isinstance(source, sitk.Image) else layer_to_sitk(source)


def grid_of(
    obj: Any,
    *,
    spacing: Sequence[float] | None = None,
    origin: Sequence[float] | None = None,
) -> Grid:
    """The grid ``as_sitk`` would give ``obj``, without reading its pixels.

    Raises the ConversionError ``as_sitk`` would raise (the pixel type is judged by the dtype),
    so a check before a run refuses what the run would refuse, even for data too large to read.
    A :class:`Grid` is returned as it is (an image known only by its header).
    """
    if isinstance(obj, Grid) and spacing is None and origin is None:
        return obj
    source = _image_or_layer(obj, spacing, origin)
    return Grid.of_image(source) if isinstance(source, sitk.Image) else _layer_grid(source)


def _image_or_layer(
    obj: Any, spacing: Sequence[float] | None, origin: Sequence[float] | None
) -> sitk.Image | LayerLike:
    """What ``as_sitk`` accepts, as a SimpleITK image or something layer-like (arrays are
    wrapped with ``spacing`` and ``origin``)."""
    if isinstance(obj, sitk.Image):
        if spacing is not None or origin is not None:
            raise ConversionError("spacing/origin are taken from the SimpleITK image itself")
        return obj
    if isinstance(obj, LayerLike):
        if spacing is not None or origin is not None:
            raise ConversionError(f"{_name(obj)}: spacing/origin come from the layer's scale")
        return obj
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        ndim = len(obj.shape)

        for given, label in ((spacing, "spacing"), (origin, "origin")):
            if given is not None and len(given) != ndim:
                raise ConversionError(
                    f"{label} {tuple(given)} has {len(given)} values for a {ndim}D array"
                )
        return LayerData(
            obj,
            scale=(1.0,) * ndim if spacing is None else tuple(map(float, spacing)),
            translate=(0.0,) * ndim if origin is None else tuple(map(float, origin)),
        )
    raise ConversionError(
        f"cannot make an image from {type(obj).__name__}: expected a napari layer, a SimpleITK "
        "image or a numpy/dask array"
    )


def describe_grid_mismatch(
    image: sitk.Image | Grid, mask: sitk.Image | Grid, tolerance: float
) -> str | None:
    """Why the mask is not on the image's voxel grid (as SimpleITK checks it), or None.

    ``tolerance`` is SimpleITK's relative coordinate/direction tolerance (pyradiomics'
    ``geometryTolerance``; SimpleITK's default is 1e-6). Positions are compared with
    ``tolerance * spacing[0]``, like ITK does before any two-image filter. Grids (``grid_of``)
    compare like the images they describe: the engine and the preflight share this one test.
    """
    image = image if isinstance(image, Grid) else Grid.of_image(image)
    mask = mask if isinstance(mask, Grid) else Grid.of_image(mask)
    if image.ndim != mask.ndim:
        return f"image is {image.ndim}D but the mask is {mask.ndim}D"
    if image.size != mask.size:
        return f"image size {image.size} differs from mask size {mask.size} (x, y, z)"
    coordinate_tolerance = tolerance * image.spacing[0]
    for what, a, b, tol in (
        ("spacing", image.spacing, mask.spacing, coordinate_tolerance),
        ("origin", image.origin, mask.origin, coordinate_tolerance),
        ("direction", image.direction, mask.direction, tolerance),
    ):
        if np.any(np.abs(np.subtract(a, b)) > tol):
            return f"image {what} {a} differs from mask {what} {b} (x, y, z)"
    return None
