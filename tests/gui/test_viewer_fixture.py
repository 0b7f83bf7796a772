"""napari's viewer fixture when a GUI test's own fixture fails (tests/viewer_setup_failures):
the run is a real pytest subprocess with a real viewer, as the suite runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INNER = """
import pytest


@pytest.fixture
def widget(make_napari_viewer):
    make_napari_viewer()
    raise RuntimeError("the fixture's own failure")


def test_setup_fails(widget):
    pass


def test_next(make_napari_viewer):
    make_napari_viewer()
"""

SKIPPING = """
import pytest


@pytest.fixture
def widget(make_napari_viewer):
    make_napari_viewer()
    pytest.skip("the fixture's own skip")


def test_setup_skips(widget):
    pass


def test_next(make_napari_viewer):
    make_napari_viewer()
"""


def _run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a test file in a real pytest with the plugin under test."""
    (tmp_path / "test_inner.py").write_text(source, encoding="utf-8")
    tests = str(Path(__file__).resolve().parents[1])  # where the plugin module is
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p",
         "viewer_setup_failures", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip


def test_a_fixture_failing_after_making_a_viewer_is_its_only_error(tmp_path: Path) -> None:
    run = _run_inner(tmp_path, INNER)
    assert "RuntimeError: the fixture's own failure" in run.stdout
    assert "rep_call" not in run.stdout  # no second, misleading error at its teardown
    summary = run.stdout.splitlines()[-1]
    assert "1 passed" in summary  # the next test is unharmed
    assert " 1 error" in summary, run.stdout[-3000:]


def test_a_fixture_skipping_after_making_a_viewer_is_only_a_skip(tmp_path: Path) -> None:
    run = _run_inner(tmp_path, SKIPPING)
    assert "the fixture's own skip" in run.stdout
    assert "rep_call" not in run.stdout, run.stdout[-3000:]  # no error at its teardown
    summary = run.stdout.splitlines()[-1]
    assert "1 passed" in summary, run.stdout[-3000:]
    assert "1 skipped" in summary
    assert "error" not in summary, run.stdout[-3000:]
