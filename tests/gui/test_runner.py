"""The one background runner every dock uses, in a real viewer with real napari workers."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterator

import pytest
from napari.utils import progress
from qtpy.QtCore import QCoreApplication, QThreadPool, QTimer
from qtpy.QtWidgets import QWidget

from napari_radiomics._napari._runner import (
    ACTIVITY_AFTER_MS,
    BAR_EVERY_MS,
    Progress,
    Progressed,
    Runner,
)
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


@pytest.fixture
def activity_bars() -> Iterator[list[progress]]:
    """The bars napari's activity dock is given during the test (it listens to this event)."""
    added: list[progress] = []

    def record(event) -> None:
        added.extend(event.added)

    progress._all_instances.events.changed.connect(record)
    yield added
    progress._all_instances.events.changed.disconnect(record)


def test_progress_reaches_the_dock_and_a_lasting_run_the_activity_dock(
    runner: Runner, qtbot, activity_bars: list[progress]
) -> None:
    """A run still working once it has lasted gets a bar in the activity dock, which starts at
    the run's latest step and follows it to the end."""
    seen = _record(runner)
    release = threading.Event()

    def work(progress: Progress) -> str:
        progress(1, 5, "step 1")
        release.wait(timeout=20)  # until the bar is there
        for done in range(2, 6):
            progress(done, 5, f"step {done}")
        return "result"

    runner.run(work, "Counting")
    qtbot.waitUntil(lambda: runner.activity_bar is not None, timeout=TIMEOUT)
    bar = runner.activity_bar
    assert activity_bars == [bar]
    assert (bar.total, bar.desc) == (5, "Counting: step 1: ")
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        release.set()
    assert seen["progressed"] == [(d, 5, f"step {d}") for d in range(1, 6)]
    assert seen["finished"] == ["result"]
    assert (bar.n, bar.total, bar.desc) == (5, 5, "Counting: step 5: ")
    assert bar not in progress._all_instances  # closed: the activity dock removed it
    assert not runner.running


def _held_steps(
    steps: int, message: Callable[[int], str] = lambda _done: "", pause: float = 0.0
) -> tuple[Callable[[Progress], str], threading.Event]:
    """A work of ``steps`` steps (``message(done)`` each, ``pause`` seconds apart) that waits
    after its step 0 until the returned event is set: the test sets it once the run has its
    bar in the activity dock. It returns "result"."""
    release = threading.Event()

    def work(progress: Progress) -> str:
        progress(0, steps, "")
        release.wait(timeout=20)  # until the bar is there
        for done in range(1, steps + 1):
            progress(done, steps, message(done))
            if pause:
                time.sleep(pause)
        return "result"

    return work, release


def test_thousands_of_steps_queued_behind_the_activity_bar_reach_it_in_order(
    runner: Runner, qtbot
) -> None:
    """napari's bar processes events while it is updated, so steps queued meanwhile arrive
    inside an update. They wait their turn instead of nesting: a batch's 3064 quick steps
    once nested into a RecursionError that aborted Python."""
    seen = _record(runner)
    steps = 5000
    work, release = _held_steps(steps)
    runner.run(work, "Many steps")
    qtbot.waitUntil(lambda: runner.activity_bar is not None, timeout=TIMEOUT)
    bar = runner.activity_bar
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        release.set()
    assert [done for done, _, _ in seen["progressed"]] == list(range(steps + 1))
    assert seen["finished"] == ["result"]
    assert (bar.n, bar.total) == (steps, steps)


def test_the_activity_bar_follows_a_run_of_quick_steps_a_few_times_a_second(
    runner: Runner, qtbot
) -> None:
    """napari processes every pending event at each change of a bar, so the bar is brought up
    to the run's latest step a few times a second, not at each step (a batch's 3064 steps were
    12,264 nested event loops on the GUI thread); the dock still hears of every step, and the
    bar ends where the run ended."""
    seen = _record(runner)
    steps = 3000
    work, release = _held_steps(steps, lambda done: f"case {done}", pause=0.0005)
    runner.run(work, "Quick steps")
    qtbot.waitUntil(lambda: runner.activity_bar is not None, timeout=TIMEOUT)
    bar = runner.activity_bar
    changes: list[object] = []
    bar.events.value.connect(lambda event: changes.append(event.value))
    bar.events.description.connect(lambda event: changes.append(event.value))
    start = time.perf_counter()
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        release.set()
    updates = (time.perf_counter() - start) * 1000 / BAR_EVERY_MS + 2  # and the end's
    assert [done for done, _, _ in seen["progressed"]] == list(range(steps + 1))
    assert seen["finished"] == ["result"]
    assert (bar.n, bar.total, bar.desc) == (steps, steps, f"Quick steps: case {steps}: ")
    assert 2 <= len(changes) <= 2 * updates  # a value and a text per update


def test_a_run_started_while_the_last_step_goes_on_the_bar_makes_the_ended_run_stale(
    runner: Runner, qtbot
) -> None:
    """Putting an ended run's last step on its activity bar runs napari's nested event loop
    before the outcome is reported: a Run clicked then (delivered by that loop) makes the
    ending run stale, so its result is reported as superseded and never follows the newer
    one (the extraction dock would write the old features on the new run's labels layer)."""
    seen = _record(runner)
    release = threading.Event()
    started: list[object] = []

    def old(progress: Progress) -> str:
        progress(0, 10, "")
        release.wait(timeout=20)  # until the bar is there
        progress(10, 10, "last")  # its end comes at once: the bar shows it only then
        return "old"

    def click() -> None:  # Run pressed while the activity dock processes events
        started.append(runner.run(lambda _progress: "new", "New"))

    def on_bar(_event) -> None:
        if not first.is_running and not started:  # the old run's end is being put on its bar
            QTimer.singleShot(0, click)

    first = runner.run(old, "Old")
    qtbot.waitUntil(lambda: runner.activity_bar is not None, timeout=TIMEOUT)
    bar = runner.activity_bar
    bar.events.value.connect(on_bar)
    release.set()
    qtbot.waitUntil(lambda: bool(started), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not runner.running, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: len(seen["finished"]) + len(seen["cancelled"]) >= 2, timeout=TIMEOUT)
    assert seen["finished"] == ["new"]
    assert seen["cancelled"] == ["superseded"]
    assert bar not in progress._all_instances  # the old run's bar is closed all the same


def test_a_step_waiting_its_turn_is_dropped_once_a_newer_run_started(
    runner: Runner, qtbot
) -> None:
    """A step that arrives while the bar is changed waits its turn; a Run clicked after it in
    the same event loop makes it stale, so the dock never hears it after the newer run began
    (its bar and status would show the old run's progress over the new run's)."""
    heard: list[object] = []
    runner.signals.progressed.connect(lambda *step: heard.append(step))
    go_on, posted, stop = threading.Event(), threading.Event(), threading.Event()
    newer: list[object] = []

    def old(progress: Progress) -> str:
        progress(1, 10, "old 1")
        go_on.wait(timeout=20)
        progress(2, 10, "old 2")
        posted.set()
        stop.wait(timeout=20)
        return "old"

    def click() -> None:  # Run pressed just after the old run's step reached the GUI thread
        heard.append("new run")
        newer.append(runner.run(lambda _progress: "new", "New"))

    def on_bar(_event) -> None:
        if not go_on.is_set():  # the bar is being changed: events are processed
            go_on.set()
            posted.wait(timeout=20)
            QTimer.singleShot(0, click)

    def made(event) -> None:  # the old run's bar, before its first step is put on it
        for bar in event.added:
            bar.events.value.connect(on_bar)

    progress._all_instances.events.changed.connect(made)
    try:
        runner.run(old, "Old")
        qtbot.waitUntil(lambda: bool(newer), timeout=TIMEOUT)
    finally:
        progress._all_instances.events.changed.disconnect(made)
    stop.set()
    qtbot.waitUntil(lambda: not runner.running, timeout=TIMEOUT)
    assert heard[heard.index("new run") + 1 :] == []


def test_a_run_that_ends_before_it_lasted_makes_no_activity_bar(
    runner: Runner, qtbot, activity_bars: list[progress]
) -> None:
    """Making a bar in napari's activity dock costs the GUI thread a burst of repaints: a run
    over before then (a plot, a ranking) never pays it, even when its end reaches the GUI
    thread after the time a bar would have been made."""
    seen = _record(runner)
    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        runner.run(lambda progress: progress(1, 1, "done") or "quick", "Quick")
        # The GUI thread waits, processing no event, until the work is over in its thread.
        QThreadPool.globalInstance().waitForDone(TIMEOUT)
    qtbot.wait(2 * ACTIVITY_AFTER_MS)  # the bar's moment passes
    assert seen["finished"] == ["quick"]
    assert seen["progressed"] == [(1, 1, "done")]
    assert activity_bars == []
    assert runner.activity_bar is None


class _Result:
    """A result the test can hold a weak reference to."""


def test_a_closed_docks_runner_and_its_last_result_are_let_go(make_napari_viewer, qtbot) -> None:
    """Qt keeps what is connected to a worker's signals alive with the worker, where the
    garbage collector cannot see it: a closed dock's runner and its last result (a 3064-case
    table, a figure) stayed in memory for the rest of the session."""
    viewer = make_napari_viewer()
    dock = QWidget()
    viewer.window.add_dock_widget(dock, name="Once")
    runner = Runner(dock)
    results: list[weakref.ref] = []

    def work(progress: Progress) -> _Result:
        result = _Result()
        results.append(weakref.ref(result))
        return result

    with qtbot.waitSignal(runner.signals.idle, timeout=TIMEOUT):
        runner.run(work, "Once")
    runner_ref = weakref.ref(runner)
    viewer.window.remove_dock_widget(dock)  # napari deletes it
    del runner, dock
    qtbot.wait(50)  # the dock's deletion is delivered
    gc.collect()
    assert runner_ref() is None
    assert results[0]() is None


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
