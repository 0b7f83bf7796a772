"""A corrected copy of a dataset: every case with its corrected mask where it has one.

Three forms, each readable without this plugin: a folder of brain-tumour ``.mat`` files (the
same ``cjdata`` struct, so MATLAB, h5py and this plugin open it; an uncorrected ``.mat`` case
is copied byte for byte), a NumPy bundle (the four-file form: ``images.npy``, ``masks.npy``
as bool, ``labels.npy``, ``patient_ids.npy``), or NIfTI masks (``<case>_mask.nii.gz`` with the
source geometry). Cases are the batch's (``batch.discover_cases``), so the export holds the
masks a batch run measures. The output folder must be new or empty: an export never replaces
a file, least of all a source.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import SimpleITK as sitk

from napari_radiomics._atomic import replaced
from napari_radiomics.batch.cases import Case, load_case
from napari_radiomics.errors import WriteError
from napari_radiomics.io.mat import TumorSlice, border_from_mask, write_tumor_mat

__all__ = ["EXPORT_FORMS", "ExportForm", "export_dataset"]

ExportForm = Literal["mat", "npy", "nifti"]
EXPORT_FORMS: tuple[ExportForm, ...] = ("mat", "npy", "nifti")
Progress = Callable[[int, int], None]


def export_dataset(
    cases: Sequence[Case],
    output: str | Path,
    form: ExportForm = "mat",
    *,
    progress: Progress | None = None,
) -> list[Path]:
    """Write ``cases`` (with their corrected masks) to the new folder ``output``; returns the
    files written. Raises WriteError naming the folder or the case that cannot be exported."""
    output = Path(output)
    if form not in EXPORT_FORMS:
        raise WriteError(output, f"unknown export form {form!r}; use one of {EXPORT_FORMS}")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise WriteError(output, "exists and is not an empty folder; export to a new folder")
    if not cases:
        raise WriteError(output, "no cases to export")
    output.mkdir(parents=True, exist_ok=True)
    if form == "npy":
        return _bundle(cases, output, progress)
    written = []
    for done, case in enumerate(cases, start=1):
        written.append(_mat(case, output) if form == "mat" else _nifti(case, output))
        if progress is not None:
            progress(done, len(cases))
    return written


def _mat(case: Case, output: Path) -> Path:
    target = output / f"{case.case_id}.mat"
    if case.kind == "image":
        raise WriteError(target, f"case {case.case_id} is a NRRD/NIfTI image: export as nifti")
    if case.kind == "mat" and case.corrected is None:
        with replaced(target) as tmp:  # the source as it is, tumorBorder and all
            shutil.copyfile(case.path, tmp)
        return target
    image, mask, metadata = load_case(case)
    corrected = np.asarray(mask) != 0
    tumor = TumorSlice(
        image=np.asarray(image),
        mask=corrected,
        border=border_from_mask(corrected) if corrected.any() else np.zeros((0, 2)),
        label=int(metadata["label"]),
        tumor_type=str(metadata["tumor_type"]),
        patient_id=str(metadata["patient_id"] or ""),
    )
    return write_tumor_mat(target, tumor)


def _nifti(case: Case, output: Path) -> Path:
    target = output / f"{case.case_id}_mask.nii.gz"
    _, mask, _ = load_case(case, image_pixels=False)
    image = mask if isinstance(mask, sitk.Image) else sitk.GetImageFromArray(
        np.ascontiguousarray(mask, dtype=np.uint8)
    )  # fmt: skip
    with replaced(target) as tmp:
        sitk.WriteImage(image, str(tmp), True)
    return target


def _bundle(cases: Sequence[Case], output: Path, progress: Progress | None) -> list[Path]:
    """The four arrays, each written to a temporary memory map and renamed when complete (the
    dataset's images take 1.6 GB: never all in memory)."""
    first_image, _, _ = load_case(cases[0])
    shape = np.shape(first_image)
    if isinstance(first_image, sitk.Image) or len(shape) != 2:
        raise WriteError(output, "a NumPy bundle holds 2D slices; export these cases as nifti")
    targets = {name: output / f"{name}.npy" for name in ("images", "masks")}
    labels, ids = [], []
    with replaced(targets["images"]) as images_tmp, replaced(targets["masks"]) as masks_tmp:
        images = np.lib.format.open_memmap(
            images_tmp, "w+", np.asarray(first_image).dtype, (len(cases), *shape)
        )
        masks = np.lib.format.open_memmap(masks_tmp, "w+", bool, (len(cases), *shape))
        for index, case in enumerate(cases):
            image, mask, metadata = load_case(case)
            if np.shape(image) != shape:
                raise WriteError(
                    output,
                    f"case {case.case_id} is {np.shape(image)}, the first case {shape}: a "
                    "NumPy bundle holds one shape; export as mat instead",
                )
            images[index], masks[index] = image, np.asarray(mask) != 0
            labels.append(int(metadata["label"]))
            ids.append(str(metadata["patient_id"] or ""))
            if progress is not None:
                progress(index + 1, len(cases))
        images.flush()
        masks.flush()
        del images, masks
    for name, values in (("labels", np.array(labels)), ("patient_ids", np.array(ids))):
        targets[name] = output / f"{name}.npy"
        with replaced(targets[name]) as tmp:
            np.save(tmp, values)
    return list(targets.values())
