"""Clustering a dataset-sized table, against scikit-learn called by hand on the same matrix.

    cd benchmarks && python bench_cluster.py --cases 3064 --features 1000 --patients 233

The table is ``bench_model``'s synthetic one. ``cluster_table`` (checks, standardising,
optional PCA, clustering, agreement, contingency) per patient mean and per slice, for each
method, against the plain scikit-learn pipeline one would write: ``StandardScaler`` then the
estimator on the same matrix, timed in the same process. The ratio is the package's overhead.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from bench_model import synthetic_table, table_arguments
from bench_ranking import timed
from napari_radiomics.analysis.clustering import METHODS, cluster_table

PLAIN = {
    "kmeans": lambda: KMeans(3, n_init=10, random_state=0),
    "gmm": lambda: GaussianMixture(3, covariance_type="diag", random_state=0),
    "hdbscan": lambda: HDBSCAN(min_cluster_size=5, copy=True),
}


def by_hand(method: str, matrix: np.ndarray) -> np.ndarray:
    return PLAIN[method]().fit_predict(StandardScaler().fit_transform(matrix))


def main() -> None:
    args = table_arguments(__doc__.splitlines()[0]).parse_args()
    table = synthetic_table(args.cases, args.features, args.patients)
    features = [c for c in table.columns if c.startswith("original_")]
    means = table.groupby("patient_id")[features].mean()
    cluster_table(means.reset_index().merge(table[["patient_id", "tumor_type"]].drop_duplicates()))
    for per, matrix in (("patient", means.to_numpy()), ("slice", table[features].to_numpy())):
        for method in METHODS:
            ours, result = timed(cluster_table, table, method=method, per=per)
            plain, _ = timed(by_hand, method, matrix)
            print(
                f"{args.cases} cases x {args.features} features, per {per}, {method}: "
                f"cluster_table {ours:.2f} s, scikit-learn by hand {plain:.2f} s "
                f"({ours / plain:.2f}x); adjusted Rand {result.agreement['adjusted_rand']:.3f}"
            )


if __name__ == "__main__":
    main()
