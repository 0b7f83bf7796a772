"""Whole-dataset extraction throughput: `napari-radiomics extract` against the alternatives.

Writes N synthetic 512x512 brain-tumour slices as MATLAB v7.3 .mat files (the dataset's own
layout) into a temporary folder, then measures cases per second of:

  (a) the seed workflow: a serial loop that, per file, reads it with h5py, transposes,
      builds SimpleITK images, builds RadiomicsFeatureExtractor(normalize=True, binWidth=32)
      (Original image only, spacing 1), executes it and collects the dicts; one CSV at the end;
  (b) `napari-radiomics extract --jobs J` (the same run as an in-process `run_batch` call);
  (c) pyradiomics' own batch CLI, `pyradiomics batch.csv -o out.csv -f csv --jobs J -p
      params.yaml`, on the same slices converted to NRRD beforehand (outside the timing);
  (d) `run_batch` on a Dask LocalCluster of J single-threaded worker processes on loopback
      (the one `--dask local` starts), started before the timing; (d') `--dask local` itself.

It checks that (a) and (b) give identical features and prints the ratios the project targets:
(b)/(a) >= 2.5, (b)/(c) >= 1.0, (d) within 15% of (b). It also measures the peak resident
memory of a batch parent process (a fresh interpreter running `run_batch` over the slices).

    python benchmarks/bench_batch.py            # 300 slices, 2 jobs
    python benchmarks/bench_batch.py --n 40     # a quick check while developing
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np
import pandas as pd
import SimpleITK as sitk
from radiomics import featureextractor

from napari_radiomics.batch import run_batch
from napari_radiomics.batch._executors import local_cluster
from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.io.mat import TUMOR_TYPES, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings

T = TypeVar("T")

#: The seed's extractor, RadiomicsFeatureExtractor(normalize=True, binWidth=32): pyradiomics'
#: defaults otherwise (Original image, every feature class but shape2D), as explicit params.
SEED_PARAMS = ExtractionSettings(normalize=True, bin_width=32).to_params()

_PEAK_RSS = """
import sys
from napari_radiomics.batch._executors import local_cluster
from napari_radiomics.batch import run_batch
from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.settings import ExtractionSettings

def peak_kib():
    # VmHWM: this process's own peak RSS. (ru_maxrss would not do: Linux carries the high-water
    # mark of the process that started us across exec.)
    with open("/proc/self/status") as status:
        return next(line.split()[1] for line in status if line.startswith("VmHWM:"))

if __name__ == "__main__":
    imported = peak_kib()
    settings = ExtractionSettings.from_params({params})
    summary = run_batch(discover_cases([sys.argv[1]]), settings, sys.argv[2], jobs={jobs})
    assert summary.ok and summary.rows == {n}, summary
    print(imported, peak_kib())
"""


def parent_peak_rss(source: Path, output: Path, n: int, jobs: int) -> tuple[float, float]:
    """(MiB after imports, peak MiB) of a fresh process running `run_batch` over `source`.

    Only the parent is measured: workers are separate processes that each hold one case at a
    time. The parent never reads pixels, so its peak must not grow with the number of cases.
    """
    script = _PEAK_RSS.format(params=repr(SEED_PARAMS), jobs=jobs, n=n)
    out = subprocess.run(
        [sys.executable, "-c", script, str(source), str(output)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return int(out[-2]) / 1024, int(out[-1]) / 1024


def write_bundle(folder: Path, n: int, shape: tuple[int, int]) -> Path:
    """A NumPy bundle of `n` slices, written slice by slice through memory maps."""
    folder.mkdir()
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.int16, (n, *shape))
    masks = np.lib.format.open_memmap(folder / "masks.npy", "w+", np.uint8, (n, *shape))
    for i in range(n):
        tumor = make_synthetic_slice(seed=i, shape=shape, label=i % 3 + 1)
        images[i], masks[i] = tumor.image, tumor.mask
    images.flush()
    masks.flush()
    np.save(folder / "labels.npy", np.arange(n) % 3 + 1)
    np.save(folder / "patient_ids.npy", np.array([f"P{i}" for i in range(n)]))
    return folder


def write_dataset(folder: Path, n: int) -> list[Path]:
    """N synthetic slices as v7.3 .mat files, labels cycling through the three tumour types."""
    paths = []
    for i in range(n):
        tumor = make_synthetic_slice(seed=i, shape=(512, 512), label=i % 3 + 1)
        paths.append(write_tumor_mat(folder / f"{i + 1}.mat", tumor))
    return paths


def seed_loop(paths: list[Path], out_csv: Path) -> pd.DataFrame:
    """The seed workflow, as written before this project (kept deliberately naive)."""
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    rows = []
    for path in paths:
        with h5py.File(path, "r") as f:
            image = np.array(f["cjdata/image"]).T
            mask = np.array(f["cjdata/tumorMask"]).T
            label = int(np.array(f["cjdata/label"]).item())
            pid = "".join(chr(c) for c in np.array(f["cjdata/PID"]).ravel())
        extractor = featureextractor.RadiomicsFeatureExtractor(normalize=True, binWidth=32)
        extractor.disableAllImageTypes()
        extractor.enableImageTypeByName("Original")
        result = extractor.execute(
            sitk.GetImageFromArray(image), sitk.GetImageFromArray(mask.astype(np.uint8))
        )
        row = {"case": path.stem, "patient": pid, "disease": TUMOR_TYPES[label]}
        row.update({k: float(v) for k, v in result.items() if not k.startswith("diagnostics")})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.to_csv(out_csv, index=False)
    return frame


def to_nrrd(paths: list[Path], folder: Path, params_file: Path) -> Path:
    """pyradiomics' CLI reads NRRD/NIfTI: convert the slices and write its batch CSV."""
    from napari_radiomics.io.mat import read_tumor_mat

    folder.mkdir()
    batch = folder / "batch.csv"
    with batch.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ID", "Image", "Mask"])
        for path in paths:
            tumor = read_tumor_mat(path)
            image, mask = folder / f"{path.stem}.nrrd", folder / f"{path.stem}_mask.nrrd"
            sitk.WriteImage(sitk.GetImageFromArray(tumor.image), str(image))
            sitk.WriteImage(sitk.GetImageFromArray(tumor.mask.astype(np.uint8)), str(mask))
            writer.writerow([path.stem, image.name, mask.name])
    params_file.write_text(json.dumps(SEED_PARAMS))
    return batch


def timed(label: str, n: int, func: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """Run `func` `repeat` times; print and return the best throughput in cases per second
    (the best run is the one least disturbed by other work on the machine)."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best:7.2f} s  {n / best:7.2f} cases/s", flush=True)
    return n / best, value  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="number of slices (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="best of R runs (default 1)")
    parser.add_argument(
        "--memory-cases", type=int, default=0, metavar="M",
        help="also measure the batch parent's peak memory over M bundle slices (e.g. 3000)",
    )  # fmt: skip
    args = parser.parse_args()
    # pyradiomics' defaults on 2D slices: no 3D shape features (expected; the seed has none).
    warnings.filterwarnings("ignore", message=".*is 2D: pyradiomics' 3D shape features")
    n, jobs, r = args.n, args.jobs, args.repeat
    settings = ExtractionSettings.from_params(SEED_PARAMS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "mat").mkdir()
        paths = write_dataset(root / "mat", n)
        params_file = root / "params.json"
        batch_csv = to_nrrd(paths, root / "nrrd", params_file)
        cases = discover_cases([root / "mat"])
        print(f"{n} synthetic 512x512 slices (v7.3 .mat), {jobs} jobs")

        seed_rate, seed = timed(
            "(a) seed serial loop", n, lambda: seed_loop(paths, root / "a.csv"), r
        )
        ours_rate, summary = timed(
            f"(b) napari-radiomics extract --jobs {jobs}",
            n,
            lambda: run_batch(cases, settings, root / "b.csv", jobs=jobs, overwrite=True),
            r,
        )
        assert summary.ok, summary
        assert summary.rows == n, summary
        pyradiomics = shutil.which("pyradiomics", path=str(Path(sys.executable).parent))
        cli = [pyradiomics or "pyradiomics", str(batch_csv), "-o", str(root / "c.csv")]
        cli += ["-f", "csv", "--jobs", str(jobs), "-p", str(params_file)]
        pyrad_rate, _ = timed(
            f"(c) pyradiomics batch CLI --jobs {jobs}",
            n,
            lambda: subprocess.run(cli, check=True, capture_output=True),
            r,
        )
        with local_cluster(jobs) as cluster:  # the cluster --dask local starts
            dask_rate, _ = timed(
                f"(d) Dask LocalCluster, {jobs} workers (started beforehand)",
                n,
                lambda: run_batch(
                    cases, settings, root / "d.csv", dask=cluster.scheduler_address, overwrite=True
                ),
                r,
            )
        dask_cold_rate, _ = timed(
            "(d') --dask local (cluster start-up included)",
            n,
            lambda: run_batch(cases, settings, root / "d2.csv", dask="local", jobs=jobs),
        )

        ours = read_table(root / "b.csv").set_index("case").sort_index()
        seed = seed.assign(case=seed["case"].astype(str)).set_index("case").sort_index()
        features = [c for c in seed.columns if c.startswith("original_")]
        assert sorted(features) == sorted(c for c in ours.columns if c.startswith("original_"))
        assert list(ours.index) == list(seed.index)
        pd.testing.assert_frame_equal(ours[features], seed[features], check_exact=True)
        dask_rows = read_table(root / "d.csv").set_index("case").sort_index()
        pd.testing.assert_frame_equal(dask_rows[features], ours[features], check_exact=True)
        print(f"features identical: seed loop == extract == Dask ({len(features)} features)")

        base, peak = parent_peak_rss(root / "mat", root / "rss.csv", n, jobs)
        print(f"batch parent over {n} slices: {base:.0f} MiB after imports, peak {peak:.0f} MiB")
        if args.memory_cases:
            m = args.memory_cases
            bundle = write_bundle(root / "bundle", m, (128, 128))
            base, peak = parent_peak_rss(bundle, root / "rss2.csv", m, jobs)
            print(f"batch parent over {m} bundle slices (128x128): peak {peak:.0f} MiB")

    print(f"(b)/(a) extract vs seed loop:      {ours_rate / seed_rate:5.2f}x  (target >= 2.5)")
    print(f"(b)/(c) extract vs pyradiomics CLI: {ours_rate / pyrad_rate:5.2f}x  (target >= 1.0)")
    print(f"(d)/(b) Dask vs process pool:       {dask_rate / ours_rate:5.2f}x  (target 0.85-1.15)")
    print(f"(d')/(b) --dask local incl. start-up: {dask_cold_rate / ours_rate:5.2f}x")


if __name__ == "__main__":
    main()
