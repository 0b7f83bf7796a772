"""Layer <-> SimpleITK conversion: exact grids on pyradiomics' cases, clear refusals."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import SimpleITK as sitk

from _layers import layer_from_file
from napari_radiomics.convert import (
    ConversionError,
    Grid,
    LayerData,
    as_sitk,
    describe_grid_mismatch,
    grid_of,
    layer_to_sitk,
    sitk_to_layer_data,
)

FILES = [
    f"{case}_{kind}.nrrd"
    for case in ("brain1", "brain2", "breast1")
    for kind in ("image", "label")
]


def assert_same_image(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetSize() == b.GetSize()
    assert a.GetSpacing() == b.GetSpacing()
    assert a.GetOrigin() == b.GetOrigin()
    assert a.GetDirection() == b.GetDirection()
    assert a.GetPixelID() == b.GetPixelID()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))


@pytest.mark.parametrize("filename", FILES)
def test_round_trip_is_exact(pyradiomics_data: Path, filename: str) -> None:
    original = sitk.ReadImage(str(pyradiomics_data / filename))
    layer = layer_from_file(pyradiomics_data / filename)
    assert tuple(layer.scale) == original.GetSpacing()[::-1]
    assert tuple(layer.translate) == original.GetOrigin()[::-1]
    assert_same_image(layer_to_sitk(layer), original)


def test_brain2_direction_goes_to_the_affine(pyradiomics_data: Path) -> None:
    original = sitk.ReadImage(str(pyradiomics_data / "brain2_image.nrrd"))
    assert original.GetDirection() != (1, 0, 0, 0, 1, 0, 0, 0, 1)
    _data, kwargs = sitk_to_layer_data(original)
    affine = kwargs["affine"]
    # napari world = affine @ (scale * index + translate): must be SimpleITK's physical point.
    index_zyx = np.array([3, 40, 17])
    world = affine[:3, :3] @ (np.array(kwargs["scale"]) * index_zyx + kwargs["translate"])
    world += affine[:3, 3]
    physical = original.TransformIndexToPhysicalPoint(tuple(int(i) for i in index_zyx[::-1]))
    np.testing.assert_allclose(world[::-1], physical, rtol=0, atol=1e-9)


def test_round_trip_through_real_napari_layers(pyradiomics_data: Path) -> None:
    from napari.layers import Image, Labels

    image = sitk.ReadImage(str(pyradiomics_data / "brain2_image.nrrd"))
    mask = sitk.ReadImage(str(pyradiomics_data / "brain2_label.nrrd"))
    data, kwargs = sitk_to_layer_data(image)
    assert_same_image(layer_to_sitk(Image(data, **kwargs)), image)
    data, kwargs = sitk_to_layer_data(mask)
    assert_same_image(layer_to_sitk(Labels(data, **kwargs)), mask)


def test_users_own_affine_translation_moves_the_origin() -> None:
    affine = np.eye(3)
    affine[:2, 2] = (10.0, -4.0)
    layer = LayerData(
        np.zeros((4, 5), np.int16), scale=(2.0, 0.5), translate=(1.0, 1.0), affine=affine
    )
    image = layer_to_sitk(layer)
    assert image.GetOrigin() == (-3.0, 11.0)
    assert image.GetSpacing() == (0.5, 2.0)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_label_dtypes_keep_values(dtype: type) -> None:
    info = np.iinfo(dtype)
    data = np.array([[0, 1, info.max], [info.min, 2, 0]], dtype=dtype)
    image = layer_to_sitk(LayerData(data, scale=(1.0, 1.0), translate=(0.0, 0.0)))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), data)


def test_bool_float16_dask_and_multiscale() -> None:
    mask = np.zeros((3, 4, 5), bool)
    mask[1, 1:3, 2:4] = True
    image = layer_to_sitk(LayerData(mask, scale=(3.0, 1.0, 1.0), translate=(0, 0, 0)))
    assert image.GetPixelID() == sitk.sitkUInt8
    assert sitk.GetArrayViewFromImage(image).sum() == 4

    half = np.linspace(-2, 2, 20, dtype=np.float16).reshape(4, 5)
    image = layer_to_sitk(LayerData(half, scale=(1.0, 1.0), translate=(0.0, 0.0)))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), half.astype(np.float32))

    values = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    lazy = da.from_array(values, chunks=2)
    image = layer_to_sitk(LayerData(lazy, scale=(2.0, 1.0, 1.0), translate=(0, 0, 0)))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), values)

    pyramid = [values, values[:, ::2, ::2]]
    image = layer_to_sitk(
        LayerData(pyramid, scale=(2.0, 1.0, 1.0), translate=(0, 0, 0), multiscale=True)
    )
    assert image.GetSize() == (5, 4, 3)


def test_rgb_and_multichannel_refused_with_layer_name() -> None:
    rgb = LayerData(
        np.zeros((4, 4, 3), np.uint8), scale=(1, 1), translate=(0, 0), rgb=True, name="photo"
    )
    with pytest.raises(ConversionError, match="'photo' is an RGB"):
        layer_to_sitk(rgb)
    channels = LayerData(np.zeros((2, 3, 4, 4)), scale=(1,) * 4, translate=(0,) * 4, name="4d")
    with pytest.raises(ConversionError, match="'4d' has 4 dimensions"):
        layer_to_sitk(channels)
    vector = sitk.Image([4, 4], sitk.sitkVectorUInt8, 3)
    with pytest.raises(ConversionError, match="3 components"):
        sitk_to_layer_data(vector)


def test_scaling_affine_refused() -> None:
    layer = LayerData(
        np.zeros((4, 4)), scale=(1, 1), translate=(0, 0), affine=np.diag([2.0, 1.0, 1.0])
    )
    with pytest.raises(ConversionError, match=r"layer\.scale"):
        layer_to_sitk(layer)


def test_as_sitk_arrays_and_images() -> None:
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    image = as_sitk(values, spacing=(5.0, 0.5, 0.25), origin=(1.0, 2.0, 3.0))
    assert image.GetSpacing() == (0.25, 0.5, 5.0)
    assert image.GetOrigin() == (3.0, 2.0, 1.0)
    assert as_sitk(image) is image
    with pytest.raises(ConversionError, match="3 values for a 2D"):
        as_sitk(np.zeros((3, 3)), spacing=(1, 1, 1))
    with pytest.raises(ConversionError, match="cannot make an image from str"):
        as_sitk("brain.nrrd")


def test_grid_mismatch_described() -> None:
    image = as_sitk(np.zeros((3, 4, 5)), spacing=(2.0, 1.0, 1.0))
    assert (
        describe_grid_mismatch(image, as_sitk(np.zeros((3, 4, 5)), spacing=(2.0, 1.0, 1.0)), 1e-6)
        is None
    )
    shifted = as_sitk(np.zeros((3, 4, 5)), spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 1e-3))
    assert "origin" in describe_grid_mismatch(image, shifted, 1e-6)
    assert describe_grid_mismatch(image, shifted, 1e-2) is None
    smaller = as_sitk(np.zeros((3, 4, 4)))
    assert "size" in describe_grid_mismatch(image, smaller, 1e-6)
    # Grids compare like the images they describe (what a check before a run relies on).
    assert describe_grid_mismatch(grid_of(image), grid_of(shifted), 1e-2) is None
    assert describe_grid_mismatch(image, grid_of(shifted), 1e-6) == describe_grid_mismatch(
        image, shifted, 1e-6
    )


def _unreadable(block: np.ndarray) -> np.ndarray:
    raise AssertionError("grid_of read the pixels")


def test_grid_of_is_the_grid_as_sitk_gives_without_reading_pixels(pyradiomics_data: Path) -> None:
    brain2 = layer_from_file(pyradiomics_data / "brain2_image.nrrd")  # a direction: an affine
    rotated = LayerData(
        np.zeros((4, 5)), (2.0, 0.5), (3.0, 1.0), rotate=np.array([[0, -1], [1, 0]])
    )
    for obj in (brain2, rotated, np.zeros((3, 4, 5), np.float32), as_sitk(np.zeros((6, 7)))):
        assert grid_of(obj) == Grid.of_image(as_sitk(obj))
    lazy = da.zeros((40, 512, 512), dtype=np.int16, chunks=(40, 512, 512))
    lazy = lazy.map_blocks(_unreadable, dtype=np.int16)
    grid = grid_of(LayerData(lazy, (3.0, 0.5, 0.5), (0.0, 0.0, 0.0)))
    assert grid.size == (512, 512, 40)
    assert grid.spacing == (0.5, 0.5, 3.0)
    for refused, match in (
        (LayerData(np.zeros((4, 4, 3), np.uint8), (1, 1), (0, 0), rgb=True), "RGB"),
        (np.zeros((2, 3, 4, 5)), "4 dimensions"),
        (np.zeros((4, 4), complex), "pixel type"),
    ):
        with pytest.raises(ConversionError, match=match):
            grid_of(refused)


def test_layer_rotate_joins_the_direction() -> None:
    from napari.layers import Image

    layer = Image(np.arange(20.0).reshape(4, 5), scale=(2.0, 0.5), translate=(3.0, 1.0), rotate=30)
    image = layer_to_sitk(layer)
    index = np.array([2, 3])  # (row, column)
    world = layer.data_to_world(index)
    physical = image.TransformIndexToPhysicalPoint([int(i) for i in index[::-1]])
    np.testing.assert_allclose(np.asarray(world)[::-1], physical, atol=1e-12)
    sheared = Image(np.zeros((4, 5)), shear=[0.5])
    with pytest.raises(ConversionError, match="sheared"):
        layer_to_sitk(sheared)
