"""Plot functions without a GUI: what each chart draws, selection geometry, themes, saving."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.layout_engine import ConstrainedLayoutEngine
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from napari_radiomics.analysis.plots import (
    PlotTheme,
    distribution_plot,
    fix_layout,
    overview_plot,
    projection,
    projection_plot,
    save_figure,
    scatter_plot,
)

AREA, RATIO = "original_shape2D_PixelSurface", "original_shape2D_Elongation"
DARK = PlotTheme(background="#23242b", face="#2e333e", text="#f0f1f2", highlight="#e3b617")


@pytest.fixture
def table() -> pd.DataFrame:
    """Nine slices of four patients: P0 has 3 glioma slices, P1 2 meningioma, P2 2 glioma,
    P3 2 pituitary; the area grows with the slice number, the ratio alternates."""
    patients = ["P0", "P0", "P0", "P1", "P1", "P2", "P2", "P3", "P3"]
    types = ["glioma"] * 3 + ["meningioma"] * 2 + ["glioma"] * 2 + ["pituitary tumor"] * 2
    return pd.DataFrame(
        {
            "case": [str(i + 1) for i in range(9)],
            "patient_id": patients,
            "label": [2, 2, 2, 1, 1, 2, 2, 3, 3],
            "tumor_type": types,
            AREA: np.arange(1.0, 10.0) * 100,
            RATIO: [0.5, 0.9] * 4 + [0.7],
            "original_firstorder_Mean": np.random.default_rng(0).normal(size=9),
        }
    )


def test_scatter_points_are_the_rows_and_selection_finds_them(table: pd.DataFrame) -> None:
    plot = scatter_plot(table, AREA, RATIO, colour_by="tumor_type")
    np.testing.assert_array_equal(plot.points, table[[AREA, RATIO]].to_numpy())
    assert plot.rows.tolist() == list(range(9))
    legend = [t.get_text() for t in plot.axes.get_legend().get_texts()]
    assert legend == ["glioma", "meningioma", "pituitary tumor"]
    # a lasso around (100, 0.5) and (300, 0.5) whose slanted edge leaves (500, 0.5) out
    assert plot.rows_in_polygon([(50, 0.45), (550, 0.45), (350, 0.6), (50, 0.6)]) == [0, 2]
    assert plot.rows_in_rectangle((650, 1.0), (250, 0.6)) == [3, 5]
    assert plot.nearest_row(401, 0.9) == 3
    assert plot.nearest_row(5000, 0.0) is None  # far from every point


def test_highlight_rings_exactly_the_rows(table: pd.DataFrame) -> None:
    plot = scatter_plot(table, AREA, RATIO, theme=DARK)
    plot.highlight([1, 4])
    marks = plot.axes.collections[-1]
    np.testing.assert_array_equal(marks.get_offsets(), table[[AREA, RATIO]].to_numpy()[[1, 4]])
    assert to_hex(marks.get_edgecolor()[0]) == DARK.highlight
    plot.highlight([])
    assert marks not in plot.axes.collections


def test_each_category_is_one_scatter_of_its_rows_in_its_colour(table: pd.DataFrame) -> None:
    """One colour per scatter: Agg stamps such a scatter's marker instead of drawing every
    point's path (a box plot of 3064 points drew in 30 ms instead of 80)."""
    plot = scatter_plot(table, AREA, RATIO, colour_by="tumor_type")
    names = ["glioma", "meningioma", "pituitary tumor"]
    palette = dict(zip(names, PlotTheme().palette[:3], strict=True))
    assert len(plot.axes.collections) == len(palette)
    for points, (name, colour) in zip(plot.axes.collections, palette.items(), strict=True):
        assert [to_hex(c) for c in points.get_facecolor()] == [colour]
        rows = table["tumor_type"] == name
        np.testing.assert_array_equal(points.get_offsets(), table.loc[rows, [AREA, RATIO]])


def test_fix_layout_gives_the_constrained_positions_once(table: pd.DataFrame) -> None:
    """Laid out once (in a dock's worker), the figure keeps constrained layout's positions
    for its size and later draws do not lay it out again."""
    size = (4.0, 3.0)
    reference = distribution_plot(table, AREA, by="tumor_type")
    FigureCanvasAgg(reference.figure)
    reference.figure.set_size_inches(size)
    reference.figure.canvas.draw()
    fixed = distribution_plot(table, AREA, by="tumor_type")
    fix_layout(fixed.figure, size)
    assert not isinstance(fixed.figure.get_layout_engine(), ConstrainedLayoutEngine)
    np.testing.assert_allclose(fixed.figure.get_size_inches(), size)
    expected = reference.axes.get_position().bounds
    np.testing.assert_allclose(fixed.axes.get_position().bounds, expected)
    fixed.figure.canvas.draw()
    np.testing.assert_allclose(fixed.axes.get_position().bounds, expected)


def test_numeric_colour_column_of_many_values_gets_a_colour_bar(table: pd.DataFrame) -> None:
    plot = scatter_plot(table, AREA, RATIO, colour_by="original_firstorder_Mean")
    assert len(plot.figure.axes) == 2  # the scatter and its colour bar
    assert plot.axes.get_legend() is None


@pytest.mark.parametrize("kind", ["box", "violin"])
def test_box_and_violin_show_every_point_over_its_group(table: pd.DataFrame, kind: str) -> None:
    plot = distribution_plot(table, AREA, by="patient_id", kind=kind)
    np.testing.assert_array_equal(plot.points[:, 1], table[AREA])
    groups = np.rint(plot.points[:, 0]).astype(int)  # jitter stays within +-0.15
    assert groups.tolist() == [1, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [t.get_text() for t in plot.axes.get_xticklabels()] == ["P0", "P1", "P2", "P3"]
    assert plot.rows_in_rectangle((0.5, 0), (1.5, 1e4)) == [0, 1, 2]


def test_histogram_counts_every_row_once(table: pd.DataFrame) -> None:
    plot = distribution_plot(table, AREA, by="tumor_type", kind="histogram")
    heights = sum(patch.get_height() for patch in plot.axes.patches)
    assert heights == len(table)
    assert plot.rows_in_rectangle((250, -1), (550, 1)) == [2, 3, 4]  # the rug along y = 0


def test_projection_is_pca_of_the_standardised_features(table: pd.DataFrame) -> None:
    table = table.assign(original_firstorder_Constant=1.0)
    coords, labels = projection(table, "pca")
    features = [AREA, RATIO, "original_firstorder_Mean"]
    expected = PCA(2).fit_transform(StandardScaler().fit_transform(table[features]))
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-10)  # up to sign
    assert labels[0].startswith("PC1 (")
    assert labels[1].endswith("%)")
    plot = projection_plot(table, coords, labels, colour_by="label")
    assert [t.get_text() for t in plot.axes.get_legend().get_texts()] == ["1", "2", "3"]


def test_tsne_gives_two_coordinates_per_row(table: pd.DataFrame) -> None:
    coords, labels = projection(table, "tsne")
    assert coords.shape == (len(table), 2)
    assert labels == ("t-SNE 1", "t-SNE 2")


@pytest.mark.parametrize(
    ("chart", "kind", "expected"),
    [
        ("slices_per_patient", "bar", {"2": 3, "3": 1}),  # three patients with 2 slices
        ("types_per_patient", "bar", {"glioma": 2, "meningioma": 1, "pituitary tumor": 1}),
        ("types_per_slice", "bar", {"glioma": 5, "meningioma": 2, "pituitary tumor": 2}),
    ],
)
def test_overview_bars_count_by_hand(
    table: pd.DataFrame, chart: str, kind: str, expected: dict[str, int]
) -> None:
    plot = overview_plot(table, chart, kind)
    axes = plot.figure.axes[0]
    labels = [t.get_text() for t in axes.get_xticklabels()]
    bars = dict(zip(labels, [p.get_height() for p in axes.patches], strict=True))
    assert bars == expected
    assert len(plot.rows) == 0  # counts: nothing to select


def test_overview_pie_shares(table: pd.DataFrame) -> None:
    plot = overview_plot(table, "types_per_patient", "pie")
    wedges = plot.figure.axes[0].patches
    angles = [w.theta2 - w.theta1 for w in wedges]
    np.testing.assert_allclose(angles, [180, 90, 90])
    with pytest.raises(ValueError, match="bar chart only"):
        overview_plot(table, "slices_per_patient", "pie")


def test_theme_colours_the_figure(table: pd.DataFrame) -> None:
    plot = distribution_plot(table, AREA, theme=DARK)
    assert to_hex(plot.figure.get_facecolor()) == DARK.background
    assert to_hex(plot.axes.get_facecolor()) == DARK.face
    assert to_hex(plot.axes.yaxis.label.get_color()) == DARK.text
    assert to_hex(plot.axes.get_xticklabels()[0].get_color()) == DARK.text


def test_save_png_and_svg(table: pd.DataFrame, tmp_path: Path) -> None:
    plot = scatter_plot(table, AREA, RATIO)
    png = save_figure(plot.figure, tmp_path / "scatter.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_figure(plot.figure, tmp_path / "scatter.SVG")
    assert ElementTree.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    with pytest.raises(ValueError, match=r"scatter\.pdf: a figure is saved as \.png or \.svg"):
        save_figure(plot.figure, tmp_path / "scatter.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scatter.SVG", "scatter.png"]


def test_bad_input_names_the_column(table: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="column 'grade' is not in the table"):
        distribution_plot(table, AREA, by="grade")
    with pytest.raises(ValueError, match=rf"{RATIO}.*NaN or infinite"):
        scatter_plot(table.assign(**{RATIO: np.nan}), AREA, RATIO)
    with pytest.raises(ValueError, match=r"'case'.*non-numeric"):
        scatter_plot(table, "case", RATIO)
    with pytest.raises(ValueError, match="column 'patient_id' is not in"):
        overview_plot(table.drop(columns="patient_id"), "slices_per_patient")
    with pytest.raises(ValueError, match="no feature columns"):
        projection(table[["case", "patient_id"]])
