"""Feature results as tables people read and files they can load back.

The engine returns one tidy DataFrame per extraction (one row per ROI label, identifying columns,
then pyradiomics feature columns, settings in ``attrs["provenance"]``). People comparing a run
before and after a mask correction want the transpose, features as rows and one column per run
and ROI label (:mod:`napari_radiomics.side_by_side`, built on this module's :class:`Run`). This
module names the columns, reads tables back, and writes the runs to CSV/Parquet with a YAML
sidecar holding every run's settings, so nothing that produced a number is lost on export. It
is pandas only (no napari, no Qt) so the batch runner and scripts can use it too.
"""

from __future__ import annotations

import copy
import csv
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics._pyradiomics import feature_class_names
from napari_radiomics._spreadsheet import escape_cell, escape_frame, unescape_cell, unescape_frame
from napari_radiomics.columns import IDENTIFYING_COLUMNS, INTEGER_COLUMNS, ROI_LABEL
from napari_radiomics.errors import ReadError, WriteError


@functools.cache
def _feature_name_pattern() -> re.Pattern[str]:
    """pyradiomics names every feature "<imageType>_<featureClass>_<feature>"; image type
    names (original, log-sigma-1-0-mm-3D, wavelet-LLH, lbp-2D, ...) hold no underscore, and
    the feature classes are pyradiomics' own."""
    classes = "|".join(sorted(feature_class_names(), key=len, reverse=True))
    return re.compile(
        rf"^(?P<image_type>[A-Za-z0-9.\-]+)_(?P<feature_class>{classes})_(?P<feature>\w+)$"
    )


#: Column of the tidy tables naming the run a row came from.
RUN_COLUMN = "run"
#: Column holding the ROI label value a row was computed for.
ROI_COLUMN = ROI_LABEL


#: What :func:`export_results` writes, by the name's suffix.
EXPORT_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class FeatureName:
    """The three parts of a pyradiomics feature name, for filtering by class or image type."""

    image_type: str
    feature_class: str
    feature: str


def parse_feature_name(name: str) -> FeatureName | None:
    """Split ``original_glcm_Contrast`` into its parts; ``None`` for non-feature columns."""
    return _parse_feature_name(str(name))


@functools.lru_cache(maxsize=2**16)
def _parse_feature_name(name: str) -> FeatureName | None:
    """:func:`parse_feature_name`, kept per name: a 1500-feature table's names are parsed
    by each of its readers (feature and identifying columns, the runs side by side, the
    plots' and model's docks), 15 ms a time, on the GUI thread when a dock shows the table.
    A name always parses alike, and a :class:`FeatureName` is frozen, so it is shared."""
    match = _feature_name_pattern().match(name)
    if match is None:
        return None
    return FeatureName(**match.groupdict())


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The pyradiomics feature columns of a result frame, in their order."""
    return [c for c in df.columns if parse_feature_name(c) is not None]


def identifying_columns(df: pd.DataFrame) -> list[str]:
    """Columns that say what a row is: :data:`IDENTIFYING_COLUMNS` in their order, whatever
    the table's (every table and dock shows them alike), then its other columns that are not
    features (a batch CSV's own, ``path``, ``slice``, ...)."""
    features = set(feature_columns(df))
    others = [
        c
        for c in df.columns
        if c not in features and c != RUN_COLUMN and not str(c).startswith("diagnostics_")
    ]
    known = [c for c in IDENTIFYING_COLUMNS if c in others]
    return known + [c for c in others if c not in known]


@dataclass
class Run:
    """One extraction shown in the results: a name and the engine's DataFrame (attrs kept)."""

    name: str
    frame: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame) -> Run:
        """Keep the frame's provenance next to it, and the frame without ``attrs``.

        pandas deep-copies ``attrs`` into every column or row it hands out, so a frame that
        carries its provenance is slow to iterate (napari's features table iterates columns).
        """
        plain = frame.copy(deep=False)
        plain.attrs = {}
        return cls(name, plain, copy.deepcopy(dict(frame.attrs.get("provenance") or {})))

    @cached_property
    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The frame's float columns as one float block and its other columns as one object
        block, with their positions: a row of the frame is then two fancy indexes. Kept as
        floats: a 3064-case batch as Python objects was 4.6 million of them and a second."""
        kinds = [getattr(dtype, "kind", "O") for dtype in self.frame.dtypes]
        floats = np.flatnonzero(np.array(kinds) == "f")
        others = np.flatnonzero(np.array(kinds) != "f")
        return (
            floats,
            self.frame.iloc[:, floats].to_numpy(dtype=float, na_value=np.nan),
            others,
            self.frame.iloc[:, others].to_numpy(dtype=object),
        )

    def row_values(self, row: int) -> np.ndarray:
        """Row ``row`` (a position) of the frame as Python objects, in its column order."""
        floats, float_block, others, other_block = self._blocks
        values = np.empty(len(self.frame.columns), dtype=object)
        values[floats] = float_block[row]
        values[others] = other_block[row]
        return values

    @cached_property
    def rows(self) -> tuple[list[str], list[str]]:
        """The frame's identifying and feature columns (the wide table's rows), parsed once."""
        return identifying_columns(self.frame), feature_columns(self.frame)


def tidy_results(runs: Sequence[Run]) -> pd.DataFrame:
    """All runs stacked, one row per (run, case, ROI label), ``run`` as the first column."""
    frames = []
    for run in runs:
        frame = run.frame.copy()
        frame.insert(0, RUN_COLUMN, run.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[RUN_COLUMN])
    return pd.concat(frames, ignore_index=True, sort=False)


def sidecar_path(path: str | Path) -> Path:
    """Where the provenance of an exported results file goes: ``<name>.runs.yaml`` beside it.

    Not ``.params.yaml``: that name always means one pyradiomics params file, and an export
    holds several runs, each with its own params and versions.
    """
    path = Path(path)
    stem = path.name
    for suffix in (".csv", ".parquet"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return path.with_name(f"{stem}.runs.yaml")


def export_results(runs: Sequence[Run], path: str | Path) -> tuple[Path, Path]:
    """Write the runs to ``path`` (CSV, or Parquet for ``*.parquet``) and their provenance.

    The table is tidy (see :func:`tidy_results`), so :func:`read_table` gives it back; a CSV
    is written safe for spreadsheets (see ``napari_radiomics._spreadsheet``). Each
    run's provenance goes to ``<name>.runs.yaml`` under ``runs: {<run name>: ...}``; its
    ``params`` entry is the run's params dict: pyradiomics' sections, plus ``preprocess`` when
    the image was preprocessed first (``settings.params_to_yaml`` turns it into a params file
    pyradiomics runs). Each file is written whole or not at all, so a full disk never leaves
    half a table where an earlier export was. Returns the two paths written.
    """
    if not runs:
        raise ValueError(f"{path}: there are no results to export")
    path = Path(path)
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        # A CSV under any other name (``features.xlsx``, a typo) opened as garbage, or not
        # at all, in the program that name promised.
        raise WriteError(path, "the name must end in .csv or .parquet, which decides the format")
    table = tidy_results(runs)
    with replaced(path) as tmp:
        if path.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            escape_frame(table).to_csv(tmp, index=False)
    sidecar = sidecar_path(path)
    document = {
        "results": path.name,
        "runs": {run.name: _plain(run.provenance) for run in runs},
    }
    with replaced(sidecar) as tmp:
        tmp.write_text(
            yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    return path, sidecar


def read_table(path: str | Path) -> pd.DataFrame:
    """A results table (this plugin's CSV or Parquet) with identifying columns as text.

    Feature and ``diagnostics_*`` columns keep pandas' types, :data:`INTEGER_COLUMNS` stay
    numbers, and every other column (case, patient id, tumour type, a batch CSV's own
    columns) is read as text: ``017`` must not come back as 17. Text cells of a CSV lose the
    ``'`` the writers put in front of formula-like text, so ids come back exactly. A file that
    is empty, not UTF-8 or not the format its suffix says raises :class:`ReadError` naming it.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ReadError(path, f"cannot be read as Parquet: {exc}") from None
    head = csv_header(path)
    if not head:
        raise ReadError(path, "is empty: no header line")
    text = {
        escape_cell(c): str  # read_csv sees the names as written
        for c in head
        if c not in INTEGER_COLUMNS
        and not str(c).startswith("diagnostics_")
        and parse_feature_name(c) is None
    }
    try:
        table = pd.read_csv(path, dtype=text)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except pd.errors.ParserError as exc:
        raise ReadError(path, f"cannot be read as CSV: {exc}") from None
    return unescape_frame(table)


def csv_header(path: str | Path, *, errors: str = "strict") -> list[str]:
    """The column names of a CSV file, from its first line only (``[]`` for an empty file).

    ``pd.read_csv(nrows=0)`` parses far ahead: 0.2 s on a 3064 x 1500 table, holding the
    GIL, which froze napari's event loop while a worker thread read the table. ``errors``
    is the decoding's: ``"replace"`` recognises a table that is not UTF-8 by its header, to
    report it by name rather than leave it to another reader.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig", errors=errors) as file:
            header = next(csv.reader(file), [])
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    return [unescape_cell(name) for name in header]


def not_utf8(path: str | Path, exc: UnicodeDecodeError) -> ReadError:
    """The error for a text file that is not UTF-8 (Latin-1 from an old spreadsheet, say),
    naming the file and what to do: every CSV this plugin reads and writes is UTF-8."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return ReadError(
        path,
        f"cannot be read as CSV: it is not UTF-8 text (byte 0x{byte}); save it as UTF-8 "
        "(a spreadsheet's \"CSV UTF-8\", or pandas' to_csv(..., encoding='utf-8')) and open "
        "it again",
    )


def read_results(path: str | Path) -> pd.DataFrame:
    """Read an exported results file back, with its runs' provenance in ``attrs["runs"]``.

    A sidecar that cannot be read does not cost the table: the table is read without
    provenance and ``attrs["problems"]`` says which file was skipped and why.
    """
    table = read_table(path)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        try:
            document = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or not isinstance(document.get("runs"), dict):
                raise ValueError("it has no 'runs' mapping")
            table.attrs["runs"] = document["runs"]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
            problem = str(exc).replace("\n", " ")
            table.attrs["problems"] = [
                f"{sidecar}: cannot be read ({problem}); the table is shown without its "
                "runs' settings"
            ]
    return table


def layer_features(frame: pd.DataFrame) -> pd.DataFrame:
    """A run as a napari labels layer ``features`` table: one row per ROI label.

    napari and other plugins look up rows by the ``label`` column (the label value painted in
    the layer; napari's status bar uses ``index``), so both hold the ROI label. The reader's
    metadata key ``label`` is the tumour class (1/2/3), which would clash: it becomes
    ``tumor_class``.
    """
    out = frame.reset_index(drop=True).copy()
    out.attrs = {}  # see Run.from_frame: attrs make every column access deep-copy them
    if "label" in out.columns:
        out = out.rename(columns={"label": "tumor_class"})
    roi = out.pop(ROI_COLUMN) if ROI_COLUMN in out.columns else pd.Series(range(1, len(out) + 1))
    out.insert(0, "label", np.asarray(roi, dtype=np.int64))
    out.insert(0, "index", np.asarray(roi, dtype=np.int64))
    return out


def format_settings(provenance: Mapping[str, Any], max_lines: int = 40) -> str:
    """A run's provenance as short readable YAML (for tooltips); long lists are cut."""
    if not provenance:
        return "no settings recorded"
    lines = yaml.safe_dump(_plain(provenance), sort_keys=False).splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... ({len(lines) - max_lines} more lines)"]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """Provenance as plain YAML types (numpy scalars, tuples and paths become lists/str)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
