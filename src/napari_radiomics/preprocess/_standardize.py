"""Intensity standardisation: z-score within a mask, and Nyul histogram standardisation.

MRI grey values have no absolute scale: the same tissue reads 400 on one scan and 900 on the
next, so fixed-bin-width features compare scanner settings as much as tissue. Two common cures:

* **z-score within the head**: subtract the mean and divide by the standard deviation of the
  pixels in a mask (the Otsu head mask by default). pyradiomics' own ``normalize`` takes the
  whole image, air included, so the share of air in the field of view moves every slice's
  scale; within the head it does not.
* **Nyul histogram standardisation** (Nyul & Udupa 1999; Nyul, Udupa & Zhang 2000): percentile
  landmarks of each image's foreground are mapped piecewise-linearly onto standard landmarks
  learned on training cases, so the same tissue gets the same value in every case. Learned once
  (``fit`` on the training cases), then applied unchanged (``transform``), as a scikit-learn
  transformer is, so a test case never shapes the scale it is measured on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics._atomic import replaced
from napari_radiomics.errors import PreprocessError, ReadError, WriteError

__all__ = ["NYUL_PERCENTILES", "WITHIN", "NyulStandardizer", "zscore"]

#: The pixels a standardisation takes its statistics or landmarks from: the Otsu head mask or
#: the whole image.
WITHIN = ("head", "image")
#: Nyul's landmarks: the 1st and 99th percentiles (the ends of the standard scale) and deciles.
NYUL_PERCENTILES: tuple[float, ...] = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)
#: A landmarks file is a few hundred bytes; anything this large is not one (and is not parsed).
_MAX_LANDMARKS_BYTES = 1 << 16
#: What ``fit`` reads when the masks run out before the images.
_NO_MASK: Any = object()


def _values(image: sitk.Image, mask: sitk.Image | None) -> np.ndarray:
    """The pixels of ``image`` where ``mask`` is non-zero (every pixel without a mask), all
    finite: one NaN among them would make the statistics, and so every pixel, NaN."""
    array = sitk.GetArrayViewFromImage(image)
    if mask is None:
        values = np.asarray(array, dtype=np.float64).ravel()
    else:
        inside = sitk.GetArrayViewFromImage(mask) != 0
        if inside.shape != array.shape:
            raise PreprocessError(
                f"the standardisation mask is {inside.shape[::-1]} pixels, the image "
                f"{array.shape[::-1]}"
            )
        values = np.asarray(array[inside], dtype=np.float64)
    if values.size < 2:
        raise PreprocessError(f"the standardisation mask holds {values.size} pixel(s), need 2")
    if not np.isfinite(values).all():
        raise PreprocessError(
            "NaN or infinite values where the standardisation takes its statistics: every "
            "standardised pixel would be NaN; replace them first"
        )
    return values


def _like(image: sitk.Image, array: np.ndarray) -> sitk.Image:
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


def zscore(image: sitk.Image, mask: sitk.Image | None = None, scale: float = 1.0) -> sitk.Image:
    """``scale * (image - mean) / std`` with the mean and (population) standard deviation of
    the pixels inside ``mask`` (all pixels without one), applied to the whole image, as
    Float64 on the same grid."""
    values = _values(image, mask)
    mean, std = float(values.mean()), float(values.std())
    if std == 0:
        raise PreprocessError(
            f"every pixel in the standardisation mask is {mean:g}: no spread to divide by"
        )
    array = sitk.GetArrayViewFromImage(image).astype(np.float64)
    return _like(image, scale * (array - mean) / std)


class NyulStandardizer:
    """Nyul histogram standardisation: ``fit(images, masks)`` learns the standard landmarks,
    ``transform(image, mask)`` maps an image onto them.

    ``percentiles``: the landmarks, from the lower to the upper end of the standard scale;
    ``scale``: the values the first and last landmarks get (``(0, 100)``). Intensities outside
    the first and last landmarks are extended linearly with the end segments' slopes.
    Where an image's end landmarks tie with their neighbours (many pixels at the lowest value),
    the end slopes come from the nearest distinct landmarks, so the map stays finite and
    monotone. ``landmarks_`` (after ``fit`` or ``from_dict``): the standard value of each
    percentile.

    ``within``: which pixels the fit's masks stood for (``"head"``, the Otsu head mask, or
    ``"image"``), recorded in the landmarks file because landmarks learned on one are wrong for
    images measured on the other, and nothing in the numbers shows it; None when unknown (a
    fit given masks by hand, a file written before it was recorded).
    """

    def __init__(
        self,
        percentiles: Sequence[float] = NYUL_PERCENTILES,
        scale: tuple[float, float] = (0.0, 100.0),
        within: str | None = None,
    ) -> None:
        self.percentiles = [float(p) for p in percentiles]
        self.scale = (float(scale[0]), float(scale[1]))
        if within is not None and within not in WITHIN:
            raise PreprocessError(f"Nyul within must be one of {list(WITHIN)}, got {within!r}")
        self.within = within
        if len(self.percentiles) < 2 or np.any(np.diff(self.percentiles) <= 0):
            raise PreprocessError(
                f"Nyul percentiles must be at least two, increasing: {self.percentiles}"
            )
        if not (self.percentiles[0] >= 0 and self.percentiles[-1] <= 100):
            raise PreprocessError(f"Nyul percentiles must lie in 0..100: {self.percentiles}")
        if not self.scale[0] < self.scale[1]:
            raise PreprocessError(f"Nyul scale must be (low, high) with low < high: {scale}")
        self.landmarks_: list[float] | None = None

    def _image_landmarks(self, image: sitk.Image, mask: sitk.Image | None) -> np.ndarray:
        landmarks = np.percentile(_values(image, mask), self.percentiles)
        if landmarks[-1] <= landmarks[0]:
            raise PreprocessError(
                f"the image's {self.percentiles[0]:g}th and {self.percentiles[-1]:g}th "
                f"percentiles are equal ({landmarks[0]:g}): no histogram to standardise"
            )
        return landmarks

    def fit(
        self, images: Iterable[sitk.Image], masks: Iterable[sitk.Image | None] | None = None
    ) -> NyulStandardizer:
        """Learn the standard landmarks: each image's landmarks mapped linearly so its first
        and last fall on ``scale``, then averaged over the images.

        ``images`` and ``masks`` are read one pair at a time, so they may be generators: a
        training set of thousands of slices is never held in memory at once."""
        mask_items = iter(masks) if masks is not None else None
        low, high = self.scale
        mapped = []
        for image in images:
            mask = None if mask_items is None else next(mask_items, _NO_MASK)
            if mask is _NO_MASK:
                raise PreprocessError(
                    f"Nyul fit needs as many masks as images: no mask for image {len(mapped) + 1}"
                )
            marks = self._image_landmarks(image, mask)
            mapped.append(low + (marks - marks[0]) * (high - low) / (marks[-1] - marks[0]))
        if not mapped:
            raise PreprocessError("Nyul fit needs one or more images, got none")
        if mask_items is not None and next(mask_items, _NO_MASK) is not _NO_MASK:
            raise PreprocessError(
                f"Nyul fit needs as many masks as images: more masks than the {len(mapped)} images"
            )
        self.landmarks_ = [float(v) for v in np.mean(mapped, axis=0)]
        return self

    def transform(self, image: sitk.Image, mask: sitk.Image | None = None) -> sitk.Image:
        """``image`` mapped piecewise-linearly from its own landmarks (within ``mask``) onto
        the learned ones, as Float64 on the same grid."""
        if self.landmarks_ is None:
            raise PreprocessError("Nyul standardisation is not fitted: fit it or load landmarks")
        source = self._image_landmarks(image, mask)
        target = np.asarray(self.landmarks_)
        array = sitk.GetArrayViewFromImage(image).astype(np.float64)
        out = np.interp(array, source, target)
        below, above = array < source[0], array > source[-1]
        # Each end's slope from the nearest landmark distinct from the end one: a head with
        # many pixels at its lowest value has p1 == p10, whose slope would be infinite.
        low = int(np.argmax(source > source[0]))
        high = int(len(source) - 1 - np.argmax(source[::-1] < source[-1]))
        slope_low = (target[low] - target[0]) / (source[low] - source[0])
        slope_high = (target[-1] - target[high]) / (source[-1] - source[high])
        out[below] = target[0] + (array[below] - source[0]) * slope_low
        out[above] = target[-1] + (array[above] - source[-1]) * slope_high
        return _like(image, out)

    # -- persistence: the learned landmarks travel with the settings or in a file -------------
    def to_dict(self) -> dict[str, Any]:
        """Percentiles, scale, learned landmarks and, when known, ``within`` as plain data."""
        data: dict[str, Any] = {
            "percentiles": list(self.percentiles),
            "scale": list(self.scale),
            "landmarks": None if self.landmarks_ is None else list(self.landmarks_),
        }
        if self.within is not None:
            data["within"] = self.within
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "Nyul landmarks") -> NyulStandardizer:
        """The standardiser ``to_dict`` described; PreprocessError naming ``where`` if not."""
        if not isinstance(data, dict) or not isinstance(data.get("landmarks"), list):
            raise PreprocessError(f"{where}: expected a mapping with a 'landmarks' list")
        unknown = set(data) - {"percentiles", "scale", "landmarks", "within"}
        if unknown:
            raise PreprocessError(f"{where}: unknown key(s) {sorted(unknown)}")
        try:
            out = cls(
                data.get("percentiles", NYUL_PERCENTILES),
                data.get("scale", (0, 100)),
                data.get("within"),
            )
            landmarks = [float(v) for v in data["landmarks"]]
        except (TypeError, ValueError, IndexError) as err:
            raise PreprocessError(f"{where}: not numbers ({err})") from None
        except PreprocessError as err:
            raise PreprocessError(f"{where}: {err}") from None
        if len(landmarks) != len(out.percentiles) or np.any(np.diff(landmarks) <= 0):
            raise PreprocessError(
                f"{where}: expected {len(out.percentiles)} increasing landmarks (one per "
                f"percentile), got {landmarks}"
            )
        out.landmarks_ = landmarks
        return out

    def save(self, path: str | Path) -> Path:
        """Write the learned landmarks as JSON (atomically)."""
        if self.landmarks_ is None:
            raise PreprocessError("Nyul standardisation is not fitted: nothing to save")
        path = Path(path)
        try:
            with replaced(path) as temporary:
                temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n", "utf-8")
        except OSError as err:
            raise WriteError(path, f"cannot write the Nyul landmarks ({err.strerror})") from None
        return path

    @classmethod
    def load(cls, path: str | Path) -> NyulStandardizer:
        """Landmarks written by ``save``; ReadError naming the file if it is missing or
        damaged."""
        path = Path(path)
        try:
            if path.stat().st_size > _MAX_LANDMARKS_BYTES:
                raise ReadError(path, "too large to be a Nyul landmarks file")
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ReadError(path, f"cannot read the Nyul landmarks ({err.strerror})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ReadError(path, f"not a Nyul landmarks file (not JSON: {err})") from None
        try:
            return cls.from_dict(data, "Nyul landmarks")
        except PreprocessError as err:
            raise ReadError(path, str(err)) from None
