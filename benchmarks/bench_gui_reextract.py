"""Time from the end of a paint stroke to the updated results table, in a real napari viewer.

A 512x512 synthetic slice with pyradiomics' default settings (the widget's default preset). The
extraction widget's automatic re-extraction is on; each repeat paints one brush stroke into the
mask (the labels layer's own ``paint``, which emits napari's paint event) and waits for the
results dock's ``table_updated`` signal. The debounce that normally waits for the end of a
burst of strokes is set to 0 for the measurement and reported separately: in use, add it.
Next to it: a plain ``RadiomicsFeatureExtractor().execute`` on the same image and mask.

Run (a display is needed; Xvfb works)::

    PYTHONPATH=src xvfb-run -a python benchmarks/bench_gui_reextract.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import napari
import numpy as np
import SimpleITK as sitk
from qtpy.QtCore import QEventLoop, QTimer
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._widget import DEBOUNCE_MS, ExtractionWidget
from napari_radiomics.io.synthetic import make_synthetic_slice


def wait_for(signal, timeout_s: float = 120.0) -> None:
    """Run the Qt event loop until ``signal`` fires (as the user's session would)."""
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec_()
    signal.disconnect(loop.quit)


def time_paint_to_table(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from each stroke to the updated table, and the engine's share of each."""
    tumour = make_synthetic_slice(seed=0)
    viewer = napari.Viewer(show=False)
    viewer.add_image(tumour.image, name="slice", metadata=tumour.metadata.as_dict())
    labels = viewer.add_labels(tumour.mask.astype(np.uint8), name="slice mask")
    widget = ExtractionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Extract features")
    results = get_results_widget(viewer)
    widget.debounce_timer.setInterval(0)
    widget.auto.value = True
    engine_seconds: list[float] = []
    widget.runner.signals.finished.connect(lambda _frame, s: engine_seconds.append(s))
    widget.extract()  # the first run fills the engine's image cache, as in a session
    wait_for(results.table_updated)

    rows, cols = np.nonzero(tumour.mask)
    top = int(rows.min())
    point = (top, int(np.median(cols[rows == top])))
    labels.brush_size = 9
    totals = []
    for i in range(repeats):
        value = 1 if i % 2 == 0 else 0  # paint, then erase: the mask changes every time
        start = time.perf_counter()
        labels.paint(point, value)
        wait_for(results.table_updated)
        totals.append(time.perf_counter() - start)
    assert len(results.runs) == repeats + 1, "every stroke must give one new run"
    viewer.close()
    return totals, engine_seconds[1:]


def time_plain_pyradiomics(repeats: int) -> list[float]:
    """``RadiomicsFeatureExtractor().execute`` with its defaults on the same slice."""
    tumour = make_synthetic_slice(seed=0)
    image = sitk.GetImageFromArray(tumour.image)
    mask = sitk.GetImageFromArray(tumour.mask.astype(np.uint8))
    extractor = RadiomicsFeatureExtractor()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        extractor.execute(image, mask)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    totals, engine = time_paint_to_table(args.repeats)
    plain = time_plain_pyradiomics(args.repeats)
    median = statistics.median
    print(f"512x512 slice, pyradiomics default settings, {args.repeats} strokes (median)")
    print(f"  paint stroke -> table updated : {median(totals) * 1000:8.1f} ms (debounce 0)")
    print(f"    of which engine extract     : {median(engine) * 1000:8.1f} ms")
    print(f"    GUI (event, worker, table)  : {(median(totals) - median(engine)) * 1000:8.1f} ms")
    print(f"  debounce in normal use        : {DEBOUNCE_MS:8d} ms (add to the above)")
    print(f"  plain pyradiomics execute     : {median(plain) * 1000:8.1f} ms")
    print(f"  ratio execute / stroke->table : {median(plain) / median(totals):8.2f}x")


if __name__ == "__main__":
    main()
