"""pyradiomics' features and their IBSI counterparts, in one place.

Each entry maps a pyradiomics feature (``class_Name``) to the IBSI 1 feature tag of the same
quantity, with the aggregation pyradiomics computes in 3D: texture matrices per direction,
features averaged over the 13 directions (IBSI's ``3D_avg``); zone, dependence and
neighbourhood matrices over the whole volume (IBSI's ``3D``). pyradiomics' GLDM is IBSI's
neighbouring grey level dependence matrix (``ngl_``) with coarseness 0 and distance 1, its
``Entropy`` and ``Uniformity`` are IBSI's intensity-histogram features (``ih_``, computed on
the discretised grey levels), the other first-order features IBSI's intensity statistics
(``stat_``). The equivalences follow pyradiomics' documentation of each feature and IBSI's
reference manual (arXiv:1612.07003).

``note`` says why pyradiomics' value may differ from IBSI's definition where the two are known
to differ; the report shows it beside the comparison. :data:`NOT_IN_IBSI` names every other
pyradiomics feature (deprecated ones aside) with the reason it has no IBSI tag, so a test can
check that the mapping covers each feature pyradiomics computes.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CLASSES_NOT_IN_IBSI", "IBSI_FEATURES", "NOT_IN_IBSI", "IbsiFeature"]


class IbsiFeature(NamedTuple):
    """A pyradiomics feature (``glcm_Contrast``), its IBSI tag and a known difference."""

    feature: str
    tag: str
    note: str = ""


_KURTOSIS = (
    "pyradiomics reports kurtosis (Pearson's), IBSI excess kurtosis: pyradiomics' value is "
    "IBSI's plus 3"
)
_PCA = (
    "pyradiomics divides the covariance of the voxel positions by N, IBSI by N - 1: "
    "pyradiomics' axis lengths are shorter by a factor sqrt((N - 1) / N)"
)
_BINS = (
    "pyradiomics anchors fixed bin widths at 0, IBSI at the ROI's minimum: the same with "
    "binWidth 1 on integer grey levels, not with other bin widths"
)
_SUM_VAR = "also IBSI's sum variance (cm_sum_var), the same quantity for a symmetric GLCM"
_DISSIMILARITY = "also IBSI's dissimilarity (cm_dissimilarity), the same quantity"


def _family(
    cls: str, prefix: str, suffix: str, pairs: tuple[tuple[str, str], ...]
) -> tuple[IbsiFeature, ...]:
    return tuple(IbsiFeature(f"{cls}_{name}", f"{prefix}_{tag}{suffix}") for name, tag in pairs)


_SHAPE = (
    IbsiFeature("shape_MeshVolume", "morph_volume"),
    IbsiFeature("shape_VoxelVolume", "morph_vol_approx"),
    IbsiFeature("shape_SurfaceArea", "morph_area_mesh"),
    IbsiFeature("shape_SurfaceVolumeRatio", "morph_av"),
    IbsiFeature("shape_Sphericity", "morph_sphericity"),
    IbsiFeature("shape_Maximum3DDiameter", "morph_diam"),
    IbsiFeature("shape_MajorAxisLength", "morph_pca_maj_axis", _PCA),
    IbsiFeature("shape_MinorAxisLength", "morph_pca_min_axis", _PCA),
    IbsiFeature("shape_LeastAxisLength", "morph_pca_least_axis", _PCA),
    IbsiFeature("shape_Elongation", "morph_pca_elongation"),
    IbsiFeature("shape_Flatness", "morph_pca_flatness"),
)

_FIRST_ORDER = (
    IbsiFeature("firstorder_Mean", "stat_mean"),
    IbsiFeature("firstorder_Variance", "stat_var"),
    IbsiFeature("firstorder_Skewness", "stat_skew"),
    IbsiFeature("firstorder_Kurtosis", "stat_kurt", _KURTOSIS),
    IbsiFeature("firstorder_Median", "stat_median"),
    IbsiFeature("firstorder_Minimum", "stat_min"),
    IbsiFeature("firstorder_10Percentile", "stat_p10"),
    IbsiFeature("firstorder_90Percentile", "stat_p90"),
    IbsiFeature("firstorder_Maximum", "stat_max"),
    IbsiFeature("firstorder_InterquartileRange", "stat_iqr"),
    IbsiFeature("firstorder_Range", "stat_range"),
    IbsiFeature("firstorder_MeanAbsoluteDeviation", "stat_mad"),
    IbsiFeature("firstorder_RobustMeanAbsoluteDeviation", "stat_rmad"),
    IbsiFeature("firstorder_Energy", "stat_energy"),
    IbsiFeature("firstorder_RootMeanSquared", "stat_rms"),
    IbsiFeature("firstorder_Entropy", "ih_entropy", _BINS),
    IbsiFeature("firstorder_Uniformity", "ih_uniformity", _BINS),
)

_GLCM = (
    *_family("glcm", "cm", "_3D_avg", (
        ("MaximumProbability", "joint_max"), ("JointAverage", "joint_avg"),
        ("SumSquares", "joint_var"), ("JointEntropy", "joint_entr"),
        ("DifferenceVariance", "diff_var"), ("DifferenceEntropy", "diff_entr"),
        ("SumAverage", "sum_avg"), ("SumEntropy", "sum_entr"), ("JointEnergy", "energy"),
        ("Contrast", "contrast"), ("Id", "inv_diff"), ("Idn", "inv_diff_norm"),
        ("Idm", "inv_diff_mom"), ("Idmn", "inv_diff_mom_norm"), ("InverseVariance", "inv_var"),
        ("Correlation", "corr"), ("Autocorrelation", "auto_corr"),
        ("ClusterShade", "clust_shade"), ("ClusterProminence", "clust_prom"),
        ("Imc1", "info_corr1"), ("Imc2", "info_corr2"),
    )),
    IbsiFeature("glcm_DifferenceAverage", "cm_diff_avg_3D_avg", _DISSIMILARITY),
    IbsiFeature("glcm_ClusterTendency", "cm_clust_tend_3D_avg", _SUM_VAR),
)  # fmt: skip

_GLRLM = _family("glrlm", "rlm", "_3D_avg", (
    ("ShortRunEmphasis", "sre"), ("LongRunEmphasis", "lre"),
    ("LowGrayLevelRunEmphasis", "lgre"), ("HighGrayLevelRunEmphasis", "hgre"),
    ("ShortRunLowGrayLevelEmphasis", "srlge"), ("ShortRunHighGrayLevelEmphasis", "srhge"),
    ("LongRunLowGrayLevelEmphasis", "lrlge"), ("LongRunHighGrayLevelEmphasis", "lrhge"),
    ("GrayLevelNonUniformity", "glnu"), ("GrayLevelNonUniformityNormalized", "glnu_norm"),
    ("RunLengthNonUniformity", "rlnu"), ("RunLengthNonUniformityNormalized", "rlnu_norm"),
    ("RunPercentage", "r_perc"), ("GrayLevelVariance", "gl_var"),
    ("RunVariance", "rl_var"), ("RunEntropy", "rl_entr"),
))  # fmt: skip

_GLSZM = _family("glszm", "szm", "_3D", (
    ("SmallAreaEmphasis", "sze"), ("LargeAreaEmphasis", "lze"),
    ("LowGrayLevelZoneEmphasis", "lgze"), ("HighGrayLevelZoneEmphasis", "hgze"),
    ("SmallAreaLowGrayLevelEmphasis", "szlge"), ("SmallAreaHighGrayLevelEmphasis", "szhge"),
    ("LargeAreaLowGrayLevelEmphasis", "lzlge"), ("LargeAreaHighGrayLevelEmphasis", "lzhge"),
    ("GrayLevelNonUniformity", "glnu"), ("GrayLevelNonUniformityNormalized", "glnu_norm"),
    ("SizeZoneNonUniformity", "zsnu"), ("SizeZoneNonUniformityNormalized", "zsnu_norm"),
    ("ZonePercentage", "z_perc"), ("GrayLevelVariance", "gl_var"),
    ("ZoneVariance", "zs_var"), ("ZoneEntropy", "zs_entr"),
))  # fmt: skip

_GLDM = _family("gldm", "ngl", "_3D", (
    ("SmallDependenceEmphasis", "lde"), ("LargeDependenceEmphasis", "hde"),
    ("LowGrayLevelEmphasis", "lgce"), ("HighGrayLevelEmphasis", "hgce"),
    ("SmallDependenceLowGrayLevelEmphasis", "ldlge"),
    ("SmallDependenceHighGrayLevelEmphasis", "ldhge"),
    ("LargeDependenceLowGrayLevelEmphasis", "hdlge"),
    ("LargeDependenceHighGrayLevelEmphasis", "hdhge"),
    ("GrayLevelNonUniformity", "glnu"), ("DependenceNonUniformity", "dcnu"),
    ("DependenceNonUniformityNormalized", "dcnu_norm"), ("GrayLevelVariance", "gl_var"),
    ("DependenceVariance", "dc_var"), ("DependenceEntropy", "dc_entr"),
))  # fmt: skip

_NGTDM = _family("ngtdm", "ngt", "_3D", (
    ("Coarseness", "coarseness"), ("Contrast", "contrast"), ("Busyness", "busyness"),
    ("Complexity", "complexity"), ("Strength", "strength"),
))  # fmt: skip

#: Every pyradiomics feature with an IBSI counterpart, class by class.
IBSI_FEATURES: tuple[IbsiFeature, ...] = (
    *_SHAPE,
    *_FIRST_ORDER,
    *_GLCM,
    *_GLRLM,
    *_GLSZM,
    *_GLDM,
    *_NGTDM,
)

#: The other (not deprecated) features of the classes above, and why IBSI has no tag for them.
NOT_IN_IBSI: dict[str, str] = {
    "shape_Maximum2DDiameterSlice": "IBSI defines the maximum diameter in 3D only",
    "shape_Maximum2DDiameterColumn": "IBSI defines the maximum diameter in 3D only",
    "shape_Maximum2DDiameterRow": "IBSI defines the maximum diameter in 3D only",
    "firstorder_TotalEnergy": "pyradiomics' energy scaled by the voxel volume; not in IBSI",
    "glcm_MCC": "the maximal correlation coefficient is not an IBSI feature",
}

#: pyradiomics feature classes IBSI does not define at all.
CLASSES_NOT_IN_IBSI: dict[str, str] = {
    "shape2D": "IBSI defines morphological features of 3D regions only",
}
