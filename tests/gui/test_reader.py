"""The reader hook and sample data in a real napari viewer, through the plugin's manifest."""

from __future__ import annotations

import threading
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.io
import SimpleITK as sitk
from qtpy.QtCore import QCoreApplication

import napari_radiomics.io.folder as folder_module
from napari_radiomics._napari import _reader
from napari_radiomics._napari._reader import get_reader
from napari_radiomics.errors import ReadError
from napari_radiomics.io.editable import EditableStack
from napari_radiomics.io.folder import FolderWarning
from napari_radiomics.io.mat import read_tumor_mat
from sample_files import case_arrays, write_bundle, write_mixed_folder, write_v5, write_v73

PLUGIN = "napari-radiomics"
IDENTITY_KEYS = {"case", "patient_id", "label", "tumor_type", "path"}


def test_get_reader_declines_what_it_does_not_handle(tmp_path: Path) -> None:
    np.save(tmp_path / "random.npy", np.zeros(3))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    assert get_reader(str(tmp_path / "random.npy")) is None
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path / "empty")) is None
    assert get_reader([str(tmp_path / "notes.txt"), str(tmp_path / "random.npy")]) is None
    write_bundle(tmp_path / "bundle")
    assert callable(get_reader(str(tmp_path / "bundle")))
    assert callable(get_reader(str(tmp_path / "bundle" / "images.npy")))
    assert callable(get_reader(str(tmp_path / "anything.mat")))  # claimed: errors are ours
    assert callable(get_reader(str(tmp_path / "t1.nii.gz")))


def test_claimed_but_broken_mat_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "7.mat"
    path.write_bytes(b"\x00" * 300)
    reader = get_reader(str(path))
    assert reader is not None
    with pytest.raises(ReadError, match=r"7\.mat: not a MATLAB \.mat file"):
        reader(str(path))
    scipy_only = tmp_path / "nocj.mat"
    scipy.io.savemat(scipy_only, {"x": np.ones(2)})
    with pytest.raises(ReadError, match=r"nocj\.mat: no 'cjdata' struct"):
        get_reader(str(scipy_only))(str(scipy_only))


@pytest.mark.parametrize("writer", [write_v73, write_v5])
def test_viewer_opens_one_case(make_napari_viewer, tmp_path: Path, writer) -> None:
    viewer = make_napari_viewer()
    path = writer(tmp_path / "17.mat", case_arrays())
    layers = viewer.open(path, plugin=PLUGIN)
    assert [type(layer).__name__ for layer in layers] == ["Image", "Labels", "Shapes"]
    image, labels, shapes = layers
    assert image.name == "17 glioma (PID MR048994B)"
    assert labels.name == "17 glioma (PID MR048994B) mask"
    assert shapes.name == "17 glioma (PID MR048994B) border"
    np.testing.assert_array_equal(image.data, case_arrays()["image"])
    assert image.data.dtype == np.int16
    np.testing.assert_array_equal(labels.data.astype(bool), case_arrays()["tumorMask"])
    assert shapes.shape_type == ["polygon"]
    np.testing.assert_allclose(
        shapes.data[0], [(4.5, 29.5), (4.5, 49.5), (14.5, 49.5), (14.5, 29.5)]
    )
    for layer in layers:
        assert tuple(layer.axis_labels) == ("row", "col")
        assert set(layer.metadata) >= IDENTITY_KEYS
        assert layer.metadata["tumor_type"] == "glioma"
        assert layer.metadata["path"] == str(path)


def test_viewer_opens_a_mixed_folder_lazily(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    write_mixed_folder(tmp_path)
    (tmp_path / "cvind.mat").write_text("split indices, not a case")
    with pytest.warns(FolderWarning, match=r"3\.mat"):
        layers = viewer.open(tmp_path, plugin=PLUGIN)
    image, labels = layers
    assert isinstance(image.data, da.Array)
    assert isinstance(labels.data, EditableStack)
    assert isinstance(labels.data.base, da.Array)  # lazy until a slice is painted on
    assert image.data.shape == labels.data.shape == (4, 64, 64)
    assert tuple(image.axis_labels) == ("slice", "row", "col")
    slices = image.metadata["slices"]
    assert isinstance(slices, pd.DataFrame)
    assert slices["case"].tolist() == ["1", "2", "3", "4"]
    assert labels.metadata["slices"] is slices
    viewer.dims.set_current_step(0, 2)
    assert image._slice.image.raw.shape == (64, 64)  # the resized 32x32 slice is displayed


def test_a_folder_table_completed_in_the_background_changes_on_the_gui_thread(
    make_napari_viewer, tmp_path: Path, monkeypatch
) -> None:
    """A big folder opens after its first header; the rest of its table is read in a thread.
    The rows reach ``metadata["slices"]`` on the GUI thread, all at once: until its event
    loop runs, the docks see the table as it opened, never half of the update."""
    viewer = make_napari_viewer()
    write_mixed_folder(tmp_path)
    monkeypatch.setattr(_reader, "SCAN_BUDGET", 0.0)  # as if the folder held 3064 slices
    monkeypatch.setattr(folder_module, "MIN_HEADERS", 1)  # ... on a disk slow from the start
    running = set(threading.enumerate())
    layer_data = get_reader(str(tmp_path))(str(tmp_path))  # what napari calls, on this thread
    slices = layer_data[0][1]["metadata"]["slices"]
    opened = slices.copy()
    assert opened["patient_id"].tolist() == ["P1", "", "", ""]
    for thread in set(threading.enumerate()) - running:
        thread.join(timeout=30)  # the scan has read every header ...
    pd.testing.assert_frame_equal(slices, opened)  # ... and has not touched the table
    with pytest.warns(FolderWarning, match=r"3\.mat"):  # the scan's warnings come with it
        QCoreApplication.processEvents()  # the GUI thread's events: the rows come in one step
    assert slices["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    image = viewer.add_image(layer_data[0][0], **layer_data[0][1])
    assert image.metadata["slices"] is slices


def test_masks_of_a_folder_can_be_corrected_with_the_brush(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    write_mixed_folder(tmp_path)
    with pytest.warns(FolderWarning):
        _, labels = viewer.open(tmp_path, plugin=PLUGIN)
    viewer.dims.set_current_step(0, 1)
    before = np.asarray(labels.data[1]).copy()
    assert before[2, 2] == 0
    labels.brush_size = 3
    labels.paint((1, 2, 2), 1)
    after = np.asarray(labels.data[1])
    assert after[2, 2] == 1
    assert int((after != before).sum()) >= 5  # a brush disc, not a single voxel
    assert labels.data.edited == [1]
    np.testing.assert_array_equal(labels.data[0], read_tumor_mat(tmp_path / "1.mat").mask)
    np.testing.assert_array_equal(read_tumor_mat(tmp_path / "2.mat").mask, before)  # file kept
    labels.fill((1, 2, 2), 3)
    assert np.asarray(labels.data[1])[2, 2] == 3
    assert labels._slice.image.raw[2, 2] == 3  # the view shows the edit


def test_viewer_stacks_selected_mat_files(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    paths = [write_v73(tmp_path / f"{i}.mat", case_arrays()) for i in (1, 2, 3)]
    image, labels = viewer.open(paths, stack=True, plugin=PLUGIN)
    assert image.data.shape == labels.data.shape == (3, 40, 56)
    assert image.name == "3 .mat files (3 slices)"
    assert image.metadata["slices"]["path"].tolist() == [str(p) for p in paths]


def test_viewer_opens_a_numpy_bundle(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    arrays = write_bundle(tmp_path / "bundle", n=4)
    members = [str(tmp_path / "bundle" / name) for name in ("images.npy", "masks.npy")]
    assert len(get_reader(members)(members)) == 2  # two files of one bundle: one bundle
    image, labels = viewer.open(tmp_path / "bundle", plugin=PLUGIN)
    assert image.data.shape == (4, 32, 48)
    np.testing.assert_array_equal(np.asarray(image.data[2]), arrays["images"][2])
    np.testing.assert_array_equal(np.asarray(labels.data[1]), arrays["masks"][1])
    assert image.metadata["slices"]["patient_id"].tolist() == ["P0", "P1", "P2", "P3"]


def test_viewer_opens_medical_images_with_geometry(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    values = np.arange(3 * 5 * 7, dtype=np.int16).reshape(3, 5, 7) * 11
    mask = (values > 500).astype(np.uint8)
    for name, array in (("ct.nrrd", values), ("ct_label.nrrd", mask)):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing((0.5, 0.8, 2.5))
        image.SetOrigin((1.0, 2.0, 3.0))
        sitk.WriteImage(image, str(tmp_path / name))
    (ct,) = viewer.open(tmp_path / "ct.nrrd", plugin=PLUGIN)
    (seg,) = viewer.open(tmp_path / "ct_label.nrrd", plugin=PLUGIN)
    assert type(ct).__name__ == "Image"
    assert type(seg).__name__ == "Labels"
    np.testing.assert_allclose(ct.scale, (2.5, 0.8, 0.5))
    np.testing.assert_allclose(seg.translate, (3.0, 2.0, 1.0))
    assert tuple(ct.axis_labels) == ("z", "y", "x")


def test_broken_file_in_viewer_raises_naming_it(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    path = tmp_path / "12.mat"
    write_v73(path, case_arrays(), omit=["tumorMask"])
    with pytest.raises(ReadError, match=r"12\.mat: missing field\(s\) cjdata\.tumorMask"):
        viewer.open(path, plugin=PLUGIN)
    assert len(viewer.layers) == 0


def test_sample_data_matches_the_reader_layers(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open_sample(PLUGIN, "tumor_slice")
    assert [type(layer).__name__ for layer in layers] == ["Image", "Labels", "Shapes"]
    image, labels, _ = layers
    assert image.data.shape == (512, 512)
    assert image.data.dtype == np.int16
    assert labels.data.any()
    assert image.metadata["tumor_type"] == "glioma"
    assert "glioma" in image.name


def test_viewer_opens_a_single_file_of_maps_as_one_layer_per_map(
    make_napari_viewer, tmp_path: Path
) -> None:
    """``maps --single-file``'s ``maps.nrrd`` opens as one image layer per map, named by its
    feature, each with the values and the place (scale, translate) the same map has when
    written to its own file and opened; only the first is shown."""
    from napari_radiomics.cli import main

    values = np.random.default_rng(5).normal(100, 20, (8, 16, 14))
    mask = np.zeros(values.shape, np.uint8)
    mask[2:6, 4:11, 3:10] = 1
    for name, array in (("ct.nrrd", values.astype(np.int16)), ("ct_label.nrrd", mask)):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing((0.7, 0.9, 2.5))
        image.SetOrigin((-4.0, 6.0, 12.0))
        sitk.WriteImage(image, str(tmp_path / name))
    argv = ["maps", str(tmp_path / "ct.nrrd"), "--mask", str(tmp_path / "ct_label.nrrd")]
    argv += ["-q", "--features", "firstorder_Mean", "glcm_Contrast"]
    assert main([*argv, "-o", str(tmp_path / "one"), "--single-file"]) == 0
    assert main([*argv, "-o", str(tmp_path / "files")]) == 0
    viewer = make_napari_viewer()
    layers = viewer.open(tmp_path / "one" / "maps.nrrd", plugin=PLUGIN)
    names = ["original_firstorder_Mean", "original_glcm_Contrast"]
    assert [layer.name for layer in layers] == names
    assert [layer.visible for layer in layers] == [True, False]
    for layer in layers:
        (own,) = viewer.open(tmp_path / "files" / f"{layer.name}.nrrd", plugin=PLUGIN)
        assert type(layer).__name__ == "Image"
        np.testing.assert_array_equal(np.asarray(layer.data), np.asarray(own.data))
        np.testing.assert_allclose(layer.scale, own.scale)
        np.testing.assert_allclose(layer.translate, own.translate)
        assert layer.metadata["feature"] == layer.name
    np.testing.assert_allclose(layers[0].scale, (2.5, 0.9, 0.7))
    # One map: a scalar file with its name in the field, still opened as that map.
    assert main([*argv[:-1], "-o", str(tmp_path / "single"), "--single-file"]) == 0
    (only,) = viewer.open(tmp_path / "single" / "maps.nrrd", plugin=PLUGIN)
    assert only.name == "original_firstorder_Mean [2]"  # napari's suffix: the name is taken
    assert only.ndim == 3
    np.testing.assert_array_equal(np.asarray(only.data), np.asarray(layers[0].data))
