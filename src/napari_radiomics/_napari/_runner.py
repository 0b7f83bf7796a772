"""The one way the docks run work off the GUI thread.

Every dock hands its work to a :class:`Runner`: a function ``work(progress)`` or a generator
that yields progress steps. It runs in a napari thread worker; a run that lasts gets a bar in
napari's activity dock fed by the work's own progress (see :data:`ACTIVITY_AFTER_MS`); the
outcome comes back on the GUI thread as the runner's signals. One runner runs one thing at a
time, as a user expects of one dock:

* a new run makes the one in flight stale: its result is dropped, whenever it arrives, so an
  old plot or table never replaces a newer one;
* Cancel (or napari's own cancel button in its status bar) makes the next ``progress`` call,
  or the next step a generator yields, raise :class:`~napari_radiomics.errors.Cancelled`,
  which the core lets through; a generator is closed, so its ``finally`` blocks run (a batch
  stops its processes). Work stops as soon after Cancel as it next reports progress;
* an exception becomes a message naming the problem (the dock shows it), never a traceback in
  the event loop.

Each run gets a generation number; the outcome of a run whose generation is no longer
current is reported as ``cancelled`` (with why) and nothing else.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from napari.qt.threading import FunctionWorker, create_worker
from napari.utils import progress as napari_progress
from qtpy.QtCore import QObject, QTimer, Signal
from qtpy.QtWidgets import QLabel, QProgressBar, QPushButton

from napari_radiomics.errors import Cancelled

#: ``progress(done, total, message)``, as the engine, the maps and the models call it; a
#: ``total`` of 0 reports a message only (and is a point where Cancel can stop the work).
Progress = Callable[[int, int, str], None]

#: A run gets a bar in napari's activity dock only once it has lasted this long (ms): the
#: second after which a wait wants a progress indicator, where a shorter one (a plot, a
#: ranking, one slice's extraction) would only flash one. Adding a bar builds a
#: ``QtLabeledProgressBar``, starts the dock's busy animation and calls
#: ``QApplication.processEvents()`` (every pending repaint, on the GUI thread): 0.1-0.3 s,
#: which a plot docked at 300 ms still paid (``benchmarks/gui_blocks.py``). The dock's own bar
#: and Cancel show at once, and napari's status-bar Cancel is there from the start.
ACTIVITY_AFTER_MS = 1000
#: A run's bar in the activity dock is brought up to its latest step at most this often (ms).
#: napari processes every pending event at each change of a bar (its value, its text): a
#: batch's 3064 steps, each shown at once, changed it 6128 times (12,264 calls of
#: ``processEvents`` in the profile) and the batch took 25-116 s instead of 19-20 s in the GUI
#: (``docs/benchmarks.md``). The dock's own bar and status follow every step.
BAR_EVERY_MS = 250


class Step(Protocol):
    """What a generator given to :meth:`Runner.run` yields (``BatchProgress`` is one)."""

    done: int
    total: int
    message: str


class Progressed(NamedTuple):
    """A plain :class:`Step`."""

    done: int
    total: int
    message: str


Work = Callable[[Progress], Any] | Generator[Step, None, Any]


def failure_message(exc: BaseException) -> str:
    """What the user is told: the package's and the system's errors already name the file or
    value and the problem; anything else is named by its type too."""
    if isinstance(exc, ValueError | OSError) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RunSignals(QObject):
    """A runner's outcomes, emitted on the GUI thread, for the current run only."""

    #: done, total, message (total 0: a message only)
    progressed = Signal(int, int, str)
    #: the result of the current run, and the seconds it took
    finished = Signal(object, float)
    #: a run ended without a result: "cancelled" (Cancel) or "superseded" (a newer run or
    #: an edit made it stale)
    cancelled = Signal(str)
    #: the current run failed: the message to show
    failed = Signal(str)
    #: nothing is in flight any more (however the last run ended): buttons come back
    idle = Signal()
    #: from the worker thread: generation, done, total, message
    _stepped = Signal(int, int, int, str)


@dataclass
class _Run:
    generation: int
    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: FunctionWorker | None = None
    dropped: str = ""  # why the run became stale
    ended: bool = False
    #: set in the worker thread once the work has returned or raised, before its end is
    #: delivered to the GUI thread: a run whose work is over gets no activity bar
    work_done: threading.Event = field(default_factory=threading.Event)
    bar: napari_progress | None = None  # its bar in napari's activity dock, once it lasted
    step: tuple[int, int, str] = (0, 0, "")  # the latest step shown: the bar starts there
    outcome: tuple[str, Any] | None = None  # ("returned", (result, seconds)) or ("errored", exc)
    #: the worker's signals and what the runner connected to them, until the run has ended
    slots: tuple[tuple[Any, Callable[..., None]], ...] = ()


def _execute(work: Work, progress: Progress, done: threading.Event) -> tuple[Any, float]:
    """Run ``work`` (a function given ``progress``, or a generator of steps) and time it;
    ``done`` is set once it has returned or raised."""
    start = time.perf_counter()
    try:
        if not isinstance(work, Generator):
            return work(progress), time.perf_counter() - start
        with closing(work):  # Cancel raises at a step: the generator's finally blocks still run
            while True:
                try:
                    step = next(work)
                except StopIteration as stop:
                    return stop.value, time.perf_counter() - start
                progress(step.done, step.total, step.message)
    finally:
        done.set()


class Runner:
    """Runs one dock's work in a thread, one run at a time, and reports on the GUI thread."""

    def __init__(self, owner: QObject | None = None) -> None:
        """``owner``: the dock; once it is destroyed (closed), its run is stopped and nothing
        more is reported."""
        self.signals = RunSignals()
        self.generation = 0
        self._run: _Run | None = None
        self._activity = QTimer()
        self._activity.setSingleShot(True)
        self._activity.setInterval(ACTIVITY_AFTER_MS)
        self._activity.timeout.connect(self._show_activity)
        self._bar_timer = QTimer()
        self._bar_timer.setInterval(BAR_EVERY_MS)
        self._bar_timer.timeout.connect(self._update_bar)
        #: Set while steps are being shown; steps and ends that arrive meanwhile wait their turn.
        self._stepping = False
        self._steps: list[tuple[int, int, int, str]] = []  # generation, done, total, message
        self._ending: list[_Run] = []
        self.signals._stepped.connect(self._show_progress)
        if owner is not None:  # weakly: the garbage collector may clear this runner first
            runner = weakref.ref(self)
            owner.destroyed.connect(lambda *_: (alive := runner()) and alive.supersede())

    @property
    def worker(self) -> FunctionWorker | None:
        """The latest run's worker (tests wait on its ``finished``)."""
        return None if self._run is None else self._run.worker

    @property
    def activity_bar(self) -> napari_progress | None:
        """The latest run's bar in napari's activity dock (None until it has lasted)."""
        return None if self._run is None else self._run.bar

    @property
    def running(self) -> bool:
        """True until the latest run's worker has ended (even after Cancel: until it stops)."""
        return self._run is not None and not self._run.ended

    def run(self, work: Work, title: str) -> FunctionWorker:
        """Start ``work`` in a thread after making any run in flight stale; ``title`` names the
        bar in napari's activity dock, shown if the run lasts. Returns the worker, already
        started."""
        self.supersede()
        run = _Run(self.generation, title)
        stepped = self.signals._stepped

        def progress(done: int, total: int, message: str) -> None:
            if run.cancel.is_set() or (run.worker is not None and run.worker.abort_requested):
                raise Cancelled(message or "cancelled")
            stepped.emit(run.generation, done, total, message)

        # Errors come to _ended as an outcome, not re-raised in the event loop.
        worker = create_worker(_execute, work, progress, run.work_done, _ignore_errors=True)
        run.slots = (
            (worker.returned, lambda result: setattr(run, "outcome", ("returned", result))),
            (worker.errored, lambda exc: setattr(run, "outcome", ("errored", exc))),
            (worker.finished, lambda: self._ended(run)),
        )
        for signal, slot in run.slots:
            signal.connect(slot)
        run.worker, self._run = worker, run
        worker.start()
        self._activity.start()
        return worker

    def supersede(self, reason: str = "superseded") -> None:
        """Make the run in flight stale (its result will be dropped) and ask it to stop."""
        self.generation += 1
        run = self._run
        if run is not None and not run.ended and not run.dropped:
            run.dropped = reason
            run.cancel.set()

    def cancel(self) -> None:
        """The Cancel button: the run in flight stops and reports ``cancelled``."""
        self.supersede("cancelled")

    def _show_progress(self, generation: int, done: int, total: int, message: str) -> None:
        """The current run's progress, to the dock in order; its bar in the activity dock
        catches up every :data:`BAR_EVERY_MS` (:meth:`_update_bar`)."""
        if generation != self.generation:
            return
        if self._run is not None:
            self._run.step = (done, total, message or self._run.step[2])
        self._steps.append((generation, done, total, message))
        self._in_turn(lambda: None)

    def _in_turn(self, first: Callable[[], None]) -> None:
        """Call ``first``, then tell the dock of the steps queued, in order.

        napari's activity dock processes events while it changes a bar, so a later step or
        the run's end can be delivered in the middle of that change. Such a step only joins
        the queue that the outermost call works through, one step after another: the dock is
        told of the steps in order, and of the run's end last, and the calls never nest
        deeper than one (a batch's 3064 steps queued behind the bar once nested into a
        RecursionError that aborted Python). A step whose run became stale while it waited
        (a new run started in that event loop) is dropped, as it would have been on arrival."""
        if self._stepping:
            return
        self._stepping = True
        try:
            first()
            while self._steps:
                generation, *step = self._steps.pop(0)
                if generation == self.generation:
                    self.signals.progressed.emit(*step)
        finally:
            self._stepping = False
            self._steps.clear()
            ending, self._ending = self._ending, []
            for run in ending:
                self._ended(run)

    def _show_activity(self) -> None:
        """The current run has lasted: give it a bar in napari's activity dock, from its latest
        step on (napari's ``progress`` adds the bar as it is made)."""
        run = self._run
        if run is None or run.ended or run.dropped or run.work_done.is_set():
            return
        # Making the bar processes events: the run may end meanwhile, before bar is set.
        bar = napari_progress(total=run.step[1], desc=run.title)
        if run.ended:
            bar.close()
            return
        run.bar = bar
        self._in_turn(lambda: _put_on_bar(run))
        self._bar_timer.start()

    def _update_bar(self) -> None:
        """The current run's latest step to its bar in the activity dock, if it moved."""
        run = self._run
        if run is None or run.bar is None or run.ended:
            self._bar_timer.stop()
        else:
            self._in_turn(lambda: _put_on_bar(run))

    def _ended(self, run: _Run) -> None:
        """A worker ended: report its outcome if its run is current, else that it was
        dropped; then, if it was the latest run, that nothing is in flight."""
        if self._stepping:
            self._ending.append(run)
            return
        if run.bar is not None:
            # Where the run ended. napari processes events meanwhile: a run started then
            # makes this one stale, so it is marked ended only once that is decided.
            self._in_turn(lambda: _put_on_bar(run))
            run.bar.close()  # napari removes it from the activity dock
        run.ended = True
        kind, value = run.outcome or ("errored", Cancelled("cancelled"))
        if run.dropped or (kind == "errored" and isinstance(value, Cancelled)):
            self.signals.cancelled.emit(run.dropped or "cancelled")
        elif kind == "returned":
            self.signals.finished.emit(*value)
        else:
            self.signals.failed.emit(failure_message(value))
        if run is self._run:
            self.signals.idle.emit()
        _let_go(run)


def _let_go(run: _Run) -> None:
    """Drop what an ended run holds: its result (told already) and its worker's connections,
    whose closures hold the runner. Qt keeps those alive with the worker, out of the garbage
    collector's sight, so a closed dock's runner and its last result (a 3064-case table, a
    figure) stayed in memory for the rest of the session."""
    run.outcome = None
    slots, run.slots = run.slots, ()
    for signal, slot in slots:
        signal.disconnect(slot)


def _put_on_bar(run: _Run) -> None:
    """``run``'s latest step on its bar in the activity dock; only what moved is changed
    (each change makes napari process events)."""
    bar, (done, total, message) = run.bar, run.step
    if bar is None:
        return
    if total > 0 and bar.total != total:
        bar.total = total
    if done > bar.n:
        bar.update(done - bar.n)
    if message and bar.desc != f"{run.title}: {message}: ":  # as napari's bar words it
        bar.set_description(f"{run.title}: {message}")


def run_controls(status: str = "") -> tuple[QPushButton, QProgressBar, QLabel]:
    """What a form dock shows of its runs, made one way for all of them: a Cancel button (off
    until a run starts), a progress bar and a word-wrapped status line saying ``status``."""
    cancel = QPushButton("Cancel")
    cancel.setEnabled(False)
    line = QLabel(status)
    line.setWordWrap(True)
    return cancel, QProgressBar(), line
