"""The io core runs on a server without a display: it must not pull in napari or Qt."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = (
    "napari_radiomics",
    "napari_radiomics.io.mat",
    "napari_radiomics.io.folder",
    "napari_radiomics.io.bundle",
    "napari_radiomics.io.medical",
    "napari_radiomics.io.synthetic",
)


def test_io_core_imports_neither_napari_nor_qt() -> None:
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
