"""The "Feature plots" dock: the plots of ``analysis.plots`` in a Qt canvas, selectable.

The figures are the core's (the CLI's report draws the same ones), restyled from napari's
current theme. Selecting points (lasso, rectangle or click) emits ``rows_selected`` with row
positions of the table shown; :func:`link` connects that to the dataset table both ways. The
ranked feature table (``analysis.ranking``) sits below the plot: clicking a feature plots its
distribution. Beside it, in a tab, the clustering panel (``_cluster_panel``): its clusters
become a ``cluster`` column of the rows plotted, which colours the plot and selects back.
Every figure is built in a worker thread (a PCA of 3064 x 1,500 takes seconds, even a box
plot of 3064 points a noticeable moment), and so are the ranking and the clustering; only
the newest request's result is shown, so one that arrives after the table or the controls
changed is dropped. The worker also lays the figure out at the canvas' size
(``analysis.plots.fix_layout``), so the GUI thread only paints it, in Qt's canvas; a canvas
that changes size asks for a figure laid out anew.

A labels layer's ``features`` can be plotted instead of the table: its rows are that image's
labels, so a selection there picks the label in the layer rather than rows of the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.widgets import LassoSelector, RectangleSelector
from napari.layers import Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._cluster_panel import ClusterPanel
from napari_radiomics._napari._controls import docked
from napari_radiomics._napari._plot_link import RowTable, link
from napari_radiomics._napari._plot_request import (
    DISTRIBUTIONS,
    OVERVIEWS,
    PROJECTIONS,
    SCATTER,
    PlotRequest,
    plot_theme,
)
from napari_radiomics._napari._ranking_panel import RankingPanel
from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._workspace import SIDE, StatusLine, narrow, plot_canvas, settle
from napari_radiomics.analysis.clustering import CLUSTER_COLUMN
from napari_radiomics.analysis.plots import Plot, projection_methods, save_figure
from napari_radiomics.columns import DEFAULT_TARGET
from napari_radiomics.errors import WriteError
from napari_radiomics.results import feature_columns

if TYPE_CHECKING:
    import napari

TABLE = "Dataset table"
NONE = "(none)"
TOOLS = ("Lasso", "Rectangle", "Click")


def link_docked(viewer: napari.viewer.Viewer, widget: QWidget) -> None:
    """Link ``widget`` (a new dataset table or plots dock) with the other kind already docked
    in ``viewer``, so that opening both from the Plugins menu, in either order, links them."""
    from napari_radiomics._napari._dataset_table import DatasetTableWidget

    if isinstance(widget, PlotsWidget):
        table = next(iter(docked(viewer, DatasetTableWidget)), None)
        if table is not None:
            link(table, widget)
        return
    for plots in docked(viewer, PlotsWidget):
        if plots.linked is None:
            link(widget, plots)


class PlotsWidget(QWidget):
    """Choose a plot, its feature(s) and colour column; select points; rank features."""

    #: 0-based row positions of the table, selected in a plot
    rows_selected = Signal(list)

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.plot: Plot | None = None
        self.highlighted: list[int] = []
        self.runner = Runner(self)  # the figures being built; only the newest is shown
        self.runner.signals.finished.connect(lambda plot, _seconds: self._show(plot))
        self.runner.signals.failed.connect(lambda text: self._show(None, f"Cannot plot: {text}"))
        self._table = pd.DataFrame()
        self._selector: Any = None
        self.linked: RowTable | None = None  # the table linked by link()
        # A canvas resized for longer than a moment gets a figure laid out at its new size.
        self._relayout = QTimer(self, singleShot=True, interval=300)
        self._relayout.timeout.connect(self.replot)

        self.source = QComboBox()
        self.kind = QComboBox()
        available = [k for k, v in PROJECTIONS.items() if v in projection_methods()]
        self.kind.addItems([*DISTRIBUTIONS, SCATTER, *available, *OVERVIEWS])
        self.feature_x, self.feature_y = QComboBox(), QComboBox()
        for combo in (self.feature_x, self.feature_y):
            combo.setEditable(True)  # typing completes among a thousand names
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.colour = QComboBox()
        self.chart = QComboBox()
        self.chart.addItems(["Bar", "Pie"])
        self.tool = QComboBox()
        self.tool.addItems(TOOLS)
        self.save_button = QPushButton("Save PNG/SVG…")
        self.status = StatusLine(lines=1)  # changing text leaves the canvas its size
        self.canvas = plot_canvas()
        self.ranking = RankingPanel()
        self.clustering = ClusterPanel()

        # Two fields a row: the canvas and the ranking share the dock's height (_workspace).
        form = QGridLayout()
        fields = (("Data", self.source), ("Plot", self.kind), ("Feature", self.feature_x),
                  ("Second", self.feature_y), ("Colour by", self.colour),
                  ("Chart", self.chart), ("Select with", self.tool))  # fmt: skip
        for n, (title, field) in enumerate(fields):
            narrow(field, 6)  # the dock stays narrow beside the canvas
            form.addWidget(QLabel(title), n // 2, n % 2 * 2)
            form.addWidget(field, n // 2, n % 2 * 2 + 1)
        form.addWidget(self.save_button, len(fields) // 2, 3)
        for column in (1, 3):
            form.setColumnStretch(column, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(form)
        top_layout.addWidget(self.canvas, stretch=1)
        self._canvas_layout = top_layout
        top_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        below = QTabWidget()  # one at a time: the canvas keeps its height on a laptop
        below.addTab(self.ranking, "Ranked features")
        below.addTab(self.clustering, "Clusters")
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        QVBoxLayout(self).addWidget(splitter)
        settle(self, SIDE)

        for combo in (self.kind, self.colour, self.chart):
            combo.currentIndexChanged.connect(self.replot)
        for combo in (self.feature_x, self.feature_y):
            combo.activated.connect(self.replot)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.tool.currentIndexChanged.connect(self._attach_selector)
        self.save_button.clicked.connect(self._save_dialog)
        self.ranking.feature_chosen.connect(self.plot_feature)
        self.clustering.clustered.connect(self.add_clusters)
        self.clustering.rows_chosen.connect(self.select)
        viewer.events.theme.connect(self.replot)
        viewer.layers.events.inserted.connect(self._refresh_sources)
        viewer.layers.events.removed.connect(self._refresh_sources)
        self._refresh_sources()
        link_docked(viewer, self)

    # -- data -----------------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """The rows plotted: the dataset table, or the chosen labels layer's ``features``."""
        layer = self._layer()
        return self._table if layer is None else layer.features

    def set_table(self, frame: pd.DataFrame) -> None:
        """Plot this table (a features table: identifying columns, then features)."""
        self._table = frame
        self.highlighted = []
        self.source.blockSignals(True)
        self.source.setCurrentIndex(0)
        self.source.blockSignals(False)
        self._source_changed()

    def _layer(self) -> Labels | None:
        name = self.source.currentText()
        if name in ("", TABLE) or name not in self.viewer.layers:
            return None
        return self.viewer.layers[name]

    def _refresh_sources(self, *_: Any) -> None:
        """Offer the table and every labels layer with features (they arrive after an
        extraction, so each layer's ``features`` event refreshes the list too)."""
        current = self.source.currentText()
        labels = [layer for layer in self.viewer.layers if isinstance(layer, Labels)]
        for layer in labels:
            layer.events.features.connect(self._features_changed)
        names = [layer.name for layer in labels if len(layer.features.columns) > 1]
        self.source.blockSignals(True)
        self.source.clear()
        self.source.addItems([TABLE, *names])
        if current in names:
            self.source.setCurrentText(current)
        self.source.blockSignals(False)

    def _features_changed(self, event: Any) -> None:
        self._refresh_sources()
        if event.source is self._layer():
            self._source_changed()

    def _source_changed(self, *_: Any) -> None:
        """New rows: offer their features and columns, forget the selection, plot."""
        frame = self.frame
        features = feature_columns(frame) or [
            c for c in frame.columns if c != "index" and pd.api.types.is_numeric_dtype(frame[c])
        ]
        plotted = set(features)  # a list's `in` made this 2 million comparisons at 1500
        others = [c for c in frame.columns if c not in plotted]
        for combo, names in (
            (self.feature_x, features),
            (self.feature_y, features),
            (self.colour, [*others, NONE]),
        ):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([str(n) for n in names])
            if DEFAULT_TARGET in names:
                combo.setCurrentText(DEFAULT_TARGET)
            combo.blockSignals(False)
        self.feature_y.setCurrentIndex(min(1, len(features) - 1))  # a second feature
        self.ranking.set_frame(frame, [str(c) for c in others])
        self.clustering.set_frame(frame)
        self.highlighted = []
        self.replot()

    # -- plotting -------------------------------------------------------------------------
    def replot(self, *_: Any) -> None:
        """Draw the chosen plot of the current rows. The figure is built in a worker thread
        (at 3064 rows, a PCA takes seconds and even a box plot a noticeable moment); only
        the newest request is shown."""
        frame, kind = self.frame, self.kind.currentText()
        self.feature_x.setEnabled(kind in DISTRIBUTIONS or kind == SCATTER)
        self.feature_y.setEnabled(kind == SCATTER)
        self.chart.setEnabled(kind in OVERVIEWS)
        if frame.empty:
            self.runner.supersede()
            self._show(None)
            return
        colour = None if self.colour.currentText() in ("", NONE) else self.colour.currentText()
        request = PlotRequest(
            kind, self.feature_x.currentText(), self.feature_y.currentText(), colour,
            self.chart.currentText().lower(), plot_theme(self.viewer),
            tuple(self.canvas.figure.get_size_inches()),
        )  # fmt: skip
        self.status.setText(f"Drawing: {kind}…")
        self.runner.run(lambda _progress: request.build(frame), f"Drawing: {kind}")

    def _show(self, plot: Plot | None, message: str = "") -> None:
        """Put a plot's figure in the canvas, restore the highlight, attach the selector."""
        self.plot = plot
        self.status.setText(message)
        if plot is not None:
            self._laid_out = plot.figure.get_size_inches().copy()
        # A canvas per figure: matplotlib keeps a canvas' event connections in its figure.
        canvas = plot_canvas(None if plot is None else plot.figure)
        self._canvas_layout.replaceWidget(self.canvas, canvas)
        self.canvas.hide()  # deleted when control returns to the event loop
        self.canvas.deleteLater()
        self.canvas = canvas
        canvas.mpl_connect("button_press_event", self._clicked)
        canvas.mpl_connect("resize_event", self._resized)
        if plot is not None:
            plot.highlight(self.highlighted)
        self._attach_selector()
        canvas.draw_idle()

    def _resized(self, _event: Any) -> None:
        """The layout was made for the size asked for: a canvas of another size (docked,
        dragged) asks for the figure again, once it stays that size."""
        plot = self.plot
        if plot is not None and not np.allclose(
            plot.figure.get_size_inches(), self._laid_out, rtol=0.02
        ):
            self._relayout.start()
        else:  # back to the size laid out for (a layout passing through another size)
            self._relayout.stop()

    def _attach_selector(self, *_: Any) -> None:
        if self._selector is not None:
            self._selector.set_active(False)
            self._selector = None
        plot = self.plot
        if plot is None or plot.axes is None:
            return
        tool = self.tool.currentText()
        if tool == "Lasso":
            self._selector = LassoSelector(plot.axes, self._lassoed, useblit=False)
        elif tool == "Rectangle":
            self._selector = RectangleSelector(plot.axes, self._rectangle, useblit=False)

    def _lassoed(self, vertices: Sequence[tuple[float, float]]) -> None:
        if self.plot is not None:
            self.select(self.plot.rows_in_polygon(vertices))

    def _rectangle(self, press: Any, release: Any) -> None:
        if self.plot is not None and None not in (press.xdata, release.xdata):
            corners = (press.xdata, press.ydata), (release.xdata, release.ydata)
            self.select(self.plot.rows_in_rectangle(*corners))

    def _clicked(self, event: Any) -> None:
        plot = self.plot
        if self.tool.currentText() != "Click" or plot is None or event.inaxes is not plot.axes:
            return
        row = plot.nearest_row(event.xdata, event.ydata)
        self.select([] if row is None else [row])

    def select(self, rows: Sequence[int]) -> None:
        """Rows chosen in the plot: ring them; for the table, emit ``rows_selected``; for a
        labels layer, make the first row's label the layer's selected label."""
        self.highlight_rows(rows)
        layer = self._layer()
        if layer is None:
            self.rows_selected.emit(list(self.highlighted))
        elif self.highlighted and "index" in layer.features.columns:
            layer.selected_label = int(layer.features["index"].iloc[self.highlighted[0]])

    def highlight_rows(self, rows: Sequence[int]) -> None:
        """Mark rows selected elsewhere (the table); emits nothing."""
        self.highlighted = sorted({int(r) for r in rows})
        if self.plot is not None:
            self.plot.highlight(self.highlighted)
            self.canvas.draw_idle()

    def save(self, path: str) -> None:
        """Save the current figure as PNG or SVG (by the suffix); a file the viewer reads
        (by any name: a hard link to a case) is refused with a WriteError."""
        if self.plot is None:
            raise ValueError("nothing is plotted yet")
        refuse_viewer_sources(self.viewer, path)
        save_figure(self.plot.figure, path)

    def _save_dialog(self) -> None:
        path = QFileDialog.getSaveFileName(self, "Save plot", "", "*.png *.svg")[0]
        if path:
            try:
                self.save(path)
            except WriteError as exc:
                show_error(f"Plot not saved: {exc}")
            except (ValueError, OSError) as exc:
                self.status.setText(f"Not saved: {exc}")
            else:
                self.status.setText(f"Saved {path}")

    # -- ranking --------------------------------------------------------------------------
    def plot_feature(self, feature: str, group: str) -> None:
        """Plot one feature's distribution by ``group`` (a ranked feature was clicked)."""
        if self.kind.currentText() not in DISTRIBUTIONS:
            self.kind.blockSignals(True)
            self.kind.setCurrentText("Box")
            self.kind.blockSignals(False)
        self.colour.blockSignals(True)
        self.colour.setCurrentText(group)
        self.colour.blockSignals(False)
        self.feature_x.setCurrentText(feature)
        self.replot()

    # -- clustering -----------------------------------------------------------------------
    def add_clusters(self, clusters: Any) -> None:
        """A clustering of the rows plotted becomes their ``cluster`` column (a new table in
        the linked dataset table, or new features of the labels layer), and colours them."""
        frame = self.frame.assign(**{CLUSTER_COLUMN: clusters})
        layer = self._layer()
        if layer is not None:
            layer.features = frame  # a new DataFrame: napari's features event fires
        elif self.linked is not None:
            self.linked.set_table(frame, self.linked.source)  # comes back through link()
        else:
            self.set_table(frame)
        self.colour.setCurrentText(CLUSTER_COLUMN)
