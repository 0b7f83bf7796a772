"""Reading one brain-tumour `.mat` slice: `read_tumor_mat` against plain h5py.

Writes N synthetic 512x512 slices as MATLAB v7.3 files (the dataset's layout, as
`write_tumor_mat` and MATLAB store it: image and mask deflate-compressed in chunks) into a
temporary folder, then times, in the same process and on the same files, per slice:

  (a) naive h5py: `h5py.File`, the image and the mask as arrays, transposed (what the seed
      workflow did; no field checked, no label, PID or border);
  (b) the full reader: h5py's high-level objects and zlib for every field, with every check
      (`read_tumor_mat`'s route for files in any other form than MATLAB's);
  (c) `read_tumor_mat`: every field and every check; the file read once and walked directly,
      compressed chunks inflated with libdeflate (the `deflate` package, `io/_hdf5_bytes.py`);
  (d) the floor of (c): only inflating the image's and the mask's chunks with libdeflate, their
      bytes already in memory (what no reader of these files can skip); ISA-L (the reader's
      inflater before) and zlib beside it for comparison, and ISA-L's minus libdeflate's time
      in each round (the two paired in one round, so the load hits both alike);
  (e) the benchmark's own loop over the files, reading nothing (what every figure includes).

The readers take turns within each round (a, b, c, d, ...; the next round starts with the next
reader), so a change of load on the shared machine hits them alike. Printed per reader: the
best and the median round's CPU time per slice (CPU is the fairer figure on a shared machine;
the best round's wall time beside it), the spread of the rounds (max - min, as a percentage of
the median), and the ratio of (a) to (c) in each round. Then whether (a) and (c) gave the same
pixels for every file, the load average before and after, and the process's peak memory.

    python benchmarks/bench_mat_read.py            # 100 slices, 7 rounds, about a minute
    python benchmarks/bench_mat_read.py --n 20 --rounds 3     # a quick check
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import deflate
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


def chunks_of(path: Path) -> list[tuple[bytes, int]]:
    """The image's and the mask's compressed chunks as stored, with their inflated sizes."""
    with h5py.File(path, "r") as f:
        found = []
        for name in ("image", "tumorMask"):
            dataset = f["cjdata"][name].id
            size = int(np.prod(dataset.get_create_plist().get_chunk())) * dataset.dtype.itemsize
            for index in range(dataset.get_num_chunks()):
                offset = dataset.get_chunk_info(index).chunk_offset
                found.append((dataset.read_direct_chunk(offset)[1], size))
        return found


def round_ms(paths: list[Path], read: Callable[[Path], object]) -> tuple[float, float]:
    """One round over the files: wall and CPU milliseconds per slice."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for path in paths:
        read(path)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return 1e3 * wall / len(paths), 1e3 * cpu / len(paths)


def readers(paths: list[Path]) -> dict[str, Callable[[Path], object]]:
    chunks = {path: chunks_of(path) for path in paths}
    return {
        "(a) naive h5py, image and mask only": naive,
        "(b) full reader, h5py + zlib, all fields checked": full_reader,
        "(c) read_tumor_mat, all fields checked": read_tumor_mat,
        "(d) floor: inflating the chunks alone, libdeflate": lambda path: [
            deflate.zlib_decompress(c, n) for c, n in chunks[path]
        ],
        "    the same with ISA-L": lambda path: [
            isal_zlib.decompress(c, bufsize=n) for c, n in chunks[path]
        ],
        "    the same with zlib": lambda path: [
            zlib.decompress(c, bufsize=n) for c, n in chunks[path]
        ],
        "(e) the benchmark's loop alone": lambda path: None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of slices (default 100)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [
            write_tumor_mat(
                Path(tmp) / f"{i + 1}.mat", make_synthetic_slice(seed=i, label=i % 3 + 1)
            )
            for i in range(args.n)
        ]
        equal = 0
        for path in paths:  # the same pixels whichever way they are read (and a warm cache)
            fast, plain = read_tumor_mat(path), naive(path)
            equal += np.array_equal(fast.image, plain[0]) and np.array_equal(fast.mask, plain[1])
        ways = readers(paths)
        names = list(ways)
        rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for index in range(args.rounds):
            for name in names[index % len(names) :] + names[: index % len(names)]:
                rounds[name].append(round_ms(paths, ways[name]))
    load_after = os.getloadavg()
    print(
        f"{args.n} synthetic 512x512 v7.3 slices, {args.rounds} interleaved rounds; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(f"{'CPU ms per slice':<50} {'best':>6} {'median':>7} {'spread':>7} {'wall best':>10}")
    for name in names:
        cpu = [c for _, c in rounds[name]]
        spread = 100 * (max(cpu) - min(cpu)) / statistics.median(cpu)
        print(
            f"{name:<50} {min(cpu):6.3f} {statistics.median(cpu):7.3f} {spread:6.0f}% "
            f"{min(w for w, _ in rounds[name]):10.3f}"
        )
    naive_cpu = [c for _, c in rounds[names[0]]]
    ours_cpu = [c for _, c in rounds[names[2]]]
    floor_cpu = [c for _, c in rounds[names[3]]]
    isal_cpu = [c for _, c in rounds[names[4]]]
    ratios = [a / c for a, c in zip(naive_cpu, ours_cpu, strict=True)]
    beside = [c - d for c, d in zip(ours_cpu, floor_cpu, strict=True)]
    print(f"(c) faster than (a), CPU, per round: {', '.join(f'{r:.2f}x' for r in ratios)}")
    print(
        f"(c) - (d), what is not inflating, per round: {', '.join(f'{b:.2f}' for b in beside)} ms"
    )
    gains = [i - d for i, d in zip(isal_cpu, floor_cpu, strict=True)]
    print(
        f"ISA-L - libdeflate, inflating alone, per round: {', '.join(f'{g:.2f}' for g in gains)}"
        f" ms (libdeflate faster in {sum(g > 0 for g in gains)} of {len(gains)} rounds)"
    )
    print(
        f"(c) within 2 ms: best round {'yes' if min(ours_cpu) <= 2 else 'NO'}, "
        f"{sum(c <= 2 for c in ours_cpu)} of {len(ours_cpu)} rounds"
    )
    print(f"(a) and (c) equal pixels: {equal} of {len(paths)} files")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
