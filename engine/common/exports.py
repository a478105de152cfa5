"""Tables leaving the product (CSV/XLSX downloads, the report) made safe to open in a spreadsheet.

A text cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is read by Excel, LibreOffice
and Google Sheets as a formula: a patient id or a free-text clinical field such as ``=HYPERLINK(...)`` could run
when a colleague opens the download (CSV/formula injection, OWASP). Such cells get a leading apostrophe, which
spreadsheets show as plain text. Numbers, including negative ones, are not text and are left alone.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """The value, with a leading apostrophe when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells (and column names) cannot start a formula."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    if isinstance(out.index, pd.Index) and out.index.dtype == object:
        out.index = out.index.map(neutralise_cell)
    return out
