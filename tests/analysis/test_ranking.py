"""Feature ranking on synthetic tables with known answers, checked against independent code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from napari_radiomics.analysis.ranking import benjamini_hochberg, rank_features

TYPES = ("glioma", "meningioma", "pituitary tumor")
SIGNAL, NOISE, CONSTANT = (
    "original_firstorder_Mean",
    "original_glcm_Contrast",
    "original_shape2D_Elongation",
)


def slices(patients: int = 30, per_patient: int = 5, seed: int = 0) -> pd.DataFrame:
    """``SIGNAL`` shifts with the type, ``NOISE`` does not, ``CONSTANT`` never changes; each
    patient has a different number of slices (1..per_patient)."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in range(patients):
        kind = patient % 3
        for s in range(1 + patient % per_patient):
            rows.append(
                {
                    "case": f"{patient}-{s}",
                    "patient_id": f"P{patient:03d}",
                    "tumor_type": TYPES[kind],
                    SIGNAL: 4.0 * kind + rng.normal(),
                    NOISE: rng.normal(),
                    CONSTANT: 1.0,
                    "original_firstorder_Range": rng.integers(0, 4),  # ties
                }
            )
    return pd.DataFrame(rows)


def test_the_separating_feature_ranks_first_and_noise_does_not_pass() -> None:
    ranked = rank_features(slices())
    assert ranked.index[0] == SIGNAL
    assert ranked.loc[SIGNAL, "q"] < 0.05
    assert ranked.loc[NOISE, "q"] > 0.05
    assert ranked.loc[SIGNAL, "epsilon_squared"] > 0.8
    assert ranked.loc[SIGNAL, "auc_pituitary tumor"] > 0.9  # the highest values
    assert ranked.loc[SIGNAL, "auc_glioma"] < 0.1  # the lowest
    assert ranked.loc[CONSTANT, ["H", "p", "epsilon_squared"]].tolist() == [0.0, 1.0, 0.0]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]
    assert ranked.loc[SIGNAL, "image_type"] == "original"
    assert ranked.loc[SIGNAL, "feature_class"] == "firstorder"
    assert ranked.attrs == {"observations": "patient_id means", "n": 30}


def test_per_patient_values_are_the_hand_computed_slice_means() -> None:
    table = slices()
    features = [SIGNAL, NOISE, "original_firstorder_Range"]
    means = table.groupby("patient_id")[features].mean()
    types = table.groupby("patient_id")["tumor_type"].first()
    ranked = rank_features(table, features=features)
    for feature in features:
        expected = stats.kruskal(*(means.loc[types == t, feature] for t in TYPES))
        assert ranked.loc[feature, "H"] == pytest.approx(expected.statistic, rel=1e-12)
        assert ranked.loc[feature, "p"] == pytest.approx(expected.pvalue, rel=1e-10)
        assert ranked.loc[feature, "epsilon_squared"] == pytest.approx(
            expected.statistic / (len(means) - 1)
        )
        for kind in TYPES:
            auc = roc_auc_score(types == kind, means[feature])
            assert ranked.loc[feature, f"auc_{kind}"] == pytest.approx(auc, rel=1e-12)


def test_per_slice_counts_every_slice() -> None:
    table = slices()
    ranked = rank_features(table, per_slice=True, features=[SIGNAL, "original_firstorder_Range"])
    assert ranked.attrs == {"observations": "slices", "n": len(table)}
    feature = "original_firstorder_Range"  # integer values: many ties
    expected = stats.kruskal(*(table.loc[table.tumor_type == t, feature] for t in TYPES))
    assert ranked.loc[feature, "H"] == pytest.approx(expected.statistic, rel=1e-12)
    auc = roc_auc_score(table.tumor_type == "glioma", table[feature])
    assert ranked.loc[feature, "auc_glioma"] == pytest.approx(auc, rel=1e-12)


def test_q_values_are_benjamini_hochberg() -> None:
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, 20), [1.0, 1.0]])
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))
    table = slices(seed=2)
    for i in range(20):
        table[f"original_firstorder_Noise{i}"] = rng.normal(size=len(table))
    ranked = rank_features(table)
    np.testing.assert_allclose(ranked["q"], stats.false_discovery_control(ranked["p"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="tumor_type"), "target column 'tumor_type' is not in"),
        (lambda t: t.drop(columns="patient_id"), "group column 'patient_id' is not in"),
        (lambda t: t.assign(tumor_type="glioma"), "'tumor_type' has a single class"),
        (lambda t: t.assign(**{NOISE: np.nan}), f"{NOISE}.*NaN or infinite"),
        (lambda t: t.assign(**{SIGNAL: np.inf}), f"{SIGNAL}.*NaN or infinite"),
        (lambda t: t.assign(**{NOISE: "high"}), f"{NOISE}.*non-numeric"),
        (lambda t: t[["case", "patient_id", "tumor_type"]], "no feature columns"),
        (
            lambda t: t.assign(patient_id="P000"),
            "patient_id 'P000' has slices of several classes",
        ),
    ],
)
def test_bad_input_names_the_column(change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rank_features(change(slices()))


def test_per_slice_needs_no_group_column() -> None:
    ranked = rank_features(slices().drop(columns="patient_id"), per_slice=True)
    assert ranked.index[0] == SIGNAL
