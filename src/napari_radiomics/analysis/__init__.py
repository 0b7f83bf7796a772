"""Tables -> answers: how robust a feature is (perturbations + ICC); later, statistics, models.

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

__all__ = [
    "ICC_FORMS",
    "METHODS",
    "IccForm",
    "Method",
    "Perturbation",
    "PerturbationPlan",
    "icc",
    "icc_table",
    "perturb",
]
