"""The runs side by side: features as rows, one column per run and ROI label.

People comparing a run before and after a mask correction read the transpose of the engine's
tidy frames. :class:`WideColumns` describes that table at once and builds a run's column only
when asked (a 3064-case batch is 3064 columns of 1500 values; a dock shows a few), and
:func:`add_difference` adds the change between two columns. Kept apart from
:mod:`napari_radiomics.results`, whose tidy tables and files it reads through :class:`Run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from napari_radiomics.results import ROI_COLUMN, Run, parse_feature_name

#: Pseudo feature class of the identifying rows at the top of the wide table.
METADATA_CLASS = "metadata"
#: Descriptive columns at the left of the wide table (everything else is a value column).
DESCRIPTION_COLUMNS = ("image_type", "feature_class", "feature")


def run_columns(run: Run) -> list[str]:
    """Column titles of a run in the wide table: one per row (case and ROI label)."""
    frame = run.frame
    many_cases = "case" in frame.columns and frame["case"].nunique(dropna=False) > 1
    cases = frame["case"].tolist() if many_cases else [None] * len(frame)
    rois = frame[ROI_COLUMN].tolist() if ROI_COLUMN in frame.columns else [None] * len(frame)
    titles: list[str] = []
    taken: set[str] = set()  # a set, not the list: a batch has thousands of titles
    for case, roi in zip(cases, rois, strict=True):
        parts = [run.name]
        if case is not None:
            parts.append(str(case))
        if roi is not None:
            parts.append(f"label {roi}")
        title = " | ".join(parts)
        # Two rows with the same case and label (e.g. two files of one case) stay distinct.
        n = 2
        unique = title
        while unique in taken:
            unique, n = f"{title} ({n})", n + 1
        titles.append(unique)
        taken.add(unique)
    return titles


class WideColumns:
    """The runs side by side (:func:`wide_table`) column by column: the rows' names and
    description at once, a run column's values when first asked for.

    Rows are the features' full names; the first columns describe them (``image_type``,
    ``feature_class``, ``feature``); identifying values (case, patient id, tumour type, ...)
    come first as rows of class ``metadata`` so a column says which case it is. A feature
    missing from a run (other settings) is NaN there; a later column of a title already used
    replaces the earlier one, at its place. ``difference`` (before, after) appends the
    columns of :func:`add_difference`.

    A 3064-case batch is 3064 columns of 1500 values: built as one object table it cost the
    results dock a second on every change; a dock shows a few columns at a time.
    """

    def __init__(self, runs: Sequence[Run], difference: tuple[str, str] | None = None) -> None:
        meta_names: dict[str, None] = {}
        feature_names: dict[str, None] = {}
        for run in runs:
            meta_names.update(dict.fromkeys(run.rows[0]))
            feature_names.update(dict.fromkeys(run.rows[1]))
        #: The row names, top to bottom.
        self.index = [*meta_names, *feature_names]
        described = [("", METADATA_CLASS, name) for name in meta_names]
        for name in feature_names:
            parsed = parse_feature_name(name)
            assert parsed is not None  # feature_columns only returns parsable names
            described.append((parsed.image_type, parsed.feature_class, parsed.feature))
        self._described = np.array(described, dtype=object).reshape(len(self.index), 3)
        # A later column of the same title replaces the earlier one (two runs may share a
        # name), each column keeping its own run's row lookup.
        sources: dict[str, tuple[Run, np.ndarray, int]] = {}
        for run in runs:
            where = run.frame.columns.get_indexer(self.index)
            rows = ((run, where, row) for row in range(len(run.frame)))
            sources.update(zip(run_columns(run), rows, strict=True))
        self._sources = list(sources.values())
        self._difference = difference
        extra: list[str] = []
        if difference is not None and all(title in sources for title in difference):
            before, after = difference
            extra = [difference_title(after, before, percent=p) for p in (False, True)]
        #: Column titles, left to right: the description, the runs', the differences'.
        self.titles = [*DESCRIPTION_COLUMNS, *sources, *extra]

    def column(self, position: int) -> np.ndarray:
        """The values of column ``position`` of :attr:`titles`, in row order."""
        described = len(DESCRIPTION_COLUMNS)
        if position < described:
            return self._described[:, position]
        k = position - described
        if k >= len(self._sources):  # the differences
            before, after = (self.column(self.titles.index(t)) for t in self._difference or ())
            is_feature = self._described[:, 1] != METADATA_CLASS
            return _difference(before, after, is_feature)[k - len(self._sources)]
        run, where, row = self._sources[k]
        values = np.full(len(self.index), np.nan, dtype=object)
        found = where >= 0
        values[found] = run.row_values(row)[where[found]]
        return values

    def table(self) -> pd.DataFrame:
        """The whole table as one DataFrame (the value columns as Python objects)."""
        index = pd.Index(self.index, name="name")
        described = len(DESCRIPTION_COLUMNS)
        table = pd.DataFrame(self._described, index=index, columns=list(DESCRIPTION_COLUMNS))
        runs = self.titles[described : described + len(self._sources)]
        values = np.empty((len(self.index), len(runs)), dtype=object)
        for k in range(len(runs)):
            values[:, k] = self.column(described + k)
        columns = pd.DataFrame(values, index=index, columns=runs, dtype=object, copy=False)
        differences = {
            t: self.column(i) for i, t in enumerate(self.titles) if i >= described + len(runs)
        }
        return pd.concat([table, columns, pd.DataFrame(differences, index=index)], axis=1)


def wide_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Features as rows, one column per run and ROI label, identifying rows on top (see
    :class:`WideColumns`, which builds it)."""
    return WideColumns(runs).table()


def add_difference(table: pd.DataFrame, before: str, after: str) -> pd.DataFrame:
    """Append ``after - before`` and the change in % of ``|before|`` for the feature rows.

    Identifying rows and non-numeric values get NaN; a zero ``before`` gives NaN %, not inf.
    """
    out = table.copy()
    is_feature = (out["feature_class"] != METADATA_CLASS).to_numpy()
    delta, percent = _difference(out[before], out[after], is_feature)
    out[difference_title(after, before)] = delta
    out[difference_title(after, before, percent=True)] = percent
    return out


def _difference(before: Any, after: Any, is_feature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``after - before`` on the feature rows, and its % of ``|before|`` (NaN for 0)."""
    a = pd.to_numeric(pd.Series(before), errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(pd.Series(after), errors="coerce").to_numpy(dtype=float)
    delta = np.where(is_feature, b - a, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return delta, np.where(a != 0, 100.0 * delta / np.abs(a), np.nan)


def difference_title(after: str, before: str, *, percent: bool = False) -> str:
    """Title of a difference column, so callers can find the column they asked for."""
    return f"Δ{'%' if percent else ''} ({after}) − ({before})"
