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

Before that, when the first data of a session is read, :func:`layer_libraries` builds what
napari's first layers need and would otherwise build in the open, on the GUI thread, after
our reading: pint's unit registry (every layer's transform asks it for ``pixel``: 0.7-0.9 s),
napari's shapes triangulation (numba loads its compiled functions on the first polygon of a
session: 1-2.5 s, the border layer of a single slice; napari's own ``warmup_numba_cache``)
and ``dask.distributed`` (dask imports it, when installed, on the first lazy slice computed:
0.3-0.5 s). A thread does it while the reader reads the files, in the order the data opened
needs (a single ``.mat`` slice: the triangulation first; anything else: no triangulation,
which the docks' warm-up builds after the open, since loading numba beside napari adding a
folder's layers only contends with it for the GIL), and
the reader waits (:func:`await_layer_libraries`) for what its layers need, before it
computes a lazy slice or hands napari its layers: the GUI thread never touches pint nor
computes a dask slice while the thread is building them (a registry is not thread-safe
while it is built, and two threads importing the same package can see it half-initialised,
CPython gh-83065; ``distributed`` is imported through :func:`napari_radiomics._imports.
import_once`, as a Dask batch does), and the reading itself imports none of them.

The wait is a plain one: the GUI thread runs no events meanwhile. Serving them (a nested
event loop) let timers, queued worker signals and drag-and-drop run inside napari's open, so
a file dropped then re-entered the reader; the overlap of building and reading is the gain,
an honest block is better than re-entrancy. The wait is capped (:data:`WAIT_LIMIT`): on a
machine so loaded that the thread has not finished, the open goes on and napari builds what
is missing itself, as it did before. A thread that cannot be started, or a step that fails,
marks its part done: napari builds it in the open and shows what fails. The docks' imports
above start only after the layers' thread is done, so the two threads never import at once.

Not the docks' runner: this is no dock's work, has nothing to show or cancel, and must not
put a bar in napari's activity dock. A failure here is dropped: the same import fails again,
in the open, when a dock needs it.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

from qtpy.QtCore import QCoreApplication, QTimer

from napari_radiomics._imports import import_once

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

#: Seconds the reader waits at most for the layer libraries (then napari builds the rest).
WAIT_LIMIT = 20.0

_started = threading.Event()
_layers_started = threading.Event()


def _build_units() -> None:
    import pint

    pint.get_application_registry().pixel  # noqa: B018 (builds the lazy registry)


def _build_shapes() -> None:
    from napari.layers.shapes._accelerated_triangulate_dispatch import warmup_numba_cache

    warmup_numba_cache()


def _build_dask() -> None:
    import_once("distributed")  # optional: without it dask never imports it


#: What napari's first layers need, each with the event set once it is built (or failed).
STEPS: dict[str, tuple[Callable[[], None], threading.Event]] = {
    "units": (_build_units, threading.Event()),
    "shapes": (_build_shapes, threading.Event()),
    "dask": (_build_dask, threading.Event()),
}


def layer_libraries(*, slice_first: bool = False) -> None:
    """Start building what napari's first layers of the session need (once per process), in
    a thread; ``slice_first``: a single slice is being opened (its border layer needs the
    triangulation, not ``distributed``). Everything counts as built at once without a Qt
    application (no viewer adds layers) or when no thread can be started."""
    if _layers_started.is_set():
        return
    _layers_started.set()
    if QCoreApplication.instance() is None:
        _mark_built()
        return
    # A folder's layers need no triangulation: loading numba beside napari adding the layers
    # would only contend for the GIL (1.2 s more to open 3064 slices); the warm-up builds it.
    order = ("units", "shapes", "dask") if slice_first else ("units", "dask")
    try:
        threading.Thread(
            target=_build_layer_libraries,
            args=(order,),
            name="napari-radiomics layers",
            daemon=True,
        ).start()
    except Exception:  # no thread (a thread limit): napari builds them in the open
        _mark_built()


def await_layer_libraries(*needs: str) -> None:
    """Return once pint's registry and ``needs`` ("shapes", "dask") are built, waiting
    plainly (no events served) and at most :data:`WAIT_LIMIT` seconds in all."""
    layer_libraries()
    deadline = time.monotonic() + WAIT_LIMIT
    for name in ("units", *needs):
        STEPS[name][1].wait(max(0.0, deadline - time.monotonic()))


def _mark_built() -> None:
    for _, built in STEPS.values():
        built.set()


def _build_layer_libraries(order: tuple[str, ...]) -> None:
    for name in order:
        build, built = STEPS[name]
        try:
            build()
        except Exception:  # napari builds it again, in the open, and shows what fails
            pass
        finally:
            built.set()


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
    await_layer_libraries("dask")  # the layers' thread builds it last: never import beside it
    _build_layer_libraries(tuple(name for name, (_, built) in STEPS.items() if not built.is_set()))
    try:
        for name in MODULES:
            importlib.import_module(name)
        from napari_radiomics.settings import ExtractionSettings

        settings = ExtractionSettings.preset(FIRST_PRESET)
        ExtractionSettings.from_params(settings.to_params())
    except Exception:  # a failure shows when a dock needs the module (see above)
        pass
