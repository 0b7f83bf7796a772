"""The preprocessing steps in the Extract dock's form: one check box per step, beside
normalize, built from the settings field like every other control."""

from __future__ import annotations

import pytest
from magicgui.widgets import CheckBox

from napari_radiomics._napari._settings_form import MAIN, Choices, SettingsForm
from napari_radiomics.errors import SettingsError
from napari_radiomics.settings import ExtractionSettings


@pytest.fixture
def form(qtbot) -> SettingsForm:
    form = SettingsForm(ExtractionSettings())
    qtbot.addWidget(form.native)
    return form


def test_one_box_per_step_and_options_kept(form: SettingsForm) -> None:
    control = form.fields["preprocess"]
    assert isinstance(control, Choices)
    assert list(control.boxes) == ["n4", "zscore", "nyul"]
    assert MAIN.index("preprocess") == MAIN.index("normalize") + 1  # always visible
    settings = ExtractionSettings(preprocess={"n4": {"shrink_factor": 2}, "zscore": {}})
    form.show(settings)
    assert control.value == ["n4", "zscore"]
    assert form.settings() == settings  # a checked step keeps its options
    box: CheckBox = control.boxes["zscore"]
    box.value = False
    assert form.settings().preprocess == {"n4": {"shrink_factor": 2}}


def test_checked_steps_get_their_defaults_and_nyul_asks_for_landmarks(form: SettingsForm) -> None:
    control = form.fields["preprocess"]
    control.boxes["n4"].value = True
    assert form.settings().preprocess == {"n4": {}}
    control.boxes["nyul"].value = True
    with pytest.raises(SettingsError, match="nyul: no landmarks"):
        form.settings()
