"""The longest event-loop block of every dock of the plugin on a 3064-case dataset.

A user works through the docks napari.yaml contributes, on the brain-tumour dataset's size:
opens a folder of 3064 ``.mat`` slices (small synthetic 64x64 ones: what is measured is the
per-case work of the docks, not the image size) and moves through it, reviews it (Review),
extracts the slice shown (Extract, Feature results), runs the batch over every slice (Batch
extraction), shows a 3064 x 1500 features table (Dataset table, Feature plots, ranking),
perturbs a slice (Robustness) and maps one (Feature maps). Each action is started from the
event loop, as a click is, and a 1 ms heartbeat timer records the longest time the event loop
could not serve the user while the action, its worker if it has one, and the repaint after it
run (``bench_table_gui.Heartbeat``). *Call* is the time of the action's own call on the GUI
thread (for a worker's action, only its start). *CPU* is the GUI thread's processor time over
the action, its worker's wait and the repaint: on a loaded machine blocks stretch with the
load, CPU time much less. The bar is 100 ms for every action; a keystroke in the Review filter
has its own, 16 ms of call. After each action that opens data, a *napari alone* row adds the
same layers to a second viewer of the same process, which has none of the plugin's docks
(nothing of the plugin listens to its layers): napari's floor, to read the action's row
against; after each docking, another docks an empty label beside the docks there and removes
it: napari's floor of docking (its main window laid out again).

Run (a display is needed; Xvfb works)::

    PYTHONPATH=src xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_blocks.py

``--cases 300`` makes a quick run while developing; ``--profile 30`` prints where the GUI
thread's time went (cProfile, the 30 costliest calls) for each action over the bar.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import napari
import yaml
from napari.layers import Image, Labels, Layer
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QLabel

from bench_open_folder import make_folder
from bench_table_gui import (
    BAR_MS,
    CASES,
    KEYSTROKE_MS,
    KEYSTROKES,
    Heartbeat,
    dataset,
    open_blocks,
    spin,
    table_steps,
    until,
)
from napari_radiomics._napari._dataset_table import get_dataset_table
from napari_radiomics._napari._reader import read_paths
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._review_widget import ReviewWidget

PLUGIN = "napari-radiomics"
#: What the batch and the robustness run extract: quick, and what a first look at a dataset uses.
PARAMS = {
    "setting": {"binWidth": 25, "force2D": True},
    "imageType": {"Original": {}},
    "featureClass": {"firstorder": [], "shape2D": []},
}

Row = tuple[str, str, float, float, float]  # dock, action, block, call, GUI-thread CPU (ms)


class Bench:
    """The viewer, the heartbeat, and the rows measured so far."""

    def __init__(self, viewer: napari.Viewer, plain: napari.Viewer, profile: int = 0) -> None:
        self.viewer = viewer
        #: print this many of the GUI thread's costliest calls for each action over the bar
        self.profile = profile
        #: a viewer without the plugin's docks, for the "napari alone" rows
        self.plain = plain
        self.beat = Heartbeat()
        self.rows: list[Row] = []

    def measure(
        self,
        dock: str,
        action: str,
        call: Callable[[], object],
        done: Callable[[], bool] | None = None,
        settle: float = 0.5,
    ) -> Any:
        """Run ``call`` from the event loop; wait for ``done`` (a worker's end), then
        ``settle`` seconds of repaint; record the longest block over all of it."""
        spin(0.2)
        self.beat.reset()
        result: list[Any] = []
        took: list[float] = []

        def timed() -> None:
            start = time.perf_counter()
            result.append(call())
            took.append((time.perf_counter() - start) * 1000)

        profiler = cProfile.Profile() if self.profile else None
        cpu = time.thread_time()
        if profiler is not None:
            profiler.enable()  # the GUI thread only: workers are not profiled
        QTimer.singleShot(0, timed)
        spin(0.05)
        until(lambda: bool(took))
        if done is not None:
            until(done, timeout=3600)
        spin(settle)
        if profiler is not None:
            profiler.disable()
        cpu = (time.thread_time() - cpu) * 1000
        block = max(self.beat.longest - 1, 0)
        self.rows.append((dock, action, block, took[0], cpu))
        if profiler is not None and block > BAR_MS:
            print_profile(profiler, f"{dock}: {action} ({block:.0f} ms)", self.profile)
        return result[0]

    def dock(self, name: str) -> Any:
        """Dock a widget of the manifest as Plugins > napari-radiomics does."""
        docked: list[Any] = []
        self.measure(
            name,
            "dock it",
            lambda: docked.append(self.viewer.window.add_plugin_dock_widget(PLUGIN, name)[1]),
        )
        self.dock_floor(name)
        return docked[0]

    def dock_floor(self, name: str) -> None:
        """napari's own share of docking: an empty label docked beside the docks already
        there (napari lays out its main window again), then removed. What is left of a "dock
        it" row above this one is the dock's own making."""
        window = self.viewer.window
        added = self.measure(
            name,
            "  napari alone: dock an empty label beside them",
            lambda: window.add_dock_widget(QLabel("empty"), name="empty", area="right"),
        )
        window.remove_dock_widget(added)


def print_profile(profiler: cProfile.Profile, title: str, top: int) -> None:
    """The GUI thread's calls over an action, by cumulative time, then by own time: where
    its block went (times inflated by the profiler, about 1.5x)."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top // 2)
    print(f"--- profile: {title}", out.getvalue(), sep="\n", flush=True)


def idle(widget: Any) -> Callable[[], bool]:
    return lambda: not widget.runner.running


def open_folder(bench: Bench, folder: Path, cases: int) -> tuple[Image, Labels]:
    viewer = bench.viewer
    bench.measure(
        "Open data",
        f"open the folder of {cases} slices (+3 s of header scan)",
        lambda: viewer.open(str(folder), plugin=PLUGIN),
        settle=3.0,
    )
    image = next(layer for layer in viewer.layers if isinstance(layer, Image))
    labels = next(layer for layer in viewer.layers if isinstance(layer, Labels))
    napari_floor(bench, "Open data", [image, labels])
    reader_share(bench, "Open data", folder)
    bench.measure("Open data", "move to slice 2000", lambda: viewer.dims.set_current_step(0, 1999))
    return image, labels


def napari_floor(bench: Bench, dock: str, layers: list[Layer]) -> None:
    """napari's own share of an action that adds ``layers``: the same layers (data and
    state) added by napari alone, to the viewer without the plugin's reader or docks, then
    removed. What is left of the action's block above this row is the plugin's."""
    viewer = bench.plain
    added = bench.measure(
        dock,
        f"  napari alone: the same {len(layers)} layers, viewer without plugin",
        lambda: [viewer.add_layer(Layer.create(*layer.as_layer_data_tuple())) for layer in layers],
    )
    for layer in added:
        viewer.layers.remove(layer)


def reader_share(bench: Bench, dock: str, path: Path) -> None:
    """The plugin's own share of an open: its reader run again on ``path`` from the event
    loop, the layers it returns not added (napari's share is the row above). Measured after
    the open, so the session's first-use costs (pint's registry, ``distributed``) are not in
    it: they are built beside the open's reading, in the reader's thread."""
    action = "  the plugin's reader alone, layers not added"
    bench.measure(dock, action, lambda: read_paths(str(path)))


def review(bench: Bench) -> None:
    dock = "Review"
    widget: list[ReviewWidget] = []

    def open_review() -> None:
        widget.append(ReviewWidget(bench.viewer))
        bench.viewer.window.add_dock_widget(widget[0], name=dock, area="right")

    bench.measure(dock, "dock it: the session of every case", open_review)
    bench.dock_floor(dock)
    review = widget[0]
    for i, text in enumerate(KEYSTROKES):
        bench.measure(
            dock, f"keystroke {i + 1}: search {text!r}", lambda t=text: review.search.setText(t)
        )
    bench.measure(
        dock,
        "status filter 'unreviewed'",
        lambda: review.status_filter.setCurrentText("unreviewed"),
    )
    bench.measure(dock, "mark the case 'flagged'", lambda: review.mark("flagged"))
    bench.measure(dock, "next unreviewed case", lambda: review.step(1))
    bench.measure(dock, "go to case 3000", lambda: review.go_to(2999))
    down = Qt.SortOrder.DescendingOrder
    bench.measure(dock, "sort by case, descending", lambda: review.table.sortByColumn(0, down))


def extract(bench: Bench) -> None:
    widget = bench.dock("Extract features")
    bench.measure("Extract features", "extract the slice shown", widget.extract, idle(widget), 1.0)
    bench.measure(
        "Extract features", "extract again (a second run)", widget.extract, idle(widget), 1.0
    )


def batch(bench: Bench, image: Image, tmp: Path) -> None:
    dock = "Batch extraction"
    widget = bench.dock(dock)
    params = tmp / "first.params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    widget.source.setCurrentText(image.name)
    choice = widget.settings.combo
    choice.setCurrentIndex(choice.findText("params file", Qt.MatchFlag.MatchContains))
    widget.settings.params.setText(str(params))
    widget.output.setText(str(tmp / "batch.csv"))
    widget.jobs.setValue(2)
    started = time.perf_counter()
    bench.measure(dock, "run over every slice, then show the table", widget.run, idle(widget), 2.0)
    print(f"  (batch: {time.perf_counter() - started:.0f} s, {widget.status.text()})")


def dataset_table(bench: Bench, frame: Any, csv: Path) -> None:
    dock = "Dataset table"
    table = get_dataset_table(bench.viewer)
    bench.measure(dock, "show a 3064 x 1500 table", lambda: table.set_table(frame, str(csv)))
    for name, action in table_steps(table):
        bench.measure(dock, name, action)
    for path in (csv, csv.with_suffix(".parquet")):
        spin(0.2)
        for name, (block, _) in open_blocks(bench.beat, table, path).items():
            bench.rows.append((dock, name, block, float("nan"), float("nan")))


def results(bench: Bench, frame: Any) -> None:
    dock = "Feature results"
    widget = get_results_widget(bench.viewer)
    single = frame.iloc[:1].copy()
    bench.measure(
        dock,
        "add the 3064-case table as a run",
        lambda: widget.add_run(frame, "batch"),
        settle=1.0,
    )
    bench.measure(
        dock, "then a single-case run", lambda: widget.add_run(single, "one"), settle=1.0
    )
    bench.measure(dock, "filter features 'glcm'", lambda: widget.filter_edit.setText("glcm"))
    column = widget.frame.columns.get_loc("one | label 1")
    down = Qt.SortOrder.DescendingOrder
    bench.measure(
        dock, "sort by the single-case run", lambda: widget.table.sortByColumn(column, down)
    )
    bench.measure(dock, "select every cell (Ctrl+A)", widget.table.selectAll)
    bench.measure(dock, "clear the filter", lambda: widget.filter_edit.setText(""))


def plots(bench: Bench, frame: Any) -> None:
    dock = "Feature plots"
    widget = bench.dock(dock)
    feature = frame.columns[12]
    bench.measure(
        dock, "show the table (box plot)", lambda: widget.set_table(frame), idle(widget), 1.0
    )
    another = lambda: widget.plot_feature(feature, "tumor_type")  # noqa: E731
    bench.measure(dock, "plot another feature", another, idle(widget), 1.0)
    ranking = widget.ranking
    bench.measure(dock, "rank every feature (ranking)", ranking.rank, idle(ranking), 1.0)
    bench.measure(dock, "filter the ranking 'glcm'", lambda: ranking.filter.setText("glcm"))
    bench.measure(dock, "select every ranked feature", ranking.view.selectAll)


def model(bench: Bench, frame: Any) -> None:
    dock = "Tumour-type model"
    widget = bench.dock(dock)
    bench.measure(dock, "take the 3064 x 1500 table", lambda: widget.set_table(frame))


def robustness(bench: Bench) -> None:
    dock = "Robustness"
    widget = bench.dock(dock)
    bench.measure(dock, "perturb the slice shown", widget.perturb_case, idle(widget), 1.0)


def maps(bench: Bench, folder: Path) -> None:
    dock = "Feature maps"
    widget = bench.dock(dock)
    layers = bench.measure(
        dock,
        "open one slice to map (napari adds its layers)",
        lambda: bench.viewer.open(str(folder / "1.mat"), plugin=PLUGIN),
        settle=1.0,
    )
    napari_floor(bench, dock, layers)
    reader_share(bench, dock, folder / "1.mat")
    widget.image.value = next(layer for layer in layers if isinstance(layer, Image))
    widget.labels.value = next(layer for layer in layers if isinstance(layer, Labels))
    widget.features.value = [widget.features.choices[0]]
    widget.radius.value = 1
    maps = f"map one feature class of one slice ({widget.features.value[0]}, one layer)"
    bench.measure(dock, maps, widget.run, idle(widget), 1.0)
    other = widget.shown.choices[len(widget.shown.choices) // 2]
    bench.measure(
        dock, "show another map (the layer's data swapped)", lambda: widget.shown.set_value(other)
    )


def tracked() -> int:
    """The objects the garbage collector tracks in this process (what a full collection
    walks, whichever thread starts it)."""
    return len(gc.get_objects())


def load() -> str:
    """The machine's load averages (1, 5, 15 min), to print beside the figures."""
    if not hasattr(os, "getloadavg"):  # Windows
        return "?"
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def report(rows: list[Row], cases: int, started: str) -> bool:
    print(
        f"\n{cases} cases; longest event-loop block per action (1 ms heartbeat), "
        f"bar {BAR_MS:.0f} ms; load {started} at the start, {load()} at the end"
    )
    print(f"{'dock':<18} {'action':<58} {'block':>8} {'call':>8} {'CPU':>8}  bar")
    ok = True
    for dock, action, block, call, cpu in rows:
        within = block <= BAR_MS
        ok &= within
        if action.startswith("keystroke") and call == call:
            within_key = call <= KEYSTROKE_MS
            ok &= within_key
            key = "pass" if within_key else "FAIL"
            verdict = f"{'pass' if within else 'FAIL'} (call {key}, {KEYSTROKE_MS:.0f} ms bar)"
        else:
            verdict = "pass" if within else "FAIL"
        shown_call = "" if call != call else f"{call:6.0f} ms"
        shown_cpu = "" if cpu != cpu else f"{cpu:6.0f} ms"
        print(
            f"{dock:<18} {action[:58]:<58} {block:5.0f} ms {shown_call:>9} {shown_cpu:>9}  "
            f"{verdict}"
        )
    worst = max(rows, key=lambda row: row[2])
    print(f"worst: {worst[0]}: {worst[1]}, {worst[2]:.0f} ms")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--skip", nargs="*", default=[], help="docks to leave out, e.g. batch")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the GUI thread's N costliest calls of each action over the bar",
    )
    args = parser.parse_args()
    started = load()
    warnings.simplefilter("ignore")
    frame = dataset(args.cases)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        folder = tmp / "mats"
        folder.mkdir()
        make_folder(folder, args.cases)
        csv = tmp / "features.csv"
        frame.to_csv(csv, index=False)
        frame.to_parquet(csv.with_suffix(".parquet"), index=False)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1500, 950)
        plain = napari.Viewer(show=True, title="napari alone")
        spin(1.0)
        bench = Bench(viewer, plain, args.profile)
        bench.measure(
            "(floor)",
            "repaint only (the status bar's text)",
            lambda: setattr(viewer, "status", "repaint"),
        )
        image, _ = open_folder(bench, folder, args.cases)
        # Any thread that allocates enough starts one: it holds the GIL throughout, so a
        # worker parsing a CSV blocks the event loop for as long (see docs/benchmarks.md).
        bench.measure("(floor)", f"a full garbage collection ({tracked()} objects)", gc.collect)
        steps: dict[str, Callable[[], None]] = {
            "review": lambda: review(bench),
            "extract": lambda: extract(bench),
            "batch": lambda: batch(bench, image, tmp),
            "robustness": lambda: robustness(bench),
            "table": lambda: dataset_table(bench, frame, csv),
            "results": lambda: results(bench, frame),
            "plots": lambda: plots(bench, frame),
            "model": lambda: model(bench, frame),
            "maps": lambda: maps(bench, folder),
        }
        for name, step in steps.items():
            if name not in args.skip:
                print(f"{name}…", flush=True)
                step()
        plain.close()
        viewer.close()
    report(bench.rows, args.cases, started)


if __name__ == "__main__":
    main()
