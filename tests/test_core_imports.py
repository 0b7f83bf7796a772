"""The core runs on a server without a display: it must not pull in napari or Qt."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = (
    "napari_radiomics",
    "napari_radiomics.convert",
    "napari_radiomics.settings",
    "napari_radiomics.engine",
    "napari_radiomics.io.mat",
    "napari_radiomics.io.folder",
    "napari_radiomics.io.bundle",
    "napari_radiomics.io.medical",
    "napari_radiomics.io.synthetic",
    "napari_radiomics.batch.cases",
    "napari_radiomics.batch",
    "napari_radiomics.batch.journal",
    "napari_radiomics.batch._executors",
    "napari_radiomics.batch._worker",
    "napari_radiomics.results",
    "napari_radiomics.cli",
)


def test_core_imports_neither_napari_nor_qt() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE_MODULES)
        + "from napari_radiomics.io.synthetic import make_synthetic_slice\n"
        + "make_synthetic_slice(shape=(64, 64))\n"  # also the lazily imported outline code
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        + "{'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy', 'magicgui'})\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_package_import_is_light_and_public_names_resolve() -> None:
    """napari imports the package to find the manifest: that must not load pyradiomics."""
    code = (
        "import sys, napari_radiomics\n"
        "heavy = sorted(m for m in ('radiomics', 'SimpleITK', 'pandas') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
        "from napari_radiomics import extract_features, ExtractionSettings, read_tumor_mat\n"
        "print(all(callable(f) for f in (extract_features, ExtractionSettings, read_tumor_mat)))\n"
        "print(sorted(set(napari_radiomics.__all__) - set(dir(napari_radiomics))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:3] == ["", "True", "[]"]
