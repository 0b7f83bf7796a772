"""The extract -> paint -> re-extract loop in a real napari viewer.

Everything is real: the plugin's reader opens a .mat file written by the real writer, the real
engine (pyradiomics) runs in napari's worker thread, and the mask is edited through the labels
layer's own paint API, so napari emits the same paint event a brush stroke does.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from napari.layers import Image, Labels
from napari.utils.notifications import notification_manager
from qtpy.QtCore import QCoreApplication, QTimer
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._napari import _widget
from napari_radiomics._napari._controls import docked
from napari_radiomics._napari._inputs import build_job as build
from napari_radiomics._napari._results import ResultsWidget, get_results_widget
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.engine import extract_features
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings

SURFACE = "original_shape2D_PixelSurface"
TIMEOUT = 60_000


def open_case(viewer, tmp_path: Path, seed: int = 1) -> tuple[Image, Labels]:
    """Write a synthetic case as a real v7.3 .mat file and open it through the plugin's reader."""
    path = write_tumor_mat(
        tmp_path / "17.mat", make_synthetic_slice(seed=seed, label=2, patient_id="100360")
    )
    layers = viewer.open(path, plugin="napari-radiomics")
    image = next(layer for layer in layers if isinstance(layer, Image))
    labels = next(layer for layer in layers if isinstance(layer, Labels))
    assert image.name == "17 glioma (PID 100360)"
    assert labels.name == "17 glioma (PID 100360) mask"
    return image, labels


def dock(viewer) -> ExtractionWidget:
    """The widget as Plugins > napari-radiomics > Extract features docks it."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Extract features")
    assert isinstance(widget, ExtractionWidget)
    return widget


def edge_point(mask: np.ndarray) -> tuple[int, int]:
    """A pixel on the tumour's top edge: a brush there adds tumour pixels."""
    rows, cols = np.nonzero(mask)
    top = rows.min()
    return int(top), int(np.median(cols[rows == top]))


def test_extract_paint_reextract_export(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    image, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    assert widget.image.value is image
    assert widget.labels.value is labels  # the case's mask is picked with its image
    widget.preset.value = "brain-tumor-mri"  # shape2D on, as 2D slices need
    assert widget.settings().bin_width == 32
    widget.auto.value = True
    features_events = []
    labels.events.features.connect(features_events.append)

    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        assert widget.extract()
    assert len(features_events) == 1  # a new table was assigned, so napari told its listeners
    results = get_results_widget(viewer)
    assert results.value_columns() == ["run 1 | label 1"]
    features = labels.features
    assert features["label"].tolist() == [1]  # the ROI label, as napari looks rows up
    assert features["tumor_class"].tolist() == [2]  # the reader's tumour class, renamed
    before = float(results.frame.loc[SURFACE, "run 1 | label 1"])
    assert before == labels.data.sum()

    labels.brush_size = 15
    labels.selected_label = 1
    with qtbot.waitSignal(results.table_updated, timeout=TIMEOUT):
        labels.paint(edge_point(labels.data), 1)  # emits events.paint -> debounced re-extract
    assert results.value_columns() == ["run 1 | label 1", "run 2 | label 1"]
    after = float(results.frame.loc[SURFACE, "run 2 | label 1"])
    assert after == np.count_nonzero(labels.data) > before
    assert (
        results.frame.loc["original_shape2D_Perimeter", "run 2 | label 1"]
        != (results.frame.loc["original_shape2D_Perimeter", "run 1 | label 1"])
    )
    # the GUI run is the engine's result on the painted mask, and the reader metadata came along
    settings = ExtractionSettings.preset("brain-tumor-mri")
    direct = extract_features(image, labels, settings, metadata=image.metadata)
    second = results.runs[1].frame
    for name in [c for c in direct.columns if c.startswith("original_")]:
        assert second[name].iloc[0] == direct[name].iloc[0], name
    assert results.frame.loc["patient_id", "run 2 | label 1"] == "100360"
    assert results.frame.loc["tumor_type", "run 2 | label 1"] == "glioma"

    # two strokes in quick succession: the debounce makes them one re-extraction
    rows, cols = np.nonzero(labels.data)
    inside = (int(rows[len(rows) // 2]), int(cols[len(cols) // 2]))
    with qtbot.waitSignal(results.table_updated, timeout=TIMEOUT):
        labels.paint(inside, 0)  # erase a hole ...
        labels.paint((inside[0] + 8, inside[1]), 0)  # ... and another, within the debounce
    # Nothing else is pending: no debounce timer, no run in flight, no queued signal.
    assert not widget.debounce_timer.isActive()
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT)
    QCoreApplication.processEvents()
    assert [run.name for run in results.runs] == ["run 1", "run 2", "run 3"]
    results.remove_run("run 3")

    docks = [w for w in viewer.window.dock_widgets.values() if isinstance(w, ResultsWidget)]
    assert docks == [results]  # both runs went to the one results dock
    results.set_comparison("run 1 | label 1", "run 2 | label 1")
    delta, _ = results.difference_columns()
    assert results.frame.loc[SURFACE, delta] == after - before

    path, sidecar = results.export(tmp_path / "features.csv")
    back = pd.read_csv(path, dtype={"case": str, "patient_id": str})
    assert back["run"].tolist() == ["run 1", "run 2"]
    assert back[SURFACE].tolist() == [before, after]
    assert back["patient_id"].tolist() == ["100360", "100360"]
    assert back["tumor_type"].tolist() == ["glioma", "glioma"]
    provenance = yaml.safe_load(sidecar.read_text())["runs"]["run 2"]
    assert provenance  # the settings of each run travel with the export


def test_ui_stays_live_and_cancel_drops_the_run(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    open_case(viewer, tmp_path)
    widget = dock(viewer)
    # LoG at five scales, wavelets and fine bins: seconds of work on a 512x512 slice
    widget.form.fields["image_types"].boxes["LoG"].value = True
    widget.form.fields["image_types"].boxes["Wavelet"].value = True
    widget.form.type_options["LoG", "sigma"].value = "1, 2, 3, 4, 5"
    widget.form.fields["bin_width"].value = 5
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    steps = []
    widget.runner.signals.progressed.connect(lambda *args: steps.append(args))
    assert widget.extract()
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=TIMEOUT)  # progress reaches the UI ...
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=TIMEOUT)  # ... timers keep ticking ...
    assert widget.runner.running  # ... while the extraction is still running
    assert widget.cancel_button.enabled
    with qtbot.waitSignal(widget.runner.signals.cancelled, timeout=TIMEOUT) as blocker:
        widget.cancel()
    timer.stop()
    assert blocker.args == ["cancelled"]
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT)
    assert "cancelled" in widget.status.value
    assert get_results_widget(viewer).runs == []


def test_an_edit_during_a_run_supersedes_it(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    _, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    widget.preset.value = "brain-tumor-mri"
    # LoG is slow enough to edit the mask during the run
    widget.form.fields["image_types"].boxes["LoG"].value = True
    widget.form.type_options["LoG", "sigma"].value = "1, 2, 3"
    widget.form.fields["bin_width"].value = 8
    widget.auto.value = True
    results = get_results_widget(viewer)
    added = []
    results.table_updated.connect(lambda: added.append([r.name for r in results.runs]))
    steps = []
    widget.runner.signals.progressed.connect(lambda *args: steps.append(args))
    dropped = []
    widget.runner.signals.cancelled.connect(dropped.append)
    assert widget.extract()
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=TIMEOUT)
    assert widget.runner.running  # the first run is in flight when the mask is edited
    labels.brush_size = 21
    labels.paint(edge_point(labels.data), 1)
    qtbot.waitUntil(lambda: bool(results.runs), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: dropped == ["superseded"], timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT)
    QCoreApplication.processEvents()  # a late result of the dropped run would arrive now
    assert len(results.runs) == 1  # only the run on the edited mask was shown
    assert results.runs[0].frame[SURFACE].iloc[0] == np.count_nonzero(labels.data)


def test_current_slice_of_a_stack(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    cases = [make_synthetic_slice(seed=s, shape=(128, 128), label=s) for s in (1, 2, 3)]
    for number, case in enumerate(cases, start=1):
        write_tumor_mat(tmp_path / f"{number}.mat", case)
    layers = viewer.open(tmp_path, plugin="napari-radiomics")  # the folder: one lazy stack
    image = next(layer for layer in layers if isinstance(layer, Image))
    labels = next(layer for layer in layers if isinstance(layer, Labels))
    widget = dock(viewer)
    assert widget.labels.value is labels
    assert widget.current_slice.value  # a stack of unrelated slices: one slice at a time
    viewer.dims.set_current_step(0, 1)
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT) as blocker:
        widget.extract()
    frame = blocker.args[0]
    assert frame["case"].tolist() == ["2"]
    assert frame["tumor_type"].tolist() == ["glioma"]
    assert frame["patient_id"].tolist() == [cases[1].patient_id]
    assert frame["slice"].tolist() == [1]
    direct = extract_features(cases[1].image, cases[1].mask.astype(np.uint8))
    assert frame["original_firstorder_Mean"].iloc[0] == direct["original_firstorder_Mean"].iloc[0]
    assert labels.features["label"].tolist() == [1]
    assert image.data.shape[0] == 3

    # A correction painted into the stack's mask is what the next run of that slice measures.
    rows, cols = np.nonzero(cases[1].mask)
    labels.brush_size = 9
    labels.paint((1, int(rows.min()), int(np.median(cols[rows == rows.min()]))), 1)
    corrected = np.asarray(labels.data[1])
    assert corrected.sum() > cases[1].mask.sum()
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT) as blocker:
        widget.extract()
    after = blocker.args[0]
    expected = extract_features(cases[1].image, corrected)
    assert after["case"].tolist() == ["2"]
    assert (
        after["original_firstorder_Mean"].iloc[0] == expected["original_firstorder_Mean"].iloc[0]
    )
    assert after["original_firstorder_Mean"].iloc[0] != frame["original_firstorder_Mean"].iloc[0]


def test_problems_are_explained_before_running(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    _, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    widget.roi_mode.value = "these labels:"
    widget.roi_list.value = "3"
    assert not widget.extract_button.enabled
    assert "label 3 not present" in widget.problems.value
    before = len(notification_manager.records)
    assert not widget.extract()
    record = notification_manager.records[before]
    assert labels.name in str(record.message)
    assert "label 3 not present" in str(record.message)
    widget.roi_mode.value = "selected label"
    labels.selected_label = 1
    assert widget.extract_button.enabled
    labels.data = np.zeros_like(labels.data)
    assert "is empty" in widget.problems.value


def test_geometry_tolerance_lets_a_tiny_offset_run(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    """The check compares grids as the engine does, with the loaded geometryTolerance."""
    viewer = make_napari_viewer()
    _, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    labels.translate = (0.001, 0.0)  # a 0.001 mm offset: beyond SimpleITK's default 1e-6
    widget.check()
    assert not widget.extract_button.enabled
    assert "geometryTolerance" in widget.problems.value
    settings = widget.settings()
    settings.geometry_tolerance = 0.01
    widget.apply_settings(settings)
    assert widget.extract_button.enabled, widget.problems.value
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        assert widget.extract()  # and the engine computes the case
    labels.translate = (0.1, 0.0)  # beyond 0.01 mm: the engine would refuse it
    widget.check()
    assert not widget.extract_button.enabled
    assert "grid mismatch" in widget.problems.value


def test_params_files_round_trip_through_pyradiomics(make_napari_viewer, tmp_path) -> None:
    viewer = make_napari_viewer()
    widget = dock(viewer)
    widget.form.fields["bin_count"].value = 16
    widget.form.fields["normalize"].value = True
    widget.form.fields["image_types"].boxes["LoG"].value = True
    widget.form.type_options["LoG", "sigma"].value = "2, 4"
    widget.form.fields["feature_classes"].boxes["ngtdm"].value = False
    path = tmp_path / "params.yaml"
    widget.save_params(str(path))
    extractor = RadiomicsFeatureExtractor(str(path))  # pyradiomics reads our file
    assert extractor.settings["binCount"] == 16
    assert extractor.settings["normalize"] is True
    assert extractor.enabledImagetypes["LoG"]["sigma"] == [2.0, 4.0]
    assert "ngtdm" not in extractor.enabledFeatures
    other = dock(make_napari_viewer())
    other.load_params(str(path))
    assert other.settings() == widget.settings()
    widget.form.fields["resampled_pixel_spacing"].value = "1, x"
    with pytest.raises(ValueError, match="numbers"):
        widget.settings()


def test_the_controls_edit_a_settings_object_both_ways(make_napari_viewer) -> None:
    widget = dock(make_napari_viewer())
    settings = ExtractionSettings(
        bin_count=12,
        normalize=True,
        resampled_pixel_spacing=[1.0, 1.0, 2.0],
        image_types={"Original": {}, "LoG": {"sigma": [1.5, 3.0]}, "Wavelet": {"wavelet": "db2"}},
        feature_classes={"firstorder": ["Mean", "Median"], "glcm": []},
        minimum_roi_size=5,  # under "more settings"
        extra_settings={"gldm_a": 2},  # no control: carried through unchanged
    )
    widget.apply_settings(settings)
    assert widget.form.fields["bin_count"].value == 12
    assert widget.form.fields["resampled_pixel_spacing"].native.text() == "1, 1, 2"
    assert widget.form.fields["image_types"].boxes["Wavelet"].value
    assert not widget.form.fields["feature_classes"].boxes["shape"].value
    assert widget.settings() == settings
    widget.form.fields["feature_classes"].boxes["glcm"].value = False
    widget.form.fields["image_types"].boxes["Square"].value = True
    edited = widget.settings()
    assert edited.feature_classes == {"firstorder": ["Mean", "Median"]}
    assert edited.image_types["Square"] == {}
    assert edited.image_types["Wavelet"] == {"wavelet": "db2"}
    widget.apply_settings(ExtractionSettings(feature_classes={}))  # empty: every class
    assert all(box.value for box in widget.form.fields["feature_classes"].boxes.values())


def test_a_failed_run_is_a_notification_naming_the_layers(
    make_napari_viewer, qtbot, tmp_path
) -> None:
    viewer = make_napari_viewer()
    image, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    params = tmp_path / "strict.yaml"
    params.write_text(yaml.safe_dump({"setting": {"minimumROISize": 10**7}}))
    widget.load_params(str(params))  # a file's settings without a control are kept
    assert widget.settings().minimum_roi_size == 10**7
    assert not widget.extract()  # pyradiomics' ROI checks are foreseen: no run at all
    assert "too small" in widget.problems.value
    # Resegmentation is not foreseen (it depends on the intensities): the run fails.
    params.write_text(yaml.safe_dump({"setting": {"resegmentRange": [-(10**6), -(10**6) + 1]}}))
    widget.load_params(str(params))
    before = len(notification_manager.records)
    with qtbot.waitSignal(widget.runner.signals.failed, timeout=TIMEOUT):
        assert widget.extract()
    message = str(notification_manager.records[before].message)
    assert image.name in message
    assert labels.name in message
    assert "Resegmentation excluded too many voxels" in message
    assert get_results_widget(viewer).runs == []


def test_fill_in_3d_reextracts_the_volume(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    rng = np.random.default_rng(5)
    volume = rng.normal(400, 60, (12, 48, 48)).astype(np.int16)
    mask = np.zeros(volume.shape, np.uint8)
    mask[3:9, 10:30, 10:30] = 1
    mask[5, 12:28, 12:28] = 0  # a hole on one slice
    viewer.add_image(volume, name="volume", scale=(2.0, 0.8, 0.8))
    labels = viewer.add_labels(mask, name="volume mask", scale=(2.0, 0.8, 0.8))
    widget = dock(viewer)
    assert not widget.current_slice.value  # a volume, not a stack of unrelated slices
    widget.auto.value = True
    results = get_results_widget(viewer)
    with qtbot.waitSignal(results.table_updated, timeout=TIMEOUT):
        widget.extract()
    with qtbot.waitSignal(results.table_updated, timeout=TIMEOUT):
        labels.fill((5, 20, 20), 1)  # fills the hole; napari emits the paint event
    volume_feature = "original_shape_VoxelVolume"
    first, second = (run.frame[volume_feature].iloc[0] for run in results.runs)
    assert second - first == pytest.approx(16 * 16 * 2.0 * 0.8 * 0.8)  # spacing respected


def test_a_press_reads_the_slice_once_and_the_results_dock_docks_during_the_run(
    make_napari_viewer, qtbot, tmp_path: Path, monkeypatch
) -> None:
    """Extract checks the job it runs (the slice shown is read once per press), and the
    results dock docks in the event after the press, while the worker runs, not with the
    result; the result still lands in it and in the layer's features."""
    viewer = make_napari_viewer()
    image, labels = open_case(viewer, tmp_path)
    widget = dock(viewer)
    frame = extract_features(image, labels, widget.settings(), metadata=image.metadata)
    release = threading.Event()

    def held(*_args):
        def work(progress):
            release.wait(TIMEOUT / 1000)
            return frame

        return work

    monkeypatch.setattr(widget.engines, "extraction", held)
    built = []
    monkeypatch.setattr(_widget, "build_job", lambda *a, **k: built.append(1) or build(*a, **k))
    assert docked(viewer, ResultsWidget) == []
    assert widget.extract()
    assert len(built) == 1
    qtbot.waitUntil(lambda: docked(viewer, ResultsWidget) != [], timeout=TIMEOUT)
    assert widget.runner.running  # docked before the result
    (results,) = docked(viewer, ResultsWidget)
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        release.set()
    assert docked(viewer, ResultsWidget) == [results]
    assert results.value_columns() == ["run 1 | label 1"]
    assert labels.features["label"].tolist() == [1]
