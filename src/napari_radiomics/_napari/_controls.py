"""Small Qt building blocks the docks share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from qtpy.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

_W = TypeVar("_W", bound=QWidget)

#: The plugin's name in napari: its reader, sample data and docks are found under it.
PLUGIN = "napari-radiomics"


def docked(viewer: Any, kind: type[_W]) -> list[_W]:
    """The ``kind`` widgets docked in ``viewer``'s window, in docking order (none for a viewer
    without a window): how one dock finds another to hand its result to."""
    window = getattr(viewer, "window", None)
    widgets = getattr(window, "dock_widgets", {}) if window is not None else {}
    return [w for w in widgets.values() if isinstance(w, kind)]


def with_picker(edit: QLineEdit, pick: Callable[[], str], text: str = "Browse…") -> QWidget:
    """``edit`` with a button beside it that fills it with what ``pick`` (a file dialog)
    returns, unless the dialog was cancelled."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton(text)
    button.clicked.connect(lambda: (path := pick()) and edit.setText(path))
    layout.addWidget(edit)
    layout.addWidget(button)
    return row
