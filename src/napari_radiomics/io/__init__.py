"""File formats -> arrays + metadata, and back; imports neither napari nor Qt.

One module per format: ``mat`` (a brain-tumour ``.mat`` slice, MATLAB v7.3 and v5), ``folder``
(a folder of them as one lazy stack), ``bundle`` (the dataset's NumPy conversion), ``medical``
(NRRD / NIfTI / MetaImage through SimpleITK), ``synthetic`` (a generated slice, no download)
and ``editable`` (a lazily read mask stack that keeps the slices a user paints); ``paths``
tells them apart (:func:`source_of`, :func:`path_kind`, :func:`classify_path`) and opens a
path as what it is (:func:`open_path`), for every caller that takes a path. Every reader
gives the case's identity as a :class:`CaseMetadata` (``metadata``). Errors are
``napari_radiomics.errors.ReadError`` and ``WriteError``, which name the file.
"""

from napari_radiomics.io.bundle import NpyBundle, is_npy_bundle, read_npy_bundle
from napari_radiomics.io.folder import MatStack, find_mat_files, open_mat_stack
from napari_radiomics.io.mat import TumorSlice, read_tumor_mat, write_tumor_mat
from napari_radiomics.io.medical import MedicalImage, read_medical_image, write_medical_image
from napari_radiomics.io.metadata import TUMOR_TYPES, CaseMetadata, cases_table, tumor_type_of
from napari_radiomics.io.paths import Source, classify_path, open_path, path_kind, source_of
from napari_radiomics.io.synthetic import make_synthetic_slice

__all__ = [
    "TUMOR_TYPES",
    "CaseMetadata",
    "MatStack",
    "MedicalImage",
    "NpyBundle",
    "Source",
    "TumorSlice",
    "cases_table",
    "classify_path",
    "find_mat_files",
    "is_npy_bundle",
    "make_synthetic_slice",
    "open_mat_stack",
    "open_path",
    "path_kind",
    "read_medical_image",
    "read_npy_bundle",
    "read_tumor_mat",
    "source_of",
    "tumor_type_of",
    "write_medical_image",
    "write_tumor_mat",
]
