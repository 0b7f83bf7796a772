"""Preprocessing in the settings: saved and reloaded with them, chosen like any setting, and
never in a way that stops pyradiomics from running the params file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._pyradiomics import PyradiomicsConfig
from napari_radiomics.engine import quiet_pyradiomics_logging
from napari_radiomics.errors import ReadError, SettingsError
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import NyulStandardizer
from napari_radiomics.settings import ExtractionSettings
from napari_radiomics.settings_choice import choose_settings

quiet_pyradiomics_logging()


@pytest.fixture
def landmarks(tmp_path: Path) -> Path:
    images = [sitk.GetImageFromArray(make_synthetic_slice(seed=s, shape=(64, 64)).image)
              for s in range(3)]  # fmt: skip
    return NyulStandardizer().fit(images).save(tmp_path / "nyul.json")


def test_saved_settings_round_trip_and_run_in_pyradiomics(tmp_path: Path, landmarks: Path) -> None:
    nyul = NyulStandardizer.load(landmarks).to_dict()
    settings = ExtractionSettings.preset("brain-tumor-mri")
    settings.preprocess = {"n4": {"shrink_factor": 2, "iterations": [30, 20]}, "nyul": nyul}
    path = settings.save(tmp_path / "mri.params.yaml")
    assert ExtractionSettings.load(path) == settings
    text = path.read_text()
    assert "#%     iterations: [30, 20]\n" in text
    # pyradiomics validates the file (unknown keys are refused) and runs it, without the
    # preprocessing, exactly as the same settings without it
    extractor = RadiomicsFeatureExtractor(str(path))
    tumour = make_synthetic_slice(seed=1, shape=(64, 64))
    image = sitk.GetImageFromArray(tumour.image)
    mask = sitk.GetImageFromArray(tumour.mask.astype(np.uint8))
    plain = settings.copy()
    plain.preprocess = {}
    expected = RadiomicsFeatureExtractor(plain.to_params()).execute(image, mask)
    result = extractor.execute(image, mask)
    assert {k: v for k, v in result.items() if not k.startswith("diagnostics")} == {
        k: v for k, v in expected.items() if not k.startswith("diagnostics")
    }


def test_params_dict_carries_preprocessing_pyradiomics_never_sees() -> None:
    settings = ExtractionSettings(preprocess={"n4": {}, "zscore": {"scale": 100}})
    params = settings.to_params()
    assert params["preprocess"] == {"n4": {}, "zscore": {"scale": 100}}
    assert ExtractionSettings.from_params(params) == settings
    plain = {k: v for k, v in params.items() if k != "preprocess"}
    assert PyradiomicsConfig.from_params(params) == PyradiomicsConfig.from_params(plain)
    assert "preprocess" not in ExtractionSettings().to_params()  # none: a plain params dict


def test_json_and_damaged_blocks_are_refused_by_name(tmp_path: Path) -> None:
    settings = ExtractionSettings(preprocess={"n4": {}})
    with pytest.raises(SettingsError, match=r"x\.json: the preprocessing \(n4\) is saved in YAML"):
        settings.save(tmp_path / "x.json")
    path = settings.save(tmp_path / "x.params.yaml")
    path.write_text(path.read_text().replace("n4: {}", "n4: {shrink: 2}"))
    with pytest.raises(SettingsError, match=r"x\.params\.yaml: preprocess n4: option 'shrink'"):
        ExtractionSettings.load(path)
    path.write_text(path.read_text().replace("n4: {shrink: 2}", "n4: [unclosed"))
    with pytest.raises(SettingsError, match=r"x\.params\.yaml: the #% preprocessing block"):
        ExtractionSettings.load(path)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ({"n3": {}}, r"step\(s\) \['n3'\] not known"),
        ({"zscore": {}, "nyul": {}}, "choose one standardisation, not zscore and nyul"),
        ({"nyul": {}}, r"nyul: no landmarks.*--nyul-landmarks FILE"),
        ({"n4": {"shrink_factor": 0}}, "n4: shrink_factor must be positive"),
        ({"n4": {"iterations": 50}}, "n4: iterations must be a list of numbers"),
        ({"n4": {"iterations": [50, 2.5]}}, "n4: iterations must be whole numbers"),
        ({"zscore": {"scale": "big"}}, "zscore: scale must be a number"),
        ({"zscore": {"within": "tumour"}}, r"within must be one of \['head', 'image'\]"),
    ],
)
def test_bad_steps_name_the_step_and_option(steps: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ExtractionSettings(preprocess=steps).to_params()


def test_choose_settings_takes_steps_landmarks_and_overrides(
    tmp_path: Path, landmarks: Path
) -> None:
    chosen = choose_settings(preset="brain-tumor-mri", preprocess=["n4", "nyul"],
                             nyul_landmarks=landmarks)  # fmt: skip
    assert list(chosen.preprocess) == ["n4", "nyul"]
    assert chosen.preprocess["nyul"] == NyulStandardizer.load(landmarks).to_dict()
    saved = chosen.save(tmp_path / "chosen.params.yaml")
    # --preprocess replaces the file's steps; --set preprocess.STEP sets a step's options
    again = choose_settings(params=saved, preprocess=["n4"],
                            overrides=[("preprocess.n4", {"shrink_factor": 2})])  # fmt: skip
    assert again.preprocess == {"n4": {"shrink_factor": 2}}
    assert choose_settings(params=saved).preprocess == chosen.preprocess
    assert choose_settings(params=saved, preprocess=[]).preprocess == {}
    with pytest.raises(
        SettingsError, match=r"nyul\.json given, but the preprocessing has no nyul"
    ):
        choose_settings(preprocess=["n4"], nyul_landmarks=landmarks)
    with pytest.raises(ReadError, match=r"gone\.json: cannot read the Nyul landmarks"):
        choose_settings(preprocess=["nyul"], nyul_landmarks=tmp_path / "gone.json")


def test_a_landmarks_file_keeps_the_steps_other_options(landmarks: Path) -> None:
    current = ExtractionSettings(
        preprocess={"nyul": {**NyulStandardizer.load(landmarks).to_dict(), "within": "image"}}
    )
    image = sitk.GetImageFromArray(make_synthetic_slice(seed=9, shape=(64, 64)).image)
    other = NyulStandardizer(percentiles=[5, 50, 95]).fit([image])
    path = other.save(landmarks.with_name("other.json"))
    chosen = choose_settings(current=current, nyul_landmarks=path)
    assert chosen.preprocess["nyul"] == {**other.to_dict(), "within": "image"}
