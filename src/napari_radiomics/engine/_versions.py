"""The library versions a result's provenance names."""

from __future__ import annotations

import functools
import platform
from importlib import metadata as importlib_metadata

import numpy as np
import SimpleITK as sitk


def library_versions() -> dict[str, str]:
    """napari-radiomics, pyradiomics, SimpleITK, NumPy and Python, as installed."""
    return dict(_installed())


@functools.cache
def _installed() -> tuple[tuple[str, str], ...]:
    """Looked up once per process: reading package metadata costs milliseconds per extraction."""
    import radiomics

    try:
        ours = importlib_metadata.version("napari-radiomics")
    except importlib_metadata.PackageNotFoundError:  # running from a source checkout
        ours = "unknown"
    versions = {
        "napari-radiomics": ours,
        "pyradiomics": radiomics.__version__,
        "SimpleITK": sitk.Version().VersionString(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    return tuple(versions.items())
