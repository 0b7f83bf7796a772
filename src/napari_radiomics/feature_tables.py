"""Features tables on disk: recognised from their header, read with an error naming the file.

A features table is a batch or export of this plugin (CSV or Parquet) or pyradiomics' own
batch CSV (``Image``, ``Mask``, ``diagnostics_*``, then the features): one row per case and ROI
label, feature columns named the pyradiomics way. napari offers every ``.csv`` to every reader
that claims the suffix, so the viewer's reader asks :func:`looks_like_features_table` (the
header only, a few milliseconds whatever the file's size) before claiming one; the command line
checks a file with :func:`check_features_header` before it starts napari.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from napari_radiomics.errors import ReadError
from napari_radiomics.results import csv_header, parse_feature_name, read_results

#: File suffixes a features table may have (lower case).
TABLE_SUFFIXES = (".csv", ".parquet")
#: The problem with a table that names no feature (said alike for a file and a DataFrame).
NO_FEATURES = (
    "has no feature columns (pyradiomics names them <image type>_<class>_<feature>, "
    "e.g. original_firstorder_Mean)"
)


def table_header(path: str | Path, *, lenient: bool = False) -> list[str]:
    """The column names of a CSV or Parquet file, without reading its rows.

    ``lenient`` reads a CSV header that is not UTF-8 with replacement characters instead of
    raising: enough to recognise a features table saved in another encoding, so that it is
    claimed and then refused by name rather than left to a reader that cannot say why.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ReadError(path, f"not a features table: expected {' or '.join(TABLE_SUFFIXES)}")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        # One line: this runs on the GUI thread for a dropped file.
        header = csv_header(path, errors="replace" if lenient else "strict")
        if not header:
            raise ReadError(path, "is empty: no header line")
        return header
    except ReadError:
        raise
    except ImportError:
        raise ReadError(path, "reading Parquet needs pyarrow (pip install pyarrow)") from None
    except FileNotFoundError:
        raise ReadError(path, "no such file") from None
    except (OSError, ValueError, csv.Error) as exc:  # pyarrow: ValueErrors; bad text: csv.Error
        raise ReadError(path, f"cannot be read as {suffix[1:].upper()}: {exc}") from None


def check_features_header(path: str | Path, *, lenient: bool = False) -> list[str]:
    """The header of a features table; raises :class:`ReadError` naming the file when it
    cannot be read or names no feature (only the header is read; ``lenient``: see
    :func:`table_header`)."""
    header = table_header(path, lenient=lenient)
    if not any(parse_feature_name(name) is not None for name in header):
        raise ReadError(path, NO_FEATURES)
    return header


def looks_like_features_table(path: str | Path) -> bool:
    """True when ``path`` is a CSV/Parquet file whose header names at least one feature (in
    whatever encoding: reading one that is not UTF-8 then says so, naming the file)."""
    try:
        check_features_header(path, lenient=True)
    except ReadError:
        return False
    return True


def read_features_table(path: str | Path) -> pd.DataFrame:
    """Read a features table (identifying columns as text, provenance in ``attrs``).

    Raises :class:`ReadError` naming the file when it cannot be read (not UTF-8, say) or
    holds no feature. A sidecar that cannot be read is named in ``attrs["problems"]``.
    """
    path = Path(path)
    check_features_header(path)
    try:
        return read_results(path)
    except (OSError, ValueError) as exc:  # a body that does not parse, a bad sidecar
        raise ReadError(path, f"cannot be read: {exc}") from None
