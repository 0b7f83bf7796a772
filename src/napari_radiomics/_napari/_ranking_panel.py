"""The ranked feature table of the plots dock: which features separate the groups.

``analysis.ranking.rank_features`` runs in a worker thread (a 3064 x 1,500 table takes a
moment) and its table is shown through the lazy ``DataFrameModel``, sortable on every column
and filtered by name. Clicking a feature emits ``feature_chosen``; the plots dock plots it.
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
    QTableView,
    QVBoxLayout,
    QWidget,
)

from napari_radiomics._napari._background import LatestOnly
from napari_radiomics._napari._table_model import DataFrameModel, FeatureFilterProxy
from napari_radiomics._napari._workspace import show_rows
from napari_radiomics.analysis.ranking import rank_features


class RankingPanel(QWidget):
    """Group column, per-patient or per-slice values, Rank; the ranked table below."""

    #: a ranked feature was clicked: its name and the group column it was ranked by
    feature_chosen = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._frame = pd.DataFrame()
        self._background = LatestOnly(self)
        self.target = QComboBox()
        self.per_slice = QCheckBox("Per slice (default: one mean per patient)")
        self.rank_button = QPushButton("Rank features")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter features")
        self.model = DataFrameModel()
        self.proxy = FeatureFilterProxy()
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        show_rows(self.view)
        self.status = QLabel("")
        self.status.setWordWrap(True)

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
        self.filter.textChanged.connect(lambda text: self.proxy.set_filters(text))
        self.view.clicked.connect(self._clicked)

    @property
    def worker(self) -> FunctionWorker | None:
        """The latest ranking's worker (tests wait on it)."""
        return self._background.worker

    @property
    def ranked(self) -> pd.DataFrame:
        """The ranking shown (empty before the first one)."""
        return self.model.frame

    def set_frame(self, frame: pd.DataFrame, groups: list[str]) -> None:
        """Rank these rows next time; ``groups`` are the columns offered to group by."""
        self._frame = frame
        self._background.drop()
        self.model.set_frame(pd.DataFrame())
        self.target.clear()
        self.target.addItems(groups)
        if "tumor_type" in groups:
            self.target.setCurrentText("tumor_type")
        self.status.setText("")

    def rank(self) -> FunctionWorker:
        """Rank every feature by how well it separates the groups, in a worker thread."""
        frame, target = self._frame, self.target.currentText()
        per_slice = self.per_slice.isChecked()
        self.status.setText("Ranking features…")
        return self._background.run(
            lambda: rank_features(frame, target=target, per_slice=per_slice),
            self._ranked,
            lambda exc: self.status.setText(f"Cannot rank: {exc}"),
        )

    def _ranked(self, ranked: pd.DataFrame) -> None:
        self.model.set_frame(ranked)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by rank: best first
        self.view.resizeColumnsToContents()
        passed = int((ranked["q"] < 0.05).sum())
        self.status.setText(
            f"{len(ranked)} features ranked on {ranked.attrs['n']} "
            f"{ranked.attrs['observations']}; {passed} with q < 0.05"
        )

    def _clicked(self, index: QModelIndex) -> None:
        row = self.proxy.mapToSource(index).row()
        feature = str(self.model.headerData(row, Qt.Orientation.Vertical))
        self.feature_chosen.emit(feature, self.target.currentText())
