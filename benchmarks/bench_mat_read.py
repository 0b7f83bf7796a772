"""Reading one brain-tumour `.mat` slice: `read_tumor_mat` against plain h5py.

Writes N synthetic 512x512 slices as MATLAB v7.3 files (the dataset's layout, as
`write_tumor_mat` and MATLAB store it: image and mask deflate-compressed in chunks) into a
temporary folder, then times, in the same process, per slice:

  (a) naive h5py: `h5py.File`, the image and the mask as arrays, transposed (what the seed
      workflow did; no field checked, no label, PID or border);
  (b) the full reader: h5py's high-level objects and zlib for every field, with every check
      (`read_tumor_mat` before the direct chunk reader; still its route for unusual files);
  (c) `read_tumor_mat`: every field and every check; the file read once and walked directly,
      compressed chunks inflated with ISA-L (`io/_hdf5_bytes.py`);
  (d) the floor of (c): only inflating the image's and the mask's chunks with ISA-L, their
      bytes already in memory (what no reader of these files can skip).

Each is the best of R rounds over the N files (the best round is the least disturbed by other
work on the machine), printed as wall and CPU milliseconds per slice with the ratios to (c),
plus the process's peak resident memory. The first round warms the page cache.

    python benchmarks/bench_mat_read.py            # 100 slices, best of 3 rounds
    python benchmarks/bench_mat_read.py --n 20     # a quick check
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
from isal import isal_zlib

from napari_radiomics.io._mat_fields import _read_fields_hdf5
from napari_radiomics.io.mat import _tumor_slice, read_tumor_mat, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice


def naive(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        return np.array(f["cjdata/image"]).T, np.array(f["cjdata/tumorMask"]).T


def full_reader(path: Path) -> object:
    return _tumor_slice(path, _read_fields_hdf5(path), False)


def chunks_of(path: Path) -> list[bytes]:
    """The image's and the mask's compressed chunks, as stored."""
    with h5py.File(path, "r") as f:
        found = []
        for name in ("image", "tumorMask"):
            dataset = f["cjdata"][name].id
            for index in range(dataset.get_num_chunks()):
                found.append(
                    dataset.read_direct_chunk(dataset.get_chunk_info(index).chunk_offset)[1]
                )
        return found


def best_ms(paths: list[Path], read: Callable[[Path], object], rounds: int) -> tuple[float, float]:
    """The best round's wall and CPU milliseconds per slice (the CPU time is the fairer figure
    on a machine shared with other work)."""
    wall = cpu = float("inf")
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for path in paths:
            read(path)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return 1e3 * wall / len(paths), 1e3 * cpu / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of slices (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="best of R rounds (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [
            write_tumor_mat(
                Path(tmp) / f"{i + 1}.mat", make_synthetic_slice(seed=i, label=i % 3 + 1)
            )
            for i in range(args.n)
        ]
        for path in paths[:3]:  # the same pixels whichever way they are read
            fast, plain = read_tumor_mat(path), naive(path)
            assert np.array_equal(fast.image, plain[0])
            assert np.array_equal(fast.mask, plain[1])
        times = {
            "(a) naive h5py, image and mask only": best_ms(paths, naive, args.rounds),
            "(b) full reader, h5py + zlib, all fields checked": best_ms(
                paths, full_reader, args.rounds
            ),
            "(c) read_tumor_mat, all fields checked": best_ms(paths, read_tumor_mat, args.rounds),
        }
        chunks = {path: chunks_of(path) for path in paths}
        times["(d) the floor: inflating the chunks alone"] = best_ms(
            paths, lambda path: [isal_zlib.decompress(c) for c in chunks[path]], args.rounds
        )
    ours = times["(c) read_tumor_mat, all fields checked"]
    print(f"{args.n} synthetic 512x512 v7.3 slices, best of {args.rounds} rounds")
    print(f"{'':<52} {'wall':>6}  {'cpu':>6} ms/slice, and x of (c)")
    for label, (wall, cpu) in times.items():
        print(
            f"{label:<52} {wall:6.2f}  {cpu:6.2f}  {wall / ours[0]:5.2f}x  {cpu / ours[1]:5.2f}x"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
