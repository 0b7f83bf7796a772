"""`napari-radiomics model` wall time on a dataset-sized table, default classifier.

    python benchmarks/bench_model.py --cases 3064 --features 1000 --patients 233

The table is synthetic (three classes shifting a few features, one offset per patient), the
size of the brain-tumour dataset's feature table; the timing covers what the command does:
five patient-grouped folds, the fitted pipeline per fold, permutation importances on each test
fold (3 repeats), and the report with its figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from napari_radiomics.cli import main as cli

TYPES = ("meningioma", "glioma", "pituitary tumor")


def table_arguments(description: str, features: int = 1000) -> argparse.ArgumentParser:
    """The options of every benchmark on :func:`synthetic_table`: the dataset's size."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cases", type=int, default=3064)
    parser.add_argument("--features", type=int, default=features)
    parser.add_argument("--patients", type=int, default=233)
    return parser


def synthetic_table(cases: int, features: int, patients: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    patient = np.sort(rng.integers(0, patients, cases))
    kind = rng.integers(0, 3, patients)[patient]
    values = rng.normal(0, 1, (cases, features)) + rng.normal(0, 1, (patients, features))[patient]
    values[:, :10] += (kind[:, None] - 1) * 1.5
    frame = pd.DataFrame(values, columns=[f"original_glcm_F{i}" for i in range(features)])
    frame.insert(0, "tumor_type", [TYPES[k] for k in kind])
    frame.insert(0, "patient_id", [f"P{p:03d}" for p in patient])
    frame.insert(0, "case", [str(i + 1) for i in range(cases)])
    return frame


def main() -> None:
    args = table_arguments(__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "features.csv"
        synthetic_table(args.cases, args.features, args.patients).to_csv(table, index=False)
        start = time.perf_counter()
        status = cli(["model", str(table), "-o", str(Path(folder) / "model")])
        seconds = time.perf_counter() - start
    assert status == 0
    print(
        f"{args.cases} cases x {args.features} features, {args.patients} patients: "
        f"model (logistic, 5 grouped folds, importances) in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
