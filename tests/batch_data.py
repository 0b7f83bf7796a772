"""Small real datasets for the batch tests, written by the project's own writers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import scipy.io

from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice


def write_mat_folder(folder: Path, n: int, *, shape: tuple[int, int] = (64, 64)) -> list[Path]:
    """`n` synthetic slices as v7.3 .mat files: half in `folder`, half in `folder/more`,
    plus the dataset's `cvind.mat`, which is not a case."""
    (folder / "more").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        tumor = make_synthetic_slice(seed=i, shape=shape, label=i % 3 + 1, patient_id=f"P{i:03d}")
        where = folder if i < (n + 1) // 2 else folder / "more"
        paths.append(write_tumor_mat(where / f"{i + 1}.mat", tumor))
    scipy.io.savemat(folder / "cvind.mat", {"cvind": np.arange(1, n + 1) % 5 + 1})
    return paths


def write_bundle(folder: Path, n: int, *, shape: tuple[int, int] = (64, 64)) -> Path:
    """A NumPy bundle (images, masks, labels, patient_ids .npy) of `n` synthetic slices."""
    folder.mkdir(parents=True, exist_ok=True)
    slices = [make_synthetic_slice(seed=100 + i, shape=shape, label=i % 3 + 1) for i in range(n)]
    np.save(folder / "images.npy", np.stack([s.image for s in slices]))
    np.save(folder / "masks.npy", np.stack([s.mask for s in slices]).astype(np.uint8))
    np.save(folder / "labels.npy", np.array([s.label for s in slices], dtype=np.int64))
    np.save(folder / "patient_ids.npy", np.array([f"B{i}" for i in range(n)]))
    return folder


def corrupt_mat(path: Path) -> Path:
    """A file named .mat that is not a MATLAB file at all (a truncated download)."""
    path.write_bytes(b"MATLAB 7.3 MAT-file, truncated" + bytes(64))
    return path


def empty_mask_mat(path: Path, *, shape: tuple[int, int] = (64, 64)) -> Path:
    """A well-formed v7.3 slice whose tumour mask has no pixel set (a segmentation never done)."""
    tumor = make_synthetic_slice(seed=7, shape=shape)
    empty = dataclasses.replace(tumor, mask=np.zeros_like(tumor.mask), border=np.zeros((0, 2)))
    return write_tumor_mat(path, empty)
