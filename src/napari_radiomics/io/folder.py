"""A folder of brain-tumour ``.mat`` slices as one lazy image stack and one lazy mask stack.

The dataset has 3064 files (about 839 MB), so nothing but each file's small header (shape,
label, patient id) is read when the folder opens; pixels are read by dask one slice at a time
when napari shows it. A few slices are 256x256 among 512x512 ones: they are resized to the
majority shape (linear for the image, nearest for the mask, both on pixel centres so that
:func:`resize_mask` takes a mask painted on the shown slice back to its file's grid exactly)
and named in a warning. A broken
file does not stop the folder from opening: its slice is shown as zeros and it is named, with
its problem, in a warning and in the per-slice table.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
from scipy import ndimage

from napari_radiomics._atomic import is_temporary
from napari_radiomics.errors import ReadError
from napari_radiomics.io.mat import MatHeader, read_mat_header, read_tumor_mat
from napari_radiomics.io.metadata import CaseMetadata, cases_table

#: The dataset's 5-fold split indices, stored next to the cases; not a case itself.
NOT_A_CASE = frozenset({"cvind.mat"})
#: macOS writes an AppleDouble companion ``._<name>`` beside each file it copies to a drive that
#: cannot hold the file's attributes (FAT, exFAT, many network shares): 4 KiB of metadata that
#: a folder listing would otherwise report as one unreadable case per slice.
_APPLE_DOUBLE = "._"
_MAX_NAMED = 20  # warnings name at most this many files, then say how many more


class FolderWarning(UserWarning):
    """Some slices of a folder were resized or could not be read (the message names them)."""


def find_mat_files(folder: str | Path, recursive: bool = False) -> list[Path]:
    """The case files of a folder in natural order (``2.mat`` before ``10.mat``).

    A dangling symbolic link or a link loop named ``*.mat`` is listed too: it stands for a case
    the user expects, so it is reported as unreadable (by the reader, naming the link), never
    skipped without a word. Only folders, the split file, macOS's ``._`` companions and what a
    killed write left (``_atomic.is_temporary``: a temporary file, an export's staging folder
    with its half-written copies, when the export was made inside the dataset) are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReadError(folder, "not a folder")
    if recursive:
        return sorted(_mat_files(folder, True), key=lambda p: _natural_key(p, folder))
    # The reader lists the dataset's 3064 files on the GUI thread: one directory read, file
    # types from the entries (no stat but for links), and names sorted as text, not as paths.
    names = sorted(_mat_names(folder), key=_natural_name_key)
    return [folder / name for name in names]


def holds_mat_files(folder: str | Path, recursive: bool = False) -> bool:
    """True when ``folder`` holds a case file, found without listing (nor sorting) them all,
    so asking what a folder of 3064 slices is costs one directory entry."""
    folder = Path(folder)
    return folder.is_dir() and next(_mat_files(folder, recursive), None) is not None


def _mat_files(folder: Path, recursive: bool) -> Iterator[Path]:
    found = folder.rglob("*.mat") if recursive else folder.glob("*.mat")
    return (
        p
        for p in found
        if (p.is_file() or (p.is_symlink() and not p.is_dir()))
        and _may_be_case(p.name)
        and not any(is_temporary(part) for part in p.parts[len(folder.parts) : -1])
    )


def _mat_names(folder: Path) -> Iterator[str]:
    """The names :func:`_mat_files` finds directly in ``folder``, from one ``os.scandir``: a
    file or a link that is no folder, named ``*.mat`` as ``glob`` matches it (case-sensitive
    where the file system's names are), not the split file."""
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if not os.path.normcase(name).endswith(".mat") or not _may_be_case(name):
                continue
            try:
                case = entry.is_file() or (entry.is_symlink() and not entry.is_dir())
            except OSError:  # a link loop (pathlib's tests answer False): a case to name
                case = entry.is_symlink()
            if case:
                yield name


def _may_be_case(name: str) -> bool:
    """Whether a ``*.mat`` file found in a folder may be a case: not the split file, not
    macOS's AppleDouble companion of one, not the temporary file of a killed write."""
    return (
        name.lower() not in NOT_A_CASE
        and not name.startswith(_APPLE_DOUBLE)
        and not is_temporary(name)
    )


def _natural_key(path: Path, folder: Path) -> tuple[tuple[int, int | str], ...]:
    return _natural_name_key(path.relative_to(folder).as_posix())


def _natural_name_key(name: str) -> tuple[tuple[int, int | str], ...]:
    parts = _DIGITS.split(name)
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in parts if part)


_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class MatStack:
    """Lazy (N, H, W) image and mask stacks plus one table row per slice.

    When the header scan did not finish within its time budget, the rest of the folder is
    scanned in the background: ``slices``, ``resized`` and ``broken`` are completed in place
    (and the warnings issued) when ``scanned`` is set; :meth:`wait` blocks until then. The
    background thread only reads headers and builds the missing rows; putting them in the
    table is one step handed to ``open_mat_stack``'s ``deliver``, so whoever reads the table
    (a viewer, on its GUI thread) never sees it half-updated.
    """

    image: da.Array
    mask: da.Array
    slices: pd.DataFrame
    resized: list[str]
    broken: dict[str, str]
    scanned: threading.Event

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every file's header has been read; False on timeout."""
        return self.scanned.wait(timeout)


#: Headers read before a stack's common shape is chosen, whatever the scan's time budget.
MIN_HEADERS = 64

#: Hands the step that completes a stack's table to the thread that must run it.
Deliver = Callable[[Callable[[], None]], None]


def at_once(finish: Callable[[], None]) -> None:
    """Complete the table at once, on the scanning thread (nobody else is reading it)."""
    finish()


def open_mat_stack(
    source: str | Path | Sequence[str | Path],
    *,
    scan_budget: float | None = 0.5,
    deliver: Deliver = at_once,
    min_headers: int | None = None,
) -> MatStack:
    """Open a folder (or a list) of ``.mat`` slices lazily; warns about resized/broken files.

    Every file's header is read to find the common shape and fill the per-slice table; that
    costs a fraction of a millisecond per file, so a whole dataset usually fits in
    ``scan_budget`` seconds. Past the budget (a slow disk, a busy machine, a huge folder) the
    stack opens with the shape of the files seen so far and the rest is scanned in the
    background, so the first slice still shows at once. ``None`` scans everything first.
    Whatever the budget, the first ``min_headers`` files (``MIN_HEADERS`` by default; all,
    if fewer) are read before
    the common shape is chosen: from a handful of headers on a cold or network disk, a
    minority shape could win and the whole stack be shown resized to it.

    The background scan ends by calling ``deliver(finish)``; ``finish()`` puts the rows in
    the table, records the resized and broken files, warns, and sets ``scanned``. By default
    it runs there and then; a GUI passes a ``deliver`` that runs it on the GUI thread (the
    thread that reads the table), so the table changes between two of its events, whole.
    A thread that ``finish`` is delivered to must not block in :meth:`MatStack.wait`.
    """
    paths = find_mat_files(source) if isinstance(source, str | Path) else [Path(p) for p in source]
    if not paths:
        raise ReadError(source if isinstance(source, str | Path) else None, "no .mat files")
    deadline = None if scan_budget is None else time.monotonic() + scan_budget
    least = MIN_HEADERS if min_headers is None else min_headers
    headers: list[MatHeader | None] = []
    broken: dict[str, str] = {}
    for path in paths:
        late = deadline is not None and time.monotonic() > deadline
        if late and len(headers) >= least and any(headers):
            break
        headers.append(_read_header(path, broken))
    good = [h for h in headers if h is not None]
    if not good:
        first, problem = next(iter(broken.items()))
        raise ReadError(
            paths[0].parent,
            f"none of the {len(paths)} .mat files could be read (first: {first}: {problem})",
        )
    shape, _ = Counter(h.shape for h in good).most_common(1)[0]
    dtype = next(h.dtype for h in good if h.shape == shape)
    loader = _SliceLoader(tuple(paths), shape, dtype, broken)
    chunks = ((1,) * len(paths), (shape[0],), (shape[1],))
    token = uuid.uuid4().hex
    stack = MatStack(
        image=da.map_blocks(
            loader.image_block, chunks=chunks, dtype=dtype, name=f"mat-image-{token}"
        ),
        mask=da.map_blocks(
            loader.mask_block, chunks=chunks, dtype=np.uint8, name=f"mat-mask-{token}"
        ),
        slices=_slice_table(paths, headers + [None] * (len(paths) - len(headers)), broken),
        resized=[],
        broken=broken,
        scanned=threading.Event(),
    )
    _report(stack, paths, headers, shape)
    if len(headers) == len(paths):
        stack.scanned.set()
    else:
        # Not a daemon: Python freezes daemon threads at exit, and one frozen inside h5py holds
        # h5py's global lock, so the exiting interpreter hangs on it. Finishing a scan takes
        # about a second for the whole dataset; the exit waits for that instead.
        threading.Thread(
            target=_scan_rest,
            args=(stack, paths, len(headers), shape, deliver),
            name="mat-folder-scan",
        ).start()
    return stack


#: What reading a dirty file may raise besides ReadError (the readers turn every problem they
#: foresee into a ReadError; this keeps the promise for what they do not): a broken slice
#: becomes a zero slice named in a warning, never a folder that cannot be opened.
_UNFORESEEN = (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError, MemoryError)


def _problem(exc: Exception) -> str:
    if isinstance(exc, ReadError):
        return exc.problem
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _read_header(path: Path, broken: dict[str, str]) -> MatHeader | None:
    try:
        return read_mat_header(path)
    except _UNFORESEEN as exc:  # ReadError included
        broken[str(path)] = _problem(exc)
        return None


def _scan_rest(
    stack: MatStack, paths: list[Path], first: int, shape: tuple[int, int], deliver: Deliver
) -> None:
    """Background part of the scan: read the remaining headers and build their rows (a new
    table, touched by no one else), then hand the one step that puts them in place over."""
    try:
        problems: dict[str, str] = {}
        headers = []
        for count, path in enumerate(paths[first:], start=1):
            headers.append(_read_header(path, problems))
            if count % 4 == 0:  # a slice being shown waits for the same HDF5 lock: let it in
                time.sleep(0.001)
        rest = _slice_table(paths[first:], headers, problems)
        rest.index += first
    except BaseException:
        stack.scanned.set()  # nothing to deliver: waiters must not wait forever
        raise

    def finish() -> None:
        try:
            for column in rest.columns:
                stack.slices.loc[rest.index, column] = rest[column]
            stack.broken.update(problems)
            _report(stack, paths[first:], headers, shape, broken=problems)
        finally:
            stack.scanned.set()

    deliver(finish)


def _report(
    stack: MatStack,
    paths: Sequence[Path],
    headers: Sequence[MatHeader | None],
    shape: tuple[int, int],
    *,
    broken: dict[str, str] | None = None,
) -> None:
    """Record and warn about the odd-shaped and unreadable files among ``paths``."""
    resized = [str(p) for p, h in zip(paths, headers, strict=False) if h and h.shape != shape]
    stack.resized.extend(resized)
    broken = stack.broken if broken is None else broken
    _warn(resized, f"resized to the folder's common shape {shape[0]}x{shape[1]}")
    _warn([f"{name} ({problem})" for name, problem in broken.items()], "could not be read")


def _warn(names: Sequence[str], what: str) -> None:
    if not names:
        return
    listed = ", ".join(names[:_MAX_NAMED])
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    warnings.warn(f"{len(names)} slice(s) {what}: {listed}{more}", FolderWarning, stacklevel=3)


def _slice_table(
    paths: Sequence[Path], headers: Sequence[MatHeader | None], broken: dict[str, str]
) -> pd.DataFrame:
    """The cases' identities (an unreadable file's: its name and path only), then each file's
    shape and problem."""
    cases = [
        CaseMetadata(path.stem, header.patient_id, header.label, path=str(path))
        if header
        else CaseMetadata(path.stem, path=str(path))
        for path, header in zip(paths, headers, strict=True)
    ]
    table = cases_table(cases)
    table["height"] = pd.array([h.shape[0] if h else pd.NA for h in headers], dtype="Int64")
    table["width"] = pd.array([h.shape[1] if h else pd.NA for h in headers], dtype="Int64")
    table["problem"] = [broken.get(str(p), "") for p in paths]
    return table


def resize_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``mask`` resized to ``shape`` by nearest neighbour on pixel centres (labels stay labels).

    Enlarging and shrinking back gives the mask again exactly, whatever the factor: a slice
    shown enlarged in a folder stack (a 256x256 slice among 512x512 ones) and painted on is
    saved on its own file's grid without changing what was not painted.
    """
    rows = ((np.arange(shape[0]) + 0.5) * mask.shape[0] / shape[0]).astype(np.intp)
    cols = ((np.arange(shape[1]) + 0.5) * mask.shape[1] / shape[1]).astype(np.intp)
    return mask[np.ix_(rows, cols)]


class _SliceLoader:
    """Reads one slice per dask block; image and mask blocks of a slice share one file read."""

    def __init__(
        self,
        paths: tuple[Path, ...],
        shape: tuple[int, int],
        dtype: np.dtype,
        broken: dict[str, str],
    ) -> None:
        self.paths = paths
        self.shape = shape
        self.dtype = dtype
        self.broken = broken
        self._read = functools.lru_cache(maxsize=8)(self._read_slice)

    def image_block(self, block_id: tuple[int, ...]) -> np.ndarray:
        return self._read(block_id[0])[0][np.newaxis]

    def mask_block(self, block_id: tuple[int, ...]) -> np.ndarray:
        return self._read(block_id[0])[1][np.newaxis]

    def _read_slice(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        path = self.paths[index]
        if str(path) in self.broken:
            return self._zeros()
        try:
            tumor = read_tumor_mat(path, allow_empty_mask=True)
        except _UNFORESEEN as exc:  # passed the header check but the pixels are broken
            self.broken[str(path)] = _problem(exc)
            warnings.warn(
                f"slice shown as zeros: {path}: {_problem(exc)}", FolderWarning, stacklevel=2
            )
            return self._zeros()
        image = tumor.image
        mask = tumor.mask.astype(np.uint8)
        if image.shape != self.shape:
            factors = (self.shape[0] / image.shape[0], self.shape[1] / image.shape[1])
            image = ndimage.zoom(
                image.astype(np.float32), factors, order=1, grid_mode=True, mode="nearest"
            )
            mask = resize_mask(mask, self.shape)
            image = np.rint(image) if np.issubdtype(self.dtype, np.integer) else image
        return np.asarray(image, dtype=self.dtype), mask

    def _zeros(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.shape, dtype=self.dtype), np.zeros(self.shape, dtype=np.uint8)
