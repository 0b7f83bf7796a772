"""The longest event-loop block while showing, sorting and filtering dataset-sized tables.

A 3064-case x 1500-feature table (the brain-tumour dataset's size; feature names are
pyradiomics' own, 16 image types x every class, values random) is shown in a real napari
viewer, first in the dataset table, then, for comparison, in the runs-side-by-side results
dock (``add_run``: a column per case, built when shown), followed by one single-case run there.

The Review dock's table (3064 cases: case, patient, tumour type, status, note) is typed into
and sorted twice in the same process: through the plugin's table model (a NumPy mask per
keystroke), and through the row-by-row ``QSortFilterProxyModel`` it used before (reproduced
below as the reference: ``frame.iloc[row]`` per row, per keystroke), in a table of its own.

Blocks are measured with a heartbeat: a 1 ms QTimer records when it fires, and the longest
gap between two ticks while an action and its repaint run, minus the 1 ms, is the time the
event loop could not serve the user. Each action is started from the event loop (as a click
would be) and given 0.5 s to settle; the time of the call itself (without the repaint) is
printed beside it, and a repaint alone (a label's text changing) gives the floor under every
figure in that window. The CSV is also opened from the dock (read in a worker
thread), and so is the same table as Parquet, to see what the GUI thread pays while pandas
parses in the background.

Run (a display is needed; Xvfb works)::

    PYTHONPATH=src xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_table_gui.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import napari
import numpy as np
import pandas as pd
import radiomics
from qtpy.QtCore import QElapsedTimer, QEventLoop, QSortFilterProxyModel, Qt, QTimer
from qtpy.QtWidgets import QLineEdit, QTableView, QVBoxLayout, QWidget

from napari_radiomics._napari._dataset_table import DatasetTableWidget, get_dataset_table
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._review_widget import ReviewWidget
from napari_radiomics._napari._table_model import DataFrameModel
from napari_radiomics.corrections import STATUSES
from napari_radiomics.results import parse_feature_name

CASES, FEATURES = 3064, 1500
WAVELETS = [f"wavelet-{bands}" for bands in ("LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH")]
IMAGE_TYPES = [
    "original", *WAVELETS, "wavelet-LLL", "log-sigma-1-0-mm-3D", "log-sigma-3-0-mm-3D",
    "square", "squareroot", "logarithm", "exponential", "gradient",
]  # fmt: skip
BAR_MS = 100.0
KEYSTROKE_MS = 16.0


def feature_names() -> list[str]:
    """The first 1500 of pyradiomics' names for 16 image types (shape2D once, original)."""
    classes = radiomics.getFeatureClasses()
    names = [f"original_shape2D_{f}" for f in sorted(classes["shape2D"].getFeatureNames())]
    for image_type in IMAGE_TYPES:
        for name, cls in classes.items():
            if not name.startswith("shape"):
                names += [f"{image_type}_{name}_{f}" for f in sorted(cls.getFeatureNames())]
    return names[:FEATURES]


def dataset(n: int = CASES) -> pd.DataFrame:
    """Identifying columns as a batch writes them, then random feature values. Each of the
    233 patients has one tumour type, as in the dataset (the ranking's patient means need it)."""
    rng = np.random.default_rng(0)
    names = feature_names()
    labels = rng.integers(1, 4, 233)[np.arange(n) % 233]
    ids = pd.DataFrame(
        {
            "case": [str(i + 1) for i in range(n)],
            "patient_id": [f"P{i % 233:03d}" for i in range(n)],
            "label": labels,
            "tumor_type": pd.Series(labels).map({1: "meningioma", 2: "glioma", 3: "pituitary"}),
            "roi_label": 1,
        }
    )
    values = pd.DataFrame(rng.normal(size=(n, len(names))), columns=names)
    return pd.concat([ids, values], axis=1)


class Heartbeat:
    """Records the longest gap between ticks of a 1 ms timer since :meth:`reset`."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = 0
        self.longest = 0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def reset(self) -> None:
        self.last = self.clock.elapsed()
        self.longest = 0


def spin(seconds: float) -> None:
    """Run the event loop for ``seconds``."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec_()


def block_ms(
    beat: Heartbeat, action: Callable[[], object], settle: float = 0.5
) -> tuple[float, float]:
    """The longest event-loop block while ``action`` runs (started from the loop) and the
    viewer repaints after it, and the time of the call itself."""
    spin(0.2)
    beat.reset()
    call: list[float] = []

    def timed() -> None:
        start = time.perf_counter()
        action()
        call.append((time.perf_counter() - start) * 1000)

    QTimer.singleShot(0, timed)
    spin(settle)
    return max(beat.longest - 1, 0), call[0]


def until(done: Callable[[], bool], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        spin(0.05)


def table_steps(widget: DatasetTableWidget) -> list[tuple[str, Callable[[], object]]]:
    """What a user does with the table, each as one call from the event loop."""
    model, table = widget.model, widget.table
    down, up = Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder
    feature = len(model.identifying) + 7
    image_type, allowed = widget.image_type_combo, set(model.features[::3])

    def clear_filters() -> None:
        widget.filter_edit.setText("")
        widget.class_combo.setCurrentIndex(0)
        widget.image_type_combo.setCurrentIndex(0)

    def to_the_end() -> None:
        table.scrollTo(model.index(model.rowCount() - 1, model.columnCount() - 1))

    return [
        ("sort by a feature, descending", lambda: table.sortByColumn(feature, down)),
        ("sort by case (text as numbers)", lambda: table.sortByColumn(0, up)),
        ("sort by tumour type (text)", lambda: table.sortByColumn(3, down)),
        ("filter features by name 'glcm'", lambda: widget.filter_edit.setText("glcm")),
        ("filter by class glszm", lambda: widget.class_combo.setCurrentText("glszm")),
        ("filter by image type wavelet-LLH", lambda: image_type.setCurrentText("wavelet-LLH")),
        ("clear the feature filters", clear_filters),
        ("restrict to 500 allowed features", lambda: widget.restrict_features(allowed)),
        ("search cases 'P01'", lambda: widget.search_edit.setText("P01")),
        ("clear the search", lambda: widget.search_edit.setText("")),
        ("choose one row", lambda: table.selectRow(5)),
        ("scroll to the last row and column", to_the_end),
        ("select every row (Ctrl+A)", table.selectAll),
    ]  # fmt: skip


Blocks = dict[str, tuple[float, float]]


def new_path(viewer: napari.Viewer, frame: pd.DataFrame, csv: Path) -> Blocks:
    beat = Heartbeat()
    docked: list[DatasetTableWidget] = []
    dock = block_ms(beat, lambda: docked.append(get_dataset_table(viewer)))
    blocks = {"dock the dataset table": dock}
    widget = docked[0]
    # What any repaint in this window costs: the floor under every figure below.
    blocks["repaint only (a label's text changes)"] = block_ms(
        beat, lambda: widget.status.setText("repaint")
    )
    blocks["show the table (set_table)"] = block_ms(
        beat, lambda: widget.set_table(frame, "features.csv")
    )
    for name, action in table_steps(widget):
        blocks[name] = block_ms(beat, action)

    for path in (csv, csv.with_suffix(".parquet")):
        blocks.update(open_blocks(beat, widget, path))
    return blocks


def open_blocks(beat: Heartbeat, widget: DatasetTableWidget, path: Path) -> Blocks:
    """Opening a file from the dock: read in a worker (the GUI thread shares the GIL with it
    meanwhile), then shown on the GUI thread."""
    spin(0.2)
    beat.reset()
    start = time.perf_counter()
    while_reading: list[float] = []
    widget.table_changed.connect(lambda: while_reading.append(beat.longest))
    widget.open_table(path)
    until(lambda: bool(while_reading))
    seconds = time.perf_counter() - start
    beat.reset()
    spin(0.5)
    widget.table_changed.disconnect()
    kind = path.suffix[1:].upper()
    return {
        f"open the {kind}: while a worker reads it ({seconds:.1f} s)": (
            max(while_reading[0] - 1, 0),
            float("nan"),
        ),
        f"open the {kind}: then showing it": (max(beat.longest - 1, 0), float("nan")),
    }


def old_path(viewer: napari.Viewer, frame: pd.DataFrame) -> Blocks:
    beat = Heartbeat()
    results = get_results_widget(viewer)
    single = frame.iloc[:1].copy()
    return {
        "add the batch as a run (add_run)": block_ms(
            beat, lambda: results.add_run(frame, "batch"), 1.0
        ),
        "then one single-case run": block_ms(beat, lambda: results.add_run(single, "one"), 1.0),
        "filter features by name 'glcm'": block_ms(
            beat, lambda: results.filter_edit.setText("glcm")
        ),
        "sort by the single-case run": block_ms(
            beat, lambda: results.table.sortByColumn(len(frame) + 3, Qt.SortOrder.DescendingOrder)
        ),
        "clear the filter": block_ms(beat, lambda: results.filter_edit.setText("")),
    }


def review_cases(n: int = CASES) -> pd.DataFrame:
    """The Review dock's table as a session shows it: one row per case, a status each."""
    rng = np.random.default_rng(1)
    labels = rng.integers(1, 4, n)
    return pd.DataFrame(
        {
            "case": [str(i + 1) for i in range(n)],
            "patient_id": [f"P{i % 233:03d}" for i in range(n)],
            "tumor_type": pd.Series(labels).map({1: "meningioma", 2: "glioma", 3: "pituitary"}),
            "status": rng.choice(list(STATUSES), n),
            "note": np.where(rng.random(n) < 0.05, "margin unclear", ""),
        }
    )


class RowByRowFilter(QSortFilterProxyModel):
    """The Review filter before the shared model (the reference): Python per row."""

    def __init__(self) -> None:
        super().__init__()
        self.status = ""
        self.text = ""

    def filterAcceptsRow(self, source_row: int, source_parent: object) -> bool:
        row = self.sourceModel().frame.iloc[source_row]
        if self.status and row["status"] != self.status:
            return False
        return not self.text or any(self.text in str(v).lower() for v in row.values)


#: What a reviewer types: "P01", a backspace, then clears the search; and a status chosen.
KEYSTROKES = ("P", "P0", "P01", "P0", "")


def review_new(viewer: napari.Viewer, cases: pd.DataFrame) -> Blocks:
    beat = Heartbeat()
    dock = ReviewWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Review", area="right")
    dock.cases = lambda: cases  # the session's table, without a session behind it
    type_in = dock.search.setText
    blocks = {"show the cases": block_ms(beat, dock._refresh)}
    for i, text in enumerate(KEYSTROKES):
        blocks[f"keystroke {i + 1}: search {text!r}"] = block_ms(beat, lambda t=text: type_in(t))
    blocks["choose status 'flagged'"] = block_ms(
        beat, lambda: dock.status_filter.setCurrentText("flagged")
    )
    blocks["sort by case, descending"] = block_ms(
        beat, lambda: dock.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    )
    return blocks


def review_old(viewer: napari.Viewer, cases: pd.DataFrame) -> Blocks:
    beat = Heartbeat()
    widget, search, table = QWidget(), QLineEdit(), QTableView()
    layout = QVBoxLayout(widget)
    layout.addWidget(search)
    layout.addWidget(table)
    model, proxy = DataFrameModel(), RowByRowFilter()
    proxy.setSourceModel(model)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    proxy.sort(-1)
    viewer.window.add_dock_widget(widget, name="Review (row by row)", area="right")

    def apply(text: str, status: str = "") -> None:
        search.setText(text)
        proxy.text, proxy.status = text.strip().lower(), status
        proxy.invalidateFilter()

    blocks = {"show the cases": block_ms(beat, lambda: model.set_frame(cases))}
    for i, text in enumerate(KEYSTROKES):
        blocks[f"keystroke {i + 1}: search {text!r}"] = block_ms(beat, lambda t=text: apply(t))
    blocks["choose status 'flagged'"] = block_ms(beat, lambda: apply("", "flagged"))
    blocks["sort by case, descending"] = block_ms(
        beat, lambda: table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    )
    return blocks


def report_review(cases: int, new: Blocks, old: Blocks) -> None:
    title = f"Review dock, {cases} cases (block / call):"
    print(f"{title:<42} {'table model':>17} {'row by row':>17} {'ratio':>6}")
    for name, (block, call) in new.items():
        old_block, old_call = old[name]
        print(
            f"  {name:<40} {block:5.0f} / {call:5.1f} ms {old_block:5.0f} / {old_call:5.1f} ms "
            f"{old_block / max(block, 1.0):5.0f}x"
        )
    keys = [k for k in new if k.startswith(("keystroke", "choose"))]
    worst = max(new[k][1] for k in keys)
    worst_old = max(old[k][1] for k in keys)
    verdict = "within" if worst <= KEYSTROKE_MS else "OVER"
    print(
        f"  worst keystroke on the GUI thread: {worst:.1f} ms (row by row {worst_old:.1f} ms, "
        f"{worst_old / max(worst, 0.1):.0f}x), {verdict} the {KEYSTROKE_MS:.0f} ms bar"
    )


def report(title: str, blocks: Blocks) -> None:
    print(f"{title:<60} {'block':>9} {'call':>9}")
    for name, (block, call) in blocks.items():
        print(f"  {name:<58} {block:6.0f} ms {call:6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--no-old", action="store_true", help="skip the results-dock path")
    args = parser.parse_args()
    frame = dataset(args.cases)
    parse_feature_name(frame.columns[-1])  # pyradiomics imported, as any reader has done
    features = len(frame.columns) - 5
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "features.csv"
        frame.to_csv(csv, index=False)
        frame.to_parquet(csv.with_suffix(".parquet"), index=False)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1500, 950)
        spin(1.0)
        new = new_path(viewer, frame, csv)
        viewer.close()
    print(f"{args.cases} cases x {features} features; longest event-loop block (1 ms heartbeat)")
    report("dataset table:", new)
    bar = {k: v[0] for k, v in new.items() if not k.startswith(("select every", "repaint"))}
    worst = max(bar, key=bar.__getitem__)
    verdict = "within" if bar[worst] <= BAR_MS else "OVER"
    print(
        f"  worst of show/sort/filter/search/open: {bar[worst]:.0f} ms ({worst}), {verdict} "
        f"the {BAR_MS:.0f} ms bar"
    )
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    spin(1.0)
    cases = review_cases(args.cases)
    new_review, old_review = review_new(viewer, cases), review_old(viewer, cases)
    viewer.close()
    report_review(args.cases, new_review, old_review)
    if not args.no_old:
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1500, 950)
        spin(1.0)
        old = old_path(viewer, frame)
        viewer.close()
        report("the batch in the runs-side-by-side results dock (a column per case):", old)
        shown = max(new["show the table (set_table)"][0], 1.0)
        ratio = old["add the batch as a run (add_run)"][0] / shown
        print(f"  showing the table: results dock / dataset table = {ratio:.0f}x")


if __name__ == "__main__":
    main()
