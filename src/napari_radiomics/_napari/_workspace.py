"""Where the plugin's docks go, so the workspace fits a 1366x768 screen with every dock open.

napari docks every plugin widget on the right, one under the other, each as tall as its form
asks: nine docks need a window over 4000 px tall. Two rules keep the image the centre instead:

- **Forms and plots** (``SIDE``: Extract, Batch, Maps, Model, Robustness, Review, Feature
  plots) share one tab stack on the right: each gets the full height of the window when its
  tab is chosen, and forms scroll (:func:`scrolling`) rather than demand height.
- **Wide tables** (``BELOW``: Feature results, Dataset table, IBSI compliance) share one tab
  stack under the canvas, where a table grows a column per run and a row per case and still
  leaves the canvas most of the height.

A dock is placed once, when napari first docks it; one napari puts elsewhere than its default
(the right), because the user moved it there before, stays there, and the user can drag, float
or untab every dock afterwards. The
Feature plots dock sits in the side stack, not below the dataset table, so that the table and
the plot are visible together and a selection in one shows in the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, QObject, QRect, QSize, Qt
from qtpy.QtGui import QResizeEvent
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFrame,
    QGridLayout,
    QLabel,
    QLayout,
    QListView,
    QMainWindow,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._table_model import DataFrameModel, table_view

if TYPE_CHECKING:
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

SIDE = "right"
BELOW = "bottom"
#: Share of the window a first dock of an area takes: the canvas keeps >= 40% of the width
#: beside napari's own layer docks, and >= 50% of the height above the tables.
SHARE = {SIDE: 0.3, BELOW: 0.33}
#: Height of a plot canvas: below it, matplotlib cannot lay out a labelled axes.
PLOT_HEIGHT = 240
_AREAS = {
    SIDE: Qt.DockWidgetArea.RightDockWidgetArea,
    BELOW: Qt.DockWidgetArea.BottomDockWidgetArea,
}


class ChoiceGrid(QWidget):
    """Check boxes (under a title), in as many columns (up to four) as the width takes: a
    dock narrowed below four columns' width cut the last column's boxes off, unseen."""

    COLUMNS = 4

    def __init__(self, title: str | None = None) -> None:
        super().__init__()
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._title = QLabel(f"<b>{title}</b>") if title else None
        self._boxes: list[QWidget] = []
        self.columns = 0

    def place(self, boxes: list[QWidget]) -> None:
        self._boxes = boxes
        widest = max((box.sizeHint().width() for box in boxes), default=0)
        self.setMinimumWidth(widest)  # one column: every box whole
        self._arrange(self.COLUMNS)

    def _fitting(self, width: int) -> int:
        """The most columns whose boxes fit whole in ``width``."""
        spacing = max(self._layout.horizontalSpacing(), 0)
        widths = [box.sizeHint().width() for box in self._boxes]
        for columns in range(self.COLUMNS, 1, -1):
            needed = sum(max(widths[c::columns], default=0) for c in range(columns))
            if needed + spacing * (columns - 1) <= width:
                return columns
        return 1

    def _arrange(self, columns: int) -> None:
        if columns == self.columns:
            return
        self.columns = columns
        for box in self._boxes:
            self._layout.removeWidget(box)
        first = 0
        if self._title is not None:
            self._layout.removeWidget(self._title)
            self._layout.addWidget(self._title, 0, 0, 1, columns)
            first = 1
        for i, box in enumerate(self._boxes):
            self._layout.addWidget(box, first + i // columns, i % columns)
        for column in range(self.COLUMNS):  # equal columns, as many as are used
            self._layout.setColumnStretch(column, int(column < columns))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(self._fitting(event.size().width()))
        super().resizeEvent(event)


class _VerticalScroll(QScrollArea):
    """Scrolls up and down only, so it is never narrower than what it holds: without a
    horizontal bar, a dock narrowed below its form's minimum width cut the form's right
    edge off, with nothing to say so (the Extract dock's last column of check boxes)."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is None:
            return hint
        bar = self.verticalScrollBar().sizeHint().width()
        width = content.minimumSizeHint().width() + bar + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # what it holds changed its minimum (a section opened)
        return super().eventFilter(watched, event)


def scroll_area(content: QWidget) -> QScrollArea:
    """``content`` in a vertical scroll area: a form taller than the screen scrolls instead of
    raising the window's minimum height."""
    area = _VerticalScroll()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(content)
    return area


def compact(content: QWidget) -> None:
    """No margins around the rows nested inside ``content`` (magicgui gives every nested
    container its own): a form shows twice as many fields before it has to scroll."""
    for layout in content.findChildren(QLayout):
        layout.setContentsMargins(0, 0, 0, 0)


def scrolling(widget: QWidget) -> QVBoxLayout:
    """Give ``widget`` a :func:`scroll_area` and return the layout to fill inside it."""
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    inner = QWidget()
    outer.addWidget(scroll_area(inner))
    return QVBoxLayout(inner)


def narrow(combo: QComboBox, characters: int = 8) -> None:
    """Size ``combo`` by a few characters, not by its longest item (a feature name or a run
    column's title): a dock as wide as its longest name would take the canvas' width.

    Its list is told that every item is one line as tall as the others, as a list of names
    is: otherwise the list measures each of them whenever the combo is docked and styled,
    and with a feature table's 1500 names in the plots dock's three combos that was 60 ms
    of its docking on the GUI thread."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(characters)
    view = combo.view()
    if isinstance(view, QListView):
        view.setUniformItemSizes(True)


def show_rows(table: QAbstractItemView, rows: int = 4) -> None:
    """Never let ``table`` shrink below ``rows`` rows and its header: a table squeezed to one
    row cannot be read, and it only needs a little height to be useful."""
    header = getattr(table, "horizontalHeader", None)
    above = header().sizeHint().height() if header is not None else 0
    row = getattr(table, "verticalHeader", None)
    height = row().defaultSectionSize() if row is not None else table.sizeHintForRow(0)
    table.setMinimumHeight(above + rows * height + 2 * table.frameWidth() + 2)


def row_table(model: DataFrameModel) -> QTableView:
    """A view of ``model`` (``_table_model.table_view``) sorted by a click on a header,
    selecting whole rows, and never shorter than :func:`show_rows`' rows: the plugin's tables
    of results, one row each."""
    view = table_view(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    show_rows(view)
    return view


class StatusLine(QLabel):
    """A word-wrapped status line that keeps the height of ``lines`` lines whatever it says.

    An empty label is a pixel shorter than one with text, and a wrapped message a line
    taller: beside a plot canvas each change of text took the height from the canvas (the
    splitter above the ranking and clustering panels gives a pane what its minimum grows by,
    and never gives it back), and every resize of the canvas asked for the figure again."""

    def __init__(self, text: str = "", lines: int = 1) -> None:
        super().__init__(text)
        self.setWordWrap(True)
        self._lines = lines

    def _reserved(self) -> int:
        """The height of ``lines`` lines of text, measured as QLabel measures its text."""
        bounds = QRect(0, 0, 1 << 20, 1 << 20)
        sample = "\n".join("X" * self._lines)
        text = self.fontMetrics().boundingRect(bounds, Qt.TextFlag.TextWordWrap, sample)
        margins = self.contentsMargins()
        return text.height() + margins.top() + margins.bottom() + 2 * self.margin()

    def heightForWidth(self, width: int) -> int:
        """Qt's layouts ask a word-wrapped label this, not its size hints."""
        return max(super().heightForWidth(width), self._reserved())

    def minimumSizeHint(self) -> QSize:
        """At least the reserved lines."""
        hint = super().minimumSizeHint()
        return QSize(hint.width(), max(hint.height(), self._reserved()))

    def sizeHint(self) -> QSize:
        """At least the reserved lines."""
        hint = super().sizeHint()
        return QSize(hint.width(), max(hint.height(), self._reserved()))


def plot_canvas(figure: Figure | None = None) -> FigureCanvasQTAgg:
    """A Qt canvas for ``figure`` never shorter than :data:`PLOT_HEIGHT`: in a squeezed canvas
    matplotlib's constrained layout gives up and warns (a warning napari shows over the
    image), and the plot is unreadable anyway.

    matplotlib is imported here, not with the module: every form dock uses this module, and
    importing matplotlib (0.3-0.8 s) when docking one that draws nothing blocked the event
    loop for as long."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    canvas = FigureCanvasQTAgg(figure if figure is not None else Figure())
    canvas.setMinimumHeight(PLOT_HEIGHT)
    return canvas


def settle(widget: QWidget, area: str) -> None:
    """Place ``widget``'s dock in ``area`` and tab it with the plugin's docks there, once napari
    has docked it (the widget cannot know its dock before: napari builds it first)."""
    widget.installEventFilter(_Settler(widget, area))


class _Settler(QObject):
    """Waits for ``widget`` to be put in a dock, then for the dock to reach the main window."""

    def __init__(self, widget: QWidget, area: str) -> None:
        super().__init__(widget)
        self._area = area
        self._dock: QDockWidget | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """On the widget's first dock, wait for the dock to be added to the main window."""
        parent = watched.parentWidget() if isinstance(watched, QWidget) else None
        if (
            event.type() == QEvent.Type.ParentChange
            and self._dock is None
            and isinstance(parent, QDockWidget)
        ):
            self._dock = parent
            parent.dockLocationChanged.connect(self._docked)
        return False

    def _docked(self, *_: Any) -> None:
        dock = self._dock
        window = dock.parentWidget() if dock is not None else None
        if dock is None or not isinstance(window, QMainWindow):
            return
        dock.dockLocationChanged.disconnect(self._docked)
        place(window, dock, self._area)


def place(window: QMainWindow, dock: QDockWidget, area: str) -> None:
    """Move ``dock`` to ``area`` (unless the user chose another place before: napari put it
    elsewhere than its default, the right) and tab it with the plugin's docks already there;
    the first one of an area gets its :data:`SHARE`.

    The side areas take the bottom corners, so the area below holds the canvas' width only
    and napari's layer docks on the left keep the full height instead of adding to it."""
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    if window.dockWidgetArea(dock) == _AREAS[SIDE] and area != SIDE:
        window.addDockWidget(_AREAS[area], dock)
    where = window.dockWidgetArea(dock)
    others = [
        other
        for other in window.findChildren(QDockWidget)
        if other is not dock
        and not other.isFloating()
        and window.dockWidgetArea(other) == where
        and _ours(other)
    ]
    if others:
        # Tabbing docks it again in the same area, and napari answers the dock's location
        # signal by writing its whole settings file (40-70 ms, already written once when it
        # docked it): with the area unchanged, nothing napari stores or shows would change.
        blocked = dock.blockSignals(True)
        try:
            window.tabifyDockWidget(others[0], dock)
        finally:
            dock.blockSignals(blocked)
        dock.show()
        dock.raise_()
        return
    if where == _AREAS[BELOW]:
        window.resizeDocks([dock], [int(window.height() * SHARE[BELOW])], Qt.Orientation.Vertical)
    elif where == _AREAS[SIDE]:
        window.resizeDocks([dock], [int(window.width() * SHARE[SIDE])], Qt.Orientation.Horizontal)


def _ours(dock: QDockWidget) -> bool:
    """A dock holding one of this plugin's widgets (napari's own docks stay where they are)."""
    inner = getattr(dock.widget(), "_magic_widget", dock.widget())  # magicgui's, or a QWidget
    return inner is not None and type(inner).__module__.startswith(__package__ or "")
