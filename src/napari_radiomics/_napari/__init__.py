"""The napari side of the plugin: reader and writer hooks, sample data, the docks.

napari reaches each module through the manifest (``napari.yaml``); the rest of the package
uses only the names below, resolved on first use: napari imports this package for every hook
and dock it opens, and a reader hook must not pay for building the dataset table or the
launch code.

- ``launch``: napari opened ready to extract or to explore a features table (``view``);
- ``show_features``: a features table in a viewer's dataset table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari_radiomics._lazy import lazy_names

if TYPE_CHECKING:
    from napari_radiomics._napari._dataset_table import show_features
    from napari_radiomics._napari._launch import launch

__all__ = ["launch", "show_features"]

__getattr__, __dir__ = lazy_names(
    __name__, {"launch": "._launch", "show_features": "._dataset_table"}
)
