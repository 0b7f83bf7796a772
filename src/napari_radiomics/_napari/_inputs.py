"""What one extraction from the viewer needs: the arrays, the labels and the metadata.

Kept free of Qt so it is tested without a window: the widget hands over the chosen layers and
the current slice; this module returns the arrays to extract (a single slice of a stack when
asked) and the metadata that must travel with the results. What pyradiomics would refuse or
skip is the core's preflight (:mod:`napari_radiomics.engine.preflight`, shared with
``extract --check``); :func:`check_job` only tells it how the viewer names things and adds
what only the viewer knows (a whole stack of unrelated slices).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics.columns import CASE_COLUMNS, PATH
from napari_radiomics.convert import LayerData
from napari_radiomics.engine.preflight import Checked, check_inputs
from napari_radiomics.settings import ExtractionSettings

#: Metadata keys the readers put on layers, in the order they appear in results.
METADATA_KEYS = (*CASE_COLUMNS, PATH)


@dataclass(frozen=True)
class ExtractionJob:
    """Image and mask to extract, ROI labels (``None``: all), and metadata for the results."""

    image: Any  # a napari layer or a LayerData: anything the engine converts
    mask: Any
    labels: tuple[int, ...] | None
    metadata: dict[str, Any]
    slice_index: int | None = None
    #: True for a whole stack of unrelated slices (a folder), not one volume
    stack: bool = False


def is_stack(layer: Any) -> bool:
    """A folder of slices: per-slice metadata table, and slices are not one volume."""
    return isinstance(layer.metadata.get("slices"), pd.DataFrame)


def layer_metadata(layer: Any) -> dict[str, Any]:
    """The reader's identifying metadata on a layer, in results order (missing keys left out)."""
    return {k: layer.metadata[k] for k in METADATA_KEYS if k in layer.metadata}


def slice_metadata(layer: Any, index: int) -> dict[str, Any]:
    """Metadata of slice ``index`` of a stack, from the reader's per-slice table."""
    slices: pd.DataFrame = layer.metadata["slices"]
    if not 0 <= index < len(slices):
        raise IndexError(f"layer {layer.name!r} has {len(slices)} slices, not slice {index}")
    row = slices.iloc[index]
    metadata = {k: _plain(row[k]) for k in METADATA_KEYS if k in slices.columns}
    return metadata | {"slice": index}


def view_of(layer: Any, slice_index: int | None = None) -> Any:
    """The layer itself, or a :class:`LayerData` of slice ``slice_index`` along its first axis.

    A whole layer goes to the engine as it is, so its affine (direction) is converted too; a
    slice of a stack (the readers' stacks carry no affine) keeps the scale and translate of the
    two remaining axes.
    """
    if slice_index is None:
        return layer
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    return LayerData(
        np.asarray(data[slice_index]),
        tuple(float(s) for s in layer.scale[1:]),
        tuple(float(t) for t in layer.translate[1:]),
        name=layer.name,
    )


def build_job(
    image_layer: Any,
    labels_layer: Any,
    *,
    labels: Sequence[int] | None = None,
    slice_index: int | None = None,
) -> ExtractionJob:
    """Gather what to extract: arrays (one slice if ``slice_index``), labels and metadata.

    Metadata comes from the image layer (reader keys), the labels layer filling gaps; for a
    slice of a stack, from the stack's per-slice table.
    """
    if slice_index is not None and is_stack(image_layer):
        metadata = slice_metadata(image_layer, slice_index)
    elif slice_index is not None and is_stack(labels_layer):
        metadata = slice_metadata(labels_layer, slice_index)
    else:
        metadata = layer_metadata(labels_layer) | layer_metadata(image_layer)
        if slice_index is not None:
            metadata["slice"] = slice_index
    metadata = {k: metadata[k] for k in (*METADATA_KEYS, "slice") if k in metadata}
    return ExtractionJob(
        image=view_of(image_layer, slice_index),
        mask=view_of(labels_layer, slice_index),
        labels=None if labels is None else tuple(int(v) for v in labels),
        metadata=metadata,
        slice_index=slice_index,
        stack=slice_index is None and (is_stack(image_layer) or is_stack(labels_layer)),
    )


def parse_label_list(text: str) -> list[int]:
    """``"1, 3 4"`` -> ``[1, 3, 4]``; refuses anything that is not a positive integer."""
    values = []
    for token in text.replace(",", " ").split():
        if not token.isdigit() or int(token) == 0:
            raise ValueError(f"ROI labels must be positive integers, got {token!r}")
        values.append(int(token))
    if not values:
        raise ValueError("no ROI label given: type one or more label values, e.g. 1, 2")
    return values


def check_job(job: ExtractionJob, settings: ExtractionSettings) -> Checked:
    """The core's preflight for this job, in the viewer's words (the labels layer, the slice),
    plus a note only the viewer can give: a whole stack of unrelated slices is not a volume."""
    where = f"labels layer {job.mask.name!r}" + (
        f" (slice {job.slice_index})" if job.slice_index is not None else ""
    )
    checked = check_inputs(
        job.image, job.mask, settings, labels=job.labels,
        image_name=f"image {job.image.name!r}", mask_name=where,
    )  # fmt: skip
    if job.stack:
        checked.add(
            "note",
            f"{job.image.name!r} is a stack of separate slices, not one volume: "
            "3D features across them mean little (tick 'current slice only')",
        )
    return checked


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
