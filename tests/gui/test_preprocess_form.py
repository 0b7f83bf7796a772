"""The preprocessing steps in the Extract dock's form: one check box per step, beside
normalize, built from the settings field like every other control."""

from __future__ import annotations

from pathlib import Path

import pytest
from magicgui.widgets import CheckBox
from test_widget import TIMEOUT, dock, edge_point, open_case

from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._settings_form import MAIN, Choices, SettingsForm
from napari_radiomics.convert import as_sitk
from napari_radiomics.engine import extract_features
from napari_radiomics.errors import SettingsError
from napari_radiomics.preprocess import NyulStandardizer
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


def test_dock_extracts_with_n4_and_a_brush_stroke_does_not_rerun_it(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    image, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    widget.preset.value = "brain-tumor-mri"
    widget.form.fields["normalize"].value = False
    widget.form.fields["bin_width"].value = 0.25
    widget.form.fields["preprocess"].boxes["n4"].value = True
    widget.form.fields["preprocess"].boxes["zscore"].value = True
    settings = widget.settings()
    assert settings.preprocess == {"n4": {}, "zscore": {}}
    widget.auto.value = True
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        assert widget.extract()
    results = get_results_widget(viewer)
    labels.brush_size = 15
    labels.selected_label = 1
    with qtbot.waitSignal(results.table_updated, timeout=TIMEOUT):
        labels.paint(edge_point(labels.data), 1)  # a brush stroke -> re-extraction
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT)
    # the dock's run is the engine's on the painted mask, preprocessing included
    direct = extract_features(image, labels, settings, metadata=image.metadata)
    second = results.runs[1].frame
    for name in [c for c in direct.columns if c.startswith("original_")]:
        assert second[name].iloc[0] == direct[name].iloc[0], name
    assert results.runs[1].provenance["params"]["preprocess"] == {"n4": {}, "zscore": {}}
    engines = [cached.engine for cached in widget.engines._engines.values()]
    assert [engine.preprocessed.runs for engine in engines] == [1]  # N4 ran once for both
    # Another bin width is another engine, with the same corrected image: N4 does not rerun.
    widget.auto.value = False
    widget.form.fields["bin_width"].value = 0.5
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        assert widget.extract()
    qtbot.waitUntil(lambda: len(results.runs) == 3, timeout=TIMEOUT)
    assert results.runs[2].provenance["params"]["setting"]["binWidth"] == 0.5
    engines = [cached.engine for cached in widget.engines._engines.values()]
    assert len(engines) == 2
    caches = {id(engine.preprocessed): engine.preprocessed for engine in engines}
    assert sum(cache.runs for cache in caches.values()) == 1  # N4 ran once in all


def test_nyul_landmarks_file_chosen_in_the_dock_and_a_bad_one_named(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    image, _labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    form = widget.form
    picker = form.nyul_landmarks
    assert picker.native.isHidden()  # only with nyul ticked
    form.fields["preprocess"].boxes["n4"].value = True
    form.fields["preprocess"].boxes["nyul"].value = True
    assert not picker.native.isHidden()
    assert picker.native.parent() is not None  # in the form, beside the steps
    form.fields["bin_width"].value = 2.0

    missing = tmp_path / "missing.json"
    picker.value = missing
    assert not widget.check()
    assert f"{missing}: cannot read the Nyul landmarks" in widget.problems.value
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json")
    picker.value = damaged
    assert not widget.check()
    assert f"{damaged}: not a Nyul landmarks file" in widget.problems.value
    # nothing the user set was lost on the way
    assert form.fields["preprocess"].value == ["n4", "nyul"]
    assert form.fields["bin_width"].value == 2.0
    assert Path(picker.value) == damaged

    nyul = NyulStandardizer().fit([as_sitk(image)]).save(tmp_path / "nyul.json")
    picker.value = nyul
    assert widget.check(), widget.problems.value
    settings = widget.settings()
    assert settings.preprocess == {"n4": {}, "nyul": NyulStandardizer.load(nyul).to_dict()}
    assert settings.bin_width == 2.0
    widget.apply_settings(settings)  # shown again: the landmarks are in the settings
    assert widget.settings() == settings
    form.fields["preprocess"].boxes["nyul"].value = False
    assert picker.native.isHidden()
    assert widget.settings().preprocess == {"n4": {}}
