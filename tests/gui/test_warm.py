"""What docking a dock imports, and the imports a session needs, done in the background once
data is open (``_napari/_warm.py``). Each runs in a fresh interpreter with a real viewer: in
the test process every library is long imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sample_files import write_mat_folder

#: Lines of Python run before each script: a viewer, and a way to wait on its event loop.
PRELUDE = """
import sys, threading, time
import napari
from qtpy.QtWidgets import QApplication

viewer = napari.Viewer(show=False)

def wait(condition, seconds=120):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    return condition()

def warming():
    return any(t.name == "napari-radiomics warm-up" for t in threading.enumerate())
"""


def printed(script: str) -> list[str]:
    """The lines a script prints after :data:`PRELUDE`, in a fresh interpreter (the test's
    display and ``PYTHONPATH`` are inherited)."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + script],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_docking_the_form_docks_does_not_import_matplotlib() -> None:
    """Only the plots draw: the Extract, Review, Batch, Robustness and model docks are docked
    without matplotlib (0.3-0.8 s of imports that blocked the event loop when docking)."""
    script = """
from napari_radiomics._napari._batch_widget import BatchWidget
from napari_radiomics._napari._model_widget import ModelWidget
from napari_radiomics._napari._review_widget import ReviewWidget
from napari_radiomics._napari._robustness_widget import RobustnessWidget
from napari_radiomics._napari._widget import ExtractionWidget

for dock in (ExtractionWidget, ReviewWidget, BatchWidget, RobustnessWidget, ModelWidget):
    viewer.window.add_dock_widget(dock(viewer), name=dock.__name__)
print(len(viewer.window.dock_widgets))
print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")[:3])
"""
    assert printed(script) == ["5", "[]"]


def test_opening_data_warms_the_docks_and_a_dock_docked_meanwhile_works(
    tmp_path: Path,
) -> None:
    """After a folder opens, a background thread imports what the docks need (the engine and
    pyradiomics, the batch, matplotlib for the plots); an Extract dock docked while it is at
    work imports alongside it and extracts the slice shown."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 4)
    # What the open itself imported, seen when the warm-up starts: napari's open shows a
    # progress bar that runs the event loop once its layers are added, so the warm-up may
    # start (and import) before `open` returns.
    script = f"""
import napari_radiomics._napari._warm as warm
start, at_start = warm._start, []
def recorded():
    at_start.append(("radiomics" in sys.modules, "matplotlib" in sys.modules))
    start()
warm._start = recorded
viewer.open({str(folder)!r}, plugin="napari-radiomics")
assert wait(warming, 30), "no warm-up started"
assert at_start == [(False, False)], at_start
_, extract = viewer.window.add_plugin_dock_widget("napari-radiomics", "Extract features")
assert extract.extract()
assert wait(lambda: not extract.runner.running)
print(extract.status.value)
assert wait(lambda: not warming())
wanted = ("radiomics", "napari_radiomics.batch", "matplotlib.figure",
          "napari_radiomics._napari._robustness_widget", "napari_radiomics._napari._maps_widget")
print([name for name in wanted if name not in sys.modules])
"""
    lines = printed(script)
    assert ": 1 ROI(s) in " in lines[0], lines  # the run's row reached the results table
    assert lines[-1] == "[]"


def test_reading_builds_what_napari_first_layer_needs_before_returning(tmp_path: Path) -> None:
    """pint's unit registry and dask.distributed, which napari's first layer of a session
    built on the GUI thread after the reading (0.7-0.9 s and 0.5 s), are built by a thread of
    their own while the folder is read, and are ready when the reader returns its layers. The
    GUI thread waits plainly: no timer (nor a drop, nor a worker's signal) runs inside the
    reader; and the docks' warm-up starts only after the whole building."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 4)
    script = f"""
import pint
from qtpy.QtCore import QTimer
import napari_radiomics._napari._warm as warm
from napari_radiomics._napari._reader import read_paths

registry = pint.get_application_registry()
print(type(registry.get()).__name__, "distributed" in sys.modules)
threads, ticks, at_start = [], [], []
start_thread = threading.Thread.start
def started(thread):
    threads.append(thread.name)
    start_thread(thread)
threading.Thread.start = started
class Recorded(tuple):  # the docks' modules, noting what is built when their imports begin
    def __iter__(self):
        at_start.append(all(built.is_set() for _, built in warm.STEPS.values()))
        return super().__iter__()
warm.MODULES = Recorded(warm.MODULES)
timer = QTimer()
timer.timeout.connect(lambda: ticks.append(1))
timer.start(1)
layers = read_paths({str(folder)!r})
print(type(registry.get()).__name__, "distributed" in sys.modules, len(layers))
print("napari-radiomics layers" in threads, bool(ticks))
timer.stop()
assert wait(lambda: bool(at_start), 30), "no warm-up started"
print(at_start)
"""
    assert printed(script) == [
        "LazyRegistry False",
        "UnitRegistry True 2",
        "True False",
        "[True]",
    ]


def test_a_single_slice_gets_its_border_triangulation_compiled_before_its_layers(
    tmp_path: Path,
) -> None:
    """The border Shapes layer of a single slice needs numba's triangulation (1-2.5 s the
    first time in a session): it is compiled by the layers' thread during the reading."""
    (path,) = write_mat_folder(tmp_path / "one", 1)
    script = f"""
from napari.layers.shapes import _accelerated_triangulate_dispatch as triangulate
from napari_radiomics._napari._reader import read_paths

compiled = ("create_box_from_bounding", "remove_path_duplicates")
print([bool(getattr(triangulate, f).signatures) for f in compiled])
layers = read_paths({str(path)!r})
print([kind for *_, kind in layers])
print([bool(getattr(triangulate, f).signatures) for f in compiled])
"""
    assert printed(script) == [
        "[False, False]",
        "['image', 'labels', 'shapes']",
        "[True, True]",
    ]


def test_an_open_completes_when_the_layers_thread_cannot_start_or_fails(tmp_path: Path) -> None:
    """No thread (a thread limit) or a failing build: what the open needs counts as built
    (a folder: the registry and ``distributed``), the open returns its layers at once
    (napari builds the rest itself), and a second open too."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 2)
    script = f"""
import napari_radiomics._napari._warm as warm
from napari_radiomics._napari._reader import read_paths

start_thread = threading.Thread.start
def no_thread(thread):
    if thread.name == "napari-radiomics layers":  # the first thread past the limit
        raise RuntimeError("can't start new thread")
    start_thread(thread)
threading.Thread.start = no_thread
begun = time.monotonic()
print(len(read_paths({str(folder)!r})), all(b.is_set() for _, b in warm.STEPS.values()))
threading.Thread.start = start_thread
print(len(read_paths({str(folder / "1.mat")!r})), time.monotonic() - begun < warm.WAIT_LIMIT)
"""
    assert printed(script) == ["2 True", "3 True"]
    failing = f"""
import napari_radiomics._napari._warm as warm
from napari_radiomics._napari._reader import read_paths

def broken():
    raise ImportError("a broken install")
for name, (_, built) in warm.STEPS.items():
    warm.STEPS[name] = (broken, built)
begun = time.monotonic()
print(len(read_paths({str(folder)!r})), all(warm.STEPS[n][1].is_set() for n in ("units", "dask")))
print(time.monotonic() - begun < warm.WAIT_LIMIT)
"""
    assert printed(failing) == ["2 True", "True"]
