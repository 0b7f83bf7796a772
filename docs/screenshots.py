"""Regenerate every screenshot under docs/images/ from a real napari viewer.

    PYTHONPATH=src xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots.py

A synthetic case is written as a .mat file and opened through the plugin's reader, features
are extracted, the mask is enlarged with the labels layer's brush, the automatic re-extraction
adds a second run, and the dock widgets and the whole window are saved under docs/images/;
``opened_case.png`` shows a case just opened, before any extraction. Name functions to make
only their screenshots: ``python docs/screenshots.py robustness``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
from napari.layers import Labels
from qtpy.QtCore import QEventLoop, QTimer
from qtpy.QtWidgets import QApplication

from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice

IMAGES = Path(__file__).parent / "images"


def wait_for(signal, timeout_ms: int = 60_000) -> None:
    """Let the event loop run until ``signal`` fires."""
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec_()


def opened_case() -> None:
    """A case as the reader opens it: slice, mask (selected, ready for the brush), border."""
    with tempfile.TemporaryDirectory() as tmp:
        case = write_tumor_mat(Path(tmp) / "17.mat", make_synthetic_slice(seed=0, label=2))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1200, 800)
        viewer.open(case, plugin="napari-radiomics")
        viewer.layers.selection.active = viewer.layers[1]
        viewer.scene.camera.zoom *= 1.1
        viewer.screenshot(str(IMAGES / "opened_case.png"), canvas_only=False)
        viewer.close()


def feature_map() -> None:
    """A glcm Contrast map (radius 2) over the slice it was computed on, as napari shows it:
    same scale and translate as the image, NaN outside the ROI, robust contrast limits."""
    from napari_radiomics.engine.maps import feature_maps, voxel_settings
    from napari_radiomics.settings import ExtractionSettings

    with tempfile.TemporaryDirectory() as tmp:
        case = write_tumor_mat(Path(tmp) / "3.mat", make_synthetic_slice(seed=3, label=2))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1200, 800)
        image, labels, *_ = viewer.open(case, plugin="napari-radiomics")
        settings = voxel_settings(
            ExtractionSettings(feature_classes={"glcm": ["Contrast"]}), kernel_radius=2
        )
        name, values = next(iter(feature_maps(image, labels, settings).items()))
        data = values.array()
        low, high = np.nanpercentile(data, [2, 98])
        viewer.add_image(
            data, name=name, scale=image.scale, translate=image.translate,
            colormap="inferno", contrast_limits=(low, high), opacity=0.85,
        )  # fmt: skip
        labels.visible = False
        rows, cols = np.nonzero(labels.data)
        viewer.camera.center = (rows.mean() * image.scale[0], cols.mean() * image.scale[1])
        viewer.camera.zoom *= 3
        viewer.screenshot(str(IMAGES / "feature_map.png"), canvas_only=False)
        viewer.close()


def robustness() -> None:
    """The Robustness dock on a stack of 8 slices: 10 perturbed contours over the current
    slice, then the ICC over all slices with its confidence interval and robust flag."""
    from napari_radiomics._napari._robustness_widget import RobustnessWidget

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(8):
            tumor = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"P{i:03d}")
            write_tumor_mat(Path(tmp) / f"{i + 1}.mat", tumor)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1500, 950)
        _, labels = viewer.open(tmp, plugin="napari-radiomics")
        _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Robustness")
        assert isinstance(widget, RobustnessWidget)
        labels.visible = False
        viewer.dims.set_current_step(0, 2)
        widget.count.setValue(10)
        wait_for(widget.perturb_case().finished)
        rows, cols = np.nonzero(np.asarray(labels.data[2]))
        viewer.scene.camera.center = (2, rows.mean(), cols.mean())
        viewer.scene.camera.zoom *= 3
        IMAGES.mkdir(exist_ok=True)
        viewer.screenshot(str(IMAGES / "robustness_contours.png"), canvas_only=False)
        widget.threshold.setValue(0.75)
        wait_for(widget.compute_icc().finished)
        dock = widget.parent()
        dock.setFloating(True)
        dock.resize(1000, 900)
        QApplication.processEvents()
        widget.grab().save(str(IMAGES / "robustness_icc.png"))
        viewer.close()


def main() -> None:
    feature_map()
    opened_case()
    robustness()
    folder = Path(tempfile.mkdtemp())
    path = write_tumor_mat(
        folder / "3.mat", make_synthetic_slice(seed=3, label=2, patient_id="100360")
    )
    viewer = napari.Viewer(title="napari-radiomics")
    viewer.window.resize(1500, 950)
    layers = viewer.open(path, plugin="napari-radiomics")
    labels = next(layer for layer in layers if isinstance(layer, Labels))
    _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Extract features")
    assert isinstance(widget, ExtractionWidget)
    widget.preset.value = "brain-tumor-mri"
    widget.auto.value = True
    results = get_results_widget(viewer)
    widget.extract()
    wait_for(results.table_updated)

    rows, cols = np.nonzero(labels.data)
    top = int(rows.min())
    labels.brush_size = 25
    labels.mode = "paint"
    labels.paint((top, int(np.median(cols[rows == top]))), 1)
    wait_for(results.table_updated)
    columns = results.value_columns()
    results.set_comparison(columns[0], columns[1])
    viewer.layers.selection.active = labels

    IMAGES.mkdir(exist_ok=True)
    widget.native.grab().save(str(IMAGES / "extraction_widget.png"))
    results.filter_edit.setText("shape2D")
    viewer.screenshot(str(IMAGES / "paint_reextract.png"), canvas_only=False)
    # The table on its own, taller: identifying rows on top, then the shape features.
    results.filter_edit.setText("")
    dock = results.parent()
    dock.setFloating(True)
    dock.resize(1450, 640)
    QApplication.processEvents()
    results.grab().save(str(IMAGES / "results_table.png"))
    viewer.close()


#: Screenshots that can be made on their own: ``python docs/screenshots.py robustness``.
ONE_BY_ONE = {"opened_case": opened_case, "feature_map": feature_map, "robustness": robustness}

if __name__ == "__main__":
    if len(sys.argv) > 1:
        for name in sys.argv[1:]:
            ONE_BY_ONE[name]()
    else:
        main()
