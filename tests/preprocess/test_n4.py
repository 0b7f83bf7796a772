"""N4 bias-field correction: SimpleITK's filter as its own example runs it, equal to the pixel."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import PreprocessError, head_mask, n4_correct
from napari_radiomics.preprocess._n4 import one_thread


def _biased_slice(shape: tuple[int, int] = (128, 128)) -> tuple[sitk.Image, np.ndarray]:
    """A synthetic slice times a smooth field rising 60% from left to right (the bias), and
    the slice without it."""
    clean = make_synthetic_slice(seed=3, shape=shape).image.astype(np.float64)
    field = np.linspace(0.8, 1.4, shape[1])[None, :] * np.ones(shape)
    return sitk.GetImageFromArray(clean * field), clean


def _by_hand(image: sitk.Image, shrink: int, iterations: list[int], **extra: float) -> np.ndarray:
    """SimpleITK's N4 example (Examples/N4BiasFieldCorrection), written out in the test, on
    one thread (N4's fit depends on SimpleITK's thread count)."""
    full = sitk.Cast(image, sitk.sitkFloat32)
    mask = sitk.OtsuThreshold(full, 0, 1, 200)
    small = sitk.Shrink(full, [shrink] * full.GetDimension())
    small_mask = sitk.Shrink(mask, [shrink] * full.GetDimension())
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(iterations)
    if "control_points" in extra:
        corrector.SetNumberOfControlPoints([int(extra["control_points"])] * full.GetDimension())
    if "convergence_threshold" in extra:
        corrector.SetConvergenceThreshold(extra["convergence_threshold"])
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        corrector.Execute(small, small_mask)
        corrected = full / sitk.Exp(corrector.GetLogBiasFieldAsImage(full))
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
    return sitk.GetArrayFromImage(corrected)


def test_defaults_equal_simpleitk_example_run_by_hand() -> None:
    image, _ = _biased_slice()
    ours = n4_correct(image)
    assert np.array_equal(sitk.GetArrayFromImage(ours), _by_hand(image, 4, [50, 50, 50, 50]))
    assert ours.GetSize() == image.GetSize()
    assert ours.GetSpacing() == image.GetSpacing()


def test_every_parameter_is_passed_to_the_filter() -> None:
    image, _ = _biased_slice()
    options = {"control_points": 6, "convergence_threshold": 0.0001}
    ours = n4_correct(image, shrink_factor=2, iterations=[20, 10], **options)
    expected = _by_hand(image, 2, [20, 10], **options)
    assert np.array_equal(sitk.GetArrayFromImage(ours), expected)
    default = sitk.GetArrayFromImage(n4_correct(image))
    assert not np.array_equal(expected, default)  # the options changed the result


def test_3d_volume_on_its_grid() -> None:
    slices = [make_synthetic_slice(seed=s, shape=(64, 64)).image for s in range(8)]
    volume = sitk.GetImageFromArray(np.stack(slices).astype(np.float64) + 1.0)
    volume.SetSpacing((0.5, 0.5, 3.0))
    volume.SetOrigin((10.0, -4.0, 2.5))
    ours = n4_correct(volume, shrink_factor=2)
    assert np.array_equal(sitk.GetArrayFromImage(ours), _by_hand(volume, 2, [50] * 4))
    assert ours.GetSpacing() == volume.GetSpacing()
    assert ours.GetOrigin() == volume.GetOrigin()


def test_removes_most_of_a_known_bias() -> None:
    image, clean = _biased_slice()
    inside = sitk.GetArrayFromImage(head_mask(sitk.GetImageFromArray(clean))) == 1
    corrected = sitk.GetArrayFromImage(n4_correct(image))

    def left_right(array: np.ndarray) -> float:  # mean right half / mean left half, head only
        half = array.shape[1] // 2
        left, right = inside.copy(), inside.copy()
        left[:, half:], right[:, :half] = False, False
        return float(array[right].mean() / array[left].mean())

    biased = left_right(sitk.GetArrayFromImage(image)) / left_right(clean)
    after = left_right(corrected) / left_right(clean)
    assert biased > 1.15  # the field made the right half brighter
    assert abs(after - 1) < (biased - 1) / 3


@pytest.mark.parametrize("value", [0, 300])
def test_constant_image_is_refused_with_the_reason(value: int) -> None:
    image = sitk.GetImageFromArray(np.full((64, 64), value, dtype=np.int16))
    with pytest.raises(PreprocessError, match=rf"constant \(every pixel {value}\).*foreground"):
        n4_correct(image)


def test_same_numbers_whatever_simpleitk_thread_count() -> None:
    # A batch worker runs SimpleITK on one thread, the viewer on all cores: N4's fit depends
    # on that count, so the correction pins it and the features of a case do not.
    image, _ = _biased_slice()
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    try:
        results = []
        for threads in (1, 4):
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
            results.append(sitk.GetArrayFromImage(n4_correct(image)))
            assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == threads  # put back
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
    assert np.array_equal(results[0], results[1])
    with one_thread():
        assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 1


def test_one_slice_volume_is_corrected_as_its_2d_plane() -> None:
    # An NRRD slice: a 3D volume of z size 1. A 3D fit cannot shrink or fit along z (ITK
    # refused "from [1,1,1] to [63,63,0]" even with shrink_factor 1).
    plane, _ = _biased_slice((96, 96))
    volume = sitk.JoinSeries(plane)
    volume.SetSpacing((0.8, 0.9, 5.0))
    volume.SetOrigin((-30.0, 12.0, 7.5))
    for shrink in (4, 1):
        ours = n4_correct(volume, shrink_factor=shrink)
        assert ours.GetSize() == volume.GetSize()
        assert ours.GetSpacing() == volume.GetSpacing()
        assert ours.GetOrigin() == volume.GetOrigin()
        assert ours.GetDirection() == volume.GetDirection()
        flat = sitk.Extract(volume, [96, 96, 0], [0, 0, 0])  # the plane, with its spacing
        expected = _by_hand(flat, shrink, [50] * 4)
        assert np.array_equal(sitk.GetArrayFromImage(ours)[0], expected)


def test_shrink_factor_is_clamped_to_a_short_axis() -> None:
    # 3 slices shrunk by 4 (or 2) leave one: the factor along z is 1, so two or more remain.
    slices = [make_synthetic_slice(seed=s, shape=(64, 64)).image for s in range(3)]
    volume = sitk.GetImageFromArray(np.stack(slices).astype(np.float64) + 1.0)
    ours = sitk.GetArrayFromImage(n4_correct(volume, iterations=[20, 10]))
    assert np.isfinite(ours).all()
    assert ours.shape == (3, 64, 64)


def test_a_second_n4_in_another_thread_waits_and_the_count_is_put_back() -> None:
    # The thread count is process-wide: a second N4 entering while the first holds 1 would
    # save that 1 and put it back for good. It waits for the first instead.
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(3)
    seen: list[int] = []

    def second() -> None:
        with one_thread():
            seen.append(sitk.ProcessObject.GetGlobalDefaultNumberOfThreads())

    try:
        with one_thread():
            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.2)
            assert thread.is_alive()  # waiting for the first block to end
            assert seen == []
        thread.join()
        assert seen == [1]
        assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 3
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
