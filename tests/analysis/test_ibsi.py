"""The IBSI compliance report: the phantom through the engine, compared with IBSI's values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import radiomics
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics._spreadsheet import unescape_frame
from napari_radiomics.analysis.ibsi import (
    COLUMNS,
    DATA,
    class_counts,
    compare,
    ibsi_report,
    ibsi_settings,
    read_phantom,
    read_reference,
    report_markdown,
    write_ibsi_report,
)
from napari_radiomics.analysis.ibsi_map import (
    CLASSES_NOT_IN_IBSI,
    IBSI_FEATURES,
    NOT_IN_IBSI,
)
from napari_radiomics.errors import WriteError

#: The phantom's ROI voxels.
N = 74


@pytest.fixture(scope="module")
def report() -> pd.DataFrame:
    return ibsi_report().set_index("ibsi_tag", drop=False)


@pytest.mark.parametrize(
    "tag",
    [
        "morph_volume",
        "morph_area_mesh",
        "stat_var",
        "stat_skew",
        "cm_joint_max_3D_avg",
        "cm_contrast_3D_avg",
        "cm_corr_3D_avg",
    ],
)
def test_these_features_match_ibsi(report: pd.DataFrame, tag: str) -> None:
    row = report.loc[tag]
    assert row["status"] == "match", row.to_dict()
    assert abs(row["value"] - row["reference"]) <= row["tolerance"] + 0.5e-2 * abs(
        row["reference"]
    )


def test_kurtosis_deviates_by_the_3_its_note_names(report: pd.DataFrame) -> None:
    row = report.loc["stat_kurt"]
    assert row["feature"] == "original_firstorder_Kurtosis"
    assert row["status"] == "deviates"
    assert "plus 3" in row["note"]
    assert compare(row["value"] - 3, "-0.355", "0") == "match"


@pytest.mark.parametrize(
    "tag", ["morph_pca_maj_axis", "morph_pca_min_axis", "morph_pca_least_axis"]
)
def test_the_axis_lengths_note_is_the_whole_difference(report: pd.DataFrame, tag: str) -> None:
    """With IBSI's N - 1 instead of pyradiomics' N, each axis length matches."""
    row = report.loc[tag]
    assert "N - 1" in row["note"]
    reference = read_reference().loc[tag]
    corrected = row["value"] * math.sqrt(N / (N - 1))
    assert compare(corrected, reference["reference"], reference["tolerance"]) == "match"


def test_report_values_equal_pyradiomics_execute(report: pd.DataFrame) -> None:
    image, mask = read_phantom()
    expected = RadiomicsFeatureExtractor(ibsi_settings().to_params()).execute(image, mask)
    for feature, value in zip(report["feature"], report["value"], strict=True):
        assert value == pytest.approx(float(expected[feature]), rel=1e-12, abs=1e-12), feature


def test_report_columns_and_counts(report: pd.DataFrame) -> None:
    assert tuple(report.columns) == COLUMNS
    assert len(report) == len(IBSI_FEATURES)
    assert set(report["status"]) <= {"match", "deviates", "no_reference"}
    counts = class_counts(report.reset_index(drop=True))
    assert counts.loc["total"].sum() == len(report)
    assert counts.loc["glcm", "match"] == 23
    assert counts.loc["firstorder", "deviates"] == 1
    assert (report.loc[report["status"] == "deviates", "note"] != "").all()


def test_every_tag_is_in_the_reference_once() -> None:
    reference = read_reference()
    tags = [entry.tag for entry in IBSI_FEATURES]
    assert len(set(tags)) == len(tags)
    assert [t for t in tags if t not in reference.index] == []


def test_every_feature_is_a_current_pyradiomics_feature() -> None:
    classes = radiomics.getFeatureClasses()
    names = [entry.feature for entry in IBSI_FEATURES]
    assert len(set(names)) == len(names)
    for name in [*names, *NOT_IN_IBSI]:
        cls, feature = name.split("_", 1)
        deprecated = classes[cls].getFeatureNames()
        assert feature in deprecated, name
        assert not deprecated[feature], f"{name} is deprecated in pyradiomics"


def test_the_mapping_covers_every_pyradiomics_feature() -> None:
    """Each feature pyradiomics computes has an IBSI tag or a reason why not."""
    mapped = {entry.feature for entry in IBSI_FEATURES} | set(NOT_IN_IBSI)
    unaccounted = [
        f"{cls}_{name}"
        for cls, feature_class in radiomics.getFeatureClasses().items()
        if cls not in CLASSES_NOT_IN_IBSI
        for name, deprecated in feature_class.getFeatureNames().items()
        if not deprecated and f"{cls}_{name}" not in mapped
    ]
    assert unaccounted == []
    assert not {entry.feature for entry in IBSI_FEATURES} & set(NOT_IN_IBSI)


@pytest.mark.parametrize(
    ("value", "reference", "tolerance", "status"),
    [
        (0.6798336, "0.68", "0", "match"),  # IBSI's 0.680: three significant digits
        (0.6748, "0.68", "0", "deviates"),
        (1494.6, "1490", "0", "match"),  # a whole number's trailing zero is a placeholder
        (11.325, "11.4", "0.1", "match"),  # 11.3 is exactly 0.1 away: a decimal comparison
        (8.478, "8.54", "0.05", "deviates"),
        (0.04499636, "0.045", "0", "match"),
        (-0.15684, "-0.157", "0", "match"),
        (float("nan"), "1", "0", "deviates"),
        (1.0, "", "", "no_reference"),
    ],
)
def test_compare_rounds_as_ibsi_does(
    value: float, reference: str, tolerance: str, status: str
) -> None:
    assert compare(value, reference, tolerance) == status


def test_written_report_reads_back_and_is_all_that_is_written(
    report: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    written = write_ibsi_report(report.reset_index(drop=True), out)
    assert (
        sorted(p.name for p in out.iterdir())
        == ["ibsi.csv", "ibsi.md"]
        == [p.name for p in written]
    )
    back = unescape_frame(pd.read_csv(out / "ibsi.csv", keep_default_na=False))
    assert back["feature"].tolist() == report["feature"].tolist()
    assert back["value"].to_numpy() == pytest.approx(report["value"].to_numpy(), rel=1e-15)
    text = (out / "ibsi.md").read_text(encoding="utf-8")
    assert "| glcm | 23 | 0 | 0 |" in text
    assert "`original_firstorder_Kurtosis` (stat_kurt)" in text
    assert "CC BY 4.0" in text


def test_a_file_in_place_of_the_folder_is_refused(report: pd.DataFrame, tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("mine", encoding="utf-8")
    with pytest.raises(WriteError, match="report: is a file"):
        write_ibsi_report(report, blocker)
    assert blocker.read_text(encoding="utf-8") == "mine"


def test_the_package_ships_the_phantom_with_its_credit_and_licence() -> None:
    credit = (DATA / "README.md").read_text(encoding="utf-8")
    assert "Image Biomarker Standardisation Initiative" in credit
    assert "Creative Commons Attribution 4.0 International (CC BY 4.0)" in credit
    image, mask = read_phantom()
    assert image.GetSize() == (5, 4, 4)
    assert image.GetSpacing() == (2.0, 2.0, 2.0)
    assert int(sum(mask[x, y, z] for x in range(5) for y in range(4) for z in range(4))) == N


def test_the_docs_table_is_todays(report: pd.DataFrame) -> None:
    """docs/ibsi.md shows the counts this pyradiomics gives (update it when they change)."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ibsi.md").read_text(encoding="utf-8")
    lines = report_markdown(report).splitlines()
    start = lines.index("| class | match | deviates | no_reference |")
    end = next(i for i, line in enumerate(lines) if line.startswith("| total |"))
    assert "\n".join(lines[start : end + 1]) in docs
