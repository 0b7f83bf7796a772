"""``--preprocess`` and ``--nyul-landmarks``: through the command line, its worker processes,
its params sidecar and --resume, with errors that name the option or the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from napari_radiomics.batch.cases import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.convert import as_sitk
from napari_radiomics.engine import extract_features
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.preprocess import NyulStandardizer, head_mask, n4_correct
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from processes import run_cli
from sample_files import good_and_blank_folder, write_mat_folder

SETTINGS = ["--preset", "brain-tumor-mri", "--set", "normalize=false", "--set", "binWidth=0.25"]


def test_extract_preprocess_round_trip_through_workers_sidecar_and_resume(
    mat_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f.csv"
    run = run_cli("extract", mat_folder, "-o", out, "--limit", "2", "--jobs", "2", "-q",
                   *SETTINGS, "--preprocess", "n4,zscore")  # fmt: skip
    assert run.returncode == 0, run.stderr
    sidecar = tmp_path / "f.params.yaml"
    settings = ExtractionSettings.load(sidecar)
    assert settings.preprocess == {"n4": {}, "zscore": {}}
    RadiomicsFeatureExtractor(str(sidecar))  # pyradiomics accepts the sidecar
    frame = read_table(out)
    for case in discover_cases([mat_folder])[:2]:
        image, mask, metadata = load_case(case)
        expected = extract_features(image, mask, settings, metadata=metadata)
        features = [c for c in expected.columns if c.startswith("original_")]
        row = frame[frame["case"] == metadata["case"]]
        pd.testing.assert_frame_equal(
            row[features].reset_index(drop=True), expected[features], check_dtype=False
        )
        plain = settings.copy()
        plain.preprocess = {}
        unprocessed = extract_features(image, mask, plain)
        assert (
            row["original_firstorder_Mean"].iloc[0] != unprocessed["original_firstorder_Mean"][0]
        )
    other = run_cli("extract", mat_folder, "-o", out, "--limit", "2", "--resume", *SETTINGS,
                     "--preprocess", "n4")  # fmt: skip
    assert other.returncode == 2
    assert "was written with different settings" in other.stderr
    same = run_cli("extract", mat_folder, "-o", out, "--limit", "2", "--resume", "-q", *SETTINGS,
                    "--preprocess", "n4,zscore")  # fmt: skip
    assert same.returncode == 0, same.stderr


def test_nyul_landmarks_file_reaches_the_extraction(mat_folder: Path, tmp_path: Path) -> None:
    cases = discover_cases([mat_folder])
    # "training" cases, as the run will see them: after N4 (the run is n4,nyul)
    images = [n4_correct(as_sitk(load_case(case)[0])) for case in cases[2:]]
    heads = [head_mask(image) for image in images]
    landmarks = NyulStandardizer().fit(images, heads).save(tmp_path / "nyul.json")
    out = tmp_path / "n.csv"
    argv = ["extract", str(mat_folder), "-o", str(out), "--limit", "1", "--jobs", "1", "-q",
            "--preset", "brain-tumor-mri", "--set", "normalize=false", "--set", "binWidth=2",
            "--preprocess", "n4,nyul", "--nyul-landmarks", str(landmarks)]  # fmt: skip
    assert main(argv) == 0
    settings = ExtractionSettings.load(tmp_path / "n.params.yaml")
    assert settings.preprocess["nyul"] == NyulStandardizer.load(landmarks).to_dict()
    image, mask, metadata = load_case(cases[0])
    expected = extract_features(image, mask, settings, metadata=metadata)
    assert read_table(out)["original_firstorder_Median"][0] == pytest.approx(
        expected["original_firstorder_Median"][0], rel=1e-12
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--preprocess", "n5"], "--preprocess: expected step names from n4, zscore, nyul"),
        (["--preprocess", "n4,nyul"], "preprocess nyul: no landmarks"),
        (
            ["--preprocess", "nyul", "--nyul-landmarks", "MISSING"],
            "missing.json: cannot read the Nyul landmarks",
        ),
        (["--nyul-landmarks", "MISSING"], "but the preprocessing has no nyul step"),
    ],
)
def test_bad_preprocess_options_are_named(
    options: list[str],
    message: str,
    mat_folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = [str(tmp_path / "missing.json") if o == "MISSING" else o for o in options]
    argv = ["extract", str(mat_folder), "-o", str(tmp_path / "f.csv"), "--jobs", "1", *options]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_robustness_and_maps_run_with_the_preprocessing(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    write_mat_folder(cases, 4, shape=(192, 192))  # tumours large enough to shrink
    out = tmp_path / "rob.csv"
    argv = ["robustness", str(cases), "-o", str(out), "--perturbations", "2", "-q",
            "--seed", "5", "--threshold", "0.5",
            "--jobs", "1", "--preprocess", "n4"]  # fmt: skip
    assert main(argv) == 0
    for name in ("rob.perturbed.params.yaml", "rob.params.yaml"):
        path = out.parent / name
        assert ExtractionSettings.load(path).preprocess == {"n4": {}}, name
        RadiomicsFeatureExtractor(str(path))  # pyradiomics accepts the file
    maps = tmp_path / "maps"
    argv = ["maps", str(cases / "1.mat"), "-o", str(maps), "--features", "firstorder_Mean",
            "--preprocess", "n4,zscore", "-q"]  # fmt: skip
    assert main(argv) == 0
    assert ExtractionSettings.load(maps / "maps.params.yaml").preprocess == {
        "n4": {},
        "zscore": {},
    }


def test_a_blank_slice_is_a_failed_case_with_the_reason(tmp_path: Path) -> None:
    folder = good_and_blank_folder(tmp_path / "cases")
    out = tmp_path / "f.csv"
    argv = ["extract", str(folder), "-o", str(out), "--jobs", "1", "-q", "--preprocess", "n4"]
    assert main(argv) == 3  # some cases failed, the others were written
    assert read_table(out)["case"].tolist() == ["1"]
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert errors["case"].tolist() == ["2"]
    assert "the image is constant (every pixel 0)" in errors.iloc[0].to_string()


def test_extract_with_n4_on_a_one_slice_nrrd_volume(tmp_path: Path) -> None:
    # NRRD slices are often 3D volumes of z size 1; N4 corrects their plane in 2D.
    tumour = make_synthetic_slice(seed=6, shape=(128, 128))
    for name, array in (("scan", tumour.image), ("seg", tumour.mask.astype(np.uint8))):
        volume = sitk.GetImageFromArray(array[None])
        volume.SetSpacing((0.8, 0.8, 5.0))
        sitk.WriteImage(volume, str(tmp_path / f"{name}.nrrd"))
    out = tmp_path / "f.csv"
    argv = ["extract", str(tmp_path / "scan.nrrd"), "--mask", str(tmp_path / "seg.nrrd"),
            "-o", str(out), "-q", *SETTINGS, "--preprocess", "n4,zscore"]  # fmt: skip
    assert main(argv) == 0
    settings = ExtractionSettings.load(tmp_path / "f.params.yaml")
    image, mask, _ = load_case(
        discover_cases([tmp_path / "scan.nrrd"], mask=tmp_path / "seg.nrrd")[0]
    )
    expected = extract_features(image, mask, settings)
    assert read_table(out)["original_firstorder_Median"][0] == pytest.approx(
        expected["original_firstorder_Median"][0], rel=1e-12
    )
    plain = settings.copy()
    plain.preprocess = {}
    assert (
        extract_features(image, mask, plain)["original_firstorder_Median"][0]
        != (expected["original_firstorder_Median"][0])
    )
