"""Open napari ready to extract: the files given (or the synthetic sample), the settings dock,
and optionally a first extraction, so a newcomer sees features within one command.

The command line reaches this module only through a lazy import, so the batch CLI keeps working
on a server without Qt.
"""

from __future__ import annotations

from collections.abc import Sequence

import napari

from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._widget import ExtractionWidget

PLUGIN = "napari-radiomics"


def populate(
    viewer: napari.viewer.Viewer, paths: Sequence[str] = (), *, extract: bool = True
) -> ExtractionWidget:
    """Open ``paths`` through the plugin (the synthetic sample when empty), dock the settings
    and the results, and start an extraction with the brain-tumour preset when asked."""
    if paths:
        viewer.open(list(paths), plugin=PLUGIN, stack=False)
    else:
        viewer.open_sample(PLUGIN, "tumor_slice")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Extract features")
    assert isinstance(widget, ExtractionWidget)
    widget.preset.value = "brain-tumor-mri"
    get_results_widget(viewer)
    if extract:
        widget.extract()
    return widget


def launch(paths: Sequence[str] = (), *, extract: bool = True) -> None:
    """Start napari with :func:`populate` and block until its window closes."""
    viewer = napari.Viewer(title=PLUGIN)
    populate(viewer, paths, extract=extract)
    napari.run()
