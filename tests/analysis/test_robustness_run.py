"""The robustness iterator over cases in memory (what the Robustness dock runs) against the
run over files through the batch journal (what `napari-radiomics robustness` runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_radiomics.analysis import PerturbationPlan
from napari_radiomics.analysis.robustness_run import (
    ArrayCase,
    CaseArrays,
    iter_case_robustness,
    iter_robustness,
)
from napari_radiomics.batch import discover_cases
from napari_radiomics.errors import BatchError
from napari_radiomics.io.mat import read_tumor_mat, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.settings import ExtractionSettings

SETTINGS = ExtractionSettings.preset("brain-tumor-mri")
PLAN = PerturbationPlan(3, seed=5)
ICC_COLUMNS = ["feature", "icc", "ci_low", "ci_high", "robust", "form", "reason"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rob-cases")
    for i in range(3):  # tumours large enough to shrink
        write_tumor_mat(folder / f"{i + 1}.mat", make_synthetic_slice(seed=i, shape=(192, 192)))
    return folder


def _loader(path: Path) -> CaseArrays:
    tumor = read_tumor_mat(path)
    return tumor.image, tumor.mask.astype(np.uint8), (1.0, 1.0), {"case": path.stem}


def _in_memory(folder: Path) -> list[ArrayCase]:
    files = sorted(folder.glob("*.mat"))
    return [ArrayCase(f"file {f.name}", lambda f=f: _loader(f)) for f in files]


def _drive(run):
    steps = []
    while True:
        try:
            steps.append(next(run))
        except StopIteration as stop:
            return steps, stop.value


def test_cases_in_memory_give_the_icc_of_the_files_run(folder: Path, tmp_path: Path) -> None:
    steps, result = _drive(iter_case_robustness(_in_memory(folder), SETTINGS, PLAN, threshold=0.5))
    assert [(s.done, s.total, s.ok) for s in steps] == [(i, 3, True) for i in range(4)]
    assert [s.case for s in steps[1:]] == ["file 1.mat", "file 2.mat", "file 3.mat"]
    assert result.failed == []
    assert len(result.long) == 3 * (PLAN.n + 1)
    files = iter_robustness(
        discover_cases([folder]), SETTINGS, PLAN, tmp_path / "rob.csv", threshold=0.5, jobs=1
    )
    _, summary = _drive(files)
    pd.testing.assert_frame_equal(result.icc[ICC_COLUMNS], summary.icc[ICC_COLUMNS])
    assert 0 < result.icc["robust"].sum() < len(result.icc)


def test_a_case_that_cannot_be_measured_is_a_failed_step_and_the_others_go_on(
    folder: Path,
) -> None:
    def empty() -> CaseArrays:
        image, mask, spacing, _ = _loader(folder / "1.mat")
        return image, np.zeros_like(mask), spacing, {"case": "empty"}

    cases = [*_in_memory(folder)[:2], ArrayCase("slice 9", empty)]
    steps, result = _drive(iter_case_robustness(cases, SETTINGS, PerturbationPlan(1, seed=5)))
    assert [s.ok for s in steps] == [True, True, True, False]
    assert steps[-1].message == "slice 9: ROI label 1 is not in the mask"
    assert result.failed == ["slice 9: ROI label 1 is not in the mask"]
    assert result.long["case"].unique().tolist() == ["1", "2"]
    # fewer than 2 measured: no ICC, and the failures are named
    run = iter_case_robustness([cases[0], cases[2]], SETTINGS, PerturbationPlan(1, seed=5))
    with pytest.raises(BatchError, match=r"only 1 case succeeded.*\(slice 9: ROI label 1"):
        _drive(run)


def test_a_bad_request_is_refused_before_the_iterator_exists(folder: Path) -> None:
    cases = _in_memory(folder)
    with pytest.raises(BatchError, match=r"got 1 from slices 4 to 4$"):
        iter_case_robustness(cases[:1], SETTINGS, PLAN, what="slices 4 to 4")
    with pytest.raises(BatchError, match="ICC form '9,9' is not known"):
        iter_case_robustness(cases, SETTINGS, PLAN, form="9,9")  # type: ignore[arg-type]
    with pytest.raises(BatchError, match=r"threshold is an ICC bound in \(0, 1\], got 1.5"):
        iter_case_robustness(cases, SETTINGS, PLAN, threshold=1.5)
