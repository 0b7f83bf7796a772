"""The Extract dock's settings form, built from ``ExtractionSettings``' fields.

No viewer for the form itself: a real ``QApplication`` (pytest-qt's ``qtbot``) and the real
magicgui widgets; the dock's own tests open it in a real viewer (``make_napari_viewer``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from magicgui.widgets import CheckBox, ComboBox, SpinBox
from qtpy.QtCore import QPoint
from qtpy.QtWidgets import QScrollArea
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._napari._settings_form import Choices, SettingsForm, TextValue
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.errors import SettingsError
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings

#: Free-form mappings: any pyradiomics key, so no control; they travel unchanged.
FREE_FORM = {"extra_settings", "voxel_settings"}

NON_DEFAULT = {
    "bin width and spacing": ExtractionSettings(
        bin_width=0.1234567, resampled_pixel_spacing=[0.7, 0.7, 2.5], force_2d=True
    ),
    "bin count, label, 2D": ExtractionSettings(
        bin_count=12, label=2, force_2d=True, force_2d_dimension=1, normalize=True
    ),
    "filters with their options": ExtractionSettings(
        image_types={"Original": {}, "LoG": {"sigma": [1.5, 3.0]}, "Wavelet": {"wavelet": "db2"}},
        extra_settings={"gldm_a": 2},
    ),
    "LoG on the global sigma": ExtractionSettings(
        image_types={"Original": {}, "LoG": {}}, extra_settings={"sigma": [2.0, 4.0]}
    ),
    "feature classes and more settings": ExtractionSettings(
        feature_classes={"firstorder": ["Mean", "Median"], "glcm": [], "shape2D": []},
        minimum_roi_size=5,
        minimum_roi_dimensions=1,
        distances=[1, 2],
        interpolator="sitkLinear",
        resegment_range=[-100.0, 400.0],
        resegment_mode="sigma",
        geometry_tolerance=1e-4,
        symmetrical_glcm=False,
        voxel_settings={"kernelRadius": 2},
    ),
}


@pytest.fixture
def form(qtbot) -> SettingsForm:
    form = SettingsForm(ExtractionSettings())
    qtbot.addWidget(form.native)
    return form


@pytest.mark.parametrize("settings", NON_DEFAULT.values(), ids=list(NON_DEFAULT))
def test_settings_round_trip_through_the_form(form: SettingsForm, settings) -> None:
    form.show(settings)
    back = form.settings()
    assert back == settings
    assert back.to_params() == settings.to_params()  # the same params file, types included


def test_a_loaded_file_reads_back_as_it_was_written(form: SettingsForm, tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "setting": {"binWidth": 25, "label": 3, "resampledPixelSpacing": [1, 1, 1]},
                "imageType": {"Original": {}, "Square": {}},
                "featureClass": {"glrlm": None},
            }
        )
    )
    loaded = ExtractionSettings.load(path)
    form.show(loaded)
    assert form.fields["label"].value == 3
    assert form.fields["image_types"].value == ["Original", "Square"]
    assert form.settings().to_params() == loaded.to_params()  # binWidth: 25 still spelled out


def test_the_form_has_a_control_for_each_field_of_the_dataclass(form: SettingsForm) -> None:
    compared = {f.name for f in dataclasses.fields(ExtractionSettings) if f.compare}
    assert set(form.fields) == compared - FREE_FORM
    controls = {name: type(widget) for name, widget in form.fields.items()}
    assert controls["normalize"] is CheckBox
    assert controls["pad_distance"] is SpinBox
    assert controls["resegment_mode"] is ComboBox
    assert controls["resampled_pixel_spacing"] is TextValue
    assert controls["feature_classes"] is Choices
    # pyradiomics' schema gives the range and the choices
    assert (
        form.fields["minimum_roi_dimensions"].min,
        form.fields["minimum_roi_dimensions"].max,
    ) == (1, 3)
    assert form.fields["resegment_mode"].choices == ("absolute", "relative", "sigma")


def test_a_field_added_to_the_dataclass_appears_without_widget_code(qtbot) -> None:
    @dataclasses.dataclass
    class Wider(ExtractionSettings):
        smoothing: float = 0.5
        cutoffs: list[float] | None = None
        gaps: int = 0
        keep_holes: bool = False

    form = SettingsForm(Wider())
    qtbot.addWidget(form.native)
    assert set(form.fields) == {f.name for f in dataclasses.fields(Wider) if f.compare} - FREE_FORM
    assert isinstance(form.fields["smoothing"], TextValue)
    assert isinstance(form.fields["gaps"], SpinBox)
    assert isinstance(form.fields["keep_holes"], CheckBox)
    assert form.fields["cutoffs"].parent is not None  # laid out (in "more settings")
    wider = Wider(smoothing=1.25, cutoffs=[1.0, 2.0], gaps=3, keep_holes=True, bin_width=10)
    form.show(wider)
    assert form.settings() == wider
    form.fields["cutoffs"].value = "4, 5.5"
    assert form.settings().cutoffs == [4.0, 5.5]


def test_bad_text_names_the_field(form: SettingsForm) -> None:
    form.fields["label"].value = "two"
    with pytest.raises(SettingsError, match="label: expected a number, got 'two'"):
        form.settings()
    form.fields["label"].value = ""
    assert form.settings().label is None  # empty: every label
    form.fields["distances"].value = "1, 1.5"
    with pytest.raises(SettingsError, match="distances: expected numbers separated by commas"):
        form.settings()
    form.fields["distances"].value = "1"
    form.fields["bin_width"].value = "0"  # a number, but not one pyradiomics takes
    with pytest.raises(SettingsError, match="binWidth"):
        form.settings()


def test_the_dock_edits_every_setting_and_checks_it(make_napari_viewer, tmp_path) -> None:
    viewer = make_napari_viewer()
    case = make_synthetic_slice(seed=3, shape=(64, 64))
    viewer.add_image(case.image, name="slice")
    viewer.add_labels(case.mask.astype("uint8"), name="slice mask")
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Extract features")
    assert isinstance(widget, ExtractionWidget)
    assert widget.extract_button.enabled, widget.problems.value
    more = widget.form.more.native
    assert more.isHidden()  # rarely changed settings start folded away
    widget.form.more_toggle.value = True
    assert not more.isHidden()
    widget.form.fields["label"].value = 2
    widget.form.fields["pad_distance"].value = 7
    widget.form.fields["geometry_tolerance"].value = "0.001"
    path = tmp_path / "params.yaml"
    widget.save_params(str(path))
    extractor = RadiomicsFeatureExtractor(str(path))  # pyradiomics reads what the form says
    assert extractor.settings["label"] == 2
    assert extractor.settings["padDistance"] == 7
    assert extractor.settings["geometryTolerance"] == 0.001
    widget.form.fields["label"].value = "x"
    assert not widget.extract_button.enabled
    assert "label: expected a number, got 'x'" in widget.problems.value


def test_more_settings_are_built_when_first_opened_and_kept_until_then(qtbot) -> None:
    """The folded section has no controls until opened; what it would show travels
    unchanged meanwhile, and once opened its controls show the settings last shown."""
    given = ExtractionSettings(label=3, pad_distance=7, bin_width=10)
    form = SettingsForm(given)
    qtbot.addWidget(form.native)
    assert len(form.more) == 0  # nothing built for a section that starts closed
    assert form.settings() == given
    form.show(ExtractionSettings(label=2, bin_width=5))
    form.more_toggle.value = True
    assert len(form.more) > 0
    assert not form.more.native.isHidden()
    assert (form.fields["label"].value, form.fields["pad_distance"].value) == (2, 5)
    form.fields["pad_distance"].value = 9
    assert form.settings() == ExtractionSettings(label=2, bin_width=5, pad_distance=9)


def test_a_ticked_choice_is_a_change_and_a_shown_one_is_not(qtbot) -> None:
    """The check boxes of a group (plain Qt, one grid per group) tell the form of a click as
    a magicgui control would, and showing settings stays silent."""
    form = SettingsForm(ExtractionSettings())
    qtbot.addWidget(form.native)
    seen: list[object] = []
    form.changed.connect(seen.append)
    form.show(ExtractionSettings(image_types={"Original": {}, "Square": {}}))
    assert seen == []
    image_types = form.fields["image_types"]
    assert image_types.boxes["Square"].native.isChecked()
    image_types.boxes["LoG"].native.click()  # as the user would
    assert len(seen) == 1
    assert form.type_options["LoG", "sigma"].enabled  # its options follow the box
    assert list(form.settings().image_types) == ["Original", "LoG", "Square"]
    form.fields["feature_classes"].boxes["glcm"].native.click()
    assert "glcm" not in form.settings().feature_classes
    assert len(seen) == 2


def test_every_choice_stays_whole_in_a_narrow_dock(make_napari_viewer, qtbot) -> None:
    """Four boxes to a row took about 420 px: in a narrower dock (the Extract dock alone at
    1366x768 is 409 px wide) the scroll area cut the last column off, LBP2D and Square
    among them, with no scroll bar to reach them. The boxes now take fewer columns."""
    widget = ExtractionWidget(make_napari_viewer())
    widget.native.show()
    qtbot.waitExposed(widget.native)
    area = widget.native.findChild(QScrollArea)
    image_types = widget.form.fields["image_types"].grid

    def cut_off() -> list[str]:
        boxes = [
            (name, box.native)
            for group in ("preprocess", "image_types", "feature_classes")
            for name, box in widget.form.fields[group].boxes.items()
        ]
        viewport = area.viewport().width()
        return [
            name
            for name, box in boxes
            if box.mapTo(area.viewport(), QPoint(box.width(), 0)).x() > viewport
            or box.width() < box.sizeHint().width()
        ]

    columns = []
    for width in (700, 409, 300, 240):
        widget.native.resize(width, 900)
        qtbot.waitUntil(lambda: not cut_off(), timeout=2000)
        columns.append(image_types.columns)
    assert columns[0] == 4
    assert columns == sorted(columns, reverse=True)
    assert columns[-1] < 4
