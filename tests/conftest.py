"""Fixtures shared by every test module.

pyradiomics' own test cases cannot ship with the project; `.ci/run` points
NAPARI_RADIOMICS_TEST_DATA at them. When the variable is set the data must be there (a missing
folder fails loudly); only a developer who never set it sees those tests skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sample_files import MAT_FOLDER_CASES, write_mat_folder

PYRADIOMICS_CASES = ("brain1", "brain2", "breast1")


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
