"""Feature ranking and the PCA projection on a dataset-sized table, against the naive loop.

    python benchmarks/bench_ranking.py --cases 3064 --features 1500 --patients 233

The table is ``bench_model``'s synthetic one (three classes shifting ten features, one offset
per patient). ``rank_features`` runs on the patient means (the default) and per slice; the
naive approach, timed in the same process, is what one would write by hand: per feature one
``scipy.stats.kruskal`` call and one ``sklearn.metrics.roc_auc_score`` per class, then
``scipy.stats.false_discovery_control``. Both give the same H, p, q and AUCs (checked here).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from bench_model import synthetic_table, table_arguments
from napari_radiomics.analysis.plots import projection
from napari_radiomics.analysis.ranking import rank_features


def naive(table: pd.DataFrame, per_slice: bool) -> pd.DataFrame:
    """The per-feature loop, on the same observations as ``rank_features``."""
    features = [c for c in table.columns if c.startswith("original_")]
    if not per_slice:
        types = table.groupby("patient_id")["tumor_type"].first()
        table = table.groupby("patient_id")[features].mean().assign(tumor_type=types)
    classes = sorted(table["tumor_type"].unique())
    rows = {}
    for feature in features:
        groups = [table.loc[table["tumor_type"] == c, feature] for c in classes]
        result = stats.kruskal(*groups)
        aucs = [roc_auc_score(table["tumor_type"] == c, table[feature]) for c in classes]
        rows[feature] = [result.statistic, result.pvalue, *aucs]
    out = pd.DataFrame.from_dict(
        rows, orient="index", columns=["H", "p", *(f"auc_{c}" for c in classes)]
    )
    out["q"] = stats.false_discovery_control(out["p"])
    return out


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    args = table_arguments(__doc__.splitlines()[0], features=1500).parse_args()
    table = synthetic_table(args.cases, args.features, args.patients)
    size = f"{args.cases} cases x {args.features} features, {args.patients} patients"
    for per_slice in (False, True):
        fast, ranked = timed(rank_features, table, per_slice=per_slice)
        slow, expected = timed(naive, table, per_slice)
        for column in expected.columns:
            np.testing.assert_allclose(ranked.loc[expected.index, column], expected[column])
        mode = "per slice" if per_slice else "patient means"
        print(
            f"{size}, {mode}: rank_features {fast:.2f} s, naive loop {slow:.1f} s "
            f"({slow / fast:.0f}x)"
        )
    seconds, _ = timed(projection, table, "pca")
    print(f"{size}: PCA of the z-scored features {seconds:.2f} s")


if __name__ == "__main__":
    main()
