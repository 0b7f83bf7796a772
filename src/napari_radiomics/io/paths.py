"""What a path is, and opening it: the one place that tells a ``.mat`` slice, a folder of them,
a NumPy bundle and an NRRD/NIfTI/MHA image apart.

The reader hook, batch discovery, ``maps``, the corrections store and the writer all ask
:func:`path_kind` or :func:`source_of` (or :func:`classify_path`, which refuses with a
:class:`ReadError` naming the path and what was expected), so a new format, or a new way to
point at an old one (a bundle's ``labels.npy``), is taught here once instead of in six
branches that drift apart.

The folder and bundle readers (dask, pandas, h5py) are imported only when a path turns out to
be one of theirs: asking what one NRRD file is, as ``maps`` does, loads none of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, get_args

from napari_radiomics.errors import ReadError
from napari_radiomics.io.medical import (
    MEDICAL_SUFFIXES,
    MedicalImage,
    medical_suffix,
    read_medical_image,
)

if TYPE_CHECKING:
    from napari_radiomics.io.bundle import NpyBundle
    from napari_radiomics.io.folder import Deliver, MatStack
    from napari_radiomics.io.mat import TumorSlice

Kind = Literal["mat", "mat_folder", "bundle", "medical"]
#: Every kind, in the order error messages list them.
KINDS: tuple[Kind, ...] = get_args(Kind)
#: What each kind is, as an error message says it.
DESCRIPTIONS: dict[Kind, str] = {
    "mat": "a brain-tumour .mat file",
    "mat_folder": "a folder of .mat files",
    "bundle": "a NumPy bundle (images.npy, masks.npy, labels.npy)",
    "medical": f"an NRRD/NIfTI/MHA image ({'/'.join(MEDICAL_SUFFIXES)})",
}
Opened: TypeAlias = "TumorSlice | MatStack | NpyBundle | MedicalImage"


@dataclass(frozen=True)
class Source:
    """A path and what it is. ``path`` is what opens it: a bundle's folder even when the
    user named one of its ``.npy`` files, so the four files selected together are one bundle."""

    kind: Kind
    path: Path


def source_of(path: str | Path, *, recursive: bool = False) -> Source | None:
    """What ``path`` is, or None when it is none of :data:`KINDS`.

    A file is known by its name alone (it need not exist yet: the writer asks about the file
    it is about to write, and a missing ``.mat`` is reported by its reader, naming it); a
    folder by what it holds (the bundle's files, else a ``.mat`` file, in its subfolders too
    when ``recursive``); a ``.npy`` file only as one of a bundle's files, never a random array.
    """
    path = Path(path)
    if path.is_dir():
        from napari_radiomics.io.bundle import is_npy_bundle
        from napari_radiomics.io.folder import holds_mat_files

        if is_npy_bundle(path):
            return Source("bundle", path)
        return Source("mat_folder", path) if holds_mat_files(path, recursive) else None
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return Source("mat", path)
    if suffix == ".npy":
        from napari_radiomics.io.bundle import BUNDLE_FILES, is_npy_bundle

        in_bundle = path.name in BUNDLE_FILES and is_npy_bundle(path.parent)
        return Source("bundle", path.parent) if in_bundle else None
    return Source("medical", path) if medical_suffix(path) is not None else None


def path_kind(path: str | Path, *, recursive: bool = False) -> Kind | None:
    """The kind :func:`source_of` finds for ``path``, or None."""
    source = source_of(path, recursive=recursive)
    return None if source is None else source.kind


def classify_path(
    path: str | Path,
    accept: Collection[Kind] = KINDS,
    *,
    recursive: bool = False,
    role: str = "an input",
    others: Sequence[str] = (),
) -> Source:
    """:func:`source_of`, refusing anything not in ``accept`` with a ReadError that names the
    path, says what it is (``role`` names what the caller wanted) and lists what is expected:
    the accepted kinds, then ``others`` the caller handles itself (a batch CSV)."""
    path = Path(path)
    found = source_of(path, recursive=recursive)
    if found is not None and found.kind in accept:
        return found
    if found is not None:
        problem = f"{DESCRIPTIONS[found.kind]}, not {role}"
    elif path.is_dir():
        problem = "holds no .mat files and is not a NumPy bundle"
    else:
        problem = f"not {role}"
    expected = [DESCRIPTIONS[kind] for kind in KINDS if kind in accept] + list(others)
    listed = ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + expected[-1]
    raise ReadError(path, f"{problem} (expected {listed})")


def open_path(
    path: str | Path,
    accept: Collection[Kind] = KINDS,
    *,
    scan_budget: float | None = 0.5,
    deliver: Deliver | None = None,
) -> Opened:
    """Open ``path`` as what :func:`classify_path` says it is: a :class:`TumorSlice`, a lazy
    :class:`MatStack` (``scan_budget`` and ``deliver`` as :func:`open_mat_stack` takes them;
    no ``deliver``: its default, ``io.folder.at_once``), an :class:`NpyBundle` or a
    :class:`MedicalImage`. Errors are ReadErrors naming the file."""
    source = classify_path(path, accept)
    if source.kind == "mat":
        from napari_radiomics.io.mat import read_tumor_mat

        return read_tumor_mat(source.path)
    if source.kind == "mat_folder":
        from napari_radiomics.io.folder import at_once, open_mat_stack

        deliver = at_once if deliver is None else deliver
        return open_mat_stack(source.path, scan_budget=scan_budget, deliver=deliver)
    if source.kind == "bundle":
        from napari_radiomics.io.bundle import read_npy_bundle

        return read_npy_bundle(source.path)
    return read_medical_image(source.path)
