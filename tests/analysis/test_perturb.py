"""Mask and image perturbations: physical distances, the supervoxel rules, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_radiomics.analysis.perturb import (
    ALWAYS_KEEP,
    MIN_VOLUME_FRACTION,
    NEVER_KEEP,
    PerturbationPlan,
    add_noise,
    grow_shrink,
    grow_shrink_volume,
    mask_outlines,
    noise_sigma,
    perturb,
    supervoxel_contour,
)
from napari_radiomics.io.synthetic import make_synthetic_slice

SPACING = (1.0, 0.4, 0.4)  # anisotropic: 1 mm slices, 0.4 mm pixels
RADIUS = 10.0  # mm


def sphere(radius: float = RADIUS, spacing: tuple[float, ...] = SPACING) -> np.ndarray:
    shape = [int(np.ceil(2 * (radius + 6) / s)) | 1 for s in spacing]
    axes = [(np.arange(n) - n // 2) * s for n, s in zip(shape, spacing, strict=True)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return zz**2 + yy**2 + xx**2 <= radius**2


def volume(mask: np.ndarray, spacing: tuple[float, ...] = SPACING) -> float:
    return float(mask.sum() * np.prod(spacing))


@pytest.mark.parametrize("distance", [2.0, 3.0, -2.0, -3.0])
def test_grow_and_shrink_move_the_border_by_millimetres_on_an_anisotropic_grid(
    distance: float,
) -> None:
    moved = grow_shrink(sphere(), SPACING, distance)
    # The voxelised border lags the ideal sphere by ~3% at this resolution, both ways.
    expected = 4 / 3 * np.pi * (RADIUS + distance) ** 3
    assert volume(moved) == pytest.approx(expected, rel=0.05)
    # the same millimetres along every axis: the extent grows alike in z (2 mm voxels) and x
    extent = [np.ptp(np.nonzero(moved)[a]) * s for a, s in enumerate(SPACING)]
    assert extent[0] == pytest.approx(extent[2], abs=SPACING[0])


def test_a_2d_slice_is_grown_in_2d() -> None:
    case = make_synthetic_slice(seed=1, shape=(128, 128))
    grown = grow_shrink(case.mask, (1.0, 1.0), 1.0)
    ring = grown & ~case.mask
    assert ring.any()
    assert np.array_equal(ring, ndimage.binary_dilation(case.mask) & ~case.mask)


def test_volume_fraction_and_its_floor() -> None:
    roi = sphere()
    for fraction in (0.85, 1.2):
        assert volume(grow_shrink_volume(roi, SPACING, fraction)) / volume(roi) == pytest.approx(
            fraction, rel=0.05
        )
    with pytest.raises(ValueError, match=r"below 0\.8"):
        grow_shrink_volume(roi, SPACING, 0.7)


def test_a_roi_too_small_to_shrink_is_named() -> None:
    tiny = np.zeros((5, 5), bool)
    tiny[2, 2] = True
    with pytest.raises(ValueError, match="too small to shrink"):
        grow_shrink(tiny, (1.0, 1.0), -1.0)
    with pytest.raises(ValueError, match="empty"):
        grow_shrink(np.zeros((5, 5), bool), (1.0, 1.0), 1.0)


def test_contour_randomisation_follows_the_overlap_rules() -> None:
    case = make_synthetic_slice(seed=2, shape=(160, 160))
    spacing = (1.0, 1.0)
    for seed in range(5):
        out, info = supervoxel_contour(case.image, case.mask, spacing, np.random.default_rng(seed))
        overlap, kept = info["overlap"], info["kept"]
        assert kept[overlap >= ALWAYS_KEEP].all()
        assert not kept[
            (overlap < NEVER_KEEP) & (np.arange(overlap.size) != overlap.argmax())
        ].any()
        assert kept[overlap.argmax()]
        chosen = np.isin(info["labels"], np.flatnonzero(kept) + 1)
        assert out[info["box"]][chosen].all()  # closing only adds to the kept supervoxels
    again, _ = supervoxel_contour(case.image, case.mask, spacing, np.random.default_rng(4))
    assert np.array_equal(again, out)  # seeded


def test_noise_is_estimated_from_the_image() -> None:
    rng = np.random.default_rng(0)
    smooth = ndimage.gaussian_filter(rng.normal(500, 80, (256, 256)), 8)
    noisy = smooth + rng.normal(0, 5.0, smooth.shape)
    assert noise_sigma(noisy) == pytest.approx(5.0, rel=0.1)
    again = add_noise(noisy, np.random.default_rng(1))
    assert np.std(again - noisy) == pytest.approx(noise_sigma(noisy), rel=0.05)


def test_perturbations_are_seeded_and_independent_of_their_number() -> None:
    case = make_synthetic_slice(seed=3, shape=(192, 192))
    methods = ("grow-shrink", "contour", "noise")
    five = perturb(case.image, case.mask, (1.0, 1.0), PerturbationPlan(5, methods, seed=7))
    three = perturb(case.image, case.mask, (1.0, 1.0), PerturbationPlan(3, methods, seed=7))
    for a, b in zip(three, five[:3], strict=True):
        assert np.array_equal(a.mask, b.mask)
        assert np.array_equal(a.image, b.image)
    assert len({p.mask.tobytes() for p in five}) > 1
    for p in five:
        assert p.mask.sum() >= MIN_VOLUME_FRACTION * case.mask.sum() * 0.5  # contour may cut


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"n": 2, "methods": ("erode",)}, "must be among"),
        ({"n": 2, "methods": ()}, "must be among"),
        ({"n": 2, "methods": ("contour", "contour")}, "repeated"),
        ({"n": 0}, "at least 1"),
        ({"n": 2, "max_distance_mm": 0.0}, "reach must be positive"),
    ],
)
def test_a_bad_plan_is_refused_when_it_is_made(plan: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PerturbationPlan(**plan)  # type: ignore[arg-type]


def test_the_default_reach_moves_the_border_on_a_unit_grid() -> None:
    # Within +-1 mm a border on a 1 mm grid moves by nothing at all; twice the spacing does.
    case = make_synthetic_slice(seed=3, shape=(192, 192))
    moved = perturb(case.image, case.mask, (1.0, 1.0), PerturbationPlan(8, ("grow-shrink",)))
    sizes = {int(p.mask.sum()) for p in moved}
    assert any(size > case.mask.sum() for size in sizes)
    assert any(size < case.mask.sum() for size in sizes)
    assert all(size >= MIN_VOLUME_FRACTION * case.mask.sum() for size in sizes)


def test_a_roi_no_shrink_can_keep_80_percent_of_is_refused_whatever_the_draws() -> None:
    case = make_synthetic_slice(seed=0, shape=(64, 64))  # 79 pixels, 35% of them on the border
    for seed in range(3):
        with pytest.raises(ValueError, match=r"too small to shrink: its outer layer .* 35%"):
            perturb(case.image, case.mask, (1.0, 1.0), PerturbationPlan(2, seed=seed))
    assert perturb(case.image, case.mask, (1.0, 1.0), PerturbationPlan(2, ("contour",)))


def test_a_shrink_held_at_the_floor_never_goes_below_it() -> None:
    case = make_synthetic_slice(seed=1, shape=(192, 192))
    held = grow_shrink_volume(case.mask, (1.0, 1.0), MIN_VOLUME_FRACTION)
    assert MIN_VOLUME_FRACTION * case.mask.sum() <= held.sum() < case.mask.sum()


def test_a_mask_outline_runs_along_its_pixels_edges_on_its_slice() -> None:
    mask = np.zeros((8, 10), bool)
    mask[2:5, 3:7] = True
    (path,) = mask_outlines(mask, (4.0,))
    assert np.all(path[:, 0] == 4.0)
    np.testing.assert_allclose(path[:, 1:].min(axis=0), [1.5, 2.5])
    np.testing.assert_allclose(path[:, 1:].max(axis=0), [4.5, 6.5])
    two = np.zeros((8, 10), bool)
    two[1, 1] = two[6, 8] = True
    assert len(mask_outlines(two)) == 2
    assert mask_outlines(two)[0].shape[1] == 2
