"""Broken and hostile input files, as a careless tool or a hostile user would make them.

Each writer spells its file out with the real writers (h5py, ``scipy.io.savemat``,
``np.save``, SimpleITK, plain YAML text), never with the package's own writer, so a reader
cannot pass a test by sharing a writer's mistake. The slices are small (40 x 56, the reference
case of ``sample_files``), so every test stays fast.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from sample_files import case_arrays, write_v5, write_v73

#: A patient id with a character outside the Basic Multilingual Plane (two UTF-16 code units).
ASTRAL_PID = "MR\U0001f9e0042"


def _codes(text: str) -> np.ndarray:
    """MATLAB char data as h5py sees it: UTF-16 code units, shape (L, 1)."""
    units = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")
    return units.reshape(-1, 1).astype(np.uint16)


def _retype(path: Path, field: str, data: np.ndarray, matlab_class: str) -> Path:
    """Replace one field of a v7.3 file with ``data`` (h5py's orientation) and its class."""
    with h5py.File(path, "r+") as f:
        group = f["cjdata"]
        del group[field]
        ds = group.create_dataset(field, data=data)
        ds.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    return path


def mask_with_background(path: Path, background: float, border: float | None = None) -> Path:
    """A v7.3 slice whose float mask has ``background`` outside the tumour (e.g. -1), and
    ``border`` on the tumour's first row when given (e.g. 0.5)."""
    fields = case_arrays()
    mask = np.where(fields["tumorMask"], 1.0, background)
    if border is not None:
        rows = np.flatnonzero(fields["tumorMask"].any(axis=1))
        mask[rows[0] - 1, fields["tumorMask"][rows[0]]] = border
    write_v73(path, fields)
    return _retype(path, "tumorMask", mask.T.copy(), "double")


def empty_bundle(folder: Path) -> Path:
    """A NumPy bundle of N = 0 slices: four well-formed, empty arrays."""
    folder.mkdir()
    for name, shape in (("images", (0, 8, 8)), ("masks", (0, 8, 8)), ("labels", (0,))):
        np.save(folder / f"{name}.npy", np.zeros(shape))
    np.save(folder / "patient_ids.npy", np.array([], dtype=str))
    return folder


def text_label_v5(path: Path) -> Path:
    fields = case_arrays()
    write_v5(path, fields)
    contents = scipy.io.loadmat(path, simplify_cells=True)
    contents["cjdata"]["label"] = "glioma"
    scipy.io.savemat(path, {"cjdata": contents["cjdata"]}, format="5")
    return path


def text_label_v73(path: Path) -> Path:
    write_v73(path, case_arrays())
    return _retype(path, "label", _codes("2"), "char")


def astral_pid_v73(path: Path) -> Path:
    write_v73(path, case_arrays())
    return _retype(path, "PID", _codes(ASTRAL_PID), "char")


def cell_pid_v73(path: Path, entries: int = 1) -> Path:
    """PID saved as a MATLAB cell array ({'MR048994B'}): references into ``#refs#``."""
    write_v73(path, case_arrays())
    with h5py.File(path, "r+") as f:
        refs = f.require_group("#refs#")
        targets = []
        for i in range(entries):
            ds = refs.create_dataset(f"pid{i}", data=_codes(f"MR048994B{'' if i == 0 else i}"))
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            targets.append(ds.ref)
        del f["cjdata"]["PID"]
        cell = f["cjdata"].create_dataset("PID", data=np.array([targets], dtype=h5py.ref_dtype).T)
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    return path


def huge_image_v73(path: Path) -> Path:
    """A file that declares a 10**6 x 10**6 image (2 TB) but stores no chunk of it."""
    write_v73(path, case_arrays())
    with h5py.File(path, "r+") as f:
        del f["cjdata"]["image"]
        ds = f["cjdata"].create_dataset(
            "image", shape=(10**6, 10**6), dtype=np.int16, chunks=(64, 64), compression="gzip"
        )
        ds.attrs["MATLAB_class"] = np.bytes_("int16")
    return path


def complex_image_v5(path: Path) -> Path:
    fields = case_arrays()
    fields["image"] = fields["image"].astype(np.float64) * (1 + 1j)
    return write_v5(path, fields)


def rgb_image_v5(path: Path) -> Path:
    fields = case_arrays()
    write_v5(path, fields)
    contents = scipy.io.loadmat(path, simplify_cells=True)
    image = contents["cjdata"]["image"]
    contents["cjdata"]["image"] = np.stack([image, image, image], axis=-1).astype(np.uint8)
    scipy.io.savemat(path, {"cjdata": contents["cjdata"]}, format="5")
    return path


def nan_in_roi(path: Path) -> Path:
    fields = case_arrays()
    image = fields["image"].astype(np.float64)
    rows, cols = np.nonzero(fields["tumorMask"])
    image[rows[0], cols[0]] = np.nan
    fields["image"] = image
    return write_v73(path, fields)


def constant_image(path: Path) -> Path:
    fields = case_arrays()
    fields["image"] = np.full_like(fields["image"], 300)
    return write_v73(path, fields)


def dangling_link(path: Path) -> Path:
    path.symlink_to(path.with_name("gone-for-good.mat"))
    return path


def link_loop(path: Path) -> Path:
    other = path.with_name(f"{path.stem}-loop.lnk")
    path.symlink_to(other.name)
    other.symlink_to(path.name)
    return path


#: Every kind of broken .mat file: name -> writer. A folder must open with each as a zero slice.
BROKEN_MATS: dict[str, Callable[[Path], Path]] = {
    "negative-background": lambda p: mask_with_background(p, -1.0),
    "fractional-border": lambda p: mask_with_background(p, 0.0, border=0.5),
    "text-label-v5": text_label_v5,
    "text-label-v73": text_label_v73,
    "cell-pids": lambda p: cell_pid_v73(p, entries=2),
    "huge-image": huge_image_v73,
    "complex-image": complex_image_v5,
    "rgb-image": rgb_image_v5,
    "dangling-link": dangling_link,
    "link-loop": link_loop,
}


class _CreatesFile:
    """A pickle payload: unpickling it calls ``open(target, "w")``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.target), "w"))


def malicious_npy(path: Path, target: Path) -> Path:
    """A well-formed .npy header (an object array of 3) followed by a pickle that, loaded with
    ``allow_pickle=True``, would create ``target``."""
    header = {"descr": "|O", "fortran_order": False, "shape": (3,)}
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        pickle.dump(np.array([_CreatesFile(target), "b", "c"], dtype=object), fh, protocol=3)
    return path


def alias_bomb(path: Path, levels: int = 9) -> Path:
    """A 'billion laughs' params file: 9 levels of 9 aliases, 9**9 strings once expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"setting:\n  binWidth: 25\nvoxelSetting:\n  kernelRadius: *a{levels - 1}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def huge_nrrd(path: Path) -> Path:
    """An NRRD header declaring 100000**3 voxels, with four bytes of data."""
    header = (
        "NRRD0004\ntype: short\ndimension: 3\nsizes: 100000 100000 100000\n"
        "encoding: raw\nendian: little\n\n"
    )
    path.write_bytes(header.encode("ascii") + struct.pack("<hh", 1, 2))
    return path
