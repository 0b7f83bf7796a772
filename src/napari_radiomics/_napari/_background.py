"""Work off the GUI thread where only the latest request matters.

A plot, a ranking or a model evaluation can take seconds; by the time it ends the user may
have asked for another. Each request gets a generation number, and an outcome is delivered
only if no newer request (or :meth:`LatestOnly.drop`) came since, so a stale result never
replaces a current one. Errors are delivered the same way, as the message to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtCore import QObject


class LatestOnly:
    """Starts napari function workers and hands back the outcome of the latest one only."""

    def __init__(self, owner: QObject) -> None:
        """``owner`` is the widget the outcomes go to: once it is destroyed (a closed dock),
        nothing is delivered."""
        self.generation = 0
        self.worker: FunctionWorker | None = None
        owner.destroyed.connect(self.drop)

    def run(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
        finished: Callable[[], None] | None = None,
    ) -> FunctionWorker:
        """Run ``work`` in a thread; ``done(result)`` or ``failed(exception)`` follow in the
        GUI thread, unless a newer request came first; ``finished()`` follows in any case.
        Everything is connected before the thread starts: a worker that fails at once
        would otherwise signal before anyone listens."""
        self.generation += 1
        generation = self.generation

        def current() -> bool:
            return generation == self.generation

        # Errors go to ``failed``, not to the event loop.
        worker = create_worker(work, _ignore_errors=True, _start_thread=False)
        worker.returned.connect(lambda result: current() and done(result))
        worker.errored.connect(lambda exc: current() and failed(exc))
        if finished is not None:
            worker.finished.connect(finished)
        self.worker = worker
        worker.start()
        return worker

    def drop(self, *_: object) -> None:
        """Forget the request in flight: its outcome will not be delivered."""
        self.generation += 1
