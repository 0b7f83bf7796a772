"""The preprocessing a run asks for: steps by name with their options, checked, applied in
order, and written into a params file as comments pyradiomics ignores.

A run's preprocessing is a mapping ``{step: {option: value}}`` (``{"n4": {}, "zscore": {}}``:
N4 with its defaults, then a z-score within the head). The steps always run in one order, N4
first (it needs the raw, positive intensities and is multiplicative), then at most one
standardisation (``zscore`` or ``nyul``), because a second one would undo the first.

pyradiomics refuses any key its schema does not know, so a ``*.params.yaml`` cannot hold the
preprocessing as data. It holds it as a comment block instead: lines starting with ``#%``,
which are YAML comments to pyradiomics and a YAML document (``preprocess: ...``) to
napari-radiomics. The file stays runnable by pyradiomics (which then runs without the
preprocessing, as a comment line above the block says).
"""

from __future__ import annotations

import collections
import copy
import itertools
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
import yaml

from napari_radiomics._yaml import load_yaml
from napari_radiomics.errors import PreprocessError, SettingsError
from napari_radiomics.preprocess._n4 import N4_DEFAULTS, head_mask, n4_correct
from napari_radiomics.preprocess._standardize import (
    NYUL_PERCENTILES,
    WITHIN,
    NyulStandardizer,
    zscore,
)

__all__ = [
    "STEP_OPTIONS",
    "PreprocessedImage",
    "apply_steps",
    "check_steps",
    "learn_nyul",
    "steps_comment",
    "steps_in_comments",
    "with_landmarks",
]

#: Every step, in the order steps run, with its options and their defaults. ``within``: the
#: pixels the statistics or landmarks come from, ``head`` (the Otsu head mask) or ``image``.
STEP_OPTIONS: dict[str, dict[str, Any]] = {
    "n4": N4_DEFAULTS,
    "zscore": {"within": "head", "scale": 1.0},
    "nyul": {
        "within": "head",
        "percentiles": [float(p) for p in NYUL_PERCENTILES],
        "scale": [0.0, 100.0],
        "landmarks": None,
    },
}
_STANDARDISATIONS = ("zscore", "nyul")
#: The comment prefix of the block in a params file.
BLOCK_PREFIX = "#%"


def check_steps(steps: Mapping[str, Any], *, fitted: bool = True) -> dict[str, dict[str, Any]]:
    """``steps`` checked (names, options, their types) and copied in running order; raises
    SettingsError naming the step and option. ``fitted=False`` while the ``nyul`` step's
    landmarks are being learned (:func:`learn_nyul`): it has none yet."""
    if not isinstance(steps, Mapping):
        raise SettingsError(f"preprocess must map step names to options, got {steps!r}")
    unknown = set(steps) - set(STEP_OPTIONS)
    if unknown:
        raise SettingsError(
            f"preprocess step(s) {sorted(unknown)} not known; allowed: {list(STEP_OPTIONS)}"
        )
    chosen = [name for name in _STANDARDISATIONS if name in steps]
    if len(chosen) > 1:
        raise SettingsError(
            f"preprocess: choose one standardisation, not {' and '.join(chosen)} (the second "
            "would undo the first)"
        )
    out: dict[str, dict[str, Any]] = {}
    for name, defaults in STEP_OPTIONS.items():
        if name not in steps:
            continue
        options = steps[name] if steps[name] is not None else {}
        if not isinstance(options, Mapping):
            raise SettingsError(
                f"preprocess {name}: expected options as a mapping, got {options!r}"
            )
        for key, value in options.items():
            if key not in defaults:
                raise SettingsError(
                    f"preprocess {name}: option {key!r} not known; allowed: {sorted(defaults)}"
                )
            _check_value(name, key, value, defaults[key])
        out[name] = copy.deepcopy(dict(options))
    if "nyul" in out and fitted:
        _nyul(out["nyul"])  # landmarks present and consistent
    return out


def _check_value(step: str, key: str, value: Any, default: Any) -> None:
    """A value of the default's kind: a positive number, a list of them, one of ``WITHIN``."""
    where = f"preprocess {step}: {key}"
    if key == "within":
        if value not in WITHIN:
            raise SettingsError(f"{where} must be one of {list(WITHIN)}, got {value!r}")
        return
    if key == "landmarks":
        return  # checked with the percentiles, by the standardiser
    items = value if isinstance(default, list) else [value]
    if not isinstance(items, list) or not items:
        raise SettingsError(f"{where} must be a list of numbers, got {value!r}")
    whole = isinstance(default[0] if isinstance(default, list) else default, int)
    for item in items:
        is_number = isinstance(item, int | float) and not isinstance(item, bool)
        if not is_number or (whole and not float(item).is_integer()):
            kind = "whole number" if whole else "number"
            kind = f"{kind}s" if isinstance(default, list) else f"a {kind}"
            raise SettingsError(f"{where} must be {kind}, got {value!r}")
        if key not in ("scale", "percentiles") and item <= 0:
            raise SettingsError(f"{where} must be positive, got {value!r}")


def _nyul(options: Mapping[str, Any]) -> NyulStandardizer:
    """The standardiser of a ``nyul`` step; SettingsError when it has no usable landmarks."""
    defaults = STEP_OPTIONS["nyul"]
    data = {key: options.get(key, defaults[key]) for key in ("percentiles", "scale", "landmarks")}
    if data["landmarks"] is None:
        raise SettingsError(
            "preprocess nyul: no landmarks; learn them on training cases "
            "(napari-radiomics landmarks TRAINING... -o FILE) and give the file "
            "(--nyul-landmarks FILE)"
        )
    try:
        return NyulStandardizer.from_dict(data, "preprocess nyul")
    except PreprocessError as err:
        raise SettingsError(str(err)) from None


def apply_steps(image: sitk.Image, steps: Mapping[str, Mapping[str, Any]]) -> sitk.Image:
    """``image`` after every step of ``steps`` (checked with :func:`check_steps`), in order;
    the image itself when there is none."""
    steps = check_steps(steps)
    out = image
    if "n4" in steps:
        out = _finite("n4", out, _before_standardisation(out, steps))
    for name in _STANDARDISATIONS:
        if name not in steps:
            continue
        options = STEP_OPTIONS[name] | steps[name]
        mask = _within(out, options)
        if name == "zscore":
            result = zscore(out, mask, float(options["scale"]))
        else:
            result = _nyul(steps[name]).transform(out, mask)
        out = _finite(name, out, result)
    return out


def learn_nyul(images: Iterable[sitk.Image], steps: Mapping[str, Any]) -> NyulStandardizer:
    """The landmarks of the ``nyul`` step of ``steps`` learned on ``images`` (training cases),
    each image first put through the steps before it (N4) and measured within the same mask,
    exactly as :func:`apply_steps` will transform it; the step's own landmarks, if any, are
    ignored. ``images`` is read one at a time (a generator keeps memory flat)."""
    if "nyul" not in steps:
        raise SettingsError(
            "preprocess: no nyul step to learn landmarks for "
            f"(steps: {', '.join(steps) or 'none'})"
        )
    unfitted = {
        **steps,
        "nyul": {k: v for k, v in (steps["nyul"] or {}).items() if k != "landmarks"},
    }
    steps = check_steps(unfitted, fitted=False)
    options = STEP_OPTIONS["nyul"] | steps["nyul"]
    try:
        standardizer = NyulStandardizer(
            options["percentiles"], options["scale"], within=options["within"]
        )
    except PreprocessError as err:
        raise SettingsError(f"preprocess nyul: {err}") from None
    # One prepared image feeds both the fit's image and its mask; tee keeps one at a time.
    prepared, measured = itertools.tee(_before_standardisation(image, steps) for image in images)
    return standardizer.fit(prepared, (_within(image, options) for image in measured))


def with_landmarks(options: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """The ``nyul`` step's ``options`` with the percentiles, scale and landmarks of the
    landmarks file ``path`` (``NyulStandardizer.save``; ReadError naming it if unreadable).

    The step's ``within`` stays, and must be the file's: SettingsError naming the file if the
    landmarks were learned within other pixels. A file that does not record it (written before
    it was, or fitted by hand) is taken to have been learned within the step's pixels.
    """
    landmarks = NyulStandardizer.load(path)
    within = options.get("within", STEP_OPTIONS["nyul"]["within"])
    if landmarks.within is not None and landmarks.within != within:
        raise SettingsError(
            f"Nyul landmarks {path}: learned within {_PIXELS[landmarks.within]} (within: "
            f"{landmarks.within}), but the nyul step standardises within {_PIXELS[within]} "
            f"(within: {within}); learn them again with the step's within, or set the "
            f"step's within to {landmarks.within}"
        )
    data = landmarks.to_dict()
    data.pop("within", None)
    return {**options, **data}


#: How a message names each ``within``.
_PIXELS = {"head": "the head mask", "image": "the whole image"}


def _before_standardisation(image: sitk.Image, steps: Mapping[str, Any]) -> sitk.Image:
    """``image`` after the steps that come before any standardisation (N4)."""
    return n4_correct(image, **steps["n4"]) if "n4" in steps else image


def _within(image: sitk.Image, options: Mapping[str, Any]) -> sitk.Image | None:
    """The mask a standardisation takes its statistics from: the head, or None (all pixels)."""
    return head_mask(image) if options["within"] == "head" else None


def _finite(step: str, before: sitk.Image, after: sitk.Image) -> sitk.Image:
    """``after``, unless ``step`` made a finite pixel of ``before`` NaN or infinite: such a
    pixel would otherwise reach pyradiomics, which fails on it with an unhelpful message
    (``arange: cannot compute length``) or leaves it out of the ROI silently."""
    made = ~np.isfinite(sitk.GetArrayViewFromImage(after)) & np.isfinite(
        sitk.GetArrayViewFromImage(before)
    )
    if made.any():
        raise PreprocessError(
            f"preprocess {step} made {int(made.sum())} pixel(s) NaN or infinite; the image "
            "cannot be preprocessed this way"
        )
    return after


def steps_comment(steps: Mapping[str, Any]) -> str:
    """The comment block that carries ``steps`` in a params file (empty for no steps)."""
    if not steps:
        return ""
    document = yaml.safe_dump(
        {"preprocess": check_steps(steps)}, sort_keys=False, default_flow_style=None
    )
    lines = [f"{BLOCK_PREFIX} {line}" for line in document.splitlines()]
    return (
        "# napari-radiomics preprocesses the image before pyradiomics as the #% lines say\n"
        "# (pyradiomics reads them as comments and runs without that preprocessing).\n"
        + "\n".join(lines)
        + "\n"
    )


def steps_in_comments(text: str) -> dict[str, dict[str, Any]] | None:
    """The steps a params file's ``#%`` block holds, or None without a block."""
    lines = [
        line.strip()[len(BLOCK_PREFIX) :]
        for line in text.splitlines()
        if line.strip().startswith(BLOCK_PREFIX)
    ]
    if not lines:
        return None
    try:
        document = load_yaml("\n".join(line[1:] if line[:1] == " " else line for line in lines))
    except yaml.YAMLError as err:
        problem = f"the {BLOCK_PREFIX} preprocessing block is not valid YAML: {err}"
        raise SettingsError(problem) from None
    if not isinstance(document, dict) or set(document) != {"preprocess"}:
        raise SettingsError(
            f"the {BLOCK_PREFIX} block must hold one key, preprocess, got {document!r}"
        )
    return check_steps(document["preprocess"] or {})


class PreprocessedImage:
    """The last images' preprocessing, kept while the image and the steps stay the same.

    N4 costs seconds per slice and depends on the image alone (its mask is the Otsu head
    mask, not the ROI), so an engine keeps one of these: re-extracting after a mask edit, or
    with other pyradiomics settings, reuses the corrected image. Engines may share one (the
    Extract dock keeps an engine per settings, so a new bin width is a new engine): ``size``
    images are kept, the least recently used dropped first, and one preprocessing runs at a
    time, so two engines asking for the same image correct it once. ``runs`` counts the times
    the steps really ran (what tests and benchmarks read to see the reuse).
    """

    def __init__(self, size: int = 1) -> None:
        self.size = size
        self._kept: collections.OrderedDict[tuple[Any, str], sitk.Image] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self.runs = 0

    def get(self, image: sitk.Image, steps: Mapping[str, Any], image_key: Any) -> sitk.Image:
        """``image`` after ``steps``; ``image_key`` identifies the image's pixels and grid."""
        if not steps:
            return image
        key = (image_key, json.dumps(steps, sort_keys=True))
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                kept = apply_steps(image, steps)  # a failure keeps nothing
                self.runs += 1
                self._kept[key] = kept
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return kept

    def clear(self) -> None:
        """Forget the kept images."""
        with self._lock:
            self._kept.clear()
