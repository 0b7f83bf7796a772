"""Tables -> answers: how robust a feature is (ICC), and, later, statistics and models.

Fitting anything here happens inside training folds grouped by patient (DESIGN.md); the ICC
fits nothing, it summarises repeated measurements of the same cases.
"""

from napari_radiomics.analysis.icc import ICC_FORMS, IccForm, icc, icc_table

__all__ = ["ICC_FORMS", "IccForm", "icc", "icc_table"]
