"""What a run from the viewer extracts, and how the preflight is told about it (no window).

The checks themselves are the core's: see test_preflight.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from napari.layers import Image, Labels

from napari_radiomics._napari._inputs import (
    build_job,
    check_job,
    parse_label_list,
    slice_metadata,
)
from napari_radiomics.settings import ExtractionSettings

DEFAULT = ExtractionSettings.from_params(
    {"setting": {"binWidth": 25}, "imageType": {"Original": {}}, "featureClass": {}}
)
META = {
    "case": "17",
    "patient_id": "100360",
    "label": 2,
    "tumor_type": "glioma",
    "path": "/d/17.mat",
}


def case_layers(shape=(64, 64), spacing=(1.0, 1.0)) -> tuple[Image, Labels]:
    rng = np.random.default_rng(0)
    image = Image(
        rng.integers(0, 900, shape).astype(np.int16),
        name="17 glioma",
        scale=spacing,
        metadata=dict(META),
    )
    mask = np.zeros(shape, np.uint8)
    mask[..., 10:30, 10:30] = 1
    return image, Labels(mask, name="17 glioma mask", scale=spacing, metadata=dict(META))


def stack_layers() -> tuple[Image, Labels]:
    slices = pd.DataFrame(
        {
            "case": ["1", "2", "3"],
            "path": ["/d/1.mat", "/d/2.mat", "/d/3.mat"],
            "patient_id": ["A", "B", "B"],
            "label": [1, 3, 3],
            "tumor_type": ["meningioma", "pituitary tumor", "pituitary tumor"],
        }
    )
    image, labels = case_layers((3, 64, 64))
    for layer in (image, labels):
        layer.metadata = {"slices": slices}
    return image, labels


def messages(job, params=DEFAULT) -> list[str]:
    return [f"{p.severity}: {p.message}" for p in check_job(job, params).problems]


def test_job_carries_the_reader_metadata_and_spacing() -> None:
    image, labels = case_layers(spacing=(0.5, 0.7))
    job = build_job(image, labels)
    assert job.metadata == META
    assert job.image is image  # whole layers go to the engine as they are (affine included)
    assert job.mask is labels
    assert check_job(job, DEFAULT).ok


def test_current_slice_takes_that_slice_and_its_metadata() -> None:
    image, labels = stack_layers()
    job = build_job(image, labels, slice_index=1)
    assert job.image.data.shape == job.mask.data.shape == (64, 64)
    np.testing.assert_array_equal(job.image.data, image.data[1])
    assert job.metadata == {
        "case": "2",
        "patient_id": "B",
        "label": 3,
        "tumor_type": "pituitary tumor",
        "path": "/d/2.mat",
        "slice": 1,
    }
    with pytest.raises(IndexError, match="has 3 slices"):
        slice_metadata(image, 5)


def test_problems_speak_of_the_labels_layer_and_the_slice() -> None:
    image, labels = case_layers()
    labels.data[:] = 0
    assert messages(build_job(image, labels)) == [
        "error: labels layer '17 glioma mask' is empty: paint the ROI first (nothing is segmented)"
    ]
    labels.data[10:30, 10:30] = 1
    job = build_job(image, labels, labels=[4])
    assert not check_job(job, DEFAULT).ok
    assert "label 4 not present in labels layer '17 glioma mask'; present: 1" in messages(job)[0]
    stack_image, stack_labels = stack_layers()
    one = build_job(stack_image, stack_labels, labels=[4], slice_index=1)
    assert "not present in labels layer '17 glioma mask' (slice 1)" in messages(one)[0]


def test_label_lists() -> None:
    assert parse_label_list("1, 3 4") == [1, 3, 4]
    for bad in ("", "0", "1, x"):
        with pytest.raises(ValueError, match="label"):
            parse_label_list(bad)


def test_a_whole_lazy_stack_is_checked_by_shape_only() -> None:
    import dask.array as da

    image, labels = stack_layers()
    big = (5, 512, 512)  # a folder's stack: reading it on every click would freeze the viewer
    lazy_image = Image(da.zeros(big, dtype=np.int16), name="folder", metadata=image.metadata)
    lazy_mask = Labels(da.zeros(big, dtype=np.uint8), name="folder mask", metadata=labels.metadata)
    notes = messages(build_job(lazy_image, lazy_mask))
    assert any("stack of separate slices, not one volume" in n for n in notes)
    assert any("read lazily" in n for n in notes)
    one = build_job(lazy_image, lazy_mask, slice_index=2)  # one slice is read and checked
    assert not one.stack
    assert "is empty" in messages(one)[0]
