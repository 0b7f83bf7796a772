"""The names of the identifying columns, their order and their values when unknown.

Every table this package writes or shows (a batch output, an extraction's rows, the dataset,
results and review docks) and every reader's case metadata uses these names, so a column is
spelled, ordered and defaulted in one place (the typed case identity that fills them is
:class:`napari_radiomics.io.CaseMetadata`). Plain constants: no import, so the lowest layers
(``results``) can use them too.
"""

from __future__ import annotations

#: The case id: a file stem, a bundle index, a batch CSV's ``case`` (unique in a run).
CASE = "case"
#: The patient the case belongs to (``cjdata.PID``); text, since ids such as ``017`` are ids.
PATIENT_ID = "patient_id"
#: The dataset's tumour class code (1, 2 or 3).
LABEL = "label"
#: The tumour class in words (``meningioma``, ``glioma``, ``pituitary tumor``).
TUMOR_TYPE = "tumor_type"
#: Which mask a row was measured on: ``original`` or ``corrected``.
MASK_SOURCE = "mask_source"
#: The digest of that mask (``corrections.mask_digest``), so a resumed run sees a new correction.
MASK_DIGEST = "mask_digest"
#: The ROI label value of the mask a row was computed for.
ROI_LABEL = "roi_label"
#: The file a case was read from (a bundle's folder).
PATH = "path"
#: The index of a slice of a stack an extraction from the viewer was made on.
SLICE = "slice"

#: What a reader knows of a case, in results order (the fields of ``CaseMetadata`` but path).
CASE_COLUMNS: tuple[str, ...] = (CASE, PATIENT_ID, LABEL, TUMOR_TYPE)
#: The columns saying which mask a row was measured on.
MASK_COLUMNS: tuple[str, ...] = (MASK_SOURCE, MASK_DIGEST)
#: Identifying columns of every results table, in the order tables show them: the case, the
#: mask it was measured on, then the ROI label of the row (columns a batch CSV passes through
#: and the viewer's ``path``/``slice`` follow them).
IDENTIFYING_COLUMNS: tuple[str, ...] = (*CASE_COLUMNS, *MASK_COLUMNS, ROI_LABEL)
#: Identifying columns that are integers by nature (tumour class code, ROI label, slice index);
#: every other identifying column is read back as text, so ids such as "017" stay ids.
INTEGER_COLUMNS: tuple[str, ...] = (LABEL, ROI_LABEL, SLICE)

#: A text column's value when the source does not say (a bundle without ``patient_ids.npy``,
#: a NIfTI case): empty text, so a table keeps one type per column and a CSV an empty cell.
UNKNOWN_TEXT = ""

#: What a model predicts and colours plots by unless told otherwise: the tumour class.
DEFAULT_TARGET = TUMOR_TYPE
#: What cross-validation folds are grouped by unless told otherwise: a patient's slices are
#: never on both sides of a split.
DEFAULT_GROUP = PATIENT_ID
