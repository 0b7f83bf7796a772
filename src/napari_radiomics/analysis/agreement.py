"""How far the corrections moved the features: the ICC between original and corrected masks.

The perturbation ICC asks whether a feature survives a border drawn a little differently; a
reviewed dataset also has real second opinions, the corrections. Each corrected case is
measured twice, on its original mask and on its corrected one, with one engine (the image-side
work done once), and the two masks are the two "raters" of the same ICC forms. A feature whose
agreement stays high did not depend on the corrections; one whose agreement is low did, and
results on the uncorrected masks would not have reproduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from napari_radiomics._atomic import replaced
from napari_radiomics._spreadsheet import escape_frame
from napari_radiomics.analysis.icc import IccForm, icc_table
from napari_radiomics.batch import Case, load_case
from napari_radiomics.columns import CASE, MASK_SOURCE, PATIENT_ID, ROI_LABEL
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.results import feature_columns
from napari_radiomics.settings import ExtractionSettings

__all__ = ["RATER_COLUMN", "correction_agreement", "write_agreement"]

#: The rater column of the long table: "original" or "corrected" (the batch's mask_source).
RATER_COLUMN = MASK_SOURCE


def correction_agreement(
    cases: Sequence[Case],
    settings: ExtractionSettings,
    *,
    form: IccForm = "1,1",
    threshold: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long table, ICC table) over the cases that have a correction (``Case.corrected``).

    The long table has one row per corrected case, ROI label and mask (``mask_source``), the
    ICC table one row per feature, as :func:`~napari_radiomics.analysis.icc.icc_table` gives
    it. Raises ValueError when fewer than two cases are corrected: an ICC needs two.
    """
    corrected = [c for c in cases if c.corrected is not None]
    if len(corrected) < 2:
        raise ValueError(
            f"an original-vs-corrected ICC needs at least 2 corrected cases; {len(corrected)} "
            f"of the {len(cases)} cases have a correction"
        )
    engine = FeatureEngine(settings)
    frames = []
    for case in corrected:
        image, mask, metadata = load_case(case)
        original = load_case(replace(case, corrected=None))[1]
        labels = None if case.roi_label is None else [case.roi_label]
        for source, which in (("original", original), ("corrected", mask)):
            ids = {
                CASE: case.case_id,
                PATIENT_ID: metadata[PATIENT_ID],
                RATER_COLUMN: source,
            }
            frames.append(engine.extract(image, which, labels=labels, metadata=ids))
    long = pd.concat(frames, ignore_index=True)
    keyed = long.assign(case=long[CASE].astype(str) + ":" + long[ROI_LABEL].astype(str))
    table = icc_table(
        keyed, feature_columns(long), case="case", rater=RATER_COLUMN, form=form,
        threshold=threshold,
    )  # fmt: skip
    return long, table


def write_agreement(output: str | Path, long: pd.DataFrame, table: pd.DataFrame) -> list[Path]:
    """Beside a robustness ``output`` (``rob.csv``): ``rob.corrections.csv`` (the ICC table)
    and ``rob.corrections.long.csv`` (the extractions it is computed from)."""
    output = Path(output)
    paths = [output.with_suffix(".corrections.csv"), output.with_suffix(".corrections.long.csv")]
    for path, frame in zip(paths, (table, long), strict=True):
        with replaced(path) as tmp:
            escape_frame(frame).to_csv(tmp, index=False)
    return paths
