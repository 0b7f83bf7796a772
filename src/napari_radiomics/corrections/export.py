"""A corrected copy of a dataset: every case with its corrected mask where it has one.

Three forms, each readable without this plugin: a folder of brain-tumour ``.mat`` files (the
same ``cjdata`` struct, so MATLAB, h5py and this plugin open it; an uncorrected ``.mat`` case
is copied byte for byte), a NumPy bundle (the four-file form: ``images.npy``, ``masks.npy``
as bool, ``labels.npy``, ``patient_ids.npy``), or NIfTI masks (``<case>_mask.nii.gz`` with the
source geometry). Cases are the batch's (``batch.discover_cases``), so the export holds the
masks a batch run measures; they are read through their own ``load`` (:class:`ExportCase`
says what an export needs of a case), so this module does not import the batch, which
itself reads corrections.

File names come from case ids, and a case id is whatever the inputs hold: a path when two
inputs share a file name, ``../../x`` or ``CON`` from a batch CSV, a name with ``:`` or a
newline. So every name goes through ``_filenames`` (valid on every OS, unique where case is
ignored, never outside the export), and ``cases.csv`` records which file holds which case,
so that an id that had to be escaped or shortened comes back exactly.

An export is all or nothing. It is written into a hidden folder beside OUTPUT, renamed to
OUTPUT when every case is written; each case is read before its file is written, so a corrupt
``.mat`` is refused rather than copied. Whatever fails (a case that cannot be read or written
in this form, a full or read-only disk) removes that folder and raises an error naming the
file: OUTPUT is left as it was (absent, or an empty folder), and a rerun into it works. No
file outside that folder is ever written, least of all a source.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import SimpleITK as sitk

from napari_radiomics._atomic import staging_folder
from napari_radiomics._filenames import inside, unique_stems
from napari_radiomics._spreadsheet import escape_cell
from napari_radiomics.corrections.maskfile import CorrectedMask
from napari_radiomics.errors import WriteError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.io.mat import TumorSlice, border_from_mask, write_tumor_mat
from napari_radiomics.io.medical import write_medical_image

__all__ = ["CASES_FILE", "EXPORT_FORMS", "ExportCase", "ExportForm", "export_dataset"]

ExportForm = Literal["mat", "npy", "nifti"]
EXPORT_FORMS: tuple[ExportForm, ...] = ("mat", "npy", "nifti")
#: The export's table of contents: each case's exact id and its file (or bundle index).
CASES_FILE = "cases.csv"
Progress = Callable[[int, int], None]


class ExportCase(Protocol):
    """What an export needs of a case; ``napari_radiomics.batch.Case`` is one.

    ``kind`` "mat" (``path`` is its ``.mat`` file), "bundle" or "image"; ``corrected`` its
    correction, if any; ``load`` reads (image, mask, metadata), the mask corrected.
    """

    @property
    def case_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def corrected(self) -> CorrectedMask | None: ...

    def load(
        self, *, image_pixels: bool = True
    ) -> tuple[Any, np.ndarray | sitk.Image, dict[str, Any]]: ...


def export_dataset(
    cases: Sequence[ExportCase],
    output: str | Path,
    form: ExportForm = "mat",
    *,
    progress: Progress | None = None,
) -> list[Path]:
    """Write ``cases`` (with their corrected masks) to the new folder ``output``; returns the
    files written, ``cases.csv`` last. Raises ReadError naming a case's file that cannot be
    read, or WriteError naming the file or folder that cannot be written; ``output`` is then
    as it was before."""
    output = Path(output).resolve()
    if form not in EXPORT_FORMS:
        raise WriteError(output, f"unknown export form {form!r}; use one of {EXPORT_FORMS}")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise WriteError(output, "exists and is not an empty folder; export to a new folder")
    if not cases:
        raise WriteError(output, "no cases to export")
    if len({c.case_id for c in cases}) < len(cases):  # discover_cases never gives such cases
        raise WriteError(output, "two cases share an id; one file per id cannot hold both")
    with _writing(output):
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(output)
    try:
        if form == "npy":
            names = _bundle(cases, staging, output, progress)
            rows = [("case", "index"), *((c.case_id, str(i)) for i, c in enumerate(cases))]
        else:
            names = _each_case(cases, staging, output, form, progress)
            rows = [("case", "file"), *((c.case_id, n) for c, n in zip(cases, names, strict=True))]
        with _writing(output / CASES_FILE):
            (staging / CASES_FILE).write_bytes(_csv_bytes(rows))
        with _writing(output):
            _into_place(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [output / name for name in (*names, CASES_FILE)]


def _into_place(staging: Path, output: Path) -> None:
    """Rename the finished export to ``output``, replacing the empty folder the user may have
    named. POSIX does that in one rename, so a Ctrl-C or a kill at the last instant leaves
    the empty folder, never no folder (removed first, the folder was gone if the signal came
    before the rename). Windows replaces no folder: there it is removed first."""
    try:
        staging.replace(output)
    except OSError:
        if not output.is_dir():
            raise
        output.rmdir()  # not empty (filled meanwhile): an OSError, reported
        staging.rename(output)


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (full disk, read-only or unwritable location, file too large) as a
    WriteError naming ``path`` as the user knows it, not the hidden staging folder."""
    try:
        yield
    except OSError as exc:
        problem = exc.strerror or str(exc) or type(exc).__name__
        raise WriteError(path, f"cannot be written ({problem})") from None


def _csv_bytes(rows: Sequence[tuple[str, str]]) -> bytes:
    """UTF-8 CSV, every value quoted, so that an id holding a line break or a carriage return
    reads back whole and exact. What UTF-8 cannot hold (a lone surrogate from a file name that
    is not UTF-8) is spelled as a backslash escape, as in a batch run's tables; an id a
    spreadsheet would run as a formula gets a leading ``'`` (napari_radiomics._spreadsheet)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerows([escape_cell(value) for value in row] for row in rows)
    return text.getvalue().encode("utf-8", "backslashreplace")


def _each_case(
    cases: Sequence[ExportCase],
    staging: Path,
    output: Path,
    form: ExportForm,
    progress: Progress | None,
) -> list[str]:
    suffix = ".mat" if form == "mat" else "_mask.nii.gz"
    stems = unique_stems(c.case_id for c in cases)
    names = []
    for done, case in enumerate(cases, start=1):
        target = inside(staging, stems[case.case_id] + suffix)
        (_mat if form == "mat" else _nifti)(case, target, output / target.name)
        names.append(target.name)
        if progress is not None:
            progress(done, len(cases))
    return names


def _mat(case: ExportCase, target: Path, shown: Path) -> None:
    if case.kind == "image":
        raise WriteError(shown, f"case {case.case_id} is a NRRD/NIfTI image: export as nifti")
    image, mask, metadata = case.load()  # a broken source is refused, never copied
    if case.kind == "mat" and case.corrected is None:
        with _writing(shown):  # the source as it is, tumorBorder and all
            shutil.copyfile(case.path, target)
        return
    corrected = np.asarray(mask) != 0
    identity = CaseMetadata.from_mapping(metadata)
    tumor = TumorSlice(
        image=np.asarray(image),
        mask=corrected,
        border=border_from_mask(corrected) if corrected.any() else np.zeros((0, 2)),
        label=int(identity.label or 0),  # mat and bundle cases have one
        tumor_type=identity.tumor_type,
        patient_id=identity.patient_id,
    )
    with _writing(shown):
        write_tumor_mat(target, tumor)


def _nifti(case: ExportCase, target: Path, shown: Path) -> None:
    _, mask, _ = case.load(image_pixels=False)
    image = mask if isinstance(mask, sitk.Image) else sitk.GetImageFromArray(
        np.ascontiguousarray(mask, dtype=np.uint8)
    )  # fmt: skip
    with _writing(shown):
        write_medical_image(image, target)


def _bundle(
    cases: Sequence[ExportCase], staging: Path, output: Path, progress: Progress | None
) -> list[str]:
    """The four arrays. Images and masks are written slice by slice through plain file
    writes (the dataset's images take 1.6 GB: never all in memory); a memory map would turn
    a full disk into a crash (SIGBUS) instead of an error naming the file."""
    first_image, _, _ = cases[0].load()
    shape = np.shape(first_image)
    if isinstance(first_image, sitk.Image) or len(shape) != 2:
        raise WriteError(output, "a NumPy bundle holds 2D slices; export these cases as nifti")
    dtype = np.asarray(first_image).dtype
    labels, ids = [], []
    with contextlib.ExitStack() as files:
        size = (len(cases), *shape)
        images = files.enter_context(_npy_file(staging, output, "images", dtype, size))
        masks = files.enter_context(_npy_file(staging, output, "masks", bool, size))
        for index, case in enumerate(cases):
            image, mask, metadata = case.load()
            if np.shape(image) != shape:
                raise WriteError(
                    output,
                    f"case {case.case_id} is {np.shape(image)}, the first case {shape}: a "
                    "NumPy bundle holds one shape; export as mat instead",
                )
            images(np.asarray(image, dtype=dtype))
            masks(np.asarray(mask) != 0)
            identity = CaseMetadata.from_mapping(metadata)
            labels.append(int(identity.label or 0))  # mat and bundle cases have one
            ids.append(identity.patient_id)
            if progress is not None:
                progress(index + 1, len(cases))
    for name, values in (("labels", np.array(labels)), ("patient_ids", np.array(ids))):
        with _writing(output / f"{name}.npy"):
            np.save(staging / f"{name}.npy", values)
    return ["images.npy", "masks.npy", "labels.npy", "patient_ids.npy"]


@contextlib.contextmanager
def _npy_file(
    staging: Path, output: Path, name: str, dtype: np.dtype | type, shape: tuple[int, ...]
) -> Iterator[Callable[[np.ndarray], None]]:
    """A ``.npy`` of ``shape`` (slices first), filled by calling the yielded function once
    per slice, in order."""
    shown = output / f"{name}.npy"
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": shape,
    }
    with _writing(shown), (staging / f"{name}.npy").open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)

        def append(pixels: np.ndarray) -> None:
            with _writing(shown):
                handle.write(np.ascontiguousarray(pixels).tobytes())

        yield append
