"""Open napari ready to extract: the files given (or the synthetic sample), the settings dock,
and optionally a first extraction, so a newcomer sees features within one command; or ready to
explore a features table (``--features``) in the dataset table, linked to the files given.

The command line reaches this module only through a lazy import, so the batch CLI keeps working
on a server without Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import napari

from napari_radiomics._napari._controls import PLUGIN
from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._widget import ExtractionWidget


def populate(
    viewer: napari.viewer.Viewer,
    paths: Sequence[str] = (),
    *,
    extract: bool = True,
    features: str | Path | None = None,
) -> ExtractionWidget:
    """Open ``paths`` through the plugin, dock the settings and the results, and start an
    extraction with the brain-tumour preset when asked.

    Without ``features`` and ``paths`` the synthetic sample opens; with ``features`` (a
    features table) it goes to the dataset table instead, and nothing is extracted: the
    table is what there is to look at, and its rows open their cases.
    """
    if paths:
        viewer.open(list(paths), plugin=PLUGIN, stack=False)
    elif features is None:
        viewer.open_sample(PLUGIN, "tumor_slice")
    if features is not None:
        show_features(viewer, features)
        extract = extract and bool(paths)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Extract features")
    assert isinstance(widget, ExtractionWidget)
    widget.preset.value = "brain-tumor-mri"
    get_results_widget(viewer)
    if extract:
        widget.extract()
    return widget


def launch(
    paths: Sequence[str] = (), *, extract: bool = True, features: str | Path | None = None
) -> None:
    """Start napari with :func:`populate` and block until its window closes."""
    viewer = napari.Viewer(title=PLUGIN)
    populate(viewer, paths, extract=extract, features=features)
    napari.run()
