"""Read a clinic export (CSV, Excel .xlsx or Parquet) into a DuckDB temp table of text columns.

Nothing here judges a value: every cell arrives as VARCHAR under the contract's column name, with the row number a
person would see when opening the file (the header is row 1; for Parquet, the record number). Rows the CSV parser
cannot split into the header's columns are returned as malformed rows, so that nothing read is ever lost.
Whole-file problems (empty, binary, unknown encoding, no recognisable header, missing required columns) raise
``InputError`` with one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import datetime as dt
import hashlib
import io
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines import contract
from pipelines.contract import Table
from pipelines.errors import UserError
from pipelines.sqltext import ident


class InputError(UserError):
    """A whole file cannot be used. The message names the file and says what to fix."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


@dataclass
class MalformedRow:
    row_number: int
    reason: str
    raw_line: str


@dataclass
class Source:
    """One readable unit of input (a CSV or Parquet file, or one sheet of a workbook)."""

    path: Path
    sheet: str | None
    table: Table
    relation: str  # name of the DuckDB temp table holding `_row` and the contract's columns as VARCHAR
    rows_read: int
    sha256: str
    file_bytes: int
    source_format: str
    encoding: str = ""
    delimiter: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    malformed: list[MalformedRow] = field(default_factory=list)
    # relation column (`extra__<position>`) -> the file's own (normalised) header of a column the contract does not
    # know; the header is data, never a column name in SQL
    extra_columns: dict[str, str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.path.name} [{self.sheet}]" if self.sheet else self.path.name


# --------------------------------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------------------------------


def normalise_header(name: object) -> str:
    text = "" if name is None else str(name)
    text = text.replace("\ufeff", "").strip().lower()
    text = re.sub(r"[\s\-./]+", "_", text)
    return text.strip("_")


def read_column_map(path: Path | None) -> dict[str, str]:
    """A clinic's mapping file: CSV with columns `source_column,column` (their header -> ours)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the column mapping file ({exc})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"source_column", "column"} <= set(rows[0]):
        raise InputError(path, "a column mapping file needs the header `source_column,column`")
    known = {c for t in contract.TABLES for c in t.column_names}
    mapping: dict[str, str] = {}
    for i, row in enumerate(rows, start=2):
        target = normalise_header(row["column"])
        if target not in known:
            raise InputError(path, f"row {i}: `{row['column']}` is not a column of the data contract")
        mapping[normalise_header(row["source_column"])] = target
    return mapping


def resolve_columns(path: Path, header: list[object], column_map: dict[str, str]) -> list[str]:
    """Normalise and map header names; refuse empty or duplicated names."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header, start=1):
        name = normalise_header(raw)
        if not name:
            name = f"unnamed_column_{i}"
        name = column_map.get(name, name)
        if name in seen:
            raise InputError(
                path,
                f"column `{name}` appears twice in the header (columns {seen[name]} and {i}); "
                "remove or rename one of them",
            )
        seen[name] = i
        names.append(name)
    return names


def choose_table(path: Path, columns: list[str], table_name: str | None) -> Table:
    if table_name:
        try:
            return contract.TABLES_BY_NAME[table_name]
        except KeyError:
            raise InputError(path, f"unknown table `{table_name}`; use one of "
                             + ", ".join(contract.TABLES_BY_NAME)) from None
    table = contract.table_for_header(columns)
    if table is None:
        raise InputError(
            path,
            "the header does not look like any known export (found columns: "
            + ", ".join(columns[:12])
            + "). Expected e.g. treatment_id + treated_on (treatments), follow_up_id (follow_ups), "
            "clinician + profession (clinicians) or valid_from + cost_per_unit_nok (product_prices); "
            "map your own headers with --map FILE, or name the table with --table",
        )
    return table


# Contract columns a mapping preset fills after reading (indication and areas from a service name), so a file need
# not have them (pipelines/ingest/presets.py); set for one read_sources call.
_PROVIDED_COLUMNS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("provided", default=frozenset())


def check_required(path: Path, table: Table, columns: list[str]) -> None:
    missing = [c for c in table.required_columns if c not in columns and c not in _PROVIDED_COLUMNS.get()]
    if missing:
        raise InputError(
            path,
            f"missing required column(s) {', '.join(missing)} for table {table.name} "
            f"(found: {', '.join(columns)}); add them, or map your own header names with --map FILE",
        )


# --------------------------------------------------------------------------------------------------------------
# Bytes and text
# --------------------------------------------------------------------------------------------------------------

_MOJIBAKE = re.compile("[\u00c3\u00c2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2013-\u2122]")


def sniff_format(path: Path, head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(path, "this is an old Excel .xls workbook; save it as .xlsx or CSV and load again")
    return "csv"


def _is_utf8(data: bytes) -> UnicodeDecodeError | None:
    """Validate UTF-8 in chunks (no copy of a large file as a Python string); the error if it is not."""
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    for start in range(0, len(data), step):
        try:
            decoder.decode(data[start:start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return UnicodeDecodeError(exc.encoding, data, start + exc.start, start + exc.end, exc.reason)
    return None


def decode_csv(path: Path, data: bytes) -> tuple[bytes, str]:
    """CSV bytes as UTF-8 without BOM, from UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252."""
    head = data[:65536]
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf") and (len(data) <= len(head) or not data.strip()):
        raise InputError(path, "the file is empty; export the data again")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError:
            raise InputError(path, "the file starts like UTF-16 but is not valid UTF-16; export it again "
                             "as UTF-8 CSV") from None
    if b"\x00" in head:
        raise InputError(path, "this is not a text file (it contains binary data); export the data as CSV, "
                         "Excel .xlsx or Parquet")
    if data.startswith(b"\xef\xbb\xbf"):
        body = data[3:]
        error = _is_utf8(body)
        if error:
            raise _mixed_encoding(path, body, error)
        return body, "utf-8-sig"
    error = _is_utf8(data)
    if error is None:
        return data, "utf-8"
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(path, "unknown text encoding (neither UTF-8 nor Windows-1252); save the file as "
                         "CSV UTF-8 and load again") from None
    if _MOJIBAKE.search(text):
        raise _mixed_encoding(path, data, error)
    return text.encode("utf-8"), "cp1252"


def _mixed_encoding(path: Path, data: bytes, exc: UnicodeDecodeError) -> InputError:
    line = data.count(b"\n", 0, exc.start) + 1
    return InputError(path, f"mixed text encodings: most of the file is UTF-8 but line {line} is not; "
                      "save the whole file again as CSV UTF-8")


def sniff_delimiter(path: Path, header_line: str) -> str:
    if "\r" in header_line:  # csv.reader would raise on it: lines that end with a carriage return alone
        raise InputError(path, "the lines end with a carriage return only (old Mac format); save the file again "
                         "as CSV UTF-8 (Windows or Unix line endings) and load again")
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in (";", ",", "\t")}
    delimiter, fields = max(counts.items(), key=lambda kv: kv[1])
    if fields < 2:
        raise InputError(
            path,
            "could not split the header into columns; separate columns with comma or semicolon "
            f"(header starts: {header_line[:60]!r})",
        )
    return delimiter


# --------------------------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------------------------


def read_sources(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    column_map: dict[str, str] | None = None,
    table_name: str | None = None,
    relation_prefix: str = "src",
    provided_columns: frozenset[str] = frozenset(),
) -> list[Source]:
    """Read one file into temp table(s). Returns one Source per recognised table (a workbook may hold several).
    `provided_columns`: required columns a preset fills after reading, which the file need not have."""
    token = _PROVIDED_COLUMNS.set(frozenset(provided_columns))
    try:
        return _read_sources(con, path, column_map, table_name, relation_prefix)
    finally:
        _PROVIDED_COLUMNS.reset(token)


def _read_sources(con, path, column_map, table_name, relation_prefix) -> list[Source]:
    path = Path(path)
    column_map = column_map or {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
    sha = hashlib.sha256(data).hexdigest()
    fmt = sniff_format(path, data[:8])
    if fmt == "xlsx":
        return _read_xlsx(con, path, data, sha, column_map, table_name, relation_prefix)
    if fmt == "parquet":
        return [_read_parquet(con, path, len(data), sha, column_map, table_name, relation_prefix)]
    return [_read_csv(con, path, data, sha, column_map, table_name, relation_prefix)]


def _project(
    con: duckdb.DuckDBPyConnection, raw: str, relation: str, names: list[str], table: Table
) -> tuple[list[str], dict[str, str]]:
    """Create the view `relation` with `_row` and one VARCHAR column per contract column (absent optional ones NULL).

    `raw` holds the file's columns under positional names (`c0`, `c1`, ...). Columns the contract does not know are
    kept too, as `extra__<position>`, so the privacy guard can scan them; they are never stored. No header text
    becomes SQL: contract names are the project's constants, the rest are positions. Returns the ignored headers
    and the map from their relation column to the header.
    """
    select = ["_row"]
    for c in table.column_names:
        source = ident(f"c{names.index(c)}") if c in names else "NULL"
        select.append(f"CAST({source} AS VARCHAR) AS {ident(c)}")
    extras = {f"extra__{i}": n for i, n in enumerate(names) if n not in table.column_names}
    for column in extras:
        select.append(f"CAST({ident('c' + column.removeprefix('extra__'))} AS VARCHAR) AS {ident(column)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(relation)} AS SELECT {', '.join(select)} FROM {ident(raw)}"
                ).fetchall()
    return list(extras.values()), extras


def _read_csv(con, path: Path, data: bytes, sha: str, column_map, table_name, prefix) -> Source:
    csv_bytes, encoding = decode_csv(path, data)
    newline = csv_bytes.find(b"\n", 0, 1 << 20)
    first_line = csv_bytes[: newline if newline >= 0 else 1 << 20].decode("utf-8", errors="replace").rstrip("\r")
    delimiter = sniff_delimiter(path, first_line)
    header = next(csv.reader([first_line], delimiter=delimiter))
    names = resolve_columns(path, header, column_map)
    table = choose_table(path, names, table_name)
    check_required(path, table, names)

    raw = f"{prefix}_raw"
    malformed: list[MalformedRow]
    with tempfile.TemporaryDirectory(prefix="clinic-read-") as tmp:
        csv_path = Path(tmp) / "input.csv"  # a name DuckDB cannot read as a glob pattern (see _literal_path)
        if encoding == "utf-8":
            try:
                csv_path.symlink_to(path.resolve())
            except OSError:
                csv_path.write_bytes(csv_bytes)
        else:
            csv_path.write_bytes(csv_bytes)
        try:
            rows, malformed = _duckdb_csv(con, csv_path, csv_bytes, delimiter, len(names), raw)
        except _NeedsSlowPath:
            try:
                rows, malformed = _python_csv(con, csv_bytes.decode("utf-8"), delimiter, len(names), raw)
            except _Unreadable as exc:
                raise InputError(path, str(exc)) from None
        except duckdb.Error as exc:
            raise InputError(path, f"cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    if rows == 0 and malformed and len(malformed) >= 1:
        raise InputError(
            path,
            f"no data row has the header's {len(names)} columns (e.g. row {malformed[0].row_number}); "
            "check the separator (comma or semicolon) and quoting",
        )
    relation = f"{prefix}_rows"
    ignored, extras = _project(con, raw, relation, names, table)
    return Source(path, None, table, relation, rows + len(malformed), sha, len(data), "csv", encoding,
                  "tab" if delimiter == "\t" else delimiter, ignored, malformed, extras)


class _NeedsSlowPath(Exception):
    pass


class _Unreadable(Exception):
    """The slow path cannot split the rest of the file into rows: the file is refused as a whole (nothing lost)."""


_REJECT_MESSAGES = {
    "MISSING COLUMNS": "the row has fewer fields than the header",
    "TOO MANY COLUMNS": "the row has more fields than the header",
    "UNQUOTED VALUE": "a quote character inside an unquoted field",
    "LINE SIZE OVER MAXIMUM": "the row is too long",
    "INVALID ENCODING": "invalid characters for the text encoding",
    "INVALID UNICODE": "invalid characters for the text encoding",
}


def _duckdb_csv(con, csv_path: Path, csv_bytes: bytes, delimiter: str, n_cols: int, raw: str):
    """Fast path: DuckDB's CSV reader, rows numbered by mapping records onto physical lines."""
    arr = np.frombuffer(csv_bytes, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    cr = arr[newlines[newlines > 0] - 1] == 13
    if cr.any() and not cr.all():
        raise _NeedsSlowPath()  # DuckDB's strict reader fails on mixed \n / \r\n line endings
    if b'"' in csv_bytes:
        quotes = np.flatnonzero(arr == 34)
        per_line = np.diff(np.concatenate(([0], np.searchsorted(quotes, newlines), [len(quotes)])))
        if np.any(per_line % 2):
            raise _NeedsSlowPath()  # a quoted field spans lines: physical lines are not records
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_cols)) + "}"
    con.execute("DROP TABLE IF EXISTS clinic_reject_errors")
    con.execute("DROP TABLE IF EXISTS clinic_reject_scans")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {raw}_scan AS
        SELECT * FROM read_csv(?, delim = ?, quote = '"', escape = '"', header = true, auto_detect = false,
                               columns = {columns}, store_rejects = true, ignore_errors = true,
                               rejects_scan = 'clinic_reject_scans', rejects_table = 'clinic_reject_errors',
                               null_padding = false, strict_mode = true, encoding = 'utf-8')""",
        [str(csv_path), delimiter],
    )
    rejects = con.execute(
        """SELECT line, list(error_type ORDER BY error_type)[1], any_value(csv_line)
           FROM clinic_reject_errors GROUP BY line ORDER BY line"""
    ).fetchall()
    n_valid = con.execute(f"SELECT count(*) FROM {raw}_scan").fetchall()[0][0]
    reject_lines = np.array([r[0] for r in rejects], dtype=np.int64)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(arr)]))
    if len(arr) and arr[-1] == 10:
        starts, ends = starts[:-1], ends[:-1]
    content = ends - starts
    has_cr = np.zeros(len(ends), dtype=bool)
    nonempty = content > 0
    has_cr[nonempty] = arr[ends[nonempty] - 1] == 13
    content = content - has_cr
    line_no = np.arange(1, len(starts) + 1, dtype=np.int64)
    keep = (content > 0) & (line_no > 1) & ~np.isin(line_no, reject_lines)
    candidates = line_no[keep]
    if len(candidates) != n_valid:
        con.execute(f"DROP TABLE IF EXISTS {raw}_scan").fetchall()
        raise _NeedsSlowPath()
    # Row number = record position + an offset that only changes after a blank line or a malformed row: a few
    # (first record, offset) steps number a million rows without copying them.
    offsets = candidates - np.arange(len(candidates), dtype=np.int64)
    starts = np.flatnonzero(np.diff(offsets, prepend=offsets[0] - 1)) if len(offsets) else np.zeros(0, np.int64)
    if len(starts) <= 64:  # the usual case: a handful of steps, as a CASE over the record position
        whens = " ".join(f"WHEN rid >= {int(a)} THEN {int(offsets[a])}" for a in starts[::-1])
        offset_sql = f"(CASE {whens} END)" if len(starts) else "0"
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {raw} AS
                SELECT CAST(rid + {offset_sql} AS INTEGER) AS _row, * EXCLUDE (rid)
                FROM (SELECT rowid - (SELECT min(rowid) FROM {raw}_scan) AS rid, * FROM {raw}_scan)"""
        ).fetchall()
    else:
        steps = pa.table({"first_rid": pa.array(starts, pa.int64()), "offset": pa.array(offsets[starts], pa.int64())})
        con.register(f"{raw}_steps_arrow", steps)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw}_steps AS SELECT * FROM {raw}_steps_arrow").fetchall()
        con.unregister(f"{raw}_steps_arrow")
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {raw} AS
                SELECT CAST(s.rid + st."offset" AS INTEGER) AS _row, s.* EXCLUDE (rid)
                FROM (SELECT rowid - (SELECT min(rowid) FROM {raw}_scan) AS rid, * FROM {raw}_scan) s
                ASOF JOIN {raw}_steps st ON s.rid >= st.first_rid"""
        ).fetchall()
    malformed = [
        MalformedRow(int(line), _REJECT_MESSAGES.get(kind, kind.lower()), (csv_line or "").strip("\r\n")[:500])
        for line, kind, csv_line in rejects
    ]
    return n_valid, malformed


def _python_csv(con, text: str, delimiter: str, n_cols: int, raw: str):
    """Slow path for files DuckDB's reader cannot number (quoted line breaks): Python's csv module."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # a long note must not end the file (default 128 KB)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    last_line = text.count("\n") + (not text.endswith("\n"))
    columns: list[list[str | None]] = [[] for _ in range(n_cols)]
    rows: list[int] = []
    malformed: list[MalformedRow] = []
    start_line = 1
    first = True
    try:
        for record in reader:
            line = start_line
            start_line = reader.line_num + 1
            if first:
                first = False
                continue
            if not record or all(not f.strip() for f in record) and len(record) <= 1:
                continue
            if len(record) != n_cols:
                runs_to_the_end = reader.line_num > line and reader.line_num >= last_line
                if runs_to_the_end and _ends_inside_quotes(text, line, delimiter):
                    raise _Unreadable(f"a quote opened on line {line} is never closed, so the rest of the file "
                                      "cannot be split into rows; correct the quoting and load again")
                why = "the row has fewer fields than the header" if len(record) < n_cols else \
                    "the row has more fields than the header"
                malformed.append(MalformedRow(line, why, delimiter.join(record)[:500]))
                continue
            rows.append(line)
            for i, value in enumerate(record):
                columns[i].append(value if value != "" else None)
    except csv.Error as exc:  # the rows from here on cannot be numbered or kept: refuse the file, lose nothing
        raise _Unreadable(f"cannot be read as CSV from line {start_line} on ({exc}); export the file again") from None
    arrow = pa.table({"_row": pa.array(rows, pa.int32()),
                      **{f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(columns)}})
    con.register(f"{raw}_arrow", arrow)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM {raw}_arrow")
    con.unregister(f"{raw}_arrow")
    return len(rows), malformed


def _ends_inside_quotes(text: str, line: int, delimiter: str) -> bool:
    """Whether the record starting on `line` runs to the end of the file inside a quoted field (an unclosed quote)."""
    tail = text.split("\n", line - 1)[-1]
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _cell_text(value: object) -> str | None:
    """An Excel cell as the text a person sees (integral numbers without `.0`, dates as ISO)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    text = str(value)
    return text if text.strip() else None


def _read_xlsx(con, path: Path, data: bytes, sha: str, column_map, table_name, prefix) -> list[Source]:
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [(name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
                  for name in workbook.sheet_names]
    except Exception as exc:  # calamine raises its own error types for damaged workbooks
        raise InputError(path, f"cannot be read as an Excel workbook ({str(exc)[:120]}); save it again as "
                         ".xlsx or CSV") from None
    sources: list[Source] = []
    unrecognised: list[str] = []
    for index, (sheet, rows) in enumerate(sheets):
        rows = [r for r in rows]
        if not rows or all(_cell_text(v) is None for v in rows[0]):
            continue
        header = list(rows[0])
        while header and _cell_text(header[-1]) is None:
            header.pop()
        names = resolve_columns(path, header, column_map)
        try:
            table = choose_table(path, names, table_name)
        except InputError:
            unrecognised.append(sheet)
            continue
        check_required(path, table, names)
        n = len(names)
        numbers: list[int] = []
        columns: list[list[str | None]] = [[] for _ in range(n)]
        malformed: list[MalformedRow] = []
        for i, row in enumerate(rows[1:], start=2):
            cells = [_cell_text(v) for v in row]
            if all(c is None for c in cells):
                continue
            if any(c is not None for c in cells[n:]):
                malformed.append(MalformedRow(i, "the row has values beyond the header's last column",
                                              "\t".join(c or "" for c in cells)[:500]))
                continue
            cells = (cells + [None] * n)[:n]
            numbers.append(i)
            for j, c in enumerate(cells):
                columns[j].append(c)
        raw = f"{prefix}_{index}_raw"
        arrow = pa.table({"_row": pa.array(numbers, pa.int32()),
                          **{f"c{j}": pa.array(col, pa.string()) for j, col in enumerate(columns)}})
        con.register(f"{raw}_arrow", arrow)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM {raw}_arrow")
        con.unregister(f"{raw}_arrow")
        relation = f"{prefix}_{index}_rows"
        ignored, extras = _project(con, raw, relation, names, table)
        sources.append(Source(path, sheet, table, relation, len(numbers) + len(malformed), sha, len(data),
                              "xlsx", "", "", ignored, malformed, extras))
    if not sources:
        detail = f" (sheets: {', '.join(unrecognised)})" if unrecognised else " (all sheets are empty)"
        raise InputError(path, "no sheet has a recognisable header" + detail
                         + "; the first row of a sheet must hold the column names")
    return sources


def _read_parquet(con, path: Path, size: int, sha: str, column_map, table_name, prefix) -> Source:
    raw = f"{prefix}_raw"
    with _literal_path(path) as literal_path:
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(raw + '_pq')} AS SELECT * FROM read_parquet(?)",
                        [str(literal_path)]).fetchall()
        except duckdb.Error as exc:
            raise InputError(path, f"cannot be read as Parquet ({str(exc).splitlines()[0][:160]})") from None
    header = [r[0] for r in con.execute(f"DESCRIBE {ident(raw + '_pq')}").fetchall()]
    names = resolve_columns(path, header, column_map)
    table = choose_table(path, names, table_name)
    check_required(path, table, names)
    # columns by position (#1, #2, ...): the file's column names never become SQL text
    select = ", ".join(f"CAST(#{i + 1} AS VARCHAR) AS {ident(f'c{i}')}" for i in range(len(header)))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {ident(raw)} AS
                    SELECT (rowid - (SELECT min(rowid) FROM {ident(raw + '_pq')}) + 1)::INTEGER AS _row, *
                    FROM (SELECT rowid, {select} FROM {ident(raw + '_pq')})""").fetchall()
    con.execute(f"DROP TABLE {ident(raw + '_pq')}").fetchall()
    rows = con.execute(f"SELECT count(*) FROM {ident(raw)}").fetchall()[0][0]
    relation = f"{prefix}_rows"
    ignored, extras = _project(con, raw, relation, names, table)
    return Source(path, None, table, relation, rows, sha, size, "parquet", "", "", ignored, [], extras)


@contextlib.contextmanager
def _literal_path(path: Path):
    """A path DuckDB reads as it is: its readers expand glob patterns (`beh [kopi].csv` would read `beh k.csv`), so
    a file is handed to them through a link in a fresh temporary folder whose name holds no pattern."""
    with tempfile.TemporaryDirectory(prefix="clinic-read-") as tmp:
        link = Path(tmp) / ("input" + "".join(c for c in path.suffix if c.isalnum() or c == "."))
        try:
            link.symlink_to(Path(path).resolve())
        except OSError:
            shutil.copyfile(path, link)
        yield link


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["InputError", "MalformedRow", "Source", "read_sources", "read_column_map", "normalise_header",
           "file_sha256", "os"]
