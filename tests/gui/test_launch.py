"""The one-command start: napari opens the sample, docks the settings and extracts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from napari.layers import Image, Labels
from qtpy.QtCore import Qt

from napari_radiomics._napari._launch import populate
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.side_by_side import METADATA_CLASS
from processes import HAS_PROC


def test_launch_and_show_features_are_the_napari_packages_public_names() -> None:
    """``view`` and the root package reach the napari side through ``_napari``'s own names,
    not its private modules; napari imports ``_napari`` for every hook and dock, which must
    not load the launch code or the dataset table until they are asked for."""
    code = (
        "import sys\n"
        "import napari_radiomics._napari as side\n"
        "private = ('_launch', '_dataset_table')\n"
        "print([m for m in private if f'napari_radiomics._napari.{m}' in sys.modules])\n"
        "from napari_radiomics._napari._dataset_table import show_features\n"
        "from napari_radiomics._napari._launch import launch\n"
        "print(side.launch is launch and side.show_features is show_features)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "True"]


def test_sample_opens_and_first_run_lands_in_the_table(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    results = get_results_widget(viewer)
    with qtbot.waitSignal(results.table_updated, timeout=60_000):
        widget = populate(viewer)
    assert {type(layer) for layer in viewer.layers} >= {Image, Labels}
    assert widget.preset.value == "brain-tumor-mri"
    assert results.value_columns() == ["run 1 | label 1"]
    labels = next(layer for layer in viewer.layers if isinstance(layer, Labels))
    surface = labels.features["original_shape2D_PixelSurface"].iloc[0]
    assert surface == labels.data.astype(bool).sum()


def test_given_file_opens_without_extracting(make_napari_viewer, tmp_path) -> None:
    path = write_tumor_mat(tmp_path / "5.mat", make_synthetic_slice(seed=5, shape=(128, 128)))
    viewer = make_napari_viewer()
    populate(viewer, [str(path)], extract=False)
    assert [layer.metadata["case"] for layer in viewer.layers] == ["5", "5", "5"]
    assert get_results_widget(viewer).value_columns() == []


def test_view_at_1366x768_fits_and_opens_on_features(make_napari_viewer, qtbot) -> None:
    """`napari-radiomics view` on a laptop: the window fits the screen, the Extract button is
    on screen and the results table's first visible rows are features, not `case`,
    `patient_id`, `label`... (those follow as a section of their own)."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1366, 768)
    results = get_results_widget(viewer)
    with qtbot.waitSignal(results.table_updated, timeout=60_000):
        widget = populate(viewer)
    window.resize(1366, 768)
    qtbot.wait(50)
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    assert minimum.width() <= 1366, minimum
    assert minimum.height() <= 768, minimum
    button = widget.extract_button.native
    assert button.visibleRegion().boundingRect().height() == button.height()
    table = results.table
    shown = table.viewport().visibleRegion().boundingRect().height()
    rows = shown // table.verticalHeader().defaultSectionSize()
    assert rows >= 4, rows
    model = table.model()
    classes = [model.index(row, 1).data() for row in range(rows)]
    names = [str(model.headerData(row, Qt.Orientation.Vertical)) for row in range(rows)]
    assert all(c not in (None, METADATA_CLASS) for c in classes), names
    assert all(name.startswith("original_") for name in names), names
    assert set(results.frame.index) >= {"case", "patient_id", "label"}


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc to see Qt loaded")
def test_view_ended_by_sigterm_dies_of_it(tmp_path) -> None:
    """``view`` has no rows to keep: SIGTERM (a session logging out, ``kill``) ends its window
    as it ends any program, killed by the signal (a shell's 143). With the command's handler
    still in place, SIGTERM became a KeyboardInterrupt raised into napari's event loop, which
    napari took for a Ctrl-C in its window: it exited 1 saying "Closed by KeyboardInterrupt"."""
    command = [sys.executable, "-m", "napari_radiomics.cli", "view", "--no-extract"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _loaded(proc.pid, "libQt") and time.monotonic() < deadline:
        assert proc.poll() is None, "view ended before it was signalled"
        time.sleep(0.05)
    time.sleep(2)  # into napari's start-up and event loop
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM, stderr


def _loaded(pid: int, library: str) -> bool:
    """Whether process ``pid`` has mapped a shared library whose file name holds ``library``."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
