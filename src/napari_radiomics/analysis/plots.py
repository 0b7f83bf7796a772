"""Plots of a features table: distributions, scatters and projections, dataset overviews.

Each function returns a :class:`Plot`: a matplotlib ``Figure`` built without pyplot (no global
state, so the CLI's report and a napari dock draw the same figure, the dock in a Qt canvas),
plus where each selectable point sits and which table row it stands for. Selection is
geometry on those points (a lasso polygon, a rectangle, the nearest point to a click), so
it is the same, and testable, with or without a GUI. Colours come from a :class:`PlotTheme`;
the dock builds one from napari's current theme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from napari_radiomics._atomic import replaced
from napari_radiomics.analysis.models import feature_matrix
from napari_radiomics.columns import DEFAULT_GROUP, DEFAULT_TARGET

__all__ = [
    "OVERVIEWS",
    "Plot",
    "PlotTheme",
    "apply_theme",
    "distribution_plot",
    "fix_layout",
    "overview_plot",
    "projection",
    "projection_methods",
    "projection_plot",
    "save_figure",
    "scatter_plot",
]

#: Overview charts of a dataset: name -> title.
OVERVIEWS = {
    "slices_per_patient": "slices per patient",
    "types_per_patient": "tumour types per patient",
    "types_per_slice": "tumour types per slice",
}
MISSING = "(missing)"
_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
#: Up to this many distinct whole numbers colour as categories (labels 1, 2, 3); other
#: numeric columns get a colour map.
_MAX_CATEGORIES = 10


@dataclass(frozen=True)
class PlotTheme:
    """The colours a figure is drawn in (any matplotlib colour: names, ``#rrggbb``)."""

    background: str = "white"  # around the axes
    face: str = "white"  # inside the axes
    text: str = "black"  # labels, ticks, spines
    highlight: str = "#e3b617"  # rows selected elsewhere
    palette: tuple[str, ...] = _TAB10  # one colour per category


@dataclass
class Plot:
    """A figure and its selectable points: ``points[i]`` (data coordinates of ``axes``) is
    table row ``rows[i]`` (a 0-based position). Charts of counts have no points."""

    figure: Any
    axes: Any = None
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    theme: PlotTheme = field(default_factory=PlotTheme)
    _marks: Any = None

    def rows_in_polygon(self, vertices: Sequence[tuple[float, float]]) -> list[int]:
        """Rows whose points lie inside a lasso's polygon (data coordinates)."""
        from matplotlib.path import Path as PolygonPath

        if len(self.rows) == 0 or len(vertices) < 3:
            return []
        inside = PolygonPath(np.asarray(vertices, dtype=float)).contains_points(self.points)
        return sorted(set(self.rows[inside].tolist()))

    def rows_in_rectangle(
        self, corner: tuple[float, float], other: tuple[float, float]
    ) -> list[int]:
        """Rows whose points lie in the rectangle spanned by two corners (data coordinates)."""
        low, high = np.minimum(corner, other), np.maximum(corner, other)
        inside = ((self.points >= low) & (self.points <= high)).all(axis=1)
        return sorted(set(self.rows[inside].tolist()))

    def nearest_row(self, x: float, y: float, pixels: float = 8.0) -> int | None:
        """The row of the point nearest to a click at data (x, y), if within ``pixels`` on
        screen (distances in data units would depend on each axis' scale)."""
        if len(self.rows) == 0:
            return None
        self.axes.get_xlim()  # limits autoscale lazily: bring them (and transData) up to date
        transform = self.axes.transData
        distance = np.hypot(*(transform.transform(self.points) - transform.transform((x, y))).T)
        best = int(np.argmin(distance))
        return int(self.rows[best]) if distance[best] <= pixels else None

    def highlight(self, rows: Sequence[int]) -> None:
        """Ring the points of ``rows`` in the theme's highlight colour (replacing any ring)."""
        if self._marks is not None:
            self._marks.remove()
            self._marks = None
        if self.axes is None:
            return
        chosen = np.isin(self.rows, np.asarray(rows, dtype=int))
        if chosen.any():
            self._marks = self.axes.scatter(
                *self.points[chosen].T, s=80, facecolors="none", linewidths=1.8,
                edgecolors=self.theme.highlight, zorder=5,
            )  # fmt: skip


def apply_theme(figure: Any, theme: PlotTheme) -> Any:
    """Restyle a figure, however it was built (the model report's too), in ``theme``."""
    figure.set_facecolor(theme.background)
    for axes in figure.axes:
        axes.set_facecolor(theme.face)
        for spine in axes.spines.values():
            spine.set_color(theme.text)
        axes.tick_params(colors=theme.text, which="both")
        for text in (axes.title, axes.xaxis.label, axes.yaxis.label):
            text.set_color(theme.text)
        legend = axes.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor(theme.face)
            for text in legend.get_texts():
                text.set_color(theme.text)
    return figure


def save_figure(figure: Any, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure as PNG or SVG (by the suffix), whole or not at all."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise ValueError(f"{path}: a figure is saved as .png or .svg, not {path.suffix!r}")
    with replaced(path) as temporary:
        figure.savefig(temporary, format=kind, dpi=dpi, facecolor=figure.get_facecolor())
    return path


def fix_layout(figure: Any, size: tuple[float, float]) -> None:
    """Size ``figure`` (inches) and run its layout once, then keep those positions.

    Constrained layout measures every tick label on each draw: about half of drawing a box
    plot of 3064 points. A dock calls this in its worker thread (with an Agg renderer; fonts
    are cached per thread in matplotlib) so that the GUI thread only paints; when its canvas
    changes size, the dock lays out a new figure at the new size.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.set_size_inches(size)
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
        figure.set_layout_engine("none")


def _scatter(axes: Any, xy: np.ndarray, colours: Sequence[Any], **style: Any) -> None:
    """Points in their colours, as one scatter per colour when there are few colours.

    Agg draws a one-colour scatter as a stamped marker (``draw_markers``) but a scatter of
    many colours path by path: 3064 points in three colours drew in 30 ms instead of 80.
    A colour map (a colour per point) stays one scatter.
    """
    keys = [c if isinstance(c, str) else tuple(c) for c in colours]
    distinct = list(dict.fromkeys(keys))
    if len(distinct) > 2 * _MAX_CATEGORIES:
        axes.scatter(xy[:, 0], xy[:, 1], c=list(colours), **style)
        return
    codes = np.array([distinct.index(k) for k in keys], dtype=int)
    for code, colour in enumerate(distinct):
        axes.scatter(*xy[codes == code].T, color=colour, **style)


def _figure(theme: PlotTheme, size: tuple[float, float] = (5.6, 4.2)) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def _column(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        raise ValueError(
            f"column {column!r} is not in the table; columns: "
            f"{', '.join(map(str, list(table.columns)[:8]))}..."
        )
    return table[column]


def _categories(values: pd.Series) -> pd.Series:
    """Values as category names: text kept, numbers without a trailing ``.0``, gaps named."""
    text = values.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    return text.where(values.notna(), MISSING)


def _colours(table: pd.DataFrame, by: str | None, theme: PlotTheme, axes: Any) -> list[Any]:
    """One colour per row: a category's palette colour (with a legend) or, for a numeric
    column of many values, a colour map (with a colour bar)."""
    if by is None:
        return [theme.palette[0]] * len(table)
    values = _column(table, by)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    codes = numeric and values.dropna().map(float).map(float.is_integer).all()
    if numeric and not (codes and values.nunique() <= _MAX_CATEGORIES):
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        norm = Normalize(values.min(), values.max())
        mappable = ScalarMappable(norm, colormaps["viridis"])
        colour_bar = axes.figure.colorbar(mappable, ax=axes, label=by)
        colour_bar.ax.tick_params(colors=theme.text)
        colour_bar.ax.yaxis.label.set_color(theme.text)
        return [mappable.to_rgba(v) if pd.notna(v) else "grey" for v in values]
    from matplotlib.lines import Line2D

    names = _categories(values)
    order = sorted(names.unique())
    palette = {n: theme.palette[i % len(theme.palette)] for i, n in enumerate(order)}
    palette[MISSING] = "grey"
    handles = [Line2D([], [], marker="o", ls="", color=palette[n], label=n) for n in order]
    axes.legend(handles=handles, title=by, fontsize=8, title_fontsize=8)
    return [palette[n] for n in names]


def _points_plot(
    table: pd.DataFrame,
    xy: np.ndarray,
    labels: tuple[str, str],
    colour_by: str | None,
    theme: PlotTheme,
) -> Plot:
    figure, axes = _figure(theme)
    colours = _colours(table, colour_by, theme, axes)
    _scatter(axes, xy, colours, s=18, alpha=0.85, linewidths=0)
    axes.set_xlabel(labels[0], fontsize=8)
    axes.set_ylabel(labels[1], fontsize=8)
    apply_theme(figure, theme)
    return Plot(figure, axes, xy, np.arange(len(table)), theme)


def scatter_plot(
    table: pd.DataFrame,
    x: str,
    y: str,
    colour_by: str | None = DEFAULT_TARGET,
    theme: PlotTheme | None = None,
) -> Plot:
    """Two features against each other, coloured by any column."""
    values = feature_matrix(table, [x, y]).to_numpy()
    return _points_plot(table, values, (x, y), colour_by, theme or PlotTheme())


def projection_methods() -> tuple[str, ...]:
    """Projections available here: PCA and t-SNE (scikit-learn), UMAP when installed."""
    import importlib.util

    umap = importlib.util.find_spec("umap") is not None
    return ("pca", "tsne", "umap") if umap else ("pca", "tsne")


def projection(
    table: pd.DataFrame,
    method: Literal["pca", "tsne", "umap"] = "pca",
    features: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, tuple[str, str]]:
    """Every feature, z-scored, projected to two dimensions; returns the coordinates and the
    axis titles (PCA's say how much variance each component explains).

    The features are standardised first because their scales differ by orders of magnitude
    (an area in mm², a ratio in [0, 1]): unscaled, the largest would be the projection.
    """
    from sklearn.preprocessing import StandardScaler

    if method not in projection_methods():
        raise ValueError(f"projection {method!r} is not available; choose {projection_methods()}")
    values = feature_matrix(table, features).to_numpy()
    values = values[:, np.ptp(values, axis=0) > 0]  # constants carry nothing and scale to NaN
    if len(values) < 3 or values.shape[1] < 2:
        raise ValueError("a projection needs at least 3 rows and 2 features that vary")
    scaled = StandardScaler().fit_transform(values)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(scaled)
        share = pca.explained_variance_ratio_
        return pca.transform(scaled), (f"PC1 ({share[0]:.0%})", f"PC2 ({share[1]:.0%})")
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(scaled) - 1) / 3)
        coords = TSNE(perplexity=perplexity, init="pca", random_state=seed).fit_transform(scaled)
        return coords, ("t-SNE 1", "t-SNE 2")
    import umap  # optional: listed by projection_methods() only when installed

    coords = umap.UMAP(random_state=seed).fit_transform(scaled)
    return np.asarray(coords), ("UMAP 1", "UMAP 2")


def projection_plot(
    table: pd.DataFrame,
    coords: np.ndarray,
    labels: tuple[str, str],
    colour_by: str | None = DEFAULT_TARGET,
    theme: PlotTheme | None = None,
) -> Plot:
    """A :func:`projection`'s coordinates as a scatter, coloured by any column."""
    return _points_plot(table, np.asarray(coords), labels, colour_by, theme or PlotTheme())


def distribution_plot(
    table: pd.DataFrame,
    feature: str,
    by: str | None = DEFAULT_TARGET,
    kind: Literal["box", "violin", "histogram"] = "box",
    theme: PlotTheme | None = None,
) -> Plot:
    """One feature's values per group of ``by``: a box or violin with every point over it
    (jittered, seeded), or overlaid histograms with the points as a rug along the x axis."""
    theme = theme or PlotTheme()
    values = feature_matrix(table, [feature])[feature].to_numpy()
    names = _categories(_column(table, by)) if by else pd.Series("all", index=table.index)
    order = sorted(names.unique())
    position = names.map({n: i + 1 for i, n in enumerate(order)}).to_numpy()
    colours = [theme.palette[i % len(theme.palette)] for i in range(len(order))]
    figure, axes = _figure(theme)
    groups = [values[position == i + 1] for i in range(len(order))]
    if kind == "histogram":
        bins = np.histogram_bin_edges(values, bins="auto")
        for name, group, colour in zip(order, groups, colours, strict=True):
            axes.hist(group, bins=bins, alpha=0.55, color=colour, label=name)
        axes.legend(title=by, fontsize=8, title_fontsize=8)
        points = np.column_stack([values, np.zeros_like(values)])
        axes.plot(values, np.zeros_like(values), "|", color=theme.text, markersize=10)
        axes.set_xlabel(feature, fontsize=8)
        axes.set_ylabel("count")
    elif kind in ("box", "violin"):
        if kind == "box":
            axes.boxplot(groups, positions=range(1, len(order) + 1), showfliers=False,
                         medianprops={"color": theme.text})  # fmt: skip
        else:
            parts = axes.violinplot(groups, positions=range(1, len(order) + 1), showmedians=True)
            for body, colour in zip(parts["bodies"], colours, strict=True):
                body.set_facecolor(colour)
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
        points = np.column_stack([position + jitter, values])
        _scatter(axes, points, [colours[p - 1] for p in position], s=14, alpha=0.8, zorder=3)
        axes.set_xticks(range(1, len(order) + 1), order, rotation=20, ha="right")
        axes.set_ylabel(feature, fontsize=8)
        axes.set_xlabel(by or "")
    else:
        raise ValueError(f"distribution kind {kind!r}: choose box, violin or histogram")
    apply_theme(figure, theme)
    return Plot(figure, axes, points, np.arange(len(table)), theme)


def overview_plot(
    table: pd.DataFrame,
    chart: str = "types_per_slice",
    kind: Literal["bar", "pie"] = "bar",
    target: str = DEFAULT_TARGET,
    group: str = DEFAULT_GROUP,
    theme: PlotTheme | None = None,
) -> Plot:
    """What the dataset holds: how many slices each patient has (bar: patients per slice
    count), or how many patients or slices each tumour type has (bar or pie)."""
    theme = theme or PlotTheme()
    if chart not in OVERVIEWS:
        raise ValueError(f"overview {chart!r}: choose one of {', '.join(OVERVIEWS)}")
    patients = _categories(_column(table, group)) if chart != "types_per_slice" else None
    if chart == "slices_per_patient":
        if kind != "bar":
            raise ValueError("slices per patient is drawn as a bar chart only")
        counts = patients.value_counts().value_counts().sort_index()
        xlabel, ylabel = "slices", "patients"
    else:
        types = _categories(_column(table, target))
        if patients is not None:  # a patient counts once per type it has
            types = pd.Series(list(zip(patients, types, strict=True))).drop_duplicates().str[1]
        counts = types.value_counts().sort_index()
        xlabel, ylabel = target, "patients" if patients is not None else "slices"
    figure, axes = _figure(theme, (5.2, 3.8))
    colours = [theme.palette[i % len(theme.palette)] for i in range(len(counts))]
    labels = [str(i) for i in counts.index]
    if kind == "pie":
        axes.pie(counts.to_numpy(), labels=labels, colors=colours, autopct="%1.0f%%",
                 textprops={"color": theme.text, "fontsize": 8})  # fmt: skip
    elif kind == "bar":
        bars = axes.bar(labels, counts.to_numpy(), color=colours)
        axes.bar_label(bars, color=theme.text, fontsize=8)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
    else:
        raise ValueError(f"overview kind {kind!r}: choose bar or pie")
    axes.set_title(f"{OVERVIEWS[chart]} ({counts.sum()} {ylabel})", fontsize=9)
    apply_theme(figure, theme)
    return Plot(figure, None, theme=theme)
