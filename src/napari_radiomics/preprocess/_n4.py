"""N4 bias-field correction as SimpleITK's own N4 example does it, every parameter settable.

MRI intensities carry a smooth multiplicative bias field (coil sensitivity): the same tissue is
brighter near a coil than far from it, and texture features read that gradient as texture.
SimpleITK's example (``Examples/N4BiasFieldCorrection/N4BiasFieldCorrection.py``) corrects it
in four steps, kept here in the same order with the same calls:

1. a foreground (head) mask by Otsu thresholding, ``OtsuThreshold(image, 0, 1, 200)``, so air
   does not take part in the fit;
2. image and mask shrunk by a factor (4 here) for fitting: the field is smooth, and fitting
   on a 128x128 version of a 512x512 slice costs a sixteenth;
3. ``N4BiasFieldCorrectionImageFilter`` fitted at 4 levels of 50 iterations each (the number
   of levels is the length of ``iterations``);
4. the full-resolution image divided by ``exp`` of the fitted log bias field, evaluated on the
   full grid (``GetLogBiasFieldAsImage(full_image)``), so no detail is lost to the shrinking.

N4 runs on one thread: its B-spline fit takes SimpleITK's process-wide thread count, and its
result changes with it (by 1e-3 of the log field on a 64x64 slice), so the napari viewer (all
cores) and a batch worker (one thread) would give the same case different features. One thread
gives the same numbers wherever it runs.

The head mask depends on the image only, never on the ROI, so a corrected image can be reused
for every mask drawn on it (the engine caches it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics.errors import PreprocessError

__all__ = ["N4_DEFAULTS", "head_mask", "n4_correct", "one_thread"]

#: Held while SimpleITK's process-wide thread count is lowered for N4.
_THREADS_LOCK = threading.Lock()

#: N4's parameters and their defaults (those of SimpleITK's example and filter).
N4_DEFAULTS: dict[str, Any] = {
    "shrink_factor": 4,  # fit on the image shrunk by this factor along every axis
    "iterations": [50, 50, 50, 50],  # one entry per fitting level (4 levels of 50)
    "convergence_threshold": 0.001,
    "spline_order": 3,
    "control_points": 4,  # per axis, at the coarsest level
    "histogram_bins": 200,  # of the Otsu threshold and of N4's intensity histogram
    "bias_field_fwhm": 0.15,
    "wiener_filter_noise": 0.01,
}


def head_mask(image: sitk.Image, bins: int = 200) -> sitk.Image:
    """The foreground (head, body) by Otsu thresholding: 1 above the threshold, 0 in the air.

    Raises PreprocessError for an image without a foreground (constant, e.g. all zero), where
    any statistic "within the head" would be meaningless.
    """
    array = sitk.GetArrayViewFromImage(image)
    if array.size == 0 or not np.isfinite(array).all():
        raise PreprocessError("the image has no pixels or holds NaN/infinite values")
    low, high = float(array.min()), float(array.max())
    if low == high:
        raise PreprocessError(
            f"the image is constant (every pixel {low:g}): it has no foreground (head) for "
            "N4 or a standardisation within the head"
        )
    return sitk.OtsuThreshold(image, 0, 1, bins)


def n4_correct(image: sitk.Image, **options: Any) -> sitk.Image:
    """``image`` (any scalar type) divided by N4's bias field, as Float32 on the same grid.

    ``options``: any of :data:`N4_DEFAULTS`. Raises PreprocessError for an image without a
    foreground or one N4 cannot fit (ITK's reason in the message).
    """
    opts = {**N4_DEFAULTS, **options}
    full = sitk.Cast(image, sitk.sitkFloat32)
    size = full.GetSize()
    if full.GetDimension() == 3 and size.count(1) == 1:
        # One slice of a volume (z size 1, as NRRD slices often are): a 3D fit has nothing
        # to fit along that axis and ITK refuses it, so the plane is corrected in 2D and put
        # back on the volume's grid (origin, spacing and direction unchanged).
        plane = sitk.Extract(full, [n if n > 1 else 0 for n in size], [0, 0, 0])
        corrected = _correct(plane, opts)
        out = sitk.GetImageFromArray(sitk.GetArrayFromImage(corrected).reshape(size[::-1]))
        out.CopyInformation(full)
        return out
    return _correct(full, opts)


def _correct(full: sitk.Image, opts: dict[str, Any]) -> sitk.Image:
    """SimpleITK's example on a Float32 image. The shrink factor is clamped per axis so the
    shrunk image keeps two voxels along each: along an axis shrunk to one voxel the B-spline
    lattice has no extent and ITK refuses the fit (a thin stack of a few slices)."""
    mask = head_mask(full, opts["histogram_bins"])
    shrink = [min(int(opts["shrink_factor"]), max(1, n // 2)) for n in full.GetSize()]
    small, small_mask = sitk.Shrink(full, shrink), sitk.Shrink(mask, shrink)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(n) for n in opts["iterations"]])
    corrector.SetConvergenceThreshold(float(opts["convergence_threshold"]))
    corrector.SetSplineOrder(int(opts["spline_order"]))
    corrector.SetNumberOfControlPoints([int(opts["control_points"])] * full.GetDimension())
    corrector.SetNumberOfHistogramBins(int(opts["histogram_bins"]))
    corrector.SetBiasFieldFullWidthAtHalfMaximum(float(opts["bias_field_fwhm"]))
    corrector.SetWienerFilterNoise(float(opts["wiener_filter_noise"]))
    try:
        with one_thread():
            corrector.Execute(small, small_mask)
            log_bias = corrector.GetLogBiasFieldAsImage(full)
    except RuntimeError as err:  # ITK's exception, e.g. too few foreground pixels to fit
        reason = str(err).strip().splitlines()[-1]
        raise PreprocessError(f"N4 bias-field correction failed: {reason}") from None
    return full / sitk.Exp(log_bias)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """SimpleITK's default thread count set to 1 for the block (then put back): N4's numbers
    depend on it (see the module docstring).

    The count is process-wide, so this has a side effect: while N4 runs, SimpleITK filters
    started in other threads (an Extract or a maps worker of the viewer) also run on one
    thread, and a count another thread sets meanwhile is put back to the one before when the
    block ends. The module lock keeps two N4 runs in two threads from interleaving their set
    and restore, where the second would put back the first's 1 for good."""
    with _THREADS_LOCK:
        before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
        try:
            yield
        finally:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
