"""The "Batch extraction" dock widget: the CLI's `extract`, from inside napari.

The run itself is `napari_radiomics.batch.iter_batch`, driven by the dock's
:class:`._runner.Runner`: each finished case is a progress step (bar here and in the activity
dock), Cancel closes the generator at the next case, which stops the worker processes;
everything finished is already in the output file, so a cancelled run can be resumed.
The finished table is read in the worker too and lands in the dataset table (one row per
case), not in the runs-side-by-side results dock, whose columns suit a handful of runs, not
thousands of cases.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from napari.layers import Image
from napari.qt.threading import FunctionWorker
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_radiomics._limits import max_jobs
from napari_radiomics._napari._controls import with_picker
from napari_radiomics._napari._dataset_table import get_dataset_table
from napari_radiomics._napari._runner import Progressed, Runner, run_controls
from napari_radiomics._napari._settings_choice import SettingsChoice
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._workspace import SIDE, scrolling, settle
from napari_radiomics.batch import (
    BatchProgress,
    BatchSummary,
    Case,
    companion_paths,
    default_jobs,
    discover_cases,
    iter_batch,
)
from napari_radiomics.corrections import session_for
from napari_radiomics.errors import WriteError
from napari_radiomics.feature_tables import read_features_table
from napari_radiomics.settings import ExtractionSettings

if TYPE_CHECKING:
    import napari

FOLDER = "Folder…"


def cases_from_layer(layer: Any, *, original_masks: bool = False) -> list[Case]:
    """The cases behind an open stack or slice: the files its reader recorded in metadata
    (`slices` table of a folder or bundle stack, or the `path` of a single .mat slice), with
    the dataset's corrections unless `original_masks`."""
    metadata = getattr(layer, "metadata", {}) or {}
    slices = metadata.get("slices")
    if slices is not None and "path" in slices:
        paths = list(dict.fromkeys(str(p) for p in slices["path"]))
    elif metadata.get("path"):
        paths = [str(metadata["path"])]
    else:
        raise ValueError(f"layer {layer.name!r}: it records no source files to run a batch on")
    return discover_cases(paths, original_masks=original_masks)


#: How a progress message says that a case failed (the dock keeps it on show).
FAILED = "failed: "


#: A batch run, as ``iter_batch`` makes it.
Batch = Generator[BatchProgress, None, BatchSummary]


def _drive(
    prepare: Callable[[], tuple[list[Case], ExtractionSettings]],
    start: Callable[[list[Case], ExtractionSettings], Batch],
) -> Generator[Progressed, None, tuple[BatchSummary, pd.DataFrame | None]]:
    """The run as the runner's steps (a failed case's message says so); returns its summary
    and the finished table, read here so that a dataset-sized file never blocks the event
    loop. ``prepare`` finds the cases and resolves the settings here too: for 3064 files
    that is 0.3-0.7 s of file checks and pyradiomics' schema validation, which blocked the
    event loop when it ran on the click. Closing it (Cancel) closes the batch, which stops
    its processes."""
    cases, settings = prepare()
    with closing(start(cases, settings)) as batch:
        while True:
            try:
                event = next(batch)
            except StopIteration as stop:
                summary: BatchSummary = stop.value
                break
            failed = event.case is not None and not event.ok
            yield Progressed(event.done, event.total, FAILED * failed + event.message)
    if not summary.output.exists() or summary.rows + summary.skipped == 0:
        return summary, None
    return summary, with_case_files(read_features_table(summary.output), cases)


def with_case_files(frame: pd.DataFrame, cases: list[Case]) -> pd.DataFrame:
    """The table with each case's file in a ``path`` column (after ``case``), so that
    choosing a row can open its case; a batch output names cases, not files."""
    if "path" in frame.columns or "case" not in frame.columns:
        return frame
    # Absolute: the table's relative paths would be taken to start at the output's folder.
    files = {case.case_id: str(Path(case.path).absolute()) for case in cases}
    out = frame.copy()
    out.insert(int(out.columns.get_loc("case")) + 1, "path", out["case"].map(files))
    return out


class BatchWidget(QWidget):
    """Choose cases (a folder, or an open stack), settings and an output file; run; cancel."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.summary: BatchSummary | None = None
        self._started = False  # the run in flight has reported its first step
        self.runner = Runner(self)

        self.source = QComboBox()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder of .mat files or a NumPy bundle")
        self.settings = SettingsChoice(viewer, self)
        self.output = QLineEdit()
        self.output.setPlaceholderText("features.csv or .parquet")
        self.jobs = QSpinBox()
        self.jobs.setRange(1, max_jobs())
        self.jobs.setValue(default_jobs())
        self.resume = QCheckBox("Resume (skip cases already in the output)")
        self.overwrite = QCheckBox("Overwrite an existing output")
        self.original_masks = QCheckBox("Original masks (ignore the corrections)")
        self.original_masks.setToolTip(
            "By default each case's corrected mask from its dataset's corrections store is "
            "measured; rows say which (mask_source)."
        )
        self.run_button = QPushButton("Run")
        self.cancel_button, self.bar, self.status = run_controls()
        # A QProgressBar repaints at once when its value changes, and under napari that
        # composes the whole window: a burst of finished cases queued while the GUI was busy
        # cost ~36 ms each, 11 s of blocked event loop for 300 cases. The bar shows the latest
        # count at most every 100 ms (and the last one when the run ends).
        self._count: tuple[int, int] = (0, 1)
        self._bar_timer = QTimer(self)
        self._bar_timer.setSingleShot(True)
        self._bar_timer.setInterval(100)
        self._bar_timer.timeout.connect(self._show_count)

        form = QFormLayout()
        form.addRow("Cases", self.source)
        form.addRow("Folder", with_picker(self.folder, self._pick_folder))
        self.settings.add_rows(form)
        form.addRow("Output", with_picker(self.output, self._pick_output))
        form.addRow("Processes", self.jobs)
        layout = scrolling(self)
        settle(self, SIDE)
        layout.addLayout(form)
        layout.addWidget(self.resume)
        layout.addWidget(self.overwrite)
        layout.addWidget(self.original_masks)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addStretch()

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        signals = self.runner.signals
        signals.progressed.connect(self._on_progress)
        signals.finished.connect(self._on_done)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(self._on_cancelled)
        signals.idle.connect(self._on_finished)
        viewer.layers.events.inserted.connect(self._refresh_sources)
        viewer.layers.events.removed.connect(self._refresh_sources)
        self._refresh_sources()

    # -- choices --------------------------------------------------------------------------
    def _refresh_sources(self, *_: Any) -> None:
        """Offer the folder and every image layer that knows the files it came from."""
        current = self.source.currentText()
        names = [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Image)
            and ("slices" in layer.metadata or layer.metadata.get("path"))
        ]
        self.source.clear()
        self.source.addItems([FOLDER, *names])
        if current in names:
            self.source.setCurrentText(current)

    def _pick_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Folder of cases")

    def _pick_output(self) -> str:
        return QFileDialog.getSaveFileName(self, "Features table", "", "*.csv *.parquet")[0]

    def _case_finder(self) -> Callable[[], list[Case]]:
        """The chosen cases as a call that finds them, for the run's worker: checking 3064
        files is too long for the event loop. Read from the widgets now; raises ValueError
        at once for a choice that names nothing."""
        original = self.original_masks.isChecked()
        if self.source.currentText() == FOLDER:
            folder = self.folder.text().strip()
            if not folder:
                raise ValueError("choose a folder of cases (or an open stack)")
            found = partial(discover_cases, [folder], original_masks=original)
        else:
            layer = self.viewer.layers[self.source.currentText()]
            found = partial(cases_from_layer, layer, original_masks=original)
        sessions = [s for s in map(session_for, (ly.data for ly in self.viewer.layers)) if s]

        def find() -> list[Case]:
            # What was painted or reverted in the last fraction of a second reaches the store
            # before the run reads it, in the worker: the run may be on an open stack or on
            # the folder it came from, which only the store's corrections set apart.
            for session in sessions:
                session.autosave.flush(timeout=5)
            return found()

        return find

    # -- running --------------------------------------------------------------------------
    def run(self) -> FunctionWorker | None:
        """Start the batch in a worker thread; returns the worker (None if a choice is
        missing). The cases are found and the settings resolved in the worker: a folder or
        a params file that cannot be used is reported as "Cannot start" when it is known."""
        try:
            if not self.output.text().strip():
                raise ValueError("choose an output file (.csv or .parquet)")
            output = Path(self.output.text().strip())
            # the table and the files written with it must not replace what the viewer reads
            # (the dataset table may show this output, which a resumed run goes on writing)
            refuse_viewer_sources(self.viewer, output, *companion_paths(output), tables=False)
            find_cases, resolve = self._case_finder(), self.settings.resolver()
        except (ValueError, OSError, WriteError) as exc:
            self.status.setText(f"Cannot start: {exc}")
            return None
        options = {
            "jobs": self.jobs.value(),
            "resume": self.resume.isChecked(),
            "overwrite": self.overwrite.isChecked(),
            "sources": self.settings.files(),  # the output must not replace the params file
        }
        self.summary = None
        self._started = False
        self._count = (0, 1)
        self._show_count()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Finding the cases…")
        return self.runner.run(
            _drive(
                lambda: (find_cases(), resolve()),
                lambda cases, settings: iter_batch(cases, settings, output, **options),
            ),
            "Batch extraction",
        )

    def cancel(self) -> None:
        """Stop after the cases in progress; rows already written stay (resume later)."""
        if self.runner.running:
            self.status.setText("Cancelling…")
            self.runner.cancel()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self._started = True
        self._count = (done, total)
        if not self._bar_timer.isActive():
            self._bar_timer.start()
        if done == 0 or message.startswith(FAILED):  # the run's plan, or a failed case
            self.status.setText(message)

    def _on_done(self, result: tuple[BatchSummary, pd.DataFrame | None], _seconds: float) -> None:
        summary, frame = result
        self.summary = summary
        text = f"{summary.rows} rows for {summary.succeeded} cases in {summary.output.name}"
        if summary.skipped:
            text += f" ({summary.skipped} already done)"
        if summary.failed:
            text += f"; {summary.failed} failed, see {summary.errors_path.name}"
        self.status.setText(text)
        if frame is not None:
            get_dataset_table(self.viewer).set_table(frame, str(summary.output))

    def _on_failed(self, text: str) -> None:
        """Before the batch's first step, the cases or the settings could not be used."""
        self.status.setText(f"{'Batch failed' if self._started else 'Cannot start'}: {text}")

    def _on_cancelled(self, _reason: str) -> None:
        self.status.setText(
            "Cancelled; finished cases are in the output. Tick Resume and Run to continue."
        )

    def _show_count(self) -> None:
        done, total = self._count
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)

    def _on_finished(self) -> None:
        self._bar_timer.stop()
        self._show_count()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
