"""The privacy guard: a file that carries direct identifiers is refused as a whole, before anything is stored.

Checks every column of a read file (also columns the contract does not know, which are never stored):
- header names that name a direct identifier (name, address, e-mail, phone, national id, birth date);
- values that look like a Norwegian national identity number (fødselsnummer or D-number: 11 digits whose two
  check digits are valid), an e-mail address, or a Norwegian phone number.
The refusal names the file, the first row and the column, never the value itself.

Where it looks: every value of the free-text columns (ids, codes, text, and columns the contract does not know) is
scanned in SQL before validation. A typed column (date, number, yes/no, enumeration, areas) cannot hold an
identifier once its value has passed validation, so only its values in *rejected* rows, the ones that would be
stored as they were read, are checked (`guard_rejected`, in Python, after validation and before anything is
written). Lines the CSV reader could not split are checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.ingest.read import InputError, Source
from pipelines.sqltext import ident, literal


class PrivacyError(InputError):
    pass


# Check digits of a fødselsnummer: k1 over digits 1-9, k2 over digits 1-10 (Skatteetaten's algorithm).
_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# What validation trims from a value before storing it: the guard looks at values as they will be stored.
WHITESPACE = " \t\r\n\u00a0\u202f"
# Digits with at most one separator between them (`01 01 90 100 46`, `010190.10046`, `010190-10046`).
_SEPARATORS = " .\t\u00a0\u202f-"
_DIGIT_RUN = re.compile(f"[0-9](?:[{_SEPARATORS}]?[0-9])*")
# SQL pre-filter: at least ten such digits somewhere in the value. Only the few values it lets through are checked
# in Python (`national_id_in`); it is a superset of what `national_id_in` finds (tested).
NATIONAL_ID_CANDIDATE_SQL = (
    "(length({v}) >= 10 AND regexp_matches({v}, '[0-9]([ .\t\u00a0\u202f-]?[0-9]){{9}}'))"
)


def looks_like_fnr(digits: str) -> bool:
    """11 digits with valid check digits and a plausible day and month (D-numbers: day + 40)."""
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    day, month = d[0] * 10 + d[1], d[2] * 10 + d[3]
    if not (1 <= day % 40 <= 31 and 1 <= month % 40 <= 12):
        return False
    k1 = (11 - sum(w * x for w, x in zip(_K1, d)) % 11) % 11
    k2 = (11 - sum(w * x for w, x in zip(_K2, d)) % 11) % 11
    return k1 == d[9] and k2 == d[10]


def national_id_in(value: str) -> bool:
    """Whether a national identity number hides anywhere in `value`: any 11 consecutive digits (separated by at
    most one space, dot or hyphen) with valid check digits, inside a longer value too (`P01019010046`,
    `001019010046`), or exactly 10 digits that are one with the leading zero a spreadsheet number lost (people born
    on days 1-9)."""
    for match in _DIGIT_RUN.finditer(value):
        digits = re.sub(r"[^0-9]", "", match.group())
        if len(digits) == 10 and looks_like_fnr("0" + digits):
            return True
        if any(looks_like_fnr(digits[i:i + 11]) for i in range(len(digits) - 10)):
            return True
    return False


EMAIL_SQL = "(contains({v}, '@') AND regexp_matches({v}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{{2,}}'))"
# +47 / 0047 prefix, or the usual spaced groupings (912 34 567, 91 23 45 67); plain 8 digits only in free columns.
# `{v}` is the value as it will be stored (trimmed).
PHONE_FORMATTED_SQL = (
    "(length({v}) BETWEEN 8 AND 20 AND (regexp_full_match({v}, '(\\+|00)47[ -]?([0-9][ -]?){{7}}[0-9]')"
    " OR regexp_full_match({v}, '[2-9][0-9]{{2}} [0-9]{{2}} [0-9]{{3}}')"
    " OR regexp_full_match({v}, '[2-9][0-9] [0-9]{{2}} [0-9]{{2}} [0-9]{{2}}')))"
)
PHONE_PLAIN_SQL = "(length({v}) = 8 AND regexp_full_match({v}, '[49][0-9]{{7}}'))"


# The same patterns in Python, for the few rejected values, unsplittable lines and names (tested against the SQL).
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_FORMATTED_RE = re.compile(r"(\+|00)47[ -]?([0-9][ -]?){7}[0-9]|[2-9][0-9]{2} [0-9]{2} [0-9]{3}"
                                 r"|[2-9][0-9] [0-9]{2} [0-9]{2} [0-9]{2}")
_PHONE_PLAIN_RE = re.compile(r"[49][0-9]{7}")

FNR = "a Norwegian national identity number (fødselsnummer)"


def identifier_kind(value: object, *, plain_phone: bool = True) -> str | None:
    """What direct identifier a value (text or number, as it will be stored) looks like, or None."""
    if value is None:
        return None
    text = _as_text(value).strip(WHITESPACE)
    if national_id_in(text):
        return FNR
    if "@" in text and _EMAIL_RE.search(text):
        return "an e-mail address"
    if 8 <= len(text) <= 20 and _PHONE_FORMATTED_RE.fullmatch(text):
        return "a phone number"
    if plain_phone and len(text) == 8 and _PHONE_PLAIN_RE.fullmatch(text):
        return "a phone number"
    return None


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def withheld_name(name: str | None) -> str | None:
    """A file or sheet name as it may be stored: itself, or a placeholder that says why when it holds an identifier
    (a file named after a patient's national id must not end up in the load log)."""
    if name is None:
        return None
    what = identifier_kind(name, plain_phone=False) or identifier_kind(Path(name).stem, plain_phone=False)
    if what is None:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    suffix = "".join(c for c in Path(name).suffix[:8] if c.isalnum() or c == ".")
    return f"(name withheld: it looks like {_short(what)}) {digest}{suffix}"


def withheld_header(header: str, position: int) -> str:
    """An ignored column's header as it may be stored in the load log: itself, or a placeholder naming its position.
    Headers arrive normalised (`01_01_90_100_46`, `kari_nordmann@klinikk_no`): both readings are checked."""
    what = identifier_kind(header.replace("_", " "), plain_phone=False) or identifier_kind(
        header.replace("_", "."), plain_phone=False)
    return header if what is None else f"(column {position}: header withheld, it looks like {_short(what)})"


def _short(what: str) -> str:
    return "a national identity number" if what == FNR else what


def _refuse_value(source: Source, row: int, column: str, what: str) -> PrivacyError:
    return PrivacyError(
        source.path,
        f"refused: row {row}, column `{column}` holds what looks like {what}. "
        "Exports must carry pseudonymous references only; remove direct identifiers and export again. "
        "Nothing from this file was stored",
    )


def _free_column(source: Source, column: str) -> bool:
    """Columns scanned in full: ids, codes, text, and columns the contract does not know."""
    col = _contract_column(source, column)
    return col is None or col.kind in ("id", "code", "text")


def guard_rejected(con: duckdb.DuckDBPyConnection, source: Source, batch_rel: str, index: int) -> None:
    """Check the typed columns of this source's rejected rows, and its unsplittable lines, before they are stored."""
    typed_columns = [c.name for c in source.table.columns if not _free_column(source, c.name)]
    rows = con.execute(
        f"SELECT _row, _raw FROM {ident(batch_rel)} WHERE _src = ? AND _raw IS NOT NULL ORDER BY _row", [index]
    ).fetchall()
    for row, raw in rows:
        values = json.loads(raw)
        for column in typed_columns:
            what = identifier_kind(values.get(column), plain_phone=True)
            if what:
                raise _refuse_value(source, row, column, what)
    for bad in source.malformed:
        line = bad.raw_line
        what = (FNR if national_id_in(line) else None) or (
            "an e-mail address" if "@" in line and _EMAIL_RE.search(line) else None)
        if what is None:
            what = next(filter(None, (identifier_kind(f.strip(WHITESPACE + '"'), plain_phone=False)
                                      for f in re.split(r"[;,\t]", line))), None)
        if what:
            raise _refuse_value(source, bad.row_number, "(unsplittable row)", what)


def identifier_header(name: str) -> bool:
    tokens = [t for t in name.split("_") if t]
    words = set(contract.IDENTIFIER_HEADER_WORDS)
    return any(t in words for t in tokens) or name.replace("_", "") in words


def guard(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Raise PrivacyError if the source carries a direct identifier; otherwise return quietly.

    Columns are the source relation's own (contract names and positional `extra__<i>`); the file's header text is
    only compared as data, never put into SQL.
    """
    for header in source.extra_columns.values():
        if identifier_header(header):
            raise PrivacyError(
                source.path,
                f"refused: column `{header}` looks like a direct identifier (name, address, e-mail, phone, national "
                "id or birth date). Remove it from the export and load again; nothing from this file was stored",
            )
    columns = [c for c in source.table.column_names if _free_column(source, c)] + list(source.extra_columns)
    if not columns:
        return
    # Each check: (column, what, SQL boolean over the value as it will be stored). Values that may hold a national
    # id are only pre-filtered in SQL and judged in Python (check digits), see `national_id_in`.
    checks: list[tuple[str, str, str]] = []
    plain_phone_columns = {"patient_ref"}
    trim = literal(WHITESPACE)
    for column in columns:
        table_column = _contract_column(source, column)
        raw = ident(column)
        v = f"trim({raw}, {trim})"
        checks.append((column, "national id candidate", NATIONAL_ID_CANDIDATE_SQL.format(v=raw)))
        checks.append((column, "an e-mail address", EMAIL_SQL.format(v=raw)))
        checks.append((column, "a phone number", PHONE_FORMATTED_SQL.format(v=v)))
        if table_column is None or table_column.kind == "text" or column in plain_phone_columns:
            checks.append((column, "a phone number", PHONE_PLAIN_SQL.format(v=v)))
    rel = ident(source.relation)
    select = ", ".join(f"min(CASE WHEN {sql} THEN _row END)" for _, _, sql in checks)
    found = con.execute(f"SELECT {select} FROM {rel}").fetchall()[0]
    hits = [(row, column, what) for (column, what, _), row in zip(checks, found)
            if row is not None and what != "national id candidate"]
    for (column, what, sql), first in zip(checks, found):
        if what != "national id candidate" or first is None:
            continue
        candidates = con.execute(
            f"SELECT _row, {ident(column)} FROM {rel} WHERE {sql} ORDER BY _row").fetchall()
        row = next((r for r, value in candidates if national_id_in(value)), None)
        if row is not None:
            hits.append((row, column, FNR))
    if hits:
        row, column, what = min(hits)
        raise _refuse_value(source, row, source.extra_columns.get(column, column), what)


def _contract_column(source: Source, column: str):
    try:
        return source.table.column(column)
    except KeyError:
        return None
