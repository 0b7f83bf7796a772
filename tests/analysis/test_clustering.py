"""Clustering against tumour type on tables with known answers, and `napari-radiomics cluster`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_radiomics.analysis.clustering import METHODS, cluster_table
from napari_radiomics.cli import main
from napari_radiomics.results import read_table

TYPES = ("meningioma", "glioma", "pituitary tumor")
PATIENTS, SLICES, FEATURES = 45, 4, 8


def typed(seed: int = 0, *, separated: bool = True) -> pd.DataFrame:
    """Slices of PATIENTS patients; with ``separated`` each type sits around its own centre,
    far apart in every feature, with features on very different scales (standardising must
    matter); without, every patient is drawn from one cloud and the types mean nothing."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (3, FEATURES)) if separated else np.zeros((3, FEATURES))
    scales = 10.0 ** np.arange(FEATURES) / 100
    rows = []
    for patient in range(PATIENTS):
        kind = patient % 3
        patient_offset = rng.normal(0, 0.5, FEATURES)
        for s in range(SLICES):
            values = (centres[kind] + patient_offset + rng.normal(0, 0.5, FEATURES)) * scales
            rows.append(
                {
                    "case": f"{patient * SLICES + s + 1:03d}",
                    "patient_id": f"P{patient:03d}",
                    "label": kind + 1,
                    "tumor_type": TYPES[kind],
                    "diagnostics_Versions_PyRadiomics": "3.1.4",
                    **{f"original_firstorder_F{i}": v for i, v in enumerate(values)},
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("space", ["standardised", "pca"])
@pytest.mark.parametrize("per", ["patient", "slice"])
def test_separated_types_are_found(method: str, space: str, per: str) -> None:
    frame = typed()
    result = cluster_table(frame, method=method, space=space, per=per, components=3)
    agreement = result.agreement
    assert agreement["adjusted_rand"] > 0.95, agreement
    assert agreement["nmi"] > 0.95, agreement
    assert agreement["clusters"] == 3
    assert agreement["points"] == (PATIENTS if per == "patient" else PATIENTS * SLICES)
    assert agreement["components"] == (3 if space == "pca" else None)
    clusters = result.clusters
    assert list(clusters["case"]) == list(frame["case"])  # every case, in the table's order
    assert "original_firstorder_F0" not in clusters.columns
    assert "diagnostics_Versions_PyRadiomics" not in clusters.columns
    if per == "patient":  # each case carries its patient's cluster
        assert (clusters.groupby("patient_id")["cluster"].nunique() == 1).all()
    assert int(result.contingency.to_numpy().sum()) == agreement["points"]


def test_types_that_mean_nothing_do_not_agree() -> None:
    for seed in range(3):
        agreement = cluster_table(typed(seed, separated=False)).agreement
        assert abs(agreement["adjusted_rand"]) < 0.1, agreement
        assert agreement["nmi"] < 0.15, agreement


def test_hdbscan_noise_is_its_own_group() -> None:
    """A patient far from every type is noise (-1), and counted as such."""
    frame = typed()
    outlier = frame["patient_id"] == "P000"
    features = [c for c in frame.columns if c.startswith("original_")]
    frame.loc[outlier, features] = frame.loc[outlier, features] * 50 + 1000
    result = cluster_table(frame, method="hdbscan")
    assert result.agreement["noise"] == 1
    assert set(result.clusters.loc[outlier, "cluster"]) == {-1}
    assert -1 in result.contingency.index


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": "grade"}, "target column 'grade' is not in the table"),
        ({"per": "lesion"}, "per must be 'patient' or 'slice'"),
        ({"clusters": 46}, "clusters must be 2 to 45"),
        ({"method": "dbscan"}, "method 'dbscan' is not known"),
        ({"space": "umap"}, "space 'umap' is not known"),
        ({"method": "hdbscan", "min_cluster_size": 1}, "min cluster size must be 2 to 45"),
    ],
)
def test_bad_options_are_named(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_table(typed(), **options)


def test_cli_writes_clusters_agreement_and_contingency(tmp_path: Path) -> None:
    frame = typed()
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    out = tmp_path / "clusters"
    assert main(["cluster", str(features), "-o", str(out), "--method", "gmm"]) == 0
    agreement = json.loads((out / "agreement.json").read_text())
    assert agreement["adjusted_rand"] > 0.95
    assert {"adjusted_rand", "nmi", "method", "per"} <= set(agreement)
    clusters = read_table(out / "clusters.csv")
    assert list(clusters["case"]) == list(frame["case"])  # ids kept as text: "001"
    assert list(clusters.columns) == ["case", "patient_id", "label", "tumor_type", "cluster"]
    contingency = pd.read_csv(out / "contingency.csv")
    assert list(contingency.columns) == ["cluster", *sorted(TYPES)]
    assert int(contingency[list(TYPES)].to_numpy().sum()) == PATIENTS
    assert (out / "contingency.png").stat().st_size > 0
    assert main(["cluster", str(features), "-o", str(tmp_path / "x"), "--target", "grade"]) == 2
    (tmp_path / "file").write_text("")
    assert main(["cluster", str(features), "-o", str(tmp_path / "file")]) == 2


def test_cli_help_lists_the_columns_after_the_clustering_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The order ``cluster --help`` has always had (scripts and docs quote it)."""
    assert main(["cluster", "--help"]) == 0
    text = capsys.readouterr().out
    options = ("--method", "--min-cluster-size", "--target", "--group", "--seed")
    places = [text.index(f"\n  {option}") for option in options]
    assert places == sorted(places), text


def test_the_clustering_never_replaces_the_table_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FEATURES that ``-o DIR`` would write ``clusters.csv`` (or another file) over, by its
    own name or another (a hard link, as ``Clusters.csv`` is ``clusters.csv`` where case is
    ignored), is a usage error naming it before the clustering; the table is left byte for
    byte and nothing is written beside it. The core refuses it too."""
    from napari_radiomics.analysis.clustering import write_cluster_report
    from napari_radiomics.errors import WriteError

    out, linked = tmp_path / "out", tmp_path / "linked"
    out.mkdir()
    linked.mkdir()
    features = out / "clusters.csv"
    typed().to_csv(features, index=False)
    os.link(features, linked / "contingency.csv")
    data = features.read_bytes()
    for folder in (out, linked):
        assert main(["cluster", str(features), "-o", str(folder)]) == 2
        error = capsys.readouterr().err
        assert f"{features}: is read for the clustering, which writes {folder}{os.sep}" in error
        assert features.read_bytes() == data
        assert len(list(folder.iterdir())) == 1
    result = cluster_table(typed())
    with pytest.raises(WriteError, match="is read for the clustering"):
        write_cluster_report(result, linked, [features])
    assert features.read_bytes() == data
