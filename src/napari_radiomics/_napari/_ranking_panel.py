"""The ranked feature table of the plots dock: which features separate the groups.

``analysis.ranking.rank_features`` runs in the panel's :class:`._runner.Runner` (a 3064 x
1,500 table takes a moment; only the newest ranking is shown) and its table is shown through
the lazy ``DataFrameModel``, sortable on every column and filtered by name. Clicking a
feature emits ``feature_chosen``; the plots dock plots it.
"""

from __future__ import annotations

import pandas as pd
from napari.qt.threading import FunctionWorker
from qtpy.QtCore import QModelIndex, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._table_model import DataFrameModel, feature_rows
from napari_radiomics._napari._workspace import StatusLine, row_table
from napari_radiomics.analysis.ranking import rank_features
from napari_radiomics.columns import DEFAULT_TARGET

#: Rows read to size the ranking's columns (its numbers are formatted alike).
_SIZED_ROWS = 40


class RankingPanel(QWidget):
    """Group column, per-patient or per-slice values, Rank; the ranked table below."""

    #: a ranked feature was clicked: its name and the group column it was ranked by
    feature_chosen = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._frame = pd.DataFrame()
        self.runner = Runner(self)
        self.runner.signals.finished.connect(self._ranked)
        self.runner.signals.failed.connect(
            lambda text: self.status.setText(f"Cannot rank: {text}")
        )
        self.target = QComboBox()
        self.per_slice = QCheckBox("Per slice (default: one mean per patient)")
        self.rank_button = QPushButton("Rank features")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter features")
        self.model = DataFrameModel()
        self.view = row_table(self.model)
        # Columns sized from the first rows: Qt's default reads 1000 rows in several roles,
        # 80,000 calls into the model (0.7 s on the GUI thread) for 1500 ranked features.
        self.view.horizontalHeader().setResizeContentsPrecision(_SIZED_ROWS)
        self.status = StatusLine(lines=2)  # a result wraps: its room is kept from the start

        row = QHBoxLayout()
        row.addWidget(QLabel("Groups"))
        row.addWidget(self.target, stretch=1)
        row.addWidget(self.rank_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        options = QHBoxLayout()
        options.addWidget(self.filter, stretch=1)
        options.addWidget(self.per_slice)
        layout.addLayout(options)
        layout.addWidget(self.view, stretch=1)
        layout.addWidget(self.status)

        self.rank_button.clicked.connect(self.rank)
        self.filter.textChanged.connect(self._filter)
        self.view.clicked.connect(self._clicked)

    @property
    def worker(self) -> FunctionWorker | None:
        """The latest ranking's worker (tests wait on it)."""
        return self.runner.worker

    @property
    def ranked(self) -> pd.DataFrame:
        """The ranking shown (empty before the first one)."""
        return self.model.frame

    def set_frame(self, frame: pd.DataFrame, groups: list[str]) -> None:
        """Rank these rows next time; ``groups`` are the columns offered to group by."""
        self._frame = frame
        self.runner.supersede()
        self.model.set_frame(pd.DataFrame())
        self.target.clear()
        self.target.addItems(groups)
        if DEFAULT_TARGET in groups:
            self.target.setCurrentText(DEFAULT_TARGET)
        self.status.setText("")

    def rank(self) -> FunctionWorker:
        """Rank every feature by how well it separates the groups, in a worker thread."""
        frame, target = self._frame, self.target.currentText()
        per_slice = self.per_slice.isChecked()
        self.status.setText("Ranking features…")
        return self.runner.run(
            lambda _progress: rank_features(frame, target=target, per_slice=per_slice),
            "Ranking features",
        )

    def _ranked(self, ranked: pd.DataFrame, _seconds: float) -> None:
        self.model.set_frame(ranked)
        self._filter()
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by rank: best first
        self.view.resizeColumnsToContents()
        passed = int((ranked["q"] < 0.05).sum())
        self.status.setText(
            f"{len(ranked)} features ranked on {ranked.attrs['n']} "
            f"{ranked.attrs['observations']}; {passed} with q < 0.05"
        )

    def _filter(self, *_: object) -> None:
        self.model.set_row_filter(feature_rows(self.model, self.filter.text()))

    def _clicked(self, index: QModelIndex) -> None:
        feature = str(self.model.headerData(index.row(), Qt.Orientation.Vertical))
        self.feature_chosen.emit(feature, self.target.currentText())
