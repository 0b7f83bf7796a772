"""The pandas side of the results: wide table, differences, export and read-back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from napari_radiomics.engine import extract_features
from napari_radiomics.errors import WriteError
from napari_radiomics.results import (
    Run,
    export_results,
    feature_columns,
    layer_features,
    parse_feature_name,
    read_results,
    read_table,
    sidecar_path,
    tidy_results,
)
from napari_radiomics.settings import ExtractionSettings
from napari_radiomics.side_by_side import (
    METADATA_CLASS,
    WideColumns,
    add_difference,
    difference_title,
    wide_table,
)
from sample_files import fill_disk


def engine_run(mask: np.ndarray, labels=(1,), case: str = "7") -> pd.DataFrame:
    """A result frame from the engine, with the identifying columns a .mat case gives."""
    rng = np.random.default_rng(3)
    image = rng.normal(300, 40, mask.shape).astype(np.int16)
    metadata = {"case": case, "patient_id": "100360", "label": 2, "tumor_type": "glioma"}
    settings = ExtractionSettings.preset("brain-tumor-mri")  # shape2D on, bin width 32
    return extract_features(image, mask, settings, labels=list(labels), metadata=metadata)


@pytest.fixture(scope="module")
def runs() -> list[Run]:
    mask = np.zeros((48, 48), np.uint8)
    mask[10:30, 10:30] = 1
    mask[34:44, 34:44] = 2
    before = engine_run(mask, labels=(1, 2))
    mask[10:34, 10:34] = 1  # the correction: label 1 grows
    after = engine_run(mask, labels=(1, 2))
    return [Run.from_frame("before", before), Run.from_frame("after", after)]


def test_feature_names_are_split_as_pyradiomics_builds_them() -> None:
    assert parse_feature_name("wavelet-LLH_glcm_Contrast").image_type == "wavelet-LLH"
    log = parse_feature_name("log-sigma-1-0-mm-3D_firstorder_10Percentile")
    assert (log.image_type, log.feature_class, log.feature) == (
        "log-sigma-1-0-mm-3D",
        "firstorder",
        "10Percentile",
    )
    assert parse_feature_name("original_shape2D_PixelSurface").feature_class == "shape2D"
    for not_a_feature in ("roi_label", "patient_id", "diagnostics_Versions_PyRadiomics"):
        assert parse_feature_name(not_a_feature) is None


def test_a_feature_name_is_parsed_once_and_its_parts_shared() -> None:
    """Every reader of a table parses its names: the parts are kept per name (frozen, so
    shared safely), and a name that is not text is parsed as its text."""
    first = parse_feature_name("original_glcm_Contrast")
    assert parse_feature_name("original_glcm_Contrast") is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.feature = "Correlation"  # type: ignore[misc]
    assert parse_feature_name(7) is None
    assert parse_feature_name("roi_label") is None


def test_wide_table_puts_runs_side_by_side(runs: list[Run]) -> None:
    table = wide_table(runs)
    assert list(table.columns[3:]) == [
        "before | label 1",
        "before | label 2",
        "after | label 1",
        "after | label 2",
    ]
    # identifying rows first, then every pyradiomics feature once
    assert list(table.index[:5]) == ["case", "patient_id", "label", "tumor_type", "roi_label"]
    assert (table.loc[table.index[:5], "feature_class"] == METADATA_CLASS).all()
    assert len(table) == 5 + len(feature_columns(runs[0].frame))
    surface = "original_shape2D_PixelSurface"
    assert table.loc[surface, "before | label 1"] == 400.0
    assert table.loc[surface, "after | label 1"] == 576.0
    assert table.loc[surface, "after | label 2"] == table.loc[surface, "before | label 2"] == 100.0
    assert table.loc["tumor_type", "after | label 2"] == "glioma"


def test_difference_is_absolute_and_relative(runs: list[Run]) -> None:
    table = add_difference(wide_table(runs), "before | label 1", "after | label 1")
    delta = table[difference_title("after | label 1", "before | label 1")]
    percent = table[difference_title("after | label 1", "before | label 1", percent=True)]
    assert delta["original_shape2D_PixelSurface"] == 176.0
    assert percent["original_shape2D_PixelSurface"] == pytest.approx(44.0)
    assert np.isnan(delta["patient_id"])  # identifying rows have no difference


def test_wide_columns_are_the_wide_table_column_by_column(runs: list[Run]) -> None:
    """The results dock reads the runs side by side a column at a time: each column, the
    differences included, is the whole table's."""
    before, after = "before | label 1", "after | label 2"
    lazy = WideColumns(runs, (before, after))
    whole = add_difference(wide_table(runs), before, after)
    assert lazy.titles == list(whole.columns)
    assert lazy.index == list(whole.index)
    for position, title in enumerate(lazy.titles):
        column = pd.Series(lazy.column(position), index=whole.index, name=title)
        pd.testing.assert_series_equal(column, whole[title], check_dtype=False)
    pd.testing.assert_frame_equal(lazy.table(), whole)


def test_export_csv_reads_back_with_pandas(runs: list[Run], tmp_path: Path) -> None:
    path, sidecar = export_results(runs, tmp_path / "features.csv")
    assert sidecar == tmp_path / "features.runs.yaml" == sidecar_path(path)
    assert not list(tmp_path.glob("*.params.yaml"))  # that name is for pyradiomics params only
    back = pd.read_csv(path, dtype={"case": str, "patient_id": str})
    assert list(back.columns[:6]) == [
        "run",
        "case",
        "patient_id",
        "label",
        "tumor_type",
        "roi_label",
    ]
    assert back["run"].tolist() == ["before", "before", "after", "after"]
    expected = tidy_results(runs)
    for name in feature_columns(expected):
        np.testing.assert_allclose(back[name], expected[name].astype(float), rtol=1e-15)
    settings = yaml.safe_load(sidecar.read_text())
    assert settings["results"] == "features.csv"
    assert settings["runs"]["after"]["params"]["setting"]["binWidth"] == 32
    assert read_results(path).attrs["runs"]["before"]["versions"]["numpy"] == np.__version__


def test_a_damaged_sidecar_is_named_and_the_table_still_read(
    runs: list[Run], tmp_path: Path
) -> None:
    path, sidecar = export_results(runs, tmp_path / "features.csv")
    for text in ("runs: {before: [\n", "- a list\n", "runs: 3\n"):
        sidecar.write_text(text)
        table = read_results(path)
        assert len(table) == 4
        assert "runs" not in table.attrs
        (problem,) = table.attrs["problems"]
        assert problem.startswith(f"{sidecar}: cannot be read")


def test_export_parquet(runs: list[Run], tmp_path: Path) -> None:
    path, sidecar = export_results(runs, tmp_path / "features.parquet")
    back = read_results(path)
    assert back["run"].tolist() == ["before", "before", "after", "after"]
    assert back["original_shape2D_PixelSurface"].tolist() == [400.0, 100.0, 576.0, 100.0]
    assert sidecar.name == "features.runs.yaml"


def test_export_without_runs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no results"):
        export_results([], tmp_path / "x.csv")


@pytest.mark.parametrize("name", ["features.xlsx", "features", "features.csv.bak"])
def test_an_export_named_for_another_format_is_refused(
    runs: list[Run], tmp_path: Path, name: str
) -> None:
    """Any name but .parquet was written as CSV: a ``features.xlsx`` that Excel then
    refused, or a file with no suffix that nothing opened as a table."""
    with pytest.raises(WriteError, match=r"must end in \.csv or \.parquet"):
        export_results(runs, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_layer_features_use_the_roi_label(runs: list[Run]) -> None:
    features = layer_features(runs[1].frame)
    assert features["label"].tolist() == [1, 2] == features["index"].tolist()
    assert features["tumor_class"].tolist() == [2, 2]  # the reader's tumour class, renamed
    assert "roi_label" not in features.columns


def test_each_exported_runs_params_run_in_pyradiomics(runs: list[Run], tmp_path: Path) -> None:
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    _, sidecar = export_results(runs, tmp_path / "features.csv")
    document = yaml.safe_load(sidecar.read_text())
    for name, provenance in document["runs"].items():
        params_file = tmp_path / f"{name}.params.yaml"
        params_file.write_text(yaml.safe_dump(provenance["params"]))
        extractor = RadiomicsFeatureExtractor(str(params_file))  # validates like pyradiomics -p
        assert extractor.settings["binWidth"] == provenance["params"]["setting"]["binWidth"]


def test_identifying_columns_come_back_as_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "case": ["017", "2"],
            "patient_id": ["00123", "MR048994B"],
            "label": [1, 3],
            "tumor_type": ["meningioma", "pituitary tumor"],
            "roi_label": [1, 1],
            "original_firstorder_Mean": [1.5, 2.0],
        }
    )
    frame.attrs["provenance"] = {"params": {"setting": {}}}
    path, _ = export_results([Run.from_frame("run", frame)], tmp_path / "f.csv")
    for back in (read_results(path), read_table(path)):
        assert back["case"].tolist() == ["017", "2"]
        assert back["patient_id"].tolist() == ["00123", "MR048994B"]
        assert back["label"].tolist() == [1, 3]  # codes and ROI labels stay numbers
        assert back["roi_label"].dtype.kind == "i"
        assert back["original_firstorder_Mean"].dtype.kind == "f"


def test_runs_sharing_a_name_each_show_their_own_values(runs: list[Run]) -> None:
    """A later run of a shared name replaces the earlier one's columns of the same title; the
    earlier run's other columns keep its values in the right rows, though the later run has
    its features in another order and fewer of them."""
    before, after = runs
    fewer = after.frame.drop(columns=[c for c in after.frame if "firstorder" in c])
    later = fewer[fewer["roi_label"] == 1][list(reversed(fewer.columns))]
    table = wide_table([Run.from_frame("r", before.frame), Run.from_frame("r", later)])
    assert list(table.columns[3:]) == ["r | label 1", "r | label 2"]
    for name in feature_columns(later):
        assert table.loc[name, "r | label 1"] == later[name].iloc[0]
    firstorder = [n for n in feature_columns(before.frame) if "firstorder" in n]
    assert table.loc[firstorder, "r | label 1"].isna().all()  # the later run has none
    label_2 = before.frame[before.frame["roi_label"] == 2].iloc[0]
    for name in feature_columns(before.frame):  # the earlier run's own label 2, its own rows
        assert table.loc[name, "r | label 2"] == label_2[name]


def test_an_export_that_fills_the_disk_leaves_the_earlier_export_whole(
    runs: list[Run], small_disk: Path
) -> None:
    """Exporting again over an earlier export on a full disk fails naming no half file: the
    earlier table and its provenance are still there, byte for byte, and no temporary file."""
    path, sidecar = export_results(runs, small_disk / "features.csv")
    earlier = {p: p.read_bytes() for p in (path, sidecar)}
    fill_disk(small_disk, 4096)  # less than the table
    with pytest.raises(OSError, match="No space left"):
        export_results([*runs, *runs], path)
    assert {p: p.read_bytes() for p in (path, sidecar)} == earlier
    assert sorted(p.name for p in small_disk.iterdir() if p.name != "filler") == sorted(
        p.name for p in earlier
    )
