"""A stack of masks that reads slices lazily and keeps the slices a user paints on.

A folder of the dataset opens as a lazy dask stack (or a read-only memory map for the NumPy
bundle): neither can be written to, so napari's brush could not correct a tumour mask there.
This wrapper keeps the lazy reading for every untouched slice and holds an in-memory copy of
each slice once it is written to, which is all napari's Labels layer needs to paint, erase and
fill. Only the edited slices cost memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class EditableStack:
    """Array-like ``(slices, rows, cols)`` view of ``base`` that accepts writes per slice.

    Indexing follows NumPy for what napari uses: an integer, a slice or an index array on the
    first axis, then any NumPy index on the others; a tuple of index arrays for all three axes
    (the coordinates napari's brush paints), or a boolean array of the stack's shape, reads and
    writes those voxels. Reads return copies, as dask and zarr do: write through the stack
    (``stack[i, r, c] = v``), not into what a read returned.
    """

    def __init__(self, base: Any) -> None:
        if len(base.shape) != 3:
            raise ValueError(f"an editable stack is 3D (slices, rows, cols), not {base.shape}")
        self.base = base
        self.shape: tuple[int, ...] = tuple(int(n) for n in base.shape)
        self.dtype = np.dtype(base.dtype)
        self.ndim = 3
        self.size = int(np.prod(self.shape))
        self._edits: dict[int, np.ndarray] = {}

    @property
    def edited(self) -> list[int]:
        """Indices of the slices written to since the stack was opened."""
        return sorted(self._edits)

    def __len__(self) -> int:
        return self.shape[0]

    def slice(self, index: int) -> np.ndarray:
        """Slice ``index`` as NumPy: the edited copy if there is one, else read from ``base``."""
        index = range(self.shape[0])[index]
        if index in self._edits:
            return self._edits[index].copy()
        return np.array(self.base[index], dtype=self.dtype)  # a copy, even of a memory map

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = self._split(key)
        if _is_coordinates(first, rest):
            first, *rest = np.broadcast_arrays(first, *rest)
            out = np.empty(first.shape, self.dtype)
            for index, where in _by_slice(first):
                out[where] = self.slice(index)[tuple(r[where] for r in rest)]
            return out
        indices = np.arange(self.shape[0])[first]
        if indices.ndim == 0:
            return self.slice(int(indices))[rest]
        parts = [self.slice(int(i))[rest] for i in indices]
        return np.stack(parts) if parts else np.empty((0, *self._inner_shape(rest)), self.dtype)

    def __setitem__(self, key: Any, value: Any) -> None:
        first, rest = self._split(key)
        if _is_coordinates(first, rest):
            first, *rest = np.broadcast_arrays(first, *rest)
            values = np.broadcast_to(np.asarray(value, self.dtype), first.shape)
            for index, where in _by_slice(first):
                self._writable(index)[tuple(r[where] for r in rest)] = values[where]
            return
        indices = np.arange(self.shape[0])[first]
        if indices.ndim == 0:
            self._writable(int(indices))[rest] = value
            return
        target = (len(indices), *self._inner_shape(rest))
        values = np.broadcast_to(np.asarray(value, self.dtype), target)
        for position, index in enumerate(indices):
            self._writable(int(index))[rest] = values[position]

    def _split(self, key: Any) -> tuple[Any, tuple[Any, ...]]:
        """(index on the slice axis, indices on the others), refusing what would not act as
        NumPy would: a scalar boolean (e.g. ``stack == 1``, which is not elementwise here) or
        index arrays on the slice axis mixed with other indexing on the others."""
        if isinstance(key, np.ndarray) and key.dtype == bool and key.shape == self.shape:
            key = np.nonzero(key)
        key = tuple(np.asarray(k) if isinstance(k, list) else k for k in _as_tuple(key))
        if any(k is Ellipsis for k in key):
            raise IndexError("an editable stack takes no Ellipsis; index the axes explicitly")
        if any(
            isinstance(k, bool | np.bool_) or (np.ndim(k) == 0 and np.asarray(k).dtype == bool)
            for k in key
        ):
            raise IndexError(
                "a scalar boolean is no index; compare np.asarray(stack) to get a voxel mask"
            )
        first, rest = key[0], key[1:]
        if (
            isinstance(first, np.ndarray)
            and first.ndim > 0
            and any(isinstance(k, np.ndarray) for k in rest)
            and not _is_coordinates(first, rest)
        ):
            raise IndexError(
                "index arrays on the slice axis go with index arrays on both other axes "
                "(point coordinates) or with slices and integers only"
            )
        return first, rest

    def _inner_shape(self, rest: tuple[Any, ...]) -> tuple[int, ...]:
        """Shape of one slice indexed by ``rest`` (without reading any slice)."""
        return np.empty(self.shape[1:], dtype=bool)[rest].shape

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:  # NumPy 2's protocol: no copy-free view of a lazy stack exists
            raise ValueError("an editable stack cannot be viewed as an array without a copy")
        whole = np.stack([self.slice(i) for i in range(self.shape[0])])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def _writable(self, index: int) -> np.ndarray:
        index = range(self.shape[0])[index]
        if index not in self._edits:
            self._edits[index] = np.array(self.base[index], dtype=self.dtype)  # a private copy
        return self._edits[index]


def _as_tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def _is_coordinates(first: Any, rest: tuple[Any, ...]) -> bool:
    """A tuple of index arrays for every axis: point coordinates, not a box."""
    return len(rest) == 2 and all(
        isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in (first, *rest)
    )


def _by_slice(first: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(slice index, boolean selector) for every slice the coordinates touch."""
    return [(int(index), first == index) for index in np.unique(first)]
