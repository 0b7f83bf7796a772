"""The plots dock and the dataset table, linked both ways.

A selection of rows in the table selects the same points in the plot, and a selection in the
plot the same rows in the table (which also moves the viewer to the first); a new table in the
table dock is plotted. Apart from the dock itself because it is the one place that knows both
sides, through the little it needs of each (:class:`RowTable`, the plots' ``set_table``,
``highlight_rows`` and ``rows_selected``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

if TYPE_CHECKING:
    from napari_radiomics._napari._plots_widget import PlotsWidget


class RowTable(Protocol):
    """What :func:`link` needs of the dataset table."""

    rows_selected: Any  # Signal(list)

    @property
    def frame(self) -> pd.DataFrame: ...

    def select_rows(self, rows: Sequence[int], move_viewer: bool = True) -> None: ...

    def set_table(self, frame: pd.DataFrame, source: str | None = None) -> None: ...

    source: str | None


def link(table: RowTable, plots: PlotsWidget) -> None:
    """Plot the table's rows; a selection in either selects the same rows in the other (the
    table also moves the viewer to the first). Re-entry is ignored: a selection that came
    from the other side is not sent back."""
    plots.set_table(table.frame)
    busy = False

    def once(action: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
        def guarded(rows: list[int]) -> None:
            nonlocal busy
            if busy:
                return
            busy = True
            try:
                action(rows)
            finally:
                busy = False

        return guarded

    table.rows_selected.connect(once(plots.highlight_rows))
    plots.rows_selected.connect(once(lambda rows: table.select_rows(rows, move_viewer=True)))
    changed = getattr(table, "table_changed", None)  # the dataset table's: a new table shown
    if changed is not None:
        changed.connect(lambda: plots.set_table(table.frame))
    plots.linked = table
