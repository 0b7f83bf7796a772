"""A robustness run against N + 1 plain pyradiomics ``execute`` calls per case, serially, in the
same process, on the same synthetic ``.mat`` folder.

    python benchmarks/bench_robustness.py --cases 300 --perturbations 20 --reference 30

Ours is the whole ``napari-radiomics robustness`` run (``iter_robustness``, ``--jobs`` worker
processes, 1 by default; each round starts its pool, so start-up counts against us):
read each ``.mat`` slice, make its perturbations, extract the original and the perturbed masks
with one engine, journal every row, compute the ICC and write the files. The reference reads
the same slices, makes the same perturbations (same seeds) and calls
``RadiomicsFeatureExtractor.execute`` once per mask; its times are split into reading and
perturbing, and ``execute``. It runs on a seeded random subset of ``--reference`` cases
(0: all of them) and is extrapolated per case; every value it computes is checked equal to
the robustness run's long table (1e-12 relative).

The machine is shared, and its load drifts over minutes, so the two sides alternate in
``--rounds`` rounds: each round resumes the same robustness run by its share of the cases
(recomputing the ICC and rewriting the files each time, which counts against us), then runs
pyradiomics on the reference cases among them. Wall-clock and CPU seconds of this process are
both reported.

Cases are synthetic 512x512 brain-tumour slices (``make_synthetic_slice``), the settings the
``brain-tumor-mri`` preset's (``--wavelet`` adds the Wavelet image type), the perturbations
grow/shrink plus contour randomisation (mask only, so the engine's image-side cache serves
every perturbation of a case).
"""

from __future__ import annotations

import argparse
import itertools
import resource
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


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (the pool's workers, once shut down)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall-clock and CPU seconds (this process, and its children's: the workers of --jobs)
    accumulated over ``with`` blocks."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.children = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._children = _children_cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu
        self.children += _children_cpu() - self._children


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
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes of our run")
    parser.add_argument(
        "--wavelet", action="store_true", help="add the Wavelet image type to the preset"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    settings = ExtractionSettings.preset("brain-tumor-mri")
    if args.wavelet:  # filtered images: image-side work the engine does once per case
        params = settings.to_params()
        params["imageType"] = {**params.get("imageType", {"Original": {}}), "Wavelet": {}}
        settings = ExtractionSettings.from_params(params)
    plan = PerturbationPlan(args.perturbations, seed=1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "slices"
        folder.mkdir()
        for i in range(args.cases):
            tumor = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"P{i:03d}")
            write_tumor_mat(folder / f"{i + 1}.mat", tumor)
        cases = discover_cases([folder])
        count = args.reference or len(cases)
        subset = set(np.random.default_rng(args.seed).choice(len(cases), count, replace=False))
        extractor = RadiomicsFeatureExtractor(settings.to_params())
        output = Path(tmp) / "rob.csv"
        ours, prepare, execute = Clock(), Clock(), Clock()
        results: dict[tuple[str, int], dict[str, float]] = {}
        # Rounds alternate between the two sides, so both see the same load on a shared
        # machine: each round continues the same robustness run (--resume) by its share of
        # the cases, then pyradiomics measures the reference cases among them.
        bounds = np.linspace(0, len(cases), args.rounds + 1).astype(int)
        for low, high in itertools.pairwise(bounds):
            with ours:
                run = iter_robustness(
                    cases[:high], settings, plan, output, jobs=args.jobs, resume=True
                )
                summary = _drain(run)
            assert summary.batch.failed == 0, summary.batch.errors_path.read_text()
            for index in sorted(i for i in subset if low <= i < high):
                case = cases[index]
                with prepare:
                    image, mask, _ = load_case(case)
                    masks = [mask] + [p.mask for p in perturb(image, mask, (1.0, 1.0), plan)]
                sitk_image = sitk.GetImageFromArray(image)
                for number, variant in enumerate(masks):
                    with execute:
                        result = extractor.execute(sitk_image, sitk.GetImageFromArray(variant))
                    results[(case.case_id, number)] = {
                        k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")
                    }
        long = read_perturbed(summary.paths.perturbed).set_index(["case", PERTURBATION_COLUMN])
        assert summary.cases == len(cases)
        compared = 0
        for key, values in results.items():
            row = long.loc[key]
            for name, value in values.items():
                assert abs(row[name] - value) <= 1e-12 * abs(value), (key, name)
                compared += 1

    n, per = len(cases), args.perturbations + 1
    print(f"{n} cases x ({args.perturbations} + 1) masks = {n * per} extractions, ours on "
          f"{args.jobs} job(s), pyradiomics serial")  # fmt: skip
    print(f"{args.rounds} alternating rounds; pyradiomics on {count} of the cases")
    for what, clock in (("wall", "wall"), ("CPU", "cpu")):
        mine = getattr(ours, clock)
        read, run = getattr(prepare, clock), getattr(execute, clock)
        theirs = (read + run) / count * n
        print(
            f"{what:4}: ours {mine:7.1f} s ({mine / n * 1e3:.0f} ms/case); pyradiomics "
            f"{read + run:6.1f} s on {count} cases (read + perturb {read / count * 1e3:.0f} "
            f"ms/case, {per} x execute {run / count * 1e3:.0f} ms/case), {theirs:7.1f} s "
            f"extrapolated: ratio {theirs / mine:.2f}x ({run / count * n / mine:.2f}x against "
            "execute alone)"
        )
    if args.jobs > 1:  # the load-independent view: all our CPU, the workers' included
        mine = ours.cpu + ours.children
        theirs = (prepare.cpu + execute.cpu) / count * n
        print(
            f"CPU with the workers: ours {mine:.1f} s ({mine / n * 1e3:.0f} ms/case), "
            f"pyradiomics {theirs:.1f} s: {theirs / mine:.2f}x per core"
        )
    print(f"{compared} values identical (1e-12)")


if __name__ == "__main__":
    main()
