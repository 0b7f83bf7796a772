"""The synthetic slice: deterministic, dataset-like, and measurable by every feature class."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import featureextractor

from napari_radiomics.io.synthetic import make_synthetic_slice

FEATURE_CLASSES = ("firstorder", "shape2D", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def test_same_seed_same_slice_other_seed_other_slice() -> None:
    a, b = make_synthetic_slice(seed=4), make_synthetic_slice(seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    c = make_synthetic_slice(seed=5)
    assert not np.array_equal(a.mask, c.mask)


def test_looks_like_a_dataset_case() -> None:
    tumor = make_synthetic_slice(seed=0, label=2, patient_id="100360")
    assert tumor.image.shape == (512, 512)
    assert tumor.image.dtype == np.int16
    assert 500 < tumor.mask.sum() < 0.1 * tumor.mask.size
    assert (tumor.label, tumor.tumor_type, tumor.patient_id) == (2, "glioma", "100360")
    assert len(tumor.border) >= 8
    assert len(np.unique(tumor.image[tumor.mask])) > 100  # textured, not a flat blob
    assert tumor.image[tumor.mask].mean() > tumor.image[~tumor.mask].mean()


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="label"):
        make_synthetic_slice(label=4)
    with pytest.raises(ValueError, match="32x32"):
        make_synthetic_slice(shape=(16, 16))


def test_every_pyradiomics_feature_class_computes_finite_values() -> None:
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    tumor = make_synthetic_slice(seed=0)
    extractor = featureextractor.RadiomicsFeatureExtractor(binWidth=25, force2D=True)
    extractor.disableAllFeatures()
    for name in FEATURE_CLASSES:
        extractor.enableFeatureClassByName(name)
    result = extractor.execute(
        sitk.GetImageFromArray(tumor.image), sitk.GetImageFromArray(tumor.mask.astype(np.uint8))
    )
    features = {k: float(v) for k, v in result.items() if k.startswith("original_")}
    for name in FEATURE_CLASSES:
        values = [v for k, v in features.items() if k.startswith(f"original_{name}_")]
        assert values, name
        assert np.isfinite(values).all(), name
    assert features["original_glszm_ZoneEntropy"] > 1.0
    assert features["original_shape2D_Sphericity"] < 0.99  # a lobulated, non-circular outline
