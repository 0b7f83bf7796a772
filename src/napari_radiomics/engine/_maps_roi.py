"""The ROI a set of feature maps covers and the crops its kernels read, as pyradiomics' voxel
mode makes them.

``execute(voxelBased=True)`` casts the whole mask to UInt32 and lists its labels
(``getMask``), finds the ROI's bounding box with a LabelStatisticsImageFilter over the whole
image (``checkMask``), then crops each filtered image to that box plus the kernel radius
(``cropToTumorMask``). On a 512x512x48 CT with a 500-voxel ROI those whole-image passes took
2.8 s against 0.5 s for the maps themselves. When the mask lies on the image's grid (the usual
case, and the only one that does not need ``correctMask``), the same box, the same checks with
pyradiomics' messages (``_pipeline.check_box``) and the same crops come from numpy, as in the
extraction's direct route; otherwise pyradiomics' own calls run, resampling the mask when
``correctMask`` asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk
from radiomics import imageoperations

from napari_radiomics._pyradiomics import coordinate_tolerance
from napari_radiomics.convert import describe_grid_mismatch
from napari_radiomics.engine._masks import label_boxes
from napari_radiomics.engine._pipeline import check_box, crop_to
from napari_radiomics.errors import ExtractionError, SettingsError


@dataclass
class MapRegion:
    """The voxels to map (``roi``, where it equals ``label``) on the image's grid, or on the
    mask's own grid until :meth:`check` resamples it (``correctMask``)."""

    roi: sitk.Image
    label: int
    radius: int
    settings: dict[str, Any]  #: pyradiomics' settings with the voxel ones
    direct: bool  #: the mask is on the image's grid: numpy does pyradiomics' whole-image work
    box: tuple[slice, ...] | None = None  #: the checked bounding box (numpy order)
    bounds: Any = None  #: pyradiomics' bounding box, for its own crops (not ``direct``)
    _label_box: tuple[tuple[slice, ...] | None] | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        image: sitk.Image,
        mask: sitk.Image,
        label: int,
        region: str,
        margin: int,
        settings: dict[str, Any],
        mask_box: tuple[slice, ...] | None = None,
    ) -> MapRegion:
        """The ROI of ``label`` (``region="roi"``), or its bounding box grown by ``margin``
        voxels (``"box"``), as pyradiomics' mask. ``mask_box``: ``label``'s box in ``mask``,
        if known (the caller found it choosing the label): with the ROI on the image's grid it
        is the ROI's, and another pass over the whole mask is saved."""
        if region not in ("roi", "box"):
            raise SettingsError(f"region {region!r}: choose 'roi' or 'box'")
        tolerance = coordinate_tolerance(settings.get("geometryTolerance"))
        direct = describe_grid_mismatch(image, mask, tolerance) is None
        roi = mask if direct else imageoperations.getMask(mask, **settings)
        if region == "box":
            roi = _box_mask(roi, label, margin)
        out = cls(roi, label, int(settings["kernelRadius"]), settings, direct)
        if direct and region == "roi" and mask_box is not None:
            out._label_box = (mask_box,)
        return out

    @property
    def array(self) -> np.ndarray:
        """The ROI's voxels (a view, napari axis order)."""
        return sitk.GetArrayViewFromImage(self.roi)

    def label_box(self) -> tuple[slice, ...] | None:
        """The bounding box of ``label`` (None if absent) in the ROI as given, before
        pyradiomics' checks; found once (a pass over the whole mask, which the checks and the
        grey-level refusals both ask for)."""
        if self._label_box is None:
            self._label_box = (label_boxes((self.array == self.label).view(np.uint8)).get(1),)
        return self._label_box[0]

    def check(self, image: sitk.Image) -> None:
        """pyradiomics' ``checkMask``: the ROI's size and dimensions, and on another grid the
        mask resampled onto the image (``correctMask``) or refused; a ``ExtractionError``
        naming the label and pyradiomics' reason."""
        try:
            if self.direct:
                box = self.label_box()
                assert box is not None  # the label was checked present before
                count = int(np.count_nonzero(self.array[box] == self.label))
                check_box(box, count, self.settings)
                self.box = box
                return
            bounds, corrected = imageoperations.checkMask(image, self.roi, **self.settings)
        except ValueError as err:
            raise ExtractionError(f"ROI label {self.label}: {err}") from None
        if bounds is None:
            raise ExtractionError(f"ROI label {self.label}: pyradiomics' mask checks failed")
        if corrected is not None:
            self.roi, self._label_box = corrected, None
        self.bounds = bounds

    def crops(self, filtered: sitk.Image) -> tuple[sitk.Image, sitk.Image]:
        """``filtered`` and the mask cropped to the checked box plus the kernel radius (clipped
        to the image), as ``cropToTumorMask`` crops them."""
        if not self.direct:
            return imageoperations.cropToTumorMask(
                filtered, self.roi, self.bounds, padDistance=self.radius
            )
        assert self.box is not None, "check() first"
        array = self.array
        padded = tuple(
            slice(max(s.start - self.radius, 0), min(s.stop + self.radius, n))
            for s, n in zip(self.box, array.shape, strict=True)
        )
        crop = crop_to(filtered, sitk.GetArrayViewFromImage(filtered), padded)
        crop_mask = sitk.GetImageFromArray(array[padded].astype(np.uint32))  # getMask's type
        crop_mask.CopyInformation(crop)
        return crop, crop_mask


def _box_mask(roi: sitk.Image, label: int, margin: int) -> sitk.Image:
    """The ROI's bounding box grown by ``margin`` voxels (clipped to the image), as a mask."""
    array = sitk.GetArrayViewFromImage(roi)
    box = label_boxes((array == label).astype(np.uint8))[1]
    grown = tuple(
        slice(max(s.start - margin, 0), min(s.stop + margin, n))
        for s, n in zip(box, array.shape, strict=True)
    )
    filled = np.zeros(array.shape, dtype=np.uint32)
    filled[grown] = label
    out = sitk.GetImageFromArray(filled)
    out.CopyInformation(roi)
    return out
