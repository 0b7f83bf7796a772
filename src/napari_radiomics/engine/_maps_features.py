"""Which features a set of maps computes: the names ``maps --features`` and the Feature maps
dock accept (pyradiomics' own, of classes and image types the settings enable), checked before
any work because they end up in file names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from napari_radiomics._pyradiomics import PyradiomicsConfig
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


def _image_type_prefix(name: str) -> str | None:
    """What a feature name's image-type part starts with, in lower case: ``original`` for
    Original, ``log`` for LoG (``log-sigma-1-0-mm-3D``), ``wavelet`` for Wavelet
    (``wavelet-LLH``, ``wavelet2-LLH``), ``lbp`` for LBP2D and LBP3D (``lbp-2D``); None for
    a name pyradiomics never makes (``../../x``)."""
    if not _IMAGE_TYPE_NAME.fullmatch(name):
        return None
    head = name.split("-")[0].lower().rstrip("0123456789")
    return "lbp" if head.startswith("lbp") else head
