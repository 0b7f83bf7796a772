"""Label bounding boxes: the cropped search must find exactly what a whole-array scan finds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_radiomics.engine._masks import label_boxes


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_boxes_equal_find_objects_on_the_whole_array(dtype: type) -> None:
    rng = np.random.default_rng(4)
    for _ in range(100):
        shape = tuple(int(n) for n in rng.integers(1, 12, size=rng.integers(1, 4)))
        density = rng.random() * 0.3
        mask = ((rng.random(shape) < density) * rng.integers(1, 5, size=shape)).astype(dtype)
        whole = ndimage.find_objects(mask.astype(np.int64))
        expected = {index + 1: box for index, box in enumerate(whole) if box is not None}
        assert label_boxes(mask) == expected


def test_all_zero_mask_has_no_boxes() -> None:
    assert label_boxes(np.zeros((3, 4, 5), np.uint8)) == {}


def test_labels_beyond_find_objects_range() -> None:
    mask = np.zeros((6, 7), np.uint32)
    mask[1:3, 2:4] = 4_000_000_000
    mask[5, 6] = 7
    assert label_boxes(mask) == {
        4_000_000_000: (slice(1, 3), slice(2, 4)),
        7: (slice(5, 6), slice(6, 7)),
    }


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.uint32, np.float64])
def test_a_one_label_mask_has_the_box_find_objects_gives(dtype: type) -> None:
    """The one-label shortcut (no SciPy): binary masks and a single label other than 1."""
    rng = np.random.default_rng(5)
    for value in (1, 3):
        if dtype is bool and value != 1:
            continue
        for _ in range(50):
            shape = tuple(int(n) for n in rng.integers(1, 12, size=rng.integers(1, 4)))
            mask = ((rng.random(shape) < rng.random() * 0.3) * value).astype(dtype)
            whole = ndimage.find_objects(mask.astype(np.int64))
            expected = {index + 1: box for index, box in enumerate(whole) if box is not None}
            assert label_boxes(mask) == expected
