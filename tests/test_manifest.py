"""Packaging: the npe2 manifest reaches the wheel, validates, and napari finds the plugin."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from npe2 import PluginManager, PluginManifest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "napari.yaml"
OWN_COMMANDS = (
    "napari-radiomics.get_reader",
    "napari-radiomics.write_labels",
    "napari-radiomics.make_sample_slice",
    "napari-radiomics.get_features_reader",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = out.glob("napari_radiomics-*.whl")
    return built


def test_wheel_carries_the_manifest_and_its_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("napari_radiomics/napari.yaml") == MANIFEST.read_bytes()
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[napari.manifest]" in text
    assert "napari-radiomics = napari_radiomics:napari.yaml" in text


def test_manifest_validates_with_npe2() -> None:
    manifest = PluginManifest.from_file(MANIFEST)  # schema validation, imports nothing
    assert manifest.name == "napari-radiomics"
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", str(MANIFEST)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_every_command_imports_and_is_callable() -> None:
    manifest = PluginManifest.from_file(MANIFEST)
    commands = {c.id: c.python_name for c in manifest.contributions.commands or []}
    assert set(OWN_COMMANDS) <= set(commands)
    for command_id, python_name in commands.items():
        module_name, _, attribute = python_name.partition(":")
        assert callable(getattr(importlib.import_module(module_name), attribute)), command_id


def test_napari_discovers_the_plugin_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    """A user's install: the wheel alone in an environment (its dependencies borrowed from
    this one), where napari must find the manifest inside the installed package.

    The dependencies are borrowed through a ``.pth`` file naming this interpreter's
    site-packages, not ``--system-site-packages``: inside a virtualenv (as contributors run
    the suite) that flag would borrow the base interpreter's packages instead. A ``.pth`` line
    only adds a folder to ``sys.path``; the folder's own ``.pth`` files (this checkout's
    editable install) are not run, so the wheel's copy is the one imported.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (venv_site,) = (venv / "lib").glob("python*/site-packages")
    borrowed = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (venv_site / "borrowed.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],  # borrowed pip
        check=True,
        capture_output=True,
    )
    code = (
        "import napari_radiomics\n"
        "from npe2 import PluginManager\n"
        "manager = PluginManager.instance()\n"
        "manager.discover()\n"
        "manifest = manager.get_manifest('napari-radiomics')\n"
        "print(napari_radiomics.__file__)\n"
        "print(len(manifest.contributions.widgets), len(manifest.contributions.readers))\n"
    )
    # A PYTHONPATH naming a checkout's src/ would put it before the wheel: not a user's install.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    origin, counts = result.stdout.split("\n")[:2]
    assert Path(origin).is_relative_to(venv)  # the wheel's copy, not this checkout
    manifest = PluginManifest.from_file(MANIFEST)
    widgets, readers = manifest.contributions.widgets or [], manifest.contributions.readers or []
    assert counts == f"{len(widgets)} {len(readers)}"


def test_napari_discovers_the_installed_plugin() -> None:
    manager = PluginManager.instance()
    manager.discover()
    assert "napari-radiomics" in {m.name for m in manager.iter_manifests()}
    readers = {r.command for r in manager.iter_compatible_readers(["case/17.mat"])}
    assert "napari-radiomics.get_reader" in readers
    tables = {r.command for r in manager.iter_compatible_readers(["features.parquet"])}
    assert "napari-radiomics.get_features_reader" in tables
    writers = [w.command for w in manager.iter_compatible_writers(["labels"])]
    assert "napari-radiomics.write_labels" in writers
    samples = dict(manager.iter_sample_data())
    assert "napari-radiomics" in samples


def test_reader_patterns_cover_every_format_the_core_reads() -> None:
    from napari_radiomics.io.medical import MEDICAL_SUFFIXES

    manifest = PluginManifest.from_file(MANIFEST)
    by_command = {r.command: r for r in manifest.contributions.readers or []}
    reader = by_command["napari-radiomics.get_reader"]
    expected = {"*.mat", "*.npy", *(f"*{suffix}" for suffix in MEDICAL_SUFFIXES)}
    assert set(reader.filename_patterns) == expected


def test_wheel_carries_the_ibsi_phantom_with_its_credit(wheel: Path) -> None:
    """`napari-radiomics ibsi` runs from an installed wheel: the phantom, the reference values
    and the credit and licence their CC BY 4.0 licence requires are package data."""
    data = ROOT / "src" / "napari_radiomics" / "analysis" / "ibsi_data"
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted(data.iterdir()):
            assert archive.read(f"napari_radiomics/analysis/ibsi_data/{path.name}") == (
                path.read_bytes()
            ), path.name
    assert {p.name for p in data.iterdir()} >= {
        "README.md", "phantom.nii.gz", "mask.nii.gz", "digital_phantom_reference.csv",
    }  # fmt: skip
