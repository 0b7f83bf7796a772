"""The package's version, read from its installed metadata.

Kept out of the root package's import: ``importlib.metadata`` (with the ``email`` parser it
loads) costs 20-50 ms, which napari's start-up and every command would pay for a string only
``--version`` and ``import napari_radiomics; napari_radiomics.__version__`` ask for.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-radiomics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"
