"""The Batch extraction dock widget in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from napari.layers import Image

from napari_radiomics._napari._batch_widget import FOLDER, BatchWidget
from napari_radiomics._napari._dataset_table import get_dataset_table
from napari_radiomics._napari._settings_choice import DOCK, PARAMS_FILE
from napari_radiomics.corrections import session_for
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings, SettingsError
from napari_radiomics.settings_choice import choose_settings
from sample_files import MAT_FOLDER_CASES, write_mat_folder

N = MAT_FOLDER_CASES  # the shared mat_folder fixture's cases


@pytest.fixture
def widget(make_napari_viewer) -> BatchWidget:
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


def _run(widget: BatchWidget, qtbot) -> None:
    worker = widget.run()
    assert worker is not None, widget.status.text()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass


def test_folder_run_lands_in_the_dataset_table(
    widget: BatchWidget, mat_folder: Path, tmp_path: Path, qtbot
) -> None:
    widget.folder.setText(str(mat_folder))
    widget.output.setText(str(tmp_path / "features.csv"))
    widget.jobs.setValue(2)
    _run(widget, qtbot)
    assert widget.summary is not None
    assert widget.summary.ok
    frame = read_table(tmp_path / "features.csv")
    assert sorted(frame["case"]) == [str(i) for i in range(1, N + 1)]
    assert widget.bar.value() == N
    assert f"{N} rows for {N} cases" in widget.status.text()
    table = get_dataset_table(widget.viewer)
    assert sorted(table.frame["case"], key=int) == sorted(frame["case"], key=int)
    assert table.source == str(tmp_path / "features.csv")
    assert widget.run_button.isEnabled()
    assert not widget.cancel_button.isEnabled()


def test_open_stack_and_params_file(
    widget: BatchWidget, mat_folder: Path, tmp_path: Path, qtbot
) -> None:
    """A folder opened with the plugin's reader: the batch runs on the files of its stack."""
    layers = widget.viewer.open(str(mat_folder), plugin="napari-radiomics")
    stack = next(layer for layer in layers if isinstance(layer, Image))
    widget.viewer.add_image(np.zeros((8, 8)), name="no source")
    assert [widget.source.itemText(i) for i in range(widget.source.count())] == [
        FOLDER,
        stack.name,
    ]
    widget.source.setCurrentText(stack.name)
    params = tmp_path / "params.yaml"
    params.write_text("setting:\n  binWidth: 16\nimageType:\n  Original: {}\n")
    widget.settings.combo.setCurrentText(PARAMS_FILE)
    widget.settings.params.setText(str(params))
    widget.output.setText(str(tmp_path / "stack.csv"))
    widget.jobs.setValue(1)
    _run(widget, qtbot)
    expected = sorted(str(c) for c in stack.metadata["slices"]["case"])
    assert sorted(read_table(tmp_path / "stack.csv")["case"]) == expected
    assert "binWidth: 16" in (tmp_path / "stack.params.yaml").read_text()


def test_cancel_keeps_finished_rows_and_resume_completes(
    widget: BatchWidget, tmp_path: Path, qtbot
) -> None:
    folder = tmp_path / "mats"
    write_mat_folder(folder, 10, shape=(96, 96))
    params = tmp_path / "slow.yaml"  # wavelets: slow enough per case to cancel mid-run
    params.write_text("imageType:\n  Original: {}\n  Wavelet: {}\n")
    widget.folder.setText(str(folder))
    widget.settings.combo.setCurrentText(PARAMS_FILE)
    widget.settings.params.setText(str(params))
    widget.output.setText(str(tmp_path / "f.csv"))
    widget.jobs.setValue(1)
    worker = widget.run()
    assert worker is not None
    stop = lambda done, *_: done == 1 and widget.cancel()  # noqa: E731
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        widget.runner.signals.progressed.connect(stop)
    widget.runner.signals.progressed.disconnect(stop)  # this run only
    kept = read_table(tmp_path / "f.csv")
    assert 1 <= len(kept) < 10
    assert widget.summary is None
    assert "Cancelled" in widget.status.text()

    widget.resume.setChecked(True)
    _run(widget, qtbot)
    assert widget.summary is not None
    assert widget.summary.skipped == len(kept)
    assert len(read_table(tmp_path / "f.csv")) == 10


def test_settings_of_the_extract_features_dock(
    widget: BatchWidget, mat_folder: Path, tmp_path: Path, qtbot
) -> None:
    """What is tuned on one slice in the Extract features dock runs on the whole folder."""
    viewer = widget.viewer
    widget.settings.combo.setCurrentText(DOCK)
    widget.folder.setText(str(mat_folder))
    widget.output.setText(str(tmp_path / "f.csv"))
    assert widget.run() is None
    assert "no Extract features dock is open" in widget.status.text()

    _, dock = viewer.window.add_plugin_dock_widget("napari-radiomics", "Extract features")
    dock.form.fields["bin_width"].value = 20
    _run(widget, qtbot)
    assert widget.summary is not None
    assert widget.summary.ok
    written = yaml.safe_load((tmp_path / "f.params.yaml").read_text())
    assert written["setting"]["binWidth"] == 20
    assert ExtractionSettings.from_params(written) == dock.settings()


def _refused(widget: BatchWidget, qtbot) -> str:
    """Start a run whose cases or settings cannot be used; the status once the worker ends."""
    assert widget.run() is not None, widget.status.text()
    # the worker may end before a wait on its signal starts: wait on what the dock shows
    qtbot.waitUntil(lambda: widget.run_button.isEnabled(), timeout=60_000)
    assert not widget.runner.running
    assert widget.summary is None
    return widget.status.text()


def test_bad_choices_are_reported_not_raised(widget: BatchWidget, tmp_path: Path, qtbot) -> None:
    assert widget.run() is None
    assert "choose an output file" in widget.status.text()
    widget.output.setText(str(tmp_path / "f.csv"))
    assert widget.run() is None
    assert "choose a folder" in widget.status.text()
    widget.folder.setText(str(tmp_path / "missing"))
    status = _refused(widget, qtbot)
    assert status.startswith("Cannot start: ")
    assert "missing: no such file or folder" in status
    assert not (tmp_path / "f.csv").exists()


def _run_with_case_1_corrected(widget: BatchWidget, qtbot, output: Path) -> pd.DataFrame:
    """Run into ``output``; the table read back, case 1 measured on its correction and every
    other case on its original mask."""
    widget.output.setText(str(output))
    _run(widget, qtbot)
    measured = read_table(output).set_index("case")
    assert measured.loc["1", "mask_source"] == "corrected"
    assert (measured.drop(index="1")["mask_source"] == "original").all()
    return measured


def test_a_stroke_just_painted_is_measured_unless_original_masks(
    widget: BatchWidget, tmp_path: Path, qtbot
) -> None:
    """Paint on the open stack, run at once (the autosave may not have run yet): the batch
    measures the corrected slice; with "Original masks" ticked, the file's mask."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    layers = widget.viewer.open(str(folder), plugin="napari-radiomics")
    image, labels = layers[0], layers[1]
    labels.paint((0, 4, 4), 1)
    widget.source.setCurrentText(image.name)
    widget.jobs.setValue(1)
    corrected = _run_with_case_1_corrected(widget, qtbot, tmp_path / "corrected.csv")
    widget.original_masks.setChecked(True)
    widget.output.setText(str(tmp_path / "original.csv"))
    _run(widget, qtbot)
    original = read_table(tmp_path / "original.csv").set_index("case")
    assert (original["mask_source"] == "original").all()
    column = "original_shape2D_PixelSurface"
    assert corrected.loc["1", column] > original.loc["1", column]


def test_a_run_on_the_folder_open_in_the_viewer_measures_what_was_just_painted(
    widget: BatchWidget, tmp_path: Path, qtbot
) -> None:
    """A stroke on the open stack not yet saved (its save waits for the end of the stroke),
    then a run on the folder the stack came from: only a run on the layer waited for the
    save, so the run on the folder measured the original mask."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    labels = widget.viewer.open(str(folder), plugin="napari-radiomics")[1]
    session_for(labels.data).autosave.delay = 3600  # saved only when asked to
    labels.paint((0, 4, 4), 1)
    widget.source.setCurrentText(FOLDER)
    widget.folder.setText(str(folder))
    widget.jobs.setValue(1)
    _run_with_case_1_corrected(widget, qtbot, tmp_path / "f.csv")


def test_a_bad_params_file_is_refused_with_the_cli_message(
    widget: BatchWidget, mat_folder: Path, tmp_path: Path, qtbot
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting:\n  binWidth: -3\n")
    with pytest.raises(SettingsError) as refused:  # what `extract --params` prints
        choose_settings(params=bad)
    widget.folder.setText(str(mat_folder))
    widget.output.setText(str(tmp_path / "f.csv"))
    widget.settings.combo.setCurrentText(PARAMS_FILE)
    widget.settings.params.setText(str(bad))
    assert _refused(widget, qtbot) == f"Cannot start: {refused.value}"
    widget.settings.params.setText("")
    assert (
        _refused(widget, qtbot)
        == "Cannot start: choose a pyradiomics params file (.yaml, .yml, .json)"
    )


def test_the_output_never_replaces_the_params_file_chosen(
    widget: BatchWidget, mat_folder: Path, tmp_path: Path, qtbot
) -> None:
    """The params file an earlier run wrote beside its table (``f.params.yaml``), chosen as
    the settings of a run into the same ``f.csv`` with "overwrite" ticked, is refused before
    any case, naming it, as ``extract --params`` is: the run would have replaced it."""
    widget.folder.setText(str(mat_folder))
    widget.output.setText(str(tmp_path / "f.csv"))
    widget.jobs.setValue(1)
    _run(widget, qtbot)
    params = tmp_path / "f.params.yaml"
    before = params.read_bytes()
    widget.settings.combo.setCurrentText(PARAMS_FILE)
    widget.settings.params.setText(str(params))
    widget.overwrite.setChecked(True)
    assert _refused(widget, qtbot).startswith(f"Cannot start: {params}: is an input of this run")
    assert params.read_bytes() == before


def test_a_burst_of_finished_cases_moves_the_bar_once_to_the_latest(
    widget: BatchWidget, qtbot
) -> None:
    """Cases reported while the GUI was busy arrive together; the bar (which repaints the
    window each time its value changes) jumps to the latest count once, not once per case."""
    moves: list[int] = []
    widget.bar.valueChanged.connect(moves.append)
    for done in range(1, 301):
        widget.runner.signals.progressed.emit(done, 300, "")
    qtbot.waitUntil(lambda: widget.bar.value() == 300, timeout=5000)
    assert widget.bar.maximum() == 300
    assert moves == [300]
