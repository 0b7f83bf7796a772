"""How much memory one computation may take, checked from sizes before anything is allocated.

A hostile or mistaken input (a kernel radius of 300 on a 512x512 slice, a 1000^3 volume, a
million perturbations) would otherwise allocate until the machine swaps or the process is
killed, losing whatever else it held. So the computations that grow with their inputs (feature
maps, perturbations) estimate their memory from the sizes first and refuse past one limit, in
one place: :data:`DEFAULT_MAX_MEMORY`, or the environment variable :data:`MEMORY_ENV`, which
the message names. Worker processes are bounded the same way (:func:`max_jobs`): each holds
pyradiomics and its cases, so ``--jobs 1000`` would exhaust memory long before it helped. The
readers' own bounds (``io``: at most so many values in a declared
array) are about what a file may claim to hold, not about memory, and stay with them.
"""

from __future__ import annotations

import os
import re

from napari_radiomics.errors import SettingsError

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "JOBS_PER_CPU",
    "MEMORY_ENV",
    "format_bytes",
    "max_jobs",
    "max_memory",
    "memory_problem",
    "usable_cpus",
]

#: The environment variable that sets the limit: bytes, or a number with a binary unit
#: (``16GiB``, ``16G``, ``512MiB``).
MEMORY_ENV = "NAPARI_RADIOMICS_MAX_MEMORY"
#: The limit without it: what a laptop that runs napari can usually give one computation.
DEFAULT_MAX_MEMORY = 8 << 30

#: Worker processes per usable CPU at most: a few more than the CPUs can hide I/O waits;
#: beyond that each worker only adds its memory (pyradiomics and a case, 200-400 MiB).
JOBS_PER_CPU = 4

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def max_memory() -> int:
    """The limit in bytes: :data:`MEMORY_ENV` when set, else :data:`DEFAULT_MAX_MEMORY`."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_MEMORY
    match = _AMOUNT.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise SettingsError(
            f"{MEMORY_ENV}={text!r}: expected an amount of memory such as 16GiB, 512MiB or a "
            "number of bytes"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_bytes(count: float) -> str:
    """``5.5 GiB``: an amount of memory as people read it."""
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} TiB"


def memory_problem(what: str, needed: float, smaller: str, mostly: str = "") -> str | None:
    """None when ``needed`` bytes fit the limit; else the message that refuses ``what``
    (``"feature maps of ROI label 1"``), stating the estimate (``mostly`` for what), the limit,
    how to raise it, and ``smaller``: how to ask for less (``"use a smaller kernelRadius"``)."""
    limit = max_memory()
    if needed <= limit:
        return None
    why = f" (mostly for {mostly})" if mostly else ""
    return (
        f"{what} would need about {format_bytes(needed)} of memory{why}, more than the limit of "
        f"{format_bytes(limit)}, so nothing was allocated: {smaller}, or raise the limit with "
        f"the environment variable {MEMORY_ENV} (e.g. {MEMORY_ENV}=64GiB) on a machine that "
        "has the memory"
    )


def usable_cpus() -> int:
    """The CPUs this process may use (respects affinity masks and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def max_jobs() -> int:
    """The most worker processes a run may start here: :data:`JOBS_PER_CPU` per usable CPU."""
    return JOBS_PER_CPU * usable_cpus()
