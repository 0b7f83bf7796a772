"""`maps` with worker processes, killed or cancelled: its workers (a forkserver's, or spawned)
end with it, at once."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.engine.maps import feature_maps
from napari_radiomics.errors import Cancelled, ExtractionError
from processes import HAS_PROC, descendants, exit_codes, running


def _sphere(folder: Path) -> tuple[Path, Path]:
    """A 3D image with a ROI of ~24,000 voxels: its GLCM maps take several parts per worker."""
    image = np.random.default_rng(0).normal(100, 20, (48, 48, 48))
    z, y, x = np.ogrid[:48, :48, :48]
    mask = ((z - 24) ** 2 + (y - 24) ** 2 + (x - 24) ** 2 < 18**2).astype(np.uint8)
    paths = folder / "image.nrrd", folder / "mask.nrrd"
    for array, path in zip((image, mask), paths, strict=True):
        sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return paths


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
def test_the_workers_of_a_killed_maps_run_end(tmp_path: Path) -> None:
    image, mask = _sphere(tmp_path)
    log = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "napari_radiomics.cli", "maps", str(image),
               "--mask", str(mask), "--features", "glcm", "--jobs", "2",
               "-o", str(tmp_path / "out")]  # fmt: skip
    with log.open("w") as stderr:
        caller = subprocess.Popen(command, stderr=stderr, start_new_session=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while not re.search(r"[1-9][0-9]*%", log.read_text()):  # a first part is done
            assert caller.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no part of the maps was done in 300 s"
            time.sleep(0.05)
        workers = descendants(caller.pid)
        assert len(workers) >= 2, workers
        caller.send_signal(signal.SIGKILL)  # the caller only: nobody stops its pool
        caller.wait(timeout=60)
        deadline = time.monotonic() + 60
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(running(pid) for pid in workers), "workers outlived their killed caller"
        # Nothing was written, no maps were finished: only the killed run's lock is there
        # (the kernel released it; the next run takes it over).
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["maps.lock"]
    finally:
        if caller.poll() is None:
            os.killpg(caller.pid, signal.SIGKILL)
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        caller.wait(timeout=60)


def test_cancelling_maps_terminates_their_workers_mid_part(tmp_path: Path) -> None:
    """Cancel (or Ctrl-C) stops the workers at once: they used to finish the parts in hand,
    whose maps nobody reads any more, and a command exiting waited for them."""
    image, mask = (sitk.ReadImage(str(path)) for path in _sphere(tmp_path))
    before = set(multiprocessing.active_children())
    workers: set[multiprocessing.Process] = set()

    def cancel_after_the_first_part(done: int, total: int, message: str) -> None:
        if done:
            workers.update(set(multiprocessing.active_children()) - before)
            raise Cancelled

    with pytest.raises(Cancelled):
        feature_maps(image, mask, features=["glcm"], progress=cancel_after_the_first_part, jobs=2)
    assert len(workers) == 2
    # A worker that finished its part and left on the pool's shutdown would say 0.
    assert exit_codes(workers) == [-signal.SIGTERM] * 2


def test_a_maps_worker_that_dies_is_a_clear_error(tmp_path: Path) -> None:
    """A worker killed mid-run (the out-of-memory killer, most often) is said as such, not as
    a BrokenProcessPool traceback from the standard library."""
    image, mask = (sitk.ReadImage(str(path)) for path in _sphere(tmp_path))
    before = set(multiprocessing.active_children())
    killed: list[int] = []

    def kill_a_worker_after_the_first_part(done: int, total: int, message: str) -> None:
        if done and not killed:
            worker = min(set(multiprocessing.active_children()) - before, key=lambda p: p.pid)
            os.kill(worker.pid, signal.SIGKILL)
            killed.append(worker.pid)

    died = "a worker process died while computing the glcm maps"
    with pytest.raises(ExtractionError, match=died):
        feature_maps(
            image, mask, features=["glcm"], progress=kill_a_worker_after_the_first_part, jobs=2
        )
    assert killed
