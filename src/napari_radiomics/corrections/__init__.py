"""Durable mask corrections and review statuses of a dataset (Qt-free).

A dataset's store (``store``) holds corrected masks readable without this plugin, the review
status and provenance of each case, and a log (``store_header`` says which dataset it corrects,
``store_tables`` reads and writes its tables); ``autosave`` writes edits to it off the GUI
thread; ``session`` ties an open dataset's mask to its store; ``location`` says where a store
lives; ``provenance`` measures what a correction changed; ``report`` lists the reviewed cases
(the Review dock's report and ``napari-radiomics corrections``); ``export`` writes a corrected
copy of the dataset. Nothing here ever modifies a source file.

A batch case carries its correction as a ``CorrectedMask``; an export reads the cases it is
given through their own ``load`` (``ExportCase``): nothing here imports the batch, which sits
above.
"""

from napari_radiomics.corrections.export import (
    EXPORT_FORMS,
    ExportCase,
    ExportForm,
    export_dataset,
)
from napari_radiomics.corrections.location import dataset_folder, remember_store, store_dir_for
from napari_radiomics.corrections.maskfile import CorrectedMask
from napari_radiomics.corrections.provenance import MaskChange, compare_masks, mask_digest
from napari_radiomics.corrections.report import (
    IDENTITY_COLUMNS,
    corrections_report,
    refuse_report_over_sources,
    report_summary,
    write_report,
)
from napari_radiomics.corrections.session import (
    CorrectionSession,
    attach,
    open_store,
    session_for,
    stack_refs,
)
from napari_radiomics.corrections.store import STATUSES, CaseRef, CorrectionStore, Status

__all__ = [
    "EXPORT_FORMS",
    "IDENTITY_COLUMNS",
    "STATUSES",
    "CaseRef",
    "CorrectedMask",
    "CorrectionSession",
    "CorrectionStore",
    "ExportCase",
    "ExportForm",
    "MaskChange",
    "Status",
    "attach",
    "compare_masks",
    "corrections_report",
    "dataset_folder",
    "export_dataset",
    "mask_digest",
    "open_store",
    "refuse_report_over_sources",
    "remember_store",
    "report_summary",
    "session_for",
    "stack_refs",
    "store_dir_for",
    "write_report",
]
