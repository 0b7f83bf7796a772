"""A pyradiomics params file that extracts only robust features, as far as pyradiomics can.

pyradiomics selects features in two independent lists: image types (``imageType``:
Original, LoG, Wavelet, ...) and feature names per class (``featureClass``: glcm:
[Contrast, ...]). Every enabled name is computed on every enabled image type, so a params
file cannot say "glcm Contrast on the original image but not on wavelet-LLH". Robustness is
per (image type, feature), so the robust set is in general not expressible.

The file written here never extracts a feature that is not robust: it enables a set of image
types and the feature names robust on *all* of them (a "rectangle" of the robust set),
choosing the rectangle that keeps the most robust features (every subset of the enabled image
types is tried: at most 2**10). Shape features are computed once, whatever the image types,
so every robust shape feature is enabled. The robust features left out are reported
(``in_params`` False in the ICC table), so nothing is dropped silently.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from napari_radiomics._pyradiomics import PyradiomicsConfig, image_type_names
from napari_radiomics.results import FeatureName, parse_feature_name
from napari_radiomics.settings import ExtractionSettings

__all__ = ["SHAPE_CLASSES", "image_type_key", "robust_params"]

#: Feature classes pyradiomics computes once per ROI, outside the image-type loop.
SHAPE_CLASSES = ("shape", "shape2D")


def image_type_key(prefix: str) -> str:
    """The ``imageType`` key behind a feature-name prefix: ``wavelet-LLH`` -> ``Wavelet``,
    ``log-sigma-1-0-mm-3D`` -> ``LoG``, ``lbp-2D`` -> ``LBP2D``."""
    parts = prefix.split("-")
    token = parts[0] + (parts[1] if parts[0] == "lbp" and len(parts) > 1 else "")
    keys = {name.lower(): name for name in image_type_names()}
    if token.lower() not in keys:
        raise ValueError(f"feature prefix {prefix!r} belongs to no pyradiomics image type")
    return keys[token.lower()]


def robust_params(
    table: pd.DataFrame, settings: ExtractionSettings
) -> tuple[dict[str, Any], list[str]]:
    """The params of ``settings`` narrowed to robust features, and the features they extract.

    ``table`` is an ICC table (``feature``, ``robust``) of a run made with ``settings``.
    Raises ValueError when no robust feature can be enabled: an empty ``featureClass``
    means "every feature" to pyradiomics, the opposite of what was asked.
    """
    robust = {str(f) for f in table.loc[table["robust"].astype(bool), "feature"]}
    names = {str(f): parse_feature_name(str(f)) for f in table["feature"]}
    shape: dict[str, list[str]] = {}
    prefixes: dict[str, set[str]] = {}  # imageType key -> its prefixes in the table
    robust_at: dict[str, set[tuple[str, str]]] = {}  # prefix -> robust (class, feature)
    for full, name in names.items():
        if name is None:
            continue
        if name.feature_class in SHAPE_CLASSES:
            if full in robust:
                shape.setdefault(name.feature_class, []).append(name.feature)
            continue
        prefixes.setdefault(image_type_key(name.image_type), set()).add(name.image_type)
        at = robust_at.setdefault(name.image_type, set())
        if full in robust:
            at.add((name.feature_class, name.feature))
    best: tuple[int, tuple[str, ...], set[tuple[str, str]]] = (0, (), set())
    types = sorted(prefixes)
    for size in range(len(types), 0, -1):
        for chosen in itertools.combinations(types, size):
            common = set.intersection(*(robust_at[p] for t in chosen for p in prefixes[t]))
            kept = len(common) * sum(len(prefixes[t]) for t in chosen)
            if kept > best[0]:
                best = (kept, chosen, common)
    _, chosen, common = best
    classes: dict[str, list[str]] = {}
    for feature_class, feature in sorted(common):
        classes.setdefault(feature_class, []).append(feature)
    classes.update(shape)
    if not classes:
        raise ValueError("no feature is robust: there is nothing to enable in a params file")
    params = settings.to_params()
    enabled = PyradiomicsConfig.from_params(params).image_types  # pyradiomics' reading of it
    params["imageType"] = {t: enabled.get(t) or {} for t in chosen}
    params["featureClass"] = classes

    def enabled_by_params(name: FeatureName) -> bool:
        if name.feature_class in SHAPE_CLASSES:
            return name.feature in shape.get(name.feature_class, [])
        in_types = image_type_key(name.image_type) in chosen
        return in_types and (name.feature_class, name.feature) in common

    extracted = [full for full, name in names.items() if name and enabled_by_params(name)]
    return params, extracted
