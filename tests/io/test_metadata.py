"""Every reader gives a case's identity as one typed CaseMetadata, with the same defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from napari_radiomics.columns import CASE_COLUMNS, IDENTIFYING_COLUMNS, PATH
from napari_radiomics.engine import extract_features
from napari_radiomics.io import (
    CaseMetadata,
    open_mat_stack,
    read_medical_image,
    read_npy_bundle,
    read_tumor_mat,
    write_tumor_mat,
)
from napari_radiomics.io.folder import FolderWarning
from napari_radiomics.io.synthetic import make_synthetic_slice
from napari_radiomics.results import IDENTIFYING_COLUMNS as RESULTS_COLUMNS
from napari_radiomics.settings import ExtractionSettings
from sample_files import write_bundle


@pytest.mark.parametrize("version", ["7.3", "5"])
def test_a_mat_file_gives_its_typed_identity(tmp_path: Path, version: str) -> None:
    tumor = make_synthetic_slice(seed=3, shape=(48, 48), label=3, patient_id="017")
    path = tmp_path / "12.mat"
    write_tumor_mat(path, tumor, format=version)
    metadata = read_tumor_mat(path).metadata
    assert isinstance(metadata, CaseMetadata)
    assert metadata == CaseMetadata(
        case="12", patient_id="017", label=3, tumor_type="pituitary tumor", path=str(path)
    )


def test_a_bundle_gives_each_slice_its_identity_and_empty_ids_when_it_has_none(
    tmp_path: Path,
) -> None:
    write_bundle(tmp_path / "with")
    with_ids = read_npy_bundle(tmp_path / "with")
    assert with_ids.metadata(1) == CaseMetadata("1", "P1", 2, "glioma", str(tmp_path / "with"))
    write_bundle(tmp_path / "without")
    (tmp_path / "without" / "patient_ids.npy").unlink()
    without = read_npy_bundle(tmp_path / "without").metadata(2)
    assert (without.patient_id, without.label, without.tumor_type) == ("", 3, "pituitary tumor")


def test_a_folder_table_reads_back_as_the_files_identities(tmp_path: Path) -> None:
    tumor = make_synthetic_slice(seed=1, shape=(40, 40), label=2, patient_id="P9")
    write_tumor_mat(tmp_path / "1.mat", tumor)
    (tmp_path / "2.mat").write_text("not a mat file")
    with pytest.warns(FolderWarning):
        stack = open_mat_stack(tmp_path)
    assert list(stack.slices.columns[: len(CASE_COLUMNS) + 1]) == [*CASE_COLUMNS, PATH]
    rows = [CaseMetadata.from_mapping(r) for r in stack.slices.to_dict("records")]
    assert rows == [
        read_tumor_mat(tmp_path / "1.mat").metadata,
        CaseMetadata("2", path=str(tmp_path / "2.mat")),  # unreadable: nothing else is known
    ]


def test_a_medical_image_is_a_case_without_patient_or_tumour_class(tmp_path: Path) -> None:
    path = tmp_path / "brain1_image.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.arange(24, dtype=np.int16).reshape(2, 3, 4)), path)
    assert read_medical_image(path).metadata == CaseMetadata("brain1_image", path=str(path))


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"case": "7", "label": 1.0, "patient_id": np.nan}, CaseMetadata("7", label=1)),
        ({"case": 7, "label": pd.NA, "tumor_type": None}, CaseMetadata("7")),
        ({"case": "a", "patient_id": 17, "label": np.int64(2)}, CaseMetadata("a", "17", 2)),
    ],
)
def test_table_cells_read_back_with_the_one_set_of_defaults(
    cells: dict[str, object], expected: CaseMetadata
) -> None:
    metadata = CaseMetadata.from_mapping(cells)
    assert metadata == expected
    assert CaseMetadata.from_mapping(metadata.as_dict()) == metadata


def test_the_identifying_columns_are_complete_and_in_results() -> None:
    assert RESULTS_COLUMNS is IDENTIFYING_COLUMNS
    assert {"roi_label", "mask_source", *CASE_COLUMNS} <= set(IDENTIFYING_COLUMNS)


def test_a_readers_metadata_goes_into_an_extractions_rows_as_its_columns() -> None:
    tumor = make_synthetic_slice(seed=2, shape=(48, 48), label=2, patient_id="017")
    settings = ExtractionSettings.from_params({"featureClass": {"firstorder": ["Mean"]}})
    rows = extract_features(tumor.image, tumor.mask, settings, metadata=tumor.metadata)
    assert rows.iloc[0][[*CASE_COLUMNS, PATH]].tolist() == ["synthetic", "017", 2, "glioma", ""]
