"""Choosing a run's settings (preset, params file, settings in hand, overrides) in one place,
with the same refusal wherever the choice is made (the CLI here; the docks in tests/gui)."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_radiomics.cli import main
from napari_radiomics.engine import quiet_pyradiomics_logging
from napari_radiomics.settings import ExtractionSettings, SettingsError
from napari_radiomics.settings_choice import choose_settings

quiet_pyradiomics_logging()


def test_each_source_then_overrides(tmp_path: Path) -> None:
    assert choose_settings() == ExtractionSettings()
    assert choose_settings(preset="brain-tumor-mri") == ExtractionSettings.preset(
        "brain-tumor-mri"
    )
    params = tmp_path / "p.yaml"
    params.write_text("setting:\n  binWidth: 16\nimageType:\n  Original: {}\n")
    assert choose_settings(params=params) == ExtractionSettings.load(params)
    tuned = ExtractionSettings(bin_width=7.0)
    chosen = choose_settings(current=tuned)
    assert chosen == tuned
    assert chosen is not tuned  # the caller's form is never changed through it
    changed = choose_settings(
        preset="brain-tumor-mri",
        overrides=[("binWidth", 64), ("featureClass.glcm", ["Contrast"])],
    )
    assert changed.bin_width == 64
    assert changed.feature_classes["glcm"] == ["Contrast"]
    assert changed.normalize  # the rest of the preset stays


def test_refusals_name_the_preset_the_file_or_the_mix(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="preset 'nope' does not exist; choose from"):
        choose_settings(preset="nope")
    missing = tmp_path / "missing.yaml"
    with pytest.raises(SettingsError, match=f"^{missing}: cannot read"):
        choose_settings(params=missing)
    with pytest.raises(SettingsError, match="choose a pyradiomics params file"):
        choose_settings(params="  ")
    with pytest.raises(SettingsError, match="not a preset and a params file"):
        choose_settings(preset="brain-tumor-mri", params=missing)
    with pytest.raises(SettingsError, match="binWidht"):
        choose_settings(overrides=[("binWidht", 3)])


def test_the_cli_refuses_a_bad_params_file_with_the_core_message(
    mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting:\n  binWidth: -3\n")
    with pytest.raises(SettingsError) as refused:
        choose_settings(params=bad)
    message = str(refused.value)
    assert message.startswith(f"{bad}: ")
    assert "binWidth" in message
    out = tmp_path / "f.csv"
    assert main(["extract", str(mat_folder), "-o", str(out), "--params", str(bad)]) == 2
    assert f"error: {message}\n" in capsys.readouterr().err
    assert not out.exists()
