"""MRI preprocessing: N4 on a 512x512 slice, and what it adds to a whole-dataset batch.

  (1) N4 bias-field correction (``--preprocess n4``: Otsu head mask, shrink 4, 4 levels of 50
      iterations) of one synthetic 512x512 slice, against pyradiomics' ``execute`` of the same
      slice with the brain-tumour preset, for scale; checked equal to SimpleITK's filter run
      by hand with the same parameters. Then a re-extraction after a mask edit with N4 on:
      the engine keeps the corrected image, so it costs what it costs without N4.
  (2) N synthetic 512x512 .mat slices through ``extract --jobs J`` (``run_batch``, the command's
      own function) without and with ``--preprocess n4``: the cost N4 adds per slice. One case
      of the N4 run is checked equal to the engine's in-process extraction of it.

It prints the peak resident memory of this process (VmHWM, Linux) after each part.

    python benchmarks/bench_preprocess.py              # 300 slices, 2 jobs
    python benchmarks/bench_preprocess.py --n 20       # a quick check while developing
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.batch import run_batch
from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.engine import FeatureEngine, extract_features, quiet_pyradiomics_logging
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import n4_correct
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings

T = TypeVar("T")


def best(func: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The shortest of ``repeat`` runs (the least disturbed by other work) and a result."""
    shortest, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        shortest = min(shortest, time.perf_counter() - start)
    return shortest, value  # type: ignore[return-value]


def peak_mib() -> str:
    """This process's peak resident memory (Linux's VmHWM), or a dash elsewhere."""
    try:
        with Path("/proc/self/status").open() as status:
            kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except OSError:
        return "-"
    return f"{int(kib) / 1024:.0f} MiB"


def n4_by_hand(image: sitk.Image) -> np.ndarray:
    """SimpleITK's N4 example with the defaults, written out (one thread, as ours runs)."""
    full = sitk.Cast(image, sitk.sitkFloat32)
    mask = sitk.OtsuThreshold(full, 0, 1, 200)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([50] * 4)
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        corrector.Execute(sitk.Shrink(full, [4, 4]), sitk.Shrink(mask, [4, 4]))
        log_bias = corrector.GetLogBiasFieldAsImage(full)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    return sitk.GetArrayFromImage(full / sitk.Exp(log_bias))


def one_slice(repeat: int) -> None:
    tumour = make_synthetic_slice(seed=7, shape=(512, 512))
    image = sitk.GetImageFromArray(tumour.image)
    mask = sitk.GetImageFromArray(tumour.mask.astype(np.uint8))
    settings = ExtractionSettings.preset("brain-tumor-mri")
    extractor = RadiomicsFeatureExtractor(settings.to_params())
    n4_time, corrected = best(lambda: n4_correct(image), repeat)
    execute_time, _ = best(lambda: extractor.execute(image, mask), repeat)
    equal = np.array_equal(sitk.GetArrayFromImage(corrected), n4_by_hand(image))
    print(f"(1) N4, 512x512 slice (defaults)            {n4_time * 1e3:8.0f} ms")
    print(f"    pyradiomics execute, same slice, preset  {execute_time * 1e3:8.0f} ms")
    print(f"    N4 / execute                             {n4_time / execute_time:8.1f} x")
    print(f"    equal to SimpleITK's filter by hand      {equal}")
    with_n4 = settings.copy()
    with_n4.preprocess = {"n4": {}}
    engine, plain = FeatureEngine(with_n4), FeatureEngine(settings)
    engine.extract(image, mask)
    plain.extract(image, mask)
    edits = [
        np.roll(tumour.mask, shift, axis=1).astype(np.uint8) for shift in range(1, 1 + repeat)
    ]
    edited = [sitk.GetImageFromArray(m) for m in edits]
    start = time.perf_counter()
    for m in edited:
        engine.extract(image, m)
    with_time = (time.perf_counter() - start) / len(edited)
    start = time.perf_counter()
    for m in edited:
        plain.extract(image, m)
    without_time = (time.perf_counter() - start) / len(edited)
    runs = engine.preprocessed.runs
    print(f"    re-extraction after a mask edit, N4 on   {with_time * 1e3:8.0f} ms "
          f"(N4 off: {without_time * 1e3:.0f} ms; N4 runs: {runs})")  # fmt: skip
    print(f"    peak memory                              {peak_mib():>8}")


def batch(n: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(n):
            tumour = make_synthetic_slice(seed=i, shape=(512, 512), label=i % 3 + 1)
            write_tumor_mat(root / f"{i + 1}.mat", tumour)
        cases = discover_cases([root])
        settings = ExtractionSettings.preset("brain-tumor-mri")
        with_n4 = settings.copy()
        with_n4.preprocess = {"n4": {}}
        times = {}
        for name, chosen in (("without", settings), ("with", with_n4)):
            output = root / f"{name}.csv"
            start = time.perf_counter()
            summary = run_batch(cases, chosen, output, jobs=jobs)
            times[name] = time.perf_counter() - start
            assert summary.ok, summary
        image, mask, metadata = load_case(cases[0])
        expected = extract_features(image, mask, with_n4, metadata=metadata)
        table = read_table(root / "with.csv")
        row = table[table["case"] == metadata["case"]].iloc[0]
        names = [c for c in expected.columns if c.startswith("original_")]
        equal = all(
            abs(float(row[c]) - float(expected[c][0])) <= 1e-12 * abs(float(expected[c][0]))
            for c in names
        )
        added = (times["with"] - times["without"]) / n
        print(f"(2) {n} slices, extract --jobs {jobs}")
        print(f"    without --preprocess                     {times['without']:8.1f} s")
        print(f"    with --preprocess n4                     {times['with']:8.1f} s")
        ratio = times["with"] / times["without"]
        print(f"    with / without                           {ratio:8.1f} x")
        print(f"    N4 adds per slice (wall, {jobs} jobs)        {added * 1e3:8.0f} ms")
        print(f"    a case equals the in-process engine      {equal}")
        print(f"    peak memory (this process)               {peak_mib():>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="slices in the batch (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="batch workers (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R (default 3)")
    args = parser.parse_args()
    quiet_pyradiomics_logging()
    warnings.filterwarnings("ignore", message=".*is 2D: pyradiomics' 3D shape features")
    one_slice(args.repeat)
    batch(args.n, args.jobs)


if __name__ == "__main__":
    main()
