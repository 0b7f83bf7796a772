"""The clustering panel of the plots dock: do the features group the cases by tumour type?

``analysis.clustering.cluster_table`` (what ``napari-radiomics cluster`` runs) runs in the
panel's :class:`._runner.Runner`; only the newest clustering is shown. Its result goes out
through ``clustered`` as each row's cluster: the plots dock makes it a ``cluster`` column of
the rows it plots (the dataset table's, or a labels layer's features), so the plots colour by
it and a cluster chosen here selects its rows, in the plot, the table and the viewer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from napari.qt.threading import FunctionWorker
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._workspace import StatusLine, narrow
from napari_radiomics.analysis.clustering import (
    CLUSTER_COLUMN,
    METHODS,
    NOISE,
    SPACES,
    ClusterResult,
    cluster_table,
)


class ClusterPanel(QWidget):
    """Method, clusters, space, per patient or slice; Cluster; choose a cluster to select it."""

    #: a clustering finished: the cluster of each row of the frame it was given (np.ndarray)
    clustered = Signal(object)
    #: "Select" was pressed: the positions of the chosen cluster's rows
    rows_chosen = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self._frame = pd.DataFrame()
        self._offered: list[Any] = []  # the clusters the "select" list offers, in its order
        self.result: ClusterResult | None = None
        self.runner = Runner(self)
        self.runner.signals.finished.connect(self._clustered)
        self.runner.signals.failed.connect(
            lambda text: self.status.setText(f"Cannot cluster: {text}")
        )
        self.method, self.space, self.per = QComboBox(), QComboBox(), QComboBox()
        self.method.addItems(METHODS)
        self.space.addItems(SPACES)
        self.per.addItems(["patient", "slice"])
        self.clusters = QSpinBox()
        self.clusters.setRange(2, 50)
        self.clusters.setValue(3)
        self.clusters.setToolTip("k of k-means and of the mixture (HDBSCAN finds its own)")
        self.cluster_button = QPushButton("Cluster")
        self.chosen = QComboBox()
        self.select_button = QPushButton("Select")
        self.select_button.setEnabled(False)
        self.status = StatusLine(lines=2)  # a result wraps: its room is kept from the start

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        fields = (("Cluster with", self.method), ("k", self.clusters), ("On", self.space),
                  ("Per", self.per), ("Cluster", self.chosen))  # fmt: skip
        for n, (title, field) in enumerate(fields):
            if isinstance(field, QComboBox):
                narrow(field, 6)
            grid.addWidget(QLabel(title), n // 2, n % 2 * 2)
            grid.addWidget(field, n // 2, n % 2 * 2 + 1)
        grid.addWidget(self.select_button, 2, 2)
        grid.addWidget(self.cluster_button, 2, 3)
        grid.addWidget(self.status, 3, 0, 1, 4)
        self.cluster_button.clicked.connect(self.cluster)
        self.select_button.clicked.connect(self._select)

    @property
    def worker(self) -> FunctionWorker | None:
        """The latest clustering's worker (tests wait on it)."""
        return self.runner.worker

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Cluster these rows next time; a clustering still running is forgotten. Rows that
        already carry a ``cluster`` column offer its clusters to select."""
        self._frame = frame
        self.runner.supersede()
        self._offer(frame[CLUSTER_COLUMN] if CLUSTER_COLUMN in frame.columns else None)

    def cluster(self) -> FunctionWorker:
        """Cluster the rows in a worker thread, with the options shown."""
        frame = self._frame
        options = {
            "method": self.method.currentText(),
            "clusters": self.clusters.value(),
            "space": self.space.currentText(),
            "per": self.per.currentText(),
        }
        self.status.setText("Clustering…")
        return self.runner.run(lambda _progress: cluster_table(frame, **options), "Clustering")

    def _clustered(self, result: ClusterResult, _seconds: float) -> None:
        self.result = result
        agreement = result.agreement
        self.clustered.emit(result.clusters[CLUSTER_COLUMN].to_numpy())
        self.status.setText(
            f"{agreement['clusters']} clusters of {agreement['points']} {agreement['per']}s"
            + (f" ({agreement['noise']} noise)" if agreement["noise"] else "")
            + f": adjusted Rand {agreement['adjusted_rand']:.3f}, "
            f"NMI {agreement['nmi']:.3f} against {agreement['target']}"
        )

    def _offer(self, clusters: pd.Series | None) -> None:
        self.chosen.clear()
        # The values themselves, not their text: a table read back may hold 1.0 for 1.
        self._offered = [] if clusters is None else sorted(pd.unique(clusters.dropna()))
        self.chosen.addItems(["noise" if c == NOISE else str(c) for c in self._offered])
        self.select_button.setEnabled(self.chosen.count() > 0)

    def _select(self) -> None:
        wanted = self._offered[self.chosen.currentIndex()]
        rows = np.flatnonzero(self._frame[CLUSTER_COLUMN].to_numpy() == wanted)
        self.rows_chosen.emit([int(r) for r in rows])
