"""The IBSI compliance dock in a real viewer (run under Xvfb): one click in the Plugins menu,
the report as a table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtGui import QAction
from qtpy.QtWidgets import QMenu

from napari_radiomics._napari._controls import PLUGIN
from napari_radiomics._napari._ibsi_widget import IbsiWidget
from napari_radiomics.analysis.ibsi import COLUMNS, ibsi_report


def _cells(widget: IbsiWidget, column: str) -> list[str]:
    model = widget.model
    position = model.shown_columns().index(column)
    return [
        model.data(model.index(row, position), Qt.ItemDataRole.DisplayRole)
        for row in range(model.rowCount())
    ]


def _menu_action(menu: QMenu, *path: str) -> QAction:
    """The action at ``path`` (texts without their ``&`` shortcuts) under ``menu``."""
    for action in menu.actions():
        if action.text().replace("&", "") == path[0]:
            return action if len(path) == 1 else _menu_action(action.menu(), *path[1:])
    raise AssertionError(f"no {path[0]!r} in {[a.text() for a in menu.actions()]}")


def test_one_click_in_the_plugins_menu_shows_the_report_as_a_table(
    make_napari_viewer, qtbot
) -> None:
    viewer = make_napari_viewer()
    bar = viewer.window._qt_window.menuBar()
    plugins = _menu_action(bar, "Plugins").menu()
    _menu_action(plugins, "napari-radiomics", "IBSI compliance").trigger()
    (widget,) = [w for w in viewer.window.dock_widgets.values() if isinstance(w, IbsiWidget)]
    qtbot.waitUntil(lambda: not widget.report.empty, timeout=120_000)
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=10_000)

    expected = ibsi_report()
    assert tuple(widget.model.shown_columns()) == COLUMNS
    assert widget.model.rowCount() == len(expected)
    pd.testing.assert_frame_equal(widget.report, expected)
    assert _cells(widget, "feature") == expected["feature"].tolist()
    assert "99 of 102 features match IBSI, 3 deviate" in widget.status.text()

    widget.deviations_only.setChecked(True)
    assert _cells(widget, "status") == ["deviates"] * 3
    assert "original_firstorder_Kurtosis" in _cells(widget, "feature")
    assert all(_cells(widget, "note"))
    widget.deviations_only.setChecked(False)
    assert widget.model.rowCount() == len(expected)
    assert np.array_equal(widget.model.column_values("value"), expected["value"].to_numpy())


def test_one_click_in_the_extract_dock_opens_the_report_once(make_napari_viewer, qtbot) -> None:
    """The button beside the settings opens the report; a second click brings the same dock
    forward instead of computing and docking it again."""
    viewer = make_napari_viewer()
    _, extract = viewer.window.add_plugin_dock_widget(PLUGIN, "Extract features")
    extract.ibsi_button.native.click()
    (widget,) = [w for w in viewer.window.dock_widgets.values() if isinstance(w, IbsiWidget)]
    qtbot.waitUntil(lambda: not widget.report.empty, timeout=120_000)
    assert widget.model.rowCount() == len(ibsi_report())
    extract.ibsi_button.native.click()
    assert [w for w in viewer.window.dock_widgets.values() if isinstance(w, IbsiWidget)] == [
        widget
    ]
