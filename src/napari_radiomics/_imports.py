"""First imports of heavy optional packages, one thread at a time.

Two threads importing the same package at once can each see it half-initialised (CPython
gh-83065: ``from distributed import LocalCluster`` failing with an ImportError, or an attribute
missing, at random). The GUI's background thread imports ``distributed`` for napari's first
lazy layer while a Dask batch, started from the Batch dock, imports it in its worker: both
go through :func:`import_once`, so the second waits for the first and gets the whole module.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

__all__ = ["import_once"]

_lock = threading.RLock()


def import_once(name: str) -> ModuleType:
    """``importlib.import_module(name)``, serialised with every other first import made
    through this function; a module already fully imported is returned without the lock."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is not None and not getattr(spec, "_initializing", False):
        return module
    with _lock:
        return importlib.import_module(name)
