"""The dataset table's columns: identifying ones first, then the features a filter keeps.

Rows, sorting and searching are the plugin's one table model's (:mod:`._table_model`: NumPy
arrays, no per-row Python); a dataset adds a thousand or more feature columns, chosen by name,
class and image type with one mask over the parsed names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_radiomics._napari._table_model import DataFrameModel, contains
from napari_radiomics.results import identifying_columns, parse_feature_name


@dataclass(frozen=True)
class ColumnFilter:
    """Which feature columns are shown; identifying columns always are.

    ``text`` is a part of the name (case-insensitive), ``feature_class`` and ``image_type``
    pyradiomics' own (``""``: any), ``allowed`` a set of feature names to keep (``None``:
    all), e.g. the features a robustness analysis found reproducible.
    """

    text: str = ""
    feature_class: str = ""
    image_type: str = ""
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class ColumnLayout:
    """A table's identifying columns and its features with their class and image type."""

    identifying: list[str]
    features: list[str]
    feature_classes: list[str]
    image_types: list[str]


def column_layout(frame: pd.DataFrame) -> ColumnLayout:
    """Split the columns, parsing each name once (a thousand regex matches, a few ms)."""
    parsed = {name: parse_feature_name(name) for name in frame.columns}
    features = [name for name, part in parsed.items() if part is not None]
    others = frame.loc[:, [name for name, part in parsed.items() if part is None]]
    parts = [part for part in parsed.values() if part is not None]
    return ColumnLayout(
        identifying=identifying_columns(others),
        features=features,
        feature_classes=[part.feature_class for part in parts],
        image_types=[part.image_type for part in parts],
    )


class DatasetModel(DataFrameModel):
    """The plugin's table model over a features table, one row per case (and ROI label):
    identifying columns first, always shown, then the features a :class:`ColumnFilter` keeps."""

    def set_frame(self, frame: pd.DataFrame, layout: ColumnLayout | None = None) -> None:
        """Show another table; sort, search and column filter start afresh.

        ``layout`` is :func:`column_layout` of ``frame``, when the caller has it already.
        """
        layout = column_layout(frame) if layout is None else layout
        self._ids, self._features = layout.identifying, layout.features
        self._feature_class = np.array(layout.feature_classes, dtype=object)
        self._image_type = np.array(layout.image_types, dtype=object)
        self._lower = np.array([name.lower() for name in self._features], dtype=object)
        self._filter = ColumnFilter()
        super().set_frame(frame, numeric=self._features)
        self._feature_at = frame.columns.get_indexer(self._features)
        self.show_columns(self._shown_positions(np.ones(len(self._features), dtype=bool)))

    @property
    def identifying(self) -> list[str]:
        """The identifying columns (always shown first)."""
        return list(self._ids)

    @property
    def features(self) -> list[str]:
        """Every feature column of the table, shown or not."""
        return list(self._features)

    def image_types(self) -> list[str]:
        """The image types of the table's features, in their first order of appearance."""
        return list(dict.fromkeys(self._image_type))

    def feature_classes(self) -> list[str]:
        """The feature classes of the table's features, in their first order of appearance."""
        return list(dict.fromkeys(self._feature_class))

    def set_search(self, text: str) -> None:
        """Show only the rows whose identifying values contain ``text`` (any case)."""
        self.set_row_filter(contains(self.row_texts(self._ids), text))

    def set_column_filter(self, wanted: ColumnFilter) -> None:
        """Show the identifying columns and the features ``wanted`` keeps, in table order."""
        keep = contains(self._lower, wanted.text)
        if wanted.feature_class:
            keep &= self._feature_class == wanted.feature_class
        if wanted.image_type:
            keep &= self._image_type == wanted.image_type
        if wanted.allowed is not None:  # a set look-up per name: np.isin sorts objects
            allowed = wanted.allowed
            keep &= np.fromiter((f in allowed for f in self._features), bool, len(keep))
        self._filter = wanted
        self.show_columns(self._shown_positions(keep))

    @property
    def column_filter(self) -> ColumnFilter:
        """The filter the shown feature columns satisfy."""
        return self._filter

    def _shown_positions(self, keep: np.ndarray) -> np.ndarray:
        ids = self.frame.columns.get_indexer(self._ids)
        return np.concatenate([ids, self._feature_at[keep]]).astype(int)
