"""The library versions a result's provenance names."""

from __future__ import annotations

import functools
import platform

import numpy as np
import SimpleITK as sitk


def library_versions() -> dict[str, str]:
    """napari-radiomics, pyradiomics, SimpleITK, NumPy and Python, as installed."""
    return dict(_installed())


@functools.cache
def _installed() -> tuple[tuple[str, str], ...]:
    """Looked up once per process: reading package metadata costs milliseconds per extraction."""
    import radiomics

    from napari_radiomics._version import __version__  # package metadata, read when asked

    versions = {
        "napari-radiomics": __version__,
        "pyradiomics": radiomics.__version__,
        "SimpleITK": sitk.Version().VersionString(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    return tuple(versions.items())
