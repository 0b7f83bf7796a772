"""Batch inputs: turn what a user names on the command line into small, picklable cases.

A batch run ships one `Case` per unit of work to a worker process (or a Dask worker on another
machine), so a case is a description, never pixel data: a path, an index into a NumPy bundle, the
ROI label to measure and the columns a batch CSV passes through. `load_case` reads the pixels in
the worker, one case at a time, which is what keeps a 3000-slice run in bounded memory.

Case ids are the keys `--resume` uses to recognise finished work, so they are derived only from
the inputs (file stems, bundle indices, CSV rows), never from run order or timing.

A dataset's corrections (``corrections``) are used by default: a case with a corrected mask in
its dataset's store is measured on that mask, and every row says which mask it was measured on
(``mask_source``, ``mask_digest``), so a resumed run can tell a row made before a correction.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import SimpleITK as sitk

from napari_radiomics.columns import CASE, CASE_COLUMNS, MASK_COLUMNS, MASK_DIGEST, MASK_SOURCE
from napari_radiomics.convert import Grid, grid_of
from napari_radiomics.corrections import (
    CorrectedMask,
    CorrectionStore,
    dataset_folder,
    mask_digest,
    store_dir_for,
)
from napari_radiomics.errors import CorrectionsError, ReadError
from napari_radiomics.io import CaseMetadata, Source, classify_path
from napari_radiomics.io.bundle import NpyBundle, read_npy_bundle
from napari_radiomics.io.folder import NOT_A_CASE, find_mat_files
from napari_radiomics.io.mat import read_tumor_mask, read_tumor_mat
from napari_radiomics.io.medical import case_name

_T = TypeVar("_T")


@dataclass(frozen=True)
class Case:
    """One unit of batch work, cheap to pickle and to send to another process.

    `kind` is "mat" (a brain-tumour .mat file), "bundle" (slice `index` of a NumPy bundle
    folder) or "image" (an image file read by SimpleITK, with `mask`). `roi_label` restricts
    extraction to one label of the mask (a batch CSV's `Label`); None measures every label.
    `extra` holds a batch CSV's other columns, passed through into the output row.
    `corrected` is the case's correction from its dataset's store, when it has one and
    corrections are used: `load_case` measures it instead of the original mask.
    """

    case_id: str
    kind: str
    path: str
    mask: str | None = None
    index: int | None = None
    roi_label: int | None = None
    extra: tuple[tuple[str, str], ...] = ()
    corrected: CorrectedMask | None = None

    @property
    def mask_source(self) -> str:
        return "original" if self.corrected is None else "corrected"

    @property
    def store_key(self) -> tuple[Path, str]:
        """(dataset folder, case name) as a corrections store knows this case."""
        if self.kind == "bundle":
            return Path(self.path).absolute(), str(self.index)
        if self.kind == "mat":
            return dataset_folder(self.path), Path(self.path).stem
        mask = Path(self.mask or self.path)
        return dataset_folder(mask), case_name(mask)

    def load(
        self, *, image_pixels: bool = True
    ) -> tuple[Any, np.ndarray | sitk.Image, dict[str, Any]]:
        """This case's (image, mask, metadata): :func:`load_case`. A method too, so code below
        the batch (a corrections export) can read cases it is given without importing it."""
        return load_case(self, image_pixels=image_pixels)


def discover_cases(
    inputs: Sequence[str | Path],
    *,
    mask: str | Path | None = None,
    corrections: str | Path | None = None,
    original_masks: bool = False,
) -> list[Case]:
    """Expand files and folders into cases, in input order.

    Accepted inputs: `.mat` files; folders searched recursively for `.mat` files (`cvind.mat`
    skipped; a dangling link or link loop among them is a case that fails, naming the link);
    a NumPy bundle folder (or one of its `.npy` files), one case per slice; image files
    (NRRD/NIfTI/MHA) measured against `mask`; a pyradiomics batch CSV (`Image`, `Mask`,
    optional `Label`, other columns passed through). Raises ReadError naming the input that
    cannot be used, so a typo fails before any work starts.

    Corrected masks come from each dataset's store (where the viewer keeps them), or from the
    store `corrections` names; `original_masks` ignores every store.
    """
    found: list[tuple[Case, str]] = []  # (case, a more specific id used if the first collides)
    images = 0
    for item in inputs:
        path = Path(item)
        if not path.exists():
            dangling = "a dangling symbolic link or a link loop"
            raise ReadError(path, dangling if path.is_symlink() else "no such file or folder")
        if path.is_file() and path.suffix.lower() == ".csv":
            found.extend(_csv_cases(path))
            continue
        source = classify_path(
            path, recursive=True, role="a batch input", others=("a batch .csv",)
        )
        if source.kind in ("mat_folder", "bundle"):
            found.extend(_folder_cases(source))
        elif source.kind == "mat":
            if path.name.lower() not in NOT_A_CASE:
                found.append((Case(path.stem, "mat", str(path)), str(path.with_suffix(""))))
        else:  # an NRRD/NIfTI/MHA image
            if mask is None:
                raise ReadError(path, "an image file needs a mask: pass --mask MASK")
            if not Path(mask).is_file():
                raise ReadError(Path(mask), "mask file not found")
            stem = case_name(path)
            found.append((Case(stem, "image", str(path), mask=str(mask)), str(path)))
            images += 1
    if mask is not None and images == 0:
        raise ReadError(Path(mask), "--mask only applies to NRRD/NIfTI/MHA image inputs")
    if original_masks and corrections is not None:
        raise ReadError(Path(corrections), "--corrections and --original-masks contradict")
    cases = _unique(found)
    return cases if original_masks else with_corrections(cases, corrections)


def with_corrections(cases: Sequence[Case], store: str | Path | None = None) -> list[Case]:
    """`cases` with the corrected masks of their datasets' stores (or of `store`).

    A store is opened for reading only, so a run never waits for, nor blocks, a viewer that
    is correcting the same dataset; it sees each correction as last saved.
    """
    corrected: dict[Case, Case] = {}
    for opened, members in corrections_stores(cases, store):
        for case in members:
            key = case.store_key[1]
            found = opened.mask_file(key)
            if found is not None:
                digest = opened.mask_digest(key)
                corrected[case] = replace(case, corrected=CorrectedMask(str(found), digest))
    return [corrected.get(case, case) for case in cases]


def corrections_stores(
    cases: Sequence[Case], store: str | Path | None = None
) -> list[tuple[CorrectionStore, list[Case]]]:
    """The corrections store of each dataset among `cases` (`store` for all of them), opened
    for reading only, with that dataset's cases; in input order. Raises ReadError for a
    `store` that is not one, or a store refused to its dataset (inside it, or another's)."""
    if store is not None and not (Path(store) / "store.yaml").is_file():
        raise ReadError(Path(store), "not a corrections store (no store.yaml)")
    datasets: dict[Path, list[Case]] = {}
    for case in cases:
        datasets.setdefault(case.store_key[0], []).append(case)
    out = []
    for dataset, members in datasets.items():
        try:
            root = Path(store) if store is not None else store_dir_for(dataset)
        except CorrectionsError as exc:  # NAPARI_RADIOMICS_CORRECTIONS_HOME is relative
            raise ReadError(exc.path, exc.problem) from None
        opened = CorrectionStore(root, dataset, write=False)
        if opened.refused is not None:  # inside the dataset, or another dataset's
            raise ReadError(root, opened.refused)
        out.append((opened, members))
    return out


def _folder_cases(source: Source) -> list[tuple[Case, str]]:
    folder = source.path
    if source.kind == "bundle":
        bundle = read_npy_bundle(folder)
        return [
            (Case(str(i), "bundle", str(folder), index=i), f"{folder}:{i}")
            for i in range(len(bundle.labels))
        ]
    files = find_mat_files(folder, recursive=True)
    return [
        (Case(f.stem, "mat", str(f)), str(f.relative_to(folder).with_suffix(""))) for f in files
    ]


def _csv_cases(path: Path) -> list[tuple[Case, str]]:
    """Rows of a pyradiomics batch CSV; relative paths start at the CSV, as in pyradiomics.

    The CSV must be UTF-8 (with or without a byte-order mark): guessing another encoding
    would turn a path into another path, so a file saved as Latin-1 or Windows-1252 (what
    spreadsheets often write) is refused, naming the line and the byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = (
            f"line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}; saved as Latin-1 or "
            "Windows-1252?): save the batch CSV as UTF-8"
        )
        raise ReadError(path, problem) from None
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    columns = list(rows[0]) if rows else []
    missing = [c for c in ("Image", "Mask") if c not in columns]
    if missing:
        raise ReadError(path, f"a batch CSV needs the columns Image and Mask; missing {missing}")
    cases = []
    for number, row in enumerate(rows, start=1):
        image, mask = (path.parent / row["Image"], path.parent / row["Mask"])
        label_text = (row.get("Label") or "").strip()
        try:
            label = int(float(label_text)) if label_text else None
        except ValueError:
            problem = f"row {number}: Label {label_text!r} is not an integer"
            raise ReadError(path, problem) from None
        extra = tuple(
            (k, v) for k, v in row.items() if k not in ("Image", "Mask", "Label", "case")
        )
        case_id = (row.get("case") or "").strip() or case_name(image)
        if label is not None and not row.get("case"):
            case_id = f"{case_id}:label{label}"
        case = Case(case_id, "image", str(image), mask=str(mask), roi_label=label, extra=extra)
        cases.append((case, f"{path.stem}:{number}"))
    return cases


def _unique(found: list[tuple[Case, str]]) -> list[Case]:
    """Keep short ids where they are unique; fall back to a longer, still input-derived id."""
    counts = Counter(case.case_id for case, _ in found)
    cases = [replace(c, case_id=alt) if counts[c.case_id] > 1 else c for c, alt in found]
    seen: Counter[str] = Counter()
    unique = []
    for case in cases:
        seen[case.case_id] += 1
        n = seen[case.case_id]
        unique.append(case if n == 1 else replace(case, case_id=f"{case.case_id}#{n}"))
    return unique


def metadata_columns(cases: Iterable[Case]) -> list[str]:
    """The identifying columns of an output: the fixed ones, then passed-through CSV columns."""
    columns = [*CASE_COLUMNS, *MASK_COLUMNS]
    for case in cases:
        columns.extend(k for k, _ in case.extra if k not in columns)
    return columns


@lru_cache(maxsize=4)
def _bundle(folder: str) -> NpyBundle:
    """One open (memory-mapped) bundle per worker process, reused for all its slices."""
    return read_npy_bundle(Path(folder))


def load_case(
    case: Case, *, image_pixels: bool = True
) -> tuple[Any, np.ndarray | sitk.Image, dict[str, Any]]:
    """Read one case: (image, mask, metadata).

    The image is a 2D ndarray (spacing 1, as the .mat files store none) or a SimpleITK image
    (its spacing, origin and direction kept); the mask is uint8 so its label is 1. Metadata
    holds the identifying columns in output order. Raises ReadError naming the file.

    ``image_pixels=False`` is for checks that need the image's grid but not its values
    (``extract --check``): the image is then a :class:`~napari_radiomics.convert.Grid`, which
    no extraction accepts, and its pixels are not read (most of the time a .mat file takes).
    """
    image: Any
    identity = CaseMetadata(case.case_id)
    if case.kind == "mat":
        if image_pixels:
            tumor = read_tumor_mat(case.path)
            image, mask, label, patient_id = tumor.image, tumor.mask, tumor.label, tumor.patient_id
        else:
            header, mask = read_tumor_mask(case.path)
            image = grid_of(np.broadcast_to(np.zeros((), header.dtype), header.shape))
            label, patient_id = header.label, header.patient_id
        identity = CaseMetadata(case.case_id, patient_id, label)
        mask = mask.astype(np.uint8)
    elif case.kind == "bundle":
        bundle = _bundle(case.path)
        index = case.index if case.index is not None else -1
        if not 0 <= index < len(bundle.labels):
            raise ReadError(Path(case.path), f"no slice {case.index} in this NumPy bundle")
        # One slice from the memory map; its grid alone needs no read at all.
        image = np.array(bundle.images[index]) if image_pixels else grid_of(bundle.images[index])
        mask = np.asarray(bundle.masks[index]).astype(np.uint8)
        identity = replace(bundle.metadata(index), case=case.case_id)
    elif case.kind == "image":
        path = Path(case.path)
        image = _read_image(path) if image_pixels else _read_grid(path)
        mask = _read_image(Path(case.mask or ""))
    else:
        raise ReadError(Path(case.path), f"unknown case kind {case.kind!r}")
    if case.corrected is not None:
        mask = case.corrected.read(mask)
    metadata = identity.columns() | dict(case.extra) | {CASE: case.case_id}
    pixels = sitk.GetArrayViewFromImage(mask) if isinstance(mask, sitk.Image) else mask
    metadata.update({MASK_SOURCE: case.mask_source, MASK_DIGEST: mask_digest(pixels)})
    return image, mask, metadata


def _read_image(path: Path) -> sitk.Image:
    return _read_with_sitk(path, sitk.ReadImage)


def _read_grid(path: Path) -> Grid:
    """The image file's grid from its header, without reading the pixels."""

    def information(name: str) -> Grid:
        reader = sitk.ImageFileReader()
        reader.SetFileName(name)
        reader.ReadImageInformation()
        return Grid(
            reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()
        )

    return _read_with_sitk(path, information)


def _read_with_sitk(path: Path, read: Callable[[str], _T]) -> _T:
    """``read(path)``, with SimpleITK's failures as a ReadError naming the file."""
    if not path.is_file():
        raise ReadError(path, "file not found")
    try:
        return read(str(path))
    except RuntimeError as exc:
        problem = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise ReadError(path, f"SimpleITK cannot read it ({problem})") from None
