"""Patient-grouped models on synthetic tables with known answers, including the leakage trap."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from sklearn.model_selection import KFold, cross_val_score

from napari_radiomics.analysis.models import evaluate_model, folds_from_cvind, make_pipeline
from napari_radiomics.cli import main

TYPES = ("meningioma", "glioma", "pituitary tumor")
PATIENTS, SLICES, FEATURES = 60, 8, 30


def table(kind: str, seed: int = 0) -> pd.DataFrame:
    """Slices of PATIENTS patients. ``signal``: the type shifts three features. ``shuffled``:
    the same, with types shuffled between patients (no signal left). ``fingerprint``: each
    patient has its own strong offset in every feature, and a random type."""
    rng = np.random.default_rng(seed)
    types = np.array([TYPES[i % 3] for i in range(PATIENTS)])
    if kind == "shuffled":
        features_type = types.copy()
        rng.shuffle(types)
    else:
        features_type = types
    if kind == "fingerprint":
        types = rng.choice(TYPES, size=PATIENTS)
    rows = []
    for patient in range(PATIENTS):
        offset = rng.normal(0, 5, FEATURES) if kind == "fingerprint" else np.zeros(FEATURES)
        for s in range(SLICES):
            values = rng.normal(0, 1, FEATURES) + offset
            if kind != "fingerprint":
                values[:3] += 3.0 * (TYPES.index(features_type[patient]) - 1)
            rows.append(
                {
                    "case": str(patient * SLICES + s + 1),
                    "patient_id": f"P{patient:03d}",
                    "label": TYPES.index(types[patient]) + 1,
                    "tumor_type": types[patient],
                    "roi_label": 1,
                    "diagnostics_Versions_PyRadiomics": "3.1.4",
                    **{f"original_firstorder_F{i}": v for i, v in enumerate(values)},
                }
            )
    return pd.DataFrame(rows)


def test_a_strong_signal_is_found() -> None:
    result = evaluate_model(table("signal"), importance_repeats=2)
    assert result.metrics["balanced_accuracy"]["mean"] > 0.9
    assert set(result.importances["feature"].head(3)) == {
        f"original_firstorder_F{i}" for i in range(3)
    }
    assert result.confusion.sum() == PATIENTS * SLICES


def test_types_shuffled_between_patients_give_chance() -> None:
    accuracy = evaluate_model(table("shuffled"), importance_repeats=0).metrics
    assert accuracy["balanced_accuracy"]["mean"] < 0.5  # chance is 1/3


def test_a_patient_fingerprint_does_not_leak_into_the_score() -> None:
    """Types random per patient, a strong per-patient offset: only a split that puts slices of
    one patient on both sides scores well, by recognising the patient."""
    frame = table("fingerprint")
    grouped = evaluate_model(frame, importance_repeats=0).metrics["balanced_accuracy"]["mean"]
    assert grouped < 0.5
    features = [c for c in frame.columns if c.startswith("original_")]
    leaky = cross_val_score(
        make_pipeline(), frame[features], frame["tumor_type"], scoring="balanced_accuracy",
        cv=KFold(5, shuffle=True, random_state=0),
    ).mean()  # fmt: skip
    assert leaky > 0.6  # what a slice-wise split would have reported (chance: 1/3)
    assert leaky > grouped + 0.25


def test_report_files_and_disjoint_groups(tmp_path: Path) -> None:
    frame = table("signal")
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    out = tmp_path / "model"
    assert main(["model", str(features), "-o", str(out), "--importance-repeats", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["balanced_accuracy"]) == {"mean", "std"}
    assert len(metrics["folds"]) == 5
    tested = []
    for fold in metrics["folds"]:
        assert not set(fold["train_groups"]) & set(fold["test_groups"])
        tested += fold["test_groups"]
    assert sorted(tested) == sorted(frame["patient_id"].unique())  # each patient tested once
    predictions = pd.read_csv(out / "predictions.csv", dtype={"case": str})
    assert sorted(predictions["case"]) == sorted(frame["case"])
    assert (
        "diagnostics_Versions_PyRadiomics"
        not in pd.read_csv(out / "importances.csv")["feature"].tolist()
    )
    for name in ("confusion.png", "importances.png", "report.md"):
        assert (out / name).stat().st_size > 0
    assert "balanced accuracy" in (out / "report.md").read_text()


def test_the_datasets_own_folds(tmp_path: Path) -> None:
    frame = table("signal")
    patient_fold = {p: i % 5 + 1 for i, p in enumerate(sorted(frame["patient_id"].unique()))}
    cvind = frame["patient_id"].map(patient_fold).to_numpy()
    scipy.io.savemat(tmp_path / "cvind.mat", {"cvind": cvind.reshape(-1, 1)})
    folds = folds_from_cvind(tmp_path / "cvind.mat", frame["case"])
    result = evaluate_model(frame, folds=folds, importance_repeats=0)
    assert [len(f["test_groups"]) for f in result.metrics["folds"]] == [12] * 5
    slice_wise = np.arange(len(frame)) % 5 + 1  # a split that separates a patient's slices
    scipy.io.savemat(tmp_path / "bad.mat", {"cvind": slice_wise.reshape(-1, 1)})
    with pytest.raises(ValueError, match="in both the training and the test part"):
        evaluate_model(frame, folds=folds_from_cvind(tmp_path / "bad.mat", frame["case"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="tumor_type"), "target column 'tumor_type'"),
        (lambda f: f.drop(columns="patient_id"), "group column 'patient_id'"),
        (lambda f: f.assign(tumor_type="glioma"), "single class"),
        (lambda f: f.assign(original_firstorder_F4=np.nan), r"F4'\] hold NaN"),
        (lambda f: f.assign(original_firstorder_F5="x"), r"F5'\] hold non-numeric"),
        (lambda f: f[["case", "patient_id", "tumor_type"]], "no feature columns"),
        (lambda f: f[f["patient_id"].isin(["P000", "P001", "P002", "P003"])], "fewer than"),
    ],
)
def test_bad_tables_name_the_column(change, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_model(change(table("signal")), importance_repeats=0)
    features = tmp_path / "bad.csv"
    change(table("signal")).to_csv(features, index=False)
    assert main(["model", str(features), "-o", str(tmp_path / "out")]) == 2


def test_fast_importances_are_the_plain_permutation_measure() -> None:
    """The rank-one shortcut gives what shuffling and predicting gives, permutation for
    permutation; and sklearn's own permutation_importance agrees on average."""
    from sklearn.inspection import permutation_importance

    from napari_radiomics.analysis.models import model_inputs, permutation_importances

    x, y, _ = model_inputs(table("signal"), "tumor_type", "patient_id")
    model = make_pipeline(select=10).fit(x.iloc[:300], y.iloc[:300])
    test_x, test_y = x.iloc[300:], y.iloc[300:]
    fast = permutation_importances(model, test_x, test_y, 4, np.random.default_rng(1))

    class Opaque:  # the same classifier, without the linear shortcut's attributes
        def __init__(self, inner: object) -> None:
            self.inner = inner
            self.classes_ = inner.classes_

        def predict(self, values: np.ndarray) -> np.ndarray:
            return self.inner.predict(values)

    slow_model = make_pipeline(select=10).fit(x.iloc[:300], y.iloc[:300])
    slow_model.steps[-1] = ("model", Opaque(slow_model[-1]))
    slow = permutation_importances(slow_model, test_x, test_y, 4, np.random.default_rng(1))
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    assert np.count_nonzero(fast) <= 10  # features the selection dropped have no effect
    reference = permutation_importance(
        model, test_x, test_y, scoring="balanced_accuracy", n_repeats=30, random_state=0
    ).importances_mean
    np.testing.assert_allclose(fast, reference, atol=0.05)
    assert set(np.argsort(fast)[-3:]) == {0, 1, 2}


# ------------------------------------------------------------------ hostile input (issue 17)
def _model(features: Path, out: Path, *options: str) -> int:
    return main(["model", str(features), "-o", str(out), *options])


def test_a_target_that_is_a_feature_is_not_used_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A discrete feature column as ``--target``: predicted from the other features (chance
    here), not from itself (which scored a perfect 1.000)."""
    frame = table("shuffled")
    rng = np.random.default_rng(3)
    code = dict(zip(frame["patient_id"].unique(), rng.integers(0, 2, PATIENTS), strict=True))
    frame["original_firstorder_Code"] = frame["patient_id"].map(code).astype(float)
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    out = tmp_path / "out"
    assert _model(features, out, "--target", "original_firstorder_Code") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["balanced_accuracy"]["mean"] < 0.75  # the bug: 1.000
    assert metrics["left_out"] == ["original_firstorder_Code"]
    assert metrics["features"] == FEATURES
    assert "'original_firstorder_Code' is the target" in capsys.readouterr().err
    assert "not used as features" in (out / "report.md").read_text()


def test_negative_importance_repeats_are_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = tmp_path / "features.csv"
    table("signal").to_csv(features, index=False)
    out = tmp_path / "out"
    assert _model(features, out, "--importance-repeats", "-1") == 2
    assert "--importance-repeats: expected an integer >= 0" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ValueError, match="importance repeats must be 0"):
        evaluate_model(table("signal"), importance_repeats=-1)


def test_empty_target_cells_are_refused_with_a_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = table("signal")
    frame.loc[[3, 10, 11], "tumor_type"] = ""
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    assert _model(features, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{features}: target column 'tumor_type' is empty in 3 of {len(frame)} rows" in err
    assert "first at row 4" in err


def test_unreadable_tables_and_a_file_as_output_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    table("signal").head(0).to_csv(header_only, index=False)
    latin1 = tmp_path / "latin1.csv"
    frame = table("signal")
    frame.loc[0, "patient_id"] = "Müller"
    latin1.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"")
    for path, problem in [
        (empty, "is empty"),
        (broken, "cannot be read as Parquet"),
        (header_only, "the table has no rows"),
        (latin1, "is not UTF-8 text (byte 0xfc)"),
    ]:
        assert _model(path, tmp_path / "out") == 2
        err = capsys.readouterr().err
        assert f"{path}: " in err
        assert problem in err
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    taken = tmp_path / "report.txt"
    taken.write_text("keep me")
    assert _model(features, taken) == 2
    assert f"-o {taken}: is a file" in capsys.readouterr().err
    assert taken.read_text() == "keep me"


def test_the_report_never_replaces_the_table_or_the_split_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FEATURES or the cvind.mat that ``-o DIR`` would write a report file over, under its
    own name (``DIR/predictions.csv`` is the table) or another one (a hard link, as
    ``Predictions.csv`` is ``predictions.csv`` where case is ignored), is a usage error naming
    it before any model is fitted: nothing is written and the file is left byte for byte.
    The core refuses the same for the dock (``write_model_report``'s ``inputs``)."""
    from napari_radiomics.analysis.report import write_model_report
    from napari_radiomics.errors import WriteError

    frame = table("signal")
    out, linked, split = tmp_path / "out", tmp_path / "linked", tmp_path / "split"
    for folder in (out, linked, split):
        folder.mkdir()
    features = out / "predictions.csv"
    frame.to_csv(features, index=False)
    os.link(features, linked / "report.md")
    cvind = tmp_path / "cvind.mat"
    fold_of_patient = {p: i % 5 + 1 for i, p in enumerate(frame["patient_id"].unique())}
    folds = frame["patient_id"].map(fold_of_patient).to_numpy()
    scipy.io.savemat(cvind, {"cvind": folds.reshape(-1, 1)})
    os.link(cvind, split / "metrics.json")
    kept = {p: p.read_bytes() for p in (features, cvind)}
    for folder, named in ((out, features), (linked, features), (split, cvind)):
        status = _model(features, folder, "--folds", str(cvind), "--importance-repeats", "0")
        error = capsys.readouterr().err
        assert status == 2, error
        assert f"{named}: is read for the report, which writes {folder}{os.sep}" in error
        assert {p: p.read_bytes() for p in kept} == kept
        assert len(list(folder.iterdir())) == 1  # the input, nothing written beside it
    result = evaluate_model(frame, importance_repeats=0)
    with pytest.raises(WriteError, match="is read for the model report"):
        write_model_report(result, linked, [features])
    assert {p: p.read_bytes() for p in kept} == kept
