"""A case run in the napari process keeps its own warnings, not those of other threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_radiomics._napari._reader import _warn_problem
from napari_radiomics.batch._worker import extract_case, run_case
from napari_radiomics.batch.cases import discover_cases
from napari_radiomics.corrections import attach, stack_refs
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.io import open_mat_stack
from napari_radiomics.settings import ExtractionSettings
from sample_files import fill_disk, write_mat_folder


def test_a_correction_not_saved_while_a_case_runs_in_process_is_told(small_disk: Path) -> None:
    """A batch of one job runs in the napari process while the user paints on a full disk:
    the autosave thread's warning was recorded as one of the case's warnings (warnings are
    process-wide) instead of reaching napari; the user never heard the correction was lost."""
    folder = small_disk / "brain"
    write_mat_folder(folder, 4)
    stack = open_mat_stack(folder)
    refs = stack_refs(stack.slices)
    session = attach(stack.mask, refs, folder, stack=True, root=small_disk / "store")
    session.listeners.append(_warn_problem)  # as the reader adds it
    session.mask[1, 2:7, 2:7] = 1  # the store exists and holds its lock
    assert session.autosave.flush(timeout=10)
    fill_disk(small_disk, 0)

    def task(engine, image, mask, labels, metadata):
        session.mask[0, 2:7, 2:7] = 1  # the user paints while the case runs
        assert session.autosave.flush(timeout=10)
        return extract_case(engine, image, mask, labels, metadata)

    case = discover_cases([folder])[0]
    with pytest.warns(UserWarning, match="(?s)correction not saved: .*No space left on device"):
        result = run_case(FeatureEngine(ExtractionSettings()), case, task)
    assert not result.errors
    assert not any("correction not saved" in text for text in result.warnings)
    session.autosave.close(retry=False)  # not at exit, when the test's disk is gone
