"""A synthetic brain-tumour slice, so the plugin, its tests and benchmarks need no download.

The slice imitates a T1 contrast-enhanced axial MRI of the dataset: a head with scalp, skull
and brain, dark ventricles, and a tumour with an irregular outline, an enhancing rim, a darker
core and fine texture. Every pyradiomics feature class therefore has something to measure
(many grey levels, runs, zones and a non-convex shape), and the same seed always gives the same
slice, so results can be compared across runs and machines.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_radiomics.io.mat import TumorSlice, border_from_mask
from napari_radiomics.io.metadata import TUMOR_TYPES


def make_synthetic_slice(
    seed: int = 0,
    shape: tuple[int, int] = (512, 512),
    label: int = 1,
    patient_id: str | None = None,
) -> TumorSlice:
    """Generate one deterministic case (int16 image, non-empty mask, border from the mask)."""
    if label not in TUMOR_TYPES:
        raise ValueError(f"label must be one of {sorted(TUMOR_TYPES)}, got {label}")
    height, width = shape
    if min(height, width) < 32:
        raise ValueError(f"shape must be at least 32x32, got {shape}")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    # Head ellipse in normalised coordinates (1 on its outline); slightly taller than wide.
    head = np.hypot((rows - height * 0.5) / (height * 0.44), (cols - width * 0.5) / (width * 0.37))
    image = np.zeros(shape, dtype=np.float64)
    image[head < 1.0] = 900.0  # scalp fat is bright on T1
    image[head < 0.95] = 120.0  # skull bone is dark
    brain = head < 0.89
    # White matter (brighter on T1) inside a folded grey-matter ribbon, with fine texture.
    angle = np.arctan2(rows - height * 0.5, cols - width * 0.5)
    folds = sum(
        rng.uniform(0.005, 0.02) * np.sin(k * angle + rng.uniform(0.0, 2.0 * np.pi))
        for k in range(5, 19)
    )
    white = head < 0.72 + folds
    tissue = 380.0 + 110.0 * white + 25.0 * _smooth_noise(rng, shape, sigma=min(shape) / 128.0)
    tissue += 30.0 * _smooth_noise(rng, shape, sigma=min(shape) / 24.0)
    image[brain] = tissue[brain]
    for side in (-1.0, 1.0):  # lateral ventricles hold dark cerebrospinal fluid
        ventricle = np.hypot(
            (rows - height * 0.47) / (height * 0.09),
            (cols - width * (0.5 + side * 0.05)) / (width * 0.03),
        )
        image[ventricle < 1.0] = 150.0

    mask = _tumour_mask(rng, rows, cols, head)
    # Enhancing rim, darker (necrotic) core, and texture that differs from the brain's.
    depth = ndimage.distance_transform_edt(mask)
    rim = np.exp(-depth / max(1.5, depth.max() / 4.0))
    texture = _smooth_noise(rng, shape, sigma=1.2)
    tumour = 500.0 + 450.0 * rim + 130.0 * texture
    image[mask] = tumour[mask]

    noise_sigma = 14.0  # magnitude images carry Rician noise
    real = image + rng.normal(0.0, noise_sigma, shape)
    imag = rng.normal(0.0, noise_sigma, shape)
    pixels = np.clip(np.rint(np.hypot(real, imag)), 0, np.iinfo(np.int16).max).astype(np.int16)
    return TumorSlice(
        image=pixels,
        mask=mask,
        border=border_from_mask(mask),
        label=label,
        tumor_type=TUMOR_TYPES[label],
        patient_id=patient_id if patient_id is not None else f"SYN{seed:04d}",
        path=None,
    )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return field / (field.std() or 1.0)


def _tumour_mask(
    rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray, head: np.ndarray
) -> np.ndarray:
    """A lobulated blob inside the brain: a circle whose radius varies with a few harmonics."""
    height, width = rows.shape
    radius = min(height, width) * 0.075 * rng.uniform(0.8, 1.25)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    reach = rng.uniform(0.15, 0.3)
    centre = (
        height * (0.5 + reach * 0.44 * np.sin(angle)),
        width * (0.5 + reach * 0.37 * np.cos(angle)),
    )
    theta = np.arctan2(rows - centre[0], cols - centre[1])
    outline = np.ones_like(theta)
    for harmonic in range(2, 6):
        outline += rng.uniform(0.05, 0.12) * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    mask = np.hypot(rows - centre[0], cols - centre[1]) < radius * outline
    return mask & (head < 0.85)
