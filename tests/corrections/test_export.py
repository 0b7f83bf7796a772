"""A corrected dataset exported as .mat files, a NumPy bundle or NIfTI reads back exactly."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from napari_radiomics.batch import discover_cases
from napari_radiomics.cli import main
from napari_radiomics.corrections import attach, export_dataset, stack_refs
from napari_radiomics.errors import WriteError
from napari_radiomics.io import open_mat_stack, read_npy_bundle, read_tumor_mat
from napari_radiomics.io.mat import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import read_table
from sample_files import corrupt_mat, file_states, fill_disk, write_mat_folder


@pytest.fixture
def corrected(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder of 3 slices (and 3 more in a subfolder); slice 2.mat corrected in memory."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    stack = open_mat_stack(folder)
    session = attach(stack.mask, stack_refs(stack.slices), folder, stack=True)
    session.mask[1, 2:10, 2:20] = 1
    assert session.autosave.flush(timeout=10)
    masks = {c.case_id: np.asarray(read_tumor_mat(c.path).mask) for c in discover_cases([folder])}
    masks["2"] = session.mask.slice(1) != 0
    return folder, masks


def test_mat_export_round_trips_and_copies_uncorrected_cases(corrected, tmp_path: Path) -> None:
    folder, masks = corrected
    out = tmp_path / "out"
    assert main(["export", str(folder), "-o", str(out)]) == 0
    for case, mask in masks.items():
        np.testing.assert_array_equal(read_tumor_mat(out / f"{case}.mat").mask, mask)
    assert (out / "1.mat").read_bytes() == (folder / "1.mat").read_bytes()
    exported, source = read_tumor_mat(out / "2.mat"), read_tumor_mat(folder / "2.mat")
    np.testing.assert_array_equal(exported.image, source.image)
    assert (exported.label, exported.patient_id) == (source.label, source.patient_id)
    with h5py.File(out / "2.mat") as handle:  # what MATLAB and h5py users open
        assert set(handle["cjdata"]) == {"label", "PID", "image", "tumorBorder", "tumorMask"}
    # the export reopens as a dataset of its own, with the corrected masks as its originals
    again = {c.case_id: c.mask_source for c in discover_cases([out])}
    assert set(again.values()) == {"original"}


def test_bundle_and_nifti_exports_round_trip(corrected, tmp_path: Path) -> None:
    folder, masks = corrected
    assert main(["export", str(folder), "-o", str(tmp_path / "npy"), "--format", "npy"]) == 0
    bundle = read_npy_bundle(tmp_path / "npy")
    cases = [c.case_id for c in discover_cases([folder])]
    for index, case in enumerate(cases):
        np.testing.assert_array_equal(np.asarray(bundle.masks[index]) != 0, masks[case])
    assert bundle.patient_ids.tolist() == [
        read_tumor_mat(c.path).patient_id for c in discover_cases([folder])
    ]
    assert main(["export", str(folder), "-o", str(tmp_path / "nii"), "--format", "nifti"]) == 0
    for case in cases:
        image = sitk.ReadImage(str(tmp_path / "nii" / f"{case}_mask.nii.gz"))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image) != 0, masks[case])


def test_export_never_writes_into_a_folder_that_holds_files(corrected, capsys) -> None:
    folder, _ = corrected
    assert main(["export", str(folder), "-o", str(folder)]) == 2
    assert "not an empty folder" in capsys.readouterr().err


# --- names from ids: never outside the export, valid everywhere, recorded -----------------

_WINDOWS_REFUSED = frozenset('<>:"/\\|?*') | frozenset(chr(c) for c in range(32))
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(10)
}


def _valid_everywhere(name: str) -> bool:
    """What Windows, macOS and Linux all accept, and not hidden (what Microsoft's naming
    rules refuse, written out here independently of the package)."""
    return (
        not set(name) & _WINDOWS_REFUSED
        and not name.endswith((".", " "))
        and not name.startswith(".")
        and name.split(".")[0].upper() not in _WINDOWS_RESERVED
        and len(name.encode()) <= 255
    )


def _exported(out: Path) -> dict[str, Path]:
    """case id -> its file, from the export's cases.csv (ids read back exactly, as text)."""
    table = pd.read_csv(out / "cases.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["case", "file"]
    files = {case: out / file for case, file in zip(table["case"], table["file"], strict=True)}
    assert len(files) == len(table), "two cases share an id"
    assert set(files.values()) == {p for p in out.iterdir() if p.name != "cases.csv"}
    return files


def _slice(path: Path, seed: int) -> np.ndarray:
    """A distinct case at ``path``; returns its mask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tumor_mat(path, make_synthetic_slice(seed=seed, shape=(48, 48)))
    return read_tumor_mat(path).mask


def test_inputs_sharing_a_file_name_or_hostile_ids_stay_inside_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    masks = {str(tmp_path / "a" / "1"): _slice(tmp_path / "a" / "1.mat", 1)}
    masks["../b/1"] = _slice(tmp_path / "b" / "1.mat", 2)
    # A batch CSV whose case ids are a way out of the export and an absolute path.
    for name, rows in (("x", slice(2, 9)), ("y", slice(10, 20))):
        mask = np.zeros((1, 24, 24), np.uint8)
        mask[0, rows, 5:15] = 1
        sitk.WriteImage(sitk.GetImageFromArray(mask), str(tmp_path / f"{name}_mask.nrrd"))
        sitk.WriteImage(sitk.GetImageFromArray(mask * 50), str(tmp_path / f"{name}.nrrd"))
        masks[name] = mask
    victim = str(tmp_path / "victim")
    (tmp_path / "cases.csv").write_text(
        f"Image,Mask,case\nx.nrrd,x_mask.nrrd,../../x\ny.nrrd,y_mask.nrrd,{victim}\n"
    )
    before = file_states(tmp_path)

    assert main(["export", str(tmp_path / "a" / "1.mat"), "../b/1.mat", "-o", "out"]) == 0
    files = _exported(work / "out")
    assert set(files) == {str(tmp_path / "a" / "1"), "../b/1"}
    for case, path in files.items():
        np.testing.assert_array_equal(read_tumor_mat(path).mask, masks[case])
        assert _valid_everywhere(path.name)

    assert main(["export", "../cases.csv", "-o", "nii", "--format", "nifti"]) == 0
    files = _exported(work / "nii")
    assert set(files) == {"../../x", victim}
    for case, path in files.items():
        np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))),
                                      masks["x" if case == "../../x" else "y"])  # fmt: skip
    # No source rewritten (bytes, time or mode), nothing written beside them.
    assert file_states(tmp_path, leave_out=work) == before


def test_names_windows_refuses_are_escaped_and_recorded(tmp_path: Path) -> None:
    names = ["CON", "nul", "COM1.x", 'a:b*c?', '"q"<>|', "back\\slash", "trail.", "space ",
             ".5", "A", "a", "new\nline", "t\tab", "%41"]  # fmt: skip
    folder = tmp_path / "odd"
    masks = {name: _slice(folder / f"{name}.mat", seed) for seed, name in enumerate(names)}
    for form, read in (
        ("mat", lambda p: read_tumor_mat(p).mask),
        ("nifti", lambda p: sitk.GetArrayFromImage(sitk.ReadImage(str(p))) != 0),
    ):
        out = tmp_path / form
        assert main(["export", str(folder), "-o", str(out), "--format", form]) == 0
        files = _exported(out)
        assert set(files) == set(names)  # the exact ids, back from cases.csv
        assert len({p.name.casefold() for p in files.values()}) == len(names)
        for case, path in files.items():
            assert _valid_everywhere(path.name), path.name
            np.testing.assert_array_equal(read(path), masks[case])
    # The export is as readable as the user's umask says (not 0700/0600 temporary modes).
    previous = os.umask(0o022)
    try:
        assert main(["export", str(folder), "-o", str(tmp_path / "shared")]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "shared").iterdir()} == {0o644}


def test_a_245_character_case_name_is_extracted_and_exported(tmp_path: Path) -> None:
    name = "n" * 245
    mask = _slice(tmp_path / "long" / f"{name}.mat", 3)
    assert main(["extract", str(tmp_path / "long"), "-o", str(tmp_path / "f.csv")]) == 0
    assert read_table(tmp_path / "f.csv")["case"].tolist() == [name]
    written = {}
    for form in ("nifti", "mat"):
        out = tmp_path / form
        assert main(["export", str(tmp_path / "long"), "-o", str(out), "--format", form]) == 0
        ((case, written[form]),) = _exported(out).items()
        assert case == name
        assert _valid_everywhere(written[form].name)
    np.testing.assert_array_equal(read_tumor_mat(written["mat"]).mask, mask)
    bundle = tmp_path / "npy"
    assert main(["export", str(tmp_path / "long"), "-o", str(bundle), "--format", "npy"]) == 0
    cases = pd.read_csv(bundle / "cases.csv", dtype=str, keep_default_na=False)
    assert cases.to_dict("list") == {"case": [name], "index": ["0"]}


# --- all or nothing -------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["mat", "npy", "nifti"])
def test_a_broken_case_leaves_no_export_and_a_rerun_works(
    tmp_path: Path, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    broken = folder / "more" / "5.mat"
    good = broken.read_bytes()
    corrupt_mat(broken)
    out = tmp_path / "out"
    around = sorted(tmp_path.iterdir())
    assert main(["export", str(folder), "-o", str(out), "--format", form]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: " in err
    assert not out.exists()
    assert sorted(tmp_path.iterdir()) == around  # no half of an export left beside it
    assert "nothing was exported" in err
    out.mkdir()  # an empty folder named as OUTPUT stays empty
    assert main(["export", str(folder), "-o", str(out), "--format", form]) == 2
    assert list(out.iterdir()) == []
    broken.write_bytes(good)
    assert main(["export", str(folder), "-o", str(out), "--format", form]) == 0
    assert len(list(out.iterdir())) == {"npy": 5, "mat": 7, "nifti": 7}[form]


_PAGE = 4096


@pytest.mark.parametrize("form", ["mat", "npy", "nifti"])
def test_a_full_or_read_only_disk_is_named_and_leaves_nothing(
    mat_folder: Path, small_disk: Path, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_disk / "out"
    filler = fill_disk(small_disk, _PAGE)  # room for one small file, not for the export
    assert main(["export", str(mat_folder), "-o", str(out), "--format", form]) == 2
    err = capsys.readouterr().err
    assert f"error: {out}/" in err, err
    assert "cases.csv" not in err  # a case's file fails: each one is checked
    assert "cannot be written" in err
    if form != "nifti":  # SimpleITK says nothing: the file is read back
        assert "(No space left on device)" in err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert main(["export", str(mat_folder), "-o", str(out), "--format", form]) == 2
    err = capsys.readouterr().err
    assert f"error: {out}" in err, err
    assert "(Read-only file system)" in err
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert main(["export", str(mat_folder), "-o", str(out), "--format", form]) == 0


def test_the_api_refuses_two_cases_with_one_id(mat_folder: Path, tmp_path: Path) -> None:
    case = discover_cases([mat_folder])[0]
    with pytest.raises(WriteError, match="two cases share an id"):
        export_dataset([case, case], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrections_and_its_export_import_nothing_of_the_batch() -> None:
    """The batch sits above corrections (it reads their stores): an export reads the cases it
    is given through their own ``load``, so a fresh interpreter that uses the export has
    imported no batch module (before, ``export_dataset`` imported ``batch.cases``, behind a
    lazy attribute of ``corrections`` that hid the cycle)."""
    code = (
        "import sys\n"
        "from napari_radiomics.corrections import export_dataset\n"
        "print(sorted(m for m in sys.modules if m.startswith('napari_radiomics.batch')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
