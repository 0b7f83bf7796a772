"""Feature classes sharing their binning and feature names give pyradiomics' own numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from radiomics import getFeatureClasses, imageoperations

from _layers import case_layers
from napari_radiomics.convert import layer_to_sitk
from napari_radiomics.engine._shared import _BINNED, feature_class, shared_binning


def roi_crop(pyradiomics_data: Path) -> tuple[sitk.Image, sitk.Image]:
    """breast1's image and mask cropped to the ROI, as pyradiomics crops them."""
    image, mask = (layer_to_sitk(layer) for layer in case_layers(pyradiomics_data, "breast1"))
    box, _ = imageoperations.checkMask(image, mask, label=1)
    return imageoperations.cropToTumorMask(image, mask, box)


def features(cls: type, image: sitk.Image, mask: sitk.Image, settings: dict) -> dict:
    instance = cls(image, mask, **settings)
    return {name: np.asarray(value) for name, value in instance.execute().items()}


def test_shared_binning_equals_each_class_binning_alone(pyradiomics_data: Path) -> None:
    image, mask = roi_crop(pyradiomics_data)
    # A smaller ROI on the same crop and another bin width: neither may reuse a binning made
    # for other inputs (they change the grey levels and the bin edges).
    smaller = sitk.BinaryErode(mask, [1, 1, 1], foregroundValue=1)
    runs = [(mask, {"binWidth": 25}), (smaller, {"binWidth": 25}), (mask, {"binWidth": 10})]
    classes = {n: c for n, c in getFeatureClasses().items() if not n.startswith("shape")}
    plain = {
        (name, i): features(cls, image, roi, settings)
        for i, (roi, settings) in enumerate(runs)
        for name, cls in classes.items()
    }
    with shared_binning():
        shared = {
            (name, i): features(feature_class(cls), image, roi, settings)
            for i, (roi, settings) in enumerate(runs)
            for name, cls in classes.items()
        }
        memo = _BINNED.get()
        assert memo is not None
        assert len(memo) == len(runs)  # one binning per distinct input, not one per class
    assert shared.keys() == plain.keys()
    for key, values in plain.items():
        assert shared[key].keys() == values.keys(), key
        for name, value in values.items():
            assert np.array_equal(shared[key][name], value, equal_nan=True), (key, name)
    # The runs differ, so the equalities above compare different binnings, not one.
    contrast = {float(plain[("glcm", i)]["Contrast"]) for i in range(len(runs))}
    assert len(contrast) == len(runs), contrast


def test_outside_a_shared_block_classes_bin_alone(pyradiomics_data: Path) -> None:
    image, mask = roi_crop(pyradiomics_data)
    cls = getFeatureClasses()["glszm"]
    shared = feature_class(cls)
    assert shared.getFeatureNames() == cls.getFeatureNames()
    assert shared(image, mask).__module__ == cls.__module__  # pyradiomics' logger name
    alone = features(shared, image, mask, {"binWidth": 25})
    plain = features(cls, image, mask, {"binWidth": 25})
    assert all(np.array_equal(alone[k], v, equal_nan=True) for k, v in plain.items())
