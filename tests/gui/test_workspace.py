"""The workspace at 1366x768: a dataset open and every dock of the manifest docked as
Plugins > napari-radiomics docks them, the window still fits the screen, the canvas stays the
centre, each table shows rows and each plot has room. The window is sized to the laptop's
screen whatever the display (CI's Xvfb screen is larger); its minimum size is checked against
that size, which holds on any screen."""

from __future__ import annotations

import gc
import warnings
import weakref
from pathlib import Path

import pytest
import yaml
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from qtpy.QtCore import QCoreApplication, QEvent, Qt, QThreadPool
from qtpy.QtWidgets import QDockWidget, QScrollArea, QTableView

from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._plot_request import DISTRIBUTIONS, SCATTER
from napari_radiomics._napari._plots_widget import PlotsWidget
from napari_radiomics.corrections import session_for
from sample_files import write_mat_folder

MANIFEST = Path(__file__).resolve().parents[2] / "napari.yaml"
PLUGIN = "napari-radiomics"
ALWAYS_OFF = Qt.ScrollBarPolicy.ScrollBarAlwaysOff
SCREENS = [(1366, 768), (1920, 1080)]  # a laptop; a 4K screen at 200% scaling, logically


def _dock_names() -> list[str]:
    widgets = yaml.safe_load(MANIFEST.read_text())["contributions"]["widgets"]
    return [w["display_name"] for w in widgets]


@pytest.fixture(scope="module")
def twelve_slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("twelve") / "dataset"
    write_mat_folder(folder, 12)
    return folder


def _workspace(make_napari_viewer, qtbot, folder: Path, size: tuple[int, int]):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(*size)
    viewer.open(str(folder), plugin=PLUGIN)
    for name in _dock_names():
        viewer.window.add_plugin_dock_widget(PLUGIN, name)
    window.resize(*size)
    qtbot.wait(50)
    return viewer, window


def _ours(window) -> list[QDockWidget]:
    return [d for d in window.findChildren(QDockWidget) if f"({PLUGIN})" in d.windowTitle()]


@pytest.mark.parametrize("size", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_dock_open_fits_the_screen(make_napari_viewer, qtbot, twelve_slices, size) -> None:
    width, height = size
    viewer, window = _workspace(make_napari_viewer, qtbot, twelve_slices, size)
    docks = _ours(window)
    assert len(docks) == len(_dock_names())
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    assert minimum.width() <= width, minimum
    assert minimum.height() <= height, minimum
    assert (window.width(), window.height()) == size
    canvas = viewer.window._qt_viewer.canvas.native
    assert canvas.width() >= 0.4 * width, canvas.width()
    assert canvas.height() >= 0.5 * height, canvas.height()
    for dock in docks:  # each dock in turn, as its tab is chosen
        dock.raise_()
        qtbot.wait(20)
        assert dock.visibleRegion().boundingRect().height() > 0, dock.windowTitle()
        for table in dock.findChildren(QTableView):
            if not table.isVisible():
                continue  # in a tab of the dock that is not chosen
            shown = table.viewport().visibleRegion().boundingRect().height()
            rows = shown / table.verticalHeader().defaultSectionSize()
            assert rows >= 4, (dock.windowTitle(), type(table.parentWidget()).__name__, rows)
        for plot in dock.findChildren(FigureCanvasQTAgg):
            if plot.isVisible():
                shown = plot.visibleRegion().boundingRect().height()
                assert shown >= 220, (dock.windowTitle(), shown)
        for area in dock.findChildren(QScrollArea):  # scrolls up and down, never sideways
            if area.isVisible() and area.horizontalScrollBarPolicy() == ALWAYS_OFF:
                needed = area.widget().minimumSizeHint().width()
                assert area.viewport().width() >= needed, (dock.windowTitle(), needed)


def test_plots_at_1366x768_draw_without_warnings(
    make_napari_viewer, qtbot, twelve_slices, batch_features
) -> None:
    """A squeezed canvas made matplotlib's constrained layout give up with a warning, which
    napari shows as a notification over the image."""
    viewer, _ = _workspace(make_napari_viewer, qtbot, twelve_slices, SCREENS[0])
    plots = next(w for w in viewer.window.dock_widgets.values() if isinstance(w, PlotsWidget))
    plots.parentWidget().raise_()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        show_features(viewer, batch_features)
        qtbot.waitUntil(lambda: not plots.frame.empty, timeout=60_000)
        for kind in [*DISTRIBUTIONS, SCATTER]:
            plots.kind.setCurrentText(kind)
            qtbot.waitUntil(lambda: not plots.status.text().startswith("Drawing"), timeout=60_000)
            assert plots.plot is not None, plots.status.text()
            plots.canvas.draw()
            qtbot.wait(20)
    layout_warnings = [w for w in caught if issubclass(w.category, UserWarning)]
    assert not layout_warnings, [str(w.message) for w in layout_warnings]


def test_a_dock_the_user_moved_stays_where_napari_remembers_it(
    make_napari_viewer, qtbot, monkeypatch
) -> None:
    """The arrangement is a first placement only: a dock napari opens elsewhere than its
    default (the right), as it does where the user dragged it before, is neither moved nor
    tabbed; the others still find their stacks."""
    from napari.settings import get_settings

    name = f"Dataset table ({PLUGIN})"
    positions = dict(get_settings().application.plugin_widget_positions)
    monkeypatch.setattr(
        get_settings().application, "plugin_widget_positions", {**positions, name: "left"}
    )
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    docks = {n: viewer.window.add_plugin_dock_widget(PLUGIN, n)[0] for n in _dock_names()}
    qtbot.wait(20)
    left, bottom, right = (Qt.DockWidgetArea.LeftDockWidgetArea,
                           Qt.DockWidgetArea.BottomDockWidgetArea,
                           Qt.DockWidgetArea.RightDockWidgetArea)  # fmt: skip
    assert window.dockWidgetArea(docks["Dataset table"]) == left
    assert window.dockWidgetArea(docks["Feature results"]) == bottom
    assert window.dockWidgetArea(docks["Extract features"]) == right
    assert docks["Batch extraction"] in window.tabifiedDockWidgets(docks["Extract features"])


def test_tabbing_a_dock_writes_naparis_settings_once(
    make_napari_viewer, qtbot, monkeypatch
) -> None:
    """napari writes its settings file when a dock reaches an area; tabbing a dock with ours
    in the same area changes nothing it stores, so the docking writes it once, not twice."""
    from napari.settings import get_settings

    settings = type(get_settings())
    saves: list[str] = []
    save = settings._maybe_save

    def counted(self, *args, **kwargs):  # the real save, counted
        saves.append("save")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(settings, "_maybe_save", counted)
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    first = viewer.window.add_plugin_dock_widget(PLUGIN, "Extract features")[0]
    qtbot.wait(20)
    saves.clear()
    second = viewer.window.add_plugin_dock_widget(PLUGIN, "Tumour-type model")[0]
    qtbot.wait(20)
    assert second in window.tabifiedDockWidgets(first)
    assert len(saves) == 1
    right = Qt.DockWidgetArea.RightDockWidgetArea
    assert get_settings().application.plugin_widget_positions[second.name] == "right"
    assert window.dockWidgetArea(second) == right


@pytest.mark.parametrize("name", _dock_names())
def test_a_closed_dock_is_let_go(make_napari_viewer, qtbot, twelve_slices, name) -> None:
    """A dock the user closes is freed, and the dataset's corrections session stops calling
    it at its next event: a closed Review dock stayed alive through the session's listeners,
    refreshing its hidden table of every case at each status change and each slice moved to.
    (A dock's runner may be cleared by the garbage collector before napari deletes the dock:
    the dock's deletion then raised in the event loop.)"""
    viewer = make_napari_viewer()
    viewer.open(str(twelve_slices), plugin=PLUGIN)
    session = next(session_for(layer.data) for layer in viewer.layers if session_for(layer.data))
    listeners = list(session.listeners)
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    qtbot.wait(50)
    gone = weakref.ref(widget)
    viewer.window.remove_dock_widget(dock)  # as its close button does
    del dock, widget
    QThreadPool.globalInstance().waitForDone(30_000)  # a run the dock started ends
    qtbot.wait(50)  # and its end is delivered
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # napari's deleteLater
    gc.collect()
    assert gone() is None
    session.set_status(0, "flagged")  # an event: what listened to it for the dock goes
    assert session.listeners == listeners
