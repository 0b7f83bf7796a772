"""napari reader hook for features tables: a dropped CSV or Parquet opens the dataset table.

npe2 matches readers by file name alone, and napari's own reader claims every ``.csv``
(points and shapes), so this reader looks at the header first and claims only tables with
pyradiomics feature columns. It makes no layer: the table goes to the dataset table dock of
the current viewer, read there in a worker thread, and the reader returns napari's "opened
nothing" value ``[(None,)]``, which napari 0.9 accepts without adding a layer or an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import napari

from napari_radiomics._napari._dataset_table import get_dataset_table
from napari_radiomics.errors import ReadError
from napari_radiomics.feature_tables import looks_like_features_table

#: What a reader returns when it handled the file but made no layer (napari's convention).
NO_LAYERS: list[tuple[Any, ...]] = [(None,)]


def _single(path: str | Sequence[str]) -> str | None:
    if isinstance(path, str | Path):
        return str(path)
    return str(path[0]) if len(path) == 1 else None


def get_features_reader(path: str | Sequence[str]) -> Callable[..., Any] | None:
    """The reader for one features table (CSV/Parquet with feature columns), else None."""
    single = _single(path)
    if single is None or not looks_like_features_table(single):
        return None
    return read_features


def read_features(path: str | Sequence[str], **_: Any) -> list[tuple[Any, ...]]:
    """Show the table in the current viewer's dataset table dock (read in the background)."""
    single = _single(path)
    viewer = napari.current_viewer()
    if single is None or viewer is None:
        raise ReadError(single, "a features table opens in a napari viewer's dataset table")
    get_dataset_table(viewer).open_table(single)
    return NO_LAYERS
