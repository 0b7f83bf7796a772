"""A Qt model over a pandas DataFrame, and a proxy that sorts numbers and filters features.

A results table can hold thousands of features times dozens of runs; a model reads cells on
demand where a QTableWidget would build one item per cell. The proxy sorts on the raw values
(numbers as numbers, text after numbers, NaN last) and filters on the descriptive columns the
results table carries (``feature``, ``feature_class``, ``image_type``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from napari_radiomics.results import METADATA_CLASS

#: Role returning a cell's raw Python value (float, str, ...) for sorting and copying.
RAW_ROLE = Qt.ItemDataRole.UserRole


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


class DataFrameModel(QAbstractTableModel):
    """Read-only table model showing a DataFrame; the index becomes the vertical header."""

    def __init__(self, frame: pd.DataFrame | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._frame = pd.DataFrame()
        self._values = np.empty((0, 0), dtype=object)
        self._rows: list[str] = []
        self._columns: list[str] = []
        if frame is not None:
            self.set_frame(frame)

    @property
    def frame(self) -> pd.DataFrame:
        """The DataFrame shown (do not mutate it in place; call :meth:`set_frame`)."""
        return self._frame

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Show another DataFrame; views and proxies are told the whole table changed."""
        self.beginResetModel()
        self._frame = frame
        # Qt asks for cells one at a time, thousands of times per repaint or sort: read them from
        # a plain object array, not through pandas' indexers (which cost microseconds each).
        self._values = frame.to_numpy(dtype=object)
        self._rows = [str(i) for i in frame.index]
        self._columns = [str(c) for c in frame.columns]
        self.endResetModel()

    def column_values(self, name: str) -> np.ndarray | None:
        """The raw values of one column (``None`` if the table has no such column)."""
        if name not in self._columns:
            return None
        return self._values[:, self._columns.index(name)]

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        """Number of DataFrame rows (a table model has no children)."""
        if parent is not None and parent.isValid():
            return 0
        return len(self._rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        """Number of DataFrame columns."""
        if parent is not None and parent.isValid():
            return 0
        return len(self._columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Formatted text for display, the raw value for :data:`RAW_ROLE`."""
        if not index.isValid():
            return None
        value = self._values[index.row(), index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return repr(value.item() if isinstance(value, np.generic) else value)
        if role == RAW_ROLE:
            return value.item() if isinstance(value, np.generic) else value
        if role == Qt.ItemDataRole.TextAlignmentRole and _is_number(value):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles across the top, the DataFrame index down the side."""
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        names = self._columns if orientation == Qt.Orientation.Horizontal else self._rows
        return names[section] if section < len(names) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers first (by value), then text (alphabetically), then missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0)
    if _is_number(value):
        return (0, float(value))
    return (1, str(value).lower())


class FeatureFilterProxy(QSortFilterProxyModel):
    """Sorts on raw values and filters rows by feature name, class and image type.

    Identifying rows (case, patient id, ...) stay on top whatever the sort, so a column always
    says which case it shows.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._feature_class = ""
        self._image_type = ""

    def set_filters(self, text: str = "", feature_class: str = "", image_type: str = "") -> None:
        """Keep rows whose name contains ``text`` and whose class/image type match (``""``: any).

        The identifying rows are kept unless a class or image type is chosen.
        """
        self._text = text.strip().lower()
        self._feature_class = feature_class
        self._image_type = image_type
        self.invalidateFilter()

    def _column_value(self, source_row: int, name: str) -> Any:
        model = self.sourceModel()
        values = model.column_values(name) if isinstance(model, DataFrameModel) else None
        return None if values is None else values[source_row]

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        """Apply the name / class / image type filters."""
        model = self.sourceModel()
        if not isinstance(model, DataFrameModel):
            return True
        name = str(model.headerData(source_row, Qt.Orientation.Vertical)).lower()
        if self._text and self._text not in name:
            return False
        feature_class = self._column_value(source_row, "feature_class")
        if self._feature_class and feature_class != self._feature_class:
            return False
        return not (
            self._image_type and self._column_value(source_row, "image_type") != (self._image_type)
        )

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        """Compare raw values; identifying rows always sort after feature rows (their own
        section: the table opens on features)."""
        left_meta = self._column_value(left.row(), "feature_class") == METADATA_CLASS
        right_meta = self._column_value(right.row(), "feature_class") == METADATA_CLASS
        if left_meta != right_meta:
            # Qt flips the result for descending order; flip ours so metadata stays last.
            first = right_meta
            return first if self.sortOrder() == Qt.SortOrder.AscendingOrder else not first
        left_key = _sort_key(self.sourceModel().data(left, RAW_ROLE))
        right_key = _sort_key(self.sourceModel().data(right, RAW_ROLE))
        if left_key[0] != right_key[0]:
            # Missing values last in both orders.
            less = left_key[0] < right_key[0]
            return less if self.sortOrder() == Qt.SortOrder.AscendingOrder else not less
        return left_key[1] < right_key[1]
