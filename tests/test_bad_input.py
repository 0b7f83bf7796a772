"""Hostile inputs through the API and the CLI: never a wrong number, always the file named.

Every broken or odd input here once gave a wrong result with exit status 0, or a raw
exception naming no file. The readers, the engine and the settings share one validation per
kind of data (``convert.label_problem`` for masks, ``engine._masks.image_problem`` for grey
levels, ``settings.validate_params`` and ``_yaml.load_yaml`` for params), so each test goes
through the entry point a user would take. The viewer's side is tests/gui/test_bad_input_viewer.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hostile_files import (
    ASTRAL_PID,
    BROKEN_MATS,
    alias_bomb,
    astral_pid_v73,
    cell_pid_v73,
    constant_image,
    empty_bundle,
    huge_nrrd,
    malicious_npy,
    nan_in_roi,
)
from napari_radiomics.cli import main
from napari_radiomics.engine import extract_features
from napari_radiomics.errors import ExtractionError, ReadError, SettingsError
from napari_radiomics.io.bundle import read_npy_bundle
from napari_radiomics.io.mat import read_mat_header, read_tumor_mask, read_tumor_mat
from napari_radiomics.io.medical import read_medical_image
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings
from sample_files import case_arrays, write_bundle, write_v73

#: What each broken .mat file must be refused with (after "<path>: ").
PROBLEMS: dict[str, str] = {
    "negative-background": r"cjdata\.tumorMask holds negative values \(from -1",
    "fractional-border": r"cjdata\.tumorMask holds non-integer values \(e\.g\. 0\.5",
    "text-label-v5": r"cjdata\.label is text \('glioma'\)",
    "text-label-v73": r"cjdata\.label is text \('2'\)",
    "cell-pids": r"cjdata\.PID is a cell array of 2 entries",
    "huge-image": r"cjdata\.image declares a 1000000 x 1000000 array",
    "complex-image": r"cjdata\.image is complex-valued",
    "rgb-image": r"cjdata\.image is an RGB\(A\) or multi-channel image",
    "dangling-link": r"dangling symbolic link to .*gone-for-good\.mat",
    "link-loop": r"symbolic link loop",
}
READERS: dict[str, Callable[[Path], object]] = {
    "read_tumor_mat": read_tumor_mat,
    "read_mat_header": read_mat_header,  # the folder's fast path
    "read_tumor_mask": read_tumor_mask,  # extract --check's fast path
}


def _cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "napari_radiomics.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


# -- .mat files: API -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "reader"),
    [
        pytest.param(kind, reader, id=f"{kind}-{name}")
        for kind in BROKEN_MATS
        for name, reader in READERS.items()
        # The header holds no mask: a folder judges the mask when it reads the slice.
        if not (reader is read_mat_header and kind.endswith(("background", "border")))
    ],
)
def test_broken_mat_is_a_read_error_naming_file_and_problem(
    tmp_path: Path, kind: str, reader: Callable[[Path], object]
) -> None:
    path = BROKEN_MATS[kind](tmp_path / f"{kind}.mat")
    with pytest.raises(ReadError, match=PROBLEMS[kind]) as info:
        reader(path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_patient_ids_read_as_the_text_matlab_stored(tmp_path: Path) -> None:
    path = astral_pid_v73(tmp_path / "astral.mat")  # MATLAB's two UTF-16 units for the emoji
    assert read_tumor_mat(path).patient_id == ASTRAL_PID
    assert read_mat_header(path).patient_id == ASTRAL_PID
    assert len(read_mat_header(path).patient_id) == len("MR") + 1 + len("042")
    cell = cell_pid_v73(tmp_path / "cell.mat")  # {'MR048994B'}: a one-element cell is its text
    assert read_tumor_mat(cell).patient_id == "MR048994B"
    assert read_mat_header(cell).patient_id == "MR048994B"


# -- grey levels and masks in the engine ------------------------------------------------------
def test_nan_in_the_roi_is_refused_not_left_out(tmp_path: Path) -> None:
    tumor = read_tumor_mat(nan_in_roi(tmp_path / "nan.mat"))
    with pytest.raises(ExtractionError, match=r"1 NaN or infinite voxel\(s\) inside ROI label 1"):
        extract_features(tumor.image, tumor.mask.astype(np.uint8))
    # Outside the ROI, with neither normalize nor a filter, the NaN reaches no feature: computed.
    image = np.where(
        tumor.mask, 100.0 + np.arange(tumor.image.size).reshape(tumor.image.shape) % 7, np.nan
    )
    frame = extract_features(image, tumor.mask.astype(np.uint8))
    assert np.isfinite(frame["original_firstorder_Mean"]).all()
    with pytest.raises(ExtractionError, match=r"outside the ROI and normalize uses the whole"):
        extract_features(image, tumor.mask.astype(np.uint8), ExtractionSettings(normalize=True))
    infinite = tumor.image.astype(np.float64)
    infinite[tumor.mask] = np.inf
    with pytest.raises(ExtractionError, match=r"inside ROI label 1"):
        extract_features(infinite, tumor.mask.astype(np.uint8))


def test_constant_image_under_normalize_has_its_own_message(tmp_path: Path) -> None:
    tumor = read_tumor_mat(constant_image(tmp_path / "flat.mat"))
    mask = tumor.mask.astype(np.uint8)
    with pytest.raises(ExtractionError, match=r"is constant \(every voxel is 300\).*normalize"):
        extract_features(tumor.image, mask, ExtractionSettings(normalize=True))
    assert len(extract_features(tumor.image, mask)) == 1  # without normalize it is measurable


@pytest.mark.parametrize(
    ("mask", "problem"),
    [
        (np.array([[-1, 1], [1, -1]]), r"holds negative values \(from -1 to 1\)"),
        (np.array([[0, 0.5], [1, 1]]), r"holds non-integer values \(e\.g\. 0\.5, 64 voxels\)"),
        (np.array([[0, np.nan], [1, 1]]), r"holds 64 NaN or infinite value"),
    ],
)
def test_one_label_rule_for_files_and_arrays(
    tmp_path: Path, mask: np.ndarray, problem: str
) -> None:
    big = np.kron(mask, np.ones((8, 8)))
    with pytest.raises(ExtractionError, match=problem):
        extract_features(np.arange(big.size, dtype=float).reshape(big.shape), big)
    path = tmp_path / "case_label.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(big), str(path))
    if np.isnan(mask).any() or (mask % 1).any():  # named like a mask, but not whole numbers
        with pytest.warns(UserWarning, match="opened as an image"):
            assert not read_medical_image(path).is_mask
    else:
        with pytest.raises(ReadError, match=r"case_label\.nrrd: mask " + problem):
            read_medical_image(path)


def test_medical_files_complex_or_declaring_too_much_are_refused(tmp_path: Path) -> None:
    complex_path = tmp_path / "k-space.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 5)) * (1 + 2j)), str(complex_path))
    with pytest.raises(ReadError, match=r"k-space\.nrrd: .*complex-valued"):
        read_medical_image(complex_path)
    huge = huge_nrrd(tmp_path / "huge.nrrd")
    with pytest.raises(ReadError, match=r"huge\.nrrd: declares 100000 x 100000 x 100000 voxels"):
        read_medical_image(huge)


# -- bundles ---------------------------------------------------------------------------------
def test_bundle_masks_follow_the_label_rule_and_empty_bundles_are_refused(tmp_path: Path) -> None:
    arrays = write_bundle(tmp_path / "neg")
    np.save(tmp_path / "neg" / "masks.npy", np.where(arrays["masks"], 1, -1).astype(np.int8))
    with pytest.raises(ReadError, match=r"masks\.npy: slice 0: the mask holds negative values"):
        read_npy_bundle(tmp_path / "neg")
    arrays = write_bundle(tmp_path / "int")
    np.save(tmp_path / "int" / "masks.npy", arrays["masks"].astype(np.int16))
    np.testing.assert_array_equal(read_npy_bundle(tmp_path / "int").masks, arrays["masks"])
    empty = empty_bundle(tmp_path / "empty")
    with pytest.raises(ReadError, match=r"images\.npy: holds no slices \(N = 0\)"):
        read_npy_bundle(empty)


def test_object_array_ids_are_read_without_running_code(tmp_path: Path) -> None:
    # As some conversions save them: (N, 1, 1), each entry a 1x1 array of the id string.
    ids = np.empty((3, 1, 1), dtype=object)
    for i, text in enumerate(["100360", "MR048994B", "7"]):
        ids[i, 0, 0] = np.array([[text]])
    write_bundle(tmp_path / "ok", ids=ids)
    np.save(tmp_path / "ok" / "labels.npy", np.array([[1], [2], [3]], dtype=object))
    bundle = read_npy_bundle(tmp_path / "ok")
    assert bundle.patient_ids.tolist() == ["100360", "MR048994B", "7"]
    assert bundle.labels.tolist() == [1, 2, 3]

    write_bundle(tmp_path / "evil")
    target = tmp_path / "pwned.txt"
    malicious_npy(tmp_path / "evil" / "patient_ids.npy", target)
    with pytest.raises(ReadError, match=r"patient_ids\.npy: .*not loaded \(unpickling") as info:
        read_npy_bundle(tmp_path / "evil")
    assert "refused to load builtins" in str(info.value) or "io.open" in str(info.value)
    assert not target.exists()
    assert "allow_pickle" not in str(info.value)  # never advise running the payload


# -- params ----------------------------------------------------------------------------------
def test_alias_bomb_is_refused_in_under_a_second(tmp_path: Path) -> None:
    bomb = alias_bomb(tmp_path / "bomb.yaml")
    assert bomb.stat().st_size < 1024
    start = time.perf_counter()
    with pytest.raises(SettingsError, match=r"bomb\.yaml: the YAML expands to more than"):
        ExtractionSettings.load(bomb)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"featureClass": {"glcm": [["Contrast"]]}}, r"featureClass 'glcm': expected a list"),
        ({"setting": {"binWidth": float("nan")}}, r"setting: binWidth must be a finite number"),
        ({"setting": {"binWidth": float("inf")}}, r"binWidth must be a finite number"),
        ({"setting": ["binWidth"]}, r"setting must be a mapping"),
        ({"imageType": {"LoG": [1]}}, r"imageType 'LoG': expected a mapping"),
    ],
)
def test_malformed_params_are_settings_errors(params: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ExtractionSettings.from_params(params)


# -- the CLI ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("featureClass:\n  glcm: [[Contrast]]\n", "featureClass 'glcm': expected a list"),
        ("setting:\n  binWidth: .nan\n", "binWidth must be a finite number"),
    ],
)
def test_cli_bad_params_exit_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    case = write_v73(tmp_path / "1.mat", case_arrays())
    params = tmp_path / "bad.yaml"
    params.write_text(text, encoding="utf-8")
    assert (
        main(["extract", str(case), "-o", str(tmp_path / "f.csv"), "--params", str(params)]) == 2
    )
    err = capsys.readouterr().err
    assert f"{params}: " in err
    assert message in err
    assert "Traceback" not in err
    assert (
        main(["extract", str(case), "-o", str(tmp_path / "f.csv"), "--set", "binWidth=.nan"]) == 2
    )
    assert "binWidth must be a finite number" in capsys.readouterr().err


def test_cli_alias_bomb_exits_2_at_once(tmp_path: Path) -> None:
    case = write_v73(tmp_path / "1.mat", case_arrays())
    bomb = alias_bomb(tmp_path / "bomb.yaml")
    done = _cli("extract", case, "-o", tmp_path / "f.csv", "--params", bomb, timeout=60)
    assert done.returncode == 2
    assert f"{bomb}: the YAML expands to more than" in done.stderr


@pytest.mark.parametrize("kind", ["negative-background", "fractional-border", "text-label-v5"])
def test_cli_single_broken_case_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = BROKEN_MATS[kind](tmp_path / "5.mat")
    out = tmp_path / "f.csv"
    assert main(["extract", str(path), "-o", str(out), "--jobs", "1", "-q"]) == 3
    assert not out.exists() or read_table(out).empty  # no row: the wrong ROI is never measured
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str)
    assert errors["path"].tolist() == [str(path)]
    assert pd.Series(errors["message"]).str.contains(PROBLEMS[kind].replace("\\", "")[:12]).all()


def test_cli_mixed_folder_measures_the_good_and_names_every_bad(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    good = [write_v73(folder / f"{i}.mat", case_arrays()) for i in (1, 2)]
    astral = astral_pid_v73(folder / "3.mat")
    broken = {kind: writer(folder / f"{kind}.mat") for kind, writer in BROKEN_MATS.items()}
    broken["nan-in-roi"] = nan_in_roi(folder / "nan-in-roi.mat")
    broken["constant"] = constant_image(folder / "constant.mat")
    out = tmp_path / "f.csv"
    done = _cli("extract", folder, "-o", out, "--preset", "brain-tumor-mri", "--jobs", "2")
    assert done.returncode == 3, done.stderr
    frame = read_table(out)
    assert sorted(frame["case"]) == sorted(p.stem for p in [*good, astral])
    assert frame.loc[frame["case"] == "3", "patient_id"].tolist() == [ASTRAL_PID]
    errors = pd.read_csv(tmp_path / "f.errors.csv", dtype=str).set_index("case")
    assert sorted(errors.index) == sorted(broken)
    expected = {**PROBLEMS, "nan-in-roi": "inside ROI label 1", "constant": "is constant"}
    for kind, message in errors["message"].items():
        pattern = expected[kind].replace("\\", "")
        assert any(part in message for part in pattern.split(".*")), (kind, message)
