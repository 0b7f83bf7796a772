"""The Tumour-type model panel in a real viewer, on a real batch output (run under Xvfb)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from matplotlib.colors import to_rgba
from napari.utils.theme import get_theme

from napari_radiomics._napari._model_widget import ModelWidget
from napari_radiomics.cli import main
from napari_radiomics.errors import Cancelled
from napari_radiomics.results import read_table
from sample_files import BATCH_PATIENTS

REPORT = {"metrics.json", "predictions.csv", "confusion.png", "importances.csv",
          "importances.png", "report.md"}  # fmt: skip


@pytest.fixture
def widget(make_napari_viewer, batch_features: Path, qtbot) -> ModelWidget:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Tumour-type model")
    assert isinstance(widget, ModelWidget)
    widget.table_path.setText(str(batch_features))
    _open(widget, qtbot)
    widget.folds.setValue(2)  # two patients per type
    return widget


def _open(widget: ModelWidget, qtbot) -> None:
    """Read the table the path field names (what pressing Enter there does) and wait for it:
    the worker may end before a wait on its signal starts, so wait on the reader itself."""
    assert widget._open_path() is not None
    qtbot.waitUntil(lambda: not widget.reader.running, timeout=60_000)


def _finish(widget: ModelWidget, qtbot) -> None:
    """Wait until the run's worker has ended and the panel is ready for the next."""
    qtbot.waitUntil(widget.run_button.isEnabled, timeout=120_000)


def test_the_panel_writes_what_the_cli_writes(
    widget: ModelWidget, batch_features: Path, tmp_path: Path, qtbot
) -> None:
    assert widget.target.currentText() == "tumor_type"
    assert widget.group.currentText() == "patient_id"
    widget.output.setText(str(tmp_path / "panel"))
    assert widget.run() is not None
    assert not widget.run_button.isEnabled()
    assert widget.cancel_button.isEnabled()
    _finish(widget, qtbot)
    assert widget.result is not None, widget.status.text()
    assert widget.bar.value() == widget.bar.maximum() == 2  # both folds
    assert {p.name for p in widget.written} == REPORT
    assert widget.accuracy.text().startswith("Balanced accuracy ")
    assert [widget.figures.tabText(i) for i in range(widget.figures.count())] == [
        "Confusion matrix",
        "Importances",
    ]
    assert widget.figures.widget(0).figure.axes[0].get_title().startswith("balanced accuracy")
    widget.viewer.theme = "light"  # the figures follow napari's theme
    assert widget.figures.widget(0).figure.get_facecolor() == to_rgba(
        get_theme("light").background.as_hex()
    )

    cli = tmp_path / "cli"
    assert main(["model", str(batch_features), "-o", str(cli), "--folds", "2"]) == 0
    panel = json.loads((tmp_path / "panel" / "metrics.json").read_text())
    assert panel == json.loads((cli / "metrics.json").read_text())
    for fold in panel["folds"]:
        assert not set(fold["train_groups"]) & set(fold["test_groups"])
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "panel" / "predictions.csv"), read_table(cli / "predictions.csv")
    )


def test_cancel_stops_the_evaluation_and_shows_nothing(
    widget: ModelWidget, tmp_path: Path, qtbot
) -> None:
    widget.output.setText(str(tmp_path / "cancelled"))
    worker = widget.run()
    errors: list[BaseException] = []
    worker.errored.connect(errors.append)  # before Cancel: the stop cannot come earlier
    widget.cancel()
    _finish(widget, qtbot)
    assert len(errors) == 1
    assert isinstance(errors[0], Cancelled)
    assert widget.result is None
    assert widget.status.text() == "Cancelled."
    assert widget.figures.count() == 0
    assert not (tmp_path / "cancelled").exists()
    assert widget.run() is not None  # and the panel runs again
    _finish(widget, qtbot)
    assert widget.result is not None


def test_the_evaluation_reports_each_fold_and_napari_cancel_stops_it(
    widget: ModelWidget, tmp_path: Path, qtbot
) -> None:
    """The dock's run reports each fold (napari's activity dock shows them once the run has
    lasted: tests/gui/test_runner.py); the Cancel that napari's status bar offers for a
    worker (``worker.quit``) stops it like the dock's own."""
    steps: list[tuple[int, int]] = []
    widget.runner.signals.progressed.connect(lambda done, total, _: steps.append((done, total)))
    worker = widget.run()
    assert worker is not None
    _finish(widget, qtbot)
    assert (2, 2) in steps  # both folds
    widget.output.setText(str(tmp_path / "stopped"))
    worker = widget.run()
    worker.quit()  # napari's cancel callback for the worker
    _finish(widget, qtbot)
    assert widget.result is None
    assert widget.status.text() == "Cancelled."
    assert not (tmp_path / "stopped").exists()


def test_cvind_folds_from_the_dataset_file(widget: ModelWidget, tmp_path: Path, qtbot) -> None:
    """A cvind.mat whose folds keep each patient together (slice i is patient i % 6)."""
    patients = np.arange(12) % BATCH_PATIENTS
    scipy.io.savemat(tmp_path / "cvind.mat", {"cvind": (patients >= 3) + 1})
    widget.cvind.setText(str(tmp_path / "cvind.mat"))
    widget.run()
    _finish(widget, qtbot)
    assert widget.result is not None, widget.status.text()
    tested = [fold["test_groups"] for fold in widget.result.metrics["folds"]]
    assert tested == [["P000", "P001", "P002"], ["P003", "P004", "P005"]]


def test_bad_input_is_a_message(
    widget: ModelWidget, batch_features: Path, tmp_path: Path, qtbot
) -> None:
    table = read_table(batch_features)
    # the first six slices against the last six: each patient has a slice in both
    scipy.io.savemat(tmp_path / "cvind.mat", {"cvind": (np.arange(12) >= 6) + 1})
    widget.cvind.setText(str(tmp_path / "cvind.mat"))
    widget.run()
    _finish(widget, qtbot)
    assert "are in both the training and the test part" in widget.status.text()
    widget.cvind.setText("")
    cases = [
        (table.assign(tumor_type="glioma"), "target column 'tumor_type' has a single class"),
        (table.assign(original_firstorder_Mean=np.inf), "original_firstorder_Mean'] hold NaN"),
        (table, "has 2 patient(s), fewer than the 5 folds"),
    ]
    widget.folds.setValue(5)
    for frame, message in cases:
        widget.set_table(frame)
        widget.run()
        _finish(widget, qtbot)
        assert message in widget.status.text()
        assert widget.result is None
    widget.set_table(table.drop(columns="case"))
    widget.cvind.setText(str(tmp_path / "cvind.mat"))
    assert widget.run() is None
    assert "no 'case' column" in widget.status.text()
    widget.table_path.setText(str(tmp_path / "missing.csv"))
    _open(widget, qtbot)
    assert widget.status.text().startswith("Cannot open:")
    assert "missing.csv" in widget.status.text()


def test_the_panel_never_writes_its_report_over_the_table_it_models(
    widget: ModelWidget, batch_features: Path, tmp_path: Path
) -> None:
    """An output folder where a report file would replace the features table opened (a hard
    link to it as ``predictions.csv``: one file, two names, as ``Predictions.csv`` and
    ``predictions.csv`` are where case is ignored) is refused, naming the table, before any
    fold is fitted; the table is left byte for byte."""
    out = tmp_path / "out"
    out.mkdir()
    os.link(batch_features, out / "predictions.csv")
    data = batch_features.read_bytes()
    widget.output.setText(str(out))
    assert widget.run() is None
    assert widget.status.text().startswith(f"Cannot run: {batch_features}: is read for the")
    assert widget.result is None
    assert batch_features.read_bytes() == data
    assert [p.name for p in out.iterdir()] == ["predictions.csv"]


def test_the_panel_takes_the_dataset_tables_table(
    make_napari_viewer, batch_features: Path
) -> None:
    from napari_radiomics._napari._dataset_table import show_features

    viewer = make_napari_viewer()
    frame = read_table(batch_features)
    show_features(viewer, frame.iloc[:6])
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Tumour-type model")
    assert len(widget._table) == 6  # docked after the table: it models that table at once
    show_features(viewer, frame)
    assert widget.use_dataset_table()
    pd.testing.assert_frame_equal(widget._table, frame)
    assert widget.target.currentText() == "tumor_type"
    assert widget.group.currentText() == "patient_id"


def test_harmonise_by_a_column_as_the_cli_does(
    widget: ModelWidget, batch_features: Path, tmp_path: Path, qtbot
) -> None:
    """ "Harmonise by" runs ComBat inside the folds, as ``--harmonize`` does; "(none)" (the
    default) does not."""
    assert widget.harmonize.currentText() == "(none)"
    table = read_table(batch_features)
    table["scanner"] = np.where(table["case"].astype(int) % 2 == 0, "A", "B")  # both per patient
    features = tmp_path / "scanned.csv"
    table.to_csv(features, index=False)
    widget.table_path.setText(str(features))
    _open(widget, qtbot)
    widget.harmonize.setCurrentText("scanner")
    widget.output.setText(str(tmp_path / "panel"))
    widget.run()
    _finish(widget, qtbot)
    assert widget.result is not None, widget.status.text()
    panel = json.loads((tmp_path / "panel" / "metrics.json").read_text())
    assert panel["harmonization"]["batch_column"] == "scanner"
    assert all(fold["train_batches"] == ["A", "B"] for fold in panel["folds"])
    cli = tmp_path / "cli"
    argv = ["model", str(features), "-o", str(cli), "--folds", "2", "--harmonize", "scanner"]
    assert main(argv) == 0
    assert panel == json.loads((cli / "metrics.json").read_text())


def test_a_typed_table_is_read_in_a_worker_then_modelled(
    make_napari_viewer, batch_features: Path, tmp_path: Path, qtbot
) -> None:
    """A 3064 x 1500 CSV takes seconds to parse: Enter in the path field starts its reading
    and returns; the table is modelled once read, the same as read at once, and a file that
    is not a features table is named in the status."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Tumour-type model")
    widget.table_path.setText(str(batch_features))
    assert widget._open_path() is not None
    assert widget.status.text() == f"Reading {batch_features.name}…"
    qtbot.waitUntil(lambda: not widget.reader.running, timeout=60_000)
    pd.testing.assert_frame_equal(widget._table, read_table(batch_features))
    assert widget.status.text().endswith(f"from {batch_features.name}")
    assert widget.target.currentText() == "tumor_type"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"case,original_firstorder_Mean\n1,\xff\xfe\n")
    widget.table_path.setText(str(bad))
    _open(widget, qtbot)
    assert widget.status.text().startswith("Cannot open: ")
    assert "bad.csv" in widget.status.text()
    pd.testing.assert_frame_equal(widget._table, read_table(batch_features))  # kept
