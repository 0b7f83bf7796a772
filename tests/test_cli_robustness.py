"""`napari-radiomics robustness`: the files it writes, resume, reruns, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.analysis.robustness import PERTURBATION_COLUMN, read_perturbed, robustness
from napari_radiomics.batch import run_batch
from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import feature_columns, read_table
from sample_files import empty_mask_mat, write_mat_folder

N = 3  # perturbations per case
CASES = 4
#: Slices large enough that a shrink can keep 80% of the ROI (64x64 tumours cannot).
SHAPE = (192, 192)
SAME = ("--seed", "5", "--threshold", "0.5")
FILES = ("rob.csv", "rob.perturbed.csv", "rob.params.yaml", "rob.perturbation.yaml")


def test_help_names_the_options_and_the_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["robustness", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--perturbations", "--methods", "--seed", "--icc", "--threshold", "--max-distance",
        "--preset", "--params", "--set", "--jobs", "--dask", "--resume",
    ):  # fmt: skip
        assert option in text, option
    for name in ("rob.perturbed.csv", "rob.params.yaml", "rob.perturbation.yaml"):
        assert name in text
    assert main(["--help"]) == 0
    assert "robustness" in capsys.readouterr().out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rob-cases")
    write_mat_folder(folder, CASES, shape=SHAPE)
    return folder


def _argv(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["robustness", str(folder), "-o", str(out), "--perturbations", str(N), *extra]


@pytest.fixture(scope="module")
def run(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run on a process pool, the others' reference (four similar synthetic tumours: at
    the default threshold of 0.9 no interval over 4 cases is narrow enough)."""
    out = tmp_path_factory.mktemp("rob-run") / "rob.csv"
    assert main(_argv(folder, out, *SAME, "--jobs", "2", "-q")) == 0
    return out.parent


def test_the_icc_table_is_computed_from_exactly_the_long_table(run: Path) -> None:
    table = pd.read_csv(run / "rob.csv")
    assert list(table.columns) == [
        "feature", "icc", "ci_low", "ci_high", "robust", "form", "reason", "in_params"
    ]  # fmt: skip
    long = read_perturbed(run / "rob.perturbed.csv")
    assert len(long) == CASES * (N + 1)
    assert (
        long.groupby("case")[PERTURBATION_COLUMN].apply(list).tolist()
        == [list(range(N + 1))] * CASES
    )
    assert long["seed"].eq(5).all()
    recomputed = robustness(long)
    assert table["feature"].tolist() == recomputed["feature"].tolist() == feature_columns(long)
    np.testing.assert_allclose(table["icc"], recomputed["icc"], rtol=1e-12)
    np.testing.assert_allclose(table["ci_low"], recomputed["ci_low"], rtol=1e-12)
    assert table["robust"].tolist() == (table["ci_low"] >= 0.5).tolist()
    assert table["form"].eq("1,1").all()
    assert 0 < table["robust"].sum() < len(table)


def test_the_original_rows_are_what_extract_writes(run: Path, folder: Path) -> None:
    plain = run / "plain.csv"
    run_batch(discover_cases([folder]), None, plain, jobs=1)
    expected = read_table(plain).sort_values("case").reset_index(drop=True)
    long = read_perturbed(run / "rob.perturbed.csv")
    original = long[long[PERTURBATION_COLUMN] == 0].reset_index(drop=True)
    columns = [*expected.columns]
    pd.testing.assert_frame_equal(original[columns], expected[columns], check_exact=True)
    perturbed = long[long[PERTURBATION_COLUMN] > 0]
    area = "original_firstorder_Energy"
    assert (perturbed[area] != perturbed["case"].map(original.set_index("case")[area])).all()


def test_pyradiomics_extracts_exactly_the_robust_features_of_the_params_file(
    run: Path, folder: Path
) -> None:
    table = pd.read_csv(run / "rob.csv")
    chosen = set(table.loc[table["in_params"], "feature"])
    assert chosen
    assert chosen <= set(table.loc[table["robust"], "feature"])
    image, mask, _ = load_case(discover_cases([folder])[0])
    extractor = RadiomicsFeatureExtractor(str(run / "rob.params.yaml"))
    result = extractor.execute(sitk.GetImageFromArray(image), sitk.GetImageFromArray(mask))
    assert {k for k in result if not k.startswith("diagnostics_")} == chosen


def test_a_second_run_with_the_same_seed_writes_identical_files(
    run: Path, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rob.csv"
    assert main(_argv(folder, out, *SAME, "--jobs", "1", "-q")) == 0
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name
    assert main(_argv(folder, out, "--seed", "6", "--jobs", "1", "-q", "--overwrite")) == 0
    assert (tmp_path / "rob.perturbation.yaml").read_text() != (
        run / "rob.perturbation.yaml"
    ).read_text()
    assert (tmp_path / "rob.perturbed.csv").read_bytes() != (
        run / "rob.perturbed.csv"
    ).read_bytes()


def test_dask_writes_the_same_files(run: Path, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "rob.csv"
    assert main(_argv(folder, out, *SAME, "--dask", "local", "--jobs", "2", "-q")) == 0
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name


def test_resume_continues_and_refuses_another_plan(
    run: Path, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rob.csv"
    assert main(_argv(folder, out, *SAME, "--jobs", "1", "--limit", "2")) == 0
    assert read_table(tmp_path / "rob.perturbed.csv")["case"].nunique() == 2
    assert main(_argv(folder, out, *SAME, "--jobs", "1", "--resume")) == 0
    assert "2 cases already done" in capsys.readouterr().err
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name
    assert main(_argv(folder, out, "--seed", "6", "--threshold", "0.5", "--resume")) == 2
    err = capsys.readouterr().err
    assert "another perturbation plan (seed: 5 -> 6)" in err
    assert main(_argv(folder, out, *SAME, "--resume", "--set", "binWidth=5")) == 2
    assert "different settings" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "contour", "--max-distance", "2"], "add grow-shrink to --methods"),
        (["--methods", "contour,contour"], "a method is repeated"),
        (["--methods", "erode"], "comma-separated list of grow-shrink, contour, noise"),
        (["--threshold", "1.5"], "an ICC threshold is in (0, 1]"),
        (["--icc", "2,2"], "invalid choice: '2,2'"),
        (["--perturbations", "0"], "expected a positive integer"),
        # Refused when parsed, naming the option (a negative seed made every case fail).
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["--seed", "1.5"], "argument --seed: expected an integer >= 0, got '1.5'"),
        (["--max-distance", "inf"], "argument --max-distance: expected a positive distance"),
        (["--max-distance", "-2"], "argument --max-distance: expected a positive distance"),
        (["--threshold", "nan"], "argument --threshold: an ICC threshold is in (0, 1]"),
        (["--jobs", "-1"], "argument -j/--jobs: expected a positive integer, got '-1'"),
        (["--limit", "-3"], "argument --limit: expected a positive integer, got '-3'"),
        (["--resume", "--overwrite"], "not allowed with argument"),
        (["--limit", "1"], "an ICC needs at least 2 cases"),
    ],
)
def test_bad_and_conflicting_options_exit_2(
    extra: list[str],
    message: str,
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_argv(folder, tmp_path / "rob.csv", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "rob.csv").exists()


def test_an_output_that_is_not_csv_is_refused(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_argv(folder, tmp_path / "rob.parquet")) == 2
    assert "the ICC table is written as CSV" in capsys.readouterr().err


def test_a_roi_too_small_to_shrink_and_an_empty_mask_are_failed_cases(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = write_tumor_mat(tmp_path / "tiny.mat", make_synthetic_slice(seed=0, shape=(64, 64)))
    empty = empty_mask_mat(tmp_path / "empty.mat")
    out = tmp_path / "rob.csv"
    inputs = [str(folder / "1.mat"), str(folder / "2.mat"), str(tiny), str(empty)]
    argv = ["robustness", *inputs, "-o", str(out), "--perturbations", "2", "--jobs", "1"]
    assert main(argv) == 3
    errors = pd.read_csv(tmp_path / "rob.perturbed.errors.csv", dtype=str).set_index("case")
    assert "the ROI (79 voxels) is too small to shrink" in errors.loc["tiny", "message"]
    assert "outer layer of voxels alone is 35%" in errors.loc["tiny", "message"]
    assert "empty tumour mask" in errors.loc["empty", "message"]
    assert read_table(out.with_suffix(".perturbed.csv"))["case"].nunique() == 2
    assert "2 cases failed" in capsys.readouterr().err
    # Without grow-shrink the small tumour is measured.
    assert main([*argv, "--overwrite", "--methods", "contour"]) == 3
    errors = pd.read_csv(tmp_path / "rob.perturbed.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["empty"]
    assert "tiny" in set(read_table(out.with_suffix(".perturbed.csv"))["case"])


def test_fewer_than_two_successful_cases_give_no_icc(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_mask_mat(tmp_path / "empty.mat")
    out = tmp_path / "rob.csv"
    argv = ["robustness", str(folder / "1.mat"), str(tmp_path / "empty.mat"), "-o", str(out)]
    assert main([*argv, "--perturbations", "2", "--jobs", "1"]) == 3
    err = capsys.readouterr().err
    assert "only 1 case succeeded, and an ICC needs at least 2" in err
    assert not out.exists()
    assert read_table(out.with_suffix(".perturbed.csv"))["case"].tolist() == ["1"] * 3


def test_corrected_cases_also_give_the_original_vs_corrected_icc(tmp_path: Path) -> None:
    """Three of four cases corrected in a store: besides the perturbation ICC, an ICC with the
    original and the corrected mask as two raters, computed from exactly the extractions that
    rob.corrections.long.csv holds, which equal extract's rows on either mask."""
    from napari_radiomics.analysis.icc import icc_table
    from napari_radiomics.corrections import attach, stack_refs
    from napari_radiomics.engine import extract_features
    from napari_radiomics.io import open_mat_stack
    from napari_radiomics.settings import ExtractionSettings

    folder = tmp_path / "brain"
    write_mat_folder(folder, 2 * CASES, shape=SHAPE)  # CASES slices at the top
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    for index in range(3):
        session.mask[index, 10 : 20 + 5 * index, 10:40] = 1
    assert session.autosave.flush(timeout=10)
    out = tmp_path / "rob.csv"
    top = [str(p) for p in sorted(folder.glob("*.mat"))]
    argv = ["robustness", *top, "-o", str(out), "--perturbations", "2", *SAME, "-q"]
    assert main(argv) == 0
    table = pd.read_csv(tmp_path / "rob.corrections.csv")
    long = read_table(tmp_path / "rob.corrections.long.csv")
    assert sorted(long["case"].unique()) == ["1", "2", "3"]
    assert sorted(long["mask_source"].unique()) == ["corrected", "original"]
    features = feature_columns(long)
    expected = icc_table(long, features, rater="mask_source", threshold=0.5)
    pd.testing.assert_frame_equal(
        table[["feature", "icc", "ci_low", "ci_high"]],
        expected[["feature", "icc", "ci_low", "ci_high"]].reset_index(drop=True),
    )
    settings = ExtractionSettings.from_params(yaml_params(tmp_path / "rob.perturbed.params.yaml"))
    case = discover_cases([folder / "2.mat"])[0]
    image, mask, _ = load_case(case)
    row = long[(long["case"] == "2") & (long["mask_source"] == "corrected")]
    reference = extract_features(image, mask, settings)
    np.testing.assert_allclose(row[features].to_numpy(float), reference[features].to_numpy(float))


def yaml_params(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_million_perturbations_are_refused_before_allocating(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten million: the long table alone is past the memory limit, refused before any work
    (exit 2). One million: each case's perturbed masks would be (36 GB for a 192x192 slice),
    so each case fails at once with the limit and how to raise it (exit 3)."""
    out = tmp_path / "rob.csv"
    argv = ["robustness", str(folder), "-o", str(out), "--jobs", "1"]
    assert main([*argv, "--perturbations", "10000000"]) == 2
    err = capsys.readouterr().err
    assert "10000000 perturbations of 4 cases would need about" in err
    assert "more than the limit of 8.0 GiB" in err
    assert "NAPARI_RADIOMICS_MAX_MEMORY" in err
    assert list(tmp_path.iterdir()) == []
    assert main([*argv, "--perturbations", "1000000", "-q"]) == 3
    errors = pd.read_csv(tmp_path / "rob.perturbed.errors.csv")
    assert len(errors) == CASES
    assert (
        errors["message"]
        .str.contains(
            "1000000 perturbations of this case would need about .* more than the limit of 8.0 GiB"
        )
        .all()
    )


def test_an_input_is_never_one_of_the_files_the_run_writes(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running again on the robust params an earlier run wrote, with the same ``-o``
    (``--params rob.params.yaml -o rob.csv``), would replace or delete that params file, an
    input: a usage error naming it, before any work, even with --overwrite. So would the
    ``--nyul-landmarks`` file, by any name (a hard link as the run's plan)."""
    params = tmp_path / "rob.params.yaml"
    params.write_text("setting:\n  binWidth: 25\nfeatureClass:\n  firstorder: []\n", "utf-8")
    before = params.read_bytes()
    argv = _argv(folder, tmp_path / "rob.csv", *SAME, "--params", str(params), "-q")
    for extra in ([], ["--overwrite"]):
        assert main([*argv, *extra]) == 2
        assert f"{params}: is an input of this run" in capsys.readouterr().err
        assert params.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["rob.params.yaml"]
    # --nyul-landmarks too, here under the name of the run's plan by a hard link
    learned = tmp_path.parent / f"{tmp_path.name}-nyul.json"
    landmarks = ["landmarks", str(folder), "-o", str(learned), "--preprocess", "nyul"]
    assert main([*landmarks, "--limit", "2"]) == 0
    plan = tmp_path / "rob.perturbation.yaml"
    os.link(learned, plan)
    before = plan.read_bytes()
    argv = _argv(folder, tmp_path / "rob.csv", *SAME, "--preprocess", "nyul", "-q")
    assert main([*argv, "--nyul-landmarks", str(plan), "--overwrite"]) == 2
    assert f"{plan}: is an input of this run" in capsys.readouterr().err
    assert plan.read_bytes() == before
