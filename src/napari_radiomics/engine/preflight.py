"""What pyradiomics would refuse or silently skip for an image and a mask, said before a run.

pyradiomics refuses some inputs with an error (a mask on another voxel grid, an empty mask, an
absent label, a single-voxel ROI) and silently computes less than asked for others, with only a
log warning nobody reads (a LoG sigma too large for the image, LoG on fewer than 4 slices, 3D
shape on a 2D image, LBP3D on 2D). Both are reported here: ``error`` when the engine would
raise (nothing would be computed), ``note`` when it would compute less. The extraction widget
runs this on every change of a control and ``napari-radiomics extract --check`` on every case
of a dataset, so both say the same thing, and say it before anything runs.

It has to be cheap and has to agree with the run:

* what pyradiomics will do with the settings (defaults, enabled image types and features) is
  read from a real extractor through :class:`~napari_radiomics._pyradiomics.PyradiomicsConfig`,
  once per settings (:class:`Preflight`), never re-derived here;
* grids are compared by the engine's own test, ``describe_grid_mismatch``, on grids built by
  ``convert.grid_of`` from shapes and transforms, with the settings' ``geometryTolerance``: the
  image's pixels are never read;
* the mask's labels are judged by the engine's own rules (``wanted_labels``) and pyradiomics'
  ROI checks (``check_box``), on the mask's pixels when they are in memory or small; a large
  lazy (e.g. dask) mask is checked by shape only, since reading a 3000-slice folder on every
  click would freeze the viewer (the run itself reads it).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk

from napari_radiomics._pyradiomics import PyradiomicsConfig, coordinate_tolerance
from napari_radiomics.convert import Grid, describe_grid_mismatch, grid_of
from napari_radiomics.engine._compat import ensure_lbp3d_support
from napari_radiomics.engine._masks import label_boxes, wanted_labels
from napari_radiomics.engine._pipeline import check_box
from napari_radiomics.errors import ConversionError, ExtractionError
from napari_radiomics.settings import ExtractionSettings

__all__ = [
    "LAZY_CHECK_LIMIT",
    "Checked",
    "Preflight",
    "Problem",
    "Severity",
    "check_inputs",
    "grid_problems",
]

Severity = Literal["error", "note"]

#: Largest lazy (e.g. dask) mask whose content is read for the checks, in voxels.
LAZY_CHECK_LIMIT = 4 * 512 * 512


@dataclass(frozen=True)
class Problem:
    """One reason a run would fail (``error``) or silently compute less than asked (``note``).

    ``labels`` names the ROI labels pyradiomics would refuse, when that is the problem: a batch
    run counts a case with a refused label as failed even when its other labels come out.
    """

    severity: Severity
    message: str
    labels: tuple[int, ...] = ()


@dataclass
class Checked:
    """The problems found for one image and mask; ``ok`` when none of them blocks the run."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing would make pyradiomics refuse the run."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        """The problems that block the run."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def notes(self) -> list[Problem]:
        """The problems that let the run compute less than asked."""
        return [p for p in self.problems if p.severity == "note"]

    @property
    def refused_labels(self) -> list[int]:
        """ROI labels that would get no features (absent, or refused by pyradiomics)."""
        return sorted({label for p in self.problems for label in p.labels})

    def add(self, severity: Severity, message: str, labels: Sequence[int] = ()) -> None:
        """Record one problem."""
        self.problems.append(Problem(severity, message, tuple(labels)))

    def text(self) -> str:
        """The problems as lines for the widget, errors first."""
        ordered = self.errors + self.notes
        return "\n".join(f"{p.severity.upper()}: {p.message}" for p in ordered)


def grid_problems(
    image: Grid, mask: Grid, settings: Mapping[str, Any], image_name: str, mask_name: str
) -> list[Problem]:
    """The engine's grid test, with the tolerance and remedy the settings (pyradiomics' own
    ``settings``, defaults filled in) give it. The engine raises the errors; the preflight
    reports them before a run, with the same words."""
    problems = []
    tolerance = coordinate_tolerance(settings.get("geometryTolerance"))
    mismatch = describe_grid_mismatch(image, mask, tolerance)
    if mismatch and (image.ndim != mask.ndim or not settings.get("correctMask", False)):
        problems.append(
            Problem(
                "error",
                f"grid mismatch: {mask_name} is not on the voxel grid of {image_name}: "
                f"{mismatch}. pyradiomics refuses it; its remedies: correctMask (resample the "
                "mask onto the image) or, for tiny differences, geometryTolerance",
            )
        )
    elif mismatch:
        problems.append(
            Problem(
                "note",
                f"{mask_name} is not on the voxel grid of {image_name} ({mismatch}): "
                "pyradiomics resamples it onto the image (correctMask), which fails if the ROI "
                "lies outside the image",
            )
        )
    spacing = settings.get("resampledPixelSpacing")
    if spacing is not None and len(spacing) != image.ndim:
        problems.append(
            Problem(
                "error",
                f"setting resampledPixelSpacing {list(spacing)} has {len(spacing)} values but "
                f"{image_name} is {image.ndim}D: give one spacing per dimension, in (x, y, z) "
                "order (0 keeps a dimension's spacing)",
            )
        )
    return problems


class Preflight:
    """The checks for one set of settings: pyradiomics' reading of them is taken once, so a
    dataset of thousands of cases pays for it once."""

    def __init__(self, settings: ExtractionSettings | None = None) -> None:
        self.settings = settings if settings is not None else ExtractionSettings()
        self.config = PyradiomicsConfig.from_params(self.settings.to_params())

    def check(
        self,
        image: Any,
        mask: Any,
        *,
        labels: Sequence[int] | None = None,
        image_name: str | None = None,
        mask_name: str | None = None,
    ) -> Checked:
        """What an extraction of ``labels`` (``None``: as the engine chooses) would refuse or
        skip. ``image`` and ``mask``: anything ``convert.as_sitk`` accepts. ``image_name`` and
        ``mask_name`` are how messages call them (default: from their ``name``)."""
        checked = Checked()
        image_name = image_name or _title(image, "image")
        mask_name = mask_name or _title(mask, "mask")
        try:
            image_grid, mask_grid = grid_of(image), grid_of(mask)
        except ConversionError as err:
            checked.add("error", str(err))
            return checked
        self._check_grids(checked, image_grid, mask_grid, image_name, mask_name)
        pixels = _mask_pixels(mask)
        if pixels is None:
            checked.add(
                "note", f"{mask_name} is read lazily: its content is checked when the run starts"
            )
        else:
            self._check_labels(checked, pixels, labels, mask_name)
        self._check_image_types(checked, image_grid)
        return checked

    def _check_grids(
        self, checked: Checked, image: Grid, mask: Grid, image_name: str, mask_name: str
    ) -> None:
        for problem in grid_problems(image, mask, self.config.settings, image_name, mask_name):
            checked.add(problem.severity, problem.message)

    def _check_labels(
        self, checked: Checked, mask: np.ndarray, labels: Sequence[int] | None, mask_name: str
    ) -> None:
        """The labels the engine would measure, and which of them pyradiomics would refuse;
        an error only when every one of them is refused (then nothing is computed)."""
        boxes = label_boxes(mask)
        if not boxes:
            empty = f"{mask_name} is empty: paint the ROI first (nothing is segmented)"
            checked.add("error", empty)
            return
        try:
            wanted = wanted_labels(labels, self.settings.label, boxes, mask_name)
        except ExtractionError as err:
            checked.add("error", str(err))
            return
        absent = [v for v in wanted if v not in boxes]
        refused: dict[int, str] = {}
        for value in wanted:
            if value in boxes:
                box = boxes[value]
                try:
                    check_box(box, int(np.count_nonzero(mask[box] == value)), self.config.settings)
                except ValueError as err:  # pyradiomics' own message
                    refused[value] = str(err)
        severity: Severity = "error" if len(absent) + len(refused) == len(wanted) else "note"
        if absent:
            checked.add(
                severity,
                f"label {', '.join(map(str, absent))} not present in {mask_name}; "
                f"present: {', '.join(map(str, sorted(boxes)))}",
                absent,
            )
        for value, reason in refused.items():
            if all(s.stop - s.start == 1 for s in boxes[value]):
                message = (
                    f"label {value} in {mask_name} is a single pixel; pyradiomics cannot "
                    "extract features for a single voxel"
                )
            else:
                message = f"label {value} in {mask_name} is refused by pyradiomics: {reason}"
            checked.add(severity, message, [value])

    def _check_image_types(self, checked: Checked, grid: Grid) -> None:
        """Image types and feature classes pyradiomics skips for an image of this grid."""
        settings, image_types = self.config.settings, self.config.image_types
        features = self.config.features
        size, spacing = grid.size, grid.spacing  # (x, y, z); pyradiomics treats axes alike
        resampled = settings.get("resampledPixelSpacing")
        if resampled is not None and len(resampled) == grid.ndim:
            spacing = tuple(r if r else s for r, s in zip(resampled, spacing, strict=True))
        shape = "x".join(map(str, size[::-1]))  # napari's (z, y, x), as the layer shows it
        if "LoG" in image_types:
            # pyradiomics passes the general settings updated by the image type's own.
            sigmas = {**settings, **image_types["LoG"]}.get("sigma") or []
            if not sigmas:
                checked.add(
                    "note",
                    "LoG is enabled without sigmas: pyradiomics computes no LoG image (give "
                    "sigmas in mm, e.g. 1, 3)",
                )
            elif min(size) < 4:
                checked.add(
                    "note",
                    f"LoG is skipped by pyradiomics: the image is {shape}, it needs at least 4 "
                    "pixels along every axis (a stack of fewer than 4 slices: use 'current "
                    "slice only')",
                )
            else:
                for sigma in sigmas:
                    pairs = zip(size, spacing, strict=True)
                    if any(n < math.ceil(sigma / s) + 1 for n, s in pairs):
                        checked.add(
                            "note",
                            f"LoG sigma {sigma} mm is skipped by pyradiomics: too large for an "
                            f"image of {shape} pixels at spacing {spacing[::-1]} mm",
                        )
        if "LBP3D" in image_types:
            if grid.ndim != 3:
                checked.add("note", "LBP3D is skipped by pyradiomics on a 2D image (use LBP2D)")
            elif (missing := ensure_lbp3d_support()) is not None:
                checked.add("note", f"LBP3D is skipped by pyradiomics here: {missing}")
        if "LBP2D" in image_types and importlib.util.find_spec("skimage") is None:
            checked.add("note", "LBP2D is skipped by pyradiomics: it needs scikit-image")
        if grid.ndim == 2 and "shape" in features and "shape2D" not in features:
            checked.add(
                "note",
                "shape (3D) features are not computed on a 2D image; enable shape2D for area, "
                "perimeter and the like",
            )
        if grid.ndim == 3 and "shape2D" in features and not settings.get("force2D", False):
            checked.add("note", "shape2D is only computed on a 3D image with force2D on")


def check_inputs(
    image: Any,
    mask: Any,
    settings: ExtractionSettings | None = None,
    *,
    labels: Sequence[int] | None = None,
    image_name: str | None = None,
    mask_name: str | None = None,
) -> Checked:
    """What pyradiomics would refuse or skip for one extraction; see :meth:`Preflight.check`
    (``settings=None``: pyradiomics' defaults)."""
    return Preflight(settings).check(
        image, mask, labels=labels, image_name=image_name, mask_name=mask_name
    )


def _title(obj: Any, kind: str) -> str:
    """``mask 'name'`` for a named layer, ``the mask`` otherwise."""
    name = getattr(obj, "name", None)
    return f"{kind} {name!r}" if isinstance(name, str) and name else f"the {kind}"


def _mask_pixels(mask: Any) -> np.ndarray | None:
    """The mask's pixels if they are in memory or small; ``None`` for a large lazy array."""
    if isinstance(mask, sitk.Image):
        return sitk.GetArrayViewFromImage(mask)
    data = getattr(mask, "data", mask) if not isinstance(mask, np.ndarray) else mask
    if getattr(mask, "multiscale", False):
        data = data[0]
    if isinstance(data, np.ndarray) or math.prod(data.shape) <= LAZY_CHECK_LIMIT:
        return np.asarray(data)
    return None
