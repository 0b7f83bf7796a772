"""What saving corrections as the user paints costs, and how soon a stroke is safe.

* ``stroke``: a real napari Labels layer over a folder of 512x512 slices; a stroke is 25 brush
  dabs along a line (``Labels.paint``, as the mouse drag makes them). Reported: GUI-thread time
  spent on persistence per stroke (the mask's write hook, timed around every call), against
  the naive approach of saving the case synchronously on the GUI thread when the stroke ends.
* ``durable``: from the end of each stroke to the autosave thread's report that the mask and
  the review tables are on disk (median and maximum over the strokes).
* ``size``: bytes per correction in the store (the corrected .mat, which holds the image as the
  dataset's do, plus its review and log rows).
* ``open``: the reader hook on a 3064-file folder, to the first slice, without a store and with
  300 corrections in its store, each in a fresh process (``--open``; the folder's slices are
  64x64, as in ``bench_open_folder.py``: opening costs per file, not per pixel).

Run: ``xvfb-run -a python benchmarks/bench_corrections.py [--strokes 20] [--open]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_open_folder import make_folder
from napari_radiomics import write_tumor_mat
from napari_radiomics.corrections import session_for, stack_refs, store_dir_for
from napari_radiomics.io import open_mat_stack
from napari_radiomics.io.synthetic import make_synthetic_slice

DABS = 25


def strokes(folder: Path, count: int) -> None:
    import napari

    for i in range(count):
        write_tumor_mat(folder / f"{i + 1}.mat", make_synthetic_slice(seed=i, shape=(512, 512)))
    viewer = napari.Viewer(show=False)
    (layer,) = [
        x
        for x in viewer.open(str(folder), plugin="napari-radiomics")
        if x.ndim == 3 and x._type_string == "labels"
    ]
    session = session_for(layer.data)
    hook = layer.data.on_write
    spent: list[float] = []

    def timed(indices: list[int]) -> None:
        start = time.perf_counter()
        hook(indices)
        spent.append(time.perf_counter() - start)

    layer.data.on_write = timed
    saved: dict[int, float] = {}
    session.listeners.append(lambda i, event: saved.setdefault(i, time.perf_counter()))
    layer.brush_size = 9
    per_stroke, latency, naive = [], [], []
    for index in range(count):
        spent.clear()
        for dab in range(DABS):
            layer.paint((index, 40 + 4 * dab, 40 + 2 * dab), 1)
        end = time.perf_counter()
        per_stroke.append(sum(spent))
        while index not in saved:
            time.sleep(0.001)
        latency.append(saved[index] - end)
        # the naive approach: the same save, synchronously, on the GUI thread
        start = time.perf_counter()
        session.store.save(
            session.refs[index], layer.data.slice(index), layer.data.original(index)
        )
        naive.append(time.perf_counter() - start)
    root = store_dir_for(folder)
    mask_bytes = sum(p.stat().st_size for p in (root / "masks").iterdir()) / count
    table_bytes = sum((root / n).stat().st_size for n in ("review.csv", "log.csv")) / count
    ms = 1000.0
    print(
        f"stroke  GUI-thread persistence per stroke ({DABS} dabs, 512x512): median "
        f"{statistics.median(per_stroke) * ms:.3f} ms, 95th percentile "
        f"{np.percentile(per_stroke, 95) * ms:.3f} ms, max {max(per_stroke) * ms:.3f} ms"
    )
    print(
        f"stroke  naive synchronous save at stroke end: median "
        f"{statistics.median(naive) * ms:.1f} ms "
        f"({statistics.median(naive) / statistics.median(per_stroke):.0f}x the hook)"
    )
    print(
        f"durable stroke end -> on disk: median {statistics.median(latency):.3f} s, "
        f"max {max(latency):.3f} s (autosave delay {session.autosave.delay} s)"
    )
    print(f"size    per correction: {mask_bytes / 1024:.0f} KiB mask file + "
          f"{table_bytes:.0f} B of review/log rows")  # fmt: skip
    viewer.close()


def _first_slice(folder: str) -> None:
    from napari_radiomics._napari._reader import get_reader

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    layers = get_reader(folder)(folder)
    np.asarray(layers[1][0][0])
    np.asarray(layers[1][0][int(os.environ.get("BENCH_SLICE", "0"))])
    print(time.perf_counter() - start)


def opening(folder: Path, corrections: int) -> None:
    make_folder(folder, 3064)
    warnings.simplefilter("ignore")
    stores = folder.parent / "stores"

    def first_slice(home: Path) -> float:
        env = {**os.environ, "NAPARI_RADIOMICS_CORRECTIONS_HOME": str(home)}
        result = subprocess.run(
            [sys.executable, __file__, "--first-slice", str(folder)],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        return float(result.stdout.strip().splitlines()[-1])

    os.environ["NAPARI_RADIOMICS_CORRECTIONS_HOME"] = str(stores)
    from napari_radiomics.corrections import CorrectionStore

    stack = open_mat_stack(folder, scan_budget=None)
    refs = stack_refs(stack.slices)
    store = CorrectionStore(store_dir_for(folder), folder)
    for index in range(0, len(refs), len(refs) // corrections)[:corrections]:
        mask = np.asarray(stack.mask[index]).copy()
        mask[:4, :4] = 1
        store.save(refs[index], mask, np.asarray(stack.mask[index]))
    store.close()
    without = first_slice(folder.parent / "no-stores")
    with_store = first_slice(stores)
    print(f"open    3064 files, reader to first slice: {without:.2f} s without corrections, "
          f"{with_store:.2f} s with {corrections} in the store")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20)
    parser.add_argument("--open", action="store_true", help="also time opening 3064 files")
    parser.add_argument("--first-slice", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_slice:
        _first_slice(args.first_slice)
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NAPARI_RADIOMICS_CORRECTIONS_HOME"] = str(Path(tmp) / "stores")
        (Path(tmp) / "slices").mkdir()
        strokes(Path(tmp) / "slices", args.strokes)
        if args.open:
            (Path(tmp) / "dataset").mkdir()
            opening(Path(tmp) / "dataset", 300)


if __name__ == "__main__":
    main()
