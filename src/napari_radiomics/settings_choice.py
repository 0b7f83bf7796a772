"""Which settings a run uses: a preset, a params file, or settings already in hand; then
overrides.

The CLI (``--preset``, ``--params``, ``--set``), the Batch dock and the Robustness dock all
choose through :func:`choose_settings`, so a bad params file or an unknown preset is refused
with the same message wherever it was chosen: the preset's name or the file's path, then the
problem (``ExtractionSettings.preset`` and ``ExtractionSettings.load`` word it).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from napari_radiomics.errors import SettingsError
from napari_radiomics.settings import ExtractionSettings

__all__ = ["OVERRIDE_SECTIONS", "choose_settings"]

#: Sections of a params dict an override ``section.key`` may target; any other key is a
#: ``setting``.
OVERRIDE_SECTIONS = ("setting", "imageType", "featureClass", "voxelSetting")


def choose_settings(
    *,
    preset: str | None = None,
    params: str | Path | None = None,
    current: ExtractionSettings | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
) -> ExtractionSettings:
    """The settings of a run: one of a ``preset`` name, a ``params`` file or ``current``
    settings (a dock's form), pyradiomics' defaults when none is given; then ``overrides``,
    ``(key, value)`` pairs where ``key`` is a setting (``binWidth``) or ``section.key``
    (``featureClass.glcm``).

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
