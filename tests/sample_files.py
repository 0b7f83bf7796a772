"""Files the tests open: brain-tumour ``.mat`` cases, mixed folders and NumPy bundles.

The ``.mat`` writers here are independent of the package's writer: they spell out the
dataset's layout by hand (h5py for v7.3, ``scipy.io.savemat`` for v5), so a bug shared by the
package's reader and writer cannot hide behind a symmetric round trip.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.io

from napari_radiomics import read_tumor_mat, write_tumor_mat
from napari_radiomics.corrections import (
    CaseRef,
    CorrectionSession,
    CorrectionStore,
    attach,
    stack_refs,
)
from napari_radiomics.io import open_mat_stack
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import read_table

# An asymmetric 40x56 case: any transpose or flip changes the pixels, the mask or the border.
ROWS, COLS = 40, 56
MASK_ROWS = slice(5, 15)  # rows 5..14
MASK_COLS = slice(30, 50)  # cols 30..49


def case_arrays() -> dict[str, object]:
    """The fields of the reference case, in MATLAB's (row, column) orientation."""
    image = (np.arange(ROWS * COLS, dtype=np.int16).reshape(ROWS, COLS) * 7) - 900
    mask = np.zeros((ROWS, COLS), dtype=bool)
    mask[MASK_ROWS, MASK_COLS] = True
    # Hand-drawn border around the mask: [x1, y1, x2, y2, ...] with x = column, 1-based.
    corners_rc = [(4.5, 29.5), (4.5, 49.5), (14.5, 49.5), (14.5, 29.5)]
    border = np.array([[c + 1, r + 1] for r, c in corners_rc], dtype=np.float64).ravel()
    return {"label": 2, "PID": "MR048994B", "image": image, "tumorMask": mask,
            "tumorBorder": border}  # fmt: skip


def write_v73(path: Path, fields: dict[str, object], omit: Iterable[str] = ()) -> Path:
    """Write ``fields`` the way MATLAB's ``save -v7.3`` lays out the dataset's struct."""
    omit = set(omit)
    with h5py.File(path, "w", userblock_size=512) as f:
        group = f.create_group("cjdata")
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        if "label" not in omit:
            ds = group.create_dataset("label", data=np.array([[float(fields["label"])]]))
            ds.attrs["MATLAB_class"] = np.bytes_("double")
        if "PID" not in omit:
            codes = np.array([[ord(ch)] for ch in str(fields["PID"])], dtype=np.uint16)  # (L, 1)
            ds = group.create_dataset("PID", data=codes)
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            ds.attrs["MATLAB_int_decode"] = np.int32(2)
        if "image" not in omit:
            image = np.asarray(fields["image"])
            ds = group.create_dataset("image", data=image.T.copy(), compression="gzip")
            ds.attrs["MATLAB_class"] = np.bytes_(image.dtype.name)
        if "tumorBorder" not in omit:
            border = np.asarray(fields["tumorBorder"], dtype=np.float64).reshape(1, -1)
            ds = group.create_dataset("tumorBorder", data=border)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
        if "tumorMask" not in omit:
            mask = np.asarray(fields["tumorMask"]).astype(np.uint8)
            ds = group.create_dataset("tumorMask", data=mask.T.copy(), compression="gzip")
            ds.attrs["MATLAB_class"] = np.bytes_("logical")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
    header += b"HDF5 schema 1.00 ."
    with path.open("r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    return path


def write_v5(path: Path, fields: dict[str, object], omit: Iterable[str] = ()) -> Path:
    """Write ``fields`` as a v5 MAT file, as ``scipy.io.savemat`` (and MATLAB -v7) would."""
    cjdata = {
        "label": float(fields["label"]),
        "PID": str(fields["PID"]),
        "image": np.asarray(fields["image"]),
        "tumorBorder": np.asarray(fields["tumorBorder"], dtype=np.float64).reshape(1, -1),
        "tumorMask": np.asarray(fields["tumorMask"], dtype=bool),
    }
    for name in omit:
        cjdata.pop(name)
    scipy.io.savemat(path, {"cjdata": cjdata}, format="5")
    return path


def write_bundle(
    folder: Path,
    n: int = 3,
    *,
    shape: tuple[int, int] = (32, 48),
    ids: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """A NumPy bundle of `n` synthetic slices, as the four-file conversions write it (boolean
    masks, labels 1-3, patient ids `P0`, `P1`, ... unless `ids` are given); returns the arrays."""
    slices = [make_synthetic_slice(seed=100 + i, shape=shape, label=i % 3 + 1) for i in range(n)]
    arrays = {
        "images": np.stack([s.image for s in slices]),
        "masks": np.stack([s.mask for s in slices]),
        "labels": np.array([s.label for s in slices], dtype=np.int64),
        "patient_ids": np.array([f"P{i}" for i in range(n)]) if ids is None else ids,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    return arrays


#: Cases in the session's shared ``mat_folder`` fixture (tests/conftest.py).
MAT_FOLDER_CASES = 6
#: Slices and patients of the session's ``batch_features`` table: two slices per patient,
#: two patients per tumour type.
BATCH_SLICES, BATCH_PATIENTS = 12, 6


def write_mat_folder(
    folder: Path, n: int, *, shape: tuple[int, int] = (64, 64), patients: int | None = None
) -> list[Path]:
    """`n` synthetic slices as v7.3 .mat files: half in `folder`, half in `folder/more`,
    plus the dataset's `cvind.mat`, which is not a case. Each slice is its own patient, or
    slice i belongs to patient i % `patients` (a multiple of 3 keeps one type per patient)."""
    (folder / "more").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        patient = f"P{i if patients is None else i % patients:03d}"
        tumor = make_synthetic_slice(seed=i, shape=shape, label=i % 3 + 1, patient_id=patient)
        where = folder if i < (n + 1) // 2 else folder / "more"
        paths.append(write_tumor_mat(where / f"{i + 1}.mat", tumor))
    scipy.io.savemat(folder / "cvind.mat", {"cvind": np.arange(1, n + 1) % 5 + 1})
    return paths


def mat_session(folder: Path, root: Path) -> CorrectionSession:
    """Four cases written to ``folder`` (two at its top), opened as one stack and reviewed
    as napari reviews them, with their corrections stored in ``root``."""
    write_mat_folder(folder, 4)
    stack = open_mat_stack(folder)
    return attach(stack.mask, stack_refs(stack.slices), folder, stack=True, root=root)


def fill_disk(disk: Path, leave: int) -> Path:
    """Fill `disk` (the ``small_disk`` fixture) until `leave` bytes (whole pages) are free;
    returns the filler file."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    filler.write_bytes(bytes(max(free - leave, 0)))
    stat = os.statvfs(disk)
    assert stat.f_bavail * stat.f_frsize == leave
    return filler


def corrupt_mat(path: Path) -> Path:
    """A file named .mat that is not a MATLAB file at all (a truncated download)."""
    path.write_bytes(b"MATLAB 7.3 MAT-file, truncated" + bytes(64))
    return path


def empty_mask_mat(path: Path, *, shape: tuple[int, int] = (64, 64)) -> Path:
    """A well-formed v7.3 slice whose tumour mask has no pixel set (a segmentation never done)."""
    tumor = make_synthetic_slice(seed=7, shape=shape)
    empty = dataclasses.replace(tumor, mask=np.zeros_like(tumor.mask), border=np.zeros((0, 2)))
    return write_tumor_mat(path, empty)


def good_and_blank_folder(folder: Path) -> Path:
    """``folder`` with case 1, a synthetic slice, and case 2, the same slice blank (every pixel
    0: no head, nothing N4 or a standardisation can use)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = make_synthetic_slice(seed=1, shape=(64, 64), patient_id="P1")
    write_tumor_mat(folder / "1.mat", good)
    write_tumor_mat(folder / "2.mat", dataclasses.replace(good, image=np.zeros_like(good.image)))
    return folder


def assert_same_rows(output: Path, expected: pd.DataFrame) -> None:
    """A batch output holds exactly ``expected``'s rows, bit for bit, in any order."""
    pd.testing.assert_frame_equal(
        sorted_rows(read_table(output)), sorted_rows(expected), check_exact=True
    )


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in (case, ROI label) order: parallel runs write them in completion order."""
    return frame.sort_values(["case", "roi_label"]).reset_index(drop=True)


def write_mixed_folder(folder: Path) -> dict[str, object]:
    """Three 64x64 v7.3 slices, one 32x32 (the odd one) and one v5 slice."""
    slices = {}
    for i, (shape, fmt) in enumerate(
        [((64, 64), "7.3"), ((64, 64), "7.3"), ((32, 32), "7.3"), ((64, 64), "5")], start=1
    ):
        tumor = make_synthetic_slice(seed=i, shape=shape, label=1 + i % 3, patient_id=f"P{i}")
        write_tumor_mat(folder / f"{i}.mat", tumor, format=fmt)
        slices[f"{i}.mat"] = tumor
    return slices


def save_square(store: CorrectionStore, case: str, path: Path) -> np.ndarray:
    """Store in ``store`` a correction of the .mat case ``path`` (a square added to its
    mask); returns the corrected mask."""
    original = read_tumor_mat(path).mask.astype(np.uint8)
    corrected = original.copy()
    corrected[2:7, 2:7] = 1
    store.save(CaseRef(case, "mat", str(path)), corrected, original)
    return corrected


def file_states(root: Path, leave_out: Path | None = None) -> dict[Path, tuple[bytes, int, int]]:
    """Every file under ``root`` (but ``leave_out``) with its bytes, mtime and mode."""
    return {
        p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in root.rglob("*")
        if p.is_file() and (leave_out is None or leave_out not in (p, *p.parents))
    }
