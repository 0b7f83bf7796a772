"""The ICC against an independent reference (pingouin) and Shrout & Fleiss' worked example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest

from napari_radiomics.analysis import ICC_FORMS, icc, icc_table

#: Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=float,
)
#: Their Table 4, single-rater forms, to the two decimals printed there.
PUBLISHED = {"1,1": 0.17, "2,1": 0.29, "3,1": 0.71}
#: pingouin >= 0.7 names the forms after McGraw & Wong: A = absolute agreement, C = consistency.
PINGOUIN = {"1,1": "ICC(1,1)", "2,1": "ICC(A,1)", "3,1": "ICC(C,1)"}


def _long(values: np.ndarray) -> pd.DataFrame:
    n, k = values.shape
    return pd.DataFrame(
        {
            "case": np.repeat([f"c{i}" for i in range(n)], k),
            "perturbation": np.tile(np.arange(k), n),
            "value": values.ravel(),
        }
    )


def _pingouin(values: np.ndarray, form: str) -> tuple[float, float, float]:
    table = pingouin.intraclass_corr(
        data=_long(values), targets="case", raters="perturbation", ratings="value"
    ).set_index("Type")
    row = table.loc[PINGOUIN[form]]
    low, high = row["CI95"] if "CI95" in table.columns else row["CI95%"]
    return float(row["ICC"]), float(low), float(high)


@pytest.mark.parametrize("form", ICC_FORMS)
def test_shrout_and_fleiss_worked_example(form: str) -> None:
    value, low, high = icc(SHROUT_FLEISS, form)
    assert round(float(value), 2) == PUBLISHED[form]
    assert low < value < high


@pytest.mark.parametrize("form", ICC_FORMS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_and_intervals_equal_pingouin(form: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 12 + seed * 7, 3 + seed
    truth = rng.normal(0, 2, size=(n, 1))
    values = truth + rng.normal(0, 1, size=(n, k)) + rng.normal(0, 0.5, size=(1, k))
    value, low, high = icc(values, form)
    want_value, want_low, want_high = _pingouin(values, form)
    assert float(value) == pytest.approx(want_value, abs=1e-12)
    # pingouin rounds its interval to 2 decimals
    assert float(low) == pytest.approx(want_low, abs=0.005 + 1e-12)
    assert float(high) == pytest.approx(want_high, abs=0.005 + 1e-12)


def test_many_features_at_once_equal_one_by_one() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(5, 10, 4)) + rng.normal(size=(5, 10, 1))
    for form in ICC_FORMS:
        together = icc(values, form)
        for i in range(5):
            alone = icc(values[i], form)
            for a, b in zip(together, alone, strict=True):
                assert a[i] == pytest.approx(float(b), abs=1e-12)


def test_table_marks_robust_features_and_explains_nan() -> None:
    rng = np.random.default_rng(4)
    n, k = 40, 5
    truth = rng.normal(0, 10, size=(n, 1))
    frame = _long(truth + rng.normal(0, 0.1, size=(n, k))).rename(columns={"value": "stable"})
    frame["noisy"] = rng.normal(size=n * k)
    frame["constant"] = 3.0
    frame["gappy"] = frame["stable"]
    frame.loc[0, "gappy"] = np.nan
    table = icc_table(frame, ["stable", "noisy", "constant", "gappy"]).set_index("feature")
    assert table.loc["stable", "robust"]
    assert table.loc["stable", "ci_low"] >= 0.9
    assert not table.loc["noisy", "robust"]
    assert table.loc["noisy", "icc"] < 0.3
    assert np.isnan(table.loc["constant", "icc"])
    assert "constant" in table.loc["constant", "reason"]
    assert "1 case(s) incomplete" in table.loc["gappy", "reason"]
    assert set(table["form"]) == {"1,1"}


@pytest.mark.parametrize("form", ICC_FORMS)
def test_table_gives_each_features_own_icc_exactly(form: str) -> None:
    """The table computes its complete features together: the numbers are, to the last bit,
    those of ``icc`` on each feature's own (cases, raters) grid, rows in any order."""
    rng = np.random.default_rng(5)
    n, k = 30, 9
    truth = rng.normal(0, 3, size=(n, 1))
    frame = _long(truth + rng.normal(0, 1, size=(n, k))).rename(columns={"value": "f0"})
    for i in range(1, 12):
        frame[f"f{i}"] = truth.repeat(k) * rng.normal() + rng.normal(0, i, size=n * k)
    frame.loc[7, "f3"] = np.nan  # computed on its own, without the incomplete case
    frame = frame.sample(frac=1.0, random_state=1)
    features = [f"f{i}" for i in range(12)]
    table = icc_table(frame, features, form=form).set_index("feature")
    grids = frame.pivot(index="case", columns="perturbation")
    order = {"index": pd.unique(frame["case"]), "columns": pd.unique(frame["perturbation"])}
    for feature in features:
        grid = grids[feature].reindex(**order).to_numpy()  # cases and raters as they come
        value, low, high = icc(grid[np.isfinite(grid).all(axis=1)], form)
        assert table.loc[feature, ["icc", "ci_low", "ci_high"]].tolist() == [value, low, high]


def test_bad_input_names_the_problem() -> None:
    frame = _long(SHROUT_FLEISS)
    with pytest.raises(ValueError, match="column 'rater'"):
        icc_table(frame, ["value"], rater="rater")
    with pytest.raises(ValueError, match="at least 2 cases"):
        icc_table(frame[frame["case"] == "c0"], ["value"])
    with pytest.raises(ValueError, match="not known"):
        icc(SHROUT_FLEISS, "1,k")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="several rows"):
        icc_table(pd.concat([frame, frame.iloc[:1]]), ["value"])
    with pytest.raises(ValueError, match="feature column"):
        icc_table(frame, ["missing"])
