"""One rule that keeps the CSV files this project writes safe to open in a spreadsheet.

Ids come from data the user did not write (a patient id inside a ``.mat`` file, a case name, a
reviewer's note), and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (OWASP "CSV injection"; tab and carriage return are listed too, as some programs
strip them and then see the formula). So every CSV this project writes follows one rule:

    A text cell (header names included) that starts with ``=``, ``+``, ``-``, ``@``, a tab, a
    carriage return, or ``'`` is written with one more ``'`` in front.

A spreadsheet shows such a cell as the text it is, and the project's own readers remove
exactly one leading ``'`` from every text cell, so every id comes back exactly (``=1+1``,
``-5``, ``'quoted`` and ``017`` alike). Escaping the quote itself is what makes the rule
reversible. Numbers are never text cells: a negative feature value stays a number. Parquet
files are not for spreadsheets and hold the values unchanged.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: What makes a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The character put in front; a text cell starting with it is escaped too (reversibility).
QUOTE = "'"
_ESCAPED_STARTS = (*FORMULA_STARTS, QUOTE)

__all__ = ["FORMULA_STARTS", "escape_cell", "escape_frame", "unescape_cell", "unescape_frame"]


def escape_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that a spreadsheet would run gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_ESCAPED_STARTS):
        return QUOTE + value
    return value


def unescape_cell(value: Any) -> Any:
    """The text a cell written by :func:`escape_cell` stood for (one leading ``'`` less)."""
    if isinstance(value, str) and value.startswith(QUOTE):
        return value[1:]
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` ready for ``to_csv``: text cells and column names escaped.

    Only columns that can hold text (object or string dtype) are looked at, so numeric
    feature columns are passed through untouched and a 1500-column table costs nothing.
    """
    out = frame.copy(deep=False)
    out.columns = [escape_cell(c) for c in out.columns]
    for position, dtype in enumerate(out.dtypes):
        if _may_hold_text(dtype):
            out.isetitem(position, out.iloc[:, position].map(escape_cell))
    return out


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as read from a CSV file written under the rule, with its text restored
    (changed in place and returned; column names too)."""
    frame.columns = [unescape_cell(c) for c in frame.columns]
    for position, dtype in enumerate(frame.dtypes):
        if _may_hold_text(dtype):
            column = frame.iloc[:, position]
            quoted = column.map(lambda v: isinstance(v, str) and v.startswith(QUOTE)).astype(bool)
            if quoted.any():
                frame.isetitem(position, column.where(~quoted, column.str.slice(1)))
    return frame


def _may_hold_text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)
