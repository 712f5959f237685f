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

import json
import re

import duckdb

from pipelines import contract
from pipelines.read import InputError, Source


class PrivacyError(InputError):
    pass


# Check digits of a fødselsnummer: k1 over digits 1-9, k2 over digits 1-10 (Skatteetaten's algorithm).
_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _digit(s: str, i: int) -> str:
    return f"(ascii(substr({s}, {i + 1}, 1)) - 48)"


def _check_digit_sql(s: str, weights: tuple[int, ...]) -> str:
    total = " + ".join(f"{w} * {_digit(s, i)}" for i, w in enumerate(weights))
    return f"((11 - (({total}) % 11)) % 11)"


def fnr_sql(value: str) -> str:
    """SQL boolean: `value` (spaces removed) is 11 digits with valid check digits and a plausible birth date."""
    s = f"regexp_replace({value}, '[ .-]', '', 'g')"
    day = f"({_digit(s, 0)} * 10 + {_digit(s, 1)})"
    month = f"({_digit(s, 2)} * 10 + {_digit(s, 3)})"
    k1 = _check_digit_sql(s, _K1)
    k2 = _check_digit_sql(s, _K2)
    return (
        f"(length({value}) BETWEEN 11 AND 14 AND regexp_full_match({s}, '[0-9]{{11}}') "
        f"AND ({day} % 40) BETWEEN 1 AND 31 AND ({month} % 40) BETWEEN 1 AND 12 "
        f"AND {k1} = {_digit(s, 9)} AND {k2} = {_digit(s, 10)})"
    )


EMAIL_SQL = "(contains({v}, '@') AND regexp_matches({v}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{{2,}}'))"
# +47 / 0047 prefix, or the usual spaced groupings (912 34 567, 91 23 45 67); plain 8 digits only in free columns.
PHONE_FORMATTED_SQL = (
    "(length({v}) BETWEEN 8 AND 20 AND (regexp_full_match({v}, '(\\+|00)47[ -]?([0-9][ -]?){{7}}[0-9]')"
    " OR regexp_full_match({v}, '[2-9][0-9]{{2}} [0-9]{{2}} [0-9]{{3}}')"
    " OR regexp_full_match({v}, '[2-9][0-9] [0-9]{{2}} [0-9]{{2}} [0-9]{{2}}')))"
)
PHONE_PLAIN_SQL = "(length({v}) = 8 AND regexp_full_match({v}, '[49][0-9]{{7}}'))"


# The same patterns in Python, for the few rejected values and unsplittable lines (tested against the SQL).
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_FORMATTED_RE = re.compile(r"(\+|00)47[ -]?([0-9][ -]?){7}[0-9]|[2-9][0-9]{2} [0-9]{2} [0-9]{3}"
                                 r"|[2-9][0-9] [0-9]{2} [0-9]{2} [0-9]{2}")
_PHONE_PLAIN_RE = re.compile(r"[49][0-9]{7}")


def looks_like_fnr(value: str) -> bool:
    if not 11 <= len(value) <= 14:
        return False
    digits = re.sub(r"[ .-]", "", value)
    if not re.fullmatch(r"[0-9]{11}", digits):
        return False
    d = [int(c) for c in digits]
    day, month = d[0] * 10 + d[1], d[2] * 10 + d[3]
    if not (1 <= day % 40 <= 31 and 1 <= month % 40 <= 12):
        return False
    k1 = (11 - sum(w * x for w, x in zip(_K1, d)) % 11) % 11
    k2 = (11 - sum(w * x for w, x in zip(_K2, d)) % 11) % 11
    return k1 == d[9] and k2 == d[10]


def identifier_kind(value: str, *, plain_phone: bool = True) -> str | None:
    """What direct identifier a value looks like, or None."""
    if looks_like_fnr(value):
        return "a Norwegian national identity number (fødselsnummer)"
    if "@" in value and _EMAIL_RE.search(value):
        return "an e-mail address"
    if 8 <= len(value) <= 20 and _PHONE_FORMATTED_RE.fullmatch(value):
        return "a phone number"
    if plain_phone and len(value) == 8 and _PHONE_PLAIN_RE.fullmatch(value):
        return "a phone number"
    return None


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
        f"SELECT _row, _raw FROM {batch_rel} WHERE _src = ? AND _raw IS NOT NULL ORDER BY _row", [index]
    ).fetchall()
    for row, raw in rows:
        values = json.loads(raw)
        for column in typed_columns:
            value = values.get(column)
            what = identifier_kind(value, plain_phone=True) if isinstance(value, str) else None
            if what:
                raise _refuse_value(source, row, column, what)
    for bad in source.malformed:
        for field in re.split(r"[;,\t]", bad.raw_line):
            what = identifier_kind(field.strip().strip('"'), plain_phone=False)
            if what:
                raise _refuse_value(source, bad.row_number, "(unsplittable row)", what)


def identifier_header(name: str) -> bool:
    tokens = [t for t in name.split("_") if t]
    words = set(contract.IDENTIFIER_HEADER_WORDS)
    return any(t in words for t in tokens) or name.replace("_", "") in words


def guard(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Raise PrivacyError if the source carries a direct identifier; otherwise return quietly."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {source.relation}").fetchall() if r[0] != "_row"]
    for column in columns:
        name = column.removeprefix("extra__")
        if identifier_header(name):
            raise PrivacyError(
                source.path,
                f"refused: column `{name}` looks like a direct identifier (name, address, e-mail, phone, national "
                "id or birth date). Remove it from the export and load again; nothing from this file was stored",
            )
    if not columns:
        return
    checks: list[tuple[str, str, str]] = []  # (column, what, sql)
    plain_phone_columns = {"patient_ref"}
    for column in columns:
        if not _free_column(source, column):
            continue  # checked after validation, in the rejected rows only (guard_rejected)
        table_column = _contract_column(source, column)
        v = f'"{column}"'
        checks.append((column, "a Norwegian national identity number (fødselsnummer)", fnr_sql(v)))
        checks.append((column, "an e-mail address", EMAIL_SQL.format(v=v)))
        checks.append((column, "a phone number", PHONE_FORMATTED_SQL.format(v=v)))
        if table_column is None or table_column.kind == "text" or column in plain_phone_columns:
            checks.append((column, "a phone number", PHONE_PLAIN_SQL.format(v=v)))
    if not checks:
        return
    select = ", ".join(f"min(CASE WHEN {sql} THEN _row END)" for _, _, sql in checks)
    found = con.execute(f"SELECT {select} FROM {source.relation}").fetchall()[0]
    hits = [(row, column, what) for (column, what, _), row in zip(checks, found) if row is not None]
    if hits:
        row, column, what = min(hits)
        raise _refuse_value(source, row, column.removeprefix("extra__"), what)


def _contract_column(source: Source, column: str):
    try:
        return source.table.column(column)
    except KeyError:
        return None
