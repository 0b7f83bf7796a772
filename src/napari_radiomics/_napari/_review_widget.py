"""The Review dock: a dataset's cases with their review status, and the moves between them.

Everything it shows and changes lives in the core (``corrections.CorrectionSession``, which the
reader attached to the mask layer): this module lists the cases, moves the viewer, and turns
the session's writer-thread events into a refresh on the GUI thread. Saving never happens
here; painting saves by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.utils.colormaps import DirectLabelColormap
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QShortcut,
    QWidget,
)

from napari_radiomics._napari._review_listener import Listener, Relay
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._table_model import DataFrameModel, contains
from napari_radiomics._napari._workspace import SIDE, row_table, scrolling, settle
from napari_radiomics.columns import CASE_COLUMNS
from napari_radiomics.corrections import (
    STATUSES,
    CorrectionSession,
    corrections_report,
    report_summary,
    session_for,
    write_report,
)
from napari_radiomics.errors import CorrectionsError, WriteError
from napari_radiomics.io import CaseMetadata, cases_table
from napari_radiomics.io.editable import EditableStack

if TYPE_CHECKING:
    import napari.viewer

_ALL = "(all statuses)"
#: napari's overlay of the brush outline (in ``viewer.canvas.overlays``), built when first shown.
BRUSH_OVERLAY = "_brush_circle"


def _same(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> bool:
    """Whether two keys of :meth:`ReviewWidget._identities` are equal (arrays element-wise)."""
    if old is None or old[:2] != new[:2]:
        return False
    if isinstance(new[2], np.ndarray):
        return isinstance(old[2], np.ndarray) and np.array_equal(old[2], new[2])
    return old[2] == new[2]


def _distinct_identities(slices: pd.DataFrame) -> tuple[list[CaseMetadata], np.ndarray]:
    """A slice table's distinct identities after ``case`` (patient, label, tumour type),
    each read by ``CaseMetadata.from_mapping`` as its rows would be, and each slice's position
    among them: a row read per slice cost 60-100 ms of docking on 3064 slices (233 patients)."""
    columns = [c for c in CASE_COLUMNS[1:] if c in slices.columns]
    if not columns:
        return [CaseMetadata.from_mapping({})], np.zeros(len(slices), int)
    # An object column's values are grouped with their type too: pandas takes 1, 1.0 and True
    # as one key, but they read as the ids "1", "1.0" and "True".
    keys = [slices[c] for c in columns]
    keys += [slices[c].map(type).rename(f"{c} type") for c in columns if slices[c].dtype == object]
    groups = slices.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(groups, return_index=True)[1]  # each identity's first slice, in order
    records = slices[columns].iloc[first].to_dict("records")
    return [CaseMetadata.from_mapping(row) for row in records], groups


class ReviewWidget(QWidget):
    """Review the cases of a mask layer opened by this plugin (any dataset form)."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.session: CorrectionSession | None = None
        self.layer: Any = None
        self._identity_key: tuple[Any, ...] | None = None
        self._identity_columns: dict[str, np.ndarray] = {}
        self._relay = Relay()
        self._relay.changed.connect(self._on_session_event)
        self._listener: Listener | None = None
        self._build()
        viewer.layers.events.inserted.connect(self._refresh_layers)
        viewer.layers.events.removed.connect(self._refresh_layers)
        viewer.dims.events.current_step.connect(self._follow_viewer)
        self._refresh_layers()

    def _build(self) -> None:
        self.layers = QComboBox()
        self.layers.currentIndexChanged.connect(self._choose_layer)
        self.progress = QLabel()
        self.store_label = QLabel()
        self.store_label.setWordWrap(True)
        self.relocate_button = QPushButton("Choose corrections folder…")
        self.relocate_button.clicked.connect(self._pick_store)
        self.search = QLineEdit(placeholderText="search case, patient, type, note")
        self.status_filter = QComboBox()
        self.status_filter.addItems([_ALL, *STATUSES])
        self.model = DataFrameModel()
        self.search.textChanged.connect(self._apply_filters)
        self.status_filter.currentTextChanged.connect(self._apply_filters)
        self.table = row_table(self.model)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the dataset's own order
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The case column names a row; row numbers said nothing and measuring 3064 of them
        # after each keystroke's filter cost up to 15 ms of the 16 a keystroke may take.
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(lambda index: self.go_to(self._row_case(index.row())))
        self.note = QLineEdit(placeholderText="note (kept with the status)")
        buttons = {
            "previous": ("◀ Previous unreviewed", lambda: self.step(-1)),
            "next": ("Next unreviewed ▶", lambda: self.step(1)),
            "accept": ("Accept", lambda: self.mark("accepted")),
            "flag": ("Flag", lambda: self.mark("flagged")),
            "revert": ("Revert", self.revert),
            "contour": ("Original contour", self.show_original),
            "report": ("Report…", self._pick_report),
        }
        self.buttons = {key: QPushButton(text) for key, (text, _) in buttons.items()}
        # Short words, so the dock's widest row fits the side stack at 1366x768 (the long
        # ones needed 423 px); what each does, in full, on hover.
        for key, tip in (
            ("revert", "Revert this case to its original mask"),
            ("contour", "Show the original mask as a contour over the corrected one"),
            ("report", "Write the corrections report (one CSV row per reviewed case)"),
        ):
            self.buttons[key].setToolTip(tip)
        for key, (_, action) in buttons.items():
            self.buttons[key].clicked.connect(action)
        keys = {"Alt+N": lambda: self.step(1), "Alt+P": lambda: self.step(-1)}
        keys["Alt+A"] = lambda: self.mark("accepted")
        for key, action in keys.items():
            # the whole window: the keys work while the canvas has the focus, as when painting
            QShortcut(QKeySequence(key), self, activated=action).setContext(
                Qt.ShortcutContext.ApplicationShortcut
            )
        layout = scrolling(self)
        settle(self, SIDE)
        for widget in (self.layers, self.progress, self.store_label, self.relocate_button):
            layout.addWidget(widget)
        filters = QHBoxLayout()
        filters.addWidget(self.search)
        filters.addWidget(self.status_filter)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        for keys in (("previous", "next"), ("accept", "flag"), ("revert", "contour", "report")):
            row = QHBoxLayout()
            for key in keys:
                row.addWidget(self.buttons[key])
            layout.addLayout(row)
        layout.addWidget(self.note)

    # -- which layer -----------------------------------------------------------------------
    def _refresh_layers(self, *_: Any) -> None:
        names = [layer.name for layer in self.viewer.layers if session_for(layer.data)]
        current = self.layers.currentText()
        self.layers.blockSignals(True)
        self.layers.clear()
        self.layers.addItems(names)
        self.layers.blockSignals(False)
        if names:
            self.layers.setCurrentIndex(names.index(current) if current in names else 0)
        kept = (
            self.layer is not None
            and self.layer in self.viewer.layers
            and self.layers.currentText() == self.layer.name
            and session_for(self.layer.data) is self.session
        )
        if kept:  # another layer came or went: rebuilding every case's row for it cost
            return  # 0.1-0.3 s per layer (18 for one class of feature maps) on 3064 cases
        self._choose_layer()

    def _choose_layer(self, *_: Any) -> None:
        name = self.layers.currentText()
        layer = self.viewer.layers[name] if name and name in self.viewer.layers else None
        session = session_for(layer.data) if layer is not None else None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.layer, self.session = layer, session
        if session is not None:
            self._listener = Listener(self, session, self._relay)
            session.listeners.append(self._listener)
            QTimer.singleShot(0, self._prepare_brush)
        self._refresh()

    def _prepare_brush(self) -> None:
        """Have napari build its brush outline between events, not at the first move to a
        case (:meth:`go_to` paints; napari builds the outline when first shown: 40-100 ms,
        most of that move). Shown and hidden within this event, so never painted."""
        overlays = getattr(getattr(self.viewer, "canvas", None), "overlays", None)
        brush = overlays.get(BRUSH_OVERLAY) if overlays is not None else None
        if brush is None or brush.visible:  # another napari, or already shown
            return
        brush.visible = True
        brush.visible = False

    # -- what is shown ---------------------------------------------------------------------
    def cases(self) -> pd.DataFrame:
        """The table shown: the case columns of every table (``columns.CASE_COLUMNS``), status
        and note, one row per case; an unknown value is an empty cell."""
        if self.session is None:
            return pd.DataFrame(columns=[*CASE_COLUMNS, "status", "note"])
        frame = self.session.table()
        for column, text in self._identities(len(frame)).items():
            frame.insert(len(frame.columns) - 2, column, text)
        return frame

    def _identities(self, cases: int) -> dict[str, np.ndarray]:
        """The case columns after ``case``, as text, read from the layer's slice table.

        Kept until the table's content changes (the folder reader completes it in place once
        its header scan ends): reading 3064 identities row by row on every status change made
        marking a case block the event loop for 0.3-0.5 s."""
        slices = self.layer.metadata.get("slices")
        per_slice = isinstance(slices, pd.DataFrame) and len(slices) == cases
        if per_slice:
            columns = [c for c in CASE_COLUMNS if c in slices.columns]
            # one hash per row: what is shown changes exactly when one of them does
            content: Any = pd.util.hash_pandas_object(slices[columns], index=False).to_numpy()
        else:
            content = CaseMetadata.from_mapping(self.layer.metadata)
        key = (cases, per_slice, content)
        if _same(self._identity_key, key):
            return self._identity_columns
        if per_slice:
            ids, rows = _distinct_identities(slices)
        else:
            ids, rows = [CaseMetadata.from_mapping(self.layer.metadata)], np.zeros(cases, int)
        shown = cases_table(ids)
        self._identity_key, self._identity_columns = (
            key,
            {
                column: shown[column].astype("string").fillna("").to_numpy(dtype=object)[rows]
                for column in CASE_COLUMNS[1:]
            },
        )
        return self._identity_columns

    def _refresh(self) -> None:
        self.model.set_frame(self.cases(), keep_sort=True)
        self._apply_filters()
        enabled = self.session is not None
        for button in self.buttons.values():
            button.setEnabled(enabled)
        if self.session is None:
            self.progress.setText("Open a dataset with this plugin to review it.")
            self.store_label.setText("")
            self.relocate_button.setEnabled(False)
            return
        done, total = self.session.reviewed()
        self.progress.setText(f"{done} / {total} reviewed")
        store = self.session.store
        if store.writable:
            self.store_label.setText(f"Corrections are saved as you paint, in {store.root}")
            self.store_label.setStyleSheet("")
        else:
            self.store_label.setText(
                f"Not saved: {store.root}: {store.read_only}. Edits stay in memory until you "
                "choose a corrections folder that can be written."
            )
            self.store_label.setStyleSheet("color: #e05050")
        for problem in store.problems:
            self.store_label.setText(self.store_label.text() + f"\n{problem}")
        self.relocate_button.setEnabled(True)

    def _apply_filters(self, *_: Any) -> None:
        """Rows whose status is the chosen one and whose text contains the search (any
        column): two vectorised masks, no Python per row (a keystroke on 3064 cases)."""
        columns = list(self.model.frame.columns)
        shown = contains(self.model.row_texts(columns), self.search.text())
        status = self.status_filter.currentText()
        statuses = self.model.column_values("status")
        if status != _ALL and statuses is not None:
            shown &= statuses == status
        self.model.set_row_filter(shown)
        self._select_row(self.current_index())

    def _row_case(self, view_row: int) -> int:
        return int(self.model.frame_rows([view_row])[0])

    def current_index(self) -> int:
        """The case the viewer shows (the slider of a stack; 0 for a single case)."""
        if self.layer is None or self.session is None or len(self.session.refs) == 1:
            return 0
        return int(self.viewer.dims.current_step[0])

    # -- moving and marking ----------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Show case ``index`` with its mask selected and the brush ready."""
        if self.layer is None:
            return
        if len(self.session.refs) > 1:
            self.viewer.dims.set_current_step(0, index)
        self.viewer.layers.selection.active = self.layer
        self.layer.mode = "paint"
        self._select_row(index)

    def step(self, direction: int) -> int | None:
        """Go to the next (1) or previous (-1) unreviewed case; returns it, None if none."""
        if self.session is None:
            return None
        found = self.session.next_index(self.current_index(), direction)
        if found is None:
            show_info("Every case is reviewed.")
            return None
        self.go_to(found)
        return found

    def mark(self, status: str) -> None:
        if self.session is None:
            return
        try:
            self.session.set_status(self.current_index(), status, self.note.text() or None)
        except CorrectionsError as exc:
            show_error(str(exc))
        self.note.clear()

    def revert(self) -> None:
        if self.session is None:
            return
        try:
            self.session.revert(self.current_index())
        except CorrectionsError as exc:
            show_error(str(exc))
        self.layer.refresh()

    def show_original(self) -> Any:
        """Add the original mask of the layer as a contour over the corrected one."""
        if self.session is None:
            return None
        mask = self.session.mask
        # a stack's source stays lazy (every slice read when shown); one case is in memory
        original = mask.base if isinstance(mask, EditableStack) else self.session.original(0)
        layer = self.viewer.add_labels(
            original,
            name=f"{self.layer.name} original",
            opacity=1.0,
            scale=self.layer.scale,
            translate=self.layer.translate,
        )
        layer.contour = 1
        # every label of the original in one colour that the mask's own colours do not use
        layer.colormap = DirectLabelColormap(
            color_dict={None: "transparent", 0: "transparent"}
            | dict.fromkeys(range(1, 256), "yellow")
        )
        return layer

    def report(self) -> pd.DataFrame | None:
        """The corrections report of the dataset under review (``corrections_report``, which
        the CLI's ``corrections`` writes too), with the patients and tumour types shown; None
        when no dataset is under review."""
        if self.session is None:
            return None
        return corrections_report(self.session.store, self.cases())

    def write_report(self, path: str | Path) -> Path:
        """:meth:`report` as CSV at ``path``."""
        report = self.report()
        if report is None:
            raise CorrectionsError(Path(path), "no dataset under review")
        return self._write(report, path)

    def _write(self, report: pd.DataFrame, path: str | Path) -> Path:
        """``report`` written at ``path``, unless that replaces a file of the dataset under
        review or any file the viewer reads (another layer's case, the dataset table's CSV):
        a WriteError naming the file."""
        refuse_viewer_sources(self.viewer, path)
        return write_report(report, path, *self._report_sources())

    def _report_sources(self) -> tuple[list[Path], list[str]]:
        """What the report must never replace: the store under review (its ``review.csv``,
        ``log.csv``, masks) and the dataset's case files (a name typed in the file dialog
        may be one)."""
        if self.session is None:
            return [], []
        return [self.session.store.root], [ref.path for ref in self.session.refs]

    # -- events ----------------------------------------------------------------------------
    def _on_session_event(self, index: int, event: str) -> None:
        self._refresh()  # a save that failed is told by the session's reader (_warn_problem)
        self._select_row(self.current_index())

    def _follow_viewer(self, *_: Any) -> None:
        if self.session is not None and len(self.session.refs) > 1:
            self._select_row(self.current_index())

    def _select_row(self, index: int) -> None:
        if not 0 <= index < len(self.model.frame):
            return
        for row in self.model.view_rows([index]).tolist():  # none if filtered out
            self.table.blockSignals(True)
            self.table.selectRow(row)
            self.table.blockSignals(False)

    def _pick_store(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for this dataset's corrections")
        if folder and self.session is not None:
            self.session.relocate(folder)
            self._refresh()

    def _pick_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Corrections report", "", "CSV (*.csv)")
        report = self.report() if path else None  # nothing built for a cancelled dialog
        if report is not None:
            try:
                written = self._write(report, path)
            except WriteError as exc:
                show_error(str(exc))
                return
            show_info(f"{report_summary(report)}: {written}")
