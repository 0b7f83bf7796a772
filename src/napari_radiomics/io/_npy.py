"""``.npy`` files as untrusted input: memory maps for pixels, and object arrays of plain values
read without ever running code.

NumPy stores an array of Python objects as a pickle, and ``np.load(..., allow_pickle=True)``
runs whatever a pickle asks for, so such a file can execute code when loaded. Some conversions
of the dataset do store patient ids (and labels) that way, as arrays of strings or of 1x1
arrays. They are read here with an unpickler that can build nothing but NumPy arrays, dtypes
and scalars; the plain values a pickle holds (``str``, ``int``, ``float``, lists) need no
lookup at all. Anything else in the pickle (a function, a class, a module) is refused before
it is called, and the result is checked to hold only ``str``, ``int``, ``float`` or arrays of
them.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from napari_radiomics.errors import ReadError

NPY_MAGIC = b"\x93NUMPY"

#: The only globals an object array of plain values needs (NumPy 1 and 2 module names).
_ALLOWED_GLOBALS = frozenset(
    {
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {("numpy", "ndarray"), ("numpy", "dtype")}
)
_PLAIN_KINDS = frozenset("biufUS")


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that resolves no global but NumPy's array and scalar constructors."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def load_npy(path: Path, *, objects: bool = False) -> np.ndarray:
    """The array in ``path``: memory-mapped, or (``objects``) an object array of plain values.

    Raises ReadError naming the file for anything else, including a pickle that asks for more
    than arrays of ``str``, ``int`` and ``float``.
    """
    with path.open("rb") as fh:
        if fh.read(len(NPY_MAGIC)) != NPY_MAGIC:  # np.load would take it for a pickle
            raise ReadError(path, "not a .npy file (no NumPy header)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc) and "Python objects" not in str(exc):
            raise ReadError(path, f"not a readable .npy file: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise ReadError(path, f"not a readable .npy file: {exc}") from exc
    if not objects:
        raise ReadError(
            path, "holds Python objects, not numbers: this file must be a numeric array"
        )
    return _load_plain_objects(path)


def _load_plain_objects(path: Path) -> np.ndarray:
    refused = (
        "holds Python objects other than text and numbers, so it is not loaded (unpickling "
        "it could run code); save it again as a text or number array"
    )
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ReadError(path, f".npy format version {version} holding Python objects")
            shape, _, _ = read_header(fh)
            array = _ArraysOnly(io.BytesIO(fh.read())).load()
        except ReadError:
            raise
        except pickle.UnpicklingError as exc:
            raise ReadError(path, f"{refused} ({exc})") from None
        except Exception as exc:  # a damaged pickle raises anything; all mean "unreadable"
            raise ReadError(path, f"damaged object array ({type(exc).__name__}: {exc})") from None
    if not isinstance(array, np.ndarray) or not _plain(array):
        raise ReadError(path, refused)
    if array.shape != tuple(shape):
        raise ReadError(path, f"header says shape {shape}, the data holds {array.shape}")
    return array


def _plain(value: Any) -> bool:
    """Only str, int, float (or NumPy scalars and arrays of them), however nested."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _PLAIN_KINDS:
            return True
        return value.dtype.kind == "O" and all(_plain(v) for v in value.ravel())
    return isinstance(value, str | int | float | bytes | np.generic) and not isinstance(
        value, np.void | np.object_
    )


def as_column(path: Path, array: np.ndarray, count: int) -> list[Any]:
    """One plain value per slice from an (N,), (N, 1) or (N, 1, 1) array, whose entries may
    themselves be 1x1 arrays (``patient[0][0]`` in the conversion scripts)."""
    if array.ndim == 0 or array.shape[0] != count or int(np.prod(array.shape[1:])) != 1:
        raise ReadError(path, f"expected shape ({count},) (or ({count}, 1)), got {array.shape}")
    values = []
    for value in np.asarray(array).reshape(count).tolist():
        while isinstance(value, np.ndarray | list | tuple):
            flat = np.asarray(value, dtype=object).ravel()
            if flat.size != 1:
                raise ReadError(path, f"an entry holds {flat.size} values; expected one")
            value = flat[0]
        values.append(value.item() if isinstance(value, np.generic) else value)
    return values
