"""MRI intensity preprocessing before extraction: N4 bias-field correction, then a z-score
within the head or Nyul histogram standardisation.

A run's preprocessing is part of its ``ExtractionSettings`` (``settings.preprocess``, a mapping
``{step: {option: value}}``); the engine applies it to the image before pyradiomics' own
``normalize`` and caches the result per image, so re-extracting after a mask edit does not run
N4 again (N4's mask is the Otsu head mask, which does not depend on the ROI).

Public: :func:`n4_correct`, :func:`head_mask`, :func:`zscore`, :class:`NyulStandardizer` (fit on
training cases, transform any case, save/load its landmarks), :func:`apply_steps` (a settings'
steps in order), :func:`learn_nyul` (a ``nyul`` step's landmarks learned on training cases after
the steps before it; the file records the ``within`` they were learned with, which
:func:`with_landmarks` checks when a step takes them), :class:`PreprocessedImage` (the
engine's cache of the last result),
:func:`check_steps`, :data:`STEP_OPTIONS` (every step's options and defaults) and the
params-file comment block (:func:`steps_comment`, :func:`steps_in_comments`).
Private modules: ``_n4``, ``_standardize``, ``_steps``. SimpleITK and NumPy only.
"""

from napari_radiomics.errors import PreprocessError
from napari_radiomics.preprocess._n4 import N4_DEFAULTS, head_mask, n4_correct
from napari_radiomics.preprocess._standardize import NYUL_PERCENTILES, NyulStandardizer, zscore
from napari_radiomics.preprocess._steps import (
    STEP_OPTIONS,
    PreprocessedImage,
    apply_steps,
    check_steps,
    learn_nyul,
    steps_comment,
    steps_in_comments,
    with_landmarks,
)

__all__ = [
    "N4_DEFAULTS",
    "NYUL_PERCENTILES",
    "STEP_OPTIONS",
    "NyulStandardizer",
    "PreprocessError",
    "PreprocessedImage",
    "apply_steps",
    "check_steps",
    "head_mask",
    "learn_nyul",
    "n4_correct",
    "steps_comment",
    "steps_in_comments",
    "with_landmarks",
    "zscore",
]
