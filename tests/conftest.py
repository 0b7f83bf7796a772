"""Fixtures shared by every test module, and the rule that makes GUI tests real.

The tests mirror ``src/``: ``engine/``, ``batch/``, ``io/`` and the top-level modules, plus
``gui/`` for everything under ``_napari`` (a real viewer: ``make_napari_viewer``). Tests in
``gui/`` are marked ``gui`` by their directory. They need a display: under Xvfb, as CI runs
them. Without one they are skipped with the reason, unless NAPARI_RADIOMICS_REQUIRE_GUI=1 (CI
sets it), which turns a missing display into a failure: GUI tests never skip in CI.

pyradiomics' own test cases cannot ship with the project; `.ci/run` points
NAPARI_RADIOMICS_TEST_DATA at them. When the variable is set the data must be there (a missing
folder fails loudly); only a developer who never set it sees those tests skip.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import napari_radiomics.corrections.store as store_module
from sample_files import BATCH_PATIENTS, BATCH_SLICES, MAT_FOLDER_CASES, write_mat_folder

pytest_plugins = ["viewer_setup_failures"]

PYRADIOMICS_CASES = ("brain1", "brain2", "breast1")
GUI_TESTS = Path(__file__).resolve().parent / "gui"


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or (
        os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under ``gui/`` as ``gui``; without a display, skip them (or fail, when
    NAPARI_RADIOMICS_REQUIRE_GUI=1)."""
    gui = [item for item in items if GUI_TESTS in item.path.parents]
    for item in gui:
        item.add_marker(pytest.mark.gui)
    if not gui or _has_display():
        return
    if os.environ.get("NAPARI_RADIOMICS_REQUIRE_GUI") == "1":
        raise pytest.UsageError(
            f"{len(gui)} GUI tests need a display and NAPARI_RADIOMICS_REQUIRE_GUI=1 forbids "
            'skipping them: run under xvfb-run -a -s "-screen 0 1600x1000x24"'
        )
    skip = pytest.mark.skip(reason="no display (run under xvfb-run for the GUI tests)")
    for item in gui:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _private_corrections(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Corrections stores and remembered store locations go to this test's own folders, never
    beside the shared fixtures' datasets (where a painted test would change later tests'
    masks) nor into the user's configuration."""
    monkeypatch.setenv("NAPARI_RADIOMICS_CORRECTIONS_HOME", str(tmp_path_factory.mktemp("stores")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def _simpleitk_tolerances() -> Iterator[None]:
    """A test that builds a plain pyradiomics extractor with ``geometryTolerance`` changes
    SimpleITK's process-wide tolerances for every later test (pyradiomics never puts them
    back; the package confines its own change, `tests/test_pyradiomics.py`): put back."""
    import SimpleITK as sitk

    process = sitk.ProcessObject
    coordinate = process.GetGlobalDefaultCoordinateTolerance()
    direction = process.GetGlobalDefaultDirectionTolerance()
    yield
    process.SetGlobalDefaultCoordinateTolerance(coordinate)
    process.SetGlobalDefaultDirectionTolerance(direction)


@pytest.fixture(scope="session")
def pyradiomics_data() -> Path:
    """Folder with pyradiomics' NRRD test cases and baseline CSVs."""
    root = os.environ.get("NAPARI_RADIOMICS_TEST_DATA")
    if not root:
        pytest.skip("NAPARI_RADIOMICS_TEST_DATA is not set (CI sets it)")
    path = Path(root)
    if not (path / "brain1_image.nrrd").is_file():
        pytest.fail(f"NAPARI_RADIOMICS_TEST_DATA={root} does not hold pyradiomics' test cases")
    return path


@pytest.fixture(scope="session")
def mat_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset folder shared by the batch, CLI and widget tests: MAT_FOLDER_CASES
    synthetic v7.3 slices (half of them in a subfolder) and the dataset's ``cvind.mat``.
    Read-only by convention: a test that changes files makes its own folder."""
    folder = tmp_path_factory.mktemp("mats")
    write_mat_folder(folder, MAT_FOLDER_CASES)
    return folder


@pytest.fixture(scope="session")
def batch_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real batch run's features table (CSV) over BATCH_SLICES synthetic slices of
    BATCH_PATIENTS patients (slice i of patient i % BATCH_PATIENTS, type i % 3 + 1), with
    first-order, GLCM and 2D shape features: what the plots and the model panel are fed."""
    from napari_radiomics.batch import discover_cases, run_batch
    from napari_radiomics.settings import ExtractionSettings

    folder = tmp_path_factory.mktemp("batch_features")
    write_mat_folder(folder, BATCH_SLICES, patients=BATCH_PATIENTS)
    settings = ExtractionSettings(feature_classes={"firstorder": [], "glcm": [], "shape2D": []})
    output = folder / "features.csv"
    assert run_batch(discover_cases([folder]), settings, output, jobs=1).ok
    return output


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test (needs root, as in CI), unmounted afterwards: a
    disk to fill (``sample_files.fill_disk``) or to remount read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root (CI runs these tests as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _in_a_store(path: Path, *_: object, **__: object) -> bool:
    return any((folder / "store.yaml").is_file() for folder in path.parents[:2])


class SlowShare:
    """A corrections store's folder on a share that stops answering: while :meth:`hung` is
    entered, every file the store writes (masks, tables, header) waits before its real writer
    runs, and every file removed from a store (a folder with a ``store.yaml``, or its
    ``masks``) before ``Path.unlink`` runs, as on a hung network share. ``waiting`` is set
    once one does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.waiting = threading.Event()
        self._answers = threading.Event()
        self._answers.set()
        for name in ("write_mask", "write_table", "write_header"):
            monkeypatch.setattr(store_module, name, self._delayed(getattr(store_module, name)))
        monkeypatch.setattr(Path, "unlink", self._delayed(Path.unlink, _in_a_store))

    def _delayed(
        self, write: Callable[..., object], on: Callable[..., bool] = lambda *_, **__: True
    ) -> Callable[..., object]:
        def delayed(*args: object, **kwargs: object) -> object:
            if not self._answers.is_set() and on(*args, **kwargs):
                self.waiting.set()
                assert self._answers.wait(60), "the share was held for a minute"
            return write(*args, **kwargs)

        return delayed

    @contextmanager
    def hung(self) -> Iterator[None]:
        self.waiting.clear()
        self._answers.clear()
        try:
            yield
        finally:
            self._answers.set()


@pytest.fixture
def slow_share(monkeypatch: pytest.MonkeyPatch) -> SlowShare:
    return SlowShare(monkeypatch)
