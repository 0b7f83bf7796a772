"""Which features a set of maps computes: the names ``maps --features`` and the Feature maps
dock accept (pyradiomics' own, of classes and image types the settings enable), checked before
any work because they end up in file names; and the names of the maps themselves
(:func:`map_names`), known before any work so that a name already taken in an output folder
is refused before minutes of computing."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

from napari_radiomics._pyradiomics import PyradiomicsConfig
from napari_radiomics.convert import Grid
from napari_radiomics.engine._compat import ensure_lbp3d_support
from napari_radiomics.errors import SettingsError
from napari_radiomics.settings import ExtractionSettings

#: What pyradiomics' image-type names are made of (``log-sigma-1-0-mm-3D``, ``wavelet-LLH``).
_IMAGE_TYPE_NAME = re.compile(r"[A-Za-z0-9-]+")


def map_feature_choices() -> list[str]:
    """Every name :func:`map_features` accepts, for a picker: each non-shape class (``glcm``,
    all of its features), then its current features (``glcm_Contrast``), as pyradiomics lists
    them (deprecated ones left out)."""
    from radiomics import getFeatureClasses

    classes = {k: v for k, v in getFeatureClasses().items() if not k.startswith("shape")}
    features = [
        f"{name}_{feature}"
        for name, cls in classes.items()
        for feature, deprecated in cls.getFeatureNames().items()
        if not deprecated
    ]
    return [*classes, *features]


def map_features(
    settings: ExtractionSettings, features: Sequence[str] | None = None
) -> dict[str, list[str] | None]:
    """The feature classes (and features, ``None`` = all) the maps compute: ``features`` as
    class names (``glcm``) or class_feature names (``glcm_Contrast``, ``original_glcm_Contrast``),
    else every non-shape feature the settings enable.

    Each name must be one of pyradiomics' features of a class the settings enable (and, with a
    prefix, of an image type they enable): anything else is refused naming it, since a name
    that is not pyradiomics' own is a typo or a hostile value, and it ends up in file names.
    """
    from radiomics import getFeatureClasses

    classes = getFeatureClasses()
    config = PyradiomicsConfig.from_params(settings.to_params())
    enabled = {k: v for k, v in config.features.items() if not k.startswith("shape")}
    if not features:
        return {k: v for k, v in enabled.items() if k in classes}
    prefixes = {_image_type_prefix(name) for name in config.image_types}
    out: dict[str, list[str] | None] = {}
    for entry in features:
        parts = entry.split("_")
        if parts[0] not in classes and len(parts) > 2:
            prefix, parts = parts[0], parts[1:]  # an image-type prefix (original_glcm_Contrast)
            if _image_type_prefix(prefix) not in prefixes:
                raise SettingsError(
                    f"feature {entry!r}: {prefix!r} is not an image type the settings enable; "
                    f"enabled: {', '.join(sorted(config.image_types))}"
                )
        class_name, feature = parts[0], "_".join(parts[1:])
        if class_name not in classes:
            raise SettingsError(
                f"feature {entry!r}: no feature class {class_name!r}; choose from "
                + ", ".join(c for c in classes if not c.startswith("shape"))
            )
        if class_name.startswith("shape"):
            raise SettingsError(f"feature {entry!r}: shape features have no voxel-wise map")
        if class_name not in enabled:
            raise SettingsError(
                f"feature {entry!r}: the settings do not enable feature class {class_name!r} "
                f"(enabled: {', '.join(enabled) or 'none'}); enable it in featureClass"
            )
        names = classes[class_name].getFeatureNames()
        if feature and feature not in names:
            raise SettingsError(
                f"feature {entry!r}: {class_name} has no feature {feature!r}; choose from "
                + ", ".join(sorted(names))
            )
        only = enabled[class_name]
        if not feature:  # the class: what the settings enable of it
            out[class_name] = list(only) if only else None
            continue
        if only and feature not in only:
            raise SettingsError(
                f"feature {entry!r}: the settings enable only {', '.join(only)} of "
                f"{class_name}; add it to featureClass.{class_name}"
            )
        if class_name not in out or out[class_name] is not None:
            out.setdefault(class_name, [])
            out[class_name].append(feature)  # type: ignore[union-attr]
    return out


def map_names(
    grid: Grid, settings: ExtractionSettings, features: Sequence[str] | None = None
) -> list[str]:
    """The names of the maps ``feature_maps`` returns for an image on ``grid`` with these
    ``settings`` and ``features`` (``original_glcm_Contrast``, ``wavelet-LLH_glrlm_RunEntropy``
    ...), in its order, worked out without computing anything: each image pyradiomics derives
    (:func:`_derived_names`), then each class :func:`map_features` maps, then the features it
    enables of that class (all of a class: its features pyradiomics does not deprecate, as
    ``enableAllFeatures`` takes them)."""
    from radiomics import getFeatureClasses

    classes = getFeatureClasses()
    wanted = map_features(settings, features)
    config = PyradiomicsConfig.from_params(settings.to_params())
    derived = [
        name
        for image_type, overrides in config.image_types.items()
        for name in _derived_names(image_type, config.settings | overrides, grid)
    ]
    names: list[str] = []
    for image in derived:
        for class_name, only in wanted.items():
            every = classes[class_name].getFeatureNames().items()
            enabled = only or [name for name, deprecated in every if not deprecated]
            names += [f"{image}_{class_name}_{name}" for name in dict.fromkeys(enabled)]
    return names


def _derived_names(image_type: str, kwargs: dict[str, Any], grid: Grid) -> list[str]:
    """The names pyradiomics' ``get<image_type>Image`` gives the images it yields for an image
    on ``grid`` with ``kwargs``, without running it (a filter on a whole image takes seconds).

    pyradiomics names them in its generators (``radiomics.imageoperations``, the pinned
    release), so this follows them rule by rule, including when they yield nothing: LoG on an
    image under 4 voxels along an axis, or a sigma whose kernel the image cannot hold; LBP3D on
    a 2D image or without its packages. The test of this module runs every generator and
    compares the names."""
    dimension = grid.ndim
    if image_type == "LoG":
        size, spacing = grid.size, grid.spacing
        if min(size) < 4:
            return []
        return [
            f"log-sigma-{str(sigma).replace('.', '-')}-mm-3D"
            for sigma in kwargs.get("sigma", [])
            if sigma > 0.0
            and all(n >= math.ceil(sigma / d) + 1 for n, d in zip(size, spacing, strict=True))
        ]
    if image_type == "Wavelet":
        axes = dimension - 1 if kwargs.get("force2D", False) else dimension
        details = ["".join(d) for d in itertools.product("LH", repeat=axes)][1:]  # not L...L
        levels = max(int(kwargs.get("level", 1)), 0)
        prefixes = [f"wavelet{level if level > 1 else ''}-" for level in range(1, levels + 1)]
        last = "wavelet-" if levels == 1 else f"wavelet{levels}-"  # after the last level
        return [f"{prefix}{d}" for prefix in prefixes for d in details] + [f"{last}{'L' * axes}"]
    if image_type == "LBP2D":
        return ["lbp-2D"] if dimension in (2, 3) else []
    if image_type == "LBP3D":
        if dimension != 3 or ensure_lbp3d_support() is not None:
            return []
        levels = int(kwargs.get("lbp3DLevels", 2))
        return [*(f"lbp-3D-m{level}" for level in range(1, levels + 1)), "lbp-3D-k"]
    return [image_type.lower()]  # original, square, squareroot, logarithm, exponential, gradient


def _image_type_prefix(name: str) -> str | None:
    """What a feature name's image-type part starts with, in lower case: ``original`` for
    Original, ``log`` for LoG (``log-sigma-1-0-mm-3D``), ``wavelet`` for Wavelet
    (``wavelet-LLH``, ``wavelet2-LLH``), ``lbp`` for LBP2D and LBP3D (``lbp-2D``); None for
    a name pyradiomics never makes (``../../x``)."""
    if not _IMAGE_TYPE_NAME.fullmatch(name):
        return None
    head = name.split("-")[0].lower().rstrip("0123456789")
    return "lbp" if head.startswith("lbp") else head
