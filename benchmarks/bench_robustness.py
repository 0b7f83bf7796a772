"""A robustness run against N + 1 plain pyradiomics ``execute`` calls per case, serially, in the
same process, on the same synthetic ``.mat`` folder.

    python benchmarks/bench_robustness.py --cases 300 --perturbations 20 --reference 30

Ours is the whole ``napari-radiomics robustness`` run (``iter_robustness`` with ``jobs=1``):
read each ``.mat`` slice, make its perturbations, extract the original and the perturbed masks
with one engine, journal every row, compute the ICC and write the files. The reference reads
the same slices, makes the same perturbations (same seeds) and calls
``RadiomicsFeatureExtractor.execute`` once per mask; its times are split into reading and
perturbing, and ``execute``. It runs on a seeded random subset of ``--reference`` cases
(0: all of them) and is extrapolated per case; every value it computes is checked equal to
the robustness run's long table (1e-12 relative).

Cases are synthetic 512x512 brain-tumour slices (``make_synthetic_slice``), the settings the
``brain-tumor-mri`` preset's, the perturbations grow/shrink plus contour randomisation (mask
only, so the engine's image-side cache serves every perturbation of a case).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Generator
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.analysis.perturb import PerturbationPlan, perturb
from napari_radiomics.analysis.robustness import PERTURBATION_COLUMN, read_perturbed
from napari_radiomics.analysis.robustness_run import RobustnessSummary, iter_robustness
from napari_radiomics.batch import discover_cases, load_case
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings


def _drain(run: Generator[object, None, RobustnessSummary]) -> RobustnessSummary:
    """Run a generator to its end; its return value."""
    try:
        while True:
            next(run)
    except StopIteration as stop:
        return stop.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--perturbations", type=int, default=20)
    parser.add_argument(
        "--reference", type=int, default=30, help="cases pyradiomics runs (0: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference subset")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    settings = ExtractionSettings.preset("brain-tumor-mri")
    plan = PerturbationPlan(args.perturbations, seed=1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "slices"
        folder.mkdir()
        for i in range(args.cases):
            tumor = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"P{i:03d}")
            write_tumor_mat(folder / f"{i + 1}.mat", tumor)
        cases = discover_cases([folder])

        start = time.perf_counter()
        summary = _drain(iter_robustness(cases, settings, plan, Path(tmp) / "rob.csv", jobs=1))
        ours = time.perf_counter() - start
        assert summary.batch.failed == 0, summary.batch.errors_path.read_text()
        long = read_perturbed(summary.paths.perturbed).set_index(["case", PERTURBATION_COLUMN])

        count = args.reference or len(cases)
        subset = np.random.default_rng(args.seed).choice(len(cases), count, replace=False)
        extractor = RadiomicsFeatureExtractor(settings.to_params())
        prepare = execute = 0.0
        compared = 0
        for index in sorted(subset):
            case = cases[index]
            start = time.perf_counter()
            image, mask, _ = load_case(case)
            masks = [mask] + [p.mask for p in perturb(image, mask, (1.0, 1.0), plan)]
            prepare += time.perf_counter() - start
            sitk_image = sitk.GetImageFromArray(image)
            for number, variant in enumerate(masks):
                start = time.perf_counter()
                result = extractor.execute(sitk_image, sitk.GetImageFromArray(variant))
                execute += time.perf_counter() - start
                row = long.loc[(case.case_id, number)]
                for name, value in result.items():
                    if not name.startswith("diagnostics_"):
                        assert abs(row[name] - float(value)) <= 1e-12 * abs(float(value)), name
                        compared += 1

    n, per = len(cases), args.perturbations + 1
    theirs = (prepare + execute) / count * n
    print(f"{n} cases x ({args.perturbations} + 1) masks = {n * per} extractions")
    print(f"napari-radiomics robustness, serial : {ours:8.1f} s  ({ours / n * 1e3:.0f} ms/case)")
    print(
        f"pyradiomics on {count} cases          : {prepare + execute:8.1f} s  "
        f"(read + perturb {prepare / count * 1e3:.0f} ms/case, "
        f"{per} x execute {execute / count * 1e3:.0f} ms/case)"
    )
    print(f"pyradiomics extrapolated to {n} cases : {theirs:8.1f} s")
    alone = execute / count * n / ours
    print(
        f"ratio {theirs / ours:.2f}x (read + perturb + execute); {alone:.2f}x against "
        f"execute alone; {compared} values identical (1e-12)"
    )


if __name__ == "__main__":
    main()
