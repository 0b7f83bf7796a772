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

from __future__ import annotations

from typing import TYPE_CHECKING

from napari_radiomics._lazy import lazy_names

if TYPE_CHECKING:
    from napari_radiomics.io.bundle import BUNDLE_FILES, NpyBundle, is_npy_bundle, read_npy_bundle
    from napari_radiomics.io.folder import MatStack, find_mat_files, open_mat_stack
    from napari_radiomics.io.mat import TumorSlice, read_tumor_mat, write_tumor_mat
    from napari_radiomics.io.medical import MedicalImage, read_medical_image, write_medical_image
    from napari_radiomics.io.metadata import (
        TUMOR_TYPES,
        CaseMetadata,
        cases_table,
        tumor_type_of,
    )
    from napari_radiomics.io.paths import Source, classify_path, open_path, path_kind, source_of
    from napari_radiomics.io.synthetic import make_synthetic_slice

#: Each public name's module, imported on first use: the folder and bundle readers pull in
#: dask and pandas (a second of start-up), which reading one NRRD file or one slice never needs.
_PUBLIC = {
    "BUNDLE_FILES": ".bundle",
    "CaseMetadata": ".metadata",
    "TUMOR_TYPES": ".metadata",
    "cases_table": ".metadata",
    "tumor_type_of": ".metadata",
    "MatStack": ".folder",
    "MedicalImage": ".medical",
    "NpyBundle": ".bundle",
    "TumorSlice": ".mat",
    "find_mat_files": ".folder",
    "is_npy_bundle": ".bundle",
    "make_synthetic_slice": ".synthetic",
    "open_mat_stack": ".folder",
    "read_medical_image": ".medical",
    "read_npy_bundle": ".bundle",
    "read_tumor_mat": ".mat",
    "write_medical_image": ".medical",
    "write_tumor_mat": ".mat",
    "Source": ".paths",
    "classify_path": ".paths",
    "open_path": ".paths",
    "path_kind": ".paths",
    "source_of": ".paths",
}

__all__ = [
    "BUNDLE_FILES",
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


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
