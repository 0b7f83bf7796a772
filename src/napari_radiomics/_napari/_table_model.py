"""The one Qt table model of the plugin: a DataFrame read from NumPy arrays, sorted and
filtered on them.

Every table of the plugin (the runs side by side, the dataset's cases, the Review list, the
ranked features, ...) can reach thousands of rows. A ``QSortFilterProxyModel`` calls back into
Python for every comparison of a sort and every row of a filter (``frame.iloc[row]`` per row
cost the Review filter 113 ms a keystroke on 3064 cases); here each column is one NumPy array
and the view is two index arrays (the rows shown, in their order, and the columns shown).
Sorting is one ``lexsort``, filtering a boolean mask the widget builds with vectorised
comparisons (:func:`contains`); Qt only ever asks for the cells on screen, formatted when asked.
Sorting, filtering and a new frame reset the model: views drop their selection, which the
widgets restore from the frame positions they keep (:meth:`DataFrameModel.view_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt
from qtpy.QtWidgets import QTableView

#: Role returning a cell's raw Python value (float, str, ...) for sorting and copying.
RAW_ROLE = Qt.ItemDataRole.UserRole
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def format_value(value: Any) -> str:
    """Cell text: floats with 6 significant digits, integers as integers, NaN/None empty."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A cell's text for a search: missing values (None, NaN, NA) are empty, not "nan"."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def contains(texts: np.ndarray, needle: str) -> np.ndarray:
    """Which of ``texts`` (lower-case strings) contain ``needle`` (any case): a boolean mask.

    A substring test per row in one C-level loop: about 0.3 ms for 3064 rows.
    """
    needle = needle.strip().lower()
    if not needle:
        return np.ones(len(texts), dtype=bool)
    return np.fromiter((needle in text for text in texts), bool, len(texts))


def sort_order(values: np.ndarray, ascending: bool = True) -> np.ndarray:
    """Positions that order ``values``: numbers by value first (text that reads as a number
    counts as one, so case ``2`` comes before ``10``), then text alphabetically (any case),
    then missing values (NaN, None, ``""``), last in both orders. Stable: ties keep their
    order."""
    sign = 1 if ascending else -1
    if values.dtype.kind in "fiub":
        numbers = values.astype(float)
        group = np.where(np.isnan(numbers), 2, 0)
        return np.lexsort((sign * np.nan_to_num(numbers), group))
    series = pd.Series(values, dtype=object)
    text = series.where(series.notna(), "").astype(str)
    missing = (text == "").to_numpy()
    numbers = pd.to_numeric(series.where(~missing), errors="coerce").to_numpy(dtype=float)
    is_number = ~np.isnan(numbers)
    group = np.where(missing, 2, np.where(is_number, 0, 1))
    text_rank = np.unique(text.str.lower().to_numpy(dtype=object), return_inverse=True)[1]
    by_number = sign * np.where(is_number, numbers, 0.0)
    return np.lexsort((sign * text_rank.ravel(), by_number, group))


class LazyTable(Protocol):
    """A table built column by column when a column is first needed (on screen, sorted by,
    searched), e.g. the runs side by side (``side_by_side.WideColumns``)."""

    titles: list[str]
    index: list[str]

    def column(self, position: int) -> np.ndarray:
        """The values of one column, in row order."""

    def table(self) -> pd.DataFrame:
        """The whole table as a DataFrame (for whoever asks for :attr:`DataFrameModel.frame`)."""


class DataFrameModel(QAbstractTableModel):
    """Read-only model of a DataFrame; its index becomes the vertical header.

    The widget decides which rows are shown (:meth:`set_row_filter`, a mask over the frame's
    rows) and which columns (:meth:`show_columns`); a click on a header sorts (:meth:`sort`).
    """

    def __init__(self, frame: pd.DataFrame | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        #: A line per column title shown in its header's tooltip (e.g. a feature's ICC).
        self.notes: dict[str, str] = {}
        self._titles: list[str] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None  # (frame column, order)
        self.set_frame(pd.DataFrame() if frame is None else frame)

    # ---------------------------------------------------------------------- the table
    def set_frame(
        self,
        frame: pd.DataFrame,
        *,
        numeric: Sequence[str] | None = None,
        pinned: np.ndarray | None = None,
        keep_sort: bool = False,
    ) -> None:
        """Show another DataFrame: every row and column, in the frame's order.

        ``numeric`` names the columns held as floats (text in them becomes NaN; default: the
        float columns); the others are shown as they are. ``pinned`` marks rows that stay at
        the end, in their own order, whatever the sort (a results table's identifying rows: the
        table opens on the features one extracted for, the rows naming the case a section below).
        ``keep_sort`` sorts the new frame by the column of the same title, if it has one, as
        the old one was.
        """
        n = len(frame)
        titles = [str(c) for c in frame.columns]
        if numeric is None:
            at = [i for i, t in enumerate(frame.dtypes) if pd.api.types.is_float_dtype(t)]
        else:
            wanted = set(numeric)
            at = [i for i, c in enumerate(frame.columns) if c in wanted]
        arrays: list[np.ndarray | None] = [None] * len(titles)
        if at:
            block = frame.iloc[:, at]
            if any(not pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
                block = block.apply(pd.to_numeric, errors="coerce")
            # one float block, read by column views: no per-column copy of 1500 features
            values = block.to_numpy(dtype=float, na_value=np.nan).reshape(n, len(at))
            for k, i in enumerate(at):
                arrays[i] = values[:, k]
        others = sorted(set(range(len(titles))) - set(at))
        dtypes = list(frame.dtypes)
        objects = [i for i in others if dtypes[i] == np.dtype(object)]
        if objects:
            # one object block too, values as they are; read by column views
            contiguous = objects == list(range(objects[0], objects[-1] + 1))
            # a slice of columns is a view, a list of them a copy
            block = frame.iloc[:, slice(objects[0], objects[-1] + 1) if contiguous else objects]
            values = block.to_numpy(dtype=object).reshape(n, len(objects))
            for k, i in enumerate(objects):
                arrays[i] = values[:, k]
        for i in sorted(set(others) - set(objects)):
            arrays[i] = frame.iloc[:, i].to_numpy(dtype=object)
        self._lazy: LazyTable | None = None
        self._show(frame, titles, arrays, [str(i) for i in frame.index], pinned, keep_sort)

    def set_lazy(
        self, table: LazyTable, *, pinned: np.ndarray | None = None, keep_sort: bool = False
    ) -> None:
        """Show a table whose columns are built when first needed, as :meth:`set_frame`
        shows a DataFrame (``pinned``, ``keep_sort`` alike); :attr:`frame` builds the whole
        DataFrame only if asked for. The results dock's 3064-case batch is 3064 columns of
        1500 values, of which a view shows a dozen."""
        arrays: list[np.ndarray | None] = [None] * len(table.titles)
        self._lazy = table
        self._show(None, list(table.titles), arrays, list(table.index), pinned, keep_sort)

    def _show(
        self,
        frame: pd.DataFrame | None,
        titles: list[str],
        arrays: list[np.ndarray | None],
        index: list[str],
        pinned: np.ndarray | None,
        keep_sort: bool,
    ) -> None:
        self.beginResetModel()
        sorted_by = self._titles[self._sort[0]] if keep_sort and self._sort else None
        self._frame = frame
        self._n = n = len(index)
        self._titles = titles
        self._arrays = arrays
        self._index = np.array(index, dtype=object)
        self._lower_index: np.ndarray | None = None
        self._texts: dict[tuple[int, ...], np.ndarray] = {}
        self._pinned = None if pinned is None else np.asarray(pinned, dtype=bool)
        self._shown = np.ones(n, dtype=bool)
        self._columns = np.arange(len(self._titles))
        if sorted_by in self._titles:
            self._sort = (self._titles.index(sorted_by), self._sort[1])
        else:
            self._sort = None
        self._order = self._arranged(self._sorted_rows())
        self._rows = self._order
        self.endResetModel()

    def _values(self, position: int) -> np.ndarray:
        """One column's values, frame order (a lazy table's built now if not yet)."""
        values = self._arrays[position]
        if values is None:
            assert self._lazy is not None  # set_frame fills every column
            values = self._arrays[position] = self._lazy.column(position)
        return values

    @property
    def frame(self) -> pd.DataFrame:
        """The DataFrame shown, rows in their own order (do not mutate it; set another)."""
        if self._frame is None:
            assert self._lazy is not None  # set_lazy's table, asked for whole
            self._frame = self._lazy.table()
        return self._frame

    def column_values(self, name: str) -> np.ndarray | None:
        """The values of one column, frame order (``None`` if the table has no such column)."""
        if name not in self._titles:
            return None
        return self._values(self._titles.index(name))

    def row_names(self) -> np.ndarray:
        """The frame's index as lower-case text, frame order (for filters on row names)."""
        if self._lower_index is None:
            self._lower_index = np.array([name.lower() for name in self._index], dtype=object)
        return self._lower_index

    def row_texts(self, columns: Sequence[str]) -> np.ndarray:
        """Each row's values in ``columns`` as one lower-case string (missing ones empty),
        frame order, for a search with :func:`contains`; built once per frame."""
        key = tuple(self._titles.index(c) for c in columns if c in self._titles)
        if key not in self._texts:
            # plain Python: a few ms for 3064 rows x 5 columns, pandas' .str several times more
            parts = [[_text(value) for value in self._values(i)] for i in key]
            joined = ["\x1f".join(row).lower() for row in zip(*parts, strict=True)]
            self._texts[key] = np.array(joined or [""] * self._n, dtype=object)
        return self._texts[key]

    # ------------------------------------------------------------------------ the view
    def set_row_filter(self, shown: np.ndarray | None) -> None:
        """Show the rows where ``shown`` (a mask over the frame's rows) is true; ``None``:
        all. Their order is the current sort's."""
        self.beginResetModel()
        n = self._n
        self._shown = np.ones(n, dtype=bool) if shown is None else np.asarray(shown, dtype=bool)
        self._rows = self._order[self._shown[self._order]]
        self.endResetModel()

    def show_columns(self, positions: Sequence[int] | np.ndarray | None) -> None:
        """Show these columns (positions in the frame, in this order); ``None``: all."""
        self.beginResetModel()
        every = np.arange(len(self._titles))
        self._columns = every if positions is None else np.asarray(positions, dtype=int)
        self.endResetModel()

    @property
    def titles(self) -> list[str]:
        """Every column's title, frame order, shown or not."""
        return list(self._titles)

    def shown_columns(self) -> list[str]:
        """The titles of the columns shown, left to right."""
        return [self._titles[c] for c in self._columns]

    def frame_rows(self, view_rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions in :attr:`frame` of rows of the view."""
        return self._rows[np.asarray(view_rows, dtype=int)]

    def view_rows(self, frame_rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of the view showing these positions of :attr:`frame` (hidden ones left out)."""
        where = np.full(self._n, -1)
        where[self._rows] = np.arange(len(self._rows))
        found = where[np.asarray(frame_rows, dtype=int)]
        return found[found >= 0]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a shown column (``-1``: the frame's own order), missing values
        last and pinned rows after them in both orders."""
        inside = 0 <= column < len(self._columns)
        self._sort = (int(self._columns[column]), order) if inside else None
        self.beginResetModel()
        self._order = self._arranged(self._sorted_rows())
        self._rows = self._order[self._shown[self._order]]
        self.endResetModel()

    def sort_section(self) -> tuple[int, Qt.SortOrder]:
        """The shown column the rows are sorted by (``-1`` if none or hidden) and the order."""
        if self._sort is None:
            return -1, Qt.SortOrder.AscendingOrder
        position, order = self._sort
        where = np.flatnonzero(self._columns == position)
        return (int(where[0]) if len(where) else -1), order

    def _sorted_rows(self) -> np.ndarray:
        if self._sort is None:
            return np.arange(self._n)
        position, order = self._sort
        return sort_order(self._values(position), order == Qt.SortOrder.AscendingOrder)

    def _arranged(self, order: np.ndarray) -> np.ndarray:
        if self._pinned is None:
            return order
        # pinned rows in their own order: a column sort says nothing about case vs patient
        return np.concatenate([order[~self._pinned[order]], np.flatnonzero(self._pinned)])

    # ----------------------------------------------------------------- Qt's questions
    def rowCount(self, parent: QModelIndex | None = None) -> int:
        """Rows shown (a table model has no children)."""
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        """Columns shown."""
        return 0 if parent is not None and parent.isValid() else len(self._columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The cell's text, its raw value (:data:`RAW_ROLE`), numbers right-aligned."""
        if not index.isValid():
            return None
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.TextAlignmentRole,
            RAW_ROLE,
        ):
            return None
        value = self._values(int(self._columns[index.column()]))[int(self._rows[index.row()])]
        if isinstance(value, np.generic):
            value = value.item()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if _is_number(value) else None
        if role == RAW_ROLE:
            return value
        return format_value(value) if role == Qt.ItemDataRole.DisplayRole else repr(value)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles (with their note as tooltip) across the top, the index down the side."""
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._columns):
                return None
            title = self._titles[int(self._columns[section])]
            note = self.notes.get(title) if role == Qt.ItemDataRole.ToolTipRole else None
            return f"{title}\n{note}" if note else title
        return self._index[self._rows[section]] if 0 <= section < len(self._rows) else None


def feature_rows(
    model: DataFrameModel, text: str = "", feature_class: str = "", image_type: str = ""
) -> np.ndarray:
    """Rows of a features-as-rows table (results, ranking) whose name contains ``text`` and
    whose ``feature_class`` / ``image_type`` columns match (``""``: any): a mask."""
    shown = contains(model.row_names(), text)
    for column, wanted in (("feature_class", feature_class), ("image_type", image_type)):
        values = model.column_values(column)
        if wanted and values is not None:
            shown &= values == wanted
    return shown


def table_view(model: DataFrameModel) -> QTableView:
    """A view of ``model`` whose headers do not follow the selection.

    A header paints each visible section after asking whether its whole row (column) is
    selected, and Qt answers by building an index, two Python calls into the model, for every
    cell of it: after Ctrl+A in a 3064 x 1500 table that was 47,000 calls, 0.3-0.5 s of
    blocked event loop. The headers get a selection model of their own that stays empty:
    selected rows show in the cells, not in bold headers. Clicking a header still selects
    through the view's own selection model.
    """
    view = QTableView()
    view.setModel(model)
    for header in (view.horizontalHeader(), view.verticalHeader()):
        header.setSelectionModel(QItemSelectionModel(model, header))
    return view
