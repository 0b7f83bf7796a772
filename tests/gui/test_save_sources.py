"""No name chosen in a dock's save dialog, nor in napari's Save layer, replaces a file the
viewer reads: a layer's ``.mat`` or ``.nrrd``, a case of a folder stack, a corrections store's
files, the dataset table's CSV; by its own name or a hard link. The dock refuses it naming the
file and why, and keeps what it has (real viewer, real files opened through the plugin)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Labels
from napari.utils.notifications import notification_manager

from napari_radiomics._filenames import same_file
from napari_radiomics._napari import _results, _widget
from napari_radiomics._napari._batch_widget import BatchWidget
from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._model_widget import ModelWidget
from napari_radiomics._napari._plots_widget import PlotsWidget
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._review_widget import ReviewWidget
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.corrections import session_for
from napari_radiomics.errors import WriteError
from napari_radiomics.results import read_table
from sample_files import case_arrays, save_square, write_bundle, write_mat_folder, write_v73
from test_results import engine_run

PLUGIN = "napari-radiomics"


@dataclass
class Opened:
    """What the viewer shows, each read through the plugin's reader."""

    viewer: object
    case: Path  # 17.mat: image, mask and border layers
    image: Path  # brain1_image.nrrd
    label: Path  # brain1_label.nrrd
    stacked: Path  # one case of a folder stack
    bundle: Path  # a NumPy bundle's folder
    store: Path  # the corrections store of 17.mat, with a correction saved
    mask: Labels  # 17.mat's mask layer
    links: Path  # a folder for hard links to sources, under other names


@pytest.fixture
def opened(make_napari_viewer, pyradiomics_data: Path, tmp_path: Path) -> Opened:
    viewer = make_napari_viewer()
    data = tmp_path / "data"
    data.mkdir()
    for name in ("brain1_image.nrrd", "brain1_label.nrrd"):
        shutil.copy(pyradiomics_data / name, data / name)
        viewer.open(str(data / name), plugin=PLUGIN)
    case = write_v73(data / "17.mat", case_arrays())
    mask = next(ly for ly in viewer.open(str(case), plugin=PLUGIN) if isinstance(ly, Labels))
    folder = tmp_path / "folder"
    write_mat_folder(folder, 4)
    viewer.open(str(folder), plugin=PLUGIN)
    write_bundle(tmp_path / "bundle")
    viewer.open(str(tmp_path / "bundle"), plugin=PLUGIN)
    session = session_for(mask.data)
    save_square(session.store, session.refs[0].case, case)
    links = tmp_path / "out"
    links.mkdir()
    return Opened(viewer, case, data / "brain1_image.nrrd", data / "brain1_label.nrrd",
                  folder / "1.mat", tmp_path / "bundle", Path(session.store.root), mask,
                  links)  # fmt: skip


def link(opened: Opened, source: Path, name: str) -> Path:
    """A hard link to ``source`` named ``name``: the same file, another name."""
    os.link(source, opened.links / name)
    return opened.links / name


def refused(save, target: Path, why: str) -> None:
    """``save(target)`` raises a WriteError naming ``target`` and ``why``; nothing written."""
    files = [p for p in (target, target.parent) if p.exists()]
    before = {p: p.read_bytes() for p in files if p.is_file()}
    with pytest.raises(WriteError, match=f"^{re.escape(str(target))}: {why}"):
        save(str(target))
    assert {p: p.read_bytes() for p in before} == before


def shown_error(monkeypatch, module, target: Path, press) -> str:
    """The error napari shows when ``target`` is chosen in ``module``'s save dialog (the
    static dialog call answers ``target``: no modal dialog opens in a test)."""
    monkeypatch.setattr(
        module.QFileDialog, "getSaveFileName", staticmethod(lambda *_, **__: (str(target), ""))
    )
    before = len(notification_manager.records)
    press()
    return str(notification_manager.records[before].message)


def test_results_export_never_replaces_a_file_the_viewer_reads(
    opened: Opened, batch_features: Path, monkeypatch
) -> None:
    """Export… writes a CSV under any name typed (``17.mat`` included): a layer's file, a
    stack's case, a store's ``review.csv``, the dataset table's CSV and a hard link to a case
    are refused; the runs stay in the dock."""
    widget = get_results_widget(opened.viewer)
    mask = np.zeros((48, 48), np.uint8)
    mask[10:30, 10:30] = 1
    widget.add_run(engine_run(mask))
    show_features(opened.viewer, batch_features)
    layer = re.escape("17 glioma (PID MR048994B)")
    targets = {
        opened.case: f"is the source of layer '{layer}",
        opened.image: "is the source of layer 'brain1_image'",
        opened.stacked: "is a case of layer 'folder",
        opened.bundle / "masks.npy": "is a case of layer 'bundle",
        opened.store / "review.csv": "would be a file of .*, the corrections store of layer",
        batch_features: "is the features table the dataset table shows",
        link(opened, opened.case, "features.csv"): f"is the source of layer '{layer}",
    }
    for target, why in targets.items():
        refused(widget.export, target, why)
    assert same_file(opened.links / "features.csv", opened.case)
    assert len(widget._runs) == 1
    message = shown_error(monkeypatch, _results, opened.case, widget._export_dialog)
    assert message.startswith(f"Feature results: not exported: {opened.case}: is the source")
    assert len(widget._runs) == 1


def test_extract_save_params_never_replaces_a_store_file(opened: Opened, monkeypatch) -> None:
    """Save params… writes YAML under any name typed: the store's ``store.yaml`` (by its name
    or a hard link), or a new file inside the store, is refused and the form kept."""
    _, widget = opened.viewer.window.add_plugin_dock_widget(PLUGIN, "Extract features")
    assert isinstance(widget, ExtractionWidget)
    settings = widget.settings()
    header = opened.store / "store.yaml"
    for target in (header, link(opened, header, "params.yaml"), opened.store / "p.yaml"):
        refused(widget.save_params, target, "would be a file of .*, the corrections store")
    assert not (opened.store / "p.yaml").exists()
    assert same_file(opened.links / "params.yaml", header)
    message = shown_error(monkeypatch, _widget, header, widget._save_dialog)
    assert message.startswith(f"Settings not saved: {header}: would be a file of")
    assert widget.settings() == settings


def test_plot_save_never_replaces_a_file_the_viewer_reads(
    opened: Opened, batch_features: Path, qtbot
) -> None:
    """Save PNG/SVG… under a hard link to a case (``plot.png``) or into a store is refused:
    the link still names the case."""
    _, widget = opened.viewer.window.add_plugin_dock_widget(PLUGIN, "Feature plots")
    assert isinstance(widget, PlotsWidget)
    widget.set_table(read_table(batch_features))
    qtbot.waitUntil(lambda: widget.plot is not None, timeout=60_000)
    for target in (link(opened, opened.case, "plot.png"), opened.store / "plot.png"):
        refused(widget.save, target, "(is the source of layer|would be a file of)")
    assert same_file(opened.links / "plot.png", opened.case)
    assert not (opened.store / "plot.png").exists()


def test_save_layer_never_replaces_another_layers_file(opened: Opened) -> None:
    """napari's Save layer (the plugin's writer) refuses, besides the layer's own file, the
    file of any other layer: the 17.mat mask saved as ``brain1_image.nrrd``, as a hard link
    to ``brain1_label.nrrd``, as a case of the folder stack, or into the store."""
    targets = {
        opened.image: "is the source of layer 'brain1_image'",
        link(opened, opened.label, "mask.nrrd"): "is the source of layer 'brain1_label'",
        opened.stacked: "is a case of layer 'folder",
        opened.store / "masks" / "17.mat": "would be a file of",
    }
    for target, why in targets.items():
        refused(lambda path: opened.mask.save(path, plugin=PLUGIN), target, why)
    assert same_file(opened.links / "mask.nrrd", opened.label)
    saved = opened.links / "17 corrected.nrrd"  # a new name is saved as before
    assert opened.mask.save(str(saved), plugin=PLUGIN) == [str(saved)]


def test_review_report_never_replaces_another_layers_file(opened: Opened) -> None:
    """The corrections report of the folder stack under review must not replace the file
    of another layer (17.mat) nor the dataset table's CSV, which its own dataset's check
    does not know."""
    _, dock = opened.viewer.window.add_plugin_dock_widget(PLUGIN, "Review")
    assert isinstance(dock, ReviewWidget)
    dock.layers.setCurrentText(next(n for n in map(str, opened.viewer.layers) if "mask" in n
                                    and n.startswith("folder")))  # fmt: skip
    refused(dock.write_report, opened.case, "is the source of layer")
    refused(dock.write_report, opened.image, "is the source of layer 'brain1_image'")


def test_batch_output_never_replaces_a_store_file(opened: Opened, mat_folder: Path) -> None:
    """A batch table named as the store's ``review.csv``, "overwrite" ticked, is refused
    before any case: it would replace the store's review statuses."""
    widget = BatchWidget(opened.viewer)
    opened.viewer.window.add_dock_widget(widget)
    review = opened.store / "review.csv"
    before = review.read_bytes()
    widget.folder.setText(str(mat_folder))
    widget.output.setText(str(review))
    widget.overwrite.setChecked(True)
    assert widget.run() is None
    assert widget.status.text().startswith(f"Cannot start: {review}: would be a file of")
    assert review.read_bytes() == before


def test_model_report_never_goes_into_a_store(opened: Opened, batch_features: Path, qtbot) -> None:
    """The model report's folder chosen as a corrections store is refused before any fold."""
    _, widget = opened.viewer.window.add_plugin_dock_widget(PLUGIN, "Tumour-type model")
    assert isinstance(widget, ModelWidget)
    widget.table_path.setText(str(batch_features))
    assert widget._open_path() is not None
    qtbot.waitUntil(lambda: not widget.reader.running, timeout=60_000)
    widget.output.setText(str(opened.store))
    assert widget.run() is None
    metrics = opened.store / "metrics.json"
    assert widget.status.text().startswith(f"Cannot run: {metrics}: would be a file of")
    assert not (opened.store / "metrics.json").exists()
