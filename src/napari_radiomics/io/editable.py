"""A stack of masks that reads slices lazily and keeps the slices a user paints on.

A folder of the dataset opens as a lazy dask stack (or a read-only memory map for the NumPy
bundle): neither can be written to, so napari's brush could not correct a tumour mask there.
This wrapper keeps the lazy reading for every untouched slice and holds an in-memory copy of
each slice once it is written to, which is all napari's Labels layer needs to paint, erase and
fill. Only the edited slices cost memory.

Two hooks make the edits durable without the GUI knowing (``corrections.autosave``):
``on_write`` is told which slices a write touched (it only records them; the saving happens
on another thread, which reads a slice through :meth:`EditableStack.snapshot`), and
``overlay`` supplies the stored correction of a slice the first time that slice is read, so
a dataset with 300 corrections opens as fast as one without. :class:`EditableArray` is the
same for one in-memory mask (a single slice or a volume), which napari could paint anyway
but whose edits must be reported too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

#: Told the slice indices a write touched (on the thread that wrote, napari's GUI thread).
WriteHook = Callable[[list[int]], None]


class EditableStack:
    """Array-like ``(slices, rows, cols)`` view of ``base`` that accepts writes per slice.

    Indexing follows NumPy for what napari uses: an integer, a slice or an index array on the
    first axis, then any NumPy index on the others; a tuple of index arrays for all three axes
    (the coordinates napari's brush paints), or a boolean array of the stack's shape, reads and
    writes those voxels. Reads return copies, as dask and zarr do: write through the stack
    (``stack[i, r, c] = v``), not into what a read returned.
    """

    def __init__(
        self,
        base: Any,
        *,
        overlay: Callable[[int], np.ndarray | None] | None = None,
        overlaid: Iterable[int] = (),
        on_write: WriteHook | None = None,
    ) -> None:
        if len(base.shape) != 3:
            raise ValueError(f"an editable stack is 3D (slices, rows, cols), not {base.shape}")
        self.base = base
        self.shape: tuple[int, ...] = tuple(int(n) for n in base.shape)
        self.dtype = np.dtype(base.dtype)
        self.ndim = 3
        self.size = int(np.prod(self.shape))
        self.on_write = on_write
        self.lock = threading.RLock()  # a writer thread snapshots slices while napari paints
        self._edits: dict[int, np.ndarray] = {}
        self._overlay = overlay
        self._overlaid = set(overlaid)
        self._restored: dict[int, int] = {}  # slice index -> times restored (see restores)
        self.session: Any = None  # whatever keeps the edits saved (a corrections session)

    @property
    def edited(self) -> list[int]:
        """Indices of the slices held in memory: painted on, or loaded from the overlay."""
        return sorted(self._edits)

    def original(self, index: int) -> np.ndarray:
        """Slice ``index`` as ``base`` has it (the source, before any correction).

        A lazy (dask) base is computed in the calling thread: the saving thread reads it, at
        interpreter exit too, when dask's default thread pool refuses new work ("cannot
        schedule new futures after interpreter shutdown"), so a stroke painted just before
        quitting was never saved."""
        block = self.base[range(self.shape[0])[index]]
        if hasattr(block, "compute"):
            block = block.compute(scheduler="synchronous")
        return np.array(block, dtype=self.dtype)

    def snapshot(self, index: int) -> np.ndarray:
        """A consistent copy of slice ``index`` (never half of a write in progress)."""
        with self.lock:
            return self.slice(index)

    def restore(self, index: int) -> None:
        """Forget slice ``index``'s edits and overlay: it reads as ``base`` again (a revert;
        not reported to ``on_write``, since nothing new was made)."""
        with self.lock:
            self._edits.pop(index, None)
            self._overlaid.discard(index)
            self._restored[index] = self._restored.get(index, 0) + 1

    def restores(self, index: int) -> int:
        """How many times slice ``index`` was restored: a snapshot taken when this was lower
        is older than a revert (read it with the snapshot, under ``lock``)."""
        return self._restored.get(index, 0)

    def __len__(self) -> int:
        return self.shape[0]

    def slice(self, index: int) -> np.ndarray:
        """Slice ``index`` as NumPy: the edited copy if there is one, else read from ``base``."""
        index = range(self.shape[0])[index]
        with self.lock:
            if index in self._edits or self._load_overlay(index):
                return self._edits[index].copy()
        return self.original(index)  # a copy, even of a memory map

    def _load_overlay(self, index: int) -> bool:
        if index not in self._overlaid or self._overlay is None:
            return False
        self._overlaid.discard(index)
        stored = self._overlay(index)
        if stored is None:  # unreadable after all: the store reported it, the source applies
            return False
        stored = np.array(stored, dtype=self.dtype)
        if stored.shape != self.shape[1:]:  # never reshaped: that would scramble the mask
            raise ValueError(f"overlay of slice {index} is {stored.shape}, not {self.shape[1:]}")
        self._edits[index] = stored
        return True

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
        with self.lock:
            touched = self._write(key, value)
        if self.on_write is not None and touched:
            self.on_write(touched)

    def _write(self, key: Any, value: Any) -> list[int]:
        first, rest = self._split(key)
        if _is_coordinates(first, rest):
            first, *rest = np.broadcast_arrays(first, *rest)
            values = np.broadcast_to(np.asarray(value, self.dtype), first.shape)
            touched = _by_slice(first)
            for index, where in touched:
                self._writable(index)[tuple(r[where] for r in rest)] = values[where]
            return [index for index, _ in touched]
        indices = np.arange(self.shape[0])[first]
        if indices.ndim == 0:
            self._writable(int(indices))[rest] = value
            return [int(indices)]
        target = (len(indices), *self._inner_shape(rest))
        values = np.broadcast_to(np.asarray(value, self.dtype), target)
        for position, index in enumerate(indices):
            self._writable(int(index))[rest] = values[position]
        return [int(i) for i in indices]

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
        if index not in self._edits and not self._load_overlay(index):
            self._edits[index] = self.original(index)  # a private copy
        return self._edits[index]


class EditableArray(np.ndarray):
    """An in-memory mask (a 2D slice or a 3D volume) that reports its writes, as a stack does.

    A NumPy array, so everything that takes a layer's data keeps working (napari paints its
    views in place, widgets call ``astype``); every write through it or through a view of it
    (item assignment, or a ufunc writing into it) tells ``on_write`` (case 0: the whole mask
    is one case). Copies and results of arithmetic are plain arrays, with no hook.
    """

    on_write: WriteHook | None
    lock: threading.RLock
    session: Any
    _restored: int

    def __new__(cls, data: np.ndarray, *, on_write: WriteHook | None = None) -> EditableArray:
        array = np.array(data).view(cls)
        array.on_write, array.lock, array.session = on_write, threading.RLock(), None
        array._restored = 0
        return array

    def __array_finalize__(self, parent: Any) -> None:
        # A view of the mask writes into it, so it reports as the mask does; a copy does not.
        keep = isinstance(parent, EditableArray) and np.may_share_memory(self, parent)
        self.on_write = parent.on_write if keep else None
        self.lock = parent.lock if keep else threading.RLock()
        self.session = None
        self._restored = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        with self.lock:
            super().__setitem__(key, value)
        self._written()

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = tuple(np.asarray(x) if isinstance(x, EditableArray) else x for x in inputs)
        outputs = kwargs.get("out") or ()
        targets = [o for o in outputs if isinstance(o, EditableArray)]
        if outputs:
            kwargs["out"] = tuple(np.asarray(o) for o in outputs)
        result = getattr(ufunc, method)(*plain, **kwargs)
        for target in targets:
            target._written()
        return targets[0] if len(targets) == 1 and len(outputs) == 1 else result

    def astype(self, *args: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[override]
        return np.asarray(self).astype(*args, **kwargs)

    def copy(self, order: Any = "C") -> np.ndarray:  # type: ignore[override]
        return np.array(self, order=order)

    def _written(self) -> None:
        if self.on_write is not None:
            self.on_write([0])

    def snapshot(self, index: int = 0) -> np.ndarray:
        """A consistent copy of the whole mask (``index`` is always 0)."""
        with self.lock:
            return np.array(self)

    def replace(self, data: np.ndarray) -> None:
        """Put ``data`` in place of the mask (a revert; not reported to ``on_write``)."""
        with self.lock:
            np.copyto(np.asarray(self), data)
            self._restored += 1

    def restores(self, index: int = 0) -> int:
        """How many times the mask was replaced (``EditableStack.restores``)."""
        return self._restored


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
