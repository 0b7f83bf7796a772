"""The "Tumour-type model" panel: ``napari-radiomics model``, from inside napari.

The evaluation is the CLI's (``analysis.models.evaluate_model``), run by the dock's
:class:`._runner.Runner`; its per-fold progress callback drives the progress bar (and napari's
activity dock), and raises once Cancel was pressed, which stops the evaluation at the next
fold. The confusion matrix and the importances are the
report's own figures, restyled from napari's theme; with an output folder chosen the panel
writes what the CLI writes (``analysis.report.write_model_report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from napari.qt.threading import FunctionWorker
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from napari_radiomics._napari._controls import docked, with_picker
from napari_radiomics._napari._runner import Progress, Runner, run_controls
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._workspace import SIDE, plot_canvas, scrolling, settle
from napari_radiomics.analysis.models import (
    CLASSIFIERS,
    ModelResult,
    evaluate_model,
    folds_from_cvind,
)
from napari_radiomics.analysis.plots import apply_theme
from napari_radiomics.analysis.report import (
    MODEL_REPORT_FILES,
    confusion_figure,
    importance_figure,
    refuse_inputs_as_report,
    write_model_report,
)
from napari_radiomics.columns import DEFAULT_GROUP, DEFAULT_TARGET
from napari_radiomics.errors import WriteError
from napari_radiomics.results import feature_columns, read_table

if TYPE_CHECKING:
    import napari

#: The "Harmonise by" choice that runs without ComBat.
NO_HARMONIZATION = "(none)"


class ModelWidget(QWidget):
    """Choose target, group, classifier, harmonisation, folds and seed; run; see and save the
    result."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.result: ModelResult | None = None
        self.written: list[Path] = []
        self._table = pd.DataFrame()
        self._table_file: str | None = None  # the file it was read from, never written over
        self.runner = Runner(self)
        # A features table typed or picked is read here too: a 3064 x 1500 CSV takes seconds.
        self.reader = Runner(self)
        self.reader.signals.finished.connect(lambda frame, _: self.set_table(*frame))
        self.reader.signals.failed.connect(
            lambda text: self.status.setText(f"Cannot open: {text}")
        )

        self.table_path = QLineEdit()
        self.table_path.setPlaceholderText("features .csv or .parquet")
        self.table_path.editingFinished.connect(self._open_path)
        self.target, self.group = QComboBox(), QComboBox()
        self.classifier = QComboBox()
        self.classifier.addItems(CLASSIFIERS)
        self.harmonize = QComboBox()
        self.harmonize.setToolTip(
            "ComBat by this batch column (site, scanner), learned inside each training fold"
        )
        self.folds = QSpinBox()
        self.folds.setRange(2, 20)
        self.folds.setValue(5)
        self.cvind = QLineEdit()
        self.cvind.setPlaceholderText("cvind.mat (instead of K folds)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.repeats = QSpinBox()
        self.repeats.setRange(0, 50)
        self.repeats.setValue(3)
        self.output = QLineEdit()
        self.output.setPlaceholderText("folder for metrics.json, predictions, report (optional)")
        self.run_button = QPushButton("Run")
        self.cancel_button, self.bar, self.status = run_controls("Open a features table.")
        self.accuracy = QLabel("")
        self.figures = QTabWidget()
        self.from_table = QPushButton("Use the dataset table")
        self.from_table.setToolTip("model the table shown in the Dataset table dock")
        self.from_table.clicked.connect(self.use_dataset_table)

        form = QFormLayout()
        form.addRow("Features", with_picker(self.table_path, self._pick_table, "Open…"))
        form.addRow("", self.from_table)
        form.addRow("Target", self.target)
        form.addRow("Group (patient)", self.group)
        form.addRow("Classifier", self.classifier)
        form.addRow("Harmonise by", self.harmonize)
        form.addRow("Folds (K)", self.folds)
        form.addRow("Or folds file", with_picker(self.cvind, self._pick_cvind))
        form.addRow("Seed", self.seed)
        form.addRow("Importance repeats", self.repeats)
        form.addRow("Output folder", with_picker(self.output, self._pick_output))
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = scrolling(self)
        settle(self, SIDE)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.accuracy)
        layout.addWidget(self.figures, stretch=1)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        signals = self.runner.signals
        signals.progressed.connect(self._progressed)
        signals.finished.connect(self._done)
        signals.failed.connect(self._failed)
        signals.cancelled.connect(lambda _: self.status.setText("Cancelled."))
        signals.idle.connect(self._idle)
        viewer.events.theme.connect(self._show_figures)
        self.use_dataset_table()  # a batch already shown there is the usual thing to model

    @property
    def worker(self) -> FunctionWorker | None:
        """The latest evaluation's worker."""
        return self.runner.worker

    # -- the table ------------------------------------------------------------------------
    def set_table(
        self, frame: pd.DataFrame, source: str | None = None, file: str | None = None
    ) -> None:
        """Model this features table; its non-feature columns are offered as target/group.
        ``file``: the file it was read from, which the report must not replace."""
        self._table, self._table_file = frame, file
        features = set(feature_columns(frame))
        others = [str(c) for c in frame.columns if c not in features]
        for combo, default in ((self.target, DEFAULT_TARGET), (self.group, DEFAULT_GROUP)):
            combo.clear()
            combo.addItems(others)
            if default in others:
                combo.setCurrentText(default)
        self.harmonize.clear()
        self.harmonize.addItems([NO_HARMONIZATION, *others])
        self.status.setText(
            f"{len(frame)} rows, {len(features)} features" + (f" from {source}" if source else "")
        )

    def use_dataset_table(self) -> bool:
        """Model the Dataset table dock's table; False when no such dock shows one."""
        from napari_radiomics._napari._dataset_table import DatasetTableWidget

        for widget in docked(self.viewer, DatasetTableWidget):
            if len(widget.frame):
                self.set_table(widget.frame, widget.source or "the dataset table", widget.source)
                return True
        return False

    def _open_path(self) -> FunctionWorker | None:
        """Read the table the path field names in a worker (None: the field is empty); it is
        modelled once read, and a file that cannot be read is named in the status."""
        path = self.table_path.text().strip()
        if not path:
            return None
        name = Path(path).name
        self.status.setText(f"Reading {name}…")
        return self.reader.run(lambda _progress: (read_table(path), name, path), f"Reading {name}")

    def _pick_table(self) -> str:
        path = QFileDialog.getOpenFileName(self, "Features table", "", "*.csv *.parquet")[0]
        if path:
            self.table_path.setText(path)
            self._open_path()
        return path

    def _pick_cvind(self) -> str:
        return QFileDialog.getOpenFileName(self, "Folds file", "", "*.mat")[0]

    def _pick_output(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Output folder")

    # -- running --------------------------------------------------------------------------
    def _folds(self) -> int | list[Any]:
        path = self.cvind.text().strip()
        if not path:
            return self.folds.value()
        if "case" not in self._table.columns:
            raise ValueError("the table has no 'case' column to match cvind.mat to")
        return folds_from_cvind(path, self._table["case"])

    def run(self) -> FunctionWorker | None:
        """Evaluate in a worker thread; returns the worker (None if the inputs are refused)."""
        try:
            if self._table.empty:
                raise ValueError("open a features table first")
            folds = self._folds()
            output = self.output.text().strip()
            inputs = [p for p in (self._table_file, self.cvind.text().strip()) if p]
            if output:  # before any fold: the report must not replace what it is made from
                refuse_inputs_as_report(output, MODEL_REPORT_FILES, inputs, "the model report")
                refuse_viewer_sources(self.viewer, *(Path(output) / n for n in MODEL_REPORT_FILES))
        except (ValueError, OSError, WriteError) as exc:
            self.status.setText(f"Cannot run: {exc}")
            return None
        table = self._table
        options = {
            "target": self.target.currentText(),
            "group": self.group.currentText(),
            "classifier": self.classifier.currentText(),
            "folds": folds,
            "seed": self.seed.value(),
            "importance_repeats": self.repeats.value(),
            "harmonize": None
            if self.harmonize.currentText() in ("", NO_HARMONIZATION)
            else self.harmonize.currentText(),
        }

        def work(progress: Progress) -> tuple[ModelResult, list[Path]]:
            result = evaluate_model(table, progress=progress, **options)
            progress(0, 0, "writing the report")  # cancelled by now: nothing is written
            return result, write_model_report(result, output, inputs) if output else []

        self.result, self.written = None, []
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.accuracy.setText("")
        self.status.setText("Evaluating…")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        return self.runner.run(work, "Tumour-type model")

    def cancel(self) -> None:
        """Stop at the next fold; nothing is shown or written."""
        self.runner.cancel()
        self.status.setText("Cancelled.")

    def _progressed(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
        self.status.setText(f"Evaluating: {message}")

    def _done(self, outcome: tuple[ModelResult, list[Path]], _seconds: float) -> None:
        self.result, self.written = outcome
        metrics = self.result.metrics
        accuracy = metrics["balanced_accuracy"]
        self.accuracy.setText(
            f"Balanced accuracy {accuracy['mean']:.3f} ± {accuracy['std']:.3f} over "
            f"{len(metrics['folds'])} folds grouped by {metrics['group']}; "
            f"macro F1 {metrics['macro_f1']['mean']:.3f}"
        )
        self.status.setText(
            f"Written to {Path(self.output.text().strip())} ({len(self.written)} files)"
            if self.written
            else "Done (choose an output folder to write the report)."
        )
        self._show_figures()

    def _show_figures(self, *_: Any) -> None:
        """The report's figures of the current result, in napari's current theme."""
        if self.result is None:
            return
        # the plots dock's module imports matplotlib: here, so docking this dock does not
        from napari_radiomics._napari._plot_request import plot_theme

        theme = plot_theme(self.viewer)
        shown = self.figures.currentIndex()
        self.figures.clear()
        self.figures.addTab(plot_canvas(apply_theme(confusion_figure(self.result), theme)),
                            "Confusion matrix")  # fmt: skip
        if not self.result.importances.empty:
            figure = apply_theme(importance_figure(self.result), theme)
            self.figures.addTab(plot_canvas(figure), "Importances")
        self.figures.setCurrentIndex(max(shown, 0))

    def _failed(self, message: str) -> None:
        self.status.setText(f"Cannot run: {message}")

    def _idle(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
