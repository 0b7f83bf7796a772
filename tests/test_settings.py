"""Settings <-> pyradiomics params dicts and files, both directions, with pyradiomics itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.engine import quiet_pyradiomics_logging
from napari_radiomics.io import make_synthetic_slice
from napari_radiomics.settings import PRESETS, ExtractionSettings, SettingsError, setting_rule
from sample_files import fill_disk

quiet_pyradiomics_logging()


def extractor_state(extractor: RadiomicsFeatureExtractor) -> tuple[dict, dict, dict]:
    """What an extractor will do; a feature list of None and [] both mean "all features"."""
    features = {name: names or [] for name, names in extractor.enabledFeatures.items()}
    return extractor.settings, extractor.enabledImagetypes, features


def rich_settings() -> ExtractionSettings:
    return ExtractionSettings(
        bin_width=10.0,
        normalize=True,
        normalize_scale=100,
        remove_outliers=3.0,
        resampled_pixel_spacing=[1.0, 1.0, 2.0],
        interpolator="sitkLinear",
        pad_distance=3,
        pre_crop=True,
        force_2d=True,
        force_2d_dimension=0,
        resegment_range=[-3.0, 3.0],
        resegment_mode="sigma",
        minimum_roi_dimensions=1,
        minimum_roi_size=5,
        correct_mask=True,
        geometry_tolerance=1e-4,
        voxel_array_shift=300,
        symmetrical_glcm=False,
        label=2,
        image_types={"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {"binWidth": 5.0}},
        feature_classes={"firstorder": ["Mean", "Entropy"], "glcm": [], "shape": []},
        extra_settings={"gldm_a": 1, "weightingNorm": "euclidean"},
        voxel_settings={"kernelRadius": 2},
    )


def test_defaults_equal_pyradiomics_defaults() -> None:
    ours = RadiomicsFeatureExtractor(ExtractionSettings().to_params())
    plain = RadiomicsFeatureExtractor()
    # label=None (all labels) is not written, so pyradiomics keeps its default label 1.
    assert extractor_state(ours) == extractor_state(plain)
    assert ExtractionSettings.preset("pyradiomics-default") == ExtractionSettings()


#: The settings pyradiomics defaults in its feature code (``kwargs.get(key, default)``) rather
#: than in ``RadiomicsFeatureExtractor().settings``, each with another value that changes the
#: numbers (or the outcome), so a wrong default here could not pass unseen.
CODE_DEFAULTS = {
    "binWidth": 10,
    "symmetricalGLCM": False,
    "voxelArrayShift": 100,
    "resegmentMode": "sigma",
    "resegmentShape": True,
    "correctMask": True,
}


def test_every_extractor_setting_default_is_pyradiomics_own() -> None:
    extractor = RadiomicsFeatureExtractor().settings
    ours = ExtractionSettings.setting_defaults()
    plain = _settings_part(ExtractionSettings())
    for key, value in ours.items():  # each is its attribute's: a file saying it loads as the
        if value is not None:  # defaults (None is never written)
            loaded = ExtractionSettings.from_params({"setting": {key: value}})
            assert _settings_part(loaded) == plain
    assert set(extractor) - set(ours) == {"additionalInfo"}  # every other one has an attribute
    for key in set(extractor) - {"additionalInfo", "label"}:
        assert (key, ours[key], type(ours[key])) == (key, extractor[key], type(extractor[key]))
    assert (ours["label"], extractor["label"]) == (None, 1)  # deliberately every label
    elsewhere = {key for key in set(ours) - set(extractor) if ours[key] is not None}
    assert elsewhere == set(CODE_DEFAULTS)  # None: not written, pyradiomics' absent key


def _settings_part(settings: ExtractionSettings) -> dict[str, object]:
    """Everything but the feature classes (an empty featureClass section enables them all)."""
    return {k: v for k, v in settings.describe().items() if k != "feature_classes"}


@pytest.mark.parametrize("key", sorted(CODE_DEFAULTS))
def test_each_code_default_gives_pyradiomics_numbers(key: str) -> None:
    """pyradiomics' own extractor, with the key left out and with our default spelled out:
    the same outcome; with another value, another one."""
    tumor = make_synthetic_slice(seed=1, shape=(64, 64))
    image = sitk.GetImageFromArray(tumor.image.astype(np.float64))
    mask = sitk.GetImageFromArray(tumor.mask.astype(np.uint8))
    if key == "correctMask":  # it matters only for a mask off the image's grid
        mask.SetOrigin((0.01, 0.0))
    base = {
        "setting": {"resegmentRange": [-1, 700]},  # resegmentMode/Shape act on a range only
        "featureClass": {"firstorder": ["Energy", "Mean"], "glcm": ["ClusterShade"],
                         "shape2D": ["PixelSurface"]},
    }  # fmt: skip

    def outcome(value: object = None) -> object:
        params = json.loads(json.dumps(base))
        if value is not None:
            params["setting"][key] = value
        try:
            result = RadiomicsFeatureExtractor(params).execute(image, mask)
        except ValueError as err:
            return f"refused: {str(err)[:40]}"
        return {k: float(v) for k, v in result.items() if k.startswith("original_")}

    default = ExtractionSettings.setting_defaults()[key]
    assert outcome(default) == outcome()
    assert outcome(CODE_DEFAULTS[key]) != outcome()


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_saved_file_runs_in_pyradiomics(tmp_path: Path, suffix: str) -> None:
    settings = rich_settings()
    path = settings.save(tmp_path / f"params{suffix}")
    from_file = RadiomicsFeatureExtractor(str(path))
    from_dict = RadiomicsFeatureExtractor(settings.to_params())
    assert extractor_state(from_file) == extractor_state(from_dict)
    assert from_file.settings["binWidth"] == 10.0
    assert from_file.settings["resegmentMode"] == "sigma"
    assert from_file.settings["label"] == 2
    assert from_file.enabledImagetypes["LoG"] == {"sigma": [1.0, 3.0]}
    assert from_file.enabledFeatures["firstorder"] == ["Mean", "Entropy"]
    assert ExtractionSettings.load(path) == settings


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_pyradiomics_file_loads_here(tmp_path: Path, suffix: str) -> None:
    params = {
        "imageType": {"Original": {}, "LoG": {"sigma": [2.0]}, "Square": {}},
        "featureClass": {"shape": None, "glszm": ["ZonePercentage"]},
        "setting": {
            "binWidth": 25,
            "interpolator": "sitkBSpline",
            "resampledPixelSpacing": [1, 1, 1],
            "label": 1,
            "sigma": [1.0],
            "wavelet": "haar",
        },
    }
    path = tmp_path / f"pyradiomics{suffix}"
    text = json.dumps(params) if suffix == ".json" else yaml.safe_dump(params)
    path.write_text(text)
    loaded = ExtractionSettings.load(path)
    assert loaded.resampled_pixel_spacing == [1, 1, 1]
    assert loaded.image_types == {"Original": {}, "LoG": {"sigma": [2.0]}, "Square": {}}
    assert loaded.feature_classes == {"shape": [], "glszm": ["ZonePercentage"]}
    assert loaded.extra_settings == {"sigma": [1.0], "wavelet": "haar"}
    assert loaded.label == 1
    assert extractor_state(RadiomicsFeatureExtractor(loaded.to_params())) == extractor_state(
        RadiomicsFeatureExtractor(str(path))
    )


@pytest.mark.parametrize("text", ["", "setting: {}\n"])
def test_empty_file_means_pyradiomics_defaults_with_all_classes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    loaded = ExtractionSettings.load(path)
    assert loaded.image_types == {"Original": {}}
    assert "shape2D" in loaded.feature_classes  # pyradiomics: empty featureClass = every class
    # (pyradiomics itself cannot read an empty file; its reading of `setting: {}` is the same.)
    assert extractor_state(RadiomicsFeatureExtractor(loaded.to_params())) == extractor_state(
        RadiomicsFeatureExtractor({"setting": {}})
    )


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"setting": {"binWidht": 25}}, ["binWidht", "binWidth"]),
        (
            {"setting": {"resegmentMode": "max"}},
            ["resegmentMode", "absolute", "relative", "sigma"],
        ),
        ({"setting": {"interpolator": "cubic"}}, ["cubic", "sitkBSpline"]),
        ({"setting": {"binWidth": -2}}, ["binWidth", "min limit"]),
        ({"imageType": {"LoG2": {}}}, ["LoG2", "Wavelet"]),
        ({"imageType": {"LoG": {"sigmas": [1]}}}, ["sigmas", "sigma"]),
        ({"featureClass": {"glcm": ["Contrast", "Contrats"]}}, ["Contrats", "Autocorrelation"]),
        ({"featureClass": {"texture": None}}, ["texture", "firstorder"]),
        ({"settings": {}}, ["settings", "voxelSetting"]),
    ],
)
def test_invalid_params_name_key_and_allowed_values(params: dict, names: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        ExtractionSettings.from_params(params)
    for name in names:
        assert name in str(info.value)
    # pyradiomics refuses the same params.
    with pytest.raises(Exception):  # noqa: B017, PT011 - pykwalify's errors have no common type
        RadiomicsFeatureExtractor(params)


def test_invalid_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("setting:\n  normalize: maybe\n")
    with pytest.raises(SettingsError, match=r"(?s)bad\.yaml.*normalize"):
        ExtractionSettings.load(path)
    broken = tmp_path / "broken.json"
    broken.write_text("{setting: ")
    with pytest.raises(SettingsError, match=r"broken\.json: not valid JSON"):
        ExtractionSettings.load(broken)
    with pytest.raises(SettingsError, match="end in"):
        ExtractionSettings().save(tmp_path / "params.txt")


def test_presets() -> None:
    assert {"pyradiomics-default", "brain-tumor-mri"} <= set(PRESETS)
    brain = ExtractionSettings.preset("brain-tumor-mri")
    assert brain.normalize is True
    assert brain.bin_width == 32
    assert brain.image_types == {"Original": {}}
    assert brain.resampled_pixel_spacing is None  # the slices' own spacing is 1
    assert "shape2D" in brain.feature_classes
    params = brain.to_params()
    assert params["setting"] == {"binWidth": 32, "normalize": True}
    brain.bin_width = 5  # presets hand out fresh copies
    assert ExtractionSettings.preset("brain-tumor-mri").bin_width == 32
    with pytest.raises(SettingsError, match="brain-tumor-mri"):
        ExtractionSettings.preset("brain")


def test_extra_settings_cannot_shadow_attributes() -> None:
    with pytest.raises(SettingsError, match="bin_width"):
        ExtractionSettings(extra_settings={"binWidth": 3}).to_params()


def test_setting_rules_are_pyradiomics_schema() -> None:
    """What a form may offer for a setting comes from pyradiomics' own schema."""
    assert setting_rule("bin_width") == ("binWidth", {"type": "float", "range": {"min-ex": 0}})
    assert setting_rule("resegment_mode")[1]["enum"] == ["absolute", "relative", "sigma"]
    assert setting_rule("sigma")[1]["seq"][0]["type"] == "float"  # a setting without attribute
    assert setting_rule("image_types") is None  # a section, not one setting
    rule = setting_rule("minimum_roi_dimensions")
    rule[1]["range"]["max"] = 99  # a copy: the schema stays as pyradiomics wrote it
    assert setting_rule("minimum_roi_dimensions")[1]["range"]["max"] == 3


def test_saving_params_over_a_file_on_a_full_disk_keeps_the_earlier_file(
    small_disk: Path,
) -> None:
    """Saving params over an earlier params file (the dock's Save, a maps run's params) on a
    full disk fails, and the earlier file is still there byte for byte with no temporary
    file: the file is written beside and renamed, never cut off in place."""
    path = ExtractionSettings.preset("brain-tumor-mri").save(small_disk / "params.yaml")
    before = path.read_bytes()
    fill_disk(small_disk, 0)
    settings = ExtractionSettings.preset("brain-tumor-mri")
    settings.image_types = {"Original": {}, "LoG": {"sigma": [1 + i / 100 for i in range(800)]}}
    with pytest.raises(OSError, match="No space left"):
        settings.save(path)  # more than a page of YAML, the earlier file's one page
    assert path.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "params.yaml"]
