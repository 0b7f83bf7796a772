"""What the viewer reads, which no file chosen in a save dialog may replace.

A name typed in a save dialog (a dock's Export…, Save params…, Save PNG/SVG…, napari's Save
layer) can be any file: the ``.mat`` or ``.nrrd`` a layer shows, one case of a folder stack,
the features table the dataset table shows, a file of a corrections store. Written there, a
CSV or a plot would replace the user's data. Every dock that writes a path from a dialog asks
:func:`refuse_viewer_sources` first, so the list of what the viewer reads lives here alone:

- each layer's source (``layer.source.path``: the file or folder napari opened) and the file
  in its ``metadata['path']``;
- the case files behind a stack (``metadata['slices']['path']``, and the corrections
  session's cases: a folder stack's ``.mat`` files, a bundle's ``.npy`` files);
- the corrections store of each layer's session (every file inside it);
- the features table each dataset table dock shows.

The path check itself is the core's :func:`napari_radiomics._filenames.refuse_sources`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from napari_radiomics._filenames import refuse_sources
from napari_radiomics._napari._controls import docked
from napari_radiomics.columns import PATH
from napari_radiomics.corrections import session_for
from napari_radiomics.io import BUNDLE_FILES

#: What every refusal ends with: the way out.
_ADVICE = "source files are never written; choose another name"


def viewer_sources(viewer: Any, *, tables: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """The files ``viewer`` reads (with the dataset tables' files unless ``tables`` is
    False) and the corrections stores its layers save to, each mapped to the reason a write
    there is refused (the first layer naming it gives the reason)."""
    files: dict[str, str] = {}
    stores: dict[str, str] = {}
    for layer in viewer.layers:
        name = layer.name
        opened = [layer.source.path, layer.metadata.get("path")]
        for path in filter(None, opened):
            files.setdefault(str(path), f"is the source of layer {name!r}; {_ADVICE}")
        slices = layer.metadata.get("slices")
        cases = list(slices[PATH]) if isinstance(slices, pd.DataFrame) and PATH in slices else []
        session = session_for(layer.data)
        if session is not None:
            cases += [ref.path for ref in session.refs]
            bundles = {ref.path for ref in session.refs if ref.kind == "bundle"}  # folders
            cases += [str(Path(folder) / name) for folder in bundles for name in BUNDLE_FILES]
        for path in cases:
            if isinstance(path, str) and path:  # an unread slice's row may hold <NA>
                files.setdefault(path, f"is a case of layer {name!r}; {_ADVICE}")
        roots = [layer.metadata.get("corrections"), session.store.root if session else None]
        for root in filter(None, roots):
            stores.setdefault(
                str(root),
                f"would be a file of {root}, the corrections store of layer {name!r}, whose "
                "files the store alone writes; choose a name outside it",
            )
    # Not imported for this: a session without a dataset table dock never loads its module.
    module = sys.modules.get("napari_radiomics._napari._dataset_table")
    for table in docked(viewer, module.DatasetTableWidget) if module and tables else []:
        if table.source:
            reason = f"is the features table the dataset table shows; {_ADVICE}"
            files.setdefault(table.source, reason)
    return files, stores


def refuse_viewer_sources(viewer: Any, *paths: str | Path, tables: bool = True) -> None:
    """A WriteError naming the first of ``paths`` (the files one save writes) that is a file
    ``viewer`` reads or lies in a corrections store of one of its layers, by any name.
    ``tables=False`` lets a dataset table's file through: the Batch dock's own output, shown
    there when a run ends, is what a resumed run goes on writing."""
    files, stores = viewer_sources(viewer, tables=tables)
    for path in paths:
        refuse_sources(path, files, stores)
