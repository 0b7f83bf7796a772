"""The "Robustness" dock: how much the features move when the tumour border moves.

Two questions, the core's two answers (``analysis.robustness``), so the panel and
``napari-radiomics robustness`` cannot disagree:

* **this case**: N seeded perturbations of the current slice's ROI are drawn as contours over
  the image (one Shapes layer, one colour per perturbation, the original in white), and each
  feature's spread over them (coefficient of variation) fills the table;
* **these cases**: the ICC of every feature over a range of the stack's slices, by the core's
  robustness iterator (``analysis.robustness_run.iter_case_robustness``, whose rules the
  CLI's run shares) fed those slices, driven by the dock's :class:`._runner.Runner` with
  progress and Cancel (at the next slice); the table
  shows icc, the confidence interval and robust, with a "robust only" filter. The finished
  table is :attr:`RobustnessWidget.icc_table` (and the
  :attr:`RobustnessWidget.icc_computed` signal), keyed by pyradiomics' feature names, so a
  dataset table can join it as a column.

Both read the pixels and masks from the layers, so a mask corrected in the viewer is the one
measured.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.qt.threading import FunctionWorker
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from napari_radiomics._napari._controls import docked
from napari_radiomics._napari._dataset_table import DatasetTableWidget
from napari_radiomics._napari._inputs import build_job, is_stack
from napari_radiomics._napari._runner import Progressed, Runner, Step, run_controls
from napari_radiomics._napari._settings_choice import SettingsChoice
from napari_radiomics._napari._table_model import DataFrameModel, table_view
from napari_radiomics._napari._workspace import SIDE, ChoiceGrid, scrolling, settle, show_rows
from napari_radiomics.analysis import ICC_FORMS, METHODS, PerturbationPlan, perturb
from napari_radiomics.analysis.perturb import mask_outlines
from napari_radiomics.analysis.robustness import (
    PERTURBATION_COLUMN,
    feature_spread,
    perturbed_features,
)
from napari_radiomics.analysis.robustness_run import (
    ArrayCase,
    CaseRobustness,
    iter_case_robustness,
)
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.settings import ExtractionSettings

if TYPE_CHECKING:
    import napari

#: Name of the Shapes layer the perturbed contours are drawn in.
CONTOURS = "perturbed contours"


def case_arrays(view: Any) -> tuple[np.ndarray, tuple[float, ...]]:
    """Pixels and spacing of a layer or a :class:`LayerData` slice (``build_job``'s views)."""
    return np.asarray(view.data), tuple(float(s) for s in view.scale)


class RobustnessWidget(QWidget):
    """Perturb the current case and show its spread, or compute the ICC over slices."""

    #: The ICC table of the last finished dataset run (a DataFrame, one row per feature).
    icc_computed = Signal(object)

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.runner = Runner(self)
        self._done: Callable[[Any], None] = self._case_done  # what the current run answers
        self.spread_table: pd.DataFrame | None = None
        self.icc_table: pd.DataFrame | None = None
        self.perturbed: pd.DataFrame | None = None
        self._layers: tuple[Image, Labels] | None = None

        self.image = QComboBox()
        self.labels = QComboBox()
        self.settings = SettingsChoice(viewer, self)
        self.roi_label = QSpinBox()
        self.roi_label.setRange(1, 2**31 - 1)
        self.count = QSpinBox()
        self.count.setRange(1, 200)
        self.count.setValue(10)
        self.methods = {m: QCheckBox(m) for m in METHODS}
        for method in PerturbationPlan(1).methods:
            self.methods[method].setChecked(True)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.first = QSpinBox()
        self.last = QSpinBox()
        self.form = QComboBox()
        self.form.addItems(list(ICC_FORMS))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.01, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.9)
        self.robust_only = QCheckBox("Robust only")
        self.case_button = QPushButton("Perturb this case")
        self.icc_button = QPushButton("ICC over slices")
        self.cancel_button, self.bar, self.status = run_controls()
        self.spread_model, self.icc_model = DataFrameModel(), DataFrameModel()
        self.tabs = QTabWidget()
        for model, title in ((self.spread_model, "Spread (this case)"), (self.icc_model, "ICC")):
            view = table_view(model)
            show_rows(view)
            # A reset (a new table) fits the columns to their values: a hundred rows, cheap.
            model.modelReset.connect(view.resizeColumnsToContents)
            self.tabs.addTab(view, title)

        form = QFormLayout()
        form.addRow("Image", self.image)
        form.addRow("Mask", self.labels)
        self.settings.add_rows(form)
        form.addRow("ROI label", self.roi_label)
        form.addRow("Perturbations", self.count)
        methods = ChoiceGrid()
        methods.place(list(self.methods.values()))
        form.addRow("Methods", methods)
        form.addRow("Seed", self.seed)
        form.addRow("From slice", self.first)
        form.addRow("To slice", self.last)
        form.addRow("ICC form", self.form)
        form.addRow("Robust if CI low ≥", self.threshold)
        buttons = QHBoxLayout()
        for button in (self.case_button, self.icc_button, self.cancel_button):
            buttons.addWidget(button)
        layout = scrolling(self)
        settle(self, SIDE)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.robust_only)
        layout.addWidget(self.tabs)

        self.case_button.clicked.connect(self.perturb_case)
        self.icc_button.clicked.connect(self.compute_icc)
        self.cancel_button.clicked.connect(self.cancel)
        signals = self.runner.signals
        signals.progressed.connect(lambda done, *_: self.bar.setValue(done))
        signals.finished.connect(lambda result, _seconds: self._done(result))
        signals.failed.connect(lambda text: self.status.setText(f"Failed: {text}"))
        signals.cancelled.connect(lambda _: self.status.setText("Cancelled."))
        signals.idle.connect(self._on_finished)
        self.robust_only.toggled.connect(self._show_icc)
        self.image.currentTextChanged.connect(self._refresh_range)
        viewer.layers.events.inserted.connect(self._refresh_layers)
        viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    # -- choices --------------------------------------------------------------------------
    def _refresh_layers(self, *_: Any) -> None:
        for combo, kind in ((self.image, Image), (self.labels, Labels)):
            current = combo.currentText()
            names = [layer.name for layer in self.viewer.layers if isinstance(layer, kind)]
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
        self._refresh_range()

    def _refresh_range(self, *_: Any) -> None:
        """Slices of the chosen stack: all of them by default."""
        layer = self._layer(self.image, Image, required=False)
        count = len(layer.data) if layer is not None and is_stack(layer) else 1
        for box in (self.first, self.last):
            box.setRange(0, max(count - 1, 0))
        self.last.setValue(count - 1)

    def _layer(self, combo: QComboBox, kind: type, *, required: bool = True) -> Any:
        name = combo.currentText()
        layer = self.viewer.layers[name] if name and name in self.viewer.layers else None
        if isinstance(layer, kind):
            return layer
        if required:
            what = "image" if kind is Image else "labels (mask)"
            raise ValueError(f"choose an {what} layer")
        return None

    def plan(self) -> PerturbationPlan:
        """The perturbations the controls describe (ValueError when no method is ticked)."""
        methods = tuple(m for m, box in self.methods.items() if box.isChecked())
        return PerturbationPlan(self.count.value(), methods, self.seed.value())  # type: ignore[arg-type]

    def current_slice(self) -> int | None:
        """The slice shown of a stack (None for a single image)."""
        image = self._layer(self.image, Image)
        return int(self.viewer.dims.current_step[0]) if is_stack(image) else None

    # -- running --------------------------------------------------------------------------
    def _case(
        self, index: int | None
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, ...], dict[str, Any]]:
        """Image, mask, spacing and metadata of the whole layer or slice ``index``. Called in
        the worker thread too: reading layer data there is what keeps the viewer responsive
        while lazy slices load (the controls were read before, by :meth:`_prepare`)."""
        image_layer, labels_layer = self._layers
        job = build_job(image_layer, labels_layer, slice_index=index)
        (image, spacing), (mask, _) = case_arrays(job.image), case_arrays(job.mask)
        metadata = dict(job.metadata)
        metadata.setdefault("case", image_layer.name if index is None else str(index))
        return image, mask, spacing, metadata

    def _prepare(self) -> tuple[PerturbationPlan, ExtractionSettings, int]:
        """Read the controls in the GUI thread: the worker only reads the layers' data."""
        self._layers = (self._layer(self.image, Image), self._layer(self.labels, Labels))
        return self.plan(), self.settings.settings(), self.roi_label.value()

    def perturb_case(self) -> FunctionWorker | None:
        """Perturb the current slice: contours in the viewer, the spread in the table."""
        try:
            plan, settings, label = self._prepare()
            index = self.current_slice()
        except ValueError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return None

        Outcome = tuple[pd.DataFrame, list[np.ndarray], int | None]

        def work() -> Generator[Progressed, None, Outcome]:
            yield Progressed(0, 1, "perturbing")
            image, mask, spacing, metadata = self._case(index)
            roi = mask == label
            made = perturb(image, roi, spacing, plan)
            long = perturbed_features(
                FeatureEngine(settings), image, mask, spacing, plan, label=label,
                metadata=metadata, perturbations=made,
            )  # fmt: skip
            return long, [roi, *(p.mask.astype(bool) for p in made)], index

        where = "this image" if index is None else f"slice {index}"
        return self._start(work(), 1, f"Perturbing {where}", self._case_done)

    def compute_icc(self) -> FunctionWorker | None:
        """The ICC over the chosen slices: the core's robustness iterator
        (``analysis.robustness_run.iter_case_robustness``) fed those slices, each read from
        the layers in the worker thread when its turn comes."""
        try:
            plan, settings, label = self._prepare()
            first, last = self.first.value(), self.last.value()
            if not is_stack(self._layers[0]):
                raise ValueError("an ICC over slices needs a stack (open a folder of slices)")
            slices = range(first, last + 1)
            run = iter_case_robustness(
                [ArrayCase(f"slice {i}", partial(self._case, i)) for i in slices],
                settings, plan, label=label, form=self.form.currentText(),
                threshold=self.threshold.value(), what=f"slices {first} to {last}",
            )  # fmt: skip
        except ValueError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return None
        return self._start(run, len(slices), "Robustness ICC", self._icc_done)

    def _start(
        self, work: Generator[Step, None, Any], total: int, title: str,
        done: Callable[[Any], None],
    ) -> FunctionWorker:  # fmt: skip
        self.bar.setRange(0, total)
        self.bar.setValue(0)
        self._done = done
        for button in (self.case_button, self.icc_button):
            button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"{title}…")
        return self.runner.run(work, title)

    def cancel(self) -> None:
        """Stop after the case in progress; nothing is shown."""
        if self.runner.running:
            self.status.setText("Cancelling…")
            self.runner.cancel()

    def _on_finished(self) -> None:
        for button in (self.case_button, self.icc_button):
            button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # -- results --------------------------------------------------------------------------
    def _case_done(self, result: tuple[pd.DataFrame, list[np.ndarray], int | None]) -> None:
        long, masks, index = result
        self.bar.setValue(self.bar.maximum())
        self.perturbed = long
        self.spread_table = feature_spread(long)
        self.spread_model.set_frame(self.spread_table)
        self.tabs.setCurrentIndex(0)
        self._draw_contours(masks, index)
        median = self.spread_table["cv"].median()
        self.status.setText(f"{len(masks) - 1} perturbations drawn; median CV {median:.3g}")

    def _draw_contours(self, masks: list[np.ndarray], index: int | None) -> None:
        """One path per outline of each mask, the original white, the others by number."""
        image_layer = self._layers[0]
        from matplotlib import colormaps  # here: docking the dock need not import matplotlib

        prefix = () if index is None else (float(index),)
        colours = colormaps["turbo"](np.linspace(0.1, 0.9, max(len(masks) - 1, 1)))
        paths, edge, which = [], [], []
        for number, variant in enumerate(masks):
            colour = np.ones(4) if number == 0 else colours[number - 1]
            for path in mask_outlines(variant, prefix):
                paths.append(path)
                edge.append(colour)
                which.append(number)
        if CONTOURS in self.viewer.layers:
            self.viewer.layers.remove(CONTOURS)
        self.viewer.add_shapes(
            paths,
            shape_type="path",
            edge_color=np.asarray(edge),
            edge_width=1.5 * float(min(image_layer.scale[-2:])),
            name=CONTOURS,
            scale=image_layer.scale,
            translate=image_layer.translate,
            features=pd.DataFrame({PERTURBATION_COLUMN: which}),
        )
        self.viewer.layers.selection.active = image_layer

    def _icc_done(self, result: CaseRobustness) -> None:
        long, table, failed = result.long, result.icc, result.failed
        self.bar.setValue(self.bar.maximum())
        self.perturbed, self.icc_table = long, table
        self._show_icc()
        self.tabs.setCurrentIndex(1)
        text = (
            f"{int(table['robust'].sum())} of {len(table)} features robust "
            f"(ICC({table['form'].iloc[0]})) over {long['case'].nunique()} slices"
        )
        self.status.setText(text + (f"; {len(failed)} failed: {failed[0]}" if failed else ""))
        self.icc_computed.emit(table)
        for widget in docked(self.viewer, DatasetTableWidget):  # if one is open
            widget.set_robustness(table)

    def _show_icc(self, *_: Any) -> None:
        if self.icc_table is None:
            return
        table = self.icc_table
        if self.robust_only.isChecked():
            table = table[table["robust"]]
        self.icc_model.set_frame(table.set_index("feature"))
