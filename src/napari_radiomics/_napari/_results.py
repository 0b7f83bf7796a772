"""The results dock: runs side by side, differences, filter, sort, copy, export.

Every extraction (from the settings widget, an automatic re-extraction after a mask edit, or a
batch) arrives as one *run*: the engine's DataFrame under a name. The table shows features as
rows and one column per run and ROI label, so a run before and after a correction reads side by
side; a difference column compares two chosen columns. The pandas work lives in
:mod:`napari_radiomics.results`; this module only wires it to Qt.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QGuiApplication, QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QShortcut,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._controls import PLUGIN, docked
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._table_model import (
    RAW_ROLE,
    DataFrameModel,
    feature_rows,
    table_view,
)
from napari_radiomics._napari._workspace import BELOW, narrow, settle, show_rows
from napari_radiomics._pyradiomics import feature_class_names
from napari_radiomics.errors import WriteError
from napari_radiomics.results import Run, export_results, format_settings, sidecar_path
from napari_radiomics.side_by_side import (
    DESCRIPTION_COLUMNS,
    METADATA_CLASS,
    WideColumns,
    difference_title,
)

if TYPE_CHECKING:
    import napari.viewer

#: Display name of this dock in napari.yaml (Plugins > napari-radiomics > Feature results).
WIDGET_NAME = "Feature results"
_ANY = "(any)"
#: New columns sized to their contents at once: more than the dock shows side by side.
_MEASURED_COLUMNS = 40


class ResultsWidget(QWidget):
    """Dock widget holding every run of this session, shown as one comparable table."""

    #: Emitted after the table has been rebuilt (a run added or removed, a comparison changed).
    table_updated = Signal()

    def __init__(self, viewer: napari.viewer.Viewer | None = None) -> None:
        super().__init__()
        self.viewer = viewer
        self._runs: list[Run] = []
        self._sized: set[str] = set()
        self._added = 0  # runs ever added: default names never repeat after a removal
        self._model = DataFrameModel(parent=self)
        self._build()
        settle(self, BELOW)

    # ----------------------------------------------------------------------------- layout
    def _build(self) -> None:
        self.filter_edit = QLineEdit(placeholderText="filter features, e.g. glcm or Contrast")
        self.class_combo = QComboBox()
        self.class_combo.addItems([_ANY, METADATA_CLASS, *feature_class_names()])
        self.image_type_combo = QComboBox()
        self.image_type_combo.addItem(_ANY)
        self.filter_edit.textChanged.connect(self._apply_filters)
        self.class_combo.currentTextChanged.connect(self._apply_filters)
        self.image_type_combo.currentTextChanged.connect(self._apply_filters)

        self.run_list = QListWidget()
        self.run_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.run_list.setMaximumWidth(160)
        self.run_list.setMinimumWidth(120)
        self.remove_button = QPushButton("Remove selected runs")
        self.remove_button.clicked.connect(self._remove_selected)

        self.compare_check = QCheckBox("Difference")
        self.before_combo = QComboBox()
        self.after_combo = QComboBox()
        self.compare_check.toggled.connect(self._refresh)
        for combo in (
            self.class_combo,
            self.image_type_combo,
            self.before_combo,
            self.after_combo,
        ):
            narrow(combo)  # the dock shares the canvas' width
        self.before_combo.currentTextChanged.connect(self._refresh_if_comparing)
        self.after_combo.currentTextChanged.connect(self._refresh_if_comparing)

        self.table = table_view(self._model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # pyradiomics' order first
        show_rows(self.table)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # Size columns from the first rows only: measuring every cell of a long table on each
        # new run would cost more than the re-extraction itself.
        self.table.horizontalHeader().setResizeContentsPrecision(40)
        # Feature names as row titles, elided in the middle (class prefix and name stay) beyond
        # a width that leaves the values on screen in a dock that shares the canvas' width.
        names = self.table.verticalHeader()
        names.setMaximumWidth(240)
        names.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        QShortcut(QKeySequence.StandardKey.Copy, self.table, activated=self.copy_selection)

        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_selection)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._export_dialog)
        self.status = QLabel("No results yet: press Extract in the Extract features widget.")
        self.status.setWordWrap(True)

        # Runs and the comparison in a column beside the table, not above it: the dock sits
        # below the canvas (_workspace), where width is plenty and height is the canvas'.
        side = QVBoxLayout()
        side.addWidget(self.run_list, 1)
        side.addWidget(self.remove_button)
        side.addWidget(self.compare_check)
        side.addWidget(self.after_combo)
        side.addWidget(QLabel("−"), 0, Qt.AlignmentFlag.AlignHCenter)
        side.addWidget(self.before_combo)
        main = QVBoxLayout()
        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 2)
        self.class_combo.setToolTip("feature class")  # tooltips, not labels: width is scarce
        self.image_type_combo.setToolTip("image type")
        filters.addWidget(self.class_combo)
        filters.addWidget(self.image_type_combo)
        main.addLayout(filters)
        main.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        main.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addLayout(side)
        layout.addLayout(main, 1)

    # ------------------------------------------------------------------------- public API
    @property
    def runs(self) -> list[Run]:
        """The runs shown, oldest first (a copy; use :meth:`add_run`/:meth:`remove_run`)."""
        return list(self._runs)

    @property
    def frame(self) -> pd.DataFrame:
        """The table as shown before filtering/sorting (features x columns)."""
        return self._model.frame

    def add_run(self, df: pd.DataFrame, name: str | None = None) -> str:
        """Add one extraction (a DataFrame as from ``extract_features``) and show it.

        ``name`` defaults to ``run N``; a name already used gets a suffix so runs never merge.
        The two newest columns become the default comparison, as that is what one checks after
        correcting a mask. Returns the name used.
        """
        used = {run.name for run in self._runs}
        self._added += 1
        base = name or f"run {self._added}"
        unique, n = base, 2
        while unique in used:
            unique, n = f"{base} ({n})", n + 1
        run = Run.from_frame(unique, df)
        self._runs.append(run)
        item = QListWidgetItem(f"{unique}  ({len(df)} row{'s' if len(df) != 1 else ''})")
        item.setData(RAW_ROLE, unique)
        item.setToolTip(format_settings(run.provenance))
        self.run_list.addItem(item)
        self._refresh(default_comparison=True)
        return unique

    def remove_run(self, name: str) -> None:
        """Forget one run; its columns leave the table."""
        self._runs = [run for run in self._runs if run.name != name]
        for row in reversed(range(self.run_list.count())):
            if self.run_list.item(row).data(RAW_ROLE) == name:
                self.run_list.takeItem(row)
        self._refresh(default_comparison=True)

    def set_comparison(self, before: str, after: str) -> None:
        """Show ``after - before`` (absolute and %) for two value columns of the table."""
        for combo, title in ((self.before_combo, before), (self.after_combo, after)):
            if combo.findText(title) < 0:
                raise ValueError(f"no column {title!r} in the results table")
        self.before_combo.blockSignals(True)
        self.before_combo.setCurrentText(before)
        self.before_combo.blockSignals(False)
        self.after_combo.setCurrentText(after)
        self.compare_check.setChecked(True)
        self._refresh()

    def copy_selection(self) -> str:
        """Copy the selected cells as tab-separated text (with titles) to the clipboard."""
        indexes = self.table.selectionModel().selectedIndexes()
        if not indexes:
            return ""
        rows = sorted({i.row() for i in indexes})
        columns = sorted({i.column() for i in indexes})
        chosen = {(i.row(), i.column()) for i in indexes}
        header = ["name"] + [
            str(self._model.headerData(c, Qt.Orientation.Horizontal)) for c in columns
        ]
        lines = ["\t".join(header)]
        for r in rows:
            cells = [str(self._model.headerData(r, Qt.Orientation.Vertical))]
            for c in columns:
                value = self._model.index(r, c).data(RAW_ROLE) if (r, c) in chosen else ""
                cells.append("" if value is None or value != value else str(value))
            lines.append("\t".join(cells))
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text

    def export(self, path: str | Path) -> tuple[Path, Path]:
        """Write every run to CSV/Parquet plus a ``.runs.yaml`` with each run's settings.

        A name typed in the dialog may be a file the viewer shows (the case's ``.mat``, the
        dataset table's CSV): refused with a WriteError before anything is written."""
        if self.viewer is not None:
            refuse_viewer_sources(self.viewer, path, sidecar_path(path))
        written = export_results(self._runs, path)
        self.status.setText(f"Exported {len(self._runs)} run(s) to {written[0]}")
        return written

    # ---------------------------------------------------------------------------- internals
    def value_columns(self) -> list[str]:
        """Titles of the run columns (one per run and ROI label)."""
        titles = self._model.titles
        return [c for c in titles if c not in DESCRIPTION_COLUMNS and "Δ" not in c]

    def _refresh_if_comparing(self) -> None:
        if self.compare_check.isChecked():
            self._refresh()

    def _refresh(self, *, default_comparison: bool = False) -> None:
        table = WideColumns(self._runs)
        described = len(DESCRIPTION_COLUMNS)
        titles = table.titles[described:]
        self._sync_combo(
            self.before_combo, titles, titles[-2] if len(titles) > 1 else None, default_comparison
        )
        self._sync_combo(
            self.after_combo, titles, titles[-1] if titles else None, default_comparison
        )
        before, after = self.before_combo.currentText(), self.after_combo.currentText()
        if self.compare_check.isChecked() and before in titles and after in titles:
            table = WideColumns(self._runs, (before, after))
        classes = table.column(DESCRIPTION_COLUMNS.index("feature_class"))
        self._sync_image_types(table.column(DESCRIPTION_COLUMNS.index("image_type")))
        # identifying rows stay last whatever the sort: the table opens on features, and the
        # class filter's "metadata" shows the rows naming the case alone. The run columns
        # are built when shown (a 3064-case batch is 3064 of them: a second as one table).
        self._model.set_lazy(table, pinned=classes == METADATA_CLASS, keep_sort=True)
        self._apply_filters()
        # The row title (original_glcm_Contrast) already says all three, and the filters above
        # choose by class and type: the width goes to the values.
        for column in range(described):
            self.table.setColumnHidden(column, True)
        # New columns only (keep widths the user set), and as many as the view shows side by
        # side: measuring a column asks for its first rows' text in several roles, seconds for
        # a batch's column per case and still a tenth of one for 40 of them. The others keep
        # the default width (a batch is read in the dataset table anyway).
        header = self.table.horizontalHeader()
        side_by_side = self.table.viewport().width() // max(header.defaultSectionSize(), 1) + 1
        fresh = [c for c, t in enumerate(titles, described) if t not in self._sized]
        for column in fresh[: min(side_by_side, _MEASURED_COLUMNS)]:
            self.table.resizeColumnToContents(column)
        self._sized.update(table.titles)
        if self._runs:
            self.status.setText(
                f"{len(self._runs)} run(s), {len(titles)} column(s), "
                f"{int((classes != METADATA_CLASS).sum())} features"
            )
        self.table_updated.emit()

    @staticmethod
    def _sync_combo(combo: QComboBox, titles: list[str], default: str | None, reset: bool) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(titles)
        keep = current if current in titles and not reset else default
        if keep is not None:
            combo.setCurrentText(keep)
        combo.blockSignals(False)

    def _sync_image_types(self, image_types: np.ndarray) -> None:
        types = sorted(set(image_types) - {""})
        current = self.image_type_combo.currentText()
        self.image_type_combo.blockSignals(True)
        self.image_type_combo.clear()
        self.image_type_combo.addItems([_ANY, *types])
        self.image_type_combo.setCurrentText(current if current in types else _ANY)
        self.image_type_combo.blockSignals(False)

    def _apply_filters(self) -> None:
        def chosen(combo: QComboBox) -> str:
            return "" if combo.currentText() == _ANY else combo.currentText()

        self._model.set_row_filter(
            feature_rows(
                self._model,
                self.filter_edit.text(),
                chosen(self.class_combo),
                chosen(self.image_type_combo),
            )
        )

    def _remove_selected(self) -> None:
        for item in self.run_list.selectedItems():
            self.remove_run(item.data(RAW_ROLE))

    def _export_dialog(self) -> None:
        if not self._runs:
            self.status.setText("Nothing to export yet.")
            return
        filters = "CSV (*.csv)"
        if importlib.util.find_spec("pyarrow") is not None:
            filters += ";;Parquet (*.parquet)"
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export feature results", "features.csv", filters
        )
        if not path:
            return
        if not Path(path).suffix:  # a name typed bare takes the format chosen in the dialog
            path += ".parquet" if "parquet" in chosen else ".csv"
        try:
            self.export(path)
        except WriteError as exc:
            show_error(f"Feature results: not exported: {exc}")
        except (OSError, ValueError, ImportError) as exc:
            show_error(f"Feature results: cannot export to {path}: {exc}")

    def difference_columns(self) -> tuple[str, str]:
        """Titles of the absolute and % difference columns currently shown."""
        after, before = self.after_combo.currentText(), self.before_combo.currentText()
        return difference_title(after, before), difference_title(after, before, percent=True)


def get_results_widget(viewer: napari.viewer.Viewer) -> ResultsWidget:
    """The viewer's results dock, docking one (as Plugins > napari-radiomics does) if needed."""
    existing = docked(viewer, ResultsWidget)
    if existing:
        return existing[0]
    widget: Any = ResultsWidget(viewer)
    # Below the canvas (see _workspace): the table grows a column per run and needs the width.
    viewer.window.add_dock_widget(widget, name=f"{WIDGET_NAME} ({PLUGIN})", area="bottom")
    return widget
