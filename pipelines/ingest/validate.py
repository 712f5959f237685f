"""Row rules: turn the text columns of read files into typed rows, each with the list of problems found.

Everything is generated from the data contract and runs as set-based DuckDB SQL (no per-row Python), so a file of
a million rows validates in about a second. The result of `validate_batch` is one temp table per contract table,
`batch_<table>`, with `_src` (index of the source), `_row`, the typed columns, `_issues` (a list of
{column, message}; empty means the row is accepted), `_raw` (the row's text values as JSON, for rows with a
problem in their own values) and `_dup` (an identical copy of an earlier row in the same load, accepted but
written once).

Cross-row rules run after the column rules: duplicates in the load and clinician codes per table, then the order
of sessions and what depends on them (corrected sessions, followed-up sessions), judged on the database as it will
be after the load, both ways: an incoming row against the stored session it depends on, and an incoming session
against the stored corrections and follow-ups that depend on it (`_check_session_order`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines import contract
from pipelines.contract import Column, Table
from pipelines.ingest.read import Source

WHITESPACE = " \t\r\n\u00a0\u202f"


def sql_str(text: str) -> str:
    """A constant from the contract as an SQL string literal. User values never go through here."""
    return "'" + str(text).replace("'", "''") + "'"


def _clean(column: str) -> str:
    """Trimmed text or NULL. The regex guard keeps the (slower) trim of all whitespace kinds off most values."""
    c = f'"{column}"'
    return (f"NULLIF(CASE WHEN regexp_matches({c}, '^[\\s\u00a0\u202f]|[\\s\u00a0\u202f]$') "
            f"THEN trim({c}, {sql_str(WHITESPACE)}) ELSE {c} END, '')")


def _shown(v: str) -> str:
    """The offending value, quoted and shortened, for a message."""
    return f"'\"' || left({v}, 40) || '\"'"


def _case_lookup(v: str, allowed: dict[str, tuple[str, ...]]) -> str:
    whens = " ".join(
        f"WHEN {sql_str(spelling)} THEN {sql_str(canonical)}"
        for spelling, canonical in contract.canonical_lookup(allowed).items()
    )
    return f"(CASE lower({v}) {whens} ELSE NULL END)"


def _date(v: str) -> str:
    """The accepted date spellings (contract.DATE_SPELLINGS_TEXT). Slash dates are not among them: see _slash_date."""
    return (
        f"CAST(coalesce(try_strptime({v}, '%Y-%m-%d'), try_strptime({v}, '%d.%m.%Y'), "
        f"try_strptime({v}, '%Y-%m-%d %H:%M:%S'), try_strptime({v}, '%Y-%m-%dT%H:%M:%S'), "
        f"try_strptime({v}, '%d.%m.%Y %H:%M:%S')) AS DATE)"
    )


SLASH_DATE = "^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})"  # 01/02/2024, optionally followed by a time of day


def _slash_date(v: str) -> tuple[str, str]:
    """(condition, message) for a date written with slashes, which is refused, never read.

    `01/02/2024` is 1 February in Norway and 2 January in an American export; a guessed reading would move a session
    by up to eleven months without anyone noticing. The message names both readings when both are dates, and says
    how to write the date so that it loads (day.month.year or ISO, of the day/month reading, or of the only reading
    that is a date at all)."""
    part = [f"regexp_extract({v}, {sql_str(SLASH_DATE)}, {i})" for i in (1, 2, 3)]
    day_month = f"try_strptime({part[0]} || '.' || {part[1]} || '.' || {part[2]}, '%d.%m.%Y')"
    month_day = f"try_strptime({part[1]} || '.' || {part[0]} || '.' || {part[2]}, '%d.%m.%Y')"

    def spelled(d: str) -> str:
        return f"strftime({d}, '%-d %B')"

    def fix(d: str) -> str:
        return f"'; write ' || strftime({d}, '%Y-%m-%d') || ' or ' || strftime({d}, '%d.%m.%Y')"

    message = (
        f"{_shown(v)} || CASE "
        f"WHEN {day_month} IS NOT NULL AND {month_day} IS NOT NULL AND {day_month} <> {month_day} "
        f"THEN ' uses slashes, which can mean ' || {spelled(day_month)} || ' or ' || {spelled(month_day)} "
        f"|| {fix(day_month)} "
        f"WHEN coalesce({day_month}, {month_day}) IS NOT NULL "
        f"THEN ' uses slashes, which are never read as a date (01/02/2024 can mean 1 February or 2 January)' "
        f"|| {fix(f'coalesce({day_month}, {month_day})')} "
        f"ELSE ' uses slashes and is not a real date; write dates as 2024-03-05 or 05.03.2024' END"
    )
    return f"regexp_matches({v}, {sql_str(SLASH_DATE)})", message


Issue = tuple[str, str, str]  # (column, SQL condition that flags the row, SQL expression of the message)


def _issue(column: str, condition: str, message: str) -> Issue:
    return (column, condition, message)


def _number_prep(col: str) -> tuple[str, str]:
    """Two projection steps for a number column: strip spaces, then normalise the decimal mark to `.`."""
    v = f'"v_{col}"'
    s = f'"s_{col}"'
    strip = f"replace(replace(replace({v}, ' ', ''), '\u00a0', ''), '\u202f', '')"
    normalised = (
        f"(CASE WHEN contains({s}, ',') AND contains({s}, '.') THEN "
        f"  (CASE WHEN strpos(reverse({s}), ',') < strpos(reverse({s}), '.') "
        f"        THEN replace(replace({s}, '.', ''), ',', '.') ELSE replace({s}, ',', '') END) "
        f" WHEN contains({s}, ',') THEN replace({s}, ',', '.') ELSE {s} END)"
    )
    return strip, normalised


def column_sql(col: Column) -> tuple[str, list[Issue]]:
    """(typed expression, issues) for one contract column, reading the clean text as `v_<name>` (and, for numbers,
    the parsed double as `d_<name>`)."""
    v = f'"v_{col.name}"'
    t = f'"t_{col.name}"'
    issues: list[str] = []
    if col.required:
        issues.append(_issue(col.name, f"{v} IS NULL", sql_str("is empty (required)")))
    if col.kind == "id":
        typed = v
        issues.append(_issue(col.name, f"length({v}) > 64", sql_str("is longer than 64 characters")))
        issues.append(_issue(col.name, f"regexp_matches({v}, '[\\x00-\\x1f]')",
                             sql_str("contains a line break or control character")))
    elif col.kind == "code":
        # judged once per distinct value (see _dictionary)
        typed = f"upper({v})"
        issues.append(_issue(col.name, f'"cb_{col.name}"',
                             f"{_shown(v)} || ' is not a valid code (letters, digits, - or _, at most 16)'"))
    elif col.kind == "text":
        typed = v
    elif col.kind == "date":
        typed = _date(v)
        slash, slash_message = _slash_date(v)
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {t} IS NULL AND NOT {slash}",
                             f"{_shown(v)} || ' is not a real date (write 2024-03-05 or 05.03.2024)'"))
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {t} IS NULL AND {slash}", slash_message))
        if not col.may_be_future:  # an expiry date lies ahead; a session or contact date never does
            issues.append(_issue(col.name, f"{t} > $today",
                                 f"strftime({t}, '%Y-%m-%d') || ' lies in the future'"))
        issues.append(_issue(col.name, f"{t} < DATE {sql_str(contract.EARLIEST_DATE)}",
                             f"strftime({t}, '%Y-%m-%d') || ' is before {contract.EARLIEST_DATE}'"))
    elif col.kind in ("number", "integer"):
        d = f'"d_{col.name}"'
        typed = d
        word = "a whole number" if col.kind == "integer" else "a number"
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {t} IS NULL",
                             f"{_shown(v)} || ' is not {word}'"))
        if col.kind == "integer":
            issues.append(_issue(col.name, f"{t} IS NOT NULL AND {t} <> round({t})",
                                 f"{_shown(v)} || ' is not a whole number'"))
            typed = f"(CASE WHEN {d} = round({d}) THEN CAST({d} AS INTEGER) END)"
        if col.min_value is not None:
            if col.min_exclusive:
                issues.append(_issue(col.name, f"{t} <= {col.min_value}",
                                     f"{_shown(v)} || ' must be greater than {col.min_value:g}'"))
            else:
                issues.append(_issue(col.name, f"{t} < {col.min_value}",
                                     f"{_shown(v)} || ' is below the minimum {col.min_value:g}'"))
        if col.max_value is not None:
            issues.append(_issue(col.name, f"{t} > {col.max_value}",
                                 f"{_shown(v)} || ' is above the maximum {col.max_value:g}'"))
    elif col.kind == "bool":
        whens = " ".join([f"WHEN {sql_str(x)} THEN true" for x in contract.TRUE_SPELLINGS]
                         + [f"WHEN {sql_str(x)} THEN false" for x in contract.FALSE_SPELLINGS])
        typed = f"(CASE lower({v}) {whens} END)"
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {t} IS NULL",
                             f"{_shown(v)} || ' is not yes/no (write yes/no, ja/nei, true/false or 1/0)'"))
    elif col.kind == "enum":
        typed = _case_lookup(v, col.allowed)
        choices = ", ".join(col.allowed)
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {t} IS NULL",
                             f"{_shown(v)} || {sql_str(' is not one of: ' + choices)}"))
    elif col.kind == "areas":
        # parsed once per distinct value (see _dictionary); here only its results are read
        typed = f'"a_{col.name}"'
        bad = f'"ab_{col.name}"'
        choices = ", ".join(col.allowed)
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {bad} IS NOT NULL",
                             f"'\"' || left({bad}, 40) || '\"' || {sql_str(' is not a known area (' + choices + ')')}"))
    elif col.kind == "area_units":
        # parsed and judged once per distinct value (see _dictionary and _area_units); the sum and the session's
        # areas are row rules (_row_rules)
        typed = f'"a_{col.name}"'
        bad = f'"ab_{col.name}"'
        issues.append(_issue(col.name, f"{v} IS NOT NULL AND {bad} IS NOT NULL", bad))
    else:  # pragma: no cover - the contract only uses the kinds above
        raise ValueError(col.kind)
    return typed, issues


ROW_KINDS = ("id", "text")  # (nearly) unique values: cleaned row by row; every other kind goes by dictionary


def _dictionary(col: Column) -> str:
    """SELECT over the distinct raw values of a column, cleaning, parsing and judging each value once.

    A million rows hold a few dozen yes/no spellings, area combinations, products or clinician codes, a few
    thousand dates and a few hundred amounts, so the trimming, number normalisation, date parsing, area-list
    parsing and Unicode-aware code check run on those only; rows pick the results up by a hash join. Gives
    `v_<name>` (clean text), `t_<name>` (typed value) and the kind's helper columns (`d_`, `a_`, `ab_`, `cb_`)."""
    name = col.name
    r, v = f'"r_{name}"', f'"v_{name}"'
    base = f"SELECT {r}, {_clean('r_' + name)} AS {v} FROM (SELECT DISTINCT {r} FROM cleaned WHERE {r} IS NOT NULL)"
    extra = ""
    if col.kind in ("number", "integer"):
        strip, normalised = _number_prep(name)
        base = (f"SELECT *, (CASE WHEN isfinite(TRY_CAST(\"n_{name}\" AS DOUBLE)) "
                f"THEN TRY_CAST(\"n_{name}\" AS DOUBLE) END) AS \"d_{name}\" FROM ("
                f"SELECT *, {normalised} AS \"n_{name}\" FROM (SELECT *, {strip} AS \"s_{name}\" FROM ({base})))")
    elif col.kind == "code":
        extra = f", NOT regexp_full_match({v}, '[\\p{{L}}0-9_.-]{{1,16}}') AS \"cb_{name}\""
    elif col.kind == "areas":
        parts = (f"list_filter(list_transform(string_split_regex({v}, '[|;,+/]'), lambda x: trim(x, {sql_str(WHITESPACE)})), "
                 f"lambda x: x <> '')")
        lookup = _case_lookup("x", col.allowed)
        mapped = f"list_transform({parts}, lambda x: {lookup})"
        bad = f"list_filter({parts}, lambda x: {lookup} IS NULL)"
        typed = (f"(CASE WHEN len({bad}) = 0 AND len({parts}) > 0 "
                 f"THEN array_to_string(list_sort(list_distinct({mapped})), '|') END)")
        base = f'SELECT *, {typed} AS "a_{name}", {bad}[1] AS "ab_{name}" FROM ({base})'
    elif col.kind == "area_units":
        base = _area_units(col, base)
    typed_expr, _ = column_sql(col)
    return f'SELECT *{extra}, {typed_expr} AS "t_{name}" FROM ({base})'


AREA_UNITS_EXAMPLE = "glabella:20|forehead:10"


def _area_units(col: Column, base: str) -> str:
    """`units_by_area` (`glabella:20|forehead:10`) parsed once per distinct value: `up_` the parts as structs
    (txt, area: the contract area or NULL, units), `a_` the canonical text (areas in order, `area:units`), `ab_`
    the first problem as a message (NULL when the value is fine), `us_` the units' sum and `ua_` the areas listed.
    The sum against `units` and the areas against the session's `areas` are row rules (_row_rules)."""
    name, v = col.name, f'"v_{col.name}"'
    sep = contract.AREA_UNITS_SEPARATOR
    parts = (f"list_filter(list_transform(string_split({v}, {sql_str(contract.AREA_SEPARATOR)}), "
             f"lambda x: trim(x, {sql_str(WHITESPACE)})), lambda x: x <> '')")
    area_text = f"trim(split_part(x, {sql_str(sep)}, 1), {sql_str(WHITESPACE)})"
    number_text = f"replace(replace(trim(split_part(x, {sql_str(sep)}, 2), {sql_str(WHITESPACE)}), ' ', ''), ',', '.')"
    structs = (f"list_transform({parts}, lambda x: {{'txt': x, 'area_txt': {area_text}, "
               f"'area': {_case_lookup(area_text, col.allowed)}, "
               f"'units': (CASE WHEN isfinite(TRY_CAST({number_text} AS DOUBLE)) "
               f"THEN TRY_CAST({number_text} AS DOUBLE) END), "
               f"'form': regexp_full_match(x, '[^:]+:[^:]+')}})")
    up = f'"up_{name}"'
    areas = f"list_transform({up}, lambda x: x.area)"
    unknown_area = sql_str('" is not a known area (' + ", ".join(col.allowed) + ')')
    first = "[1]"
    message = (
        f"CASE WHEN len({up}) = 0 THEN 'is empty; write units per area, e.g. {AREA_UNITS_EXAMPLE}' "
        f"WHEN len(list_filter({up}, lambda x: NOT x.form OR x.units IS NULL)) > 0 "
        f"THEN '\"' || left(list_filter({up}, lambda x: NOT x.form OR x.units IS NULL){first}.txt, 40) "
        f"|| '\" is not area:units; write e.g. {AREA_UNITS_EXAMPLE}' "
        f"WHEN len(list_filter({up}, lambda x: x.area IS NULL)) > 0 "
        f"THEN '\"' || left(list_filter({up}, lambda x: x.area IS NULL){first}.area_txt, 40) "
        f"|| {unknown_area} "
        f"WHEN len(list_filter({up}, lambda x: x.units <= 0)) > 0 "
        f"THEN '\"' || left(list_filter({up}, lambda x: x.units <= 0){first}.txt, 40) "
        f"|| '\": the units must be greater than 0' "
        f"WHEN len(list_distinct({areas})) < len({areas}) "
        f"THEN 'names an area more than once; give each area once, e.g. {AREA_UNITS_EXAMPLE}' END")
    units_text = ("CASE WHEN x.units = round(x.units) THEN CAST(CAST(x.units AS BIGINT) AS VARCHAR) "
                  "ELSE CAST(x.units AS VARCHAR) END")
    canonical = (f"array_to_string(list_sort(list_transform({up}, lambda x: x.area || {sql_str(sep)} || "
                 f"{units_text})), {sql_str(contract.AREA_SEPARATOR)})")
    return (f'SELECT *, (CASE WHEN "ab_{name}" IS NULL THEN {canonical} END) AS "a_{name}" FROM ('
            f'SELECT *, {message} AS "ab_{name}", list_sum(list_transform({up}, lambda x: x.units)) AS "us_{name}", '
            f'list_sort(list_distinct({areas})) AS "ua_{name}" FROM ('
            f'SELECT *, {structs} AS {up} FROM ({base})))')


def _row_rules(table: Table) -> list[Issue]:
    """Rules that look at several columns of one row."""
    if table.name != "treatments":
        return []
    maxima = " ".join(f"WHEN {sql_str(p.name)} THEN {p.max_units_per_session:g}" for p in contract.PRODUCTS)
    max_units = f"(CASE \"t_product\" {maxima} END)"
    return [
        _issue("units", f"\"t_units\" > {max_units}",
               f"'\"' || \"v_units\" || '\" is more than the plausible maximum of ' || {max_units}::INTEGER "
               f"|| ' units of ' || \"t_product\" || ' for one session'"),
        _issue("corrects_treatment_id", "\"t_corrects_treatment_id\" = \"t_treatment_id\"",
               sql_str("a session cannot correct itself")),
        *_units_by_area_rules(),
    ]


def _units_by_area_rules() -> list[Issue]:
    """units_by_area against the row's own `areas` and `units` (judged when both of those are valid)."""
    fine = '"a_units_by_area" IS NOT NULL'
    session_areas = "string_split(\"t_areas\", '|')"
    extra = f'list_filter("ua_units_by_area", lambda x: NOT list_contains({session_areas}, x))'
    return [
        _issue("units_by_area", f'{fine} AND "t_areas" IS NOT NULL AND len({extra}) > 0',
               f"'names ' || array_to_string({extra}, ', ') || ', not among the session''s areas (' "
               "|| replace(\"t_areas\", '|', ', ') || '); correct units_by_area or areas'"),
        _issue("units_by_area", f'{fine} AND "t_units" > 0 AND abs("us_units_by_area" - "t_units") > 0.001',
               "'adds up to ' || (CASE WHEN \"us_units_by_area\" = round(\"us_units_by_area\") "
               "THEN CAST(CAST(\"us_units_by_area\" AS BIGINT) AS VARCHAR) "
               "ELSE CAST(round(\"us_units_by_area\", 3) AS VARCHAR) END) || ' units, but units is ' "
               "|| \"v_units\" || '; make the parts add up to units'"),
    ]


def typed_select(source: Source, index: int) -> str:
    """SELECT turning one source's text rows into typed columns plus `_issues`."""
    return typed_select_all(source.table, [(index, source)])


def typed_select_all(table: Table, members: list[tuple[int, Source]]) -> str:
    """SELECT turning the text rows of every source of one table (`(index, source)` pairs, all of `table`) into
    typed columns plus `_issues`, `_src` naming the source. One statement over the sources' rows together: it is
    planned once and judges each distinct value once, however many files a load brings."""
    relation = "(" + " UNION ALL ".join(
        f"SELECT {int(i)} AS _src, _row, "
        + ", ".join(f'"{c}"' for c in table.column_names) + f" FROM {s.relation}"
        for i, s in members) + ")"
    row_cols = [c for c in table.columns if c.kind in ROW_KINDS]
    dict_cols = [c for c in table.columns if c.kind not in ROW_KINDS]
    cleaned = ", ".join([f"{_clean(c.name)} AS \"v_{c.name}\"" for c in row_cols]
                        + [f'"{c.name}" AS "r_{c.name}"' for c in dict_cols])
    typed_parts: list[str] = []
    issues: list[Issue] = []
    for col in table.columns:
        typed, col_issues = column_sql(col)
        if col.kind in ROW_KINDS:
            typed_parts.append(f"{typed} AS \"t_{col.name}\"")
        issues.extend(col_issues)
    issues.extend(_row_rules(table))
    # Build the list of problems only for rows that have one: most rows are fine, and building a list of
    # structs for every row is what would make a million-row file slow.
    any_issue = "coalesce(" + " OR ".join(f"({cond})" for _, cond, _ in issues) + ", false)"
    issue_list = ("list_filter([" + ", ".join(
        f"CASE WHEN {cond} THEN {{'column': {sql_str(column)}, 'message': {message}}} END"
        for column, cond, message in issues) + "], lambda x: x IS NOT NULL)")
    final = ", ".join(f"\"t_{c}\" AS \"{c}\"" for c in table.column_names)
    # the row as read (trimmed), kept for rejected rows so they can be corrected and retried
    raw_json = "to_json(struct_pack(" + ", ".join(f'"{c}" := "v_{c}"' for c in table.column_names) + "))::VARCHAR"
    dictionaries = "".join(f"dict_{c.name} AS ({_dictionary(c)}),\n" for c in dict_cols)
    joined = "cleaned c" + "".join(f' LEFT JOIN dict_{c.name} USING ("r_{c.name}")' for c in dict_cols)
    return f"""
        WITH cleaned AS (SELECT _src, _row, {cleaned} FROM {relation}),
        {dictionaries}with_dictionaries AS (SELECT * FROM {joined}),
        typed AS (SELECT *{''.join(', ' + p for p in typed_parts)} FROM with_dictionaries),
        flagged AS (SELECT *, {any_issue} AS _bad FROM typed),
        judged AS (SELECT *, CASE WHEN _bad THEN {issue_list} ELSE [] END AS _issues,
                          CASE WHEN _bad THEN {raw_json} END AS _raw FROM flagged)
        SELECT _src, _row, {final}, _issues, _raw FROM judged"""


@dataclass
class Batch:
    """The validated rows of one load, per contract table (temp tables `batch_<name>`)."""

    tables: list[str]

    def relation(self, table: str) -> str:
        return f"batch_{table}"


def _add_issue(con, relation: str, condition: str, column: str, message: str, params=None) -> None:
    con.execute(
        f"UPDATE {relation} SET _issues = list_append(_issues, {{'column': {sql_str(column)}, "
        f"'message': {message}}}) WHERE {condition}",
        params or [],
    ).fetchall()


def validate_batch(
    con: duckdb.DuckDBPyConnection, sources: list[Source], today: dt.date, source_names: list[str]
) -> Batch:
    """Validate every source of one load; the database (main schema) supplies existing reference rows."""
    tables: list[str] = []
    for table in sorted(contract.TABLES, key=lambda t: t.load_order):
        members = [(i, s) for i, s in enumerate(sources) if s.table.name == table.name]
        rel = f"batch_{table.name}"
        if not members:
            con.execute(f"DROP TABLE IF EXISTS {rel}")
            continue
        tables.append(table.name)
        sql = f"CREATE OR REPLACE TEMP TABLE {rel} AS {typed_select_all(table, members)}"
        params = {"today": today} if "$today" in sql else {}
        con.execute(sql.replace("$today", "CAST($today AS DATE)"), params).fetchall()
        con.execute(f"ALTER TABLE {rel} ADD COLUMN _dup BOOLEAN DEFAULT false").fetchall()
        _check_duplicates(con, table, rel, source_names)
        if table.name in ("treatments", "process_changes"):  # a clinician code must name a known clinician
            _check_clinicians(con, rel)
    _check_session_order(con, tables)
    return Batch(tables)


def _content_hash(table: Table) -> str:
    return "hash(" + ", ".join(f"\"{c}\"" for c in table.column_names) + ")"


def _check_duplicates(con, table: Table, rel: str, source_names: list[str]) -> None:
    """Same key twice in one load: identical copies are written once; different content rejects every copy."""
    key = ", ".join(f'"{k}"' for k in table.key)
    # Keys seen more than once are few; find them with one cheap aggregate before looking at their content.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {rel}_keys AS
        WITH repeated AS (SELECT {key} FROM {rel} WHERE len(_issues) = 0 GROUP BY {key} HAVING count(*) > 1)
        SELECT {key}, count(DISTINCT {_content_hash(table)}) AS versions_n,
               string_agg(list_extract($names::VARCHAR[], _src + 1) || ' row ' || _row, ', '
                          ORDER BY _src, _row) AS places
        FROM {rel} JOIN repeated USING ({key}) WHERE len(_issues) = 0 GROUP BY {key}""",
        {"names": list(source_names)},
    ).fetchall()
    if con.execute(f"SELECT count(*) FROM {rel}_keys").fetchall()[0][0] == 0:
        con.execute(f"DROP TABLE {rel}_keys").fetchall()
        return
    key_match = " AND ".join(f'{rel}."{k}" IS NOT DISTINCT FROM k."{k}"' for k in table.key)
    key_text = " || ' ' || ".join(f'CAST({rel}."{k}" AS VARCHAR)' for k in table.key)
    con.execute(
        f"""UPDATE {rel} SET _issues = list_append(_issues, {{'column': {sql_str(table.key[0])},
              'message': {key_text} || ' appears more than once in this load with different content ('
                         || k.places || '); keep one version'}})
            FROM {rel}_keys k WHERE k.versions_n > 1 AND len({rel}._issues) = 0 AND {key_match}"""
    ).fetchall()
    con.execute(
        f"""UPDATE {rel} SET _dup = true WHERE rowid IN (
              SELECT rid FROM (SELECT b.rowid AS rid, row_number() OVER (PARTITION BY {key} ORDER BY _src, _row) AS n
                               FROM {rel} b JOIN {rel}_keys USING ({key}) WHERE len(b._issues) = 0) WHERE n > 1)"""
    ).fetchall()
    con.execute(f"DROP TABLE {rel}_keys").fetchall()


def _check_clinicians(con, rel: str) -> None:
    _add_issue(
        con, rel,
        f"""clinician IS NOT NULL AND {_no_issue_in('clinician')} AND NOT EXISTS (SELECT 1 FROM main.clinicians c WHERE c.clinician = {rel}.clinician)
            AND NOT EXISTS (SELECT 1 FROM {_accepted_or_empty(con, 'clinicians', 'clinician')} c
                            WHERE c.clinician = {rel}.clinician)""",
        "clinician",
        "'unknown clinician code \"' || clinician || '\" (not in the clinicians table; check for a typo or "
        "load the clinicians file first)'",
    )


def _check_session_order(con, tables: list[str]) -> None:
    """The rules between sessions and what depends on them, judged on the database as it will be after the load.

    After the load, a session's row is its accepted incoming version, else its stored one. Every pair of a session
    and a row depending on it (a correction of it, a follow-up contact of it) must be in order: the dependent row
    names a known session and is not dated before it. A pair with an incoming dependent is judged by the dependent's
    rules (`corrects unknown treatment`, `the correction is dated ... before`, `follow-up for unknown treatment`,
    `... is before the treatment date`); a pair of an incoming session and a stored dependent that stays (not
    re-exported, or re-exported and rejected) by `_check_stored_dependents`, which rejects the session's update: a
    load never changes a stored row into a conflict with other stored rows.

    Each rejection can change which version of a session the other rules must be judged against (a rejected update
    leaves the stored version in force), so the rules run again until a pass rejects no session (a second pass is
    needed only when one did)."""
    has_treatments, has_follow_ups = "treatments" in tables, "follow_ups" in tables
    if not (has_treatments or has_follow_ups):
        return
    while True:
        rejected_before = _rejected_n(con, "batch_treatments") if has_treatments else 0
        _final_treatments(con, has_treatments)
        if has_treatments:
            _check_corrections(con)
            if _rejected_n(con, "batch_treatments") != rejected_before:  # a rejected correction keeps its stored row
                _final_treatments(con, has_treatments)
        if has_follow_ups:
            _check_follow_ups(con)
        if has_treatments:
            _check_stored_dependents(con, has_follow_ups)
        if not has_treatments or _rejected_n(con, "batch_treatments") == rejected_before:
            break
    con.execute("DROP TABLE IF EXISTS known_treatments").fetchall()


def _rejected_n(con, rel: str) -> int:
    return con.execute(f"SELECT count(*) FROM {rel} WHERE len(_issues) > 0").fetchall()[0][0]


def _final_treatments(con, has_batch: bool) -> None:
    """`known_treatments`: every session as it will be after the load (accepted incoming version, else stored)."""
    if has_batch:
        sql = """SELECT treatment_id, treated_on, corrects_treatment_id FROM main.treatments
                 WHERE treatment_id NOT IN (SELECT treatment_id FROM batch_treatments WHERE len(_issues) = 0)
                 UNION ALL SELECT treatment_id, treated_on, corrects_treatment_id FROM batch_treatments
                 WHERE len(_issues) = 0 AND NOT _dup"""
    else:
        sql = "SELECT treatment_id, treated_on, corrects_treatment_id FROM main.treatments"
    con.execute(f"CREATE OR REPLACE TEMP TABLE known_treatments AS {sql}").fetchall()


def _check_corrections(con) -> None:
    rel = "batch_treatments"
    _add_issue(
        con, rel,
        "len(_issues) = 0 AND corrects_treatment_id IS NOT NULL AND corrects_treatment_id NOT IN "
        "(SELECT treatment_id FROM known_treatments)",
        "corrects_treatment_id",
        "'corrects unknown treatment \"' || corrects_treatment_id || '\" (load the session it corrects first; "
        "the row is kept and can be retried)'",
    )
    con.execute(
        f"""UPDATE {rel} SET _issues = list_append(_issues, {{'column': 'treated_on',
              'message': 'the correction is dated ' || strftime({rel}.treated_on, '%Y-%m-%d')
                || ', before the session it corrects (' || k.treatment_id || ', '
                || strftime(k.treated_on, '%Y-%m-%d') || ')'}})
            FROM known_treatments k
            WHERE len({rel}._issues) = 0 AND {rel}.corrects_treatment_id = k.treatment_id
              AND {rel}.treated_on < k.treated_on"""
    ).fetchall()


def _check_follow_ups(con) -> None:
    rel = "batch_follow_ups"
    _add_issue(
        con, rel,
        f"treatment_id IS NOT NULL AND {_no_issue_in('treatment_id')} "
        "AND treatment_id NOT IN (SELECT treatment_id FROM known_treatments)",
        "treatment_id",
        "'follow-up for unknown treatment \"' || treatment_id || '\" (load the treatments file first; the row "
        "is kept and can be retried)'",
    )
    con.execute(
        f"""UPDATE {rel} SET _issues = list_append(_issues, {{'column': 'seen_on',
              'message': strftime({rel}.seen_on, '%Y-%m-%d') || ' is before the treatment date '
                || strftime(k.treated_on, '%Y-%m-%d') || ' of ' || k.treatment_id}})
            FROM known_treatments k
            WHERE len({rel}._issues) = 0 AND {rel}.treatment_id = k.treatment_id
              AND {rel}.seen_on < k.treated_on"""
    ).fetchall()


CONFLICT_MESSAGE = "would put session"  # pipelines/ingest/history.py recognises the kind of rejection by it


def _check_stored_dependents(con, has_follow_ups: bool) -> None:
    """An update that moves a stored session after a stored row that depends on it (its correction, its follow-up
    contact) and stays is rejected; the stored session is kept. The reason names the earliest such row."""
    rel = "batch_treatments"
    replaced_follow_ups = (
        "AND f.follow_up_id NOT IN (SELECT follow_up_id FROM batch_follow_ups WHERE len(_issues) = 0)"
        if has_follow_ups else ""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE stored_conflicts AS
            WITH moved AS (
                SELECT b._src, b._row, b.treatment_id, b.treated_on
                FROM {rel} b JOIN main.treatments t USING (treatment_id)
                WHERE len(b._issues) = 0 AND b.treated_on > t.treated_on
            ),
            dependents AS (
                SELECT c.corrects_treatment_id AS session_id, 'correction' AS kind, c.treatment_id AS dependent_id,
                       c.treated_on AS dependent_on
                FROM main.treatments c
                WHERE c.corrects_treatment_id IN (SELECT treatment_id FROM moved)
                  AND c.treatment_id NOT IN (SELECT treatment_id FROM {rel} WHERE len(_issues) = 0)
                UNION ALL
                SELECT f.treatment_id, 'follow-up', f.follow_up_id, f.seen_on
                FROM main.follow_ups f
                WHERE f.treatment_id IN (SELECT treatment_id FROM moved) {replaced_follow_ups}
            )
            SELECT m._src, m._row,
                   arg_min(d.kind || ' ' || d.dependent_id || ' (' || strftime(d.dependent_on, '%Y-%m-%d') || ')',
                           (d.dependent_on, d.kind, d.dependent_id)) AS earliest,
                   count(*) AS conflicts_n
            FROM moved m JOIN dependents d ON d.session_id = m.treatment_id AND d.dependent_on < m.treated_on
            GROUP BY m._src, m._row"""
    ).fetchall()
    con.execute(
        f"""UPDATE {rel} SET _issues = list_append(_issues, {{'column': 'treated_on',
              'message': strftime({rel}.treated_on, '%Y-%m-%d') || ' {CONFLICT_MESSAGE} ' || {rel}.treatment_id
                || ' after its ' || k.earliest || ' already stored'
                || CASE WHEN k.conflicts_n > 1 THEN ' (and ' || (k.conflicts_n - 1) || ' more)' ELSE '' END
                || '; correct the date or re-export both'}})
            FROM stored_conflicts k
            WHERE len({rel}._issues) = 0 AND {rel}._src = k._src AND {rel}._row = k._row"""
    ).fetchall()
    con.execute("DROP TABLE stored_conflicts").fetchall()


def _no_issue_in(column: str) -> str:
    return f"NOT list_contains(list_transform(_issues, lambda x: x.column), {sql_str(column)})"


def _exists(con, relation: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [relation]
    ).fetchall()[0][0])


def _accepted_or_empty(con, table: str, column: str) -> str:
    if _exists(con, f"batch_{table}"):
        return f"(SELECT {column} FROM batch_{table} WHERE len(_issues) = 0)"
    return f"(SELECT NULL::VARCHAR AS {column} WHERE false)"
