"""What pyradiomics does with a params dict is read from pyradiomics, never re-derived."""

from __future__ import annotations

from pathlib import Path

import pytest
import SimpleITK as sitk
from radiomics import getFeatureClasses, getImageTypes
from radiomics.featureextractor import RadiomicsFeatureExtractor

from _layers import assert_same_features, case_layers
from napari_radiomics._pyradiomics import (
    PyradiomicsConfig,
    default_features,
    feature_class_names,
    image_type_names,
)
from napari_radiomics.convert import LayerData
from napari_radiomics.engine import ExtractionError, extract_features
from napari_radiomics.settings import ExtractionSettings


def test_empty_feature_classes_mean_every_class_as_in_pyradiomics(pyradiomics_data: Path) -> None:
    settings = ExtractionSettings(feature_classes={})
    image, mask = case_layers(pyradiomics_data, "brain1")
    frame = extract_features(image, mask, settings)
    expected = RadiomicsFeatureExtractor(settings.to_params()).execute(
        str(pyradiomics_data / "brain1_image.nrrd"), str(pyradiomics_data / "brain1_label.nrrd")
    )
    assert_same_features(frame.iloc[0].to_dict(), expected)
    assert len([c for c in frame.columns if c.startswith("original_")]) > 100


def test_config_is_the_extractors_own() -> None:
    params = {"setting": {"binWidth": 10}, "imageType": {}, "featureClass": {}}
    extractor = RadiomicsFeatureExtractor(params)
    config = PyradiomicsConfig.from_params(params)
    assert config.settings == extractor.settings
    assert config.image_types == extractor.enabledImagetypes == {"Original": {}}
    assert config.features == extractor.enabledFeatures
    assert set(config.features) == set(getFeatureClasses())
    config.settings["binWidth"] = 99  # a copy: the cache is not changed through it
    assert PyradiomicsConfig.from_params(params).settings["binWidth"] == 10


def test_names_come_from_pyradiomics() -> None:
    assert feature_class_names() == list(getFeatureClasses())
    assert sorted(image_type_names()) == sorted(getImageTypes())
    assert image_type_names()[0] == "Original"
    assert default_features() == RadiomicsFeatureExtractor().enabledFeatures
    assert ExtractionSettings().feature_classes == RadiomicsFeatureExtractor().enabledFeatures


def _shifted(layer: LayerData, offset: float) -> LayerData:
    translate = (layer.translate[0] + offset, *layer.translate[1:])
    return LayerData(layer.data, layer.scale, translate, affine=layer.affine, name="shifted")


def test_geometry_tolerance_does_not_leak_into_later_extractions(pyradiomics_data: Path) -> None:
    image, mask = case_layers(pyradiomics_data, "breast1")
    moved = _shifted(mask, 0.001)  # 1 micrometre: beyond SimpleITK's default 1e-6 tolerance
    coordinate = sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance()
    direction = sitk.ProcessObject.GetGlobalDefaultDirectionTolerance()
    tolerant = ExtractionSettings(geometry_tolerance=0.01)
    assert len(extract_features(image, moved, tolerant)) == 1
    assert sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance() == coordinate
    assert sitk.ProcessObject.GetGlobalDefaultDirectionTolerance() == direction
    with pytest.raises(ExtractionError, match="not on the voxel grid"):
        extract_features(image, moved, ExtractionSettings())
    # Building the settings' pyradiomics view leaves the tolerances alone too.
    PyradiomicsConfig.from_params(ExtractionSettings(geometry_tolerance=0.5).to_params())
    assert sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance() == coordinate
