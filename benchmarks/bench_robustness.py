"""Robustness extractions: N perturbations per case with one engine, against N + 1 plain
pyradiomics ``execute`` calls per case in a serial loop, in the same process.

    python benchmarks/bench_robustness.py --cases 300 --perturbations 20

Cases are synthetic 512x512 brain-tumour slices (``make_synthetic_slice``), the settings the
``brain-tumor-mri`` preset's; perturbations are grow/shrink plus contour randomisation (mask
only, so the engine's image-side cache serves every perturbation of a case). The perturbed
masks are made once, outside both timings, and both sides extract exactly the same
(image, mask) pairs; every value is checked equal (1e-12 relative).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.analysis.perturb import PerturbationPlan, perturb
from napari_radiomics.convert import LayerData
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--perturbations", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    settings = ExtractionSettings.preset("brain-tumor-mri")
    cases = []
    for seed in range(args.cases):
        case = make_synthetic_slice(seed=seed, label=seed % 3 + 1)
        masks = [case.mask.astype(np.uint8)]
        masks += [
            p.mask
            for p in perturb(
                case.image, case.mask, (1.0, 1.0), PerturbationPlan(args.perturbations)
            )
        ]
        cases.append((case.image, masks))

    start = time.perf_counter()
    ours = []
    for image, masks in cases:
        engine = FeatureEngine(settings)  # one engine per case, as a robustness run uses it
        layer = LayerData(image, (1.0, 1.0), (0.0, 0.0))
        for mask in masks:
            frame = engine.extract(layer, LayerData(mask, (1.0, 1.0), (0.0, 0.0)), labels=[1])
            ours.append(frame.iloc[0].to_dict())
    our_seconds = time.perf_counter() - start

    extractor = RadiomicsFeatureExtractor(settings.to_params())
    start = time.perf_counter()
    reference = []
    for image, masks in cases:
        for mask in masks:
            reference.append(
                extractor.execute(sitk.GetImageFromArray(image), sitk.GetImageFromArray(mask))
            )
    their_seconds = time.perf_counter() - start

    for got, want in zip(ours, reference, strict=True):
        for name, value in want.items():
            if not name.startswith("diagnostics_"):
                assert abs(got[name] - float(value)) <= 1e-12 * abs(float(value)), name
    runs = len(ours)
    print(f"{args.cases} cases x ({args.perturbations} + 1) masks = {runs} extractions")
    for what, seconds in (
        ("pyradiomics execute, serial", their_seconds),
        ("napari-radiomics, one engine", our_seconds),
    ):
        print(f"{what:28}: {seconds:8.2f} s  ({seconds / runs * 1e3:.1f} ms per extraction)")
    print(f"ratio {their_seconds / our_seconds:.2f}x   identical features: yes")


if __name__ == "__main__":
    main()
