"""Feature-map speed and memory: ``engine.maps.feature_maps`` against pyradiomics' voxel mode.

Run (pyradiomics' test cases in NAPARI_RADIOMICS_TEST_DATA):

    NAPARI_RADIOMICS_TEST_DATA=../shared/data/pyradiomics python benchmarks/bench_maps.py
    python benchmarks/bench_maps.py --large      # the 50,000-voxel ROI at radius 2, ours only
    python benchmarks/bench_maps.py --large --jobs 2   # the same in two worker processes
    python benchmarks/bench_maps.py --command          # `napari-radiomics maps`, files included
    python benchmarks/bench_maps.py --command --roi-voxels 477   # one ROI size only
    python benchmarks/bench_maps.py --radius 1 2       # each case at kernel radius 1, then 2

Same process, same inputs in memory, every texture class (firstorder, glcm, glrlm, glszm,
gldm, ngtdm), pyradiomics' default settings plus the kernel radius:

1. brain1 (4137 ROI voxels), radius 1 (``--radius``: each radius given):
   ``RadiomicsFeatureExtractor(params).execute(image, mask, voxelBased=True)`` vs
   ``feature_maps(image, mask, settings)``;
2. a 512x512 synthetic slice (``make_synthetic_slice``), the same radii: pyradiomics on the
   slice as a one-slice volume with force2D (its voxel mode refuses a 2D image) vs ours on the
   2D slice.

Each line asserts identical values (1e-9 relative on every ROI voxel of every map pyradiomics
computes; its glcm MCC fails and is left out) and prints both times, the ratio, and the peak
memory of the process after each side (each case in a fresh child process, ours first, so
the first peak is ours alone). Times are wall and CPU seconds (CPU is the fairer figure on a
machine shared with other work). ``--large`` maps a 50,000-voxel ellipsoid ROI in a 256x256x64
synthetic volume at radius 2 in a child process and prints its peak resident memory
(``--jobs N``: in N worker processes, started from a forkserver, so the peak printed is the
parent's alone; the maps are the same for any N).

``--command`` measures the whole command, files included, on a synthetic 512x512x48 CT
(int16, 0.7 x 0.7 x 2.5 mm, an oblique direction, a 3D ellipsoid ROI), radius 1, pyradiomics'
default features, once per ROI size of ``--roi-voxels`` (default: 477 voxels, the small ROI it
was first measured on, and about 4100, a tumour's size like brain1's 4137), each in its own
process: ``napari-radiomics maps`` in a fresh process (start-up included) and the same command
in this process, against pyradiomics' voxel run as its own ``pyradiomics --mode voxel`` does it
in a fresh process, and in this process (``execute(voxelBased=True)``, then each map written
compressed with ``sitk.WriteImage(map, path, True)``), after one untimed run of the command in
this process (so neither side pays this process's first use of SimpleITK's readers or numpy's
lazily imported parts), and ``maps --single-file`` both ways too. The fresh processes run as
from an installed package (bytecode cached, see ``installed_like``), each command once untimed
first.
It asserts that every map written by either run of the command, read back with SimpleITK,
holds pyradiomics' values (1e-9) at the same physical points, and prints the peak memory of
each fresh process and of this process after each side, and the load average. It also prints
the start-up both fresh commands pay (a fresh interpreter importing numpy, SimpleITK and
pyradiomics' extractor) and the ratio of what is left beyond it, and pyradiomics' own read of
the image and mask in this process (its in-process time counts from the images in memory,
ours from the files).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.cli.maps import SINGLE_NAME
from napari_radiomics.engine.maps import feature_maps, voxel_settings
from napari_radiomics.io import make_synthetic_slice
from napari_radiomics.io.medical import MAPS_FEATURES_FIELD
from napari_radiomics.settings import ExtractionSettings

CLASSES = {name: [] for name in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}


def peak_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(what: str, image: sitk.Image, mask: sitk.Image, radius: int) -> None:
    settings = voxel_settings(ExtractionSettings(feature_classes=CLASSES), radius)
    start, cpu = time.perf_counter(), time.process_time()
    ours = feature_maps(image, mask, settings)
    ours_time, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    ours_peak = peak_mib()
    two_d = image.GetDimension() == 2
    volume, volume_mask = (
        (sitk.JoinSeries([image]), sitk.JoinSeries([mask])) if two_d else (image, mask)
    )
    params = {
        "setting": {"force2D": two_d},
        "featureClass": CLASSES,
        "voxelSetting": {"kernelRadius": radius},
    }
    start, cpu = time.perf_counter(), time.process_time()
    result = RadiomicsFeatureExtractor(params).execute(volume, volume_mask, voxelBased=True)
    theirs_time, theirs_cpu = time.perf_counter() - start, time.process_time() - cpu
    roi = sitk.GetArrayViewFromImage(mask) == 1
    checked = 0
    for name, feature_map in ours.items():
        if name == "original_glcm_MCC":
            continue
        reference = result[name]
        array = sitk.GetArrayFromImage(reference)
        offset = volume.TransformPhysicalPointToIndex(reference.GetOrigin())[::-1]
        full = np.full(sitk.GetArrayViewFromImage(volume).shape, np.nan)
        full[tuple(slice(o, o + n) for o, n in zip(offset, array.shape, strict=True))] = array
        full = full[0] if two_d else full
        theirs = full[roi]
        scale = np.nanmax(np.abs(theirs)) if np.isfinite(theirs).any() else 0.0
        np.testing.assert_allclose(
            feature_map.array()[roi], theirs, rtol=1e-9, atol=1e-9 * scale, equal_nan=True,
            err_msg=name,
        )  # fmt: skip
        checked += 1
    print(
        f"{what}: {int(roi.sum())} voxels, radius {radius}, {checked} maps identical | wall / "
        f"CPU: pyradiomics {theirs_time:.2f} / {theirs_cpu:.2f} s, ours {ours_time:.2f} / "
        f"{ours_cpu:.2f} s, {theirs_time / ours_time:.1f}x / {theirs_cpu / ours_cpu:.1f}x"
        f" | peak memory after ours {ours_peak:.0f} MiB, after pyradiomics {peak_mib():.0f} MiB",
        flush=True,
    )


def large(jobs: int) -> None:
    """Ours alone on a 50,000-voxel ROI at radius 2 (pyradiomics would need hours)."""
    rng = np.random.default_rng(0)
    shape = (64, 256, 256)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    radii = (16.0, 27.5, 27.5)
    inside = ((z - 32) / radii[0]) ** 2 + ((y - 128) / radii[1]) ** 2 + ((x - 128) / radii[2]) ** 2
    mask_array = (inside <= 1).astype(np.uint8)
    image_array = (rng.normal(500, 80, shape) + 300.0 * mask_array).astype(np.float32)
    image, mask = sitk.GetImageFromArray(image_array), sitk.GetImageFromArray(mask_array)
    settings = voxel_settings(ExtractionSettings(feature_classes=CLASSES), kernel_radius=2)
    start = time.perf_counter()
    maps = feature_maps(image, mask, settings, jobs=jobs)
    print(
        f"large: {int(mask_array.sum())} voxels, radius 2, {len(maps)} maps, --jobs {jobs}, in "
        f"{time.perf_counter() - start:.0f} s, peak resident memory {peak_mib():.0f} MiB"
    )


#: The ROI sizes ``--command`` maps by default: the small ROI it was first measured on, and a
#: tumour's size (brain1's ROI has 4137 voxels), as a 512x512x48 CT's segmentation has it.
ROI_VOXELS = (477, 4137)


def synthetic_ct_arrays(roi_voxels: int = ROI_VOXELS[0]) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic CT's voxels (int16, z, y, x: 48 x 512 x 512, HU-like noise in an
    elliptic body) and its ROI (uint8: a 2.6 x 6.5 x 6.5-voxel ellipsoid of 477 voxels, scaled
    to about ``roi_voxels``). Two glcm parity tests keep a kernel of it as numbers."""
    rng = np.random.default_rng(0)
    shape = (48, 512, 512)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    body = ((y - 256) / 200.0) ** 2 + ((x - 256) / 230.0) ** 2 <= 1
    grow = (roi_voxels / ROI_VOXELS[0]) ** (1 / 3)
    rz, ryx = 2.6 * grow, 6.5 * grow
    roi = ((z - 24) / rz) ** 2 + ((y - 300) / ryx) ** 2 + ((x - 200) / ryx) ** 2 <= 1
    hu = np.where(body, rng.normal(40, 20, shape), -1000.0) + 30.0 * roi
    return hu.astype(np.int16), roi.astype(np.uint8)


def synthetic_ct(folder: Path, roi_voxels: int = ROI_VOXELS[0]) -> tuple[Path, Path]:
    """A CT-like 512x512x48 volume with an ellipsoid 3D ROI of about ``roi_voxels`` voxels
    (:func:`synthetic_ct_arrays`), written as NRRD (image, mask)."""
    hu, roi = synthetic_ct_arrays(roi_voxels)
    image = sitk.GetImageFromArray(hu)
    mask = sitk.GetImageFromArray(roi)
    angle = np.deg2rad(10)  # a tilted gantry: the direction is not the identity
    direction = (
        1.0,
        0.0,
        0.0,
        0.0,
        np.cos(angle),
        -np.sin(angle),
        0.0,
        np.sin(angle),
        np.cos(angle),
    )
    for each in (image, mask):
        each.SetSpacing((0.7, 0.7, 2.5))
        each.SetOrigin((-180.0, -200.0, -60.0))
        each.SetDirection(direction)
    paths = folder / "ct.nrrd", folder / "ct_label.nrrd"
    sitk.WriteImage(image, str(paths[0]), True)
    sitk.WriteImage(mask, str(paths[1]), True)
    return paths


#: Run first by each fresh process: at exit, its peak resident memory since it started
#: (Linux's VmHWM; ``wait4``'s maxrss would count the parent's memory copied at fork).
_REPORT_PEAK = (
    "import atexit, os, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kib = next(int(line.split()[1]) for line in status if line.startswith('VmHWM'))\n"
    "    print(f'peak {kib / 1024:.0f}', file=sys.stderr)\n"
    "atexit.register(_peak)\n"
)
#: pyradiomics' own command line (its ``pyradiomics`` entry point), in a fresh interpreter.
_PYRADIOMICS_CLI = (
    _REPORT_PEAK + "from radiomics.scripts import parse_args\nsys.exit(parse_args())\n"
)
#: What every fresh run of either command imports before any work: the floor of both.
_SHARED_IMPORTS = "import numpy, SimpleITK, radiomics.featureextractor\n"
#: ``napari-radiomics`` (its entry point), in a fresh interpreter.
_OUR_CLI = _REPORT_PEAK + "from napari_radiomics.cli import main\nsys.exit(main())\n"


def end_to_end(roi_voxels: int) -> None:
    """`napari-radiomics maps` end to end against pyradiomics' voxel run with its files, on the
    synthetic CT with a ROI of about ``roi_voxels`` voxels."""
    from napari_radiomics.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image_path, mask_path = synthetic_ct(folder, roi_voxels)
        argv = ["maps", str(image_path), "--mask", str(mask_path), "-q"]
        env = installed_like(folder / "pycache")
        ours_fresh = [sys.executable, "-c", _OUR_CLI, *argv, "-o"]
        theirs_fresh = [sys.executable, "-c", _PYRADIOMICS_CLI, str(image_path), str(mask_path),
                        "--mode", "voxel", "--verbosity", "1", "--out-dir"]  # fmt: skip
        for command in ours_fresh, theirs_fresh:  # once untimed: bytecode cached, disk warm
            in_child([*command, str(folder / "warm" / Path(command[2]).name[:8])], env)
        fresh = in_child([*ours_fresh, str(folder / "f")], env)
        cli = in_child([*theirs_fresh, str(folder / "cli")], env)
        floor = in_child([sys.executable, "-c", _REPORT_PEAK + _SHARED_IMPORTS], env)
        fresh_single = in_child([*ours_fresh, str(folder / "f1"), "--single-file"], env)
        cli_main([*argv, "-o", str(folder / "warm" / "in_process")])  # once untimed, as above
        ours = timed(lambda: cli_main([*argv, "-o", str(folder / "ours")]))
        single = timed(lambda: cli_main([*argv, "-o", str(folder / "one"), "--single-file"]))
        ours_peak = peak_mib()
        inputs: list[sitk.Image] = []
        paths = image_path, mask_path
        read = timed(lambda: inputs.extend(sitk.ReadImage(str(path)) for path in paths))
        image, mask = inputs
        result: dict = {}
        computed = timed(
            lambda: result.update(
                RadiomicsFeatureExtractor().execute(image, mask, voxelBased=True)
            )
        )
        (folder / "theirs").mkdir()
        files = timed(
            lambda: [
                sitk.WriteImage(value, str(folder / "theirs" / f"{name}.nrrd"), True)
                for name, value in result.items()
                if isinstance(value, sitk.Image)
            ]
        )
        theirs = computed[0] + files[0], computed[1] + files[1]
        written = sorted((folder / "ours").glob("*.nrrd"))
        checked = check_alignment(folder / "ours", image, mask, result)
        checked_fresh = check_alignment(folder / "f", image, mask, result)
        checked_single = sum(
            check_alignment(folder / name, image, mask, result) for name in ("one", "f1")
        )
        size = sum(p.stat().st_size for p in written) / 2**20
        print(
            f"command: 512x512x48 CT, {int(np.sum(sitk.GetArrayViewFromImage(mask)))} ROI voxels, "
            f"radius 1, {len(written)} maps ({size:.1f} MiB); {checked} maps in process and "
            f"{checked_fresh} fresh (--single-file: {checked_single} in two runs) equal to "
            f"pyradiomics' at the same physical points\n"
            f"  wall / cpu seconds (peak memory), and pyradiomics' time / ours:\n"
            f"  pyradiomics CLI --mode voxel, fresh process  {cli[0]:6.2f} / {cli[1]:6.2f}  "
            f"({cli[2]:.0f} MiB)\n"
            f"  `maps`, fresh process                         {fresh[0]:6.2f} / {fresh[1]:6.2f}  "
            f"({fresh[2]:.0f} MiB)  {cli[0] / fresh[0]:5.1f}x / {cli[1] / fresh[1]:5.1f}x\n"
            f"  `maps --single-file`, fresh process           {fresh_single[0]:6.2f} / "
            f"{fresh_single[1]:6.2f}  ({fresh_single[2]:.0f} MiB)  "
            f"{cli[0] / fresh_single[0]:5.1f}x / {cli[1] / fresh_single[1]:5.1f}x\n"
            f"  pyradiomics execute + files, this process    {theirs[0]:6.2f} / {theirs[1]:6.2f}  "
            f"(execute {computed[0]:.2f} / {computed[1]:.2f}, "
            f"files {files[0]:.2f} / {files[1]:.2f})\n"
            f"  `maps` (cli.main), this process              {ours[0]:6.2f} / {ours[1]:6.2f}  "
            f"{theirs[0] / ours[0]:5.1f}x / {theirs[1] / ours[1]:5.1f}x "
            f"(pyradiomics' read of image and mask, not counted: {read[0]:.2f} / {read[1]:.2f})\n"
            f"  `maps --single-file`, this process           {single[0]:6.2f} / "
            f"{single[1]:6.2f}  {theirs[0] / single[0]:5.1f}x / {theirs[1] / single[1]:5.1f}x "
            f"\n"
            f"  start-up both commands pay (a fresh python importing numpy, SimpleITK and "
            f"pyradiomics' extractor): {floor[0]:.2f} / {floor[1]:.2f}; beyond it, CPU: "
            f"pyradiomics {cli[1] - floor[1]:.2f}, `maps` {fresh[1] - floor[1]:.2f} "
            f"({(cli[1] - floor[1]) / (fresh[1] - floor[1]):.1f}x); a fresh `maps` at 10x "
            f"would take {cli[1] / 10:.2f} s of CPU in all\n"
            f"  peak memory of this process after ours {ours_peak:.0f} MiB, then pyradiomics "
            f"{peak_mib():.0f} MiB; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``work`` in this process (the CPU time is the fairer figure on a
    machine shared with other work)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def installed_like(cache: Path) -> dict[str, str]:
    """The environment of the fresh processes: this one's, with Python's bytecode cached (in
    ``cache``) as for an installed package. pip compiles a package's modules when it installs
    it, so pyradiomics starts from bytecode; an environment with PYTHONDONTWRITEBYTECODE (this
    machine's) made every fresh ``maps`` compile this package from source (~0.1 s) instead."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(cache)}


def in_child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall and CPU (user + system) seconds of a fresh process running ``command`` (its own,
    from ``wait4``), and the peak resident MiB it reports (``_REPORT_PEAK``)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    stderr = child.stderr.read() if child.stderr is not None else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command, stderr=stderr)
    peak = next(float(line.split()[1]) for line in stderr.splitlines() if line.startswith("peak "))
    return wall, usage.ru_utime + usage.ru_stime, peak


def written_maps(folder: Path) -> dict[str, sitk.Image]:
    """The maps a `maps` run wrote to ``folder``, read back with SimpleITK: one file per
    feature, or each component of a ``--single-file`` run's file (its header names them)."""
    single = folder / SINGLE_NAME
    if single.exists():
        image = sitk.ReadImage(str(single))
        names = image.GetMetaData(MAPS_FEATURES_FIELD).split()
        return {name: sitk.VectorIndexSelectionCast(image, i) for i, name in enumerate(names)}
    paths = sorted(folder.glob("*.nrrd"))
    return {path.name.removesuffix(".nrrd"): sitk.ReadImage(str(path)) for path in paths}


def check_alignment(folder: Path, image: sitk.Image, mask: sitk.Image, result: dict) -> int:
    """Each map written to ``folder``, read back, holds pyradiomics' value at the physical
    point of every ROI voxel, with the image's spacing and direction; returns how many maps
    were compared."""
    roi = np.argwhere(sitk.GetArrayViewFromImage(mask) == 1)[:, ::-1].tolist()
    points = [image.TransformIndexToPhysicalPoint(index) for index in roi]
    checked = 0
    for name, ours_map in written_maps(folder).items():
        if name not in result:  # glcm MCC where pyradiomics' voxel batch fails
            continue
        reference = result[name]
        for each in (ours_map, reference):
            assert each.GetSpacing() == image.GetSpacing()
            assert each.GetDirection() == image.GetDirection()
        ours_values = [ours_map[ours_map.TransformPhysicalPointToIndex(p)] for p in points]
        their_values = [reference[reference.TransformPhysicalPointToIndex(p)] for p in points]
        np.testing.assert_allclose(ours_values, their_values, rtol=1e-9, atol=1e-12, err_msg=name)
        checked += 1
    return checked


def case(name: str) -> tuple[sitk.Image, sitk.Image]:
    """The image and mask of ``name``: "slice" or one of pyradiomics' cases."""
    if name == "slice":
        tumour = make_synthetic_slice(seed=0)
        return (
            sitk.GetImageFromArray(tumour.image.astype(np.float64)),
            sitk.GetImageFromArray(tumour.mask.astype(np.uint8)),
        )
    folder = Path(os.environ["NAPARI_RADIOMICS_TEST_DATA"])
    return (
        sitk.ReadImage(str(folder / f"{name}_image.nrrd")),
        sitk.ReadImage(str(folder / f"{name}_label.nrrd")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="the 50,000-voxel ROI only")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for --large")
    parser.add_argument("--command", action="store_true", help="`maps` end to end, files too")
    parser.add_argument(
        "--roi-voxels", type=int, nargs="+", default=list(ROI_VOXELS), metavar="N",
        help=f"--command: ROI sizes of the synthetic CT, each its own run (default {ROI_VOXELS})",
    )  # fmt: skip
    parser.add_argument(
        "--radius", type=int, nargs="+", default=[1], help="kernel radii of the compared cases"
    )
    parser.add_argument(
        "--child", choices=("large", "slice", "brain1", "command"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.CRITICAL)  # MCC's traceback
    if args.child == "large":
        large(args.jobs)
    elif args.child == "command":
        end_to_end(args.roi_voxels[0])
    elif args.child:
        names = {"slice": "512x512 slice", "brain1": "brain1"}
        compare(names[args.child], *case(args.child), args.radius[0])
    else:  # each in a fresh process, so every peak is that run's own
        if args.command:
            runs = [("command", ["--roi-voxels", str(n)]) for n in args.roi_voxels]
        elif args.large:
            runs = [("large", ["--radius", "2"])]
        else:
            runs = [
                (name, ["--radius", str(radius)]) for radius in args.radius
                for name in ("slice", "brain1")
            ]  # fmt: skip
        for child, extra in runs:
            command = [sys.executable, __file__, "--child", child, "--jobs", str(args.jobs)]
            subprocess.run([*command, *extra], check=True)


if __name__ == "__main__":
    main()
