"""Time to first slice when opening a folder of brain-tumour .mat files (the dataset has 3064).

Writes a folder of synthetic v7.3 cases (small 64x64 slices keep the generation quick; the cost
being measured is the per-file open, which does not depend on the image size), then times:

* ``core``: ``open_mat_stack`` (reads file headers for up to 0.5 s, the rest in the background)
  plus reading slice 0, and the time until every header is read;
* ``reader``: the napari reader hook, which also builds the layer data;
* ``viewer`` (with ``--viewer``): ``viewer.open(folder)`` in a real napari viewer, in a fresh
  process (so the plugin's first import counts), until the first slice is on screen (needs a
  display, e.g. ``xvfb-run -a``).

Run: ``python benchmarks/bench_open_folder.py [--files 3064] [--folder DIR] [--viewer]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from napari_radiomics import write_tumor_mat
from napari_radiomics.io.folder import FolderWarning, open_mat_stack
from napari_radiomics.io.synthetic import make_synthetic_slice


def make_folder(folder: Path, count: int) -> None:
    """``count`` cases like the dataset's layout; every 1000th is a half-size slice."""
    full = make_synthetic_slice(seed=0, shape=(64, 64))
    half = make_synthetic_slice(seed=1, shape=(32, 32))
    for i in range(1, count + 1):
        path = folder / f"{i}.mat"
        if not path.exists():
            write_tumor_mat(path, half if i % 1000 == 0 else full)


def time_core(folder: Path) -> tuple[float, bool, float]:
    """Seconds to the first slice, whether every header was read by then, seconds to all."""
    start = time.perf_counter()
    stack = open_mat_stack(folder)
    stack.image[0].compute()
    stack.mask[0].compute()
    first = time.perf_counter() - start
    complete = stack.scanned.is_set()
    stack.wait()
    return first, complete, time.perf_counter() - start


def time_reader(folder: Path) -> float:
    from napari_radiomics._napari._reader import get_reader

    start = time.perf_counter()
    reader = get_reader(str(folder))
    assert reader is not None
    layers = reader(str(folder))
    np.asarray(layers[1][0][0])  # the mask's first slice (read lazily; the image's too)
    return time.perf_counter() - start


def time_viewer(folder: Path) -> float:
    """Time ``viewer.open`` in a fresh process, so the plugin's import is paid as by a user."""
    result = subprocess.run(
        [sys.executable, __file__, "--viewer-only", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def _viewer_only(folder: Path) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    viewer.open(folder, plugin="napari-radiomics")
    QApplication.processEvents()
    elapsed = time.perf_counter() - start
    viewer.close()
    print(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3064)
    parser.add_argument("--folder", type=Path, help="reuse/keep the generated folder here")
    parser.add_argument("--viewer", action="store_true", help="also time a real napari viewer")
    parser.add_argument("--viewer-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer_only:
        _viewer_only(args.viewer_only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        make_folder(folder, args.files)
        print(f"folder of {args.files} v7.3 files ready in {time.perf_counter() - start:.1f} s")
        warnings.simplefilter("ignore", FolderWarning)  # the odd slices are intentional
        first, complete, scanned = time_core(folder)
        where = "before the first slice" if complete else "partly in the background"
        print(f"core   time to first slice: {first:.2f} s (headers read {where})")
        print(f"core   time to the full per-slice table: {scanned:.2f} s")
        print(f"reader time to first slice: {time_reader(folder):.2f} s")
        if args.viewer:
            print(f"viewer time to first slice: {time_viewer(folder):.2f} s")


if __name__ == "__main__":
    main()
