"""Feature extraction speed: napari-radiomics' engine against plain pyradiomics, one process.

Run (pyradiomics' test cases in NAPARI_RADIOMICS_TEST_DATA):

    NAPARI_RADIOMICS_TEST_DATA=../shared/data/pyradiomics python benchmarks/bench_engine.py

For every case it prints pyradiomics' time, ours, the ratio, and asserts that the features are
identical: the same names, and every value equal to pyradiomics' within 1e-12 relative (the
project's parity bar; all but the mesh surface/volume-based shape values are bit-identical).
Times are the best of N runs (time.perf_counter), inputs already in memory for both sides
(SimpleITK images for pyradiomics, layer-like objects for us).

1. one-shot: ``RadiomicsFeatureExtractor().execute`` vs ``extract_features(layer, layer)``,
   pyradiomics' default settings;
2. re-extraction after a mask edit: a fresh ``execute`` on the edited mask vs
   ``FeatureEngine.extract`` that saw the image before (defaults; and all image types with LoG
   sigmas 1 and 3 on brain1);
3. the floor: pyradiomics' feature classes alone on the cropped ROI (no loading, checks,
   filters or diagnostics).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from radiomics import getFeatureClasses, imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.convert import LayerData, layer_to_sitk, sitk_to_layer_data
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.settings import ExtractionSettings

ALL_IMAGE_TYPES = {
    "Original": {},
    "LoG": {"sigma": [1.0, 3.0]},
    "Wavelet": {},
    "Square": {},
    "SquareRoot": {},
    "Logarithm": {},
    "Exponential": {},
    "Gradient": {},
    "LBP2D": {},
    "LBP3D": {},
}


def layer(image: sitk.Image, name: str) -> LayerData:
    data, kwargs = sitk_to_layer_data(image)
    return LayerData(data=data, name=name, **kwargs)


def synthetic_slice(seed: int = 0, size: int = 512) -> tuple[LayerData, LayerData]:
    """A deterministic 512x512 int16 MRI-like slice: a head ellipse with texture and noise, and
    a textured tumour whose mask is label 1 (spacing 1, like the brain-tumour .mat slices)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(float)
    centre = size / 2
    head = ((yy - centre) / (0.42 * size)) ** 2 + ((xx - centre) / (0.36 * size)) ** 2 <= 1
    image = np.where(head, 400.0, 20.0)
    image += 60 * np.sin(xx / 9.0) * np.cos(yy / 13.0) * head
    tumour = ((yy - 0.42 * size) / 38) ** 2 + ((xx - 0.58 * size) / 52) ** 2 <= 1
    image += np.where(tumour, 350 + 80 * np.sin(xx / 3.0 + yy / 5.0), 0)
    image += rng.normal(0, 25, image.shape)
    pixels = np.clip(image, 0, None).astype(np.int16)
    return (
        LayerData(pixels, (1.0, 1.0), (0.0, 0.0), name="synthetic"),
        LayerData(tumour.astype(np.uint8), (1.0, 1.0), (0.0, 0.0), name="synthetic mask"),
    )


def edit(mask: LayerData, step: int) -> LayerData:
    """A brush stroke: a few voxels painted onto the ROI's edge, different for every step."""
    data = mask.data.copy()
    where = np.nonzero(data)
    first = tuple(int(w[0]) for w in where)
    stroke = [slice(c, c + 1) for c in first[:-2]]
    stroke += [slice(max(first[-2] - 1 - step % 3, 0), first[-2])]
    stroke += [slice(first[-1], first[-1] + 2 + step)]
    data[tuple(stroke)] = 1
    return LayerData(data, mask.scale, mask.translate, affine=mask.affine, name=mask.name)


def best(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def identical(ours: dict, theirs: dict) -> bool:
    expected = {k: float(v) for k, v in theirs.items() if not k.startswith("diagnostics_")}
    got = {k: v for k, v in ours.items() if k != "roi_label"}
    if set(got) != set(expected):
        return False
    return all(
        (np.isnan(v) and np.isnan(got[k])) or abs(got[k] - v) <= 1e-12 * abs(v)
        for k, v in expected.items()
    )


def row(label: str, theirs: float, ours: float, same: bool) -> None:
    assert same, f"{label}: features differ from pyradiomics"
    print(
        f"{label:<44} {theirs * 1e3:9.1f} ms {ours * 1e3:9.1f} ms {theirs / ours:6.1f}x"
        "   identical features: yes"
    )


def floor(image: sitk.Image, mask: sitk.Image) -> float:
    """pyradiomics' default feature classes alone on the cropped ROI."""
    mask = sitk.Cast(mask, sitk.sitkUInt32)
    box, _ = imageoperations.checkMask(image, mask, label=1)
    image, mask = imageoperations.cropToTumorMask(image, mask, box)
    classes = getFeatureClasses()
    # RadiomicsFeatureExtractor() enables every class but shape2D; shape needs 3D.
    flat = image.GetDimension() == 2
    wanted = [n for n in classes if n != "shape2D" and not (n == "shape" and flat)]

    def run() -> None:
        for name in wanted:
            classes[name](image, mask, label=1).execute()

    return best(run, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best of N)")
    args = parser.parse_args(argv)
    root = os.environ.get("NAPARI_RADIOMICS_TEST_DATA")
    if not root or not (Path(root) / "brain1_image.nrrd").is_file():
        print("set NAPARI_RADIOMICS_TEST_DATA to pyradiomics' test cases", file=sys.stderr)
        return 2
    folder = Path(root)
    # pyradiomics' defaults on the 2D slice compute no shape features; the engine says so with a
    # warning each run, which is expected here.
    warnings.filterwarnings("ignore", message=".* is 2D: pyradiomics' 3D shape features")
    cases: dict[str, tuple[LayerData, LayerData]] = {}
    for case in ("brain1", "breast1"):
        cases[case] = (
            layer(sitk.ReadImage(str(folder / f"{case}_image.nrrd")), case),
            layer(sitk.ReadImage(str(folder / f"{case}_label.nrrd")), f"{case} mask"),
        )
    cases["512x512 slice"] = synthetic_slice()

    n = args.repeat
    print(f"{'case':<44} {'pyradiomics':>12} {'ours':>12} {'ratio':>7}")
    print("One-shot extraction, pyradiomics defaults")
    plain = RadiomicsFeatureExtractor()
    for name, (image, mask) in cases.items():
        image_sitk, mask_sitk = layer_to_sitk(image), layer_to_sitk(mask)
        theirs = best(lambda i=image_sitk, m=mask_sitk: plain.execute(i, m), n)
        ours = best(lambda i=image, m=mask: extract_features(i, m), n)
        same = identical(
            extract_features(image, mask).iloc[0].to_dict(), plain.execute(image_sitk, mask_sitk)
        )
        row(f"  {name}", theirs, ours, same)

    print("Re-extraction after a mask edit")
    runs = [(name, ExtractionSettings(), plain) for name in cases]
    everything = ExtractionSettings(image_types=ALL_IMAGE_TYPES)
    runs.append(("brain1", everything, RadiomicsFeatureExtractor(everything.to_params())))
    for name, settings, extractor in runs:
        image, mask = cases[name]
        engine = FeatureEngine(settings)
        engine.extract(image, mask)  # the image as the user first extracted it
        edits = [edit(mask, step) for step in range(n)]
        # One stroke after another, as a user paints: the references are computed afterwards,
        # since a pyradiomics run between two of ours would evict our data from the CPU caches.
        ours_times, results = [], []
        for edited in edits:
            start = time.perf_counter()
            results.append(engine.extract(image, edited))
            ours_times.append(time.perf_counter() - start)
        same = all(
            identical(
                result.iloc[0].to_dict(),
                extractor.execute(layer_to_sitk(image), layer_to_sitk(edited)),
            )
            for result, edited in zip(results, edits, strict=True)
        )
        image_sitk, last = layer_to_sitk(image), layer_to_sitk(edits[-1])
        slow = len(settings.image_types) > 1  # ~1 s per pyradiomics run: best of 3
        theirs = best(lambda i=image_sitk, m=last, e=extractor: e.execute(i, m), 3 if slow else n)
        types = "all image types, LoG 1,3" if len(settings.image_types) > 1 else "defaults"
        row(f"  {name} ({types})", theirs, min(ours_times), same)

    print("Floor: pyradiomics' feature classes alone on the cropped ROI (defaults)")
    for name, (image, mask) in cases.items():
        image_sitk, mask_sitk = layer_to_sitk(image), layer_to_sitk(mask)
        classes_only = floor(image_sitk, mask_sitk)
        engine = FeatureEngine()
        engine.extract(image, mask)
        edits = [edit(mask, step) for step in range(n)]
        ours = min(best(lambda m=m, e=engine, i=image: e.extract(i, m), 1) for m in edits)
        print(
            f"  {name:<42} classes alone {classes_only * 1e3:7.1f} ms, "
            f"our re-extraction {ours * 1e3:7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
