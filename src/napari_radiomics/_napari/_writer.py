"""napari writer hook: save a corrected mask as NIfTI/NRRD/MHA or as a brain-tumour ``.mat``.

Medical formats keep the layer's geometry (``scale`` -> spacing, ``translate`` -> origin,
``affine`` -> direction) because features depend on it. A ``.mat`` case needs the image, label
and patient id too, which only the source file has: they are taken from the ``.mat`` recorded in
the layer's ``metadata['path']``, with the edited mask and a border recomputed from it. The
source file itself is never overwritten: a corrected mask goes to a new file, so the original
annotation stays available for comparison. Nor is any other file the current viewer reads
(another layer's image or mask, a case of a stack, a corrections store's file: see
:mod:`._sources`), whatever name the Save dialog was given for it. Every file is written
beside its target and renamed when whole, so a full disk or a killed napari never leaves an
earlier save cut off.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import h5py
import napari
import numpy as np

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import same_file
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics.convert import LayerData, layer_to_sitk
from napari_radiomics.errors import ConversionError, ReadError, WriteError
from napari_radiomics.io import path_kind
from napari_radiomics.io.mat import (
    HDF5_LOCK,
    TumorSlice,
    border_from_mask,
    read_tumor_mat,
    write_tumor_mat,
)
from napari_radiomics.io.medical import write_medical_image


def write_labels(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write one labels layer to ``path``; returns the written path (napari's convention)."""
    target = Path(path)
    metadata = attributes.get("metadata") or {}
    source = Path(metadata["path"]) if metadata.get("path") else None
    if source is not None and same_file(target, source):
        raise WriteError(
            target,
            "is the file this layer was opened from; save the corrected mask under a new "
            "name so the original annotation is kept",
        )
    viewer = napari.current_viewer()  # None when napari saves without a viewer
    if viewer is not None:
        refuse_viewer_sources(viewer, target)
    labels = _labels_array(data)
    kind = path_kind(target)
    if kind == "mat":
        _write_mat(target, labels, source, attributes.get("name", "labels"))
    elif kind == "medical":
        ones, zeros = np.ones(labels.ndim), np.zeros(labels.ndim)
        layer = LayerData(  # the layer as the engine's converter sees layers
            data=labels,
            name=attributes.get("name") or "",
            scale=attributes.get("scale", ones),
            translate=attributes.get("translate", zeros),
            affine=attributes.get("affine"),
            rotate=attributes.get("rotate"),
            shear=attributes.get("shear", 0.0),
        )
        try:
            image = layer_to_sitk(layer)
        except ConversionError as exc:
            raise WriteError(target, str(exc)) from exc
        try:  # written beside and renamed: a failure or a kill keeps an earlier save whole
            with replaced(target) as temporary:
                write_medical_image(image, temporary)
        except OSError as exc:
            raise WriteError(target, f"cannot be written ({exc})") from exc
    else:
        raise WriteError(target, "unsupported extension; use .nii.gz, .nii, .nrrd, .mha or .mat")
    return [str(target)]


def _labels_array(data: Any) -> np.ndarray:
    """The full-resolution labels as the smallest unsigned type that holds them."""
    if isinstance(data, list):  # multiscale labels: the first level is full resolution
        data = data[0]
    labels = np.asarray(data)
    top = int(labels.max()) if labels.size else 0
    if labels.size and int(labels.min()) < 0:
        return labels.astype(np.int32)
    return labels.astype(np.min_scalar_type(max(top, 1)))


def _write_mat(target: Path, labels: np.ndarray, source: Path | None, name: str) -> None:
    if source is None or path_kind(source) != "mat":
        raise WriteError(
            target,
            f"layer {name!r} was not opened from a brain-tumour .mat file, so there is no "
            "image, label and patient id to store with it; save it as .nii.gz or .nrrd",
        )
    if labels.ndim != 2:
        raise WriteError(
            target,
            f"a .mat case holds one 2D slice but layer {name!r} is {labels.ndim}D; "
            "save the stack as .nii.gz or .nrrd",
        )
    try:
        original = read_tumor_mat(source, allow_empty_mask=True)
    except ReadError as exc:
        raise WriteError(target, f"cannot take the image from the source: {exc}") from exc
    if labels.shape != original.image.shape:
        raise WriteError(
            target,
            f"mask shape {labels.shape} differs from the source image {original.image.shape}",
        )
    mask = labels != 0
    if not mask.any():
        raise WriteError(target, "the mask is empty; a brain-tumour case needs a tumour")
    if np.unique(labels[mask]).size > 1:
        warnings.warn(
            f"{target}: layer {name!r} has several label values; the .mat tumour mask "
            "stores them all as one tumour",
            UserWarning,
            stacklevel=3,
        )
    corrected = TumorSlice(
        image=original.image,
        mask=mask,
        border=border_from_mask(mask),
        label=original.label,
        tumor_type=original.tumor_type,
        patient_id=original.patient_id,
        path=target,
    )
    with HDF5_LOCK:
        matlab_format = "7.3" if h5py.is_hdf5(source) else "5"
    write_tumor_mat(target, corrected, format=matlab_format, overwrite=True)
