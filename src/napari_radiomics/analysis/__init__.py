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
from napari_radiomics.analysis.plots import (
    Plot,
    PlotTheme,
    apply_theme,
    distribution_plot,
    overview_plot,
    projection,
    projection_plot,
    save_figure,
    scatter_plot,
)
from napari_radiomics.analysis.ranking import benjamini_hochberg, patient_means, rank_features

__all__ = [
    "ICC_FORMS",
    "METHODS",
    "IccForm",
    "Method",
    "Perturbation",
    "PerturbationPlan",
    "Plot",
    "PlotTheme",
    "apply_theme",
    "benjamini_hochberg",
    "distribution_plot",
    "icc",
    "icc_table",
    "overview_plot",
    "patient_means",
    "perturb",
    "projection",
    "projection_plot",
    "rank_features",
    "save_figure",
    "scatter_plot",
]
