"""pyradiomics' feature classes with the work they all repeat on one image crop done once.

``RadiomicsFeatureExtractor.computeFeatures`` builds every feature class (firstorder, glcm,
glrlm, glszm, gldm, ngtdm) on the same image crop, mask and settings, and each one
discretises the crop again (``_applyBinning``: ``binImage`` plus the grey levels present) and
lists its feature names again (``getFeatureNames``: ``inspect.getmembers`` of the class).
Both results depend only on those inputs, so computing them once gives the same numbers as
pyradiomics; on a brain-tumour slice the repeats were about a third of the feature classes'
time.

``feature_class(cls)`` is ``cls`` with both shared: the grey levels within a
``shared_binning()`` block (outside one it bins as pyradiomics does), the feature names for
the process. A class reuses a binning only when its settings, grey values and mask are equal
to those it was computed from, and gets its own copy of it (the texture classes write into
their binned image).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Binned:
    """One discretisation: what it was computed from, and what ``_applyBinning`` left."""

    settings: dict[str, Any]
    matrix: np.ndarray
    mask: np.ndarray
    binned: np.ndarray
    gray_levels: np.ndarray
    ng: int

    def matches(self, settings: dict[str, Any], matrix: np.ndarray, mask: np.ndarray) -> bool:
        return (
            self.settings == settings
            and self.matrix.dtype == matrix.dtype
            and np.array_equal(self.matrix, matrix)
            and np.array_equal(self.mask, mask)
        )


_BINNED: ContextVar[list[_Binned] | None] = ContextVar("napari_radiomics_binned", default=None)


@contextmanager
def shared_binning() -> Iterator[None]:
    """Feature classes built by :func:`feature_class` inside this block share their binning."""
    token = _BINNED.set([])
    try:
        yield
    finally:
        _BINNED.reset(token)


@functools.cache
def feature_class(cls: type) -> type:
    """``cls`` (a pyradiomics feature class) sharing its binning and feature names."""
    original = cls._applyBinning  # type: ignore[attr-defined]
    names = functools.cache(cls.getFeatureNames)  # type: ignore[attr-defined]

    def _applyBinning(self: Any, matrix: np.ndarray) -> np.ndarray:
        memo = _BINNED.get()
        if memo is None:
            return original(self, matrix)
        for entry in memo:
            if entry.matches(self.settings, matrix, self.maskArray):
                self.coefficients["grayLevels"] = entry.gray_levels.copy()
                self.coefficients["Ng"] = entry.ng
                return entry.binned.copy()
        binned = original(self, matrix)
        kept = binned.copy()  # this class may write into its own
        levels = self.coefficients["grayLevels"].copy()
        ng = self.coefficients["Ng"]
        mask = self.maskArray.copy()
        memo.append(_Binned(dict(self.settings), matrix.copy(), mask, kept, levels, ng))
        return binned

    def getFeatureNames(cls_: type) -> dict[str, bool]:
        return dict(names())

    namespace = {
        "__module__": cls.__module__,  # pyradiomics names its logger after the module
        "__doc__": cls.__doc__,
        "_applyBinning": _applyBinning,
        "getFeatureNames": classmethod(getFeatureNames),
    }
    return type(cls.__name__, (cls,), namespace)
