"""Intraclass correlation: how much of a feature's spread is between cases, not between raters.

A feature is robust to segmentation uncertainty when the same case keeps its place among the
others whichever mask (perturbation, rater, correction) it was measured on. Zwanenburg et al.
(2019) use ICC(1,1) over mask perturbations; ICC(2,1) and ICC(3,1) are the usual choices when
the "raters" are fixed (two segmentations, a before/after correction). The forms and their
95% confidence intervals from the F distribution follow Shrout & Fleiss (1979) and McGraw &
Wong (1996):

* ICC(1,1): one-way random effects, single rater, absolute agreement;
* ICC(2,1): two-way random effects, single rater, absolute agreement;
* ICC(3,1): two-way mixed effects, single rater, consistency.

Every feature of a table is computed at once, from the two-way ANOVA mean squares of an
(features, cases, raters) array. A feature with no variance at all, or one missing values,
gets NaN and the reason, never an exception: one constant feature must not stop the other
thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

# The F distribution's quantile function itself: scipy.stats.f.ppf computes it with this, the
# same numbers, after importing scipy.stats (half a second, paid by every robustness run).
from scipy.special import fdtri

__all__ = ["ICC_FORMS", "IccForm", "icc", "icc_table"]

IccForm = Literal["1,1", "2,1", "3,1"]
ICC_FORMS: tuple[IccForm, ...] = ("1,1", "2,1", "3,1")


def _mean_squares(values: np.ndarray) -> dict[str, np.ndarray]:
    """Two-way ANOVA mean squares of (features, n cases, k raters), one per feature."""
    _, n, k = values.shape
    grand = values.mean(axis=(1, 2), keepdims=True)
    case_means = values.mean(axis=2, keepdims=True)
    rater_means = values.mean(axis=1, keepdims=True)
    ss_cases = k * ((case_means - grand) ** 2).sum(axis=(1, 2))
    ss_raters = n * ((rater_means - grand) ** 2).sum(axis=(1, 2))
    ss_total = ((values - grand) ** 2).sum(axis=(1, 2))
    ss_within = ss_total - ss_cases  # everything inside a case: raters + residual
    ss_error = ss_within - ss_raters
    return {
        "cases": ss_cases / (n - 1),  # BMS
        "within": ss_within / (n * (k - 1)),  # WMS
        "raters": ss_raters / (k - 1),  # JMS
        "error": ss_error / ((n - 1) * (k - 1)),  # EMS
    }


def _interval(
    f_value: np.ndarray, df1: float, df2: np.ndarray | float, k: int, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """The exact F-based interval of ICC(1,1) and ICC(3,1): F is scaled by the F quantiles,
    then mapped back through ICC = (F - 1) / (F + k - 1)."""
    tail = (1 + confidence) / 2
    low_f = f_value / fdtri(df1, df2, tail)
    high_f = f_value * fdtri(df2, df1, tail)
    return (low_f - 1) / (low_f + k - 1), (high_f - 1) / (high_f + k - 1)


def _icc2_interval(
    value: np.ndarray, ms: dict[str, np.ndarray], n: int, k: int, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """McGraw & Wong's approximate interval for ICC(2,1): Satterthwaite's degrees of freedom
    for the mixture of the rater and error mean squares."""
    tail = (1 + confidence) / 2
    bms, jms, ems = ms["cases"], ms["raters"], ms["error"]
    a = k * value / (n * (1 - value))
    b = 1 + k * value * (n - 1) / (n * (1 - value))
    df = ((a * jms + b * ems) ** 2) / (
        (a * jms) ** 2 / (k - 1) + (b * ems) ** 2 / ((n - 1) * (k - 1))
    )
    f_high = fdtri(n - 1, df, tail)
    f_low = fdtri(df, n - 1, tail)
    denominator = k * jms + (k * n - k - n) * ems
    low = n * (bms - f_high * ems) / (f_high * denominator + n * bms)
    high = n * (f_low * bms - ems) / (denominator + n * f_low * bms)
    return low, high


def icc(
    values: np.ndarray, form: IccForm = "1,1", confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ICC, lower and upper confidence bound of each feature.

    ``values``: (n cases, k raters) for one feature, or (features, n cases, k raters). Needs
    n >= 2 cases and k >= 2 raters, every cell finite; features without between-case and
    within-case variance get NaN (see :func:`icc_table` for the reasons).
    """
    array = np.asarray(values, dtype=float)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(
            f"values must be (cases, raters) or (features, cases, raters), got {array.shape}"
        )
    if form not in ICC_FORMS:
        raise ValueError(f"ICC form {form!r} is not known; choose from {', '.join(ICC_FORMS)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    _, n, k = array.shape
    if n < 2 or k < 2:
        raise ValueError(f"an ICC needs at least 2 cases and 2 raters, got {n} cases and {k}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ms = _mean_squares(array)
        bms, wms, jms, ems = ms["cases"], ms["within"], ms["raters"], ms["error"]
        if form == "1,1":
            value = (bms - wms) / (bms + (k - 1) * wms)
            low, high = _interval(bms / wms, n - 1, n * (k - 1), k, confidence)
        elif form == "3,1":
            value = (bms - ems) / (bms + (k - 1) * ems)
            low, high = _interval(bms / ems, n - 1, (n - 1) * (k - 1), k, confidence)
        else:
            value = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
            low, high = _icc2_interval(value, ms, n, k, confidence)
    undefined = ~np.isfinite(value)
    value, low, high = (np.where(undefined, np.nan, x) for x in (value, low, high))
    if single:
        return value[0], low[0], high[0]
    return value, low, high


def icc_table(
    frame: pd.DataFrame,
    features: Sequence[str],
    *,
    case: str = "case",
    rater: str = "perturbation",
    form: IccForm = "1,1",
    confidence: float = 0.95,
    threshold: float = 0.9,
) -> pd.DataFrame:
    """One row per feature: ``feature, icc, ci_low, ci_high, robust, form, reason``.

    ``frame`` is long: one row per (case, rater) with the feature columns. "Robust" means the
    lower confidence bound reaches ``threshold`` (0.9: "excellent"), so a feature is not
    called robust on the strength of a few cases. A case missing a rater, or with a NaN value,
    is left out of that feature's ICC (the reason says how many); a feature left with fewer
    than 2 cases, or with no variance, gets NaN and the reason.
    """
    for column in (case, rater):
        if column not in frame.columns:
            raise ValueError(
                f"column {column!r} is not in the table (columns: {list(frame)[:8]}...)"
            )
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"feature column(s) {missing[:5]} are not in the table")
    cases = pd.unique(frame[case])
    raters = pd.unique(frame[rater])
    if len(cases) < 2:
        raise ValueError(f"an ICC needs at least 2 cases; column {case!r} has {len(cases)}")
    if len(raters) < 2:
        raise ValueError(f"an ICC needs at least 2 raters; column {rater!r} has {len(raters)}")
    if frame.duplicated([case, rater]).any():
        raise ValueError(f"the table has several rows for one ({case}, {rater}) pair")
    # One pivot and one ICC computation for every complete feature at once (features,
    # cases, raters), each feature's block contiguous, as icc() would get it alone: the same
    # sums in the same order, so the same numbers as feature by feature.
    grid = pd.MultiIndex.from_product([list(features), raters])
    pivot = frame.pivot(index=case, columns=rater, values=list(features)) if features else None
    array = np.empty((len(features), len(cases), len(raters)))
    if features:
        wide = pivot.reindex(index=cases, columns=grid).to_numpy(dtype=float)
        array[...] = wide.reshape(len(cases), len(features), len(raters)).transpose(1, 0, 2)
    complete = np.isfinite(array).all(axis=2)  # (features, cases)
    whole = complete.all(axis=1) & (array.max(axis=(1, 2)) > array.min(axis=(1, 2)))
    results: dict[int, tuple[float, float, float]] = {}
    if whole.any():
        together = zip(*icc(array[whole], form, confidence), strict=True)
        results = dict(zip(np.flatnonzero(whole).tolist(), together, strict=True))
    rows = []
    for index, feature in enumerate(features):
        values = array[index][complete[index]]
        reason = (
            ""
            if complete[index].all()
            else f"{int((~complete[index]).sum())} case(s) incomplete, left out"
        )
        if len(values) < 2:
            rows.append(
                (feature, np.nan, np.nan, np.nan, False, form, "fewer than 2 complete cases")
            )
            continue
        if np.ptp(values) == 0:
            rows.append(
                (
                    feature,
                    np.nan,
                    np.nan,
                    np.nan,
                    False,
                    form,
                    "no variance: the feature is constant",
                )
            )
            continue
        value, low, high = results[index] if index in results else icc(values, form, confidence)
        if not np.isfinite(value):
            reason = "; ".join(
                r for r in (reason, "undefined: no variance between or within cases") if r
            )
        robust = bool(np.isfinite(low) and low >= threshold)
        rows.append((feature, float(value), float(low), float(high), robust, form, reason))
    return pd.DataFrame(
        rows, columns=["feature", "icc", "ci_low", "ci_high", "robust", "form", "reason"]
    )
