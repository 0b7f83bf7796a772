"""Tumour type from features, evaluated without letting a patient leak between train and test.

The brain-tumour dataset has 3064 slices of 233 patients; slices of one patient look alike, so
a slice-wise split lets a model recognise the patient instead of the tumour type and report an
accuracy no new patient will see. Here every fold is grouped by patient (and stratified by
class where the groups allow: ``StratifiedGroupKFold``), or taken from the dataset's own
``cvind.mat``, and checked: a patient in both parts of a fold is an error, not a warning.
Everything fitted (imputation is not done: missing values are refused; scaling; feature
selection; the classifier) sits in one scikit-learn ``Pipeline`` fitted on the training part
of each fold only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics.columns import DEFAULT_GROUP, DEFAULT_TARGET
from napari_radiomics.results import feature_columns

__all__ = [
    "CLASSIFIERS",
    "ModelResult",
    "evaluate_model",
    "feature_matrix",
    "folds_from_cvind",
    "make_pipeline",
    "model_features",
    "model_inputs",
    "permutation_importances",
]

#: Classifier names the CLI and the panel offer; the first is the default.
CLASSIFIERS = ("logistic", "random-forest", "svm")


def make_pipeline(
    classifier: str = "logistic",
    seed: int = 0,
    select: int | None = None,
    harmonize: str | None = None,
) -> Any:
    """Optionally ComBat by the ``harmonize`` column (which ``X`` then carries, see
    :mod:`.harmonize`), constant features dropped, z-scored, optionally the ``select`` best
    by ANOVA F, then the classifier; all fitted inside a training fold."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    models: dict[str, Callable[[], Any]] = {
        "logistic": lambda: LogisticRegression(C=0.1, max_iter=2000, random_state=seed),
        "random-forest": lambda: RandomForestClassifier(
            n_estimators=300, n_jobs=-1, random_state=seed
        ),
        "svm": lambda: SVC(kernel="rbf", C=1.0, random_state=seed),
    }
    if classifier not in models:
        raise ValueError(f"classifier {classifier!r} is not known; choose from {CLASSIFIERS}")
    steps: list[tuple[str, Any]] = [("constant", VarianceThreshold()), ("scale", StandardScaler())]
    if harmonize is not None:
        from napari_radiomics.analysis.harmonize import ComBat

        steps.insert(0, ("harmonize", ComBat(harmonize)))
    if select:
        steps.append(("select", SelectKBest(f_classif, k=select)))
    steps.append(("model", models[classifier]()))
    return Pipeline(steps)


def feature_matrix(table: pd.DataFrame, features: Sequence[str] | None = None) -> pd.DataFrame:
    """The feature columns as floats; every refusal names the column.

    Features are pyradiomics' feature columns unless ``features`` are named (identifying and
    ``diagnostics_*`` columns never are). A feature holding text, NaN or an infinite value is
    refused by name: a model, a ranking or a projection must not silently drop cases or learn
    from a placeholder.
    """
    chosen = list(features) if features is not None else feature_columns(table)
    if not chosen:
        raise ValueError("the table has no feature columns (original_..., wavelet-..., ...)")
    missing = [c for c in chosen if c not in table.columns]
    if missing:
        raise ValueError(f"feature column(s) {missing[:5]} are not in the table")
    text = [c for c in chosen if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        raise ValueError(f"feature column(s) {text[:5]} hold non-numeric values")
    values = table[chosen].to_numpy(dtype=float)
    bad = [c for c, ok in zip(chosen, np.isfinite(values).all(axis=0), strict=True) if not ok]
    if bad:
        raise ValueError(
            f"feature column(s) {bad[:5]} hold NaN or infinite values "
            f"({len(bad)} in all): drop those features or those cases first"
        )
    return table[chosen].astype(float)


def model_features(
    table: pd.DataFrame,
    target: str,
    group: str,
    features: Sequence[str] | None = None,
    batch: str | None = None,
) -> tuple[list[str], list[str]]:
    """The feature columns a model of ``target`` may use, and those left out because they
    are the target, the group or the batch (as scikit-learn's ``X`` never holds ``y``: a
    target that is also a feature is predicted from itself, with a perfect and meaningless
    score)."""
    chosen = list(features) if features is not None else feature_columns(table)
    left_out = [c for c in (target, group, batch) if c is not None and c in chosen]
    return [c for c in chosen if c not in left_out], left_out


def model_inputs(
    table: pd.DataFrame,
    target: str,
    group: str,
    features: Sequence[str] | None = None,
    batch: str | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Feature matrix (:func:`feature_matrix`, without the target and the group: see
    :func:`model_features`), target and groups; every refusal names the column.

    Empty target, group or batch cells are refused, as scikit-learn refuses NaN in ``y``:
    dropping cases silently would change what the score is about; the message says how many.
    A ``batch`` column (:mod:`.harmonize`) is appended to the matrix as text.
    """
    roles = [("target", target), ("group", group)] + ([("batch", batch)] if batch else [])
    for role, column in roles:
        if column not in table.columns:
            raise ValueError(
                f"{role} column {column!r} is not in the table; columns: "
                f"{', '.join(map(str, list(table.columns)[:8]))}..."
            )
    if table.empty:
        raise ValueError("the table has no rows")
    for role, column in roles:
        empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if empty.any():
            raise ValueError(
                f"{role} column {column!r} is empty in {int(empty.sum())} of {len(table)} rows "
                f"(first at row {int(np.flatnonzero(empty)[0]) + 1}); drop those rows first, "
                f"e.g. with pandas: table.dropna(subset=[{column!r}])"
            )
    x = feature_matrix(table, model_features(table, target, group, features, batch)[0])
    if batch:
        x = x.assign(**{batch: table[batch].astype(str)})
    y = table[target].astype(str)
    groups = table[group].astype(str)
    if y.nunique() < 2:
        raise ValueError(f"target column {target!r} has a single class ({y.iloc[0]!r})")
    return x, y, groups


def folds_from_cvind(path: str | Path, cases: pd.Series) -> list[np.ndarray]:
    """The dataset's own split: ``cvind.mat`` gives fold numbers for slices 1..N; a case id is
    the slice's file number. Returns the test indices (row positions) of each fold."""
    from napari_radiomics.io.cvind import read_cvind

    path = Path(path)
    fold_of = read_cvind(path)
    try:
        numbers = cases.astype(int).to_numpy()
    except ValueError:
        raise ValueError(f"{path}: case ids must be slice numbers to use cvind.mat") from None
    if numbers.min() < 1 or numbers.max() > fold_of.size:
        raise ValueError(
            f"{path}: holds {fold_of.size} slices, the table has case {numbers.max()}"
        )
    assigned = fold_of[numbers - 1]
    return [np.flatnonzero(assigned == k) for k in np.unique(assigned)]


def permutation_importances(
    model: Any, x: pd.DataFrame, y: pd.Series, repeats: int, rng: np.random.Generator
) -> np.ndarray:
    """Mean drop in balanced accuracy when one feature's test values are shuffled.

    The same measure as ``sklearn.inspection.permutation_importance``, computed faster: every
    step before the classifier works column by column (dropping constant features, scaling,
    selecting), so shuffling an input column is shuffling its transformed column (after
    ComBat, a shuffle of the harmonised values), and the
    test part is transformed once. For a linear classifier the decision scores then change by
    a rank-one update, so a 1000-feature table costs seconds instead of minutes.
    """
    transformed = np.asarray(model[:-1].transform(x), dtype=float)
    kept = np.arange(x.shape[1])
    for step in model[:-1]:
        if hasattr(step, "get_support"):
            kept = kept[step.get_support()]
    final = model[-1]
    classes = np.asarray(final.classes_)
    truth = np.searchsorted(classes, np.asarray(y))
    members = [truth == code for code in range(len(classes)) if (truth == code).any()]

    def balanced_accuracy(predicted: np.ndarray) -> float:  # sklearn's, for integer codes
        return float(np.mean([np.mean(predicted[m] == truth[m]) for m in members]))

    def codes(values: np.ndarray) -> np.ndarray:
        return np.searchsorted(classes, final.predict(values))

    baseline = balanced_accuracy(codes(transformed))
    linear = hasattr(final, "coef_") and hasattr(final, "decision_function")
    scores = final.decision_function(transformed) if linear else None
    drops = np.zeros(x.shape[1])
    for column, feature in enumerate(kept):  # a dropped feature changes nothing: 0
        total = 0.0
        for _ in range(repeats):
            order = rng.permutation(len(truth))
            if linear:
                delta = transformed[order, column] - transformed[:, column]
                shuffled = scores + np.outer(delta, final.coef_[:, column]).reshape(scores.shape)
                predicted = _codes_from_scores(shuffled)
            else:
                copy = transformed.copy()
                copy[:, column] = transformed[order, column]
                predicted = codes(copy)
            total += baseline - balanced_accuracy(predicted)
        drops[feature] = total / repeats
    return drops


def _codes_from_scores(scores: np.ndarray) -> np.ndarray:
    """The class indices a linear classifier's ``predict`` picks from these decision scores."""
    if scores.ndim == 1:  # two classes: one score, positive means the second class
        return (scores > 0).astype(int)
    return np.argmax(scores, axis=1)


@dataclass
class ModelResult:
    """What an evaluation found; ``metrics`` is what ``metrics.json`` holds."""

    classes: list[str]
    metrics: dict[str, Any]
    predictions: pd.DataFrame  # one row per case: fold, truth, prediction, class scores
    confusion: np.ndarray  # rows: truth, columns: prediction, summed over test folds
    importances: pd.DataFrame = field(default_factory=pd.DataFrame)


def _splits(
    y: pd.Series, groups: pd.Series, folds: int | Sequence[np.ndarray], seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    if isinstance(folds, int):
        per_class = groups.groupby(y).nunique()
        few = per_class[per_class < folds]
        if len(few):
            raise ValueError(
                f"class {few.index[0]!r} has {few.iloc[0]} patient(s), fewer than the {folds} "
                "folds: every test fold needs one; use fewer folds"
            )
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y, groups))
    everything = np.arange(len(y))
    return [(np.setdiff1d(everything, test), np.asarray(test)) for test in folds]


def evaluate_model(
    table: pd.DataFrame,
    *,
    target: str = DEFAULT_TARGET,
    group: str = DEFAULT_GROUP,
    classifier: str = "logistic",
    folds: int | Sequence[np.ndarray] = 5,
    seed: int = 0,
    select: int | None = None,
    importance_repeats: int = 3,
    harmonize: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ModelResult:
    """Cross-validated tumour-type model; see the module docstring for what keeps it honest.

    ``progress(done, total, message)`` is called per fold; an exception it raises stops the
    evaluation (that is how the panel cancels). A target, group or ``harmonize`` column that
    is a feature column is not used as a feature; ``metrics["left_out"]`` names it.
    ``harmonize`` names a batch column (site, scanner): ComBat is then the pipeline's first
    step (:mod:`.harmonize`), learned on each training part; every batch of a test part must
    have training rows.
    """
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, recall_score

    if importance_repeats < 0:
        raise ValueError(
            f"importance repeats must be 0 (no importances) or more, got {importance_repeats}"
        )
    from napari_radiomics.analysis.harmonize import fold_batches, harmonization

    if harmonize is not None and harmonize in (target, group):
        raise ValueError(
            f"--harmonize {harmonize!r} is the target or the group column: ComBat would "
            "remove what the model is about, or every test patient would be a new batch"
        )
    x, y, groups = model_inputs(table, target, group, batch=harmonize)
    left_out = model_features(table, target, group, batch=harmonize)[1]
    features = [c for c in x.columns if c != harmonize]
    classes = sorted(y.unique())
    splits = _splits(y, groups, folds, seed)
    rows, fold_reports, importances = [], [], []
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for number, (train, test) in enumerate(splits):
        if progress is not None:
            progress(number, len(splits), f"fold {number + 1} of {len(splits)}")
        train_groups, test_groups = set(groups.iloc[train]), set(groups.iloc[test])
        shared = sorted(train_groups & test_groups)
        if shared:
            raise ValueError(
                f"fold {number + 1}: patient(s) {shared[:5]} are in both the training and the "
                "test part: the folds must be grouped by patient"
            )
        batches: dict[str, list[str]] = {}
        if harmonize is not None:
            batches = fold_batches(x[harmonize], train, test, number)
        model = make_pipeline(classifier, seed, select, harmonize)
        model.fit(x.iloc[train], y.iloc[train])
        predicted = model.predict(x.iloc[test])
        truth = y.iloc[test]
        confusion += confusion_matrix(truth, predicted, labels=classes)
        recall = recall_score(truth, predicted, labels=classes, average=None, zero_division=0)
        fold_reports.append(
            {
                "fold": number + 1,
                "train_groups": sorted(train_groups),
                "test_groups": sorted(test_groups),
                **batches,
                "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
                "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
                "recall": {c: float(r) for c, r in zip(classes, recall, strict=True)},
            }
        )
        rows.append(
            pd.DataFrame(
                {
                    "row": test,
                    "fold": number + 1,
                    "truth": truth.to_numpy(),
                    "predicted": predicted,
                }
            )
        )
        if importance_repeats:
            rng = np.random.default_rng([seed, number])
            importances.append(
                permutation_importances(model, x.iloc[test], truth, importance_repeats, rng)
            )
    if progress is not None:
        progress(len(splits), len(splits), "done")
    out_of_fold = pd.concat(rows).sort_values("row", ignore_index=True)
    identifying = [
        c for c in table.columns if c not in features and not str(c).startswith("diagnostics_")
    ]
    predictions = pd.concat(
        [
            table[identifying].iloc[out_of_fold["row"]].reset_index(drop=True),
            out_of_fold.drop(columns="row"),
        ],
        axis=1,
    )
    scores = np.array([f["balanced_accuracy"] for f in fold_reports])
    metrics = {
        "target": target,
        "group": group,
        "classifier": classifier,
        "classes": classes,
        "cases": len(y),
        "features": len(features),
        "left_out": left_out,
        "harmonization": harmonization(harmonize) if harmonize else None,
        "groups": int(groups.nunique()),
        "balanced_accuracy": {
            "mean": float(scores.mean()),
            "std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        },
        "macro_f1": {"mean": float(np.mean([f["macro_f1"] for f in fold_reports]))},
        "recall": {c: float(np.mean([f["recall"][c] for f in fold_reports])) for c in classes},
        "confusion_matrix": confusion.tolist(),
        "folds": fold_reports,
    }
    table_importances = pd.DataFrame()
    if importances:
        stack = np.vstack(importances)[:, : len(features)]  # the batch column comes last
        table_importances = pd.DataFrame(
            {"feature": features, "importance": stack.mean(axis=0), "std": stack.std(axis=0)}
        ).sort_values("importance", ascending=False, ignore_index=True)
    return ModelResult(classes, metrics, predictions, confusion, table_importances)
