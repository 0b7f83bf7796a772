"""Tables -> answers: how robust a feature is (perturbations + ICC), which features separate
the groups (ranking), models, and the plots that show them.

Fitting anything here happens inside training folds grouped by patient (DESIGN.md); the ICC
fits nothing, it summarises repeated measurements of the same cases.
"""

from napari_radiomics.analysis.icc import ICC_FORMS, IccForm, icc, icc_table
from napari_radiomics.analysis.perturb import (
    METHODS,
    Method,
    Perturbation,
    PerturbationPlan,
    perturb,
)
from napari_radiomics.analysis.ranking import benjamini_hochberg, patient_means, rank_features

__all__ = [
    "ICC_FORMS",
    "METHODS",
    "IccForm",
    "Method",
    "Perturbation",
    "PerturbationPlan",
    "benjamini_hochberg",
    "icc",
    "icc_table",
    "patient_means",
    "perturb",
    "rank_features",
]
