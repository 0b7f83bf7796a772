"""The editable mask stack behaves like a NumPy array for every index napari uses."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from napari_radiomics.io.editable import EditableStack


def _pair(tmp_path: Path) -> tuple[np.ndarray, EditableStack, np.memmap]:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 3, size=(6, 9, 11)).astype(np.uint8)
    np.save(tmp_path / "masks.npy", reference)
    base = np.load(tmp_path / "masks.npy", mmap_mode="r")  # read-only, as the bundle opens
    return reference.copy(), EditableStack(base), base


BOX_KEYS = [
    2,
    -1,
    (3, slice(2, 5)),
    (slice(1, 4), slice(None), slice(3, 9)),
    (slice(5, 6), slice(2, 7), slice(2, 7)),  # napari's brush: a one-slice box
    (np.array([0, 4]), 1),
    (slice(None, None, 2), 4, slice(None)),
    (slice(3, 3),),
]


@pytest.mark.parametrize("key", BOX_KEYS)
def test_reads_and_writes_like_numpy(tmp_path: Path, key: object) -> None:
    reference, stack, base = _pair(tmp_path)
    np.testing.assert_array_equal(stack[key], reference[key])
    reference[key] = 7
    stack[key] = 7
    np.testing.assert_array_equal(np.asarray(stack), reference)
    assert not (np.asarray(base) == 7).any()  # the source is never written


def test_point_coordinates_from_the_brush(tmp_path: Path) -> None:
    reference, stack, _ = _pair(tmp_path)
    coords = (np.array([1, 1, 4, 4, 4]), np.array([0, 2, 3, 3, 8]), np.array([1, 2, 3, 4, 10]))
    np.testing.assert_array_equal(stack[coords], reference[coords])
    values = np.array([5, 6, 7, 8, 9], np.uint8)
    stack[coords] = values
    reference[coords] = values
    np.testing.assert_array_equal(np.asarray(stack), reference)
    assert stack.edited == [1, 4]


def test_only_edited_slices_are_held(tmp_path: Path) -> None:
    base = da.zeros((3064, 16, 16), dtype=np.uint8, chunks=(1, 16, 16))
    stack = EditableStack(base)
    stack[(slice(7, 8), slice(0, 4), slice(0, 4))] = 1
    assert stack.edited == [7]
    assert stack[7].sum() == 16
    assert stack[8].sum() == 0
    assert stack.shape == (3064, 16, 16)
    assert stack.dtype == np.uint8


def test_refuses_what_it_cannot_index(tmp_path: Path) -> None:
    _, stack, _ = _pair(tmp_path)
    with pytest.raises(IndexError, match="Ellipsis"):
        stack[..., 1]
    with pytest.raises(IndexError):
        stack[6]
    with pytest.raises(ValueError, match="3D"):
        EditableStack(np.zeros((4, 4)))


def test_reads_are_copies_whatever_the_history(tmp_path: Path) -> None:
    """Writing into what a read returned never reaches the stack, edited slice or not."""
    reference, stack, _ = _pair(tmp_path)
    stack[1][0, 0] = 99
    stack[0, 1, 1] = 2
    stack[0][2, 2] = 99
    reference[0, 1, 1] = 2
    np.testing.assert_array_equal(np.asarray(stack), reference)


def test_boolean_masks_and_list_coordinates_act_as_in_numpy(tmp_path: Path) -> None:
    reference, stack, _ = _pair(tmp_path)
    voxels = np.asarray(stack) == 2
    stack[voxels] = 0
    reference[reference == 2] = 0
    stack[[0, 2], [1, 2], [3, 0]] = 9
    reference[[0, 2], [1, 2], [3, 0]] = 9
    np.testing.assert_array_equal(np.asarray(stack), reference)
    np.testing.assert_array_equal(stack[1:3, [0, 1], [2, 3]], reference[1:3, [0, 1], [2, 3]])


def test_indices_numpy_would_read_otherwise_are_refused(tmp_path: Path) -> None:
    _, stack, _ = _pair(tmp_path)
    with pytest.raises(IndexError, match="scalar boolean"):
        stack[stack == 1] = 0  # identity comparison, not elementwise
    with pytest.raises(IndexError, match="slice axis"):
        stack[np.array([0, 2]), :, np.array([1, 3])] = 9


def test_no_copy_free_array_view(tmp_path: Path) -> None:
    _, stack, _ = _pair(tmp_path)
    with pytest.raises(ValueError, match="without a copy"):
        np.array(stack, copy=False)
