"""Feature-map speed and memory: ``engine.maps.feature_maps`` against pyradiomics' voxel mode.

Run (pyradiomics' test cases in NAPARI_RADIOMICS_TEST_DATA):

    NAPARI_RADIOMICS_TEST_DATA=../shared/data/pyradiomics python benchmarks/bench_maps.py
    python benchmarks/bench_maps.py --large      # the 50,000-voxel ROI at radius 2, ours only
    python benchmarks/bench_maps.py --large --jobs 2   # the same in two worker processes

Same process, same inputs in memory, every texture class (firstorder, glcm, glrlm, glszm,
gldm, ngtdm), pyradiomics' default settings plus the kernel radius:

1. brain1 (4137 ROI voxels), radius 1: ``RadiomicsFeatureExtractor(params).execute(image,
   mask, voxelBased=True)`` vs ``feature_maps(image, mask, settings)``;
2. a 512x512 synthetic slice (``make_synthetic_slice``), radius 1: pyradiomics on the slice
   as a one-slice volume with force2D (its voxel mode refuses a 2D image) vs ours on the 2D
   slice.

Each line asserts identical values (1e-9 relative on every ROI voxel of every map pyradiomics
computes; its glcm MCC fails and is left out) and prints both times, the ratio, and the peak
memory of the process after each side (each case in a fresh child process, ours first, so
the first peak is ours alone). ``--large`` maps a 50,000-voxel ellipsoid ROI in a 256x256x64
synthetic volume at radius 2 in a child process and prints its peak resident memory
(``--jobs N``: in N worker processes, started from a forkserver, so the peak printed is the
parent's alone; the maps are the same for any N).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.engine.maps import feature_maps, voxel_settings
from napari_radiomics.io import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings

CLASSES = {name: [] for name in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}


def peak_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(what: str, image: sitk.Image, mask: sitk.Image, radius: int) -> None:
    settings = voxel_settings(ExtractionSettings(feature_classes=CLASSES), radius)
    start = time.perf_counter()
    ours = feature_maps(image, mask, settings)
    ours_time = time.perf_counter() - start
    ours_peak = peak_mib()
    two_d = image.GetDimension() == 2
    volume, volume_mask = (
        (sitk.JoinSeries([image]), sitk.JoinSeries([mask])) if two_d else (image, mask)
    )
    params = {
        "setting": {"force2D": two_d},
        "featureClass": CLASSES,
        "voxelSetting": {"kernelRadius": radius},
    }
    start = time.perf_counter()
    result = RadiomicsFeatureExtractor(params).execute(volume, volume_mask, voxelBased=True)
    theirs_time = time.perf_counter() - start
    roi = sitk.GetArrayViewFromImage(mask) == 1
    checked = 0
    for name, feature_map in ours.items():
        if name == "original_glcm_MCC":
            continue
        reference = result[name]
        array = sitk.GetArrayFromImage(reference)
        offset = volume.TransformPhysicalPointToIndex(reference.GetOrigin())[::-1]
        full = np.full(sitk.GetArrayViewFromImage(volume).shape, np.nan)
        full[tuple(slice(o, o + n) for o, n in zip(offset, array.shape, strict=True))] = array
        full = full[0] if two_d else full
        theirs = full[roi]
        scale = np.nanmax(np.abs(theirs)) if np.isfinite(theirs).any() else 0.0
        np.testing.assert_allclose(
            feature_map.array()[roi], theirs, rtol=1e-9, atol=1e-9 * scale, equal_nan=True,
            err_msg=name,
        )  # fmt: skip
        checked += 1
    print(
        f"{what}: {int(roi.sum())} voxels, radius {radius}, {checked} maps identical | "
        f"pyradiomics {theirs_time:.2f} s, ours {ours_time:.2f} s, {theirs_time / ours_time:.1f}x"
        f" | peak memory after ours {ours_peak:.0f} MiB, after pyradiomics {peak_mib():.0f} MiB",
        flush=True,
    )


def large(jobs: int) -> None:
    """Ours alone on a 50,000-voxel ROI at radius 2 (pyradiomics would need hours)."""
    rng = np.random.default_rng(0)
    shape = (64, 256, 256)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    radii = (16.0, 27.5, 27.5)
    inside = ((z - 32) / radii[0]) ** 2 + ((y - 128) / radii[1]) ** 2 + ((x - 128) / radii[2]) ** 2
    mask_array = (inside <= 1).astype(np.uint8)
    image_array = (rng.normal(500, 80, shape) + 300.0 * mask_array).astype(np.float32)
    image, mask = sitk.GetImageFromArray(image_array), sitk.GetImageFromArray(mask_array)
    settings = voxel_settings(ExtractionSettings(feature_classes=CLASSES), kernel_radius=2)
    start = time.perf_counter()
    maps = feature_maps(image, mask, settings, jobs=jobs)
    print(
        f"large: {int(mask_array.sum())} voxels, radius 2, {len(maps)} maps, --jobs {jobs}, in "
        f"{time.perf_counter() - start:.0f} s, peak resident memory {peak_mib():.0f} MiB"
    )


def case(name: str) -> tuple[sitk.Image, sitk.Image]:
    """The image and mask of ``name``: "slice" or one of pyradiomics' cases."""
    if name == "slice":
        tumour = make_synthetic_slice(seed=0)
        return (
            sitk.GetImageFromArray(tumour.image.astype(np.float64)),
            sitk.GetImageFromArray(tumour.mask.astype(np.uint8)),
        )
    folder = Path(os.environ["NAPARI_RADIOMICS_TEST_DATA"])
    return (
        sitk.ReadImage(str(folder / f"{name}_image.nrrd")),
        sitk.ReadImage(str(folder / f"{name}_label.nrrd")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the 50,000-voxel ROI only")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for --large")
    parser.add_argument("--child", choices=("large", "slice", "brain1"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)  # MCC's traceback
    if args.child == "large":
        large(args.jobs)
    elif args.child:
        names = {"slice": "512x512 slice", "brain1": "brain1"}
        compare(names[args.child], *case(args.child), 1)
    else:  # each in a fresh process, so every peak is that run's own
        for child in ("large",) if args.large else ("slice", "brain1"):
            command = [sys.executable, __file__, "--child", child, "--jobs", str(args.jobs)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
