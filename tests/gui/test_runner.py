"""The one background runner every dock uses, in a real viewer with real napari workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import pytest
from qtpy.QtCore import QCoreApplication
from qtpy.QtWidgets import QWidget

from napari_radiomics._napari._runner import Progress, Progressed, Runner
from napari_radiomics.errors import ReadError

TIMEOUT = 30_000


@pytest.fixture
def runner(make_napari_viewer) -> Runner:
    viewer = make_napari_viewer()  # the activity dock the runs' bars go to
    dock = QWidget()
    viewer.window.add_dock_widget(dock)
    return Runner(dock)


def _record(runner: Runner) -> dict[str, list]:
    seen: dict[str, list] = {"progressed": [], "finished": [], "cancelled": [], "failed": []}
    signals = runner.signals
    signals.progressed.connect(lambda *args: seen["progressed"].append(args))
    signals.finished.connect(lambda result, _: seen["finished"].append(result))
    signals.cancelled.connect(seen["cancelled"].append)
    signals.failed.connect(seen["failed"].append)
    return seen


def test_progress_reaches_the_dock_and_the_activity_dock(runner: Runner, qtbot) -> None:
    seen = _record(runner)

    def work(progress: Progress) -> str:
        for done in range(1, 6):
            time.sleep(0.01)
            progress(done, 5, f"step {done}")
        return "result"

    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        worker = runner.run(work, "Counting")
    assert seen["progressed"] == [(d, 5, f"step {d}") for d in range(1, 6)]
    assert seen["finished"] == ["result"]
    bar = worker.pbar  # napari's progress bar, shown in its activity dock
    assert (bar.n, bar.total, bar.desc) == (5, 5, "Counting: step 5: ")
    assert not runner.running


@pytest.mark.parametrize("kind", ["function", "generator"])
def test_cancel_stops_the_work_within_a_second(runner: Runner, qtbot, kind: str) -> None:
    seen = _record(runner)
    closed = threading.Event()

    def function(progress: Progress) -> None:
        for done in range(100_000):
            progress(done, 100_000, "working")
            time.sleep(0.01)

    def generator() -> Generator[Progressed, None, None]:
        try:
            for done in range(100_000):
                yield Progressed(done, 100_000, "working")
                time.sleep(0.01)
        finally:
            closed.set()  # a batch stops its processes here

    runner.run(function if kind == "function" else generator(), "Endless")
    qtbot.waitUntil(lambda: len(seen["progressed"]) >= 3, timeout=TIMEOUT)
    assert runner.running
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        start = time.perf_counter()
        runner.cancel()
    assert time.perf_counter() - start < 1.0
    assert seen["cancelled"] == ["cancelled"]
    assert seen["finished"] == seen["failed"] == []
    assert not runner.running
    assert closed.is_set() == (kind == "generator")


def test_a_stale_result_is_dropped_when_a_new_run_starts(runner: Runner, qtbot) -> None:
    """The first run ignores Cancel (like a file being read by pandas) and returns after the
    second: its result is still never delivered."""
    seen = _record(runner)
    release = threading.Event()

    def slow(_progress: Progress) -> str:
        release.wait(timeout=10)
        return "old"

    first = runner.run(slow, "Old request")
    with qtbot.waitSignal(runner.signals.finished, timeout=TIMEOUT):
        runner.run(lambda _progress: "new", "New request")
    assert runner.running is False
    release.set()
    qtbot.waitUntil(lambda: not first.is_running, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: seen["cancelled"] == ["superseded"], timeout=TIMEOUT)
    QCoreApplication.processEvents()
    assert seen["finished"] == ["new"]
    assert seen["failed"] == []


def test_an_exception_reaches_the_user_as_a_message_naming_the_problem(
    runner: Runner, qtbot
) -> None:
    seen = _record(runner)

    def unreadable(_progress: Progress) -> None:
        raise ReadError("features.csv", "no feature columns")

    def unforeseen(_progress: Progress) -> None:
        raise KeyError("original_glcm_Contrast")

    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        runner.run(unreadable, "Reading")
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        runner.run(unforeseen, "Ranking")
    assert seen["failed"] == [
        "features.csv: no feature columns",
        "KeyError: 'original_glcm_Contrast'",
    ]
    assert seen["finished"] == seen["cancelled"] == []
