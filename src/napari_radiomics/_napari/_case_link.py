"""Keeps the dataset table and the viewer on the same case, both ways.

A table row names its case by file (``path``, or pyradiomics' ``Image``) and by case id
(``case``); layers opened by this plugin carry the same: a stack's ``metadata["slices"]``
table (``case``, ``path`` per slice), a single case's ``metadata`` (``case``, ``path``). A row
is found in the viewer by file first (a bundle's slices share one file, so then by case within
it), by case id when the table names no file. Both directions are dictionary look-ups built
once per table or stack, so following a slider as it is dragged costs microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QObject, QTimer

from napari_radiomics._napari._controls import PLUGIN
from napari_radiomics.errors import ReadError

if TYPE_CHECKING:
    import napari

#: Columns that name a row's image file, in order of preference (``Image``: pyradiomics' CSV).
PATH_COLUMNS = ("path", "image", "Image")
#: Columns that name a row's mask file, opened with the image when it is not a case file.
MASK_COLUMNS = ("mask", "Mask")
#: How long the viewer must rest before its case is looked up in the table (a dragged slider
#: changes step at up to 60 Hz; the table follows at the end of each burst).
SETTLE_MS = 30


@dataclass(frozen=True)
class CaseKey:
    """What identifies a case on both sides: its file (normalised) and its case id."""

    case: str | None = None
    path: str | None = None
    mask: str | None = None


def normalise(path: Any, base: Path | None = None) -> str | None:
    """An absolute, normalised path (relative ones start at ``base``, as pyradiomics' batch
    CSV paths start at the CSV); ``None`` for an empty or missing value."""
    if path is None or (isinstance(path, float) and np.isnan(path)) or str(path) == "":
        return None
    # os.path, not pathlib: a stack's index normalises every slice's path at the first row
    # chosen, and 3064 Path objects blocked the event loop for 0.1-0.2 s (os.path: 10 ms).
    file = os.path.expanduser(str(path))  # noqa: PTH111 (speed, above)
    if base is not None and not os.path.isabs(file):  # noqa: PTH117
        file = os.path.join(base, file)  # noqa: PTH118
    # Not realpath(): a link stays the name the reader was given, on both sides.
    return os.path.normpath(os.path.abspath(file))  # noqa: PTH100


def _first_column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in frame.columns), None)


def _positions(values: list[str | None]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        if value is not None:
            found.setdefault(value, []).append(i)
    return found


class CaseIndex:
    """The cases of one table (or of one stack's slices): rows by file and by case id."""

    def __init__(self, frame: pd.DataFrame, base: Path | None = None) -> None:
        case_column = "case" if "case" in frame.columns else None
        path_column = _first_column(frame, PATH_COLUMNS)
        mask_column = _first_column(frame, MASK_COLUMNS)
        n = len(frame)

        def column(name: str | None, paths: bool) -> list[str | None]:
            if name is None:
                return [None] * n
            values = frame[name].tolist()
            if paths:
                return [normalise(v, base) for v in values]
            return [None if pd.isna(v) or str(v) == "" else str(v) for v in values]

        self.cases = column(case_column, paths=False)
        self.paths = column(path_column, paths=True)
        self.masks = column(mask_column, paths=True)
        self.has_files = path_column is not None
        self._by_case = _positions(self.cases)
        self._by_path = _positions(self.paths)

    def key(self, row: int) -> CaseKey:
        """The identity of one row."""
        return CaseKey(self.cases[row], self.paths[row], self.masks[row])

    def rows(self, key: CaseKey) -> list[int]:
        """Rows of this case: by file (then by case id among them), else by case id."""
        if key.path is not None and key.path in self._by_path:
            rows = self._by_path[key.path]
            if key.case is not None and len(rows) > 1:
                return [r for r in rows if self.cases[r] == key.case] or rows
            return rows
        if key.path is not None and self.has_files:
            return []  # another file with the same case id is another case
        return list(self._by_case.get(key.case, [])) if key.case is not None else []


class _StackIndexes:
    """One :class:`CaseIndex` per stack's slice table, built on first use."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[pd.DataFrame, CaseIndex]] = {}

    def get(self, slices: pd.DataFrame) -> CaseIndex:
        cached = self._cache.get(id(slices))
        if cached is None or cached[0] is not slices:
            cached = (slices, CaseIndex(slices))
            self._cache[id(slices)] = cached
        return cached[1]


def _slices(layer: Any) -> pd.DataFrame | None:
    slices = (getattr(layer, "metadata", None) or {}).get("slices")
    return slices if isinstance(slices, pd.DataFrame) and len(slices) else None


def _single_key(layer: Any) -> CaseKey | None:
    metadata = getattr(layer, "metadata", None) or {}
    if _slices(layer) is not None or not (metadata.get("case") or metadata.get("path")):
        return None
    case = metadata.get("case")
    return CaseKey(None if case is None else str(case), normalise(metadata.get("path")))


class ViewerLink(QObject):
    """Moves the viewer to a table's case, and reports the case the viewer moves to.

    ``on_case(key)`` is called (on the GUI thread, after the viewer rests for
    :data:`SETTLE_MS`) with the case on screen whenever the slider moves or another layer
    becomes active.
    """

    def __init__(
        self, viewer: napari.viewer.Viewer, on_case: Callable[[CaseKey], None], parent: Any
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self._on_case = on_case
        self._stacks = _StackIndexes()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self._report)
        # napari holds these weakly and drops them once this object is deleted with its dock.
        viewer.dims.events.current_step.connect(self._viewer_moved)
        viewer.layers.selection.events.active.connect(self._viewer_moved)

    # ------------------------------------------------------------------ table -> viewer
    def locate(self, key: CaseKey) -> tuple[Any, int | None] | None:
        """The open layer showing this case and its slice (``None`` for a single case)."""
        for layer in reversed(self.viewer.layers):
            slices = _slices(layer)
            if slices is not None:
                rows = self._stacks.get(slices).rows(key)
                if rows:
                    return layer, rows[0]
        for layer in reversed(self.viewer.layers):
            single = _single_key(layer)
            if single is not None and _same_case(single, key):
                return layer, None
        return None

    def show(self, key: CaseKey) -> str:
        """Bring this case on screen: its slice, its layer, or its file opened. Returns what
        happened, for the status line (the problem when nothing could be shown)."""
        found = self.locate(key)
        name = f"case {key.case}" if key.case is not None else Path(key.path or "").name
        if found is None:
            if key.path is None:
                return f"{name} is not open, and the table names no file for it"
            if not Path(key.path).exists():
                return f"{name}: {key.path}: no such file"
            try:
                for path in dict.fromkeys(p for p in (key.path, key.mask) if p is not None):
                    self.viewer.open(path, plugin=PLUGIN)
            except (ReadError, ValueError, OSError) as exc:
                return f"{name}: cannot open {key.path}: {exc}"
            found = self.locate(key)
            if found is None:
                return f"opened {key.path}, but it does not hold {name}"
        layer, index = found
        if index is None:
            self.viewer.layers.selection.active = layer
            return f"{name}: layer {layer.name}"
        position = np.zeros(layer.ndim)
        position[0] = index
        world = layer.data_to_world(position)
        axis = self.viewer.dims.ndim - layer.ndim
        self.viewer.dims.set_point(axis, float(world[0]))
        return f"{name}: slice {index} of {layer.name}"

    # ------------------------------------------------------------------ viewer -> table
    def current(self) -> CaseKey | None:
        """The case on screen: the active layer's (its current slice for a stack), else the
        topmost visible stack's."""
        active = self.viewer.layers.selection.active
        layers = [] if active is None else [active]
        layers += [layer for layer in reversed(self.viewer.layers) if layer.visible]
        for layer in layers:
            slices = _slices(layer)
            if slices is not None:
                point = np.asarray(self.viewer.dims.point)[-layer.ndim :]
                index = round(float(layer.world_to_data(point)[0]))
                index = min(max(index, 0), len(slices) - 1)
                return self._stacks.get(slices).key(index)
            if layer is active and _single_key(layer) is not None:
                return _single_key(layer)
        return None

    def _viewer_moved(self, _event: Any = None) -> None:
        self._timer.start()

    def _report(self) -> None:
        key = self.current()
        if key is not None:
            self._on_case(key)


def _same_case(single: CaseKey, key: CaseKey) -> bool:
    """A single case's layer matches a row: same file, or same case id when either names no
    file."""
    if single.path is not None and key.path is not None:
        return single.path == key.path
    return single.case is not None and single.case == key.case
