"""Every dock shows a case's identifying columns as the one list (``columns``) orders them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._review_widget import ReviewWidget
from napari_radiomics.columns import CASE_COLUMNS, IDENTIFYING_COLUMNS
from napari_radiomics.engine import extract_features
from napari_radiomics.results import feature_columns
from napari_radiomics.settings import ExtractionSettings
from sample_files import write_mat_folder

#: A viewer extraction's own keys: the layer's path and the stack's slice, after the list.
VIEWER_KEYS = ["path", "slice"]


def _rows() -> pd.DataFrame:
    """A features table whose identifying columns are not in the list's order (a table made
    by another tool, or by this package before the list was complete)."""
    mask = np.zeros((40, 40), np.uint8)
    mask[8:28, 8:28] = 1
    image = np.random.default_rng(5).normal(300, 40, mask.shape).astype(np.int16)
    metadata = {"path": "/data/7.mat", "slice": 3, "tumor_type": "glioma", "case": "7",
                "label": 2, "patient_id": "100360", "mask_source": "original"}  # fmt: skip
    settings = ExtractionSettings.from_params({"featureClass": {"firstorder": ["Mean"]}})
    return extract_features(image, mask, settings, metadata=metadata)


def _expected(frame: pd.DataFrame) -> list[str]:
    return [c for c in IDENTIFYING_COLUMNS if c in frame.columns] + VIEWER_KEYS


def test_results_and_dataset_docks_show_the_one_list_first(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    frame = _rows()
    assert set(_expected(frame)) | set(feature_columns(frame)) == set(frame.columns)
    _, results = viewer.window.add_plugin_dock_widget("napari-radiomics", "Feature results")
    assert get_results_widget(viewer) is results
    with qtbot.waitSignal(results.table_updated):
        results.add_run(frame)
    # the wide table: identifying rows first (the dock keeps them last whatever the sort)
    assert list(results.frame.index[: len(_expected(frame))]) == _expected(frame)
    dataset = show_features(viewer, frame)
    assert dataset.model.identifying == _expected(frame)


def test_review_dock_shows_the_case_columns(make_napari_viewer, tmp_path: Path) -> None:
    write_mat_folder(tmp_path / "brain", 4)
    viewer = make_napari_viewer()
    viewer.open(str(tmp_path / "brain"), plugin="napari-radiomics")
    dock = ReviewWidget(viewer)
    cases = dock.cases()
    assert list(cases.columns) == [*CASE_COLUMNS, "status", "note"]
    assert cases["label"].tolist() == ["1", "2"]  # write_mat_folder: label i % 3 + 1
    assert cases["tumor_type"].tolist() == ["meningioma", "glioma"]
    report = pd.read_csv(dock.write_report(tmp_path / "report.csv"), dtype=str)
    assert list(report.columns[: len(CASE_COLUMNS)]) == list(CASE_COLUMNS)
