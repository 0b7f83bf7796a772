"""What is painted survives SIGKILL: a real viewer paints on a folder stack, a NumPy bundle
(the three-file form with float 0/1 masks and (N, 1, 1) labels) and a single ``.mat``; the
process is killed one second after the last stroke, with no save and no exit; a new viewer
reopens the same files and finds every stroke."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from napari_radiomics.corrections import session_for
from napari_radiomics.io import read_tumor_mat
from sample_files import write_bundle, write_mat_folder

#: A brush stroke as napari's Labels layer makes it (Labels.paint: a disc of brush_size).
_PAINTER = """
import sys, time
import napari

viewer = napari.Viewer(show=False)
for path in sys.argv[1:]:
    viewer.open(path, plugin="napari-radiomics")
for layer in [l for l in viewer.layers if isinstance(l, napari.layers.Labels)]:
    layer.brush_size = 5
    layer.paint((1, 4, 4) if layer.ndim == 3 else (4, 4), 1)
print("painted", time.monotonic(), flush=True)
time.sleep(600)
"""

STROKE = (slice(3, 6), slice(3, 6))  # inside the 5-pixel disc around (4, 4)


@pytest.fixture
def datasets(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder"
    write_mat_folder(folder, 6)
    single = tmp_path / "single"
    write_mat_folder(single, 2)
    bundle = tmp_path / "bundle"
    arrays = write_bundle(bundle, 3)
    (bundle / "patient_ids.npy").unlink()
    np.save(bundle / "masks.npy", arrays["masks"].astype(np.float32))
    np.save(bundle / "labels.npy", arrays["labels"].reshape(-1, 1, 1))
    return {"folder": folder, "bundle": bundle, "single": single / "1.mat"}


def test_strokes_are_on_disk_within_a_second_and_survive_sigkill(
    make_napari_viewer, datasets: dict[str, Path]
) -> None:
    sources = {name: _untouched(path) for name, path in datasets.items()}
    painter = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_PAINTER), *map(str, datasets.values())],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert painter.stdout is not None
        line = painter.stdout.readline().split()
        assert line[:1] == ["painted"], line
        time.sleep(1.0)  # the promise: on disk within 1 s of the stroke's end
        # A second napari, while the first still holds the stores: it is told, and reads them.
        second = make_napari_viewer()
        with pytest.warns(
            UserWarning, match=f"in use by another napari-radiomics session \\(pid {painter.pid} "
        ):
            second.open(str(datasets["folder"]), plugin="napari-radiomics")
        assert (np.asarray(second.layers[-1].data[1])[STROKE] == 1).all()
        assert not session_for(second.layers[-1].data).store.writable
    finally:
        painter.send_signal(signal.SIGKILL)
        painter.wait()
    assert painter.returncode == -signal.SIGKILL

    viewer = make_napari_viewer()  # a new viewer: the stores are free again, and writable
    for path in datasets.values():
        viewer.open(str(path), plugin="napari-radiomics")
    labels = [layer for layer in viewer.layers if layer._type_string == "labels"]
    assert len(labels) == 3
    for layer in labels:
        painted = np.asarray(layer.data[1] if layer.ndim == 3 else layer.data)
        assert (painted[STROKE] == 1).all(), layer.name
        assert session_for(layer.data).store.writable, layer.name
    # the sources are never written: the corrections live in the stores
    assert {name: _untouched(path) for name, path in datasets.items()} == sources


def _untouched(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every source file (recursively)."""
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())


def test_a_source_mask_has_no_stroke_where_the_test_paints(datasets: dict[str, Path]) -> None:
    """The check above is not vacuous: the stroke's pixels are background in every source."""
    assert not read_tumor_mat(datasets["single"]).mask[STROKE].any()
    assert not read_tumor_mat(datasets["folder"] / "2.mat").mask[STROKE].any()
    assert not np.load(datasets["bundle"] / "masks.npy")[1][STROKE].any()
