"""Regenerate every screenshot under docs/images/ from a real napari viewer.

    PYTHONPATH=src xvfb-run -a -s "-screen 0 1920x1080x24" python docs/screenshots.py [NAME ...]

With names (functions of this script, e.g. ``plots_lasso``), only those screenshots are taken.

A synthetic case is written as a .mat file and opened through the plugin's reader, features
are extracted, the mask is enlarged with the labels layer's brush, the automatic re-extraction
adds a second run, and the dock widgets and the whole window are saved under docs/images/;
``opened_case.png`` shows a case just opened, before any extraction; ``feature_map.png`` the
Feature maps dock over a computed map; ``review_dock.png`` the Review dock on a folder;
``robustness_*.png`` the Robustness dock; ``plots_clusters.png`` the plots dock's Clusters
tab. ``workspace_*.png`` (``workspace``, under a
screen of at least 1920x1080) every dock open at 1366x768 and at 1920x1080.
One function alone, e.g.:

    cd docs && PYTHONPATH=../src xvfb-run -a -s "-screen 0 1600x1000x24" \
        python -c "import screenshots; screenshots.feature_map()"
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import napari
import numpy as np
import pandas as pd
from napari.layers import Labels
from qtpy.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from qtpy.QtWidgets import QApplication

from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice

IMAGES = Path(__file__).parent / "images"
#: The window of every whole-viewer screenshot: a laptop's screen, where the docks must fit.
LAPTOP = (1366, 768)


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
        viewer.window.resize(*LAPTOP)
        viewer.open(case, plugin="napari-radiomics")
        viewer.layers.selection.active = viewer.layers[1]
        viewer.scene.camera.zoom *= 1.1
        viewer.screenshot(str(IMAGES / "opened_case.png"), canvas_only=False)
        viewer.close()


def feature_map() -> None:
    """The Feature maps dock after computing a glcm Contrast map (radius 2) of the synthetic
    slice: the map over the slice it was computed on (same grid, NaN outside the ROI, robust
    contrast limits), the cursor on a tumour pixel and that pixel's values in the dock."""
    from napari_radiomics._napari._maps_widget import MapsWidget

    with tempfile.TemporaryDirectory() as tmp:
        case = write_tumor_mat(Path(tmp) / "3.mat", make_synthetic_slice(seed=3, label=2))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(*LAPTOP)
        image, labels, *_ = viewer.open(case, plugin="napari-radiomics")
        _, widget = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature maps")
        assert isinstance(widget, MapsWidget)
        widget.features.value = ["glcm_Contrast", "glcm_JointEntropy", "firstorder_Mean"]
        widget.radius.value = 2
        widget.run()
        wait_for(widget.runner.signals.finished)
        widget.shown.value = "original_glcm_Contrast"  # the dock's one layer shows it
        viewer.layers.selection.active = widget.map_layer
        labels.visible = False
        rows, cols = np.nonzero(labels.data)
        centre = (rows.mean() * image.scale[0], cols.mean() * image.scale[1])
        viewer.camera.center = centre
        viewer.camera.zoom *= 3
        viewer.cursor.position = centre  # the dock shows this pixel's values
        QApplication.processEvents()
        IMAGES.mkdir(exist_ok=True)
        viewer.screenshot(str(IMAGES / "feature_map.png"), canvas_only=False)
        viewer.close()


def dataset_table() -> None:
    """A batch of 12 slices in the dataset table below the canvas, linked to the folder's
    stack: the chosen row (sorted by tumour type, glcm features shown) is the slice on screen."""
    from napari_radiomics._napari._dataset_table import show_features
    from napari_radiomics.batch import discover_cases, run_batch
    from napari_radiomics.settings import ExtractionSettings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dataset"
        folder.mkdir()
        for i in range(12):
            tumour = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"1003{i // 3:02d}")
            write_tumor_mat(folder / f"{i + 1}.mat", tumour)
        output = Path(tmp) / "features.csv"
        settings = ExtractionSettings.preset("brain-tumor-mri")
        run_batch(discover_cases([folder]), settings, output, jobs=1)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(*LAPTOP)
        viewer.open(folder, plugin="napari-radiomics")
        widget = show_features(viewer, output)
        widget.class_combo.setCurrentText("glcm")
        widget.table.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # tumour type
        widget.select_rows([7])  # the slider moves to case 8
        for _ in range(5):
            QApplication.processEvents()
        viewer.screenshot(str(IMAGES / "dataset_table.png"), canvas_only=False)
        viewer.close()


def review_dock() -> None:
    """The Review dock on a folder of 12 slices: two accepted, one flagged with a note, one
    corrected with the brush (its original mask shown as a contour), the viewer on the next
    unreviewed case."""
    import os

    from napari_radiomics._napari._review_widget import ReviewWidget
    from napari_radiomics.corrections import session_for

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NAPARI_RADIOMICS_CORRECTIONS_HOME"] = str(Path(tmp) / "stores")
        folder = Path(tmp) / "brain"
        folder.mkdir()
        for i in range(12):
            tumor = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"P{i // 3:03d}")
            write_tumor_mat(folder / f"{i + 1}.mat", tumor)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(*LAPTOP)
        viewer.open(str(folder), plugin="napari-radiomics")
        _, dock = viewer.window.add_plugin_dock_widget("napari-radiomics", "Review")
        assert isinstance(dock, ReviewWidget)
        for index in (0, 1):
            dock.go_to(index)
            dock.mark("accepted")
        dock.go_to(2)
        dock.note.setText("enhancing rim cut off at the top")
        dock.mark("flagged")
        dock.go_to(3)
        labels = dock.layer
        labels.brush_size = 14
        rows, cols = np.nonzero(np.asarray(labels.data[3]))
        for step in range(16):  # a stroke above the tumour: the correction adds a lobe
            labels.paint((3, rows.min() - 6, cols.mean() - 20 + 2.5 * step), 1)
        session_for(labels.data).autosave.flush(timeout=10)
        dock.show_original()
        viewer.layers.selection.active = labels
        QApplication.processEvents()
        dock._refresh()
        dock.go_to(3)
        viewer.camera.center = (0, rows.mean(), cols.mean())
        viewer.camera.zoom *= 2
        QApplication.processEvents()
        IMAGES.mkdir(exist_ok=True)
        viewer.screenshot(str(IMAGES / "review_dock.png"), canvas_only=False)
        viewer.close()


def _dataset(folder: Path, slices: int = 90, patients: int = 30) -> pd.DataFrame:
    """A batch run over synthetic slices in which the tumour type changes the tumour's
    intensity and texture (the synthetic slices alone carry no type signal), so the plots
    and the model have something to find; slice i belongs to patient i % ``patients``."""
    from napari_radiomics.batch import discover_cases, run_batch
    from napari_radiomics.results import read_table
    from napari_radiomics.settings import ExtractionSettings

    for i in range(slices):
        label = i % patients % 3 + 1
        tumour = make_synthetic_slice(
            seed=i, shape=(128, 128), label=label, patient_id=f"P{i % patients:03d}"
        )
        image = tumour.image.astype(np.float64)
        image[tumour.mask] *= 1.0 + 0.12 * label
        image[tumour.mask] += np.random.default_rng(i).normal(0, 8.0 * label, tumour.mask.sum())
        tumour = dataclasses.replace(tumour, image=image.astype(np.int16))
        write_tumor_mat(folder / f"{i + 1}.mat", tumour)
    settings = ExtractionSettings(
        feature_classes={"firstorder": [], "glcm": [], "glrlm": [], "shape2D": []}
    )
    run_batch(discover_cases([folder]), settings, folder / "features.csv", jobs=2)
    return read_table(folder / "features.csv")


def wait_until(condition, timeout_ms: int = 120_000) -> None:
    """Let the event loop run until ``condition()`` holds."""
    timer = QElapsedTimer()
    timer.start()
    while not condition() and timer.elapsed() < timeout_ms:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def _mouse(plots, name: str, xy: tuple[float, float]) -> None:
    """A mouse event at data coordinates of the plot, as the canvas sends them."""
    from matplotlib.backend_bases import MouseEvent

    x, y = plots.plot.axes.transData.transform(xy)
    plots.canvas.callbacks.process(name, MouseEvent(name, plots.canvas, x, y, button=1))


@contextlib.contextmanager
def _plots_beside_a_dataset() -> Iterator[tuple[Any, Any, pd.DataFrame]]:
    """A laptop-sized viewer with a synthetic batch run's folder open and the Feature plots
    dock; the viewer is closed afterwards."""
    from napari_radiomics._napari._plots_widget import PlotsWidget

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "brain-tumour"
        folder.mkdir()
        frame = _dataset(folder)
        viewer = napari.Viewer(title="napari-radiomics")
        viewer.window.resize(*LAPTOP)
        viewer.open(str(folder), plugin="napari-radiomics")
        _, plots = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature plots")
        assert isinstance(plots, PlotsWidget)
        yield viewer, plots, frame
        viewer.close()


def plots_lasso() -> None:
    """The Feature plots dock beside the opened stack: the PCA of a batch run coloured by
    tumour type, a lasso drawn around one group, its points ringed."""
    with _plots_beside_a_dataset() as (viewer, plots, frame):
        plots.set_table(frame)
        plots.kind.setCurrentText("PCA")
        wait_until(lambda: plots.plot is not None and plots.plot.axes.get_xlabel() != "")
        wait_until(lambda: plots.plot.axes.get_xlabel().startswith("PC1"))
        plots.canvas.draw()
        points = plots.plot.points
        leftmost = pd.Series(points[:, 0]).groupby(frame["tumor_type"].to_numpy()).mean().idxmin()
        group = (frame["tumor_type"] == leftmost).to_numpy()
        centre, spread = points[group].mean(axis=0), points[group].std(axis=0)
        angles = np.linspace(0, 2 * np.pi, 40)
        lasso = [tuple(centre + 1.6 * spread * (np.cos(a), np.sin(a))) for a in angles]
        for release in (True, False):  # a finished lasso, then the same one being drawn
            _mouse(plots, "button_press_event", lasso[0])
            for xy in lasso[1:]:
                _mouse(plots, "motion_notify_event", xy)
            if release:
                _mouse(plots, "button_release_event", lasso[-1])
        plots.ranking.rank()
        wait_until(lambda: not plots.ranking.status.text().startswith("Ranking"))
        plots.canvas.draw()
        QApplication.processEvents()
        viewer.screenshot(str(IMAGES / "plots_lasso.png"), canvas_only=False)


def model_confusion() -> None:
    """The Tumour-type model panel after a run: accuracy, the confusion matrix."""
    from napari_radiomics._napari._model_widget import ModelWidget

    with tempfile.TemporaryDirectory() as tmp:
        frame = _dataset(Path(tmp))
        viewer = napari.Viewer(title="napari-radiomics")
        _, panel = viewer.window.add_plugin_dock_widget("napari-radiomics", "Tumour-type model")
        assert isinstance(panel, ModelWidget)
        panel.set_table(frame, "features.csv")
        panel.run()
        wait_until(lambda: panel.result is not None)
        dock = panel.parent()
        dock.setFloating(True)
        dock.resize(560, 980)
        QApplication.processEvents()
        panel.grab().save(str(IMAGES / "model_confusion.png"))
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
        viewer.window.resize(*LAPTOP)
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


def workspace() -> None:
    """Every dock of the manifest open on a 12-slice folder, at a laptop's 1366x768 and at
    1920x1080 (also a 4K screen at 200%): run under a screen at least 1920x1080."""
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[1] / "napari.yaml").read_text())
    names = [w["display_name"] for w in manifest["contributions"]["widgets"]]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(12):
            slice_ = make_synthetic_slice(seed=i, label=i % 3 + 1, patient_id=f"P{i:03d}")
            write_tumor_mat(Path(tmp) / f"{i + 1}.mat", slice_)
        for width, height in ((1366, 768), (1920, 1080)):
            viewer = napari.Viewer(show=True)
            viewer.window._qt_window.showNormal()
            viewer.window.resize(width, height)
            viewer.open(tmp, plugin="napari-radiomics")
            docks = [viewer.window.add_plugin_dock_widget("napari-radiomics", n) for n in names]
            dock, extract = next((d, w) for d, w in docks if isinstance(w, ExtractionWidget))
            extract.preset.value = "brain-tumor-mri"
            results = get_results_widget(viewer)
            extract.extract()
            wait_for(results.table_updated)
            viewer.window.resize(width, height)
            for shown in (dock, results.parent()):  # the chosen tab of each stack
                shown.raise_()
                QApplication.processEvents()
            viewer.screenshot(str(IMAGES / f"workspace_{width}x{height}.png"), canvas_only=False)
            viewer.close()


def plots_clusters() -> None:
    """The Feature plots dock's Clusters tab after a k-means per patient: the PCA of a batch
    run coloured by cluster, the dataset table below with its new cluster column."""
    from napari_radiomics._napari._dataset_table import show_features

    with _plots_beside_a_dataset() as (viewer, plots, frame):
        table = show_features(viewer, frame)
        plots.kind.setCurrentText("PCA")
        wait_until(lambda: plots.plot is not None and plots.plot.axes.get_xlabel() != "")
        panel = plots.clustering
        panel.parent().parent().setCurrentWidget(panel)  # the Clusters tab
        panel.cluster()
        wait_until(lambda: "cluster" in table.frame.columns)
        wait_until(lambda: plots.plot.axes.get_legend() is not None)
        wait_until(lambda: plots.plot.axes.get_legend().get_title().get_text() == "cluster")
        table.table.horizontalScrollBar().setValue(0)  # the identifying columns, cluster too
        plots.canvas.draw()
        QApplication.processEvents()
        viewer.screenshot(str(IMAGES / "plots_clusters.png"), canvas_only=False)


def main() -> None:
    dataset_table()
    feature_map()
    opened_case()
    robustness()
    folder = Path(tempfile.mkdtemp())
    path = write_tumor_mat(
        folder / "3.mat", make_synthetic_slice(seed=3, label=2, patient_id="100360")
    )
    viewer = napari.Viewer(title="napari-radiomics")
    viewer.window.resize(*LAPTOP)
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
    # The table on its own, taller: the shape features first, the identifying rows last.
    results.filter_edit.setText("")
    dock = results.parent()
    dock.setFloating(True)
    dock.resize(1450, 640)
    QApplication.processEvents()
    results.grab().save(str(IMAGES / "results_table.png"))
    viewer.close()


if __name__ == "__main__":
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            globals()[name]()
    else:
        main()
        plots_lasso()
        model_confusion()
        review_dock()
        robustness()
        workspace()
