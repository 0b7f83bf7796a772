"""ComBat inside the folds: the same numbers as neuroCombat, fitted on training rows only,
better accuracy where sites differ, chance where there is nothing but sites to learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from neuroCombat import neuroCombat

from napari_radiomics.analysis.harmonize import ComBat
from napari_radiomics.analysis.models import evaluate_model
from napari_radiomics.cli import main

TYPES = ("meningioma", "glioma", "pituitary tumor")
PATIENTS, SLICES, FEATURES, SITES = 60, 3, 10, 4


def sited(seed: int, signal: float = 1.5) -> pd.DataFrame:
    """Slices of PATIENTS patients scanned at SITES sites, each site shifting and scaling every
    feature its own way (offsets of sd 8: far larger than the biology). Each site sees every
    type equally. ``signal``: how far the type moves three features (in the site's scale);
    0 gives each patient a random type, so the sites are all there is to learn."""
    rng = np.random.default_rng(seed)
    types = np.array([TYPES[i % 3] for i in range(PATIENTS)])
    if signal == 0:
        types = rng.choice(TYPES, size=PATIENTS)
    offset = rng.normal(0, 8, (SITES, FEATURES))
    scale = rng.uniform(0.5, 3, (SITES, FEATURES))
    rows = []
    for patient in range(PATIENTS):
        site = (patient // 3) % SITES
        for s in range(SLICES):
            values = rng.normal(0, 1, FEATURES)
            values[:3] += signal * (TYPES.index(types[patient]) - 1)
            values = values * scale[site] + offset[site]
            rows.append(
                {
                    "case": str(patient * SLICES + s + 1),
                    "patient_id": f"P{patient:03d}",
                    "tumor_type": types[patient],
                    "site": f"S{site}",
                    **{f"original_firstorder_F{i}": v for i, v in enumerate(values)},
                }
            )
    return pd.DataFrame(rows)


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("original_")]


def test_the_same_numbers_as_neurocombat() -> None:
    """Learned on some rows and applied to the same rows: neuroCombat's output (its
    ``neuroCombatFromTraining`` does not run on NumPy 2, so applying is checked on the rows
    the fit saw)."""
    frame = sited(0)
    features = _features(frame)
    train = frame[frame["patient_id"] < "P040"]
    reference = neuroCombat(
        train[features].to_numpy().T.copy(), train[["site"]], "site", eb=True, parametric=True
    )["data"].T
    ours = ComBat("site").fit(train[[*features, "site"]]).transform(train[[*features, "site"]])
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6 * np.abs(reference).max())
    # Whole rows are transformed one by one: the rows given with them do not matter.
    held_out = frame[frame["patient_id"] >= "P040"][[*features, "site"]]
    combat = ComBat("site").fit(train[[*features, "site"]])
    together = combat.transform(held_out)
    alone = np.vstack([combat.transform(held_out.iloc[[i]]) for i in range(len(held_out))])
    np.testing.assert_array_equal(together, alone)


def test_harmonisation_raises_patient_grouped_accuracy() -> None:
    for seed in range(3):
        frame = sited(seed)
        plain = evaluate_model(frame, importance_repeats=0).metrics
        harmonised = evaluate_model(frame, importance_repeats=0, harmonize="site").metrics
        gain = harmonised["balanced_accuracy"]["mean"] - plain["balanced_accuracy"]["mean"]
        assert harmonised["balanced_accuracy"]["mean"] > 0.75
        assert gain > 0.15, (seed, gain)
        assert harmonised["features"] == FEATURES  # the site is not a feature
        assert "site" not in harmonised["left_out"]


def test_sites_without_signal_score_chance() -> None:
    """The leakage trap: features carry a strong site effect and nothing else, types are
    random per patient. Whatever the site effect could give away, a harmonised model learned
    inside the folds scores chance: 1/3 with three types, within 0.06 over five seeds (each
    seed within 0.14)."""
    scores = [
        evaluate_model(sited(seed, signal=0), importance_repeats=0, harmonize="site").metrics[
            "balanced_accuracy"
        ]["mean"]
        for seed in range(5)
    ]
    assert abs(np.mean(scores) - 1 / 3) < 0.06, scores
    assert all(abs(s - 1 / 3) < 0.14 for s in scores), scores


def test_fitting_sees_only_the_training_rows() -> None:
    """A patient of fold 1's test part is made extreme: the other test cases of fold 1 are
    predicted exactly as before (ComBat learned nothing from the test part), while folds that
    train on that patient change."""
    frame = sited(1)
    before = evaluate_model(frame, importance_repeats=0, harmonize="site")
    fold = before.metrics["folds"][0]
    victim = fold["test_groups"][0]
    changed = frame.copy()
    rows = changed["patient_id"] == victim
    changed.loc[rows, _features(frame)] = changed.loc[rows, _features(frame)] * 40 + 500
    after = evaluate_model(changed, importance_repeats=0, harmonize="site")
    assert after.metrics["folds"][0]["test_groups"] == fold["test_groups"]
    others = (before.predictions["fold"] == 1) & (before.predictions["patient_id"] != victim)
    pd.testing.assert_series_equal(
        before.predictions.loc[others, "predicted"], after.predictions.loc[others, "predicted"]
    )
    trained_on = before.predictions["fold"] != 1
    differs = before.predictions.loc[trained_on, "predicted"].ne(
        after.predictions.loc[trained_on, "predicted"]
    )
    assert differs.any()  # the change is big enough to matter where it is learned from


def _blank_first_site(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(site=frame["site"].where(frame.index > 0))


def _lonely_site(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(site=np.where(frame["patient_id"] == "P000", "lonely", frame["site"]))


def test_a_plain_scikit_learn_grouped_split_carries_the_batch_with_the_rows() -> None:
    """The pipeline needs no routing: any splitter of ``X`` hands ComBat each part's sites."""
    from sklearn.model_selection import GroupKFold, cross_val_score

    from napari_radiomics.analysis.models import make_pipeline

    frame = sited(0)
    x = frame[[*_features(frame), "site"]]
    scores = cross_val_score(
        make_pipeline(harmonize="site"), x, frame["tumor_type"], groups=frame["patient_id"],
        cv=GroupKFold(5), scoring="balanced_accuracy",
    )  # fmt: skip
    assert scores.mean() > 0.75


@pytest.mark.parametrize(
    ("change", "harmonize", "message"),
    [
        (lambda f: f, "scanner", "batch column 'scanner' is not in the table"),
        (_blank_first_site, "site", "batch column 'site' is empty in 1"),
        (lambda f: f, "tumor_type", "is the target or the group"),
        (_lonely_site, "site", r"\['lonely'\] of column 'site' are only in the test part"),
    ],
)
def test_bad_batches_are_named(change, harmonize: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_model(change(sited(0)), importance_repeats=0, harmonize=harmonize)


def test_cli_writes_how_and_what_each_fold_learned_from(tmp_path: Path) -> None:
    frame = sited(2)
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    out = tmp_path / "model"
    argv = ["model", str(features), "-o", str(out), "--harmonize", "site"]
    assert main([*argv, "--importance-repeats", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["harmonization"]["batch_column"] == "site"
    assert metrics["harmonization"]["covariates"] == []
    site_of = frame.groupby("patient_id")["site"].first()
    for fold in metrics["folds"]:
        assert fold["train_batches"] == sorted(site_of[fold["train_groups"]].unique())
        assert fold["test_batches"] == sorted(site_of[fold["test_groups"]].unique())
    importances = pd.read_csv(out / "importances.csv")
    assert "site" not in importances["feature"].tolist()
    assert len(importances) == FEATURES
    assert "ComBat" in (out / "report.md").read_text()
    plain = tmp_path / "plain"
    assert main(["model", str(features), "-o", str(plain), "--importance-repeats", "0"]) == 0
    assert json.loads((plain / "metrics.json").read_text())["harmonization"] is None
    assert main([*argv[:-1], "scanner"]) == 2
