"""The Feature plots dock on a dataset-sized table: the longest block of napari's event loop.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_plots_dock.py

A 10 ms heartbeat timer runs while the dock is given `bench_model`'s synthetic 3064 x 1,500
table and then shows each plot kind (a box plot first, then violin, histogram, scatter, PCA,
the overviews); the longest gap between two beats is the longest time the GUI could not
respond. The naive approach, timed in the same process, builds each figure in the GUI thread
(``PlotRequest.build``, its layout included, then the canvas draw), as a dock without a worker
would.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import napari
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from qtpy.QtCore import QElapsedTimer, QTimer
from qtpy.QtWidgets import QApplication

from bench_model import synthetic_table
from napari_radiomics._napari._plot_request import PlotRequest, plot_theme
from napari_radiomics._napari._plots_widget import PlotsWidget


def longest_block(action: Callable[[], None], settle: Callable[[], bool]) -> float:
    """Seconds of the longest gap between heartbeats while ``action`` runs and settles."""
    clock = QElapsedTimer()
    gaps: list[float] = []
    last = [0.0]

    def beat() -> None:
        now = clock.nsecsElapsed() / 1e9
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    clock.start()
    timer.start()
    QTimer.singleShot(20, action)
    deadline = time.perf_counter() + 120
    QApplication.processEvents()
    time.sleep(0.05)
    while time.perf_counter() < deadline:
        QApplication.processEvents()
        if len(gaps) > 5 and settle():
            break
        time.sleep(0.002)
    for _ in range(20):  # the draw that follows the last result
        QApplication.processEvents()
        time.sleep(0.005)
    timer.stop()
    return max(gaps[1:], default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3064)
    parser.add_argument("--features", type=int, default=1500)
    parser.add_argument("--patients", type=int, default=233)
    args = parser.parse_args()
    table = synthetic_table(args.cases, args.features, args.patients)
    viewer = napari.Viewer()
    dock = PlotsWidget(viewer)
    viewer.window.add_dock_widget(dock)
    QApplication.processEvents()

    def idle() -> bool:
        return not dock.status.text().startswith("Drawing")

    kinds = [dock.kind.itemText(i) for i in range(dock.kind.count())]
    blocks = {"set_table (box plot)": longest_block(lambda: dock.set_table(table), idle)}
    for kind in kinds[1:]:
        blocks[kind] = longest_block(lambda k=kind: dock.kind.setCurrentText(k), idle)
    theme = plot_theme(viewer)
    feature = dock.feature_x.currentText()
    second = dock.feature_y.currentText()
    print(f"{args.cases} rows x {args.features} features; longest event-loop block:")
    for kind, seconds in blocks.items():
        name = "Box" if kind.startswith("set_table") else kind
        size = tuple(dock.canvas.figure.get_size_inches())
        request = PlotRequest(name, feature, second, "tumor_type", "bar", theme, size)

        def naive(r: PlotRequest = request) -> None:
            FigureCanvasQTAgg(r.build(table).figure).draw()

        gui_thread = longest_block(naive, lambda: True)
        print(
            f"  {kind:28s} dock {seconds * 1000:6.0f} ms   built in the GUI thread "
            f"{gui_thread * 1000:6.0f} ms ({gui_thread / seconds:.1f}x)"
        )
    viewer.close()


if __name__ == "__main__":
    main()
