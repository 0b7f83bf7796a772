"""The saving thread: what it does when a save fails, or when someone told of one fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from napari_radiomics.corrections import CorrectionStore
from napari_radiomics.io import read_tumor_mat
from sample_files import fill_disk, mat_session, save_square, write_mat_folder


def test_a_listener_that_raises_neither_ends_the_saving_nor_silences_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that fails (a plugin's, a script's) used to skip every listener after it
    (the warning napari shows among them) and, raising again when told of its own failure,
    ended the saving thread: nothing more was saved that session, with no word."""
    told: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: told.append(args.exc_value))
    session = mat_session(tmp_path / "brain", tmp_path / "store")

    def broken(_index: int, _event: str) -> None:
        raise RuntimeError("a listener that fails")

    heard: list[tuple[int, str]] = []
    session.listeners[:0] = [broken]
    session.listeners.append(lambda i, event: heard.append((i, event)))
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    assert (0, "saved") in heard
    session.mask[1, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10), "the saving thread ended"
    assert (1, "saved") in heard
    assert not any(event.startswith("error") for _, event in heard)  # both were saved
    assert any("a listener that fails" in str(exc) for exc in told)  # and the failure told
    assert session.store.mask_file(session.refs[1].case) is not None


def test_a_case_the_full_disk_refused_is_saved_once_there_is_room(small_disk: Path) -> None:
    """The disk fills while case 1 is painted; the user makes room and paints case 2, then
    quits. Case 1 was saved only with its own next stroke: it was lost at exit, though the
    store had room again."""
    session = mat_session(small_disk / "brain", small_disk / "store")
    session.mask[1, 2:7, 2:7] = 1  # the store exists and holds its lock
    assert session.autosave.flush(timeout=10)
    filler = fill_disk(small_disk, 0)
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    assert 0 in session.autosave.unsaved
    filler.unlink()  # the user makes room
    session.mask[1, 10:15, 10:15] = 1  # and paints another case
    session.autosave.close()  # then quits (close runs at exit)
    assert session.autosave.unsaved == {}
    saved = read_tumor_mat(session.store.mask_file(session.refs[0].case)).mask
    np.testing.assert_array_equal(saved, session.mask.slice(0))
    assert saved[2:7, 2:7].all()


def test_a_review_decision_the_full_disk_refused_is_written_at_exit(small_disk: Path) -> None:
    """A case is accepted while the disk is full; the user makes room and quits without
    another change. The review table was written only with the next change: the decision
    was lost at exit."""
    session = mat_session(small_disk / "brain", small_disk / "store")
    session.mask[1, 2:7, 2:7] = 1  # the store exists and holds its lock
    assert session.autosave.flush(timeout=10)
    filler = fill_disk(small_disk, 0)
    heard: list[str] = []
    session.listeners.append(lambda _i, event: heard.append(event))
    session.set_status(0, "accepted", "checked")
    assert session.autosave.flush(timeout=10)
    assert any(event.startswith("error: ") for event in heard)  # told
    filler.unlink()  # the user makes room
    session.autosave.close()  # and quits (close runs at exit)
    review = (session.store.root / "review.csv").read_text()
    assert "accepted" in review
    assert "checked" in review


def test_a_stroke_painted_just_before_the_interpreter_exits_is_saved(tmp_path: Path) -> None:
    """A real process paints and quits at once, within the saving delay: the exit flush
    saves the stroke. It read the case's original mask through dask's thread pool, which
    refuses work once the interpreter is shutting down, so the stroke was lost."""
    folder, root = tmp_path / "brain", tmp_path / "store"
    write_mat_folder(folder, 4)
    script = textwrap.dedent(
        """
        import sys
        from napari_radiomics.corrections import CorrectionStore, attach, stack_refs
        from napari_radiomics.io import open_mat_stack
        stack = open_mat_stack(sys.argv[1])
        refs = stack_refs(stack.slices)
        session = attach(stack.mask, refs, sys.argv[1], stack=True, root=sys.argv[2])
        session.mask[0, 2:7, 2:7] = 1  # a stroke, then quit at once
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(root)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not saved" not in done.stderr, done.stderr
    saved = read_tumor_mat(root / "masks" / "1.mat").mask
    assert saved[2:7, 2:7].all()
    np.testing.assert_array_equal(saved[7:, 7:], read_tumor_mat(folder / "1.mat").mask[7:, 7:])


def test_a_revert_the_store_refused_is_done_once_it_can_be(tmp_path: Path) -> None:
    """The correction's file cannot be removed as the case is reverted (its folder made
    immutable, as a share's permissions can change under a session), then can again before
    the user quits. The store forgot the file before removing it, so the retry found nothing
    to remove: the file stayed, and the correction came back in the next session."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    heard: list[str] = []
    session.listeners.append(lambda _i, event: heard.append(event))
    masks = session.store.root / "masks"
    _immutable(masks, True)
    try:
        session.revert(0)
        assert session.autosave.flush(timeout=10)
        assert 0 in session.autosave.unsaved
        assert any(event.startswith("error: ") for event in heard), heard  # told
    finally:
        _immutable(masks, False)
    session.autosave.close()  # at exit
    assert session.autosave.unsaved == {}
    assert not list(masks.iterdir())
    again = CorrectionStore(session.store.root, tmp_path / "brain")
    assert again.mask_file(session.refs[0].case) is None
    assert again.status(session.refs[0].case) == "unreviewed"


def _immutable(folder: Path, on: bool) -> None:
    """Make ``folder`` immutable (nothing in it can be removed, even by root) or not."""
    done = subprocess.run(
        ["chattr", "+i" if on else "-i", str(folder)], capture_output=True, text=True
    )
    if done.returncode and on:
        pytest.skip(f"cannot make a folder immutable here: {done.stderr.strip()}")
    assert done.returncode == 0 or on, done.stderr


def test_what_a_killed_writer_left_in_the_store_is_removed_by_the_next_session(
    tmp_path: Path,
) -> None:
    """A session killed (SIGKILL) while it wrote a correction left its temporary file in the
    store; readers skip it, but nothing removed it, session after session. The next session
    to write the store removes it, once it holds the store's lock."""
    folder, root = tmp_path / "brain", tmp_path / "store"
    session = mat_session(folder, root)
    session.mask[0, 2:7, 2:7] = 1
    session.autosave.close()
    session.store.close()
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from napari_radiomics._atomic import replaced
        with replaced(Path(sys.argv[1]) / "masks" / "2.mat") as temporary:
            temporary.write_bytes(b"half a MATLAB file")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script, str(root)], check=False, timeout=60)
    assert killed.returncode == -9
    left = [p for p in (root / "masks").iterdir() if p.name.startswith(".2.")]
    assert len(left) == 1, left
    again = CorrectionStore(root, folder)
    assert again.corrected_cases() == [session.refs[0].case]  # skipped when read
    again.set_status(session.refs[1].case, "accepted")
    again.write_tables()  # the first write of this session
    assert not left[0].exists()
    assert (root / "masks" / "1.mat").is_file()  # the store's own file stays
    again.close()


def test_a_revert_whose_header_could_not_be_written_is_recorded_once_it_can_be(
    tmp_path: Path,
) -> None:
    """The correction's file is removed but the store's header (which lists each corrected
    case's source) cannot be rewritten. The store had forgotten the file before that and
    recorded the revert after it: the retry found nothing to revert, the case stayed
    "corrected" for the rest of the session with no revert in the log, and the next session
    reported its mask file missing."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    case = session.refs[0].case
    session.mask[0, 2:7, 2:7] = 1
    assert session.autosave.flush(timeout=10)
    root = session.store.root
    _immutable(root, True)  # store.yaml cannot be replaced; masks/ can still be changed
    try:
        session.revert(0)
        assert session.autosave.flush(timeout=10)
    finally:
        _immutable(root, False)
    session.autosave.close()  # at exit: what was refused is tried again
    assert session.store.mask_file(case) is None
    assert session.status(0) == "unreviewed"
    assert session.store.log_table()["event"].tolist()[-1] == "reverted"
    session.store.close()
    again = CorrectionStore(root, tmp_path / "brain")
    assert again.problems == []
    assert again.status(case) == "unreviewed"
    assert again.log_table()["event"].tolist()[-1] == "reverted"


def test_reverting_a_case_never_corrected_writes_nothing(tmp_path: Path) -> None:
    """A revert is now the save of a mask equal to its original; that save created the store
    (its folder, header and lock) though nothing was ever corrected, where opening and
    reviewing a dataset writes nothing until the first correction."""
    session = mat_session(tmp_path / "brain", tmp_path / "store")
    session.revert(0)
    assert session.autosave.flush(timeout=10)
    assert not (tmp_path / "store").exists()
    assert session.autosave.unsaved == {}
    session.autosave.close()


def test_the_tables_never_say_reverted_while_the_file_is_still_there(tmp_path: Path) -> None:
    """The user reverts a case and accepts it. The status's table write is queued before the
    revert's own save, so review.csv said "reverted, accepted" while the correction's file
    was still on disk; a session killed there (here: the revert's save never runs) brought
    the correction back, since the mask files are the truth."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    store = CorrectionStore(tmp_path / "store", folder)
    save_square(store, "1", folder / "1.mat")
    store.forget("1")  # Revert, on the GUI thread
    store.set_status("1", "accepted", "the original is right")
    store.write_tables()  # the status's write; then the session is killed
    store.close()
    again = CorrectionStore(tmp_path / "store", folder)
    assert again.corrected_cases() == []
    assert (again.status("1"), again.note("1")) == ("accepted", "the original is right")
