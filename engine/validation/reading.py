"""Reading a table a user gives us (a manifest, a feature table, new patients, an uploaded predictions table).

Files are parsed as data only: CSV (delimiter and decimal mark sniffed), XLSX and, for feature tables, Parquet. A
file that is binary, not UTF-8 text, empty or unparseable is refused by name with the fix; nothing else reaches the
user as a parser's traceback. Column names are stripped of spaces; a name given twice is refused (pandas would
silently rename the second ``x.1``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from engine.errors import ValidationError

MAX_TABLE_BYTES = 50 * 1024 * 1024
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xls")
ZIP_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip archive
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an old .xls workbook
PARQUET_MAGIC = b"PAR1"


def read_table_file(path: str | Path, *, what: str = "table", parquet: bool = False) -> pd.DataFrame:
    """The table in the file at ``path`` (``what`` names it in messages: "manifest", "feature table", ...)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(
            f"{what} must be an existing CSV or XLSX file; got {str(path)!r}, which "
            f"{'is a folder' if path.is_dir() else 'does not exist'}. Check the path in the config or the command."
        )
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES and path.suffix.lower() != ".parquet":
        raise ValidationError(
            f"{what} {path.name} is {size / 2**20:.0f} MB; a table must be at most {MAX_TABLE_BYTES // 2**20} MB as "
            "CSV or XLSX. Save a feature table this large as Parquet."
        )
    return read_table_bytes(path.read_bytes(), path.name, what=what, parquet=parquet)


def read_table_bytes(data: bytes, filename: str, *, what: str = "table", parquet: bool = False) -> pd.DataFrame:
    """The table in ``data``, a file called ``filename``: CSV/TSV (sniffed), XLSX/XLS, Parquet when ``parquet``."""
    table, _ = read_table_described(data, filename, what=what, parquet=parquet)
    return table


def read_table_described(
    data: bytes, filename: str, *, what: str = "table", parquet: bool = False
) -> tuple[pd.DataFrame, str]:
    """(table, how it was read, e.g. "delimiter ';' and decimal mark ','") for ``read_table_bytes``."""
    suffix = Path(filename).suffix.lower()
    kinds = "CSV or XLSX" + (" or Parquet" if parquet else "")
    if not data.strip():
        raise ValidationError(f"{what} {filename} is empty; export the table again ({kinds}, a header row first).")
    if suffix in TEXT_SUFFIXES and data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        raise ValidationError(
            f"{what} {filename} is an Excel workbook saved under a {suffix} name; rename it to .xlsx or save it "
            "from Excel as 'CSV UTF-8'."
        )
    try:
        if suffix in TEXT_SUFFIXES:
            text = _text(data, filename, what)
            try:
                table, how = read_csv_sniffed(text)
            except ValidationError as error:
                raise ValidationError(f"{what} {filename}: {error}") from None
        elif suffix in EXCEL_SUFFIXES:
            if not data.startswith((ZIP_MAGIC, OLE_MAGIC)):
                raise ValidationError(
                    f"{what} {filename} is not an Excel workbook (it does not start as one); save it from Excel as "
                    ".xlsx, or as 'CSV UTF-8' with a .csv name."
                )
            table, how = pd.read_excel(io.BytesIO(data)), "as a workbook (first sheet)"
        elif parquet and suffix == ".parquet":
            if not data.startswith(PARQUET_MAGIC):
                raise ValidationError(f"{what} {filename} is not a Parquet file; write it with pandas.to_parquet.")
            table, how = pd.read_parquet(io.BytesIO(data)), "as Parquet"
        else:
            raise ValidationError(f"{what} must be a {kinds} file; got {filename!r}. Save the table as CSV (UTF-8).")
    except ValidationError:
        raise
    except Exception as error:  # noqa: BLE001 - any parser failure becomes one message naming the file
        raise ValidationError(
            f"{what} {filename} could not be read as a table ({type(error).__name__}: {str(error)[:200]}); save it "
            f"as {kinds} with one header row and one row per patient."
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    repeated = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if suffix in TEXT_SUFFIXES and not repeated:
        repeated = _repeated_header(table)
    if repeated:
        raise ValidationError(
            f"{what} {filename}: the columns {repeated} appear more than once; give every column its own name."
        )
    if table.shape[1] == 0 or table.shape[0] == 0:
        raise ValidationError(f"{what} {filename} has no rows below its header; export the table with its data.")
    return table, how


def _text(data: bytes, filename: str, what: str) -> str:
    """UTF-8 (with or without a byte-order mark) or UTF-16 with its mark; anything else is refused by name."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError(
            f"{what} {filename} is a binary file, not a text table; export the table as CSV (UTF-8) or XLSX."
        )
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValidationError(
            f"{what} {filename} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}, e.g. an accented "
            "letter saved by an older Excel); save it from Excel as 'CSV UTF-8', or as XLSX."
        ) from None


def read_csv_sniffed(text: str) -> tuple[pd.DataFrame, str]:
    """A CSV read with its own delimiter (comma, semicolon, tab or pipe, sniffed from the first lines) and decimal
    mark (a comma when the delimiter is not one and numbers are written 0,73, as European Excel exports do);
    returns the table and what was found, e.g. "delimiter ';' and decimal mark ','"."""
    sample = "\n".join(text[: 1 << 20].splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    decimal = "," if delimiter != "," and re.search(r"(^|[^\d])\d+,\d+([^\d]|$)", sample) else "."
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, decimal=decimal)
    except pd.errors.ParserError:
        frame = None  # a later row longer than the first ones
    if frame is None or not isinstance(frame.index, pd.RangeIndex):  # else pandas made the first values row labels
        raise ValidationError(
            f"row {_first_long_row(text, delimiter)} has more values than the header has column names (delimiter "
            f"{delimiter!r}); name every column in the header, or quote values that hold the delimiter."
        )
    return frame, f"delimiter {delimiter!r} and decimal mark {decimal!r}"


def _first_long_row(text: str, delimiter: str) -> int:
    """The file row (the header is row 1) of the first record with more fields than the header."""
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    width = len(next(rows, []))
    for number, row in enumerate(rows, start=2):
        if len(row) > width:
            return number
    return 2


def _repeated_header(table: pd.DataFrame) -> list[str]:
    """Names repeated in a CSV's header (pandas renames the second ``x`` to ``x.1``)."""
    mangled = [c for c in table.columns if re.fullmatch(r".+\.\d+", c) and c.rsplit(".", 1)[0] in table.columns]
    return sorted({c.rsplit(".", 1)[0] for c in mangled})
