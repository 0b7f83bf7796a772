"""Discovery of batch inputs into cases, and loading one case (real files, real readers)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.batch.cases import Case, discover_cases, load_case, metadata_columns
from napari_radiomics.convert import Grid, grid_of
from napari_radiomics.corrections import mask_digest
from napari_radiomics.errors import ReadError
from napari_radiomics.io import CaseMetadata
from napari_radiomics.io.mat import read_tumor_mat, write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import (
    MAT_FOLDER_CASES,
    corrupt_mat,
    empty_mask_mat,
    write_bundle,
    write_mat_folder,
)


def test_folder_is_searched_recursively_and_cvind_is_skipped(mat_folder: Path) -> None:
    cases = discover_cases([mat_folder])
    assert [c.case_id for c in cases] == [str(i) for i in range(1, MAT_FOLDER_CASES + 1)]
    assert {Path(c.path).parent.name for c in cases} == {mat_folder.name, "more"}
    assert all(c.kind == "mat" for c in cases)
    # Stable: the same inputs give the same ids (what --resume relies on).
    assert discover_cases([mat_folder]) == cases
    # A shell glob passes cvind.mat explicitly; it is still not a case.
    explicit = discover_cases(sorted(mat_folder.glob("*.mat")))
    assert [c.case_id for c in explicit] == ["1", "2", "3"]


def test_cases_pickle_small(mat_folder: Path) -> None:
    case = discover_cases([mat_folder])[0]
    data = pickle.dumps(case)
    assert pickle.loads(data) == case
    assert len(data) < 500  # a description, never pixels


def test_repeated_file_names_get_longer_unique_ids(tmp_path: Path) -> None:
    write_mat_folder(tmp_path / "a", 1)
    write_mat_folder(tmp_path / "b", 1)
    ids = [c.case_id for c in discover_cases([tmp_path])]
    assert ids == ["a/1", "b/1"]


def test_load_mat_case_matches_reader(mat_folder: Path) -> None:
    case = discover_cases([mat_folder])[3]
    image, mask, metadata = load_case(case)
    tumor = read_tumor_mat(case.path)
    np.testing.assert_array_equal(image, tumor.image)
    np.testing.assert_array_equal(mask, tumor.mask.astype(np.uint8))
    assert metadata == {
        "case": "4",
        "patient_id": "P003",
        "label": 1,
        "tumor_type": "meningioma",
        "mask_source": "original",
        "mask_digest": mask_digest(tumor.mask),
    }


def test_npy_bundle_one_case_per_slice(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    write_bundle(folder, 4)
    cases = discover_cases([folder])
    assert [c.case_id for c in cases] == ["0", "1", "2", "3"]
    for name in ("images.npy", "masks.npy", "labels.npy", "patient_ids.npy"):
        assert discover_cases([folder / name]) == cases  # as the viewer opens it
    image, mask, metadata = load_case(cases[2])
    np.testing.assert_array_equal(image, np.load(folder / "images.npy")[2])
    np.testing.assert_array_equal(mask, np.load(folder / "masks.npy")[2])
    assert metadata == {
        "case": "2",
        "patient_id": "P2",
        "label": 3,
        "tumor_type": "pituitary tumor",
        "mask_source": "original",
        "mask_digest": mask_digest(np.load(folder / "masks.npy")[2]),
    }


def test_image_with_mask(pyradiomics_data: Path) -> None:
    image, mask = pyradiomics_data / "brain1_image.nrrd", pyradiomics_data / "brain1_label.nrrd"
    (case,) = discover_cases([image], mask=mask)
    assert case.case_id == "brain1_image"
    loaded, loaded_mask, metadata = load_case(case)
    assert isinstance(loaded, sitk.Image)
    assert loaded.GetSpacing() == sitk.ReadImage(str(image)).GetSpacing()
    assert loaded_mask.GetSize() == loaded.GetSize()
    assert metadata["case"] == "brain1_image"
    # no patient or tumour class in a NRRD case: the one set of unknown values
    assert CaseMetadata.from_mapping(metadata) == CaseMetadata("brain1_image")
    assert (metadata["patient_id"], metadata["label"], metadata["tumor_type"]) == ("", None, "")
    with pytest.raises(ReadError, match=r"brain1_image\.nrrd: an image file needs a mask"):
        discover_cases([image])


def test_batch_csv_paths_labels_and_passthrough(tmp_path: Path, pyradiomics_data: Path) -> None:
    table = tmp_path / "cases.csv"
    table.write_text(
        "Image,Mask,Label,Reader\n"
        f"{pyradiomics_data}/brain1_image.nrrd,{pyradiomics_data}/brain1_label.nrrd,1,alice\n"
        f"{pyradiomics_data}/brain2_image.nrrd,{pyradiomics_data}/brain2_label.nrrd,,bob\n"
    )
    cases = discover_cases([table])
    assert [c.case_id for c in cases] == ["brain1_image:label1", "brain2_image"]
    assert [c.roi_label for c in cases] == [1, None]
    assert cases[0].extra == (("Reader", "alice"),)
    assert metadata_columns(cases) == [
        "case", "patient_id", "label", "tumor_type", "mask_source", "mask_digest", "Reader"
    ]  # fmt: skip
    assert load_case(cases[1])[2]["Reader"] == "bob"


def test_batch_csv_relative_paths_start_at_the_csv(tmp_path: Path, mat_folder: Path) -> None:
    image = sitk.GetImageFromArray(read_tumor_mat(mat_folder / "1.mat").image)
    sitk.WriteImage(image, str(tmp_path / "img.nrrd"))
    sitk.WriteImage(sitk.Cast(image > 500, sitk.sitkUInt8), str(tmp_path / "seg.nrrd"))
    (tmp_path / "cases.csv").write_text("Image,Mask\nimg.nrrd,seg.nrrd\n")
    (case,) = discover_cases([tmp_path / "cases.csv"])
    assert Path(case.path) == tmp_path / "img.nrrd"
    assert load_case(case)[0].GetSize() == image.GetSize()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.txt", "x", "not a batch input"),
        ("bad.csv", "Image,Segmentation\na,b\n", "needs the columns Image and Mask"),
        ("label.csv", "Image,Mask,Label\na,b,one\n", "row 1: Label 'one' is not an integer"),
    ],
)
def test_bad_inputs_name_the_file(tmp_path: Path, name: str, content: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ReadError, match=problem) as info:
        discover_cases([path])
    assert info.value.path == path


def test_missing_input_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file or folder"):
        discover_cases([tmp_path / "nope"])
    with pytest.raises(ReadError, match=r"holds no \.mat files"):
        discover_cases([tmp_path])


def test_corrupt_mat_fails_when_loaded_not_when_found(tmp_path: Path) -> None:
    bad = corrupt_mat(tmp_path / "9.mat")
    (case,) = discover_cases([bad])
    with pytest.raises(ReadError) as info:
        load_case(case)
    assert info.value.path == bad


def _pixels(image: np.ndarray | sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image) if isinstance(image, sitk.Image) else np.asarray(image)


def test_a_check_reads_the_grid_not_the_image_pixels(
    tmp_path: Path, mat_folder: Path, pyradiomics_data: Path
) -> None:
    """``image_pixels=False``: the same mask, metadata and refusals, the image as a Grid."""
    v5 = write_tumor_mat(
        tmp_path / "5.mat", make_synthetic_slice(seed=5, shape=(48, 40)), format="5"
    )
    nrrd = pyradiomics_data / "brain2_image.nrrd"  # a direction, a spacing, an origin
    write_bundle(tmp_path / "bundle", 3)
    cases = [
        discover_cases([mat_folder])[3],
        *discover_cases([v5]),
        discover_cases([tmp_path / "bundle"])[1],
        *discover_cases([nrrd], mask=pyradiomics_data / "brain2_label.nrrd"),
    ]
    for case in cases:
        image, mask, metadata = load_case(case)
        grid, grid_mask, grid_metadata = load_case(case, image_pixels=False)
        assert isinstance(grid, Grid)
        assert grid == grid_of(image), case.kind
        np.testing.assert_array_equal(_pixels(grid_mask), _pixels(mask))
        assert grid_metadata == metadata
    (case,) = discover_cases([empty_mask_mat(tmp_path / "empty.mat")])
    for image_pixels in (True, False):
        with pytest.raises(ReadError, match="empty tumour mask"):
            load_case(case, image_pixels=image_pixels)
    (case,) = discover_cases([corrupt_mat(tmp_path / "9.mat")])
    with pytest.raises(ReadError) as info:
        load_case(case, image_pixels=False)
    assert info.value.path == Path(case.path)


def test_unknown_kind_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="unknown case kind"):
        load_case(Case("x", "dicom", str(tmp_path)))
