"""Batch runs measure the corrected masks: by default, from a named store, or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.corrections import attach, mask_digest, stack_refs
from napari_radiomics.engine import extract_features
from napari_radiomics.io import open_mat_stack, read_tumor_mat
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from sample_files import write_mat_folder

PARAMS = {"featureClass": {"firstorder": ["Mean", "Energy"], "shape2D": ["PixelSurface"]}}


def _corrected_folder(tmp_path: Path):
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)  # 1-3.mat at the top, 4-6.mat in brain/more
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    return folder, session


def _paint(session, index: int, rows: slice) -> None:
    session.mask[index, rows, 2:30] = 1
    assert session.autosave.flush(timeout=10)


def _extract(*args: str | Path) -> pd.DataFrame:
    output = Path(args[args.index("-o") + 1])
    params = output.parent / "settings.yaml"
    params.write_text(yaml.safe_dump(PARAMS), encoding="utf-8")
    assert main(["extract", *map(str, args), "--params", str(params)]) == 0
    return read_table(output).set_index("case")


def test_extract_uses_the_corrections_and_equals_the_engine_on_the_corrected_mask(
    tmp_path: Path,
) -> None:
    folder, session = _corrected_folder(tmp_path)
    _paint(session, 1, slice(2, 12))
    corrected = session.mask.slice(1)
    table = _extract(folder, "-o", tmp_path / "f.csv")
    assert table.loc["2", "mask_source"] == "corrected"
    assert (table.drop(index="2")["mask_source"] == "original").all()
    assert table.loc["2", "mask_digest"] == mask_digest(corrected)
    tumor = read_tumor_mat(folder / "2.mat")
    expected = extract_features(
        tumor.image, corrected, _settings(), metadata={"case": "2"}
    ).set_index("case")
    features = [c for c in expected.columns if c.startswith("original_")]
    pd.testing.assert_series_equal(
        table.loc["2", features].astype(float), expected.loc["2", features].astype(float)
    )
    original = _extract(folder, "-o", tmp_path / "o.csv", "--original-masks")
    assert (original["mask_source"] == "original").all()
    assert original.loc["2", "mask_digest"] == mask_digest(tumor.mask)
    assert original.loc["2", features].tolist() != table.loc["2", features].tolist()


def _settings() -> ExtractionSettings:
    return ExtractionSettings.from_params(PARAMS)


def test_a_named_store_is_used_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    folder, session = _corrected_folder(tmp_path)
    _paint(session, 0, slice(2, 8))
    moved = session.relocate(tmp_path / "chosen")
    assert moved.writable
    assert session.autosave.flush(timeout=10)
    cases = discover_cases([folder], corrections=tmp_path / "chosen")
    assert [c.mask_source for c in cases[:3]] == ["corrected", "original", "original"]
    _, mask, metadata = load_case(cases[0])
    np.testing.assert_array_equal(mask, session.mask.slice(0))
    assert metadata["mask_source"] == "corrected"
    assert main(["extract", str(folder), "-o", str(tmp_path / "x.csv"),
                 "--corrections", str(tmp_path / "nowhere")]) == 2  # fmt: skip


def test_resume_reextracts_exactly_the_cases_whose_correction_changed(tmp_path: Path) -> None:
    folder, session = _corrected_folder(tmp_path)
    _paint(session, 0, slice(2, 8))
    output = tmp_path / "f.csv"
    first = _extract(folder, "-o", output)
    _paint(session, 0, slice(8, 14))  # corrected again
    _paint(session, 2, slice(2, 8))  # corrected for the first time
    resumed = _extract(folder, "-o", output, "--resume")
    assert sorted(resumed.index) == sorted(first.index)  # one row per case, no duplicates
    assert resumed.loc["1", "mask_digest"] == mask_digest(session.mask.slice(0))
    assert resumed.loc["1", "mask_digest"] != first.loc["1", "mask_digest"]
    assert resumed.loc["3", "mask_source"] == "corrected"
    unchanged = [c for c in first.index if c not in ("1", "3")]
    pd.testing.assert_frame_equal(resumed.loc[unchanged], first.loc[unchanged])
    session.revert(0)
    assert session.autosave.flush(timeout=10)  # as the Batch dock waits for it
    reverted = _extract(folder, "-o", output, "--resume")
    assert reverted.loc["1", "mask_source"] == "original"
