"""``napari-radiomics landmarks``: Nyul landmarks learned on training cases as extraction will
standardise them, the file ``extract --nyul-landmarks`` then uses, and the outputs it refuses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from napari_radiomics.batch import discover_cases, load_case
from napari_radiomics.cli import main
from napari_radiomics.convert import as_sitk
from napari_radiomics.preprocess import NyulStandardizer, head_mask, n4_correct
from napari_radiomics.settings import ExtractionSettings
from processes import run_cli
from sample_files import good_and_blank_folder, write_mat_folder


def test_landmarks_equal_a_fit_by_hand_and_extract_applies_them(
    mat_folder: Path, tmp_path: Path
) -> None:
    train = tmp_path / "train"
    write_mat_folder(train, 3)
    landmarks = tmp_path / "nyul.json"
    run = run_cli("landmarks", train, "-o", landmarks, "--preprocess", "n4,nyul")
    assert run.returncode == 0, run.stderr
    assert f"learned from 3 cases -> {landmarks}" in run.stdout
    corrected = [n4_correct(as_sitk(load_case(c)[0])) for c in discover_cases([train])]
    by_hand = NyulStandardizer(within="head").fit(corrected, map(head_mask, corrected))
    assert json.loads(landmarks.read_text()) == by_hand.to_dict()
    without_n4 = tmp_path / "plain.json"
    assert main(["landmarks", str(train), "-o", str(without_n4)]) == 0
    assert NyulStandardizer.load(without_n4).landmarks_ != by_hand.landmarks_

    out = tmp_path / "f.csv"
    extract = run_cli("extract", mat_folder, "-o", out, "--limit", "1", "--jobs", "1", "-q",
                       "--preset", "brain-tumor-mri", "--set", "normalize=false",
                       "--preprocess", "n4,nyul", "--nyul-landmarks", landmarks)  # fmt: skip
    assert extract.returncode == 0, extract.stderr
    settings = ExtractionSettings.load(tmp_path / "f.params.yaml")
    assert settings.preprocess["nyul"]["landmarks"] == by_hand.landmarks_


def test_output_that_is_an_input_or_exists_is_refused(
    mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = mat_folder / "1.mat"
    before = source.read_bytes()
    for inputs, message in (
        ([source], "is one of the INPUTs"),
        ([mat_folder], "the landmarks are a .json file"),
    ):
        argv = ["landmarks", *map(str, inputs), "-o", str(source), "--overwrite"]
        assert main(argv) == 2
        assert f"-o {source}: {message}" in capsys.readouterr().err
        assert source.read_bytes() == before  # the file itself, or a case of the folder
    params = tmp_path / "run.params.json"
    params.write_text("{}")
    argv = ["landmarks", str(source), "--params", str(params), "-o", str(params), "--overwrite"]
    assert main(argv) == 2
    assert f"-o {params}: is one of the INPUTs" in capsys.readouterr().err
    assert params.read_text() == "{}"
    linked = tmp_path / "out" / "nyul.json"  # the params file by another name: a hard link
    linked.parent.mkdir()
    os.link(params, linked)
    argv = ["landmarks", str(source), "--params", str(params), "-o", str(linked), "--overwrite"]
    assert main(argv) == 2
    assert f"-o {linked}: is one of the INPUTs" in capsys.readouterr().err
    assert linked.samefile(params)
    assert params.read_text() == "{}"

    existing = tmp_path / "nyul.json"
    existing.write_text("mine")
    assert main(["landmarks", str(source), "-o", str(existing)]) == 2
    assert f"-o {existing}: already exists (--overwrite replaces it)" in capsys.readouterr().err
    assert existing.read_text() == "mine"
    assert main(["landmarks", str(source), "-o", str(existing), "--overwrite"]) == 0
    assert NyulStandardizer.load(existing).landmarks_ is not None

    assert main(["landmarks", str(source), "-o", str(tmp_path)]) == 2
    assert f"-o {tmp_path}: is a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("n4", "no nyul step to learn landmarks for (steps: n4)"),
        ("zscore,nyul", "choose one standardisation, not zscore and nyul"),
    ],
)
def test_steps_without_one_nyul_are_refused(
    steps: str, message: str, mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nyul.json"
    assert main(["landmarks", str(mat_folder), "-o", str(out), "--preprocess", steps]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_case_that_cannot_be_standardised_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = good_and_blank_folder(tmp_path / "cases")
    out = tmp_path / "nyul.json"
    assert main(["landmarks", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"case 2 ({folder / '2.mat'}):" in err
    assert "no landmarks were written" in err
    assert not out.exists()


def test_the_params_files_step_options_are_the_ones_learned_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = tmp_path / "train"
    write_mat_folder(train, 2)
    n4 = {"shrink_factor": 2, "iterations": [5, 5]}
    nyul = {"within": "image", "percentiles": [2.0, 50.0, 98.0], "scale": [0.0, 10.0]}
    saved = ExtractionSettings(preprocess={"n4": n4}).save(tmp_path / "run.params.yaml")
    out = tmp_path / "nyul.json"
    argv = ["landmarks", str(train), "-o", str(out), "--params", str(saved)]
    assert main(argv) == 0  # the file's steps (n4), then nyul
    corrected = [n4_correct(as_sitk(load_case(c)[0]), **n4) for c in discover_cases([train])]
    by_hand = NyulStandardizer(within="head").fit(corrected, map(head_mask, corrected))
    assert NyulStandardizer.load(out).to_dict() == by_hand.to_dict()

    with_nyul = ExtractionSettings(
        preprocess={"n4": n4, "nyul": {**nyul, "landmarks": [0.0, 5.0, 10.0]}}
    ).save(tmp_path / "nyul.params.yaml")
    argv = ["landmarks", str(train), "-o", str(out), "--params", str(with_nyul), "--overwrite"]
    assert main(argv) == 0  # percentiles, scale and within from the file; landmarks relearned
    by_hand = NyulStandardizer([2, 50, 98], (0, 10), within="image").fit(corrected)
    assert NyulStandardizer.load(out).to_dict() == by_hand.to_dict()

    assert main(["landmarks", str(train), "-o", str(saved), "--params", str(saved)]) == 2
    assert f"-o {saved}: is one of the INPUTs" in capsys.readouterr().err


def _within_image(tmp_path: Path) -> Path:
    """A params file whose nyul step standardises within the whole image (its landmarks are
    placeholders: ``landmarks`` learns them anew, ``--nyul-landmarks`` replaces them)."""
    nyul = {"within": "image", "percentiles": [2.0, 50.0, 98.0], "landmarks": [0.0, 5.0, 10.0]}
    settings = ExtractionSettings(preprocess={"nyul": nyul})
    return settings.save(tmp_path / "whole.params.yaml")


def _extract(folder: Path, out: Path, landmarks: Path, params: Path | None = None) -> int:
    """``extract`` of one case standardised with ``landmarks`` (the nyul step's within from
    ``params``, the head without one)."""
    source = ["--params", str(params)] if params else ["--preprocess", "nyul"]
    return main(["extract", str(folder), "-o", str(out), "--limit", "1", "--jobs", "1", "-q",
                 *source, "--nyul-landmarks", str(landmarks)])  # fmt: skip


def test_the_file_records_its_within_and_another_within_is_refused_naming_it(
    mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = _within_image(tmp_path)
    landmarks = tmp_path / "nyul.json"
    assert main(["landmarks", str(mat_folder), "-o", str(landmarks), "--params", str(params)]) == 0
    assert json.loads(landmarks.read_text())["within"] == "image"

    out = tmp_path / "head.csv"
    assert _extract(mat_folder, out, landmarks) == 2  # the nyul step's default: the head
    error = capsys.readouterr().err
    assert (
        f"Nyul landmarks {landmarks}: learned within the whole image (within: image), but the "
        "nyul step standardises within the head mask (within: head)"
    ) in error
    assert not out.exists()
    out = tmp_path / "image.csv"
    assert _extract(mat_folder, out, landmarks, params) == 0  # the within they were learned in
    assert ExtractionSettings.load(tmp_path / "image.params.yaml").preprocess["nyul"] == {
        **NyulStandardizer.load(landmarks).to_dict(), "within": "image"
    }  # fmt: skip


def test_a_file_written_before_within_was_recorded_is_taken_as_it_is(
    mat_folder: Path, tmp_path: Path
) -> None:
    landmarks = tmp_path / "nyul.json"
    assert main(["landmarks", str(mat_folder), "-o", str(landmarks)]) == 0
    data = json.loads(landmarks.read_text())
    assert data.pop("within") == "head"
    landmarks.write_text(json.dumps(data))  # as earlier versions wrote it
    params = _within_image(tmp_path)
    assert _extract(mat_folder, tmp_path / "f.csv", landmarks, params) == 0
    nyul = ExtractionSettings.load(tmp_path / "f.params.yaml").preprocess["nyul"]
    assert nyul == {**data, "within": "image"}  # the step's within, unchecked


def test_extract_never_writes_over_the_landmarks_it_applies(
    mat_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--nyul-landmarks`` is an input like ``--params``: a file the output's companions
    would replace (here the landmarks under the name of ``f.csv``'s params sidecar, a hard
    link to them) is a usage error naming it before any case, even with --overwrite (which
    replaced the landmarks with the run's params), and the landmarks are left byte for byte."""
    learned = tmp_path / "nyul.json"
    argv = ["landmarks", str(mat_folder), "-o", str(learned), "--preprocess", "nyul"]
    assert main([*argv, "--limit", "2"]) == 0
    landmarks = tmp_path / "f.params.yaml"
    os.link(learned, landmarks)
    before = landmarks.read_bytes()
    argv = ["extract", str(mat_folder), "-o", str(tmp_path / "f.csv"), "--overwrite", "-q"]
    argv += ["--limit", "1", "--jobs", "1", "--preprocess", "nyul"]
    assert main([*argv, "--nyul-landmarks", str(landmarks)]) == 2
    assert f"{landmarks}: is an input of this run" in capsys.readouterr().err
    assert landmarks.read_bytes() == before
    assert not (tmp_path / "f.csv").exists()
