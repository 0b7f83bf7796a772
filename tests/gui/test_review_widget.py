"""The Review dock in a real viewer: statuses, moves, revert, contour, report, read-only store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from qtpy.QtWidgets import QShortcut

from napari_radiomics._napari._review_widget import ReviewWidget
from napari_radiomics.corrections import CorrectionStore, session_for, store_dir_for
from sample_files import write_mat_folder


def _open(make_napari_viewer, tmp_path: Path):
    folder = tmp_path / "brain"
    write_mat_folder(folder, 8)  # 1-4.mat here, 5-8.mat in brain/more
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)
    return viewer, dock, folder


def test_statuses_moves_and_progress(make_napari_viewer, tmp_path: Path, qtbot) -> None:
    viewer, dock, folder = _open(make_napari_viewer, tmp_path)
    assert dock.progress.text() == "0 / 4 reviewed"
    assert list(dock.cases().columns) == ["case", "patient_id", "tumor_type", "status", "note"]
    dock.go_to(0)  # napari opens a stack at its middle slice
    dock.mark("accepted")
    assert dock.step(1) == 1  # the next unreviewed
    assert viewer.dims.current_step[0] == 1
    assert viewer.layers.selection.active is dock.layer
    assert dock.layer.mode == "paint"
    dock.note.setText("necrotic core unclear")
    dock.mark("flagged")
    (next_key,) = [
        shortcut
        for shortcut in dock.findChildren(QShortcut)
        if shortcut.key().toString() == "Alt+N"
    ]
    next_key.activated.emit()  # the key's action: next unreviewed
    assert viewer.dims.current_step[0] == 2
    dock.layer.paint((2, 3, 3), 1)  # a stroke: the case becomes "corrected" by itself
    session = session_for(dock.layer.data)
    assert session.autosave.flush(timeout=10)
    qtbot.waitUntil(lambda: dock.progress.text() == "3 / 4 reviewed", timeout=5000)
    shown = dock.cases().set_index("case")["status"].tolist()
    assert shown == ["accepted", "flagged", "corrected", "unreviewed"]
    dock.status_filter.setCurrentText("flagged")
    assert dock.proxy.rowCount() == 1
    dock.status_filter.setCurrentText("(all statuses)")
    dock.search.setText("P00")  # patient ids P000...
    assert dock.proxy.rowCount() == 4
    report = dock.write_report(tmp_path / "report.csv")
    table = pd.read_csv(report, dtype=str, keep_default_na=False).set_index("case")
    assert table.loc["2", "note"] == "necrotic core unclear"
    assert table.loc["3", "status"] == "corrected"
    assert int(table.loc["3", "voxels_added"]) > 0
    assert table.loc["3", "patient_id"] == "P002"
    # statuses survive a restart: a new store object reads them back from disk
    assert session.autosave.flush(timeout=10)
    reread = CorrectionStore(store_dir_for(folder), folder, write=False)
    assert [reread.status(c) for c in ("1", "2", "3", "4")] == shown


def test_revert_and_original_contour(make_napari_viewer, tmp_path: Path) -> None:
    _viewer, dock, _folder = _open(make_napari_viewer, tmp_path)
    dock.go_to(1)
    before = np.asarray(dock.layer.data[1])
    dock.layer.paint((1, 3, 3), 1)
    assert not np.array_equal(np.asarray(dock.layer.data[1]), before)
    contour = dock.show_original()
    assert contour.contour == 1
    np.testing.assert_array_equal(np.asarray(contour.data[1]), before)
    dock.revert()
    np.testing.assert_array_equal(np.asarray(dock.layer.data[1]), before)
    session = session_for(dock.layer.data)
    assert session.autosave.flush(timeout=10)
    assert session.store.corrected_cases() == []


def test_a_read_only_store_is_shown_before_painting(
    make_napari_viewer, tmp_path: Path, monkeypatch
) -> None:
    import os

    if os.geteuid() == 0:
        target = "/sys/napari-radiomics-test"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = str(locked / "stores")
    monkeypatch.setenv("NAPARI_RADIOMICS_CORRECTIONS_HOME", target)
    _viewer, dock, _ = _open(make_napari_viewer, tmp_path)
    assert "Not saved" in dock.store_label.text()
    assert "cannot be written" in dock.store_label.text()
