"""Which features reproduce the IBSI reference values: the IBSI 1 digital phantom, measured.

Reviewers ask whether radiomics features are IBSI-compliant; pyradiomics documents where it
deviates, but not which of a user's features, with their pyradiomics version, reproduce the
consensus values. :func:`ibsi_report` answers from evidence: it extracts the phantom shipped in
``ibsi_data/`` through the project's own engine (the path of every extraction), with the
settings the phantom calls for (:func:`ibsi_settings`), and compares each feature of
:data:`~napari_radiomics.analysis.ibsi_map.IBSI_FEATURES` with its reference value.

A value matches when, rounded as IBSI rounds its reference values (three significant digits,
or as many as the reference spells out, whichever is more: the reference file drops trailing
zeros, ``0.68`` is IBSI's ``0.680``), it lies within the reference's tolerance of the
reference (an exact decimal comparison, so a tolerance of 0 means the same rounded value).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from napari_radiomics._spreadsheet import escape_frame
from napari_radiomics.analysis.ibsi_map import IBSI_FEATURES
from napari_radiomics.analysis.report import write_files
from napari_radiomics.engine import extract_features
from napari_radiomics.errors import ReadError
from napari_radiomics.settings import ExtractionSettings

__all__ = [
    "COLUMNS",
    "DATA",
    "STATUSES",
    "class_counts",
    "compare",
    "ibsi_report",
    "ibsi_settings",
    "read_phantom",
    "read_reference",
    "report_markdown",
    "write_ibsi_report",
]

#: The phantom, its mask, the reference values and their credit and licence (package data).
DATA = Path(__file__).with_name("ibsi_data")
PHANTOM, MASK = DATA / "phantom.nii.gz", DATA / "mask.nii.gz"
REFERENCE = DATA / "digital_phantom_reference.csv"
#: The columns of the report, in order.
COLUMNS = ("feature", "ibsi_tag", "value", "reference", "tolerance", "status", "note")
#: What a row's ``status`` can be.
STATUSES = ("match", "deviates", "no_reference")
#: IBSI gives its reference values to three significant digits.
IBSI_DIGITS = 3
#: pyradiomics' prefix of features computed on the original image.
_IMAGE_TYPE = "original"


def ibsi_settings() -> ExtractionSettings:
    """pyradiomics' settings for the phantom: ``binWidth: 1`` keeps its integer grey levels as
    they are (no discretisation, as IBSI's phantom values assume), 3D, no resampling, and
    pyradiomics' own texture aggregation (features averaged over the directions); the feature
    classes are those the mapping covers."""
    classes = dict.fromkeys(entry.feature.split("_", 1)[0] for entry in IBSI_FEATURES)
    return ExtractionSettings(bin_width=1, feature_classes={name: [] for name in classes})


def read_phantom() -> tuple[sitk.Image, sitk.Image]:
    """The phantom and its mask as SimpleITK images (2 mm voxels, label 1 in 74 of them)."""
    images = []
    for path in (PHANTOM, MASK):
        try:
            images.append(sitk.ReadImage(str(path)))
        except RuntimeError as exc:  # a broken install: the package data is missing
            problem = f"SimpleITK cannot read it ({exc}); reinstall the package"
            raise ReadError(path, problem) from None
    return images[0], images[1]


def read_reference(path: str | Path = REFERENCE) -> pd.DataFrame:
    """The reference values as text, indexed by IBSI tag (the text keeps the digits IBSI
    gave, which decide the rounding); an empty ``reference`` means no consensus value."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ReadError(path, f"cannot be read as CSV ({exc})") from None
    missing = [c for c in ("tag", "reference", "tolerance") if c not in table.columns]
    if missing:
        raise ReadError(path, f"has no column {', '.join(map(repr, missing))}")
    return table.set_index("tag")


def _significant_digits(text: str) -> int:
    """Digits ``text`` gives (``0.0411``: 3; ``1490``: 3, a whole number's trailing zeros
    being placeholders)."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    return len(digits if "." in mantissa else digits.rstrip("0"))


def compare(value: float, reference: str, tolerance: str) -> str:
    """``match`` when ``value``, rounded as IBSI rounds (see the module docstring), is within
    ``tolerance`` of ``reference`` (both the text of the reference file); ``deviates``
    otherwise; ``no_reference`` when IBSI has no consensus value."""
    if not reference.strip():
        return "no_reference"
    if not math.isfinite(value):
        return "deviates"
    digits = max(IBSI_DIGITS, _significant_digits(reference))
    rounded = Decimal(f"{value:.{digits}g}")
    within = abs(rounded - Decimal(reference)) <= Decimal(tolerance.strip() or "0")
    return "match" if within else "deviates"


def ibsi_report(progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """One row per pyradiomics feature with an IBSI counterpart (:data:`COLUMNS`): the
    phantom's value through the project's engine, the reference and tolerance (NaN without a
    consensus value), the status and the known reason for a deviation.

    ``progress(done, total, message)`` is the engine's (an exception it raises stops the
    work). ``attrs["provenance"]`` holds the engine's params and library versions.
    """
    image, mask = read_phantom()
    features = extract_features(image, mask, ibsi_settings(), progress=progress)
    reference = read_reference()
    rows = []
    for entry in IBSI_FEATURES:
        name = f"{_IMAGE_TYPE}_{entry.feature}"
        value = float(features[name].iloc[0])
        known = reference.loc[entry.tag] if entry.tag in reference.index else None
        text = "" if known is None else known["reference"]
        tolerance = "" if known is None else known["tolerance"]
        rows.append({
            "feature": name,
            "ibsi_tag": entry.tag,
            "value": value,
            "reference": float(text) if text.strip() else math.nan,
            "tolerance": float(tolerance.strip() or 0) if text.strip() else math.nan,
            "status": compare(value, text, tolerance),
            "note": entry.note,
        })  # fmt: skip
    report = pd.DataFrame(rows, columns=list(COLUMNS))
    report.attrs["provenance"] = features.attrs.get("provenance", {})
    return report


def _feature_class(feature: str) -> str:
    """The pyradiomics class of a report row's feature (``original_glcm_Contrast``: glcm)."""
    return feature.split("_")[1]


def class_counts(report: pd.DataFrame) -> pd.DataFrame:
    """How many features of each pyradiomics class have each status (a column per status,
    a row per class in the mapping's order, and a ``total`` row)."""
    classes = report["feature"].map(_feature_class)
    counts = pd.crosstab(pd.Categorical(classes, categories=list(dict.fromkeys(classes))),
                         pd.Categorical(report["status"], categories=list(STATUSES)),
                         dropna=False)  # fmt: skip
    counts.index.name, counts.columns.name = "class", None
    counts.index = counts.index.astype(str)
    counts.columns = counts.columns.astype(str)
    counts.loc["total"] = counts.sum()
    return counts


def report_markdown(report: pd.DataFrame) -> str:
    """The report for a reader: what was measured how, the counts per class, the deviations
    with their reasons, then every row."""
    versions = report.attrs.get("provenance", {}).get("versions", {})
    counts = class_counts(report)
    total = counts.loc["total"]
    lines = [
        "# IBSI compliance of pyradiomics' features",
        "",
        "The IBSI 1 digital phantom (Image Biomarker Standardisation Initiative, CC BY 4.0), "
        "extracted by napari-radiomics' engine with pyradiomics "
        f"{versions.get('pyradiomics', '(version unknown)')}: `binWidth: 1` (the phantom's "
        "integer grey levels, undiscretised), 3D, texture features averaged over the 13 "
        "directions (IBSI's `3D_avg`; zone, dependence and neighbourhood matrices `3D`).",
        "",
        f"**{total['match']} of {len(report)}** features match the IBSI consensus value "
        "(rounded to IBSI's three significant digits, within its tolerance); "
        f"{total['deviates']} deviate, {total['no_reference']} have no consensus value.",
        "",
        "| class | " + " | ".join(STATUSES) + " |",
        "|---|" + "---:|" * len(STATUSES),
        *(f"| {name} | " + " | ".join(str(row[s]) for s in STATUSES) + " |"
          for name, row in counts.iterrows()),
    ]  # fmt: skip
    deviating = report[report["status"] == "deviates"]
    if not deviating.empty:
        lines += ["", "## Deviations", ""]
        lines += [
            f"- `{row.feature}` ({row.ibsi_tag}): {row.value:.4g}, IBSI {row.reference:g} "
            f"± {row.tolerance:g}. {row.note or 'No known reason'}."
            for row in deviating.itertuples()
        ]
    lines += ["", "## Every feature", "", "| " + " | ".join(COLUMNS) + " |", "|---" * 7 + "|"]
    lines += [
        f"| `{row.feature}` | {row.ibsi_tag} | {_number(row.value)} | {_number(row.reference)} "
        f"| {_number(row.tolerance)} | {row.status} | {row.note} |"
        for row in report.itertuples()
    ]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def write_ibsi_report(report: pd.DataFrame, folder: str | Path) -> list[Path]:
    """``folder/ibsi.csv`` (the report, safe for spreadsheets) and ``folder/ibsi.md``
    (:func:`report_markdown`); nothing else is written. Each file is replaced whole; a
    folder that is a file or cannot be written raises ``WriteError`` naming it."""
    return write_files(
        folder,
        {
            "ibsi.csv": lambda path: escape_frame(report).to_csv(
                path, index=False, lineterminator="\n"
            ),
            "ibsi.md": lambda path: path.write_text(
                report_markdown(report), encoding="utf-8", newline=""
            ),
        },
        "the IBSI report",
    )
