"""z-score within the head and Nyul histogram standardisation, against NumPy by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.errors import ReadError
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import NyulStandardizer, PreprocessError, apply_steps, zscore


def _image(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.9))
    return image


def test_zscore_within_the_head_mask_by_hand() -> None:
    array = make_synthetic_slice(seed=5, shape=(96, 96)).image.astype(np.float64)
    image = _image(array)
    head = sitk.GetArrayFromImage(sitk.OtsuThreshold(image, 0, 1, 200)) == 1
    expected = (array - array[head].mean()) / array[head].std()
    ours = apply_steps(image, {"zscore": {}})  # within the head by default
    assert np.allclose(sitk.GetArrayFromImage(ours), expected, rtol=0, atol=1e-12)
    assert ours.GetSpacing() == image.GetSpacing()
    # pyradiomics' normalize (the whole image, air included) is another scale altogether
    whole = sitk.GetArrayFromImage(apply_steps(image, {"zscore": {"within": "image"}}))
    assert np.allclose(whole, (array - array.mean()) / array.std(), rtol=0, atol=1e-12)
    assert not np.allclose(whole, expected, atol=0.1)


def test_zscore_scale_and_constant_mask() -> None:
    array = np.arange(64.0).reshape(8, 8)
    mask = _image((array < 32).astype(np.uint8))
    ours = sitk.GetArrayFromImage(zscore(_image(array), mask, scale=100.0))
    inside = array[array < 32]
    assert np.allclose(ours, 100 * (array - inside.mean()) / inside.std(), atol=1e-12)
    with pytest.raises(PreprocessError, match="no spread"):
        zscore(_image(np.where(array < 32, 7.0, array)), mask)
    with_nan = np.where(array == 63, np.nan, array)  # outside the mask: that pixel only
    assert np.isnan(sitk.GetArrayFromImage(zscore(_image(with_nan), mask))).sum() == 1
    with pytest.raises(PreprocessError, match="NaN or infinite values where"):
        zscore(_image(with_nan))  # the whole image's statistics: refused
    with pytest.raises(PreprocessError, match="NaN or infinite values where"):
        NyulStandardizer().fit([_image(with_nan)])


#: 10001 pixels valued 0..10000: the p-th percentile is exactly 100 p.
UNIFORM = np.arange(10001, dtype=np.float64).reshape(73, 137)


def test_nyul_learns_known_landmarks_and_maps_onto_them() -> None:
    # Any affine copy of an image has the same standard landmarks: (p - 1) * 100 / 98.
    images = [_image(UNIFORM), _image(2.5 * UNIFORM + 40)]
    nyul = NyulStandardizer().fit(images)
    expected = [(p - 1) * 100 / 98 for p in nyul.percentiles]
    assert np.allclose(nyul.landmarks_, expected, rtol=0, atol=1e-12)
    # Equally spaced landmarks: the map is one line, extended past both ends.
    for image in images:
        out = sitk.GetArrayFromImage(nyul.transform(image))
        assert np.allclose(out, (UNIFORM - 100) / 98, rtol=0, atol=1e-9)
    # A non-linear histogram (values v**2 / 10**4: the p-th percentile is p**2) is mapped
    # landmark onto landmark, linearly in between.
    squared = UNIFORM**2 / 1e4
    out = sitk.GetArrayFromImage(nyul.transform(_image(squared))).ravel()
    for p, standard in zip(nyul.percentiles, expected, strict=True):
        assert out[int(100 * p)] == pytest.approx(standard, abs=1e-9)
    between = 0.5 * (10**2 + 20**2)  # halfway between the 10th and 20th percentiles' values
    assert np.interp(between, [100, 400], [expected[1], expected[2]]) == pytest.approx(
        np.interp(between, squared.ravel(), out)
    )


def test_nyul_within_masks(tmp_path: Path) -> None:
    # Only the masked pixels count: the same landmarks with any values outside the mask.
    mask = _image((UNIFORM % 2 == 0).astype(np.uint8))
    noisy = np.where(UNIFORM % 2 == 0, UNIFORM, -5000.0)
    plain = NyulStandardizer().fit([_image(UNIFORM)], [mask])
    other = NyulStandardizer().fit([_image(noisy)], [mask])
    assert plain.landmarks_ == other.landmarks_


def test_nyul_landmarks_round_trip_and_bad_files(tmp_path: Path) -> None:
    nyul = NyulStandardizer(percentiles=[2, 25, 50, 75, 98], scale=(0, 1)).fit([_image(UNIFORM)])
    path = nyul.save(tmp_path / "landmarks.json")
    again = NyulStandardizer.load(path)
    assert again.to_dict() == nyul.to_dict()
    image = _image(np.sqrt(UNIFORM))
    same = sitk.GetArrayFromImage(again.transform(image))
    assert np.array_equal(same, sitk.GetArrayFromImage(nyul.transform(image)))
    with pytest.raises(ReadError, match=r"missing\.json: cannot read the Nyul landmarks"):
        NyulStandardizer.load(tmp_path / "missing.json")
    damaged = tmp_path / "damaged.json"
    damaged.write_text(path.read_text()[:40])
    with pytest.raises(ReadError, match=r"damaged\.json: not a Nyul landmarks file"):
        NyulStandardizer.load(damaged)
    data = json.loads(path.read_text())
    data["landmarks"] = data["landmarks"][::-1]
    damaged.write_text(json.dumps(data))
    with pytest.raises(ReadError, match=r"damaged\.json: .*5 increasing landmarks"):
        NyulStandardizer.load(damaged)


def test_nyul_refuses_what_it_cannot_use() -> None:
    with pytest.raises(PreprocessError, match="not fitted"):
        NyulStandardizer().transform(_image(UNIFORM))
    with pytest.raises(PreprocessError, match="increasing"):
        NyulStandardizer(percentiles=[50, 10])
    flat = _image(np.ones((16, 16)))
    with pytest.raises(PreprocessError, match="percentiles are equal"):
        NyulStandardizer().fit([flat])


def test_nyul_fit_reads_images_and_masks_one_pair_at_a_time() -> None:
    arrays = [make_synthetic_slice(seed=s, shape=(48, 48)).image.astype(float) for s in range(4)]
    pulled: list[str] = []

    def images() -> Iterator[sitk.Image]:
        for array in arrays:
            pulled.append("image")
            yield _image(array)

    def masks() -> Iterator[sitk.Image]:
        for array in arrays:
            assert pulled.count("image") == pulled.count("mask") + 1  # its image, no further
            pulled.append("mask")
            yield _image((array > array.mean()).astype(np.uint8))

    streamed = NyulStandardizer().fit(images(), masks())
    listed = NyulStandardizer().fit(
        [_image(a) for a in arrays], [_image((a > a.mean()).astype(np.uint8)) for a in arrays]
    )
    assert streamed.landmarks_ == listed.landmarks_
    assert pulled == ["image", "mask"] * 4
    one = [_image(arrays[0])]
    with pytest.raises(PreprocessError, match="no mask for image 2"):
        NyulStandardizer().fit(one * 2, one)
    with pytest.raises(PreprocessError, match="more masks than the 1 images"):
        NyulStandardizer().fit(one, one * 2)
    with pytest.raises(PreprocessError, match="one or more images, got none"):
        NyulStandardizer().fit(iter([]))


def _tied_head() -> tuple[np.ndarray, np.ndarray]:
    """A head (the right 3/4) whose lowest value holds 15% of its pixels, so its 1st and 10th
    percentiles tie, and air darker still on the left."""
    array = UNIFORM.copy() + 1000.0
    head = np.zeros(array.shape, bool)
    head[:, array.shape[1] // 4 :] = True
    lowest = array[head].min()
    flat = head & (array < np.percentile(array[head], 15))
    array[flat] = lowest
    array[~head] = np.linspace(0.0, 500.0, int((~head).sum()))
    return array, head


def test_nyul_with_tied_end_landmarks_stays_finite_and_monotone() -> None:
    array, head = _tied_head()
    mask = _image(head.astype(np.uint8))
    nyul = NyulStandardizer().fit([_image(UNIFORM)])
    source = np.percentile(array[head], nyul.percentiles)
    assert source[0] == source[1]  # p1 == p10: the old end slope divided by zero
    out = sitk.GetArrayFromImage(nyul.transform(_image(array), mask))
    assert np.isfinite(out).all()
    order = np.argsort(array, axis=None, kind="stable")
    assert (np.diff(out.ravel()[order]) >= 0).all()  # brighter in, never darker out
    # The air below the head follows the slope from p1 to p20, the nearest distinct landmark.
    slope = (nyul.landmarks_[2] - nyul.landmarks_[0]) / (source[2] - source[0])
    air = ~head
    expected = nyul.landmarks_[0] + (array[air] - source[0]) * slope
    assert np.allclose(out[air], expected, rtol=0, atol=1e-9)
    # Flipped (the ties at the top), the upper end stays finite as well.
    flipped = sitk.GetArrayFromImage(nyul.transform(_image(-array), mask))
    assert np.isfinite(flipped).all()


def test_a_step_that_makes_pixels_non_finite_is_refused_naming_it() -> None:
    # Values near float64's limit: the mean overflows, and every z-score would be NaN.
    huge = np.where(UNIFORM % 2 == 0, 1.5e308, -1.5e308)
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(PreprocessError, match=r"preprocess zscore made 10001 pixel\(s\) NaN"),
    ):
        apply_steps(_image(huge), {"zscore": {"within": "image"}})
