"""Do the features group the cases by tumour type at all? Clustering, and its agreement.

Before any classifier, people look at whether cases fall into groups without being told the
type: k-means, a Gaussian mixture or HDBSCAN (scikit-learn's) on the standardised features or
on their principal components, then the agreement of the clusters with the tumour type
(adjusted Rand index, normalised mutual information) and the contingency table.

By default each patient is one point, the mean of its slices (as in :mod:`.ranking`): a
patient's slices are alike, so per slice a clustering mostly finds patients and a 30-slice
patient weighs 30 times as much. Every case still gets its patient's cluster. ``per="slice"``
clusters the slices themselves.

Nothing here is fitted for a prediction, so there are no folds: the clustering is a
description of this table, and the type is read only to measure the agreement afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics._spreadsheet import escape_frame
from napari_radiomics.analysis.models import model_inputs
from napari_radiomics.analysis.ranking import patient_means
from napari_radiomics.analysis.report import count_heatmap, write_files
from napari_radiomics.columns import DEFAULT_GROUP, DEFAULT_TARGET
from napari_radiomics.results import identifying_columns

__all__ = [
    "CLUSTER_COLUMN",
    "CLUSTER_REPORT_FILES",
    "METHODS",
    "NOISE",
    "SPACES",
    "ClusterResult",
    "cluster_table",
    "contingency_figure",
    "write_cluster_report",
]

#: Clustering methods the CLI and the panel offer; the first is the default.
METHODS = ("kmeans", "gmm", "hdbscan")
#: What is clustered: the standardised features, or their principal components.
SPACES = ("standardised", "pca")
#: The column that holds each case's cluster (1, 2, ...; HDBSCAN's noise is NOISE).
CLUSTER_COLUMN = "cluster"
NOISE = -1
#: The files :func:`write_cluster_report` writes in its folder.
CLUSTER_REPORT_FILES = ("clusters.csv", "agreement.json", "contingency.csv", "contingency.png")


@dataclass
class ClusterResult:
    """``clusters``: one row per case of the table (its identifying columns and ``cluster``);
    ``agreement``: what ``agreement.json`` holds; ``contingency``: clusters x classes."""

    clusters: pd.DataFrame
    agreement: dict[str, Any]
    contingency: pd.DataFrame


def _space(values: np.ndarray, space: str, components: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.preprocessing import StandardScaler

    if space not in SPACES:
        raise ValueError(f"space {space!r} is not known; choose from {SPACES}")
    varying = values[:, VarianceThreshold().fit(values).get_support()]
    if varying.shape[1] == 0:
        raise ValueError("every feature is constant across the cases: nothing to cluster")
    scaled = StandardScaler().fit_transform(varying)
    if space == "standardised":
        return scaled
    keep = min(components, *scaled.shape)
    return PCA(n_components=keep, random_state=seed).fit_transform(scaled)


def _labels(points: np.ndarray, method: str, clusters: int, seed: int, min_size: int) -> Any:
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.mixture import GaussianMixture

    if method not in METHODS:
        raise ValueError(f"method {method!r} is not known; choose from {METHODS}")
    if method == "hdbscan":
        if min_size < 2 or min_size > len(points):
            raise ValueError(
                f"min cluster size must be 2 to {len(points)} (the points), got {min_size}"
            )
        found = HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(points)
        return np.where(found < 0, NOISE, found + 1)
    if not 2 <= clusters <= len(points):
        raise ValueError(f"clusters must be 2 to {len(points)} (the points), got {clusters}")
    if method == "kmeans":
        found = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit_predict(points)
    else:  # a full covariance per component in few dimensions (PCs); diagonal in many
        covariance = "full" if points.shape[1] <= 20 else "diag"
        mixture = GaussianMixture(clusters, covariance_type=covariance, random_state=seed)
        found = mixture.fit(points).predict(points)
    return found + 1


def cluster_table(
    table: pd.DataFrame,
    *,
    method: str = "kmeans",
    clusters: int = 3,
    space: str = "standardised",
    components: int = 10,
    per: str = "patient",
    target: str = DEFAULT_TARGET,
    group: str = DEFAULT_GROUP,
    min_cluster_size: int = 5,
    seed: int = 0,
) -> ClusterResult:
    """Cluster the cases (or their patients' means) and measure the agreement with ``target``.

    ``clusters`` is the k of k-means and of the mixture; HDBSCAN finds its own number and
    leaves points that belong nowhere as noise (``cluster`` -1, counted as one more group
    in the agreement). Bad input raises ``ValueError`` naming the column or the option, as
    the model does.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if per not in ("patient", "slice"):
        raise ValueError(f"per must be 'patient' or 'slice', got {per!r}")
    x, y, groups = model_inputs(table, target, target if per == "slice" else group)
    if per == "patient":
        x, y = patient_means(x, y, groups, group)
    points = _space(x.to_numpy(dtype=float), space, components, seed)
    labels = _labels(points, method, clusters, seed, min_cluster_size)
    of_unit = pd.Series(labels, index=x.index)
    case_cluster = groups.map(of_unit).to_numpy() if per == "patient" else of_unit.to_numpy()
    ids = [c for c in identifying_columns(table) if c != CLUSTER_COLUMN]
    assigned = table[ids].reset_index(drop=True).assign(**{CLUSTER_COLUMN: case_cluster})
    truth = y.astype(str).to_numpy()
    contingency = pd.crosstab(
        pd.Series(labels, name=CLUSTER_COLUMN), pd.Series(truth, name=target)
    )
    agreement = {
        "adjusted_rand": float(adjusted_rand_score(truth, labels)),
        "nmi": float(normalized_mutual_info_score(truth, labels)),
        "target": target,
        "method": method,
        "space": space,
        "components": int(points.shape[1]) if space == "pca" else None,
        "per": per,
        "group": group if per == "patient" else None,
        "points": len(labels),
        "cases": len(table),
        "clusters": len(set(labels) - {NOISE}),
        "noise": int((labels == NOISE).sum()),
        "seed": seed,
    }
    return ClusterResult(assigned, agreement, contingency)


def contingency_figure(result: ClusterResult, **style: Any) -> Any:
    """Clusters against the classes: counts and each cluster's share of every class."""
    from matplotlib.figure import Figure

    table = result.contingency
    figure = Figure(figsize=(4.8, 1.2 + 0.5 * len(table)), layout="constrained", **style)
    axes = figure.add_subplot()
    rows = ["noise" if r == NOISE else r for r in table.index]
    count_heatmap(axes, table.to_numpy(), rows, list(table.columns))
    axes.set_xlabel(result.agreement["target"])
    axes.set_ylabel(CLUSTER_COLUMN)
    agreement = result.agreement
    axes.set_title(
        f"{agreement['method']} per {agreement['per']}: "
        f"ARI {agreement['adjusted_rand']:.3f}, NMI {agreement['nmi']:.3f}"
    )
    return figure


def write_cluster_report(
    result: ClusterResult, folder: str | Path, inputs: Sequence[str | Path] = ()
) -> list[Path]:
    """``clusters.csv``, ``agreement.json``, ``contingency.csv`` and ``contingency.png``
    (:data:`CLUSTER_REPORT_FILES`); each replaced whole, CSV cells safe for spreadsheets;
    returns the paths written. One of ``inputs`` (the features table) that a file would
    replace is refused, naming it, before anything is written."""
    writers: dict[str, Callable[[Path], Any]] = {
        "clusters.csv": lambda p: escape_frame(result.clusters).to_csv(p, index=False),
        "agreement.json": lambda p: p.write_text(
            json.dumps(result.agreement, indent=2) + "\n", encoding="utf-8"
        ),
        "contingency.csv": lambda p: escape_frame(result.contingency.reset_index()).to_csv(
            p, index=False
        ),
        "contingency.png": lambda p: contingency_figure(result).savefig(p, dpi=120),
    }
    return write_files(Path(folder), writers, "the clustering", inputs)
