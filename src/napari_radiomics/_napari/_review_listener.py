"""How the Review dock hears its corrections session, which outlives the dock.

The session tells its listeners on its saving thread; the dock must hear it on the GUI thread,
and only while it lives: a listener the session held kept a closed dock alive.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QWidget

if TYPE_CHECKING:
    from napari_radiomics.corrections import CorrectionSession

__all__ = ["Listener", "Relay"]


class Relay(QObject):
    """Carries the session's events from its writer thread to the GUI thread."""

    changed = Signal(int, str)


class Listener:
    """A Review dock's ear on a corrections session, which outlives the dock: it holds the dock
    weakly and takes itself off the session at the first event after the dock is gone. Held
    by the session, the dock itself stayed alive once closed, refreshing its hidden table of
    every case at each status change and each slice moved to."""

    def __init__(self, dock: QWidget, session: CorrectionSession, relay: Relay) -> None:
        self._dock = weakref.ref(dock)
        self._relay = relay
        self.session = session

    def __call__(self, index: int, event: str) -> None:
        if self._dock() is None:
            self.stop()
        else:  # on the writer thread: hand over to Qt's
            self._relay.changed.emit(index, event)

    def stop(self) -> None:
        """Stop hearing the session (from either thread: the writer's, after the dock is
        gone, or the GUI's, which may both get here)."""
        with contextlib.suppress(ValueError):
            self.session.listeners.remove(self)
