"""What a short run costs the GUI thread: the one runner against a bar made at every start.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_runner_start.py

A plot or a ranking of a few milliseconds runs through the dock's ``Runner``. napari makes a
bar in its activity dock for a worker started with ``_progress`` (the runner's way until it
waited for a run to last, ``ACTIVITY_AFTER_MS``), and making it calls
``QApplication.processEvents()``. Each way starts ``--runs`` runs of a function that returns
at once, one after the other, in a shown 1366x768 viewer, and reports the GUI thread's CPU
time per run and the longest event-loop block (a 10 ms heartbeat), in the same process.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import napari
from napari.qt.threading import create_worker
from qtpy.QtWidgets import QApplication, QWidget

from bench_plots_dock import longest_block
from napari_radiomics._napari._runner import Runner


def per_run(start: Callable[[Callable[[], None]], None], runs: int) -> tuple[float, float]:
    """GUI-thread CPU seconds per run and the longest block, over ``runs`` runs started one
    after the other (each once the previous has ended)."""
    left = [runs]

    def next_run() -> None:
        left[0] -= 1
        if left[0] >= 0:
            start(next_run)

    cpu = time.thread_time()
    block = longest_block(next_run, lambda: left[0] < 0)
    return (time.thread_time() - cpu) / runs, block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    viewer = napari.Viewer()
    dock = QWidget()
    viewer.window.add_dock_widget(dock)
    viewer.window._qt_window.resize(1366, 768)
    QApplication.processEvents()
    runner = Runner(dock)
    after: list[Callable[[], None]] = []  # what the runner's next idle starts
    runner.signals.idle.connect(lambda: after.pop()() if after else None)

    def with_runner(then: Callable[[], None]) -> None:
        after.append(then)
        runner.run(lambda _progress: None, "Quick")

    def bar_at_once(then: Callable[[], None]) -> None:
        worker = create_worker(lambda: None, _progress={"desc": "Quick"})
        worker.finished.connect(then)
        worker.start()

    now = per_run(with_runner, args.runs)
    naive = per_run(bar_at_once, args.runs)
    print(f"runs: {args.runs}")
    ways = {"runner, bar once a run lasts": now, "bar at every start": naive}
    for name, (cpu, block) in ways.items():
        print(f"{name:30}: {cpu * 1e3:6.1f} ms GUI CPU a run, longest block {block * 1e3:.0f} ms")
    print(f"ratio CPU per run (before / now): {naive[0] / max(now[0], 1e-9):.1f}x")
    viewer.close()


if __name__ == "__main__":
    main()
