"""What pyradiomics' own params schema accepts, checked with clear messages first.

pyradiomics validates a params dict with pykwalify against ``radiomics/schemas/paramSchema.yaml``
when an extractor is built. :func:`check_params` runs the same validation (so "valid here" means
"valid in pyradiomics"), after checks that turn pykwalify's terse refusals of the commonest
mistakes (a misspelt image type, feature class, feature or setting; a list where a mapping
belongs; a NaN bin width the schema lets through) into messages that name the key and what is
allowed. :func:`schema_settings` gives the schema's rule per setting (type, range, enum), which
the Extract dock's form is built from. The schema is read once and verdicts are cached: a
params dict costs ~10 ms to validate, and the docks validate on every edit.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
from pathlib import Path
from typing import Any

import yaml

from napari_radiomics.errors import SettingsError

__all__ = ["check_params", "schema_settings"]


def check_params(params: dict[str, Any]) -> None:
    """Raise SettingsError unless pyradiomics would accept ``params`` (its own sections only:
    ``setting``, ``imageType``, ``featureClass``, ``voxelSetting``)."""
    _check_shapes(params)
    _check_names(params)
    if not any(params.values()):
        return  # nothing to check (pykwalify refuses to validate empty data)
    try:
        key = json.dumps(params, sort_keys=True)
    except TypeError as err:
        raise SettingsError(f"params hold a value that is not plain data: {err}") from None
    message = _schema_errors(key)
    if message:
        raise SettingsError(message)


def _check_shapes(params: dict[str, Any]) -> None:
    """Types the schema check would trip over with a raw TypeError (a list where a mapping or a
    feature name belongs), and NaN or infinite numbers: the schema lets ``binWidth: .nan``
    through, and pyradiomics then fails deep in its binning (``arange: cannot compute length``)."""
    for section in ("setting", "imageType", "featureClass", "voxelSetting"):
        value = params.get(section)
        if value is not None and not isinstance(value, dict):
            raise SettingsError(
                f"{section} must be a mapping of names to values, got {type(value).__name__} "
                f"{value!r}"
            )
    for name, features in (params.get("featureClass") or {}).items():
        if features is None:
            continue
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise SettingsError(
                f"featureClass {name!r}: expected a list of feature names (e.g. [Contrast]) "
                f"or nothing for all of them, got {features!r}"
            )
    for name, options in (params.get("imageType") or {}).items():
        if options is not None and not isinstance(options, dict):
            raise SettingsError(
                f"imageType {name!r}: expected a mapping of settings or nothing, got {options!r}"
            )
    for where, section in _setting_sections(params):
        for key, value in section.items():
            numbers = value if isinstance(value, list) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
                raise SettingsError(f"{where}: {key} must be a finite number, got {value!r}")


def _setting_sections(params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Where settings live: ``setting`` and each image type's overrides, named for messages."""
    image_types = (params.get("imageType") or {}).items()
    return [("setting", params.get("setting") or {})] + [
        (f"imageType {name}", options or {}) for name, options in image_types
    ]


def _check_names(params: dict[str, Any]) -> None:
    """Clear messages for the mistakes users make most: misspelt names."""
    from radiomics import getFeatureClasses, getImageTypes

    unknown = set(params) - {"setting", "imageType", "featureClass", "voxelSetting"}
    if unknown:
        raise SettingsError(
            f"unknown section(s) {sorted(unknown)}; allowed: setting, imageType, featureClass, "
            "voxelSetting"
        )
    for name in params.get("imageType") or {}:
        if name not in getImageTypes():
            raise SettingsError(f"imageType {name!r} is not known; allowed: {getImageTypes()}")
    classes = getFeatureClasses()
    for name, features in (params.get("featureClass") or {}).items():
        if name not in classes:
            raise SettingsError(f"featureClass {name!r} is not known; allowed: {list(classes)}")
        allowed = classes[name].getFeatureNames()
        for feature in features or []:
            if feature not in allowed:
                raise SettingsError(
                    f"featureClass {name!r}: feature {feature!r} is not known; allowed: "
                    f"{sorted(allowed)}"
                )
    setting_keys = schema_settings()
    for where, section in _setting_sections(params):
        for key in section:
            if key not in setting_keys:
                raise SettingsError(
                    f"{where}: {key!r} is not a pyradiomics setting; "
                    f"allowed: {sorted(setting_keys)}"
                )


@functools.cache
def schema_settings() -> dict[str, dict[str, Any]]:
    """The rules of pyradiomics' schema for the ``setting`` section, by key."""
    from radiomics import getParameterValidationFiles

    schema = yaml.safe_load(Path(getParameterValidationFiles()[0]).read_text(encoding="utf-8"))
    return dict(schema["mapping"]["setting"]["mapping"])


@functools.lru_cache(maxsize=1)
def _pykwalify_schema() -> tuple[dict[str, Any], str]:
    """pyradiomics' schema as pykwalify reads it (its own YAML loader), and the file of the
    schema's functions. Read once: given the file, pykwalify parses it again for every params
    dict, ~50 ms each, several times the validation itself."""
    from pykwalify.compat import yml
    from radiomics import getParameterValidationFiles

    schema_file, schema_funcs = getParameterValidationFiles()
    with Path(schema_file).open(encoding="utf-8") as stream:
        return yml.load(stream), schema_funcs


@functools.lru_cache(maxsize=256)
def _schema_errors(params_json: str) -> str | None:
    """pykwalify's verdict on one params dict (cached: validation costs ~10 ms)."""
    import pykwalify.core
    from pykwalify.errors import PyKwalifyException

    schema, schema_funcs = _pykwalify_schema()
    log = logging.getLogger("pykwalify")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its own log repeats what the exception says
    try:
        core = pykwalify.core.Core(
            source_data=json.loads(params_json),
            schema_data=copy.deepcopy(schema),  # pykwalify may annotate what it is given
            extensions=[schema_funcs],
        )
        core.validate(raise_exception=True)
    except PyKwalifyException as err:
        return f"invalid pyradiomics params: {getattr(err, 'msg', err)}"
    except (ValueError, TypeError) as err:  # raised by pyradiomics' schema functions
        return f"invalid pyradiomics params: {err}"
    finally:
        log.setLevel(level)
    return None
