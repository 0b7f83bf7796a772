"""The identity of a case, typed: what every reader returns and every table writer reads.

A case is known by its id, its patient, the dataset's tumour class (code and name) and the file
it came from. Each reader used to build that as a dict by hand, with its own idea of an unknown
patient or tumour type; :class:`CaseMetadata` is the one shape, its defaults those of
:mod:`napari_radiomics.columns`. napari keeps layer metadata as a dict: :meth:`as_dict` makes
it and :meth:`from_mapping` reads it (or a table row) back.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from napari_radiomics.columns import CASE, CASE_COLUMNS, LABEL, PATH, PATIENT_ID, TUMOR_TYPE
from napari_radiomics.columns import UNKNOWN_TEXT as _UNKNOWN

if TYPE_CHECKING:  # pandas only for the readers' tables: one NRRD read or map run needs none
    import pandas as pd

__all__ = ["TUMOR_TYPES", "CaseMetadata", "cases_table", "tumor_type_of"]

#: The dataset's tumour classes by label code.
TUMOR_TYPES: dict[int, str] = {1: "meningioma", 2: "glioma", 3: "pituitary tumor"}


def tumor_type_of(label: int | None) -> str:
    """The tumour class of a label code; unknown text for no code or one the dataset lacks."""
    return TUMOR_TYPES.get(label, _UNKNOWN) if label is not None else _UNKNOWN


@dataclass(frozen=True)
class CaseMetadata:
    """One case's identity. ``label`` is the dataset's class code (None: not a dataset case);
    ``tumor_type`` follows from it unless given; ``path`` is the file read (text, as napari
    stores it on a layer)."""

    case: str
    patient_id: str = _UNKNOWN
    label: int | None = None
    tumor_type: str = _UNKNOWN
    path: str = _UNKNOWN

    def __post_init__(self) -> None:
        if self.label is not None and not self.tumor_type:
            object.__setattr__(self, "tumor_type", tumor_type_of(self.label))

    def columns(self) -> dict[str, Any]:
        """The identifying columns of a results row, in results order (no path)."""
        return {
            CASE: self.case,
            PATIENT_ID: self.patient_id,
            LABEL: self.label,
            TUMOR_TYPE: self.tumor_type,
        }

    def as_dict(self) -> dict[str, Any]:
        """A new dict for ``layer.metadata`` and reader tables: the columns, then the path."""
        return {**self.columns(), PATH: self.path}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CaseMetadata:
        """Read back what :meth:`as_dict` made (a layer's metadata, a table row, a batch
        row): a missing or empty cell is the unknown value, ids are text."""
        known = {k: values.get(k) for k in (*CASE_COLUMNS, PATH)}
        label = known[LABEL]
        return cls(
            case=_text(known[CASE]),
            patient_id=_text(known[PATIENT_ID]),
            label=None if _missing(label) else int(label),
            tumor_type=_text(known[TUMOR_TYPE]),
            path=_text(known[PATH]),
        )


def cases_table(cases: Iterable[CaseMetadata]) -> pd.DataFrame:
    """One row per case with :meth:`CaseMetadata.as_dict`'s columns (``label`` a nullable
    integer), the readers' per-slice table."""
    import pandas as pd

    rows = [case.as_dict() for case in cases]
    table = pd.DataFrame(rows, columns=[*CASE_COLUMNS, PATH])
    return table.astype({LABEL: "Int64"})


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (which only exists once something has imported pandas)."""
    pandas = sys.modules.get("pandas")
    return (
        value is None
        or (pandas is not None and value is pandas.NA)
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: Any) -> str:
    return _UNKNOWN if _missing(value) else str(value)
