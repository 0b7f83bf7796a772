"""Fixtures of the corrections tests: a dataset reviewed as the Review dock reviews it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from napari_radiomics.corrections import attach, stack_refs
from napari_radiomics.io import open_mat_stack
from sample_files import write_mat_folder


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Path, object, pd.DataFrame]:
    """A dataset (1-3.mat here, 4-6.mat in more/) with case 1 accepted (a note a spreadsheet
    would run), 2 corrected and 3 flagged; its session and its per-slice table."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    session.set_status(0, "accepted", "=HYPERLINK(1)")
    session.mask[1, 2:7, 2:7] = 1
    session.set_status(2, "flagged", "edge unclear")
    assert session.autosave.flush(timeout=10)
    return folder, session, stack.slices
