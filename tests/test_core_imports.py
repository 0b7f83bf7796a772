"""The core runs on a server without a display: it must not pull in napari or Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"


def core_modules() -> list[str]:
    """Every module of the package outside ``_napari``, found on disk: a new module is covered
    without anyone remembering to list it."""
    package = ROOT / "napari_radiomics"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "_napari" in parts or parts[-1] == "__main__":  # __main__ runs the command
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def printed(code: str) -> list[str]:
    """The lines ``code`` prints in a fresh interpreter (one that has imported nothing yet)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.rstrip("\n").split("\n")


def test_core_module_list_is_complete() -> None:
    names = core_modules()
    assert {"napari_radiomics", "napari_radiomics.engine", "napari_radiomics.cli"} <= set(names)
    assert len(names) > 25


def test_core_imports_neither_napari_nor_qt() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in core_modules())
        + "from napari_radiomics.io.synthetic import make_synthetic_slice\n"
        + "make_synthetic_slice(shape=(64, 64))\n"  # also the lazily imported outline code
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        + "{'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy', 'magicgui'})\n"
        + "print(','.join(bad))\n"
    )
    assert printed(code) == [""]


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
    assert printed(code) == ["", "True", "[]"]


def test_reading_one_file_does_not_load_the_dataset_readers() -> None:
    """`napari-radiomics maps` on one NRRD file (the command line's parsers and the io names
    it uses) starts without dask and xarray, which only the folder and bundle readers need, nor
    scipy.stats and matplotlib, which only the analyses need."""
    code = (
        "import sys, napari_radiomics.cli\n"
        "napari_radiomics.cli.build_parser()\n"
        "from napari_radiomics.io import read_medical_image, write_medical_image\n"
        "from napari_radiomics.engine.maps import feature_maps\n"
        "heavy = ('dask', 'xarray', 'scipy.stats', 'matplotlib')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
        "from napari_radiomics.io import open_mat_stack\n"
        "print(callable(open_mat_stack), 'dask' in sys.modules)\n"
    )
    assert printed(code) == ["", "True True"]


def test_a_maps_run_loads_no_table_analysis_dataset_or_gui_library(tmp_path: Path) -> None:
    """`napari-radiomics maps` run whole in a fresh interpreter (reading, computing, writing):
    pandas, dask, h5py, scipy.stats/spatial, scikit-learn, matplotlib and napari cost it seconds
    of start-up and none of them is needed, so none is imported; nor is importlib.metadata
    (20-50 ms with its email parser), which only ``--version`` and provenance need."""
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    mask = np.zeros((6, 12, 12), dtype=np.uint8)
    mask[2:4, 4:8, 4:8] = 1
    for array, name in ((rng.normal(100, 20, mask.shape), "ct.nrrd"), (mask, "seg.nrrd")):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing((0.7, 0.7, 2.5))
        sitk.WriteImage(image, str(tmp_path / name), True)
    heavy = (
        "pandas", "dask", "h5py", "scipy.stats", "scipy.spatial", "sklearn", "matplotlib",
        "napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "importlib.metadata",
    )  # fmt: skip
    code = (
        "import sys\n"
        "from napari_radiomics.cli import main\n"
        f"status = main(['maps', {str(tmp_path / 'ct.nrrd')!r}, '--mask', "
        f"{str(tmp_path / 'seg.nrrd')!r}, '-o', {str(tmp_path / 'maps')!r}, '-q'])\n"
        f"print(status, ','.join(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
    )
    assert printed(code) == ["0 "]
    assert len(list((tmp_path / "maps").glob("*.nrrd"))) == 93  # the maps were made
