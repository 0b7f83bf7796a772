"""The dataset table's Qt model: cases as rows, identifying columns then features.

A dataset has thousands of cases and a thousand or more features. A ``QSortFilterProxyModel``
calls back into Python for every comparison of a sort and every row of a filter, which at
3064 rows costs a visible freeze per click; here the features are one float array, the
identifying columns a few object arrays, and the view is two index arrays (the rows shown, in
their order, and the columns shown). Sorting is one ``argsort``, filtering a boolean mask;
Qt only ever asks for the cells on screen, formatted when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt

from napari_radiomics._napari._table_model import RAW_ROLE, format_value
from napari_radiomics.results import identifying_columns, parse_feature_name

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class ColumnFilter:
    """Which feature columns are shown; identifying columns always are.

    ``text`` is a part of the name (case-insensitive), ``feature_class`` and ``image_type``
    pyradiomics' own (``""``: any), ``allowed`` a set of feature names to keep (``None``:
    all), e.g. the features a robustness analysis found reproducible.
    """

    text: str = ""
    feature_class: str = ""
    image_type: str = ""
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class ColumnLayout:
    """A table's identifying columns and its features with their class and image type."""

    identifying: list[str]
    features: list[str]
    feature_classes: list[str]
    image_types: list[str]


def column_layout(frame: pd.DataFrame) -> ColumnLayout:
    """Split the columns, parsing each name once (a thousand regex matches, a few ms)."""
    parsed = {name: parse_feature_name(name) for name in frame.columns}
    features = [name for name, part in parsed.items() if part is not None]
    others = frame.loc[:, [name for name, part in parsed.items() if part is None]]
    parts = [part for part in parsed.values() if part is not None]
    return ColumnLayout(
        identifying=identifying_columns(others),
        features=features,
        feature_classes=[part.feature_class for part in parts],
        image_types=[part.image_type for part in parts],
    )


def _sort_keys(values: np.ndarray) -> pd.Series:
    """Numbers by value; text as numbers when every value is one (case ``2`` before ``10``),
    else alphabetically; missing values (NaN, None, "") as NaN, which sorts last."""
    series = pd.Series(values, dtype=object if values.dtype == object else None)
    if series.dtype != object:
        return series
    text = series.where(series.notna() & (series.astype(str) != ""))
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().sum() == text.notna().sum():
        return numbers
    return text.astype("string").str.lower()


class DatasetModel(QAbstractTableModel):
    """Read-only model of a features table, one row per case (and ROI label)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        #: A line per feature name shown as its header's tooltip (e.g. its ICC).
        self.notes: dict[str, str] = {}
        self.set_frame(pd.DataFrame())

    # ---------------------------------------------------------------------- the table
    def set_frame(self, frame: pd.DataFrame, layout: ColumnLayout | None = None) -> None:
        """Show another table; sort, search and column filter start afresh.

        ``layout`` is :func:`column_layout` of ``frame``, when the caller has it already.
        """
        layout = column_layout(frame) if layout is None else layout
        self.beginResetModel()
        self._frame = frame
        n = len(frame)
        self._ids, self._features = layout.identifying, layout.features
        self._id_values = [frame[c].to_numpy(dtype=object) for c in self._ids]
        block = frame.loc[:, self._features]
        if any(not pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
            block = block.apply(pd.to_numeric, errors="coerce")
        values = block.to_numpy(dtype=float, na_value=np.nan)
        self._values = values.reshape(n, len(self._features))
        self._feature_class = np.array(layout.feature_classes, dtype=object)
        self._image_type = np.array(layout.image_types, dtype=object)
        self._lower = np.array([name.lower() for name in self._features], dtype=object)
        self._search = self._search_text()
        self._index = np.array([str(i) for i in frame.index], dtype=object)
        self._order = np.arange(n)
        self._shown = np.ones(n, dtype=bool)
        self._rows = self._order
        self._filter = ColumnFilter()
        self._columns = np.arange(len(self._ids) + len(self._features))
        self._sort: tuple[int, Qt.SortOrder] | None = None  # (column code, order)
        self.endResetModel()

    def _search_text(self) -> np.ndarray:
        """Each row's identifying values as one lower-case string, for the case search."""
        columns = [["" if pd.isna(v) else str(v) for v in values] for values in self._id_values]
        joined = ["\x1f".join(parts).lower() for parts in zip(*columns, strict=True)]
        return np.array(joined or [""] * len(self._frame), dtype=object)

    @property
    def frame(self) -> pd.DataFrame:
        """The table shown, rows in their original order."""
        return self._frame

    @property
    def identifying(self) -> list[str]:
        """The identifying columns (always shown first)."""
        return list(self._ids)

    @property
    def features(self) -> list[str]:
        """Every feature column of the table, shown or not."""
        return list(self._features)

    def image_types(self) -> list[str]:
        """The image types of the table's features, in their first order of appearance."""
        return list(dict.fromkeys(self._image_type))

    def feature_classes(self) -> list[str]:
        """The feature classes of the table's features, in their first order of appearance."""
        return list(dict.fromkeys(self._feature_class))

    # ------------------------------------------------------------------------ the view
    def shown_columns(self) -> list[str]:
        """The titles of the columns shown, left to right."""
        return [self._title(c) for c in self._columns]

    def frame_rows(self, view_rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions in :attr:`frame` of rows of the view."""
        return self._rows[np.asarray(view_rows, dtype=int)]

    def view_rows(self, frame_rows: Sequence[int]) -> np.ndarray:
        """Rows of the view showing these positions of :attr:`frame` (hidden ones left out)."""
        where = np.full(len(self._frame), -1)
        where[self._rows] = np.arange(len(self._rows))
        found = where[np.asarray(frame_rows, dtype=int)]
        return found[found >= 0]

    def set_search(self, text: str) -> None:
        """Show only the rows whose identifying values contain ``text`` (any case)."""
        needle = text.strip().lower()
        self.beginResetModel()
        if needle:
            self._shown = np.fromiter((needle in s for s in self._search), bool, len(self._search))
        else:
            self._shown = np.ones(len(self._frame), dtype=bool)
        self._rows = self._order[self._shown[self._order]]
        self.endResetModel()

    def set_column_filter(self, wanted: ColumnFilter) -> None:
        """Show the identifying columns and the features ``wanted`` keeps, in table order."""
        keep = np.ones(len(self._features), dtype=bool)
        if wanted.text.strip():
            needle = wanted.text.strip().lower()
            keep &= np.fromiter((needle in s for s in self._lower), bool, len(self._lower))
        if wanted.feature_class:
            keep &= self._feature_class == wanted.feature_class
        if wanted.image_type:
            keep &= self._image_type == wanted.image_type
        if wanted.allowed is not None:  # a set look-up per name: np.isin sorts objects
            allowed = wanted.allowed
            keep &= np.fromiter((f in allowed for f in self._features), bool, len(keep))
        self.beginResetModel()
        self._filter = wanted
        ids = np.arange(len(self._ids))
        self._columns = np.concatenate([ids, len(self._ids) + np.flatnonzero(keep)])
        self.endResetModel()

    @property
    def column_filter(self) -> ColumnFilter:
        """The filter the shown feature columns satisfy."""
        return self._filter

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a shown column (``-1``: the table's own order); missing last.

        A reset, not a layout change: views drop their selection, which the dataset widget
        restores from the positions it keeps.
        """
        if column < 0 or column >= len(self._columns):
            order_all = np.arange(len(self._frame))
            self._sort = None
        else:
            code = int(self._columns[column])
            keys = _sort_keys(self._column_values(code))
            ascending = order == Qt.SortOrder.AscendingOrder
            ranked = keys.sort_values(ascending=ascending, kind="stable", na_position="last")
            order_all = ranked.index.to_numpy()
            self._sort = (code, order)
        self.beginResetModel()
        self._order = order_all
        self._rows = self._order[self._shown[self._order]]
        self.endResetModel()

    def sort_section(self) -> tuple[int, Qt.SortOrder]:
        """The shown column the rows are sorted by (``-1`` if none or hidden) and the order."""
        if self._sort is None:
            return -1, Qt.SortOrder.AscendingOrder
        code, order = self._sort
        where = np.flatnonzero(self._columns == code)
        return (int(where[0]) if len(where) else -1), order

    def _column_values(self, code: int) -> np.ndarray:
        if code < len(self._ids):
            return self._id_values[code]
        return self._values[:, code - len(self._ids)]

    def _title(self, code: int) -> str:
        if code < len(self._ids):
            return str(self._ids[code])
        return self._features[code - len(self._ids)]

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
        code = int(self._columns[index.column()])
        row = int(self._rows[index.row()])
        is_feature = code >= len(self._ids)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if is_feature else None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, RAW_ROLE):
            return None
        value = self._column_values(code)[row]
        if isinstance(value, np.generic):
            value = value.item()
        if role == RAW_ROLE:
            return value
        return format_value(value) if role == Qt.ItemDataRole.DisplayRole else repr(value)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles across the top, the table's row index down the side."""
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self._columns):
                return None
            title = self._title(int(self._columns[section]))
            note = self.notes.get(title) if role == Qt.ItemDataRole.ToolTipRole else None
            return f"{title}\n{note}" if note else title
        return self._index[self._rows[section]] if section < len(self._rows) else None
