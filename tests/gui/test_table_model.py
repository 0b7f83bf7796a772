"""The one table model every table of the plugin uses: what it sorts, filters and maps.

No viewer: a real ``QApplication`` (pytest-qt's ``qtbot``) and a real ``QTableView`` whose
header clicks reach the model the way a user's do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QTableView

from napari_radiomics._napari._table_model import (
    RAW_ROLE,
    DataFrameModel,
    contains,
    feature_rows,
    sort_order,
    table_view,
)
from napari_radiomics.side_by_side import METADATA_CLASS

UP, DOWN = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def _column(model: DataFrameModel, title: str) -> list[object]:
    """A column as the view shows it, top to bottom (raw values)."""
    column = model.shown_columns().index(title)
    return [model.index(row, column).data(RAW_ROLE) for row in range(model.rowCount())]


def _view(qtbot, frame: pd.DataFrame, **options) -> tuple[DataFrameModel, QTableView]:
    model = DataFrameModel()
    model.set_frame(frame, **options)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.sortByColumn(-1, UP)
    return model, view


def test_sort_order_numbers_then_text_then_missing_in_both_orders() -> None:
    values = np.array(["10", "b", None, "2", "", "A", 3.5, float("nan"), "2"], dtype=object)
    up = values[sort_order(values, ascending=True)].tolist()
    assert up[:6] == ["2", "2", 3.5, "10", "A", "b"]  # "2" before "10": numbers as numbers
    assert up[6:8] == [None, ""]  # missing last, in frame order
    assert np.isnan(up[8])
    down = values[sort_order(values, ascending=False)].tolist()
    assert down[:6] == ["10", 3.5, "2", "2", "b", "A"]
    assert down[6:8] == [None, ""]  # missing last going down too
    assert np.isnan(down[8])
    floats = np.array([2.0, np.nan, -1.0, 2.0])
    assert sort_order(floats, ascending=False).tolist() == [0, 3, 2, 1]  # stable ties


def test_search_ignores_missing_values_and_any_case(qtbot) -> None:
    frame = pd.DataFrame({"case": ["1", "2", "3"], "note": [None, "Necrotic core", np.nan]})
    model, _ = _view(qtbot, frame)
    texts = model.row_texts(["case", "note"])
    assert contains(texts, "none").tolist() == [False, False, False]  # not str(None)
    assert contains(texts, "nan").tolist() == [False, False, False]
    assert contains(texts, " NECROTIC ").tolist() == [False, True, False]
    assert contains(texts, "").tolist() == [True, True, True]
    assert model.row_texts(["case", "no such column"]).tolist() == ["1", "2", "3"]


def test_filter_and_sort_compose_and_map_rows_both_ways(qtbot) -> None:
    frame = pd.DataFrame(
        {"case": [str(i) for i in range(1, 13)], "value": np.arange(12.0)[::-1]},
        index=[f"row{i}" for i in range(12)],
    )
    model, view = _view(qtbot, frame)
    view.sortByColumn(0, DOWN)  # a header click: case ids as numbers, 12 first
    assert _column(model, "case")[:3] == ["12", "11", "10"]
    even = frame["value"].to_numpy() % 2 == 0
    model.set_row_filter(even)
    assert model.rowCount() == 6
    assert _column(model, "case") == ["12", "10", "8", "6", "4", "2"]  # sort kept
    assert model.headerData(0, Qt.Orientation.Vertical) == "row11"
    assert model.frame_rows([0, 5]).tolist() == [11, 1]
    assert model.view_rows([1, 2, 11]).tolist() == [5, 0]  # frame row 2 is filtered out
    view.sortByColumn(1, UP)
    assert _column(model, "value") == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # filter kept
    assert model.sort_section() == (1, UP)
    model.set_row_filter(None)
    view.sortByColumn(-1, UP)
    assert _column(model, "case") == frame["case"].tolist()  # the frame's own order again


def test_pinned_rows_stay_last_and_a_new_frame_keeps_the_sort_by_title(qtbot) -> None:
    frame = pd.DataFrame(
        {
            "feature_class": [METADATA_CLASS, METADATA_CLASS, "glcm", "glcm", "firstorder"],
            "image_type": ["", "", "original", "wavelet-LLH", "original"],
            "run 1": ["case 7", "P007", 3.0, np.nan, -1.0],
        },
        index=["case", "patient_id", "original_glcm_Contrast", "wavelet-LLH_glcm_Idm", "x"],
    )
    pinned = frame["feature_class"].to_numpy() == METADATA_CLASS
    model, view = _view(qtbot, frame, pinned=pinned)
    for order, values in ((UP, [-1.0, 3.0]), (DOWN, [3.0, -1.0])):
        view.sortByColumn(2, order)
        shown = _column(model, "run 1")
        assert shown[:2] == values
        assert np.isnan(shown[2])  # missing last among the features
        assert shown[3:] == ["case 7", "P007"]  # identifying rows after them in both orders
    wider = frame.assign(**{"run 2": [1, 2, 3, 4, 5]})[["run 2", *frame.columns]]
    model.set_frame(wider, pinned=pinned, keep_sort=True)
    assert model.sort_section() == (3, DOWN)  # same title, new position
    assert _column(model, "run 1")[:2] == [3.0, -1.0]
    model.set_frame(wider.drop(columns="run 1"), keep_sort=True)
    assert model.sort_section() == (-1, UP)  # its column is gone: the frame's order
    model.show_columns([2, 0])
    assert model.shown_columns() == ["image_type", "run 2"]


@pytest.mark.parametrize(
    ("text", "feature_class", "image_type", "expected"),
    [
        ("", "", "", [True, True, True, True]),
        ("GLCM", "", "", [False, True, True, False]),
        ("", "glcm", "", [False, True, True, False]),
        ("", "", "original", [False, True, False, True]),
        ("i", "glcm", "wavelet-LLH", [False, False, True, False]),
        ("case", "", "", [True, False, False, False]),  # identifying rows filter by name too
    ],
)
def test_feature_rows_by_name_class_and_image_type(
    qtbot, text: str, feature_class: str, image_type: str, expected: list[bool]
) -> None:
    frame = pd.DataFrame(
        {
            "feature_class": [METADATA_CLASS, "glcm", "glcm", "firstorder"],
            "image_type": ["", "original", "wavelet-LLH", "original"],
        },
        index=["case", "original_glcm_Contrast", "wavelet-LLH_glcm_Idm", "original_firstorder_X"],
    )
    model, _ = _view(qtbot, frame)
    assert feature_rows(model, text, feature_class, image_type).tolist() == expected


def test_cells_are_formatted_aligned_and_raw(qtbot) -> None:
    frame = pd.DataFrame({"case": ["1"], "label": [2], "value": [0.1234567891], "n": [3.0]})
    model, _ = _view(qtbot, frame)
    texts = [model.index(0, c).data() for c in range(4)]
    assert texts == ["1", "2", "0.123457", "3"]
    assert model.index(0, 2).data(RAW_ROLE) == 0.1234567891
    assert isinstance(model.index(0, 1).data(RAW_ROLE), int)  # not a NumPy scalar
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.index(0, 0).data(Qt.ItemDataRole.TextAlignmentRole) is None
    assert model.index(0, 2).data(Qt.ItemDataRole.TextAlignmentRole) == right
    model.notes = {"value": "ICC 0.950"}
    tooltip = model.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "value\nICC 0.950"


def test_a_click_sorts_the_column_clicked_when_titles_repeat(qtbot) -> None:
    frame = pd.DataFrame([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0]], columns=["x", "x"])
    model, view = _view(qtbot, frame)
    view.sortByColumn(1, UP)
    assert model.frame_rows(range(3)).tolist() == [1, 2, 0]
    assert model.sort_section() == (1, UP)


class Recording:
    """A lazy table (the model's ``LazyTable``) of 4 rows x 200 columns that records which
    columns were built: column ``c`` holds ``c``, ``c + 0.5``, nothing and text."""

    def __init__(self) -> None:
        self.titles = [f"c{c}" for c in range(200)]
        self.index = ["a", "b", "c", "d"]
        self.built: list[int] = []

    def column(self, position: int) -> np.ndarray:
        self.built.append(position)
        return np.array([float(position), position + 0.5, np.nan, f"t{position}"], dtype=object)

    def table(self) -> pd.DataFrame:
        columns = {t: self.column(c) for c, t in enumerate(self.titles)}
        return pd.DataFrame(columns, index=self.index)


def test_a_lazy_table_builds_only_the_columns_asked_for(qtbot) -> None:
    """A 3064-case batch is 3064 columns: the model builds a column when a view shows it, a
    sort needs it or a caller asks, and only once; the whole frame only when asked for."""
    table = Recording()
    model = DataFrameModel()
    model.set_lazy(table, pinned=np.array([False, False, False, True]))
    assert table.built == []
    view = table_view(model)
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: bool(table.built))  # painted
    shown = sorted(set(table.built))
    assert len(shown) < 10  # the columns on screen
    view.setSortingEnabled(True)
    view.sortByColumn(150, DOWN)
    high, low, missing, pinned = _column(model, "c150")
    assert (high, low, pinned) == (150.5, 150.0, "t150")  # pinned: last whatever the sort
    assert np.isnan(missing)
    assert sorted(set(table.built)) == sorted({*shown, 150})
    assert table.built.count(150) == 1
    assert model.titles == table.titles
    pd.testing.assert_frame_equal(model.frame, Recording().table())
