"""The "IBSI compliance" dock: which features reproduce the IBSI reference values.

*Plugins > napari-radiomics > IBSI compliance* opens it and it computes the report at once,
through the core's ``analysis.ibsi.ibsi_report`` (the function ``napari-radiomics ibsi``
writes), in the dock's :class:`._runner.Runner`: the phantom goes through the same engine as
every extraction, off the GUI thread. The table is the plugin's one lazy table model, in the
stack of wide tables below the canvas; "Deviations only" keeps the rows that do not match.
"""

from __future__ import annotations

import pandas as pd
from napari.qt.threading import FunctionWorker
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._table_model import DataFrameModel
from napari_radiomics._napari._workspace import BELOW, row_table, settle
from napari_radiomics.analysis.ibsi import class_counts, ibsi_report


class IbsiWidget(QWidget):
    """The IBSI compliance table of pyradiomics' features on the IBSI digital phantom."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = Runner(self)
        self.runner.signals.finished.connect(self._shown)
        self.runner.signals.failed.connect(
            lambda text: self.status.setText(f"Cannot compute the IBSI report: {text}")
        )
        self.status = QLabel("")
        # One line that may be cut short (the tooltip has it all): the table below the canvas
        # needs the height, and the canvas the width.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.deviations_only = QCheckBox("Deviations only")
        self.model = DataFrameModel()
        self.view = row_table(self.model)

        row = QHBoxLayout()
        row.addWidget(self.status, stretch=1)
        row.addWidget(self.deviations_only)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.view, stretch=1)

        self.deviations_only.toggled.connect(self._filter)
        settle(self, BELOW)
        self.compute()

    @property
    def report(self) -> pd.DataFrame:
        """The report shown (empty before the first one arrives)."""
        return self.model.frame

    def compute(self) -> FunctionWorker:
        """Extract the phantom and compare it with IBSI's values, in a worker thread."""
        self.status.setText("Extracting the IBSI digital phantom…")
        return self.runner.run(ibsi_report, "IBSI compliance")

    def _shown(self, report: pd.DataFrame, _seconds: float) -> None:
        self.model.set_frame(report)
        self._filter()
        self.view.resizeColumnsToContents()
        total = class_counts(report).loc["total"]
        text = (
            f"{total['match']} of {len(report)} features match IBSI, {total['deviates']} "
            f"deviate (see the note), {total['no_reference']} have no reference"
        )
        self.status.setText(text)
        self.status.setToolTip(f"{text}; `napari-radiomics ibsi -o DIR` writes it as files")

    def _filter(self, *_: object) -> None:
        status = self.model.column_values("status")
        if status is None or not self.deviations_only.isChecked():
            self.model.set_row_filter(None)
        else:
            self.model.set_row_filter(status != "match")
