"""The saving thread: what it does when a save fails, or when someone told of one fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from napari_radiomics.corrections import attach, stack_refs
from napari_radiomics.io import open_mat_stack, read_tumor_mat
from sample_files import fill_disk, write_mat_folder


def _session(folder: Path, root: Path):
    write_mat_folder(folder, 4)  # two slices at its top
    stack = open_mat_stack(folder)
    return attach(stack.mask, stack_refs(stack.slices), folder, stack=True, root=root)


def test_a_listener_that_raises_neither_ends_the_saving_nor_silences_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that fails (a plugin's, a script's) used to skip every listener after it
    (the warning napari shows among them) and, raising again when told of its own failure,
    ended the saving thread: nothing more was saved that session, with no word."""
    told: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: told.append(args.exc_value))
    session = _session(tmp_path / "brain", tmp_path / "store")

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
    session = _session(small_disk / "brain", small_disk / "store")
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
    session = _session(small_disk / "brain", small_disk / "store")
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
        from napari_radiomics.corrections import attach, stack_refs
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
