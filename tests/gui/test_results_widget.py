"""The results dock in a real viewer: runs side by side, difference, filter, sort, copy, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from qtpy.QtCore import Qt
from qtpy.QtGui import QGuiApplication

from napari_radiomics._napari._results import ResultsWidget, get_results_widget
from napari_radiomics._napari._table_model import RAW_ROLE
from napari_radiomics.feature_tables import read_features_table
from napari_radiomics.results import feature_columns
from napari_radiomics.side_by_side import difference_title
from test_results import engine_run


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = np.zeros((48, 48), np.uint8)
    mask[10:30, 10:30] = 1
    before = engine_run(mask)
    mask[10:34, 10:34] = 1
    return before, engine_run(mask)


def visible_rows(widget: ResultsWidget) -> list[str]:
    proxy = widget.table.model()
    return [str(proxy.headerData(r, Qt.Orientation.Vertical)) for r in range(proxy.rowCount())]


def test_results_dock_compares_runs(make_napari_viewer, qtbot, frames, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    # docked from Plugins > napari-radiomics > Feature results, then found by scripts
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature results")
    assert get_results_widget(viewer) is widget
    with qtbot.waitSignal(widget.table_updated):
        assert widget.add_run(frames[0]) == "run 1"
    widget.add_run(frames[1], name="corrected")
    assert widget.add_run(frames[1], name="corrected") == "corrected (2)"
    widget.remove_run("corrected (2)")
    assert [run.name for run in widget.runs] == ["run 1", "corrected"]
    widget.remove_run("run 1")
    assert widget.add_run(frames[0]) == "run 4"  # default names never come back
    widget.remove_run("corrected")
    widget.add_run(frames[1], name="corrected")
    assert [run.name for run in widget.runs] == ["run 4", "corrected"]
    assert widget.value_columns() == ["run 4 | label 1", "corrected | label 1"]

    widget.set_comparison("run 4 | label 1", "corrected | label 1")
    delta, percent = widget.difference_columns()
    assert widget.frame.loc["original_shape2D_PixelSurface", delta] == 176.0
    assert widget.frame.loc["original_shape2D_PixelSurface", percent] == pytest.approx(44.0)

    widget.filter_edit.setText("PixelSurface")
    assert visible_rows(widget) == ["original_shape2D_PixelSurface"]
    widget.filter_edit.setText("")
    widget.class_combo.setCurrentText("glcm")
    rows = visible_rows(widget)
    assert rows
    assert all(r.startswith("original_glcm_") for r in rows)
    widget.class_combo.setCurrentText("(any)")

    # sorting by the difference: features first, the largest change last of them, then the
    # identifying rows as their own section
    column = widget.frame.columns.get_loc(delta)
    widget.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    rows = visible_rows(widget)
    identifying = ["case", "patient_id", "label", "tumor_type", "roi_label"]
    assert rows[rows.index("case") :] == identifying
    assert all(r.startswith("original_") for r in rows[: rows.index("case")])
    values = widget.frame.loc[rows[: rows.index("case")], delta].astype(float).dropna()
    assert (np.diff(values.to_numpy()) >= 0).all()

    # copy one cell as tab-separated text
    widget.filter_edit.setText("PixelSurface")
    proxy = widget.table.model()
    widget.table.selectionModel().select(
        proxy.index(0, widget.frame.columns.get_loc("corrected | label 1")),
        widget.table.selectionModel().SelectionFlag.Select,
    )
    text = widget.copy_selection()
    assert text == "name\tcorrected | label 1\noriginal_shape2D_PixelSurface\t576.0"
    assert QGuiApplication.clipboard().text() == text

    path, sidecar = widget.export(tmp_path / "runs.csv")
    back = pd.read_csv(path)
    assert back["run"].tolist() == ["run 4", "corrected"]
    assert back["original_shape2D_PixelSurface"].tolist() == [400.0, 576.0]
    assert sidecar.is_file()
    assert difference_title("b", "a") == "Δ (b) − (a)"


def test_a_new_run_keeps_the_sort_and_filter_identifying_rows_last_in_order(
    make_napari_viewer, frames
) -> None:
    viewer = make_napari_viewer()
    widget = get_results_widget(viewer)
    widget.add_run(frames[0], name="before")
    title = "before | label 1"
    widget.table.sortByColumn(widget.frame.columns.get_loc(title), Qt.SortOrder.DescendingOrder)
    rows = visible_rows(widget)
    # the identifying rows are not sorted with the values: they say which case a column is,
    # as a section of their own after the features
    assert rows[-5:] == ["case", "patient_id", "label", "tumor_type", "roi_label"]
    values = widget.frame.loc[rows[:-5], title].astype(float).to_numpy()
    assert (np.diff(values[~np.isnan(values)]) <= 0).all()
    widget.filter_edit.setText("firstorder")
    widget.add_run(frames[1], name="after")  # the table is rebuilt with a new column
    rows = visible_rows(widget)
    assert rows
    assert all("_firstorder_" in row for row in rows)
    values = widget.frame.loc[rows, title].astype(float).to_numpy()
    assert (np.diff(values) <= 0).all()


def test_a_batch_in_the_dock_shows_every_case_cell_for_cell(
    make_napari_viewer, batch_features: Path, frames
) -> None:
    """A batch (one row per case) becomes a column per case, built as one block of values:
    every cell the dock shows is the batch's own, and a later single-case run with other
    features adds its column beside them (NaN where the batch has no such feature)."""
    batch = read_features_table(batch_features)
    viewer = make_napari_viewer()
    widget = get_results_widget(viewer)
    widget.add_run(batch, name="batch")
    widget.add_run(frames[0], name="one")
    model = widget.table.model()
    row_of = {
        str(model.headerData(r, Qt.Orientation.Vertical)): r for r in range(len(widget.frame))
    }
    column_of = {
        str(model.headerData(c, Qt.Orientation.Horizontal)): c for c in range(model.columnCount())
    }
    titles = [
        f"batch | {case} | label {roi}"
        for case, roi in zip(batch["case"], batch["roi_label"], strict=True)
    ]
    assert widget.value_columns() == [*titles, "one | label 1"]

    def shown(name: str, title: str) -> object:
        return model.index(row_of[name], column_of[title]).data(RAW_ROLE)

    features = feature_columns(batch)
    for i, title in enumerate(titles):
        assert [shown(f, title) for f in features] == batch.loc[i, features].tolist()
        for name in ("case", "patient_id", "tumor_type"):
            assert shown(name, title) == batch.loc[i, name]
    lacking = sorted(set(feature_columns(frames[0])) - set(features))
    assert lacking  # the single run has texture classes the batch was not asked for
    assert all(np.isnan(shown(f, titles[0])) for f in lacking)
    assert [shown(f, "one | label 1") for f in lacking] == frames[0].loc[0, lacking].tolist()


def test_select_all_in_the_results_dock_copies_every_shown_cell(
    make_napari_viewer, frames
) -> None:
    viewer = make_napari_viewer()
    widget = get_results_widget(viewer)
    widget.add_run(frames[0], name="before")
    widget.filter_edit.setText("PixelSurface")
    widget.table.selectAll()
    lines = widget.copy_selection().splitlines()
    assert lines[0].split("\t")[-1] == "before | label 1"
    assert lines[1].split("\t")[0] == "original_shape2D_PixelSurface"
    assert lines[1].split("\t")[-1] == "400.0"
