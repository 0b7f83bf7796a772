"""What napari does while the corrections store's share stops answering (``slow_share``).

A write that does not return held the store's one lock, which every status change and every
read of the Review table also takes: napari froze at the next Accept, for as long as the share
took, and for good on a hung one. The store's memory and its disk now have a lock each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from napari_radiomics.corrections import CaseRef, CorrectionStore, attach
from napari_radiomics.io import read_tumor_mat
from sample_files import mat_session, write_mat_folder


def _at_once(action: Callable[[], object], what: str) -> None:
    """Run ``action`` as napari's GUI thread would, failing if it waits on the disk (and
    with what it raised, if it raised)."""
    done = threading.Event()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            raised.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(5), f"{what} waited for the hung share"
    if raised:
        raise raised[0]


def test_reviewing_goes_on_while_a_correction_waits_on_the_share(
    tmp_path: Path, slow_share
) -> None:
    """A stroke's save hangs in the disk; the reviewer accepts the next case, reads the
    table and reverts another, each at once, and all of it reaches the disk once the share
    answers again."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case0, case1 = (ref.case for ref in session.refs)
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[0, 10:15, 10:15] = 1  # a second stroke, whose save hangs
        assert slow_share.waiting.wait(10)
        _at_once(lambda: session.set_status(1, "accepted", "fine"), "accepting a case")
        _at_once(lambda: session.store.statuses([case0, case1]), "reading the statuses")
        _at_once(session.store.review_table, "reading the review table")
        _at_once(lambda: session.reviewed(), "counting the reviewed cases")
        _at_once(lambda: session.revert(0), "reverting a case")
        assert session.status(0) == "unreviewed"
        assert session.status(1) == "accepted"
        assert not session.autosave.flush(timeout=0.5)  # still held
    assert session.autosave.flush(timeout=10)
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.corrected_cases() == []
    assert (again.status(case0), again.status(case1)) == ("unreviewed", "accepted")
    assert again.note(case1) == "fine"


@pytest.mark.parametrize("corrected_before", [False, True])
def test_a_case_reverted_while_its_correction_is_written_stays_reverted(
    tmp_path: Path, slow_share, corrected_before: bool
) -> None:
    """The user paints, then reverts and flags the case while that stroke's file is being
    written. Recorded after the revert, the correction would come back; left on disk, it
    would come back in the next session."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    if corrected_before:
        session.mask[0, 20:25, 20:25] = 1
        assert session.autosave.flush(timeout=10)
    session.mask[1, 2:7, 2:7] = 1  # another case: the store exists either way
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[0, 2:7, 2:7] = 1
        assert slow_share.waiting.wait(10)  # inside the mask's write
        _at_once(lambda: session.revert(0), "reverting")
        _at_once(lambda: session.set_status(0, "flagged", "check the margin"), "flagging")
    assert session.autosave.flush(timeout=10)
    np.testing.assert_array_equal(session.mask.slice(0), session.original(0))
    assert session.store.mask_file(case) is None
    assert session.status(0) == "flagged"
    assert not (session.store.root / "masks" / f"{case}.mat").exists()
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.problems == []
    assert again.corrected_cases() == [session.refs[1].case]
    assert again.status(case) == "flagged"
    assert again.note(case) == "check the margin"


def test_a_decision_made_while_the_tables_are_written_reaches_the_disk(
    tmp_path: Path, slow_share
) -> None:
    """The tables are copied and written without the store's memory lock: a decision made
    while they are on their way is written by the next write, not dropped as written."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    session.mask[1, 2:7, 2:7] = 1  # the store exists
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.set_status(0, "accepted")
        assert slow_share.waiting.wait(10)  # the tables' write hangs
        _at_once(lambda: session.set_status(1, "flagged", "recheck"), "flagging")
    assert session.autosave.flush(timeout=10)
    review = CorrectionStore(session.store.root, tmp_path / "brain", write=False)
    assert review.status(session.refs[0].case) == "accepted"
    assert review.status(session.refs[1].case) == "flagged"
    assert review.note(session.refs[1].case) == "recheck"


def test_a_revert_does_not_wait_for_a_save_held_up_by_the_disk(tmp_path: Path, slow_share) -> None:
    """Reverting a case waited, on napari's GUI thread, for every queued save to end: a save
    held up by a slow or hung share froze napari with it. Here the store's writes are held
    (the share stops answering) while a stroke is saved."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    original = session.mask.slice(0)
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(session.refs[0].case) is not None
    reverted = threading.Event()

    def revert() -> None:
        session.revert(0)
        reverted.set()

    with slow_share.hung():  # every write of the store waits
        session.mask[0, 10:15, 10:15] = 1  # a stroke, whose save is held up
        assert not session.autosave.flush(timeout=1)  # the saving thread is stuck in it
        threading.Thread(target=revert, daemon=True).start()
        assert reverted.wait(5), "the revert waited for the disk"
        np.testing.assert_array_equal(session.mask.slice(0), original)  # shown at once
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(session.refs[0].case) is None  # and then in the store
    assert session.status(0) == "unreviewed"
    log = (session.store.root / "log.csv").read_text()
    assert log.strip().splitlines()[-1].split(",")[3] == "reverted", log


def test_a_decision_made_right_after_a_revert_is_kept(tmp_path: Path, slow_share) -> None:
    """The user reverts a case and accepts it while the saving thread is still busy (a slow
    share). The revert reached the store only with the case's save, after the decision, and
    reset the case to unreviewed: the reviewer's decision was lost, in the viewer and on
    disk."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():  # every write of the store waits
        session.mask[1, 2:7, 2:7] = 1  # another case's stroke, whose save is held up
        assert not session.autosave.flush(timeout=1)  # the saving thread is stuck in it
        session.revert(0)
        assert session.status(0) == "unreviewed"  # reverted, as the Review dock shows it
        session.set_status(0, "accepted", "original is right")
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(case) is None
    assert session.status(0) == "accepted"
    events = session.store.log_table().query("case == @case")["event"].tolist()
    assert events[-2:] == ["reverted", "status"], events
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.status(case) == "accepted"
    assert again.note(case) == "original is right"


def test_a_decision_made_after_reverting_a_case_being_saved_is_kept(
    tmp_path: Path, slow_share
) -> None:
    """The user paints a corrected case, reverts it while that stroke's save waits on a
    slow share, and flags it. The stroke's save, taken before the revert, then recorded the
    case corrected again, and the revert's own save after it reset the flag."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():  # every write of the store waits
        session.mask[0, 10:15, 10:15] = 1  # a stroke of the same case, whose save is held up
        assert not session.autosave.flush(timeout=1)  # the saving thread is stuck in it
        session.revert(0)
        session.set_status(0, "flagged", "check the margin")
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(case) is None
    assert session.status(0) == "flagged"
    np.testing.assert_array_equal(session.mask.slice(0), session.original(0))
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.mask_file(case) is None
    assert again.status(case) == "flagged"


def test_a_single_case_reverted_while_being_saved_keeps_the_decision(
    tmp_path: Path, slow_share
) -> None:
    """As above, for a case opened alone (a slice or a volume, reverted by replacing it)."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    path = folder / "1.mat"
    source = read_tumor_mat(path).mask.astype(np.uint8)
    refs = [CaseRef("1", "mat", str(path))]
    session = attach(source, refs, folder, stack=False, root=tmp_path / "store")
    session.mask[2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[10:15, 10:15] = 1
        assert not session.autosave.flush(timeout=1)
        session.revert(0)
        session.set_status(0, "flagged")
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file("1") is None
    assert session.status(0) == "flagged"
    np.testing.assert_array_equal(session.mask, source)
    session.autosave.close()


def test_a_decision_made_while_the_case_s_correction_is_written_stands(
    tmp_path: Path, slow_share
) -> None:
    """The user paints a case and accepts it while that stroke's file is being written. The
    decision came after the stroke, and the store took it after the save when one lock held
    both; taken first, it was then overwritten by the save's "corrected", in the table and on
    disk."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[1, 2:7, 2:7] = 1  # another case: the store exists
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[0, 2:7, 2:7] = 1
        assert slow_share.waiting.wait(10)  # inside the mask's write
        _at_once(lambda: session.set_status(0, "accepted", "margin fixed"), "accepting")
    assert session.autosave.flush(timeout=10)
    assert session.status(0) == "accepted"
    assert session.store.mask_file(case) is not None
    events = session.store.log_table().query("case == @case")[["event", "status"]]
    assert events.values.tolist() == [["status", "accepted"], ["corrected", "accepted"]]
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.problems == []
    assert again.mask_file(case) is not None
    assert (again.status(case), again.note(case)) == ("accepted", "margin fixed")


def test_a_decision_made_while_an_undone_correction_is_removed_stands(
    tmp_path: Path, slow_share
) -> None:
    """The user undoes a case's correction (it reads as its original again, whose save removes
    the file) and accepts the case while the file is being removed. The decision came after
    the undo; taken first, it was then reset to "unreviewed" when the removal was recorded."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[0] = session.original(0)  # the stroke undone
        assert slow_share.waiting.wait(10)  # inside the removal of its file
        _at_once(lambda: session.set_status(0, "accepted", "original is right"), "accepting")
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(case) is None
    assert session.status(0) == "accepted"
    events = session.store.log_table().query("case == @case")["event"].tolist()
    assert events == ["corrected", "status", "reverted"], events
    session.autosave.close()
    session.store.close()
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.problems == []
    assert again.corrected_cases() == []
    assert (again.status(case), again.note(case)) == ("accepted", "original is right")


def test_choosing_another_folder_does_not_wait_for_the_hung_share(
    tmp_path: Path, slow_share
) -> None:
    """The share hangs while a stroke is saved, and the user chooses another corrections
    folder. Relocating waited, on napari's GUI thread, up to 30 s for the old store's saving
    thread, then gave the old store up there, which removes its lock file on the hung share:
    napari froze for good. The old store is now given up by its own saving thread, once the
    write in hand ends; the new folder saves every edited case."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[1, 2:7, 2:7] = 1  # the old store exists and holds its lock
    assert session.autosave.flush(timeout=10)
    old = session.autosave
    with slow_share.hung():
        session.mask[0, 2:7, 2:7] = 1
        assert slow_share.waiting.wait(10)  # inside the mask's write, in the old store
        _at_once(lambda: session.relocate(tmp_path / "chosen"), "choosing another folder")
        assert session.store.root == tmp_path / "chosen"
    assert old.flush(timeout=10)
    assert session.autosave.flush(timeout=10)
    assert not (tmp_path / "store" / "store.lock").exists()  # given up, and not taken again
    assert session.store.corrected_cases() == sorted([case, session.refs[1].case])
    np.testing.assert_array_equal(
        session.store.load_mask(case, session.mask.shape[1:]), session.mask.slice(0)
    )
    session.autosave.close()
    session.store.close()


def test_a_case_accepted_after_its_stroke_before_its_save_began_stays_accepted(
    tmp_path: Path, slow_share
) -> None:
    """The user paints case 0 and accepts it while the saving thread is still held up by
    another case's write, so the stroke's save begins after the decision: it then marked the
    case "corrected" over the decision. A stroke painted after a decision still sets
    "corrected" (painting sets it by itself)."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[1, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    with slow_share.hung():
        session.mask[1, 10:15, 10:15] = 1  # another case's save hangs
        assert slow_share.waiting.wait(10)
        session.mask[0, 2:7, 2:7] = 1  # saved once the share answers
        _at_once(lambda: session.set_status(0, "accepted", "margin fixed"), "accepting")
    assert session.autosave.flush(timeout=10)
    assert session.store.mask_file(case) is not None
    assert (session.status(0), session.store.note(case)) == ("accepted", "margin fixed")
    session.mask[0, 20:25, 20:25] = 1  # painted after the decision
    assert session.autosave.flush(timeout=10)
    assert session.status(0) == "corrected"
    session.autosave.close()
    session.store.close()
