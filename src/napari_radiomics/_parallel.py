"""Shape features on a second core while the texture classes run on this one.

pyradiomics' shape coefficients (marching-cubes surface, volume and the all-pairs maximum
diameters, in C, holding the GIL) are the most expensive feature class for a large ROI: about
as long as all texture classes together on pyradiomics' brain1 case. They depend on the mask
alone, so after a mask edit they must be recomputed; a worker process lets that happen at the
same time as the texture classes. The worker runs the very same pyradiomics code on the same
arrays, so the numbers are the same.

The worker is a plain ``python`` subprocess speaking pickle over its stdin/stdout (unlike
``multiprocessing`` it never re-imports the user's main script, so scripts need no
``if __name__ == "__main__"`` guard, and it is safe next to Qt). It is started in the
background, used only once it has imported pyradiomics, only for ROIs big enough to repay the
hand-over, only on a machine with more than one core, and only by one caller at a time. Any
failure falls back to computing in this process.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from napari_radiomics._pipeline import shape_features_from_arrays

#: ROIs whose bounding box holds fewer voxels are computed in-process (hand-over costs ~1 ms).
MIN_PARALLEL_VOXELS = 4000

_READY = b"R"
_HEADER = struct.Struct("<Q")


def _write(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise EOFError("shape worker closed its output")
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve() -> None:
    """Worker main loop: read argument tuples, answer ``("ok", values)`` or ``("error", msg)``."""
    import radiomics.shape  # noqa: F401 - the slow import happens before "ready"

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(_READY)
    stdout.flush()
    while True:
        try:
            args = _read(stdin)
        except EOFError:
            return
        try:
            _write(stdout, ("ok", shape_features_from_arrays(*args)))
        except Exception as err:  # reported to the caller, who recomputes in-process
            _write(stdout, ("error", repr(err)))


class _Worker:
    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        code = (
            f"import sys; sys.path.insert(0, {package_root!r}); "
            "from napari_radiomics._parallel import serve; serve()"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.ready = False
        self.lock = threading.Lock()

    def is_ready(self) -> bool:
        if not self.ready and self.process.poll() is None:
            out = self.process.stdout
            assert out is not None
            if select.select([out], [], [], 0)[0]:
                self.ready = out.read(1) == _READY
        return self.ready and self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_worker: _Worker | None = None


def start() -> None:
    """Start the worker in the background (no-op on a single-core machine or if started)."""
    global _worker
    if _worker is None and (os.cpu_count() or 1) >= 2:
        _worker = _Worker()
        atexit.register(_worker.close)


def shape_async(*args: Any) -> Callable[[], dict[str, Any]]:
    """Start ``shape_features_from_arrays(*args)``; call the returned function for the result."""
    mask, features = args[1], args[5]
    wanted = any(name.startswith("shape") for name in features)
    worker = _worker
    if (
        wanted
        and mask.size >= MIN_PARALLEL_VOXELS
        and worker is not None
        and worker.lock.acquire(blocking=False)
    ):
        try:
            if worker.is_ready():
                return _submit(worker, args)
        except (OSError, EOFError, pickle.PickleError):
            worker.close()
        worker.lock.release()
    values = shape_features_from_arrays(*args)
    return lambda: values


def _submit(worker: _Worker, args: tuple) -> Callable[[], dict[str, Any]]:
    """Send one request. ``worker.lock`` (held by the caller) stays held until the answer is
    read, so callers must always call the returned function (also when cancelled)."""
    stdin, stdout = worker.process.stdin, worker.process.stdout
    assert stdin is not None
    assert stdout is not None
    _write(stdin, args)
    done: dict[str, Any] = {}

    def result() -> dict[str, Any]:
        if "values" not in done:
            try:
                status, payload = _read(stdout)
            except (OSError, EOFError, pickle.PickleError):
                worker.close()
                status, payload = "error", None
            finally:
                worker.lock.release()
            done["values"] = payload if status == "ok" else shape_features_from_arrays(*args)
        return done["values"]

    return result
