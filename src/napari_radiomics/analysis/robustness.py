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
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics.analysis.icc import IccForm, icc_table
from napari_radiomics.analysis.perturb import PerturbationPlan, perturb
from napari_radiomics.convert import LayerData
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.results import feature_columns

__all__ = ["PERTURBATION_COLUMN", "perturbed_features", "robustness"]

#: Identifying column of the long table: 0 is the original mask, 1..N the perturbations.
PERTURBATION_COLUMN = "perturbation"


def perturbed_features(
    engine: FeatureEngine,
    image: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    plan: PerturbationPlan,
    *,
    label: int = 1,
    metadata: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Rows for the original (``perturbation`` 0) and the plan's perturbations of one label.

    ``image`` and ``mask`` are arrays in napari order with ``spacing`` (like ``layer.scale``);
    the perturbation's description (``distance_mm``, ``noise_sigma``, ...) goes into columns.
    """
    spacing = tuple(float(s) for s in spacing)
    origin = (0.0,) * len(spacing)
    roi = np.asarray(mask) == label
    if not roi.any():
        raise ValueError(f"ROI label {label} is not in the mask")
    frames = []
    variants = [(0, np.asarray(image), roi, {})]
    for p in perturb(image, roi, spacing, plan):
        variants.append((p.index + 1, p.image, p.mask.astype(bool), p.description))
    for index, pixels, variant, description in variants:
        frame = engine.extract(
            LayerData(pixels, spacing, origin, name="image"),
            LayerData(variant.astype(np.uint8), spacing, origin, name=f"mask {index}"),
            labels=[1],
            metadata={**(metadata or {}), PERTURBATION_COLUMN: index},
        )
        frame.attrs = {}
        frame["roi_label"] = label
        for key, value in description.items():
            if key != PERTURBATION_COLUMN:
                frame[key] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


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
    cases = long[case].astype(str) + ":" + long["roi_label"].astype(str)
    table = long.assign(**{case: cases})
    return icc_table(
        table, chosen, case=case, rater=PERTURBATION_COLUMN, form=form, threshold=threshold
    )
