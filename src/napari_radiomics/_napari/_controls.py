"""Small Qt building blocks the docks share."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget


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
