"""What the "Feature plots" dock asks to be drawn, as plain values the worker builds from.

The dock's controls (``_plots_widget``) turn into a :class:`PlotRequest` on the GUI thread;
the runner's worker builds the core's figure from it and lays it out at the canvas' size
(``analysis.plots.fix_layout``), away from Qt. Kept apart from the controls because this is
all the worker may touch: plain values, a DataFrame, matplotlib without a canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from napari.utils.theme import get_theme

from napari_radiomics.analysis.plots import (
    Plot,
    PlotTheme,
    distribution_plot,
    fix_layout,
    overview_plot,
    projection,
    projection_plot,
    scatter_plot,
)

if TYPE_CHECKING:
    import napari

DISTRIBUTIONS = {"Box": "box", "Violin": "violin", "Histogram": "histogram"}
PROJECTIONS = {"PCA": "pca", "t-SNE": "tsne", "UMAP": "umap"}
OVERVIEWS = {
    "Slices per patient": "slices_per_patient",
    "Tumour types per patient": "types_per_patient",
    "Tumour types per slice": "types_per_slice",
}
SCATTER = "Scatter of two features"


def plot_theme(viewer: napari.viewer.Viewer) -> PlotTheme:
    """napari's current theme as plot colours: panels, text, and its warning colour to mark
    selected points (it stands out from the category palette)."""
    theme = get_theme(viewer.theme)
    return PlotTheme(
        background=theme.background.as_hex(),
        face=theme.foreground.as_hex(),
        text=theme.text.as_hex(),
        highlight=theme.warning.as_hex(),
    )


@dataclass(frozen=True)
class PlotRequest:
    """What the controls ask for, as plain values: built in a worker thread, away from Qt."""

    kind: str
    x: str
    y: str
    colour: str | None
    chart: str
    theme: PlotTheme
    size: tuple[float, float]  # the canvas' size in inches: the figure is laid out for it

    def build(self, frame: pd.DataFrame) -> Plot:
        """The core's plot for this request, laid out at the canvas' size (raises ValueError
        naming a bad column)."""
        plot = self._plot(frame)
        fix_layout(plot.figure, self.size)
        return plot

    def _plot(self, frame: pd.DataFrame) -> Plot:
        if self.kind in DISTRIBUTIONS:
            return distribution_plot(
                frame, self.x, self.colour, DISTRIBUTIONS[self.kind], self.theme
            )
        if self.kind == SCATTER:
            return scatter_plot(frame, self.x, self.y, self.colour, self.theme)
        if self.kind in OVERVIEWS:
            return overview_plot(frame, OVERVIEWS[self.kind], self.chart, theme=self.theme)
        coords, labels = projection(frame, PROJECTIONS[self.kind])
        return projection_plot(frame, coords, labels, self.colour, self.theme)
