"""Which settings a run uses: a preset, a params file, or settings already in hand; then
the preprocessing steps and overrides.

The CLI (``--preset``, ``--params``, ``--set``), the Batch dock and the Robustness dock all
choose through :func:`choose_settings`, so a bad params file or an unknown preset is refused
with the same message wherever it was chosen: the preset's name or the file's path, then the
problem (``ExtractionSettings.preset`` and ``ExtractionSettings.load`` word it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from napari_radiomics.errors import SettingsError
from napari_radiomics.preprocess import with_landmarks
from napari_radiomics.settings import ExtractionSettings

__all__ = ["OVERRIDE_SECTIONS", "choose_settings"]

#: Sections of a params dict an override ``section.key`` may target; any other key is a
#: ``setting``. ``preprocess.n4={shrink_factor: 2}`` sets a preprocessing step's options.
OVERRIDE_SECTIONS = ("setting", "imageType", "featureClass", "voxelSetting", "preprocess")


def choose_settings(
    *,
    preset: str | None = None,
    params: str | Path | None = None,
    current: ExtractionSettings | None = None,
    preprocess: Sequence[str] | None = None,
    nyul_landmarks: str | Path | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
) -> ExtractionSettings:
    """The settings of a run: one of a ``preset`` name, a ``params`` file or ``current``
    settings (a dock's form), pyradiomics' defaults when none is given; then ``preprocess``,
    the preprocessing step names (``["n4", "zscore"]``, ``[]`` for none) replacing the chosen
    settings' steps, with the ``nyul`` step's landmarks read from ``nyul_landmarks`` (a file
    ``NyulStandardizer.save`` wrote); then ``overrides``, ``(key, value)`` pairs where ``key``
    is a setting (``binWidth``) or ``section.key`` (``featureClass.glcm``).

    Raises SettingsError naming the preset, the file or the key, and the problem; ``params``
    given but blank (an empty field) is refused too, rather than read as "no file".
    """
    given = [p for p, v in (("a preset", preset), ("a params file", params)) if v is not None]
    if current is not None:
        given.append("the settings in hand")
    if len(given) > 1:
        raise SettingsError(f"choose one source of settings, not {' and '.join(given)}")
    if preset is not None:
        settings = ExtractionSettings.preset(preset)
    elif params is not None:
        if not str(params).strip():
            suffixes = ", ".join(ExtractionSettings.SUFFIXES)
            raise SettingsError(f"choose a pyradiomics params file ({suffixes})")
        settings = ExtractionSettings.load(params)
    else:
        settings = current.copy() if current is not None else ExtractionSettings()
    if preprocess is not None or nyul_landmarks is not None:
        settings.preprocess = _steps(settings, preprocess, nyul_landmarks)
    pairs = list(overrides)
    if not pairs:
        return settings
    chosen = settings.to_params()
    for key, value in pairs:
        section, dot, name = key.partition(".")
        if not dot or section not in OVERRIDE_SECTIONS:
            section, name = "setting", key
        chosen[section] = dict(chosen.get(section) or {})
        chosen[section][name] = value
    return ExtractionSettings.from_params(chosen)


def _steps(
    settings: ExtractionSettings,
    names: Sequence[str] | None,
    nyul_landmarks: str | Path | None,
) -> dict[str, dict[str, Any]]:
    """The preprocessing steps ``names`` (the chosen settings' when None) with each step's
    options from the chosen settings, and Nyul's landmarks from ``nyul_landmarks``."""
    chosen = list(settings.preprocess) if names is None else list(names)
    steps = {name: dict(settings.preprocess.get(name) or {}) for name in chosen}
    if nyul_landmarks is not None:
        if "nyul" not in steps:
            raise SettingsError(
                f"Nyul landmarks {nyul_landmarks} given, but the preprocessing has no nyul step "
                f"(steps: {', '.join(steps) or 'none'})"
            )
        # the file's percentiles, scale and landmarks; the step's within stays (and must match)
        steps["nyul"] = with_landmarks(steps["nyul"], nyul_landmarks)
    return steps
