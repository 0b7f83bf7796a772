"""ComBat harmonisation as a scikit-learn step, learned on a training fold and then applied.

Multi-centre radiomics carries batch effects (scanner, site, protocol): each batch shifts and
scales the features. ComBat (Johnson, Li and Rabinovic 2007, parametric empirical Bayes; in
imaging as Fortin et al.'s neuroCombat) estimates, per feature, a location and a scale of each
batch, shrinks them towards what all features of that batch share, and removes them.

Why a transformer of our own: ``neuroHarmonize`` (which separates learning from applying)
pins ``numpy<2`` and ``pandas<3``, so it cannot be installed beside this package's other
dependencies. The estimates here are neuroCombat's (the tests compare to it, to 1e-6), with
one difference: learning and applying are separate, so a model's cross-validation learns the
batch effects on the training part of each fold and applies that fit to the test part.

Only the batch is modelled: no covariate. ComBat with the tumour type as a covariate keeps
the type's effect, but applying it needs the type of the cases being transformed, which a
test fold must not give. The price is that where batch and type are confounded (one site
scanned mostly gliomas), removing the batch also removes some of the type's signal.

The batch column travels inside ``X`` (a DataFrame) and leaves it at this step, which is the
pipeline's first: a grouped cross-validation splits it with the rows, and it is never a
feature of what follows (:meth:`ComBat.get_support` says so to the importances).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ComBat", "fold_batches", "harmonization"]

#: The iteration's stopping rule: neuroCombat's (largest relative change of a posterior).
_CONVERGENCE = 1e-4


class ComBat(TransformerMixin, BaseEstimator):
    """Parametric empirical Bayes ComBat of the features of ``X``, by ``X[batch_column]``.

    ``fit`` learns, per batch seen, the posterior location ``gamma_`` and scale ``delta_`` of
    every feature (shape: batches x features), and the pooled mean and variance; ``transform``
    removes them from any rows whose batch was seen in ``fit``. The output holds the features
    only (the batch column is dropped).
    """

    def __init__(self, batch_column: str = "site") -> None:
        self.batch_column = batch_column

    def _split(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(x, pd.DataFrame) or self.batch_column not in x.columns:
            raise ValueError(
                f"ComBat needs the batch column {self.batch_column!r} in a DataFrame X"
            )
        batch = x[self.batch_column].astype(str).to_numpy()
        values = x.drop(columns=self.batch_column).to_numpy(dtype=float)
        return values, batch

    def fit(self, x: pd.DataFrame, y: Any = None) -> ComBat:
        """Learn the batch effects of these rows (a training fold's); ``y`` is not used."""
        values, batch = self._split(x)
        self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        self.features_ = [c for c in x.columns if c != self.batch_column]
        self.batches_, codes, counts = np.unique(batch, return_inverse=True, return_counts=True)
        if len(self.features_) < 2:
            raise ValueError("ComBat needs at least 2 features: its priors pool over features")
        single = self.batches_[counts < 2]
        if len(single):
            raise ValueError(
                f"batch {single[0]!r} of column {self.batch_column!r} has a single row to learn "
                "from: ComBat estimates a variance per batch; merge small batches first"
            )
        members = [codes == b for b in range(len(self.batches_))]
        means = np.array([values[m].mean(axis=0) for m in members])
        self.mean_ = counts @ means / len(values)
        residual = values - means[codes]
        variance = (residual**2).mean(axis=0)
        self.variance_ = np.where(variance > 0, variance, 1.0)  # a constant stays constant
        standard = (values - self.mean_) / np.sqrt(self.variance_)
        gamma_hat = np.array([standard[m].mean(axis=0) for m in members])
        delta_hat = np.array([standard[m].var(axis=0, ddof=1) for m in members])
        delta_hat[delta_hat == 0] = 1.0
        gamma_star, delta_star = [], []
        for b, m in enumerate(members):
            g, d = _posteriors(standard[m], gamma_hat[b], delta_hat[b])
            gamma_star.append(g)
            delta_star.append(d)
        self.gamma_ = np.array(gamma_star)
        self.delta_ = np.array(delta_star)
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        """These rows' features without the batch effects learned in ``fit``.

        A batch that ``fit`` did not see is refused by name: it has no estimate, and guessing
        one from the rows being transformed would learn from them.
        """
        values, batch = self._split(x)
        unseen = sorted(set(batch) - set(self.batches_))
        if unseen:
            raise ValueError(
                f"batch(es) {unseen[:5]} of column {self.batch_column!r} have no rows in the "
                "training part: ComBat cannot harmonise a batch it has not learned"
            )
        codes = np.searchsorted(self.batches_, batch)
        scale = np.sqrt(self.variance_)
        standard = (values - self.mean_) / scale
        standard = (standard - self.gamma_[codes]) / np.sqrt(self.delta_[codes])
        return standard * scale + self.mean_

    def get_support(self) -> np.ndarray:
        """Which input columns come out (all but the batch column), as selectors say."""
        return np.array([c != self.batch_column for c in self.feature_names_in_])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The feature names, without the batch column."""
        return np.asarray(self.features_, dtype=object)


def fold_batches(
    batch: pd.Series, train: np.ndarray, test: np.ndarray, number: int
) -> dict[str, list[str]]:
    """The batches of a fold's two parts, for ``metrics.json``; a batch only in the test part
    is refused by name before anything is fitted."""
    trained, tested = set(batch.iloc[train]), set(batch.iloc[test])
    unseen = sorted(tested - trained)
    if unseen:
        raise ValueError(
            f"fold {number + 1}: batch(es) {unseen[:5]} of column {batch.name!r} are only in the "
            "test part, and ComBat cannot harmonise a batch it has not learned: use fewer "
            "folds, or merge small batches"
        )
    return {"train_batches": sorted(trained), "test_batches": sorted(tested)}


def harmonization(column: str) -> dict[str, Any]:
    """How a run was harmonised, for ``metrics.json``."""
    return {
        "method": "ComBat, parametric empirical Bayes (Johnson 2007)",
        "batch_column": column,
        "covariates": [],
        "fitted_on": "the training part of each fold; applied to its test part with that fit",
    }


def _posteriors(
    standard: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One batch's posterior location and scale of every feature: the normal prior on the
    location and the inverse-gamma prior on the scale are fitted across features (method of
    moments), then the two posteriors are iterated to a fixed point (Johnson 2007, eq. 3.1)."""
    gamma_bar, tau2 = gamma_hat.mean(), gamma_hat.var(ddof=1)
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    a, b = (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2
    n = len(standard)
    gamma_old, delta_old = gamma_hat.copy(), delta_hat.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        while True:
            gamma = (tau2 * n * gamma_hat + delta_old * gamma_bar) / (tau2 * n + delta_old)
            squares = ((standard - gamma) ** 2).sum(axis=0)
            delta = (0.5 * squares + b) / (n / 2.0 + a - 1.0)
            change = max(
                (np.abs(gamma - gamma_old) / gamma_old).max(),
                (np.abs(delta - delta_old) / delta_old).max(),
            )
            gamma_old, delta_old = gamma, delta
            if not change > _CONVERGENCE:  # NaN (a zero location) stops it, as in neuroCombat
                return gamma, delta
