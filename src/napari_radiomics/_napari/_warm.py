"""What the docks will import, imported in the background once a dataset is open.

Docking the Extract, Batch or Robustness dock imports the engine and pyradiomics (with
SciPy and PyWavelets), and the plots and model docks matplotlib: 0.3-1.5 s the first time in a
session, which blocked the event loop for as long if done when the dock was asked for. Opening
data is the moment a session starts to need them, so the reader calls :func:`warm_up` and,
once napari has added the layers (the event after the open), one daemon thread imports them
and resolves the Extract dock's first preset through pyradiomics (kept by the core's caches).
A module imported in a thread other than the GUI's hands the interpreter back every switch
interval, so the viewer keeps painting meanwhile; a dock docked before it ends waits only for
what is still being imported.

Not the docks' runner: this is no dock's work, has nothing to show or cancel, and must not
put a bar in napari's activity dock. A failure here is dropped: the same import fails again,
in the open, when a dock needs it.
"""

from __future__ import annotations

import importlib
import threading

from qtpy.QtCore import QCoreApplication, QTimer

#: The docks' modules (and through them the engine, pyradiomics, the batch, the analyses),
#: magicgui's Qt backend (loaded when the first magicgui widget is made: the Extract form) and
#: matplotlib's parts that the plots and model docks draw with.
MODULES = (
    "napari_radiomics._napari._widget",
    "magicgui.backends._qtpy",
    "napari_radiomics._napari._batch_widget",
    "napari_radiomics._napari._robustness_widget",
    "matplotlib.figure",
    "matplotlib.backends.backend_qtagg",
    "matplotlib.widgets",
)
#: The preset the Extract dock shows first (its form resolves it through pyradiomics).
FIRST_PRESET = "pyradiomics-default"

_started = threading.Event()


def warm_up() -> None:
    """Start the background imports once per process, after the current GUI event (the
    open, whose layers napari is still adding); at once without a Qt application."""
    if _started.is_set():
        return
    _started.set()
    if QCoreApplication.instance() is None:
        _start()
    else:
        QTimer.singleShot(0, _start)


def _start() -> None:
    threading.Thread(target=_warm, name="napari-radiomics warm-up", daemon=True).start()


def _warm() -> None:
    try:
        for name in MODULES:
            importlib.import_module(name)
        from napari_radiomics.settings import ExtractionSettings

        settings = ExtractionSettings.preset(FIRST_PRESET)
        ExtractionSettings.from_params(settings.to_params())
    except Exception:  # a failure shows when a dock needs the module (see above)
        pass
