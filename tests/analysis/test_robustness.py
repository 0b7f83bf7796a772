"""Perturbed extractions of real (synthetic) cases, and the ICC computed from exactly them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_radiomics.analysis import PerturbationPlan, icc_table
from napari_radiomics.analysis.robustness import (
    PERTURBATION_COLUMN,
    perturbed_features,
    robustness,
)
from napari_radiomics.engine import FeatureEngine, extract_features
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import feature_columns
from napari_radiomics.settings import ExtractionSettings

SETTINGS = ExtractionSettings.preset("brain-tumor-mri")
N = 4


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    frames = []
    for seed in range(4):
        case = make_synthetic_slice(seed=seed, shape=(192, 192))
        frames.append(
            perturbed_features(
                FeatureEngine(SETTINGS),
                case.image,
                case.mask,
                (1.0, 1.0),
                PerturbationPlan(N, seed=11),
                metadata={"case": str(seed)},
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_one_row_per_case_and_perturbation_original_first(long: pd.DataFrame) -> None:
    assert len(long) == 4 * (N + 1)
    assert (
        long.groupby("case")[PERTURBATION_COLUMN].apply(list).tolist() == [list(range(N + 1))] * 4
    )
    case = make_synthetic_slice(seed=2, shape=(192, 192))
    plain = extract_features(case.image, case.mask.astype(np.uint8), SETTINGS)
    original = long[(long["case"] == "2") & (long[PERTURBATION_COLUMN] == 0)]
    for name in feature_columns(plain):
        assert original[name].iloc[0] == plain[name].iloc[0], name
    perturbed = long[long[PERTURBATION_COLUMN] > 0]
    assert perturbed["distance_mm"].abs().le(2.0).all()
    surface = "original_shape2D_PixelSurface"
    unperturbed = long[long[PERTURBATION_COLUMN] == 0].set_index("case")[surface]
    assert (perturbed[surface] != perturbed["case"].map(unperturbed)).any()


def test_icc_is_computed_from_exactly_the_long_table(long: pd.DataFrame) -> None:
    table = robustness(long)
    features = feature_columns(long)
    assert table["feature"].tolist() == features
    again = icc_table(long.assign(case=long["case"] + ":1"), features, rater=PERTURBATION_COLUMN)
    pd.testing.assert_frame_equal(table, again)
    surface = table.set_index("feature").loc["original_shape2D_PixelSurface"]
    assert surface["icc"] > 0.5  # four different tumours, small border changes
    assert table["icc"].notna().sum() > len(features) // 2


def test_a_missing_label_is_named() -> None:
    case = make_synthetic_slice(seed=0, shape=(64, 64))
    with pytest.raises(ValueError, match="ROI label 2"):
        perturbed_features(
            FeatureEngine(SETTINGS),
            case.image,
            case.mask,
            (1.0, 1.0),
            PerturbationPlan(1),
            label=2,
        )
