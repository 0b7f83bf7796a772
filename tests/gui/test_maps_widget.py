"""The "Feature maps" dock in a real viewer: real reader, real engine, real worker thread.

The maps the dock adds are compared with the core's ``feature_maps`` on the same layers (the
function the CLI writes files from), so the dock cannot show other numbers than the CLI.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels

from _layers import layer_from_file
from napari_radiomics._napari import _maps_widget
from napari_radiomics._napari._maps_widget import COLORMAP, MapsWidget, contrast_limits
from napari_radiomics._napari._settings_choice import PARAMS_FILE
from napari_radiomics.engine.maps import feature_maps, voxel_settings
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings
from napari_radiomics.settings_choice import choose_settings

TIMEOUT = 120_000


def dock(viewer) -> MapsWidget:
    """The widget as Plugins > napari-radiomics > Feature maps docks it."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature maps")
    assert isinstance(widget, MapsWidget)
    return widget


def open_slice(viewer, tmp_path: Path, seed: int = 3) -> tuple[Image, Labels]:
    """A synthetic dataset slice written as a real .mat file, opened by the plugin's reader."""
    path = write_tumor_mat(tmp_path / "3.mat", make_synthetic_slice(seed=seed, label=2))
    layers = viewer.open(path, plugin="napari-radiomics")
    image = next(layer for layer in layers if isinstance(layer, Image))
    labels = next(layer for layer in layers if isinstance(layer, Labels))
    return image, labels


def compute(qtbot, widget: MapsWidget) -> None:
    with qtbot.waitSignal(widget.runner.signals.finished, timeout=TIMEOUT):
        assert widget.run()


def on_image_grid(layer: Image, image: Image) -> np.ndarray:
    """The map layer's values put on the image's grid where napari draws them: its first
    voxel's world point, taken back to the image's data index, says where its block lies."""
    first = np.zeros(layer.ndim)
    start = np.round(image.world_to_data(layer.data_to_world(first))).astype(int)
    full = np.full(image.data.shape, np.nan)
    full[tuple(slice(s, s + n) for s, n in zip(start, layer.data.shape, strict=True))] = layer.data
    return full


def assert_layers_are_the_core_maps(viewer, widget, image, labels, settings, **options) -> None:
    """Each expected map, chosen in the dock, is shown in one layer named after it: its block
    only, float32, every voxel drawn over the image voxel it was computed for (the corners'
    world points match the image's), holding the core's values, with the dock's colormap and
    robust contrast limits."""
    expected = feature_maps(image, labels, settings, **options)
    assert set(widget.maps) == set(expected)
    assert set(widget.shown.choices) == set(expected)  # one entry per map
    layers_before = len(viewer.layers)
    for name, feature_map in expected.items():
        widget.shown.value = name
        layer = widget.map_layer
        assert isinstance(layer, Image)
        assert layer.name == name
        assert len(viewer.layers) == layers_before  # one layer, its data swapped
        assert layer.data.dtype == np.float32
        assert layer.data.shape == feature_map.values.shape  # the block, not the image's grid
        assert layer.data.size < image.data.size / 4  # the ROI's box: a part of the image
        np.testing.assert_array_equal(layer.data, feature_map.values.astype(np.float32))
        np.testing.assert_array_equal(layer.affine.affine_matrix, image.affine.affine_matrix)
        for corner in np.ndindex(*(2,) * layer.ndim):
            local = np.asarray(corner) * (np.asarray(layer.data.shape) - 1)
            on_image = np.asarray(feature_map.offset) + local
            np.testing.assert_allclose(
                layer.data_to_world(local), image.data_to_world(on_image), atol=1e-9
            )
        full = on_image_grid(layer, image)
        np.testing.assert_array_equal(full, feature_map.array().astype(np.float32))
        assert layer.colormap.name == COLORMAP
        low, high = np.nanpercentile(feature_map.values, [1, 99])
        assert layer.contrast_limits == [low, high]


def test_slice_maps_are_aligned_layers_with_the_core_values_and_hover_shows_them(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    image, labels = open_slice(viewer, tmp_path)
    widget = dock(viewer)
    assert widget.labels.value is labels  # the reader's "<image> mask" comes with its image
    widget.features.value = ["glcm_Contrast", "firstorder"]
    widget.radius.value = 2
    assert widget.shown.native.isHidden()  # no map to choose yet
    compute(qtbot, widget)
    assert not widget.shown.native.isHidden()
    settings = voxel_settings(ExtractionSettings(), kernel_radius=2, masked_kernel=True)
    features = ["glcm_Contrast", "firstorder"]
    assert_layers_are_the_core_maps(viewer, widget, image, labels, settings, features=features)
    widget.shown.value = "original_glcm_Contrast"
    contrast = on_image_grid(widget.map_layer, image)
    roi = labels.data == 1
    assert np.isfinite(contrast[roi]).all()
    assert np.isnan(contrast[~roi]).all()  # NaN outside the computed region
    assert len(widget.maps) == 19  # glcm Contrast and firstorder's 18
    assert "19 map(s)" in widget.status.value

    # Hovering a ROI voxel shows every map's value there; outside, NaN (an empty cell).
    row, col = np.argwhere(roi)[len(np.argwhere(roi)) // 2]
    viewer.cursor.position = tuple(image.data_to_world((row, col)))
    shown = widget.values.frame["value"]
    assert len(shown) == 19
    for name, value in shown.items():  # the float64 values the CLI's files hold
        assert value == widget.maps[name].array()[row, col], name
    assert f"({row}, {col})" in widget.hovered.value
    viewer.cursor.position = tuple(image.data_to_world((0, 0)))
    assert widget.values.frame["value"].isna().all()

    # Running again replaces the maps of the same names instead of adding copies.
    layers_before = len(viewer.layers)
    compute(qtbot, widget)
    assert len(viewer.layers) == layers_before

    # A map kept as its own layer stays, on the same voxels, when another map is shown.
    widget.shown.value = "original_glcm_Contrast"
    widget.keep_button.native.click()
    kept = viewer.layers[-1]
    assert kept is not widget.map_layer
    assert "original_glcm_Contrast" in kept.name
    widget.shown.value = "original_firstorder_Mean"
    np.testing.assert_array_equal(on_image_grid(kept, image), contrast)
    assert not np.array_equal(on_image_grid(widget.map_layer, image), contrast, equal_nan=True)
    compute(qtbot, widget)  # a new run leaves the kept layer alone
    assert kept in viewer.layers
    np.testing.assert_array_equal(on_image_grid(kept, image), contrast)


def test_volume_maps_keep_the_direction_and_map_the_grown_box(
    make_napari_viewer, qtbot, pyradiomics_data: Path
) -> None:
    """brain2 (its direction flips y, so the layer has an affine) cut to a small sub-volume,
    region "bounding box + margin", unmasked kernel."""
    viewer = make_napari_viewer()
    image_file = layer_from_file(pyradiomics_data / "brain2_image.nrrd", "brain2")
    mask_file = layer_from_file(pyradiomics_data / "brain2_label.nrrd", "brain2 mask")
    mask = np.zeros(mask_file.data.shape, dtype=np.uint8)
    centre = np.round(np.argwhere(mask_file.data == 1).mean(axis=0)).astype(int)
    near = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, (1, 3, 3), strict=True))
    mask[near] = mask_file.data[near] == 1
    grid = {"scale": image_file.scale, "translate": image_file.translate,
            "affine": image_file.affine}  # fmt: skip
    image = viewer.add_image(image_file.data, name="brain2", **grid)
    labels = viewer.add_labels(mask, name="brain2 mask", **grid)
    assert not np.allclose(image.affine.affine_matrix, np.eye(4))
    widget = dock(viewer)
    widget.features.value = ["glszm_ZoneEntropy", "ngtdm_Coarseness"]
    widget.masked.value = False
    widget.region.value = "bounding box + margin"
    assert not widget.margin.native.isHidden()  # shown with the box region
    widget.margin.value = 1
    compute(qtbot, widget)
    settings = voxel_settings(ExtractionSettings(), kernel_radius=1, masked_kernel=False)
    options = {"features": ["glszm_ZoneEntropy", "ngtdm_Coarseness"], "region": "box",
               "margin": 1}  # fmt: skip
    assert_layers_are_the_core_maps(viewer, widget, image, labels, settings, **options)
    widget.shown.value = "original_glszm_ZoneEntropy"
    entropy = on_image_grid(widget.map_layer, image)
    roi = np.argwhere(mask == 1)
    box = tuple(slice(a - 1, b + 2) for a, b in zip(roi.min(0), roi.max(0), strict=True))
    assert np.isfinite(entropy[box]).all()
    assert np.isnan(entropy).sum() == entropy.size - entropy[box].size
    assert entropy.ndim == 3
    # Hover on a 3D volume: the voxel under the cursor on the slice shown.
    voxel = tuple(int(v) for v in roi[0])
    viewer.cursor.position = tuple(image.data_to_world(voxel))
    shown = widget.values.frame.loc["original_glszm_ZoneEntropy", "value"]
    assert np.float32(shown) == entropy[voxel]


def test_cancel_stops_the_run_within_a_second_and_adds_nothing(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    """Every texture class at radius 2 on a dataset-sized slice: tens of seconds of work."""
    viewer = make_napari_viewer()
    open_slice(viewer, tmp_path, seed=0)
    widget = dock(viewer)
    widget.features.value = ["firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]
    widget.radius.value = 2
    steps: list[tuple] = []
    widget.runner.signals.progressed.connect(lambda *args: steps.append(args))
    layers_before = len(viewer.layers)
    assert widget.run()
    assert not widget.run_button.enabled
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=TIMEOUT)  # into the batches
    assert widget.runner.running
    with qtbot.waitSignal(widget.runner.signals.cancelled, timeout=TIMEOUT) as blocker:
        start = time.perf_counter()
        widget.cancel()
    stopped = time.perf_counter() - start
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT)
    assert blocker.args == ["cancelled"]
    assert stopped < 1.0, f"cancel took {stopped:.2f} s"  # a behaviour check, not a benchmark
    assert widget.bar.value < widget.bar.max  # it did stop early
    assert len(viewer.layers) == layers_before
    assert "cancelled" in widget.status.value
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=TIMEOUT)


def test_rows_built_when_first_needed_sit_where_they_did_and_keep_what_was_set(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    """The margin's row and the map chooser's rows are not built at docking; once built they
    sit in their old places, shown and hidden as before, and a margin the user set stays
    through region changes and reaches the run."""
    viewer = make_napari_viewer()
    widget = dock(viewer)
    assert widget._margin is None
    assert widget._shown is None
    assert widget._keep_button is None
    form = widget._form.native

    def row(control) -> int:  # the form's row that holds the control
        native = control.native
        while native.parentWidget() is not form:
            native = native.parentWidget()
        return form.layout().indexOf(native)

    widget.region.value = "bounding box + margin"
    assert row(widget.margin) == row(widget.region) + 1
    assert not widget.margin.native.isHidden()
    assert widget.margin.value == 2  # the default, as before
    widget.margin.value = 5
    widget.region.value = "ROI"
    assert widget.margin.native.isHidden()
    widget.region.value = "bounding box + margin"
    assert widget.margin.value == 5
    assert not widget.margin.native.isHidden()
    image, labels = open_slice(viewer, tmp_path)
    widget.image.value, widget.labels.value = image, labels
    widget.features.value = ["firstorder_Mean"]
    compute(qtbot, widget)
    assert row(widget.shown) == row(widget.keep_button) == row(widget.status) + 1
    assert row(widget.hovered) == row(widget.status) + 2
    assert not widget.shown.native.isHidden()
    assert not widget.keep_button.native.isHidden()
    assert widget.shown.value == "original_firstorder_Mean"
    core = feature_maps(image, labels, widget.settings(), features=["firstorder_Mean"],
                        region="box", margin=5)["original_firstorder_Mean"]  # fmt: skip
    assert widget.map_layer.data.shape == core.values.shape


def test_a_map_arrives_with_its_limits_and_first_block_worked_out_in_the_worker(
    make_napari_viewer, qtbot, tmp_path: Path, monkeypatch
) -> None:
    """The percentiles of every map are taken in the run's worker, not when a map arrives or
    is chosen; the first map's float32 block is the one the layer shows; the limits are the
    same as before."""
    threads: list[threading.Thread] = []

    def recorded(values: np.ndarray) -> tuple[float, float]:
        threads.append(threading.current_thread())
        return contrast_limits(values)

    monkeypatch.setattr(_maps_widget, "contrast_limits", recorded)
    viewer = make_napari_viewer()
    widget = dock(viewer)
    image, labels = open_slice(viewer, tmp_path)
    widget.image.value, widget.labels.value = image, labels
    widget.features.value = ["firstorder_Mean", "firstorder_Range"]
    compute(qtbot, widget)
    names = list(widget.maps)
    assert len(threads) == len(names) == 2
    assert threading.main_thread() not in threads
    for name in [*names[1:], names[0]]:  # another map, then the first again (converted anew)
        widget.shown.value = name
        values = widget.maps[name].values
        np.testing.assert_array_equal(widget.map_layer.data, values.astype(np.float32))
        assert tuple(widget.map_layer.contrast_limits) == contrast_limits(values)
    assert threading.main_thread() not in threads


def test_a_change_of_the_layers_reads_them_once_and_picks_the_mask(
    make_napari_viewer, tmp_path: Path
) -> None:
    """napari resets a docked widget's choices on every change of the layers; the dock's own
    listener is that same call, so the layer lists are read once per change (the fixed
    feature list not at all), and the image opened still brings its mask."""
    viewer = make_napari_viewer()
    widget = dock(viewer)
    image, labels = open_slice(viewer, tmp_path)
    assert widget.image.value is image
    assert widget.labels.value is labels  # the image's mask, picked with it
    reads: list[int] = []
    original = widget.image.reset_choices
    widget.image.reset_choices = lambda *args: (reads.append(1), original(*args))
    fixed = widget.features.reset_choices
    widget.features.reset_choices = lambda *args: (reads.append(0), fixed(*args))
    viewer.add_image(np.zeros((4, 4)), name="another")
    assert reads == [1]
    viewer.layers["another"].name = "renamed"
    assert reads == [1, 1]
    assert "renamed" in [layer.name for layer in widget.image.choices]
    viewer.layers.remove("renamed")
    assert reads == [1, 1, 1]  # the feature list, fixed, is not re-set
    assert widget.labels.value is labels


def test_refusals_name_the_problem(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    widget = dock(viewer)
    assert not widget.run()
    assert "choose an image layer and a labels layer" in widget.status.value
    open_slice(viewer, tmp_path)
    widget.features.value = []
    assert not widget.run()
    assert "at least one feature" in widget.status.value


def test_contrast_limits_are_robust_and_never_empty() -> None:
    values = np.concatenate([np.linspace(0, 1, 101), [1000.0, np.nan]])
    low, high = contrast_limits(values)
    assert low == np.percentile(values[:-1], 1)
    assert high < 1000  # one outlier does not set the range
    assert contrast_limits(np.full(4, 2.0))[0] < contrast_limits(np.full(4, 2.0))[1]
    assert contrast_limits(np.full(3, np.nan)) == (0.0, 1.0)


def test_nan_in_the_roi_is_refused_with_the_message_of_extract(make_napari_viewer, qtbot) -> None:
    """The dock runs the core's rule: a NaN inside the ROI fails the run, naming the layer
    and the problem, and no map layer is added."""
    viewer = make_napari_viewer()
    widget = dock(viewer)
    pixels = np.random.default_rng(0).normal(100, 20, (48, 48))
    pixels[24, 24] = np.nan
    mask = np.zeros(pixels.shape, dtype=np.uint8)
    mask[16:32, 16:32] = 1
    widget.image.value = viewer.add_image(pixels, name="scan")
    widget.labels.value = viewer.add_labels(mask, name="tumour")
    widget.features.value = ["firstorder"]
    with qtbot.waitSignal(widget.runner.signals.failed, timeout=TIMEOUT):
        assert widget.run()
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=TIMEOUT)  # the run has ended
    assert "image 'scan' holds 1 NaN or infinite voxel(s) inside ROI label 1" in (
        widget.status.value
    )
    assert len(viewer.layers) == 2


def test_settings_are_chosen_as_in_the_batch_dock_and_a_bad_file_is_refused(
    make_napari_viewer, tmp_path: Path
) -> None:
    """A preset, a params file or the Extract dock's settings, through the core's
    ``choose_settings`` (the CLI's ``--preset``/``--params``), plus the dock's kernel."""
    viewer = make_napari_viewer()
    open_slice(viewer, tmp_path)
    widget = dock(viewer)
    assert widget.choice.combo.currentText() == "pyradiomics-default"
    widget.radius.value = 2
    assert widget.settings() == voxel_settings(
        choose_settings(preset="pyradiomics-default"), kernel_radius=2, masked_kernel=True
    )
    params = tmp_path / "maps.yaml"
    params.write_text("setting:\n  binWidth: 10\n", encoding="utf-8")
    assert not widget.choice.params.isVisibleTo(widget.native)  # its row: for a params file
    widget.choice.combo.setCurrentText(PARAMS_FILE)
    assert widget.choice.params.isVisibleTo(widget.native)
    widget.choice.params.setText(str(params))
    chosen = widget.settings()
    assert chosen.bin_width == 10
    assert chosen.voxel_settings["kernelRadius"] == 2
    params.write_text("setting:\n  binWidth: many\n", encoding="utf-8")
    assert not widget.run()
    assert "Cannot start:" in widget.status.value
    assert "binWidth" in widget.status.value
    assert not widget.runner.running


def test_a_second_run_on_the_same_image_does_not_rerun_n4(
    make_napari_viewer, qtbot, tmp_path: Path
) -> None:
    viewer = make_napari_viewer()
    image, labels = open_slice(viewer, tmp_path)
    widget = dock(viewer)
    params = tmp_path / "n4.params.yaml"
    ExtractionSettings(preprocess={"n4": {}, "zscore": {}}, bin_width=0.25).save(params)
    widget.choice.combo.setCurrentText(PARAMS_FILE)
    widget.choice.params.setText(str(params))
    widget.features.value = ["firstorder_Mean"]
    compute(qtbot, widget)
    widget.radius.value = 2  # other voxel settings: a new engine, the same corrected image
    compute(qtbot, widget)
    assert widget.preprocessed.runs == 1
    expected = feature_maps(image, labels, widget.settings(), features=["firstorder_Mean"])
    np.testing.assert_array_equal(
        widget.maps["original_firstorder_Mean"].values,
        expected["original_firstorder_Mean"].values,
    )
