"""The Robustness dock in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from qtpy.QtCore import Qt

from napari_radiomics._napari._dataset_table import show_features
from napari_radiomics._napari._robustness_widget import CONTOURS, RobustnessWidget
from napari_radiomics._napari._settings_choice import PARAMS_FILE
from napari_radiomics.analysis import PerturbationPlan, perturb
from napari_radiomics.analysis.perturb import mask_outlines
from napari_radiomics.analysis.robustness import PERTURBATION_COLUMN, robustness
from napari_radiomics.cli import main
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import feature_columns
from napari_radiomics.settings import SettingsError
from napari_radiomics.settings_choice import choose_settings

SLICES = 3
N = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rob-stack")
    for i in range(SLICES):  # tumours large enough to shrink
        write_tumor_mat(folder / f"{i + 1}.mat", make_synthetic_slice(seed=i, shape=(192, 192)))
    return folder


@pytest.fixture
def widget(make_napari_viewer, folder: Path) -> RobustnessWidget:
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-radiomics")
    widget = RobustnessWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.count.setValue(N)
    widget.seed.setValue(3)
    return widget


def _wait(widget: RobustnessWidget, worker, qtbot) -> None:
    """Until the run has ended (the buttons come back when the worker has finished); waiting
    on the worker's signal could miss one emitted before the wait began."""
    assert worker is not None, widget.status.text()
    qtbot.waitUntil(widget.icc_button.isEnabled, timeout=120_000)


def test_the_current_slice_is_perturbed_and_drawn_as_contours(
    widget: RobustnessWidget, qtbot
) -> None:
    viewer = widget.viewer
    image, labels = viewer.layers[0], viewer.layers[1]
    viewer.dims.set_current_step(0, 1)
    _wait(widget, widget.perturb_case(), qtbot)
    shapes = viewer.layers[CONTOURS]
    assert set(shapes.features[PERTURBATION_COLUMN]) == set(range(N + 1))
    assert all(np.all(path[:, 0] == 1) for path in shapes.data)  # drawn on slice 1
    np.testing.assert_array_equal(shapes.scale, image.scale)
    # The white outline is the mask's own; the others are the plan's perturbations.
    roi = np.asarray(labels.data[1]) == 1
    original = [
        p for p, k in zip(shapes.data, shapes.features[PERTURBATION_COLUMN], strict=True) if k == 0
    ]
    assert len(original) == len(mask_outlines(roi, (1.0,)))
    np.testing.assert_allclose(original[0], mask_outlines(roi, (1.0,))[0])
    made = perturb(np.asarray(image.data[1]), roi, (1.0, 1.0), PerturbationPlan(N, seed=3))
    last = [
        p for p, k in zip(shapes.data, shapes.features[PERTURBATION_COLUMN], strict=True) if k == N
    ]
    np.testing.assert_allclose(last[0], mask_outlines(made[-1].mask, (1.0,))[0])
    # Spread: one row per feature, the coefficient of variation over the N + 1 extractions.
    long = widget.perturbed
    assert long is not None
    assert long[PERTURBATION_COLUMN].tolist() == list(range(N + 1))
    features = feature_columns(long)
    assert widget.spread_table.index.tolist() == features
    values = long[features].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = values.std(axis=0, ddof=1) / np.abs(values.mean(axis=0))
    np.testing.assert_allclose(widget.spread_table["cv"], cv, rtol=1e-12)
    assert widget.spread_model.rowCount() == len(features)
    assert f"{N} perturbations drawn; median CV" in widget.status.text()


def test_icc_over_the_stack_with_a_robust_only_filter(
    widget: RobustnessWidget, folder: Path, tmp_path: Path, qtbot
) -> None:
    features = widget.viewer.layers[0].metadata["slices"].assign(original_firstorder_Mean=1.0)
    dataset_table = show_features(widget.viewer, features)  # the dataset table is open too
    widget.threshold.setValue(0.5)
    assert (widget.first.value(), widget.last.value()) == (0, SLICES - 1)  # the whole stack
    with qtbot.waitSignal(widget.icc_computed, timeout=120_000) as emitted:
        _wait(widget, widget.compute_icc(), qtbot)
    table = widget.icc_table
    assert table is emitted.args[0]
    assert widget.perturbed is not None
    assert widget.perturbed["case"].nunique() == SLICES
    expected = robustness(widget.perturbed, threshold=0.5)
    pd.testing.assert_frame_equal(table, expected)
    # the command line's run over the same slices' files, with the same settings and plan
    rob = tmp_path / "rob.csv"
    argv = ["robustness", str(folder), "-o", str(rob), "--preset", "brain-tumor-mri"]
    argv += ["--perturbations", str(N), "--seed", "3", "--threshold", "0.5", "-j", "1", "-q"]
    assert main(argv) == 0
    columns = ["feature", "icc", "ci_low", "ci_high", "robust", "form", "reason"]
    cli = pd.read_csv(rob)[columns].fillna({"reason": ""})
    pd.testing.assert_frame_equal(table[columns], cli, check_dtype=False, rtol=1e-12, atol=0)
    robust = int(table["robust"].sum())
    assert 0 < robust < len(table)
    assert widget.icc_model.rowCount() == len(table)
    widget.robust_only.setChecked(True)
    assert widget.icc_model.rowCount() == robust
    assert widget.icc_model.column_values("robust").all()
    widget.robust_only.setChecked(False)
    assert widget.icc_model.rowCount() == len(table)
    assert widget.bar.value() == SLICES
    assert f"{robust} of {len(table)} features robust" in widget.status.text()
    # the result reaches the dataset table: ICC in each feature's tooltip, "robust only"
    assert dataset_table.robust_only.isEnabled()
    assert dataset_table.robust_only.text() == f"robust only ({robust})"
    mean = table.set_index("feature").loc["original_firstorder_Mean"]
    dataset_table.robust_only.setChecked(True)
    shown = dataset_table.model.shown_columns()
    assert ("original_firstorder_Mean" in shown) == bool(mean["robust"])
    dataset_table.robust_only.setChecked(False)
    column = dataset_table.model.shown_columns().index("original_firstorder_Mean")
    tip = dataset_table.model.headerData(
        column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert tip.startswith(f"original_firstorder_Mean\nICC {mean['icc']:.3f} [")


def test_cancel_stops_the_icc_run_and_shows_nothing(widget: RobustnessWidget, qtbot) -> None:
    worker = widget.compute_icc()
    widget.cancel()
    _wait(widget, worker, qtbot)
    assert widget.icc_table is None
    assert widget.status.text() == "Cancelled."
    assert widget.icc_button.isEnabled()
    assert not widget.cancel_button.isEnabled()


def test_bad_choices_are_explained_before_anything_runs(
    widget: RobustnessWidget, tmp_path: Path
) -> None:
    widget.first.setValue(1)
    widget.last.setValue(1)
    assert widget.compute_icc() is None
    assert widget.status.text().startswith("Cannot start: an ICC needs at least 2 cases")
    assert widget.status.text().endswith("got 1 from slices 1 to 1")
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting:\n  binWidth: -3\n")
    with pytest.raises(SettingsError) as refused:  # what `robustness --params` prints
        choose_settings(params=bad)
    widget.settings.combo.setCurrentText(PARAMS_FILE)
    widget.settings.params.setText(str(bad))
    assert widget.perturb_case() is None
    assert widget.status.text() == f"Cannot start: {refused.value}"
    widget.settings.combo.setCurrentText("brain-tumor-mri")
    for box in widget.methods.values():
        box.setChecked(False)
    assert widget.perturb_case() is None
    assert "perturbation methods must be among" in widget.status.text()
