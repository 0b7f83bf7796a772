"""An extraction's image and mask before any work: converted to SimpleITK, their grids
checked as pyradiomics would check them, and what pyradiomics would skip silently said.

The engine runs these first, so a refusal names the layer (``image 'T1'``) and the problem
rather than surfacing from pyradiomics' internals; the same grid rules are ``preflight``'s.
"""

from __future__ import annotations

import warnings
from typing import Any

from napari_radiomics._pyradiomics import PyradiomicsConfig, coordinate_tolerance
from napari_radiomics.convert import Grid, as_sitk, describe_grid_mismatch
from napari_radiomics.engine._compat import ensure_lbp3d_support
from napari_radiomics.engine.preflight import grid_problems
from napari_radiomics.errors import ConversionError, ExtractionError

__all__ = ["Inputs"]

#: ``warnings.warn`` stack levels from here to the engine's caller (check <- _extract <-
#: _extraction <- extract <- the caller).
_CALLER = 5


def _name(obj: Any, default: str) -> str:
    name = getattr(obj, "name", None)
    return f"{default} {name!r}" if name else default


class Inputs:
    """``image`` and ``mask`` (layers, layer-like, SimpleITK images or arrays) as SimpleITK
    images with the names messages give them; ExtractionError if either cannot be one."""

    def __init__(self, image: Any, mask: Any) -> None:
        self.image_name, self.mask_name = _name(image, "image"), _name(mask, "mask")
        try:
            self.image, self.mask = as_sitk(image), as_sitk(mask)
        except ConversionError as err:
            raise ExtractionError(str(err)) from None
        self.image_grid, self.mask_grid = Grid.of_image(self.image), Grid.of_image(self.mask)

    def check(self, config: PyradiomicsConfig) -> None:
        """Refuse grids pyradiomics would refuse with ``config``'s settings; warn where it
        would skip features without a word (3D shape of a 2D image, LBP3D it cannot run)."""
        settings, features = config.settings, config.features
        names = (self.image_name, self.mask_name)
        for problem in grid_problems(self.image_grid, self.mask_grid, settings, *names):
            if problem.severity == "error":
                raise ExtractionError(problem.message)
        flat = self.image.GetDimension() == 2
        if flat and "shape" in features and "shape2D" not in features:
            warnings.warn(
                f"{self.image_name} is 2D: pyradiomics' 3D shape features are not defined for "
                "it; enable the shape2D feature class for 2D shape features",
                stacklevel=_CALLER,
            )
        if "LBP3D" in config.image_types:
            missing = ensure_lbp3d_support()
            if missing is not None and self.image.GetDimension() == 3:
                warnings.warn(
                    f"LBP3D is skipped by pyradiomics here: {missing}; no lbp-3D features",
                    stacklevel=_CALLER,
                )

    def direct(self, settings: dict[str, Any], diagnostics: bool) -> bool:
        """Whether pyradiomics' own crop of each label can be skipped for the engine's (the
        same voxels): the mask on the image's grid, and nothing that crops or resamples."""
        tolerance = coordinate_tolerance(settings.get("geometryTolerance"))
        return not (
            describe_grid_mismatch(self.image_grid, self.mask_grid, tolerance)
            or diagnostics
            or settings.get("preCrop", False)
            or settings.get("resegmentRange") is not None
            or (
                settings.get("interpolator") is not None
                and settings.get("resampledPixelSpacing") is not None
            )
        )
