"""Extraction settings: one typed object <-> pyradiomics' params dict and params files.

pyradiomics is configured by a params dict (or YAML/JSON file) with the sections ``setting``,
``imageType``, ``featureClass`` and ``voxelSetting``, using camelCase keys. ``ExtractionSettings``
holds the same information with snake_case attributes so Python code and widgets can use it, and
maps it back without loss: a file saved here runs unchanged in ``RadiomicsFeatureExtractor(path)``
and a pyradiomics file loads here. Every params dict this module produces or reads is validated
with pyradiomics' own schema (``radiomics/schemas/paramSchema.yaml``, through pykwalify, in
``_pyradiomics_schema``), so "valid here" means "valid in pyradiomics".

Only settings that differ from pyradiomics' defaults (or that a loaded file spelled out) are
written to ``setting``; pyradiomics applies the same defaults itself, so the numbers are the same
and files stay short.

Preprocessing (``preprocess``: N4, z-score, Nyul; see ``napari_radiomics.preprocess``) is not
pyradiomics': ``to_params`` carries it under its own key (``preprocess``), which every call into
pyradiomics drops, and a params file holds it as a ``#%`` comment block, so the file still runs
in pyradiomics (without the preprocessing) and loads here with it.

One deliberate difference: ``label`` is ``None`` by default, meaning "every ROI label present in
the mask" (one result row per label). A params file without ``label`` therefore loads as "all
labels", where pyradiomics would use label 1 only; a file that names a label keeps it.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics._pyradiomics import (
    PREPROCESS_KEY,
    PyradiomicsConfig,
    default_features,
    default_image_types,
    feature_class_names,
    image_type_names,
    pyradiomics_part,
)
from napari_radiomics._pyradiomics_schema import check_params, schema_settings
from napari_radiomics._yaml import load_yaml
from napari_radiomics.errors import SettingsError
from napari_radiomics.preprocess import STEP_OPTIONS, check_steps, steps_comment, steps_in_comments

__all__ = ["PRESETS", "ExtractionSettings", "SettingsError", "params_from_yaml", "params_to_yaml"]


#: attribute name -> pyradiomics key. The defaults are the dataclass's own (below), each the one
#: pyradiomics applies when the key is absent: ``RadiomicsFeatureExtractor().settings`` or, for
#: the keys that are not there, its feature code's ``kwargs.get(key, default)``
#: (``tests/test_settings.py`` compares every one with pyradiomics). ``label`` alone differs.
_KEYS: dict[str, str] = {
    "bin_width": "binWidth",
    "bin_count": "binCount",
    "normalize": "normalize",
    "normalize_scale": "normalizeScale",
    "remove_outliers": "removeOutliers",
    "resampled_pixel_spacing": "resampledPixelSpacing",
    "interpolator": "interpolator",
    "pad_distance": "padDistance",
    "pre_crop": "preCrop",
    "force_2d": "force2D",
    "force_2d_dimension": "force2Ddimension",
    "resegment_range": "resegmentRange",
    "resegment_mode": "resegmentMode",
    "resegment_shape": "resegmentShape",
    "minimum_roi_dimensions": "minimumROIDimensions",
    "minimum_roi_size": "minimumROISize",
    "correct_mask": "correctMask",
    "geometry_tolerance": "geometryTolerance",
    "voxel_array_shift": "voxelArrayShift",
    "symmetrical_glcm": "symmetricalGLCM",
    "distances": "distances",
    "label": "label",
}
_KEY_TO_ATTRIBUTE = {key: attribute for attribute, key in _KEYS.items()}

#: A params file is a few hundred bytes; anything this large is not one (and is not parsed).
MAX_PARAMS_BYTES = 1 << 20


@dataclass
class ExtractionSettings:
    """pyradiomics settings, image types and feature classes, with pyradiomics' defaults.

    ``image_types`` maps an image type (``Original``, ``LoG``, ``Wavelet``, ``Square``,
    ``SquareRoot``, ``Logarithm``, ``Exponential``, ``Gradient``, ``LBP2D``, ``LBP3D``) to its
    own setting overrides (e.g. ``{"LoG": {"sigma": [1.0, 3.0]}}``). ``feature_classes`` maps a
    class name to the features to compute (an empty list = all of that class). ``extra_settings``
    carries any other key pyradiomics' schema accepts (``gldm_a``, ``weightingNorm``, ``sigma``,
    ``wavelet``, ...), ``voxel_settings`` the ``voxelSetting`` section.
    """

    bin_width: float = 25
    bin_count: int | None = None
    normalize: bool = False
    normalize_scale: float = 1
    remove_outliers: float | None = None
    resampled_pixel_spacing: list[float] | None = None
    interpolator: str | int | None = "sitkBSpline"
    pad_distance: int = 5
    pre_crop: bool = False
    force_2d: bool = False
    force_2d_dimension: int = 0
    resegment_range: list[float] | None = None
    resegment_mode: str = "absolute"
    resegment_shape: bool = False
    minimum_roi_dimensions: int = 2
    minimum_roi_size: int | None = None
    correct_mask: bool = False
    geometry_tolerance: float | None = None
    voxel_array_shift: int = 0
    symmetrical_glcm: bool = True
    distances: list[int] = field(default_factory=lambda: [1])
    label: int | None = None
    #: Image preprocessing before pyradiomics, ``{step: {option: value}}`` (steps ``n4``,
    #: ``zscore``, ``nyul``; an empty mapping takes a step's defaults): not a pyradiomics
    #: setting, see ``napari_radiomics.preprocess``.
    preprocess: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata={"choices": lambda: list(STEP_OPTIONS)}
    )
    #: ``choices``: the names a key may take (a form offers one box per name).
    image_types: dict[str, dict[str, Any]] = field(
        default_factory=default_image_types, metadata={"choices": image_type_names}
    )
    feature_classes: dict[str, list[str]] = field(
        default_factory=default_features, metadata={"choices": feature_class_names}
    )
    extra_settings: dict[str, Any] = field(default_factory=dict)
    voxel_settings: dict[str, Any] = field(default_factory=dict)
    #: pyradiomics keys a loaded file spelled out, kept even when they equal the default, so
    #: a file saved back says what it said before.
    given_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    SUFFIXES: ClassVar[tuple[str, ...]] = (".yaml", ".yml", ".json")

    # -- pyradiomics params dict --------------------------------------------------------------
    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        """pyradiomics key -> its default here, for every setting with its own attribute."""
        return {key: copy.deepcopy(value) for key, value in _setting_defaults().items()}

    def to_params(self) -> dict[str, Any]:
        """The pyradiomics params dict (validated against pyradiomics' schema)."""
        setting: dict[str, Any] = {}
        defaults = self.setting_defaults()
        for attribute, key in _KEYS.items():
            value, default = getattr(self, attribute), defaults[key]
            if isinstance(value, tuple):
                value = list(value)
            if value == default and type(value) is type(default) and key not in self.given_keys:
                continue  # pyradiomics applies its own default
            setting[key] = value
        for key, value in self.extra_settings.items():
            if key in _KEY_TO_ATTRIBUTE:
                raise SettingsError(
                    f"setting {key!r} in extra_settings has its own attribute: use "
                    f"ExtractionSettings.{_KEY_TO_ATTRIBUTE[key]}"
                )
            setting[key] = list(value) if isinstance(value, tuple) else value
        params: dict[str, Any] = {
            "setting": setting,
            "imageType": {name: dict(options or {}) for name, options in self.image_types.items()},
            "featureClass": {
                name: list(feats or []) for name, feats in self.feature_classes.items()
            },
        }
        if self.voxel_settings:
            params["voxelSetting"] = dict(self.voxel_settings)
        if self.preprocess:
            params[PREPROCESS_KEY] = check_steps(self.preprocess)
        validate_params(params)
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExtractionSettings:
        """Settings from a pyradiomics params dict, read as pyradiomics reads it."""
        if not isinstance(params, dict):
            raise SettingsError(f"params must be a mapping, got {type(params).__name__}")
        validate_params(params)
        kwargs: dict[str, Any] = {"extra_settings": {}}
        kwargs["given_keys"] = frozenset(params.get("setting") or {})
        for key, value in (params.get("setting") or {}).items():
            if key in _KEY_TO_ATTRIBUTE:
                kwargs[_KEY_TO_ATTRIBUTE[key]] = value
            else:
                kwargs["extra_settings"][key] = value
        # What an empty imageType or featureClass section means (the original image; every
        # class, shape2D included) is pyradiomics' answer, not this module's.
        enabled = PyradiomicsConfig.from_params(params)
        image_types = params.get("imageType") or enabled.image_types
        kwargs["image_types"] = {name: dict(kw or {}) for name, kw in image_types.items()}
        feature_classes = params.get("featureClass") or enabled.features
        kwargs["feature_classes"] = {
            name: list(feats or []) for name, feats in feature_classes.items()
        }
        kwargs["voxel_settings"] = dict(params.get("voxelSetting") or {})
        kwargs["preprocess"] = check_steps(params.get(PREPROCESS_KEY) or {})
        return cls(**copy.deepcopy(kwargs))

    # -- files --------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> ExtractionSettings:
        """Read a pyradiomics params file (YAML or JSON, by suffix)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in cls.SUFFIXES:
            raise SettingsError(f"{path}: params files end in {', '.join(cls.SUFFIXES)}")
        try:
            return cls.from_params(_read_params(path, suffix))
        except SettingsError as err:
            raise SettingsError(f"{path}: {err}") from None

    def save(self, path: str | Path) -> Path:
        """Write a pyradiomics params file (YAML or JSON, by suffix) that pyradiomics can run."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in self.SUFFIXES:
            raise SettingsError(f"{path}: params files end in {', '.join(self.SUFFIXES)}")
        params = self.to_params()
        if suffix != ".json":
            text = params_to_yaml(params)
        elif PREPROCESS_KEY in params:
            raise SettingsError(
                f"{path}: the preprocessing ({', '.join(params[PREPROCESS_KEY])}) is saved in "
                "YAML params files only (a comment block pyradiomics ignores; JSON has no "
                "comments): save as .yaml"
            )
        else:
            text = json.dumps(params, indent=2) + "\n"
        with replaced(path) as temporary:  # a full disk or a kill keeps an earlier file whole
            temporary.write_text(text, encoding="utf-8")
        return path

    # -- presets ------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> ExtractionSettings:
        """A fresh copy of a named preset (see ``PRESETS``)."""
        if name not in PRESETS:
            raise SettingsError(f"preset {name!r} does not exist; choose from {sorted(PRESETS)}")
        return PRESETS[name]()

    def copy(self) -> ExtractionSettings:
        """An independent copy (the dict and list attributes are copied too)."""
        return copy.deepcopy(self)

    def describe(self) -> dict[str, Any]:
        """Attribute values as plain data (for display and provenance)."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.compare}


def _brain_tumor_mri() -> ExtractionSettings:
    """The workflow this project started from: brain-tumour MRI slices (.mat), normalised
    intensities, bin width 32, the original image only. Those files carry no pixel size, so the
    layers (and SimpleITK images) have spacing 1 and no resampling is configured; every feature
    class is on, so 2D slices get shape2D features."""
    every_class = PyradiomicsConfig.from_params({"featureClass": {}}).features
    return ExtractionSettings(
        normalize=True,
        bin_width=32,
        feature_classes={name: list(feats or []) for name, feats in every_class.items()},
    )


@functools.cache
def _setting_defaults() -> dict[str, Any]:
    """pyradiomics key -> the dataclass's default, read from its fields (typed once)."""
    defaults = {}
    for spec in fields(ExtractionSettings):
        if spec.name in _KEYS:
            value = spec.default_factory() if spec.default is MISSING else spec.default
            defaults[_KEYS[spec.name]] = value
    return defaults


#: Named presets: name -> factory returning a fresh ExtractionSettings.
PRESETS: dict[str, Any] = {
    "pyradiomics-default": ExtractionSettings,
    "brain-tumor-mri": _brain_tumor_mri,
}


def _read_params(path: Path, suffix: str) -> dict[str, Any]:
    """The params a file holds, read with bounded effort (its size, then its aliases)."""
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise SettingsError(
                f"{size} bytes is not a params file (those are a few hundred bytes; at most "
                f"{MAX_PARAMS_BYTES} are read)"
            )
        text = path.read_text(encoding="utf-8")
        params = json.loads(text) if suffix == ".json" else params_from_yaml(text)
    except UnicodeDecodeError as err:
        raise SettingsError(f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise SettingsError(f"cannot read ({err.strerror})") from None
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise SettingsError(f"not valid {suffix[1:].upper()}: {err}") from None
    return params if params is not None else {}


def params_to_yaml(params: dict[str, Any]) -> str:
    """A params dict as the text of a ``*.params.yaml`` pyradiomics runs: its own sections as
    YAML, the preprocessing (if any) as the ``#%`` comment block after them."""
    text = yaml.safe_dump(pyradiomics_part(params), sort_keys=False, default_flow_style=None)
    return text + steps_comment(params.get(PREPROCESS_KEY) or {})


def params_from_yaml(text: str) -> dict[str, Any] | None:
    """The params ``params_to_yaml`` wrote (preprocessing from the ``#%`` block included);
    None for an empty document."""
    params = load_yaml(text)
    steps = steps_in_comments(text)
    if steps is not None:
        params = {} if params is None else params
        if isinstance(params, dict) and PREPROCESS_KEY in params:
            raise SettingsError(f"preprocessing given twice: as {PREPROCESS_KEY} and as #% lines")
        if isinstance(params, dict):  # anything else is refused by the validation
            params[PREPROCESS_KEY] = steps
    return params


# -- validation against pyradiomics' schema (``_pyradiomics_schema``) --------------------------
def validate_params(params: dict[str, Any]) -> None:
    """Raise SettingsError unless pyradiomics would accept ``params`` (without its
    ``preprocess`` key, which is checked by ``napari_radiomics.preprocess``)."""
    if PREPROCESS_KEY in params:
        check_steps(params[PREPROCESS_KEY] or {})
    check_params(pyradiomics_part(params))


def setting_rule(attribute: str) -> tuple[str, dict[str, Any]] | None:
    """The pyradiomics key of an ``ExtractionSettings`` attribute (or of a setting that has no
    attribute, such as ``sigma``) and pyradiomics' schema rule for it (``type``, ``range``,
    ``enum``, ``seq``): what a form may offer, from pyradiomics' own schema rather than
    re-typed. ``None`` for attributes that are not one setting (image types, ...)."""
    key = _KEYS.get(attribute, attribute)
    rule = schema_settings().get(key)
    return None if rule is None else (key, copy.deepcopy(rule))
