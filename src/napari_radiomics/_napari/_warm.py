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

The same thread warms napari's shapes triangulation (numba loads its compiled functions on
the first polygon of a session: 1-2.5 s, the border layer of the first single slice opened) by
napari's own ``warmup_numba_cache``; numba compiles under its global lock, so a polygon added
meanwhile waits for the warm-up's compilation rather than compiling beside it.

Before that, when the first data of a session is read, :func:`layer_libraries` builds what
napari's first layer needs and would otherwise build in the open, on the GUI thread, after
our reading: pint's unit registry (every layer's transform asks it for ``pixel``: 0.7-0.9 s)
and ``dask.distributed`` (dask imports it, when installed, on the first lazy slice computed:
0.5 s). A thread does it while the reader reads the files, and the reader waits for it
(:func:`await_layer_libraries`) before it computes a lazy slice or hands napari its layers:
the GUI thread never touches pint nor computes a dask slice while the thread is building them
(a registry is not thread-safe while it is built, and two threads importing the same package
can see it half-initialised, CPython gh-83065), and the reading itself imports neither. While
it waits, the GUI thread serves its events (repaints, timers) but not the user's input, which
waits in the queue: napari's first layer of a session no longer freezes the viewer for as
long as pint parses its definitions. The background imports above start only after that wait,
so the two threads never import at once.

Not the docks' runner: this is no dock's work, has nothing to show or cancel, and must not
put a bar in napari's activity dock. A failure here is dropped: the same import fails again,
in the open, when a dock needs it.
"""

from __future__ import annotations

import importlib
import threading

from qtpy.QtCore import QCoreApplication, QEventLoop, QThread, QTimer

#: The docks' modules (and through them the engine, pyradiomics, the batch, the analyses),
#: magicgui's Qt backend (loaded when the first magicgui widget is made: the Extract form) and
#: matplotlib's parts that the plots and model docks draw with.
MODULES = (
    "napari_radiomics._napari._widget",
    "magicgui.backends._qtpy",
    "napari_radiomics._napari._batch_widget",
    "napari_radiomics._napari._robustness_widget",
    "napari_radiomics._napari._maps_widget",
    "matplotlib.figure",
    "matplotlib.backends.backend_qtagg",
    "matplotlib.widgets",
)
#: The preset the Extract dock shows first (its form resolves it through pyradiomics).
FIRST_PRESET = "pyradiomics-default"

#: Seconds between two servings of the GUI's events while it waits for the layer libraries.
WAIT_STEP = 0.005

_started = threading.Event()
_layers_started = threading.Event()
_layers_ready = threading.Event()


def layer_libraries() -> threading.Event:
    """Start building what napari's first layer of the session needs (once per process),
    in a thread; the event returned is set when it is done, and whoever hands napari layers
    waits for it first. Set at once without a Qt application (no viewer adds layers)."""
    if not _layers_started.is_set():
        _layers_started.set()
        if QCoreApplication.instance() is None:
            _layers_ready.set()
        else:
            threading.Thread(
                target=_build_layer_libraries, name="napari-radiomics layers", daemon=True
            ).start()
    return _layers_ready


def await_layer_libraries() -> None:
    """Return once :func:`layer_libraries` is done; on the GUI thread, serving its events
    (but not the user's input) meanwhile, as the event loop would."""
    ready = layer_libraries()
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        ready.wait()
        return
    while not ready.wait(WAIT_STEP):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)


def _build_layer_libraries() -> None:
    try:
        import pint

        pint.get_application_registry().pixel  # noqa: B018 (builds the lazy registry)
        importlib.import_module("distributed")  # optional: without it dask never imports it
    except Exception:  # napari builds them again, in the open, and shows what fails
        pass
    finally:
        _layers_ready.set()


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
        from napari.layers.shapes._accelerated_triangulate_dispatch import warmup_numba_cache

        warmup_numba_cache()
    except Exception:  # a failure shows when a dock needs the module (see above)
        pass
