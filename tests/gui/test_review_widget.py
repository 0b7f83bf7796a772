"""The Review dock in a real viewer: statuses, moves, revert, contour, report, read-only store."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from napari.layers import Labels
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QShortcut

from napari_radiomics._napari._review_widget import BRUSH_OVERLAY, ReviewWidget
from napari_radiomics.cli import main
from napari_radiomics.columns import CASE_COLUMNS
from napari_radiomics.corrections import CaseRef, CorrectionStore, session_for, store_dir_for
from napari_radiomics.corrections.location import HOME_VARIABLE
from napari_radiomics.io import CaseMetadata, make_synthetic_slice, read_tumor_mat, write_tumor_mat
from napari_radiomics.io.folder import FolderWarning, resize_mask
from sample_files import fill_disk, write_mat_folder, write_mixed_folder


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
    assert list(dock.cases().columns) == [*CASE_COLUMNS, "status", "note"]
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
    assert dock.model.rowCount() == 1
    dock.status_filter.setCurrentText("(all statuses)")
    dock.search.setText("P00")  # patient ids P000...
    assert dock.model.rowCount() == 4
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
    # the command line writes the same report from the store on disk and the case files
    assert main(["corrections", str(folder), "-o", str(tmp_path / "cli.csv")]) == 0
    assert (tmp_path / "cli.csv").read_bytes() == report.read_bytes()


def test_other_layers_coming_and_going_leave_the_review_table_as_it_is(
    make_napari_viewer, tmp_path: Path
) -> None:
    """A layer added or removed (a feature map, say) keeps the reviewed layer, its table and
    its filter; removing the reviewed layer itself empties the dock."""
    viewer, dock, _ = _open(make_napari_viewer, tmp_path)
    reviewed = dock.layer
    dock.search.setText("P00")
    table = dock.model.frame
    other = viewer.add_image(np.zeros((8, 8)), name="a feature map")
    assert dock.layer is reviewed
    assert dock.model.frame is table  # not rebuilt
    assert dock.search.text() == "P00"
    assert dock.model.rowCount() == 4
    viewer.layers.remove(other)
    assert dock.model.frame is table
    viewer.layers.remove(reviewed)
    assert dock.layer is None
    assert dock.session is None
    assert dock.model.rowCount() == 0


def test_a_status_change_shows_the_slice_table_as_it_is_now(
    make_napari_viewer, tmp_path: Path
) -> None:
    """The identity columns are read once and kept while marking, but a slice table the
    reader completes in place (its header scan's hand-over) shows at the next change."""
    _, dock, _ = _open(make_napari_viewer, tmp_path)
    dock.go_to(0)
    dock.mark("accepted")
    shown = dock.cases().set_index("case")
    assert shown.loc["1", "patient_id"] == "P000"
    assert shown.loc["1", "status"] == "accepted"
    slices = dock.layer.metadata["slices"]
    slices.loc[slices["case"] == "2", ["patient_id", "tumor_type"]] = ["Q999", "glioma"]
    dock.go_to(1)
    dock.mark("flagged")
    shown = dock.cases().set_index("case")
    assert shown.loc["2", ["patient_id", "tumor_type", "status"]].tolist() == [
        "Q999",
        "glioma",
        "flagged",
    ]
    assert shown.loc["1", "patient_id"] == "P000"
    dock.search.setText("Q999")
    assert dock.model.rowCount() == 1


def test_each_slices_identity_is_read_as_its_own_row_would_be(
    make_napari_viewer, tmp_path: Path
) -> None:
    """Identities are read once per distinct (patient, label, tumour type), then spread over
    the slices: each slice shows what ``CaseMetadata.from_mapping`` makes of its own row
    (unknown cells empty, a label's tumour type when none is given), slices sharing a
    patient included."""
    _, dock, _ = _open(make_napari_viewer, tmp_path)
    slices = dock.layer.metadata["slices"]
    slices["patient_id"] = ["P1", "P1", None, "P2"]
    slices["label"] = pd.array([2, 2, None, 1], dtype="Int64")
    slices["tumor_type"] = ["", "", "", "pituitary tumor"]
    dock.mark("accepted")  # a refresh, after the slice table changed in place
    expected = [CaseMetadata.from_mapping(row) for row in slices.to_dict("records")]
    shown = dock.cases()
    assert shown["patient_id"].tolist() == [c.patient_id for c in expected]
    assert shown["patient_id"].tolist() == ["P1", "P1", "", "P2"]
    assert shown["label"].tolist() == ["2", "2", "", "1"]
    assert shown["tumor_type"].tolist() == ["glioma", "glioma", "", "pituitary tumor"]


def test_equal_values_of_other_types_keep_their_own_reading(
    make_napari_viewer, tmp_path: Path
) -> None:
    """Values that pandas groups as one (1, 1.0 and True are equal keys) but that read as
    different ids each show their own reading, as when every row was read alone."""
    _, dock, _ = _open(make_napari_viewer, tmp_path)
    slices = dock.layer.metadata["slices"]
    slices["patient_id"] = pd.array([1, 1.0, True, "1"], dtype=object)
    slices["label"] = pd.array([2, 2, 2, 2], dtype="Int64")  # one identity but for the types
    slices["tumor_type"] = "glioma"
    dock.mark("accepted")  # a refresh, after the slice table changed in place
    expected = [CaseMetadata.from_mapping(row) for row in slices.to_dict("records")]
    assert dock.cases()["patient_id"].tolist() == [c.patient_id for c in expected]


def test_the_brush_outline_is_built_before_the_first_move(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    """napari builds its brush outline the first time it shows it; the dock has it built
    between events once a dataset is under review, hidden, so moving to a case (the brush
    ready) does not build it then."""
    viewer, dock, _ = _open(make_napari_viewer, tmp_path)
    brush = viewer.canvas.overlays[BRUSH_OVERLAY]
    visuals = viewer.window._qt_viewer.canvas._viewer_overlay_to_visual  # napari's own
    qtbot.waitUntil(lambda: brush in visuals, timeout=5000)
    assert not brush.visible
    dock.go_to(1)
    assert dock.layer.mode == "paint"
    assert brush.visible


def test_review_table_sorts_ids_as_numbers_and_filters_on_arrays(
    make_napari_viewer, tmp_path: Path
) -> None:
    folder = tmp_path / "brain"
    write_mat_folder(folder, 24)  # 1-12.mat here
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)

    def cases() -> list[str]:  # as the table shows them
        shown = dock.table.model()
        return [shown.index(r, 0).data() for r in range(shown.rowCount())]

    dock.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # a click on the "case" header
    assert cases() == [str(i) for i in range(12, 0, -1)]  # as numbers: not 9, 8, ..., 12, 11
    dock.search.setText("none")  # no note yet: nothing matches
    assert cases() == []
    dock.go_to(10)  # case 11
    dock.search.setText("P01")  # patients P010 and P011, in the order sorted
    assert cases() == ["12", "11"]
    (selected,) = dock.table.selectionModel().selectedRows()
    assert cases()[selected.row()] == "11"  # the viewer's case stays selected
    dock.mark("flagged")
    session = session_for(dock.layer.data)
    assert session.autosave.flush(timeout=10)
    dock.search.setText("")
    dock.status_filter.setCurrentText("flagged")
    assert cases() == ["11"]
    assert dock._row_case(0) == 10


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


def _earlier_correction(folder: Path, case: str) -> tuple[np.ndarray, np.ndarray]:
    """A correction of ``case`` saved by an earlier session; returns (original, corrected)."""
    earlier = CorrectionStore(store_dir_for(folder), folder)
    original = read_tumor_mat(folder / f"{case}.mat").mask.astype(np.uint8)
    corrected = original.copy()
    corrected[2:7, 2:7] = 1
    earlier.save(CaseRef(case, "mat", str(folder / f"{case}.mat")), corrected, original)
    if case == "1":
        earlier.set_status(case, "accepted", "checked after the fix")
        earlier.write_tables()
    earlier.close()
    return original, corrected


def test_a_decision_on_a_corrected_case_survives_reopening(
    make_napari_viewer, tmp_path: Path
) -> None:
    """Corrected, then accepted, in an earlier session: the dataset reopens with "accepted",
    and the next Accept on another case writes it back as accepted, as log.csv says."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 8)
    _, corrected = _earlier_correction(folder, "1")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)
    assert dock.cases().set_index("case").loc["1", "status"] == "accepted"
    np.testing.assert_array_equal(np.asarray(dock.layer.data[0]), corrected)  # still applied
    dock.go_to(1)
    dock.mark("accepted")
    assert session_for(dock.layer.data).autosave.flush(timeout=10)
    root = store_dir_for(folder)
    review = pd.read_csv(root / "review.csv", dtype=str, keep_default_na=False).set_index("case")
    assert review.loc["1", "status"] == review.loc["2", "status"] == "accepted"
    assert review.loc["1", "note"] == "checked after the fix"
    assert review.loc["1", "mask_file"] == "masks/1.mat"
    log = pd.read_csv(root / "log.csv", dtype=str, keep_default_na=False)
    assert log[log["case"] == "1"]["status"].tolist() == ["corrected", "accepted"]


def test_painting_an_odd_sized_slice_saves_it_on_its_own_grid(
    make_napari_viewer, tmp_path: Path
) -> None:
    """The dataset's 256x256 slices among 512x512 ones (here 32x32 among 64x64): shown
    enlarged, painted, saved at the file's size, and shown enlarged again when reread."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    slices = write_mixed_folder(folder)  # 3.mat is the 32x32 one
    viewer = make_napari_viewer()
    with pytest.warns(FolderWarning, match="resized"):
        viewer.open(str(folder), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)
    session = session_for(dock.layer.data)
    events: list[str] = []
    session.listeners.append(lambda _i, event: events.append(event))
    dock.go_to(2)
    dock.layer.data[2, 40:50, 40:50] = 1  # what a fill or a stroke writes
    assert session.autosave.flush(timeout=10)
    assert events == ["saved"], events
    saved = read_tumor_mat(store_dir_for(folder) / "masks" / "3.mat")
    source = slices["3.mat"].mask
    assert saved.mask.shape == source.shape == (32, 32)
    assert saved.mask[20:25, 20:25].all()  # the painted block, at the file's scale
    outside = np.ones((32, 32), bool)
    outside[20:25, 20:25] = False
    np.testing.assert_array_equal(saved.mask[outside], source[outside])
    np.testing.assert_array_equal(saved.image, slices["3.mat"].image)
    assert dock.cases().set_index("case").loc["3", "status"] == "corrected"
    # read back by a new store and enlarged as the folder view does: exactly as painted
    store = CorrectionStore(store_dir_for(folder), folder, write=False)
    stored = store.load_mask("3", (32, 32))
    np.testing.assert_array_equal(resize_mask(stored, (64, 64)), np.asarray(dock.layer.data[2]))


def test_a_damaged_correction_is_named_and_the_original_shown(
    make_napari_viewer, tmp_path: Path
) -> None:
    """A stored mask of another shape but as many pixels (32x128 for 64x64) was reshaped
    into a scrambled mask; the folder view now shows the original and says why."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 8)
    original, _ = _earlier_correction(folder, "4")
    damaged = store_dir_for(folder) / "masks" / "4.mat"
    write_tumor_mat(damaged, make_synthetic_slice(shape=(32, 128)), overwrite=True)
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)
    problem = f"{damaged}: corrected mask is 32x128 but its case's mask is 64x64"
    with pytest.warns(UserWarning, match=re.escape(f"corrections store: {problem}")):
        dock.go_to(3)  # the slice is read when shown
    np.testing.assert_array_equal(np.asarray(dock.layer.data[3]), original)
    assert problem in dock.store_label.text()
    assert "the original mask of case 4 is used" in dock.store_label.text()


def test_a_correction_that_cannot_be_saved_is_told_with_no_dock_open(
    make_napari_viewer, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while the user paints, with no dock of the plugin open: napari tells
    it (only an open Review dock did), the stroke stays in memory, and the case's next
    stroke once there is room saves both. (The store's lock file, written at the first save,
    raised an error that ended the saving thread: nothing more was saved that session.)"""
    monkeypatch.setenv(HOME_VARIABLE, str(small_disk / "stores"))
    folder = small_disk / "brain"
    write_mat_folder(folder, 2)
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    labels = next(layer for layer in viewer.layers if isinstance(layer, Labels))
    session = session_for(labels.data)
    filler = fill_disk(small_disk, 0)
    labels.data[0, 10:20, 10:20] = 1  # what a stroke writes
    with pytest.warns(UserWarning, match="correction not saved: .*No space left on device"):
        assert session.autosave.flush(timeout=10)
    assert 0 in session.autosave.unsaved
    filler.unlink()  # the user makes room
    labels.data[0, 30:40, 30:40] = 1  # and paints on
    assert session.autosave.flush(timeout=10)
    assert session.autosave.unsaved == {}
    saved = read_tumor_mat(session.store.root / "masks" / "1.mat").mask
    np.testing.assert_array_equal(saved, np.asarray(labels.data[0]))
    assert saved[10:20, 10:20].all()  # the stroke the full disk refused
    assert saved[30:40, 30:40].all()


def test_the_table_shows_a_revert_while_the_share_hangs(
    make_napari_viewer, tmp_path: Path, qtbot, slow_share
) -> None:
    """The Review table's status column changed only when the revert's save ended, a
    fraction of a second later on a local disk and never while the share hangs."""
    _viewer, dock, _folder = _open(make_napari_viewer, tmp_path)
    dock.go_to(1)
    dock.layer.paint((1, 3, 3), 1)
    session = session_for(dock.layer.data)
    assert session.autosave.flush(timeout=10)
    status = lambda: dock.model.frame["status"].tolist()[1]  # noqa: E731 (the table shown)
    qtbot.waitUntil(lambda: status() == "corrected", timeout=5000)
    with slow_share.hung():
        dock.layer.paint((0, 3, 3), 1)  # another case's save hangs
        assert slow_share.waiting.wait(10)
        dock.revert()
        qtbot.waitUntil(lambda: status() == "unreviewed", timeout=2000)
        assert dock.progress.text() == "0 / 4 reviewed"
    assert session.autosave.flush(timeout=10)
    assert session.store.corrected_cases() == [session.refs[0].case]


def test_the_report_is_never_written_over_a_case_or_the_store(
    make_napari_viewer, tmp_path: Path
) -> None:
    """A name typed in the report's file dialog that is a case's file (the dialog takes any
    name) or a file of the store under review is refused naming it: the report never replaces
    the dataset's ``1.mat`` nor the store's ``review.csv``."""
    from napari_radiomics.errors import WriteError

    _viewer, dock, folder = _open(make_napari_viewer, tmp_path)
    dock.go_to(0)
    dock.mark("accepted")
    assert session_for(dock.layer.data).autosave.flush(timeout=10)
    review = store_dir_for(folder) / "review.csv"
    kept = {path: path.read_bytes() for path in (folder / "1.mat", review)}
    for target in kept:
        with pytest.raises(WriteError, match=f"{re.escape(str(target))}: (is|would be) "):
            dock.write_report(target)
    assert {path: path.read_bytes() for path in kept} == kept
