"""The Feature plots dock in a real viewer, on a real batch output (run under Xvfb)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backend_bases import MouseEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.layout_engine import ConstrainedLayoutEngine
from qtpy.QtCore import QSize, Qt
from qtpy.QtGui import QResizeEvent
from qtpy.QtWidgets import QApplication, QSplitter, QTabWidget

from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._plot_request import DISTRIBUTIONS, OVERVIEWS, SCATTER
from napari_radiomics._napari._plots_widget import PlotsWidget
from napari_radiomics._napari._ranking_panel import RankingPanel
from napari_radiomics.analysis.plots import scatter_plot
from napari_radiomics.engine import extract_features
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import layer_features, read_table
from napari_radiomics.settings import ExtractionSettings
from sample_files import BATCH_PATIENTS as PATIENTS
from sample_files import BATCH_SLICES as SLICES

SETTINGS = ExtractionSettings(feature_classes={"firstorder": [], "glcm": [], "shape2D": []})
AREA, MEAN = "original_shape2D_PixelSurface", "original_firstorder_Mean"


@pytest.fixture
def features(batch_features: Path) -> pd.DataFrame:
    """The batch run's table, read back as the dock gets it."""
    return read_table(batch_features)


@pytest.fixture
def widget(make_napari_viewer, features: pd.DataFrame) -> PlotsWidget:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature plots")
    assert isinstance(widget, PlotsWidget)
    widget.set_table(features)
    return widget


def _mouse(widget: PlotsWidget, name: str, xy: tuple[float, float]) -> None:
    """A mouse event at data coordinates ``xy`` of the plot, as the canvas would send it."""
    x, y = widget.plot.axes.transData.transform(xy)
    event = MouseEvent(name, widget.canvas, x, y, button=1)
    widget.canvas.callbacks.process(name, event)


def _drag(widget: PlotsWidget, path: list[tuple[float, float]]) -> None:
    _mouse(widget, "button_press_event", path[0])
    for xy in path[1:]:
        _mouse(widget, "motion_notify_event", xy)
    _mouse(widget, "button_release_event", path[-1])


def _between(values: pd.Series) -> float:
    """A cut halfway between two distinct middle values: no point lies on it."""
    distinct = np.unique(values)
    return float(distinct[len(distinct) // 2 - 1] + distinct[len(distinct) // 2]) / 2


def _plotted(widget: PlotsWidget, qtbot) -> None:
    """Wait until the figure asked for is built (in the dock's worker thread) and shown."""
    qtbot.waitUntil(lambda: not widget.status.text().startswith("Drawing"), timeout=60_000)


def _scatter(widget: PlotsWidget, qtbot, tool: str) -> None:
    widget.tool.setCurrentText(tool)
    widget.kind.setCurrentText(SCATTER)
    widget.feature_x.setCurrentText(AREA)
    widget.feature_y.setCurrentText(MEAN)
    widget.replot()
    _plotted(widget, qtbot)
    widget.canvas.draw()


def _rank(panel: RankingPanel, qtbot) -> None:
    """Rank in the panel's worker thread and wait for the outcome."""
    panel.rank()
    assert panel.status.text() == "Ranking features…"
    qtbot.waitUntil(lambda: panel.status.text() != "Ranking features…", timeout=60_000)


def _colours(widget: PlotsWidget) -> int:
    widget.canvas.draw()
    pixels = np.asarray(widget.canvas.buffer_rgba()).reshape(-1, 4)
    return len(np.unique(pixels, axis=0))


def test_every_chart_draws_from_the_batch_output(widget: PlotsWidget, qtbot) -> None:
    kinds = [widget.kind.itemText(i) for i in range(widget.kind.count())]
    assert set(kinds) >= {*DISTRIBUTIONS, SCATTER, "PCA", "t-SNE", *OVERVIEWS}
    widget.feature_x.setCurrentText(AREA)
    _plotted(widget, qtbot)  # that change's own drawing, which may end at any moment
    for kind in kinds:
        charts = ["Bar", "Pie"] if kind in OVERVIEWS and kind != "Slices per patient" else [None]
        for chart in charts:
            if chart:
                widget.chart.setCurrentText(chart)
            if widget.kind.currentText() == kind:
                widget.replot()  # the kind shown already: no change to draw it again
            else:
                widget.kind.setCurrentText(kind)
            assert widget.status.text() == f"Drawing: {kind}…"  # in a worker thread
            _plotted(widget, qtbot)
            assert widget.status.text() == "", (kind, chart, widget.status.text())
            assert widget.canvas.figure is widget.plot.figure
            assert _colours(widget) > 20, (kind, chart)  # more than a blank canvas
            if kind in OVERVIEWS:
                assert len(widget.plot.rows) == 0
            else:
                assert sorted(widget.plot.rows) == list(range(SLICES))
    widget.kind.setCurrentText("Slices per patient")
    widget.chart.setCurrentText("Pie")
    _plotted(widget, qtbot)
    assert "bar chart only" in widget.status.text()
    assert widget.plot is None


def test_lasso_selection_emits_the_rows_inside(widget: PlotsWidget, qtbot) -> None:
    _scatter(widget, qtbot, "Lasso")
    frame = widget.frame
    cut = _between(frame[AREA])
    low, high = frame[MEAN].min(), frame[MEAN].max()
    left = frame[AREA].min() - 1
    lasso = [(left, low - 1), (cut, low - 1), (cut, high + 1), (left, high + 1), (left, low - 1)]
    expected = sorted(np.flatnonzero(frame[AREA] < cut).tolist())
    assert 0 < len(expected) < SLICES
    with qtbot.waitSignal(widget.rows_selected) as blocker:
        _drag(widget, lasso)
    assert blocker.args == [expected]
    assert widget.highlighted == expected
    rings = widget.plot.axes.collections[-1].get_offsets()
    np.testing.assert_array_equal(rings, frame[[AREA, MEAN]].to_numpy()[expected])


def test_rectangle_and_click_selection(widget: PlotsWidget, qtbot) -> None:
    _scatter(widget, qtbot, "Rectangle")
    frame = widget.frame
    cut = _between(frame[MEAN])
    corners = [(frame[AREA].min() - 1, cut), (frame[AREA].max() + 1, frame[MEAN].max() + 1)]
    with qtbot.waitSignal(widget.rows_selected) as blocker:
        _drag(widget, corners)
    assert blocker.args == [sorted(np.flatnonzero(frame[MEAN] >= cut).tolist())]

    widget.tool.setCurrentText("Click")
    with qtbot.waitSignal(widget.rows_selected) as blocker:
        _mouse(widget, "button_press_event", (frame[AREA].iloc[4], frame[MEAN].iloc[4]))
    assert blocker.args == [[4]]


def _constrained_position(widget: PlotsWidget) -> tuple[float, ...]:
    """Where constrained layout puts the axes of the plot shown, at its canvas' size."""
    plot = scatter_plot(widget.frame, AREA, MEAN, "tumor_type", widget.plot.theme)
    FigureCanvasAgg(plot.figure)
    plot.figure.set_size_inches(widget.canvas.figure.get_size_inches())
    plot.figure.canvas.draw()
    return plot.axes.get_position().bounds


def test_the_worker_lays_the_figure_out_for_the_canvas_and_again_after_a_resize(
    widget: PlotsWidget, qtbot
) -> None:
    """The GUI thread only paints: the figure arrives laid out for the canvas' size, and a
    canvas that changes size gets a figure laid out for its new size, still pickable."""
    _scatter(widget, qtbot, "Click")
    figure = widget.plot.figure
    assert not isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine)
    position = np.asarray(widget.plot.axes.get_position().bounds)
    np.testing.assert_allclose(position, _constrained_position(widget), atol=0.01)

    old = widget.canvas.size()
    new = QSize(old.width() + 160, old.height() - 40)
    widget.canvas.resize(new)  # the viewer is not shown: Qt would deliver this on show
    QApplication.sendEvent(widget.canvas, QResizeEvent(new, old))
    qtbot.waitUntil(lambda: widget.plot is not None and widget.plot.figure is not figure)
    _plotted(widget, qtbot)
    widget.canvas.draw()
    position = np.asarray(widget.plot.axes.get_position().bounds)
    np.testing.assert_allclose(position, _constrained_position(widget), atol=0.01)
    frame = widget.frame
    with qtbot.waitSignal(widget.rows_selected) as blocker:
        _mouse(widget, "button_press_event", (frame[AREA].iloc[4], frame[MEAN].iloc[4]))
    assert blocker.args == [[4]]


def test_only_the_newest_plot_is_shown(widget: PlotsWidget, qtbot) -> None:
    """A PCA still being computed when a box plot is asked for never replaces it."""
    widget.feature_x.setCurrentText(AREA)
    widget.kind.setCurrentText("PCA")
    projecting = widget.runner.worker
    widget.kind.setCurrentText("Box")
    _plotted(widget, qtbot)
    qtbot.waitUntil(lambda: not projecting.is_running, timeout=60_000)
    qtbot.wait(200)  # the PCA's result, had it not been dropped, would arrive meanwhile
    assert widget.plot.axes.get_ylabel() == AREA


def test_highlight_marks_rows_without_emitting(widget: PlotsWidget, qtbot) -> None:
    _scatter(widget, qtbot, "Lasso")
    with qtbot.assertNotEmitted(widget.rows_selected):
        widget.highlight_rows([5, 1])
    rings = widget.plot.axes.collections[-1].get_offsets()
    np.testing.assert_array_equal(rings, widget.frame[[AREA, MEAN]].to_numpy()[[1, 5]])
    widget.kind.setCurrentText("Box")  # the highlight follows to the next plot
    _plotted(widget, qtbot)
    rings = widget.plot.axes.collections[-1].get_offsets()
    np.testing.assert_array_equal(rings[:, 1], widget.frame[AREA].to_numpy()[[1, 5]])


def test_save_png_and_svg(widget: PlotsWidget, tmp_path: Path, qtbot) -> None:
    widget.kind.setCurrentText("Violin")
    _plotted(widget, qtbot)
    widget.save(str(tmp_path / "violin.png"))
    assert (tmp_path / "violin.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    widget.save(str(tmp_path / "violin.svg"))
    root = ElementTree.parse(tmp_path / "violin.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    with pytest.raises(ValueError, match=r"violin\.jpg: a figure is saved as \.png or \.svg"):
        widget.save(str(tmp_path / "violin.jpg"))


def test_ranked_feature_table_plots_the_clicked_feature(widget: PlotsWidget, qtbot) -> None:
    panel = widget.ranking
    assert panel.target.currentText() == "tumor_type"
    _rank(panel, qtbot)
    ranked = panel.ranked
    assert len(ranked) == len([c for c in widget.frame.columns if c.startswith("original_")])
    assert ranked.attrs["n"] == PATIENTS
    assert "with q < 0.05" in panel.status.text()
    widget.kind.setCurrentText(SCATTER)
    panel.view.sortByColumn(list(ranked.columns).index("rank"), Qt.SortOrder.DescendingOrder)
    index = panel.model.index(0, 0)  # the last-ranked feature, after the sort
    where = panel.view.visualRect(index).center()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    _plotted(widget, qtbot)
    assert widget.kind.currentText() == "Box"
    assert widget.feature_x.currentText() == ranked.index[-1]
    assert widget.plot.axes.get_ylabel() == ranked.index[-1]


def test_a_labels_layer_features_are_plotted_and_selection_picks_the_label(
    widget: PlotsWidget, qtbot
) -> None:
    tumour = make_synthetic_slice(seed=4)
    mask = tumour.mask.astype(np.uint8)
    mask[:10, :10] = 2
    mask[-12:, -12:] = 3
    frame = extract_features(tumour.image, mask, SETTINGS)
    layer = widget.viewer.add_labels(mask, name="mask")
    layer.features = layer_features(frame)
    assert widget.source.findText("mask") >= 0  # offered once it has features
    widget.source.setCurrentText("mask")
    assert len(widget.frame) == 3
    _scatter(widget, qtbot, "Click")
    (row,) = np.flatnonzero(layer.features["index"] == 3)
    with qtbot.assertNotEmitted(widget.rows_selected):  # rows of a layer, not of the table
        _mouse(widget, "button_press_event", tuple(layer.features[[AREA, MEAN]].iloc[row]))
    assert layer.selected_label == 3


def test_bad_input_is_a_message(widget: PlotsWidget, features: pd.DataFrame, qtbot) -> None:
    broken = features.assign(**{MEAN: np.where(features.index == 2, np.nan, features[MEAN])})
    widget.set_table(broken)
    widget.feature_x.setCurrentText(MEAN)
    widget.replot()
    _plotted(widget, qtbot)
    assert f"Cannot plot: feature column(s) ['{MEAN}'] hold NaN" in widget.status.text()
    widget.set_table(features.assign(tumor_type="glioma"))
    _rank(widget.ranking, qtbot)
    assert "target column 'tumor_type' has a single class" in widget.ranking.status.text()


def test_the_dataset_table_and_the_plots_link_both_ways(
    widget: PlotsWidget, features: pd.DataFrame, qtbot
) -> None:
    """The plots dock is open; the dataset table docked after it links to it by itself."""
    table = show_features(widget.viewer, features.iloc[:8])
    assert widget.linked is table
    assert len(widget.frame) == 8
    table.table.selectRow(2)  # the user's selection in the table
    assert widget.highlighted == [2]
    _scatter(widget, qtbot, "Click")
    emitted: list[list[int]] = []
    widget.rows_selected.connect(emitted.append)
    _mouse(widget, "button_press_event", tuple(widget.frame[[AREA, MEAN]].iloc[3]))
    assert table.selected_rows() == [3]
    assert emitted == [[3]]  # the table's echo did not come back as a second selection
    assert widget.highlighted == [3]
    show_features(widget.viewer, features.iloc[:5])  # a new table in the dock: plotted too
    assert len(widget.frame) == 5


def _cluster(widget: PlotsWidget, qtbot) -> None:
    """Cluster in the panel's worker thread and wait for the outcome."""
    widget.clustering.cluster()
    qtbot.waitUntil(lambda: widget.clustering.status.text() != "Clustering…", timeout=60_000)


def test_clusters_become_a_table_column_that_colours_and_selects(
    widget: PlotsWidget, features: pd.DataFrame, qtbot, tmp_path: Path
) -> None:
    """The clustering the CLI writes becomes the dataset table's ``cluster`` column: the plot
    is coloured by it, and choosing a cluster selects its rows in the plot and the table."""
    from napari_radiomics.cli import main

    table = show_features(widget.viewer, features)
    assert widget.linked is table
    panel = widget.clustering
    assert not panel.select_button.isEnabled()  # nothing clustered yet
    widget.kind.setCurrentText("PCA")
    _plotted(widget, qtbot)
    panel.method.setCurrentText("gmm")
    panel.space.setCurrentText("pca")
    _cluster(widget, qtbot)
    assert "adjusted Rand" in panel.status.text(), panel.status.text()
    _plotted(widget, qtbot)
    assert "cluster" in table.frame.columns
    assert len(table.frame) == len(features)
    features.to_csv(tmp_path / "features.csv", index=False)
    argv = ["cluster", str(tmp_path / "features.csv"), "-o", str(tmp_path / "cli")]
    assert main([*argv, "--method", "gmm", "--space", "pca"]) == 0
    cli = read_table(tmp_path / "cli" / "clusters.csv")
    np.testing.assert_array_equal(table.frame["cluster"], cli["cluster"].astype(int))
    assert widget.colour.currentText() == "cluster"
    assert widget.plot.axes.get_legend().get_title().get_text() == "cluster"
    first = int(table.frame["cluster"].iloc[0])
    panel.chosen.setCurrentText(str(first))
    panel.select_button.click()
    members = list(np.flatnonzero(table.frame["cluster"] == first))
    assert table.selected_rows() == members
    assert widget.highlighted == members
    panel.per.setCurrentText("slice")  # clustering again replaces the column
    _cluster(widget, qtbot)
    assert list(table.frame.columns).count("cluster") == 1


def test_clustering_bad_input_is_a_message(
    widget: PlotsWidget, features: pd.DataFrame, qtbot
) -> None:
    widget.set_table(features.drop(columns="tumor_type"))
    _cluster(widget, qtbot)
    message = widget.clustering.status.text()
    assert "Cannot cluster: target column 'tumor_type' is not in" in message
    widget.set_table(features)
    widget.clustering.clusters.setValue(7)  # 6 patients
    _cluster(widget, qtbot)
    assert "clusters must be 2 to 6" in widget.clustering.status.text()


def test_a_loaded_cluster_column_with_blanks_selects_its_rows(
    widget: PlotsWidget, features: pd.DataFrame
) -> None:
    """A table read back with blank cluster cells holds 1.0 for 1: choosing it still selects
    its rows (its text once went through int(), which refused "1.0")."""
    clusters = np.where(np.arange(len(features)) % 3 == 0, np.nan, np.arange(len(features)) % 2)
    table = show_features(widget.viewer, features.assign(cluster=clusters))
    panel = widget.clustering
    assert [panel.chosen.itemText(i) for i in range(panel.chosen.count())] == ["0.0", "1.0"]
    panel.chosen.setCurrentIndex(1)
    panel.select_button.click()
    assert table.selected_rows() == list(np.flatnonzero(clusters == 1))


def test_ranking_and_clustering_leave_the_canvas_its_size(
    make_napari_viewer, features: pd.DataFrame, qtbot
) -> None:
    """At 1366x768 the panels below the plot sit at their minimum height: a status that
    appeared, changed or wrapped there took a pixel or a line from the canvas each time (the
    splitter grows a pane to its new minimum and never gives it back), and each resize had the
    figure built and laid out again. The panels' pane now keeps its height, so the plot's
    keeps its own (the dock as a whole, not the split, may lose a pixel the first time a
    second worker reports in napari's status bar, within the figure's re-layout tolerance)."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1366, 768)
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature plots")
    assert isinstance(widget, PlotsWidget)
    widget.set_table(features)

    def settled() -> bool:  # the figure shown, no re-layout for a new size pending
        return not widget.status.text().startswith("Drawing") and not widget._relayout.isActive()

    def settle() -> None:
        qtbot.wait(400)  # longer than the re-layout's delay: a resize asks again
        qtbot.waitUntil(settled, timeout=60_000)
        qtbot.wait(100)  # a new canvas is its figure's size until its layout places it

    _plotted(widget, qtbot)
    settle()
    splitter, panels = widget.findChild(QSplitter), widget.findChild(QTabWidget)
    below, plot = splitter.sizes()[1], widget.plot
    for _ in range(3):
        _rank(widget.ranking, qtbot)
        panels.setCurrentWidget(widget.clustering)
        panels.setCurrentWidget(widget.ranking)
        settle()
        assert splitter.sizes()[1] == below  # the panels took no height from the plot
        assert widget.plot is plot  # not built again
    _cluster(widget, qtbot)  # a new column, so a new figure, at the same size
    settle()
    assert splitter.sizes()[1] == below
    assert widget.plot is not plot  # the clustered figure is shown


def test_the_feature_lists_show_every_name_in_rows_of_one_height(
    widget: PlotsWidget, features: pd.DataFrame, qtbot
) -> None:
    """The feature and colour lists are told their names are rows of one height (measuring
    1500 names one by one cost 60 ms of docking the dock): every name is still listed, in
    rows as tall as Qt would measure them, and one picked in the list is plotted."""
    names = [str(c) for c in features.columns if str(c).startswith("original_")]
    for combo in (widget.feature_x, widget.feature_y, widget.colour):
        assert combo.view().uniformItemSizes()
    combo = widget.feature_x
    assert [combo.itemText(i) for i in range(combo.count())] == names
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    measured = view.sizeHintForRow(0)  # what Qt measures for one name
    last = view.model().index(combo.count() - 1, 0)
    view.scrollTo(last)
    assert view.visualRect(last).height() == measured
    combo.hidePopup()
    combo.setCurrentIndex(combo.count() - 1)
    combo.activated.emit(combo.count() - 1)
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=60_000)
    assert widget.plot is not None
    assert widget.status.text() == ""
