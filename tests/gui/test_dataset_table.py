"""The dataset table in a real napari viewer, on a real batch output (run under Xvfb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from napari.layers import Image
from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent
from radiomics.scripts import PyRadiomicsCommandLine

import napari_radiomics
from napari_radiomics._napari._case_link import CaseIndex, CaseKey, normalise
from napari_radiomics._napari._dataset_table import (
    DatasetTableWidget,
    get_dataset_table,
    show_features,
)
from napari_radiomics._napari._features_reader import get_features_reader
from napari_radiomics._napari._launch import populate
from napari_radiomics.batch import discover_cases, run_batch
from napari_radiomics.cli import main
from napari_radiomics.errors import ReadError
from napari_radiomics.results import feature_columns, read_table
from napari_radiomics.settings import ExtractionSettings
from sample_files import write_mat_folder

PLUGIN = "napari-radiomics"
#: Two image types and three classes: enough to filter by each, quick to extract.
PARAMS = {
    "setting": {"binWidth": 32, "force2D": True},
    "imageType": {"Original": {}, "Square": {}},
    "featureClass": {"firstorder": [], "glcm": [], "shape2D": []},
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A flat folder of 5 synthetic slices and its batch output (a real ``run_batch``)."""
    root = tmp_path_factory.mktemp("dataset")
    folder = root / "mats"
    write_mat_folder(folder, 10)  # 1-5 here, 6-10 in mats/more (not in the folder's stack)
    output = root / "features.csv"
    settings = ExtractionSettings.from_params(PARAMS)
    run_batch(discover_cases([str(folder)]), settings, output, jobs=1)
    return folder, output


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def _wait_shown(widget: DatasetTableWidget, qtbot, start) -> None:
    with qtbot.waitSignal(widget.table_changed, timeout=60_000):
        start()


def _row_of(widget: DatasetTableWidget, case: str) -> int:
    (row,) = np.flatnonzero(widget.frame["case"].to_numpy() == case)
    return int(row)


def _click_row(widget: DatasetTableWidget, frame_row: int) -> None:
    """Select a row as a click does (current index and selection, by the view)."""
    (view_row,) = widget.model.view_rows([frame_row])
    widget.table.selectRow(int(view_row))


def _stack(viewer, folder: Path) -> Image:
    layers = viewer.open(str(folder), plugin=PLUGIN)
    return next(layer for layer in layers if isinstance(layer, Image))


# ------------------------------------------------------------------------- rows and columns
def test_rows_are_cases_identifying_columns_then_features(viewer, dataset) -> None:
    _, output = dataset
    frame = read_table(output)
    widget = show_features(viewer, output)
    assert napari_radiomics.show_features is show_features
    assert widget.frame["case"].tolist() == [str(i) for i in range(1, 11)]
    shown = widget.model.shown_columns()
    features = feature_columns(frame)
    assert shown[:7] == [
        "case", "patient_id", "label", "tumor_type", "mask_source", "mask_digest", "roi_label"
    ]  # fmt: skip
    assert shown[7:] == features
    assert widget.model.rowCount() == 10
    cell = widget.model.index(0, shown.index(features[0]))
    assert float(widget.model.data(cell, Qt.ItemDataRole.UserRole)) == frame[features[0]].iloc[0]
    # one dock, reused
    assert show_features(viewer, frame) is widget
    docked = [w for w in viewer.window.dock_widgets.values() if isinstance(w, DatasetTableWidget)]
    assert docked == [widget]


def test_sort_by_a_feature_and_by_case_keeps_the_selection(viewer, dataset) -> None:
    _, output = dataset
    widget = show_features(viewer, output)
    frame = widget.frame
    feature = "original_firstorder_Mean"
    column = widget.model.shown_columns().index(feature)
    widget.select_rows([_row_of(widget, "3")], move_viewer=False)
    widget.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    shown = widget.model.frame_rows(range(widget.model.rowCount()))
    assert frame[feature].to_numpy()[shown].tolist() == sorted(frame[feature], reverse=True)
    assert widget.selected_rows() == [_row_of(widget, "3")]
    assert widget.table.selectionModel().selectedRows()[0].row() == int(
        widget.model.view_rows([_row_of(widget, "3")])[0]
    )
    # Case ids are text: "10" sorts after "9", as numbers, not as "1", "10", "2".
    widget.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    shown = widget.model.frame_rows(range(widget.model.rowCount()))
    assert frame["case"].to_numpy()[shown].tolist() == [str(i) for i in range(1, 11)]


def test_sort_puts_missing_values_last_both_ways(viewer, dataset) -> None:
    _, output = dataset
    frame = read_table(output)
    frame.loc[2, "original_firstorder_Mean"] = np.nan
    frame.loc[4, "tumor_type"] = None
    widget = show_features(viewer, frame)
    for name, order in [
        ("original_firstorder_Mean", Qt.SortOrder.AscendingOrder),
        ("original_firstorder_Mean", Qt.SortOrder.DescendingOrder),
        ("tumor_type", Qt.SortOrder.DescendingOrder),
    ]:
        widget.table.sortByColumn(widget.model.shown_columns().index(name), order)
        last = widget.model.frame_rows([widget.model.rowCount() - 1])[0]
        assert last == (2 if name.startswith("original") else 4), (name, order)


def test_filter_features_by_name_class_image_type_and_allowed_set(viewer, dataset) -> None:
    _, output = dataset
    widget = show_features(viewer, output)
    features = feature_columns(widget.frame)
    ids = widget.model.identifying

    def shown_features() -> list[str]:
        return widget.model.shown_columns()[len(ids) :]

    assert [widget.image_type_combo.itemText(i) for i in range(3)] == [
        "(any)",
        "original",
        "square",
    ]
    widget.filter_edit.setText("CONTRAST")  # any case
    assert shown_features() == [f for f in features if "contrast" in f.lower()]
    assert shown_features()  # glcm Contrast, on both image types
    widget.filter_edit.setText("")
    widget.class_combo.setCurrentText("glcm")
    widget.image_type_combo.setCurrentText("square")
    assert shown_features() == [f for f in features if f.startswith("square_glcm_")]
    assert widget.counts.text() == f"{len(shown_features())} of {len(features)} features"

    widget.class_combo.setCurrentText("(any)")
    widget.image_type_combo.setCurrentText("(any)")
    robust = {"original_firstorder_Mean", "square_glcm_Contrast", "original_shape2D_Perimeter"}
    widget.restrict_features(robust)
    assert set(shown_features()) == robust
    assert widget.model.shown_columns()[: len(ids)] == ids  # identifying columns stay
    widget.filter_edit.setText("firstorder")  # the other filters apply on top
    assert shown_features() == ["original_firstorder_Mean"]
    widget.restrict_features(None)
    assert shown_features() == [f for f in features if "firstorder" in f]


def test_search_keeps_the_matching_cases(viewer, dataset) -> None:
    _, output = dataset
    widget = show_features(viewer, output)
    widget.search_edit.setText("p003")  # patient ids are P000, P001, ...
    shown = widget.model.frame_rows(range(widget.model.rowCount()))
    assert widget.frame["patient_id"].to_numpy()[shown].tolist() == ["P003"]
    widget.search_edit.setText("glioma")
    shown = widget.model.frame_rows(range(widget.model.rowCount()))
    expected = widget.frame.index[widget.frame["tumor_type"] == "glioma"].tolist()
    assert shown.tolist() == expected
    assert expected  # the synthetic labels cycle through the three types
    widget.search_edit.setText("")
    assert widget.model.rowCount() == len(widget.frame)


# --------------------------------------------------------------------------- the link
def test_choosing_a_row_moves_the_stack_slider(viewer, dataset, qtbot) -> None:
    folder, output = dataset
    stack = _stack(viewer, folder)
    slices = stack.metadata["slices"]
    widget = show_features(viewer, output)
    emitted: list[list[int]] = []
    widget.rows_selected.connect(emitted.append)

    _click_row(widget, _row_of(widget, "4"))
    assert slices["case"].iloc[viewer.dims.current_step[0]] == "4"
    assert emitted == [[_row_of(widget, "4")]]
    assert "slice 3" in widget.status.text()

    widget.select_rows([_row_of(widget, "2")])  # from a plot: moves, does not emit
    assert slices["case"].iloc[viewer.dims.current_step[0]] == "2"
    widget.select_rows([_row_of(widget, "5")], move_viewer=False)
    assert slices["case"].iloc[viewer.dims.current_step[0]] == "2"
    assert widget.selected_rows() == [_row_of(widget, "5")]
    assert len(emitted) == 1
    # A case of the table that is not in the open stack, and no file named: said, not raised.
    widget.select_rows([_row_of(widget, "8")])
    assert "case 8 is not open, and the table names no file" in widget.status.text()


def test_ctrl_a_selects_every_row_and_the_headers_stay_plain(viewer, dataset, qtbot) -> None:
    """Ctrl+A selects every case, in any order of the rows; the headers keep a
    selection of their own, empty, so painting them does not walk every cell of the table."""
    _, output = dataset
    widget = show_features(viewer, output)
    emitted: list[list[int]] = []
    widget.rows_selected.connect(emitted.append)
    widget.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    widget.table.setFocus()
    qtbot.keyClick(widget.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert widget.selected_rows() == list(range(10))
    assert emitted[-1] == list(range(10))
    assert len(widget.table.selectionModel().selectedRows()) == 10
    for header in (widget.table.horizontalHeader(), widget.table.verticalHeader()):
        assert header.selectionModel() is not widget.table.selectionModel()
        assert not header.selectionModel().hasSelection()


def test_moving_the_slider_highlights_the_row(viewer, dataset, qtbot) -> None:
    folder, output = dataset
    stack = _stack(viewer, folder)
    widget = show_features(viewer, output)
    emitted: list[list[int]] = []
    widget.rows_selected.connect(emitted.append)
    for step in (3, 1):
        viewer.dims.set_current_step(0, step)
        case = stack.metadata["slices"]["case"].iloc[step]
        qtbot.waitUntil(lambda case=case: widget.selected_rows() == [_row_of(widget, case)])
        assert emitted[-1] == [_row_of(widget, case)]
        (selected,) = widget.table.selectionModel().selectedRows()
        assert widget.model.frame_rows([selected.row()])[0] == _row_of(widget, case)


def test_selecting_a_single_case_layer_highlights_its_row(viewer, dataset, qtbot) -> None:
    folder, output = dataset
    widget = show_features(viewer, output)
    viewer.open(str(folder / "more" / "7.mat"), plugin=PLUGIN)
    viewer.open(str(folder / "more" / "9.mat"), plugin=PLUGIN)
    qtbot.waitUntil(lambda: widget.selected_rows() == [_row_of(widget, "9")])
    seven = next(layer for layer in viewer.layers if layer.metadata.get("case") == "7")
    viewer.layers.selection.active = seven
    qtbot.waitUntil(lambda: widget.selected_rows() == [_row_of(widget, "7")])


def test_batch_lands_in_the_table_and_rows_open_their_files(
    viewer, dataset, tmp_path: Path, qtbot
) -> None:
    """The Batch extraction dock sends its table here (with each case's file), not to the
    runs-side-by-side results dock; a row whose case is not open opens its file."""
    from napari_radiomics._napari._batch_widget import BatchWidget
    from napari_radiomics._napari._results import ResultsWidget
    from napari_radiomics._napari._settings_choice import PARAMS_FILE

    folder, _ = dataset
    batch = BatchWidget(viewer)
    viewer.window.add_dock_widget(batch)
    params = tmp_path / "params.yaml"
    params.write_text("setting:\n  force2D: true\nfeatureClass:\n  firstorder: []\n")
    batch.settings.combo.setCurrentText(PARAMS_FILE)
    batch.settings.params.setText(str(params))
    batch.folder.setText(str(folder))
    batch.output.setText(str(tmp_path / "batch.parquet"))
    batch.jobs.setValue(1)
    worker = batch.run()
    assert worker is not None, batch.status.text()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    widget = get_dataset_table(viewer)
    assert sorted(widget.frame["case"], key=int) == [str(i) for i in range(1, 11)]
    assert widget.source == str(tmp_path / "batch.parquet")
    assert not any(isinstance(w, ResultsWidget) for w in viewer.window.dock_widgets.values())
    row = _row_of(widget, "8")
    assert Path(widget.frame["path"].iloc[row]) == (folder / "more" / "8.mat").absolute()

    _click_row(widget, row)
    opened = [layer for layer in viewer.layers if layer.metadata.get("case") == "8"]
    assert {type(layer).__name__ for layer in opened} >= {"Image", "Labels"}
    assert "case 8: layer" in widget.status.text()


# ------------------------------------------------------------------------- opening files
def test_open_csv_and_parquet_from_the_dock(viewer, dataset, tmp_path: Path, qtbot) -> None:
    _, output = dataset
    widget = get_dataset_table(viewer)
    _wait_shown(widget, qtbot, lambda: widget.open_table(output))
    expected = read_table(output)
    pd.testing.assert_frame_equal(widget.frame, expected)
    assert pd.api.types.is_string_dtype(widget.frame["case"])  # identifying columns as text
    parquet = tmp_path / "features.parquet"
    expected.to_parquet(parquet, index=False)
    _wait_shown(widget, qtbot, lambda: widget.open_table(parquet))
    pd.testing.assert_frame_equal(widget.frame, expected)
    assert widget.source == str(parquet)
    assert "10 rows" in widget.status.text()
    # Cancel: the file being read is dropped when it arrives; the table shown stays.
    widget.open_table(output)
    assert not widget.cancel_button.isHidden()
    widget.cancel_loading()
    qtbot.wait(1500)
    assert widget.source == str(parquet)
    assert widget.status.text() == "Cancelled."
    assert widget.cancel_button.isHidden()


def test_pyradiomics_batch_csv_and_its_rows_open_image_and_mask(
    viewer, pyradiomics_data: Path, tmp_path: Path, qtbot
) -> None:
    """pyradiomics' own batch output (its command line, in this process): Image and Mask
    are the identifying columns, diagnostics are not shown, a row opens both files."""
    cases = tmp_path / "cases.csv"
    image, mask = pyradiomics_data / "breast1_image.nrrd", pyradiomics_data / "breast1_label.nrrd"
    cases.write_text(f"Image,Mask\n{image},{mask}\n")
    params = tmp_path / "params.yaml"
    params.write_text("imageType:\n  Original: {}\nfeatureClass:\n  firstorder: []\n")
    output = tmp_path / "pyradiomics.csv"
    arguments = [str(cases), "-o", str(output), "-f", "csv", "-p", str(params)]
    assert PyRadiomicsCommandLine(arguments).run() == 0
    assert "diagnostics_Versions_PyRadiomics" in output.read_text().splitlines()[0]

    widget = get_dataset_table(viewer)
    _wait_shown(widget, qtbot, lambda: widget.open_table(output))
    assert widget.model.identifying == ["Image", "Mask"]
    assert all(not c.startswith("diagnostics_") for c in widget.model.shown_columns())
    assert len(widget.model.features) == 18  # pyradiomics' firstorder class
    _click_row(widget, 0)
    paths = {layer.metadata.get("path") for layer in viewer.layers}
    assert {str(image), str(mask)} <= paths
    assert viewer.layers.selection.active.metadata["path"] == str(image)


def test_dropping_a_table_on_the_viewer_shows_it(viewer, dataset, tmp_path: Path, qtbot) -> None:
    """A real drop event on napari's canvas: the Parquet file has one reader, ours, which
    shows it in the dataset table of that viewer and adds no layer."""
    _, output = dataset
    parquet = tmp_path / "dropped.parquet"
    read_table(output).to_parquet(parquet, index=False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(parquet))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    viewer.window._qt_viewer.dropEvent(drop)
    widget = get_dataset_table(viewer)
    qtbot.waitUntil(lambda: widget.source == str(parquet), timeout=60_000)
    assert len(widget.frame) == 10
    assert len(viewer.layers) == 0
    # A CSV also opens through napari (after napari asks which reader, since its own reads
    # CSV too); napari's points CSV and a table without features are left to others.
    _wait_shown(widget, qtbot, lambda: viewer.open(str(output), plugin=PLUGIN))
    assert widget.source == str(output)
    points = tmp_path / "points.csv"
    points.write_text("index,axis-0,axis-1\n0,1.0,2.0\n")
    assert get_features_reader(str(points)) is None
    assert get_features_reader(str(tmp_path / "missing.csv")) is None
    assert get_features_reader([str(output), str(parquet)]) is None
    assert callable(get_features_reader([str(output)]))


def test_view_features_opens_the_table_linked_to_the_files(viewer, dataset) -> None:
    folder, output = dataset
    populate(viewer, features=str(output))
    widget = get_dataset_table(viewer)
    assert len(widget.frame) == 10
    assert len(viewer.layers) == 0  # no sample, no extraction: the table is the point
    populate(viewer, [str(folder)], features=str(output), extract=False)
    assert get_dataset_table(viewer) is widget
    widget.select_rows([_row_of(widget, "3")])
    stack = next(layer for layer in viewer.layers if "slices" in layer.metadata)
    assert stack.metadata["slices"]["case"].iloc[viewer.dims.current_step[0]] == "3"


# --------------------------------------------------------------------------- bad input
def test_bad_files_are_reported_naming_the_file(viewer, tmp_path: Path, qtbot) -> None:
    no_features = tmp_path / "ids.csv"
    no_features.write_text("case,patient_id\n1,P1\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    missing = tmp_path / "missing.csv"
    widget = get_dataset_table(viewer)
    for path, problem in [
        (no_features, "has no feature columns"),
        (broken, "cannot be read as PARQUET"),
        (missing, "no such file"),
    ]:
        widget.open_table(path)
        said = f"Cannot open: {path}: {problem}"
        qtbot.waitUntil(lambda said=said: widget.status.text().startswith(said), timeout=60_000)
        assert widget.frame.empty
        with pytest.raises(ReadError, match=str(path)):
            show_features(viewer, path)
    with pytest.raises(ReadError, match="table: has no feature columns"):
        widget.set_table(pd.DataFrame({"case": ["1"]}))


def test_a_latin1_table_opened_in_the_viewer_is_named_with_the_problem(
    viewer, tmp_path: Path, qtbot
) -> None:
    """A features CSV saved as Latin-1 by a spreadsheet (a non-ASCII patient id, or a column
    name): our reader claims it by its header and says which file and why, instead of
    napari's "refused the file"."""
    body = tmp_path / "body.csv"
    body.write_bytes("case,patient_id,original_firstorder_Mean\n1,Müller,1.5\n".encode("latin-1"))
    header = tmp_path / "header.csv"
    header.write_bytes("case,Größe,original_firstorder_Mean\n1,x,1.5\n".encode("latin-1"))
    widget = get_dataset_table(viewer)
    for path in (body, header):
        viewer.open(str(path), plugin=PLUGIN)
        said = f"Cannot open: {path}: cannot be read as CSV: it is not UTF-8 text (byte 0x"
        qtbot.waitUntil(lambda said=said: widget.status.text().startswith(said), timeout=60_000)
        assert "save it as UTF-8" in widget.status.text()
        assert widget.frame.empty
    assert len(viewer.layers) == 0


@pytest.mark.parametrize("sidecar", ["runs: [unclosed\n", "just a sentence\n"])
def test_a_damaged_runs_sidecar_is_named_and_the_table_still_shown(
    viewer, dataset, tmp_path: Path, qtbot, sidecar: str
) -> None:
    """An exported table whose ``.runs.yaml`` is not YAML, or not the plugin's: the table
    opens (nothing in it depends on the sidecar) and the status names the sidecar."""
    _, output = dataset
    table = tmp_path / "exported.csv"
    table.write_bytes(output.read_bytes())
    runs = tmp_path / "exported.runs.yaml"
    runs.write_text(sidecar)
    widget = get_dataset_table(viewer)
    _wait_shown(widget, qtbot, lambda: viewer.open(str(table), plugin=PLUGIN))
    assert len(widget.frame) == 10
    assert f"{runs}: cannot be read" in widget.status.text()
    assert show_features(viewer, table) is widget  # the command line's path, read at once
    assert f"{runs}: cannot be read" in widget.status.text()


def test_view_features_refuses_a_table_without_features_before_napari(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_features = tmp_path / "ids.csv"
    no_features.write_text("case,patient_id\n1,P1\n")
    assert main(["view", "--features", str(no_features)]) == 2
    assert f"{no_features}: has no feature columns" in capsys.readouterr().err


_DOCK_ALONE = """
import sys
import napari
from napari_radiomics._napari._dataset_table import get_dataset_table

get_dataset_table(napari.Viewer(show=False))
print("napari_radiomics._napari._plots_widget" in sys.modules)
"""


def test_docking_the_table_alone_does_not_load_the_plots() -> None:
    """Linking with a plots dock must not import matplotlib's Qt canvas (about 1 s on the GUI
    thread) when no plots dock is open; a fresh interpreter shows what docking loads."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _DOCK_ALONE], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_tables_relative_and_home_paths_find_the_stacks_absolute_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pyradiomics batch CSV names files relative to itself (or from ``~``); a stack's
    slices name them absolute: both sides normalised alike find the same rows."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "data" / "mats"
    stack = pd.DataFrame(
        {
            "case": ["1", "2", "3"],
            "path": [str(folder / "1.mat"), str(folder / "2.mat"), str(tmp_path / "home/3.mat")],
        }
    )
    table = pd.DataFrame(
        {"case": ["1", "2", "3", "4"], "Image": ["mats/1.mat", "./x/../mats/2.mat", "~/3.mat", ""]}
    )
    slices = CaseIndex(stack)
    rows = CaseIndex(table, base=tmp_path / "data")
    assert [slices.rows(rows.key(row)) for row in range(3)] == [[0], [1], [2]]
    assert rows.key(3) == CaseKey("4", None, None)
    assert rows.paths[:3] == slices.paths
    assert normalise(float("nan")) is None
    assert normalise(str(folder / "a" / ".." / "1.mat")) == str(folder / "1.mat")
