"""The "Dataset table" dock: one row per case, linked to the viewer both ways.

A batch result or a features file (this plugin's CSV/Parquet, pyradiomics' batch CSV) is shown
with its identifying columns first, then the features; rows sort by any column, features filter
by name, class, image type or a set of allowed names, and a search keeps the matching cases.
Choosing a row brings its case on screen (the slider of an open stack, its layer, or its file
opened); moving the viewer to a case selects its row. Files are read by the dock's
:class:`._runner.Runner` (a newer file or Cancel drops the one being read); the
model (:mod:`._dataset_model`) sorts and filters on NumPy arrays, so the event loop stays free
at dataset size.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.qt.threading import FunctionWorker
from napari.utils.notifications import show_warning
from qtpy.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._case_link import CaseIndex, CaseKey, ViewerLink
from napari_radiomics._napari._controls import PLUGIN, docked
from napari_radiomics._napari._dataset_model import ColumnFilter, DatasetModel, column_layout
from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._table_model import table_view
from napari_radiomics._napari._workspace import BELOW, settle, show_rows
from napari_radiomics.errors import ReadError
from napari_radiomics.feature_tables import NO_FEATURES, read_features_table

if TYPE_CHECKING:
    import napari

#: Display name of this dock in napari.yaml (Plugins > napari-radiomics > Dataset table).
WIDGET_NAME = "Dataset table"
_ANY = "(any)"


class DatasetTableWidget(QWidget):
    """A features table, one row per case (and ROI label), linked to the viewer."""

    #: Positions in :attr:`frame` of the rows the user selected (in the table, or by moving
    #: the viewer to a case); not emitted by :meth:`select_rows`.
    rows_selected = Signal(list)
    #: A table was shown (:meth:`set_table`, a file opened, a batch finished).
    table_changed = Signal()

    def __init__(self, viewer: napari.viewer.Viewer | None = None) -> None:
        super().__init__()
        self.viewer = viewer
        self.source: str | None = None
        self._model = DatasetModel(parent=self)
        self._cases = CaseIndex(pd.DataFrame())
        self._selected: list[int] = []
        self._allowed: frozenset[str] | None = None  # restrict_features
        self._selecting = False  # selection changed by code, not by the user
        self._reading = ""  # the file being read
        self._build()
        self.runner = Runner(self)
        self.runner.signals.finished.connect(lambda frame, _: self.set_table(frame, self._reading))
        self.runner.signals.failed.connect(self._load_failed)
        self.runner.signals.idle.connect(self._load_finished)
        self.link = None if viewer is None else ViewerLink(viewer, self._viewer_on_case, self)
        # Link with a plots dock already open. Importing the plots module (matplotlib, about
        # 1 s) only to find that none is would slow every table down: none can be docked
        # before its module is loaded.
        plots = sys.modules.get("napari_radiomics._napari._plots_widget")
        if viewer is not None and plots is not None:
            plots.link_docked(viewer, self)

    # ----------------------------------------------------------------------------- layout
    def _build(self) -> None:
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("a features table: CSV or Parquet, or pyradiomics' batch CSV")
        self.open_button.clicked.connect(self._open_dialog)
        self.search_edit = QLineEdit(placeholderText="search cases (id, patient, tumour type…)")
        self.search_edit.textChanged.connect(self._model.set_search)
        self.filter_edit = QLineEdit(placeholderText="filter features, e.g. glcm or Contrast")
        self.class_combo = QComboBox()
        self.image_type_combo = QComboBox()
        for combo in (self.class_combo, self.image_type_combo):
            combo.addItem(_ANY)
            combo.currentTextChanged.connect(self._apply_column_filter)
        self.filter_edit.textChanged.connect(self._apply_column_filter)
        self.robust_only = QCheckBox("robust only")
        self.robust_only.setEnabled(False)
        self.robust_only.setToolTip("only the features a robustness analysis found reproducible")
        self.robust_only.toggled.connect(self._robust_toggled)
        self._robust: frozenset[str] = frozenset()

        self.table = table_view(self._model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the table's own order
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        header.setDefaultSectionSize(120)
        # Feature names share their start (original_glcm_...): keep the end, which differs.
        header.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.table.verticalHeader().setDefaultSectionSize(22)
        show_rows(self.table)
        self.table.selectionModel().selectionChanged.connect(self._user_selected)
        self._model.modelReset.connect(self._restore_selection)

        self.status = QLabel("No table yet: Open… a features file, or run a batch extraction.")
        self.status.setWordWrap(True)
        self.counts = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # reading a file has no steps to count
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_loading)
        for widget in (self.busy, self.cancel_button):
            widget.setVisible(False)

        settle(self, BELOW)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.search_edit, 2)
        top.addWidget(self.counts)
        layout.addLayout(top)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 2)
        filters.addWidget(QLabel("class"))
        filters.addWidget(self.class_combo)
        filters.addWidget(QLabel("image type"))
        filters.addWidget(self.image_type_combo)
        filters.addWidget(self.robust_only)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.busy)
        bottom.addWidget(self.cancel_button)
        layout.addLayout(bottom)

    # ------------------------------------------------------------------------- public API
    @property
    def frame(self) -> pd.DataFrame:
        """The table shown, every column, rows in their original order."""
        return self._model.frame

    @property
    def model(self) -> DatasetModel:
        """The Qt model (sorting, search and column filter live there)."""
        return self._model

    def set_table(self, frame: pd.DataFrame, source: str | None = None) -> None:
        """Show ``frame`` (a features table; ``source`` names where it came from).

        Relative file paths in the table (pyradiomics' batch CSV) start at ``source``'s folder.
        Raises :class:`~napari_radiomics.errors.ReadError` when it holds no feature column.
        What the reader skipped (``attrs["problems"]``, e.g. an unreadable sidecar) is shown
        as a warning and in the status line: the table is there, but not all of it.
        """
        layout = column_layout(frame)
        if not layout.features:
            raise ReadError(source if source is not None else "table", NO_FEATURES)
        self._selected = []
        self.source = None if source is None else str(source)
        base = Path(source).parent if source is not None else None
        self._cases = CaseIndex(frame, base)
        self._model.set_frame(frame, layout)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._refill(self.class_combo, self._model.feature_classes())
        self._refill(self.image_type_combo, self._model.image_types())
        self._model.set_search(self.search_edit.text())
        self._apply_column_filter()
        where = f" from {Path(source).name}" if source is not None else ""
        self.status.setText(
            f"{len(frame)} rows, {len(self._model.features)} features{where}. Choose a row to "
            "see its case; move the viewer to a case to find its row."
        )
        problems = list(frame.attrs.get("problems", []))
        for problem in problems:
            show_warning(f"Dataset table: {problem}")
        if problems:
            self.status.setText(f"{self.status.text()} {' '.join(problems)}")
        self.table_changed.emit()

    def open_table(self, path: str | Path) -> FunctionWorker:
        """Read a features file in a worker thread, then show it (errors name the file)."""
        self._reading = str(path)
        self.status.setText(f"Reading {path}…")
        for widget in (self.busy, self.cancel_button):
            widget.setVisible(True)
        return self.runner.run(lambda _progress: read_features_table(path), f"Reading {path}")

    def cancel_loading(self) -> None:
        """Forget a file being read (pandas cannot be interrupted; its result is dropped)."""
        if self.runner.running:
            self.runner.cancel()
            self.status.setText("Cancelled.")
            for widget in (self.busy, self.cancel_button):
                widget.setVisible(False)

    def restrict_features(self, names: set[str] | None) -> None:
        """Show only these features (``None``: all); the name/class/image-type filters apply
        on top. For example the features a robustness analysis found reproducible."""
        self._allowed = None if names is None else frozenset(names)
        self._apply_column_filter()

    def set_robustness(self, icc: pd.DataFrame) -> None:
        """A robustness result (``feature, icc, ci_low, ci_high, robust`` per feature): each
        feature's ICC goes into its column's tooltip and "robust only" keeps the robust ones."""
        self._robust = frozenset(icc.loc[icc["robust"].astype(bool), "feature"])
        self._model.notes = {
            str(row.feature): f"ICC {row.icc:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]"
            + (" robust" if row.robust else "")
            for row in icc.itertuples()
        }
        self.robust_only.setEnabled(True)
        self.robust_only.setText(f"robust only ({len(self._robust)})")
        if self.robust_only.isChecked():
            self.restrict_features(set(self._robust))

    def _robust_toggled(self, checked: bool) -> None:
        self.restrict_features(set(self._robust) if checked else None)

    def selected_rows(self) -> list[int]:
        """Positions in :attr:`frame` of the selected rows, ascending."""
        return list(self._selected)

    def select_rows(self, rows: Sequence[int], move_viewer: bool = True) -> None:
        """Select these rows (positions in :attr:`frame`) and scroll to the first; with
        ``move_viewer``, bring the first one's case on screen. Does not emit
        :attr:`rows_selected` (the caller knows)."""
        self._selected = sorted({int(r) for r in rows if 0 <= int(r) < len(self.frame)})
        self._restore_selection()
        first = self._model.view_rows(list(rows)[:1])
        if len(first):
            self.table.scrollTo(self._model.index(int(first[0]), 0))
        if move_viewer and self._selected:
            self._show_case(int(next(iter(rows))))

    # --------------------------------------------------------------------------- filters
    @staticmethod
    def _refill(combo: QComboBox, items: list[str]) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([_ANY, *items])
        combo.setCurrentText(current if current in items else _ANY)
        combo.blockSignals(False)

    def _apply_column_filter(self, *_: Any) -> None:
        self._model.set_column_filter(
            ColumnFilter(
                text=self.filter_edit.text(),
                feature_class=_choice(self.class_combo),
                image_type=_choice(self.image_type_combo),
                allowed=self._allowed,
            )
        )
        section, order = self._model.sort_section()
        header = self.table.horizontalHeader()
        header.blockSignals(True)  # the rows keep their order; only the arrow moves
        header.setSortIndicator(section, order)
        header.blockSignals(False)
        shown = self._model.columnCount() - len(self._model.identifying)
        self.counts.setText(f"{shown} of {len(self._model.features)} features")

    # ------------------------------------------------------------------------- selection
    def _restore_selection(self) -> None:
        """Select :attr:`_selected` in the view (after a sort, search or filter reset it)."""
        view_rows = np.sort(self._model.view_rows(self._selected))
        selection = QItemSelection()
        last = self._model.columnCount() - 1
        if len(view_rows) and last >= 0:
            # One range per run of consecutive rows: selecting 3064 rows is a few ranges.
            breaks = np.flatnonzero(np.diff(view_rows) != 1)
            starts = np.r_[view_rows[0], view_rows[breaks + 1]]
            stops = np.r_[view_rows[breaks], view_rows[-1]]
            for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
                selection.select(self._model.index(start, 0), self._model.index(stop, last))
        self._selecting = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
            self.table.selectionModel().select(selection, flags)
        finally:
            self._selecting = False

    def _user_selected(self, *_: Any) -> None:
        if self._selecting:
            return
        view_rows: list[int] = []
        for part in self.table.selectionModel().selection():
            view_rows.extend(range(part.top(), part.bottom() + 1))
        self._selected = sorted(set(self._model.frame_rows(view_rows).tolist()))
        self.rows_selected.emit(list(self._selected))
        current = self.table.currentIndex()
        if current.isValid() and current.row() in set(view_rows):
            self._show_case(int(self._model.frame_rows([current.row()])[0]))
        elif self._selected:
            self._show_case(self._selected[0])

    def _show_case(self, row: int) -> None:
        if self.link is None:
            return
        message = self.link.show(self._cases.key(row))
        self.status.setText(message)

    def _viewer_on_case(self, key: CaseKey) -> None:
        """The viewer shows ``key``: select its rows, unless they already are."""
        rows = self._cases.rows(key)
        if not rows or set(rows) & set(self._selected):
            return
        self.select_rows(rows, move_viewer=False)
        self.rows_selected.emit(list(self._selected))

    # ----------------------------------------------------------------------- file reading
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a features table", "", "Features tables (*.csv *.parquet)"
        )
        if path:
            self.open_table(path)

    def _load_failed(self, message: str) -> None:
        self.status.setText(f"Cannot open: {message}")
        show_warning(f"Dataset table: {message}")

    def _load_finished(self) -> None:
        for widget in (self.busy, self.cancel_button):
            widget.setVisible(False)


def _choice(combo: QComboBox) -> str:
    return "" if combo.currentText() == _ANY else combo.currentText()


def get_dataset_table(viewer: napari.viewer.Viewer) -> DatasetTableWidget:
    """The viewer's dataset table dock, docking one (as the Plugins menu does) if needed."""
    existing = docked(viewer, DatasetTableWidget)
    if existing:
        return existing[0]
    widget = DatasetTableWidget(viewer)
    viewer.window.add_dock_widget(widget, name=f"{WIDGET_NAME} ({PLUGIN})", area="bottom")
    return widget


def show_features(
    viewer: napari.viewer.Viewer, table_or_path: pd.DataFrame | str | Path
) -> DatasetTableWidget:
    """Show a features table (a DataFrame, or a CSV/Parquet file read now) in the viewer's
    dataset table dock, docking it if needed; returns the widget.

    A file is read on the calling thread, so the table is there when this returns (the dock's
    Open… button and drag and drop read in the background instead).
    """
    widget = get_dataset_table(viewer)
    if isinstance(table_or_path, pd.DataFrame):
        widget.set_table(table_or_path)
    else:
        widget.set_table(read_features_table(table_or_path), str(table_or_path))
    return widget
