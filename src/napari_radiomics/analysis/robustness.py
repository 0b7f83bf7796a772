"""Features of a case under N perturbations, and which features keep their ICC across cases.

Per case, the original mask and N perturbed ones are extracted with one ``FeatureEngine``:
perturbations of the mask leave the image alone, so the normalised and filtered images are
computed once per case and each perturbation pays only for its mask-side work (image noise
changes the image, and with it the cache). The long table this module returns holds exactly
the extractions the ICC is computed from, one row per (case, perturbation), so anyone can
recompute the ICC from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from napari_radiomics.analysis.icc import IccForm, icc_table
from napari_radiomics.analysis.perturb import Perturbation, PerturbationPlan, perturb
from napari_radiomics.columns import ROI_LABEL
from napari_radiomics.convert import LayerData, as_sitk
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.results import feature_columns, parse_feature_name, read_table

__all__ = [
    "PERTURBATION_COLUMN",
    "PERTURBATION_TYPES",
    "PerturbationTask",
    "feature_spread",
    "perturbed_features",
    "read_perturbed",
    "robustness",
]

#: Identifying column of the long table: 0 is the original mask, 1..N the perturbations.
PERTURBATION_COLUMN = "perturbation"
#: The columns that say how a perturbation was made, and their types in a long table.
PERTURBATION_TYPES: dict[str, type] = {
    PERTURBATION_COLUMN: int,
    "seed": int,
    "distance_mm": float,
    "contour": bool,
    "noise_sigma": float,
}


def perturbed_features(
    engine: FeatureEngine,
    image: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    plan: PerturbationPlan,
    *,
    label: int = 1,
    metadata: Mapping[str, Any] | None = None,
    perturbations: Sequence[Perturbation] | None = None,
) -> pd.DataFrame:
    """Rows for the original (``perturbation`` 0) and the plan's perturbations of one label.

    ``perturbations``: the plan's, already made (``perturb(image, mask == label, ...)``) by a
    caller that also shows them; by default they are made here.

    ``image`` and ``mask`` are arrays in napari order with ``spacing`` (like ``layer.scale``).
    Columns: the ``metadata`` keys, ``roi_label``, ``perturbation`` and how it was made
    (``seed``, ``distance_mm``, ``contour``, ``noise_sigma``: the original row holds the
    neutral values, 0 and False), then the features. This order keeps the identifying
    columns ahead of ``roi_label``, which is what a batch journal expects when it resumes.
    """
    spacing = tuple(float(s) for s in spacing)
    origin = (0.0,) * len(spacing)
    roi = np.asarray(mask) == label
    if not roi.any():
        raise ValueError(f"ROI label {label} is not in the mask")
    if perturbations is None:
        perturbations = perturb(image, roi, spacing, plan)
    neutral = {
        k: False if isinstance(v, bool) else 0.0 for k, v in perturbations[0].description.items()
    }
    neutral.update(perturbation=0, seed=plan.seed)
    pixels = np.asarray(image)
    variants = [(pixels, roi, neutral)]
    variants += [(p.image, p.mask.astype(bool), p.description) for p in perturbations]
    # Converted once: mask-only perturbations share the image object (noise makes new ones).
    converted = as_sitk(LayerData(pixels, spacing, origin, name="image"))
    rows = []
    is_feature: dict[str, bool] = {}  # every variant's row has the same columns: parsed once
    for index, (variant_pixels, variant, description) in enumerate(variants):
        source: Any = converted
        if variant_pixels is not pixels:
            source = LayerData(variant_pixels, spacing, origin, name="image")
        found, errors = engine.extract_rows(
            source,
            LayerData(variant.astype(np.uint8), spacing, origin, name=f"mask {index}"),
            labels=[1],
            metadata=metadata,
        )
        if errors or not found:
            problem = next(iter(errors.values()), "no features were computed")
            what = "the original mask" if index == 0 else f"perturbation {index}"
            raise ValueError(f"ROI label {label}, {what}: {problem}")
        row = found[0]
        how = {PERTURBATION_COLUMN: index, **description}
        how[PERTURBATION_COLUMN] = index
        for column in row.keys() - is_feature.keys():
            is_feature[column] = parse_feature_name(column) is not None
        ids = {c: v for c, v in row.items() if not is_feature[c]}
        values = {c: v for c, v in row.items() if is_feature[c]}
        rows.append({**ids, ROI_LABEL: label, **how, **values})
    # One frame from records: the column order is the first row's (every row has the same
    # keys), and values keep their exact floats.
    return pd.DataFrame.from_records(rows)


@dataclass(frozen=True)
class PerturbationTask:
    """A robustness run's work per case, as a batch task (``napari_radiomics.batch.CaseTask``):
    the rows of :func:`perturbed_features` for every ROI label of the case, with the worker's
    one engine, so the image-side work is done once per case. Picklable (a frozen dataclass
    holding the ``plan``), as a task sent to worker processes must be."""

    plan: PerturbationPlan

    def __call__(
        self,
        engine: FeatureEngine,
        image: Any,
        mask: Any,
        labels: list[int] | None,
        metadata: dict[str, Any],
    ) -> pd.DataFrame:
        """Perturbations work on arrays in napari order with their spacing: a SimpleITK image
        gives its pixels and spacing (its origin and direction change no feature)."""
        spacing: tuple[float, ...] = (1.0,) * np.ndim(image)
        if isinstance(image, sitk.Image):
            spacing = tuple(reversed(image.GetSpacing()))
            image = sitk.GetArrayFromImage(image)
        if isinstance(mask, sitk.Image):
            mask = sitk.GetArrayFromImage(mask)
        if labels is None:
            labels = [int(v) for v in np.unique(mask) if v != 0]
        frames = [
            perturbed_features(
                engine, image, mask, spacing, self.plan, label=label, metadata=metadata
            )
            for label in labels
        ]
        if not frames:
            raise ValueError("the mask is empty: there is no ROI to perturb")
        return pd.concat(frames, ignore_index=True)


def feature_spread(long: pd.DataFrame) -> pd.DataFrame:
    """Each feature's spread over one case's perturbations (original included): ``mean``,
    ``std`` (sample, ddof 1) and ``cv`` = std / |mean|, indexed by feature name.

    The coefficient of variation needs no other case, so it is what one case can say; it is
    not the ICC: a feature may vary little within a case yet not separate cases either.
    ``cv`` is NaN where the mean is 0.
    """
    values = long[feature_columns(long)].astype(float)
    mean, std = values.mean(), values.std(ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = std / mean.abs().where(mean != 0)
    return pd.DataFrame({"mean": mean, "std": std, "cv": cv}).rename_axis("feature")


def read_perturbed(path: str | Path) -> pd.DataFrame:
    """A long table written by a robustness run, its perturbation columns as numbers again
    (``read_table`` reads every identifying column it does not know as text)."""
    long = read_table(path)
    for column, kind in PERTURBATION_TYPES.items():
        if column in long:
            text = long[column].astype(str)
            long[column] = text.eq("True") if kind is bool else text.astype(float).astype(kind)
    return long


def robustness(
    long: pd.DataFrame,
    *,
    case: str = "case",
    form: IccForm = "1,1",
    threshold: float = 0.9,
    features: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The ICC table (``feature, icc, ci_low, ci_high, robust, form, reason``) of a long
    table from :func:`perturbed_features` over several cases."""
    chosen = list(features) if features is not None else feature_columns(long)
    if not chosen:
        raise ValueError("the table has no feature columns (original_..., wavelet-..., ...)")
    cases = long[case].astype(str) + ":" + long[ROI_LABEL].astype(str)
    table = long.assign(**{case: cases})
    return icc_table(
        table, chosen, case=case, rater=PERTURBATION_COLUMN, form=form, threshold=threshold
    )
