"""Registry -> SQL -> counts. Count first, divide last, keep both counts.

Every outcome comes out in one long shape, one row per (metric, stratum):

    metric, [period_start], [clinician | indication | product | area | ...], eligible_n, followed_up_n, event_n,
    awaiting_n, numerator_n, denominator_n, crude_event_n

- eligible_n: eligible sessions whose window has closed by the as-of date;
- awaiting_n: eligible sessions whose window is still open (not counted anywhere else);
- followed_up_n: of eligible_n, those with a follow-up contact in the window that assessed the outcome
  (completeness = followed_up_n / eligible_n). Only the assessment counts, never the event (registry principles
  1 and 2): a correction does not make its session followed up, a blank answer is no assessment;
- event_n: of followed_up_n, those with the event (seen at any contact in the window or on the session itself);
- crude_event_n: of eligible_n, those with the event whether followed up or not; the crude rate over all
  eligible sessions is crude_event_n / eligible_n (the lower bound of the rate when loss is `excluded`);
- numerator_n / denominator_n: the headline rate. For outcomes where loss to follow-up is `excluded` it is
  event_n / followed_up_n (the rate among followed-up sessions; no followed-up session: no rate, "not
  recorded"); where it counts as the `event` it is (event_n + lost) / eligible_n.

All of it is one DuckDB statement over the whole table (sql/sessions.sql, sql/contacts.sql and SQL generated from
pipelines/metrics/registry.py); rates and intervals are computed on the small result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines import contract, stats
from pipelines.metrics import registry
from pipelines.metrics.registry import Outcome
from pipelines.sqltext import choice, ident, literal

SQL_DIR = Path(__file__).resolve().parent / "sql"
PERIODS = ("week", "month", "quarter", "year")
# stratum name -> SQL over the per-session row p (area is multi-valued: a session counts once per area treated)
STRATA: dict[str, str] = {
    "clinician": "p.clinician",
    "indication": "p.indication",
    "product": "p.product",
    "area": "p.area",
    "age_band": "p.age_band",
    "sex": "p.sex",
    "treatment": "CASE WHEN p.is_repeat THEN 'repeat' ELSE 'first' END",
    # traceability (issue 13): the vial's lot, the dilution (ml per 100 native units), the dose band (dose_band_sql)
    "lot": "p.lot_number",
    "dilution": "p.dilution_ml_per_100u",
    "dose_band": "p.dose_band",
}


def dose_band_sql(s: str = "s") -> str:
    """A session's dose band (contract.DOSE_BANDS): its Botox-equivalent units against the sum of the label doses
    of its areas (contract.LABEL_DOSE_BOTOX_UNITS). Every value written here is a constant of the contract."""
    per_area = " ".join(f"WHEN {literal(a)} THEN {dose:g}" for a, dose in contract.LABEL_DOSE_BOTOX_UNITS.items())
    label = f"list_sum(list_transform({s}.area_list, lambda a: CASE a {per_area} END))"
    ratio = f"({s}.botox_equivalent_units / nullif({label}, 0))"
    whens = " ".join(f"WHEN {ratio} {'<' if i == 0 else '<='} {upper:g} THEN {literal(band)}"
                     for i, (band, upper) in enumerate(contract.DOSE_BANDS) if upper is not None)
    last = contract.DOSE_BANDS[-1][0]
    return f"(CASE WHEN {ratio} IS NULL THEN NULL {whens} ELSE {literal(last)} END)"
COUNT_COLUMNS = ("eligible_n", "followed_up_n", "event_n", "awaiting_n", "numerator_n", "denominator_n",
                 "crude_event_n")


@cache
def model_sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def contacts_sql(follow_ups: str = "follow_ups") -> str:
    """The contacts model (sql/contacts.sql) over the follow_ups table or a subset of it."""
    return model_sql("contacts").format(follow_ups=follow_ups)


@dataclass(frozen=True)
class Filters:
    """Which sessions to count (by their own attributes). Values reach SQL only as bound parameters."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    clinicians: tuple[str, ...] = ()
    indications: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def sql(self, alias: str = "p") -> tuple[str, dict]:
        conditions, params = [], {}
        if self.date_from:
            conditions.append(f"{alias}.treated_on >= $date_from")
            params["date_from"] = self.date_from
        if self.date_to:
            conditions.append(f"{alias}.treated_on <= $date_to")
            params["date_to"] = self.date_to
        for name, column in (("clinicians", "clinician"), ("indications", "indication"),
                             ("products", "product")):
            values = getattr(self, name)
            if values:
                conditions.append(f"list_contains(${name}, {alias}.{column})")
                params[name] = list(values)
        if self.areas:
            conditions.append(f"list_has_any(string_split({alias}.areas, '|'), $areas)")
            params["areas"] = list(self.areas)
        return (" AND ".join(conditions) or "true"), params


def default_as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The data's own date: the newest treatment or follow-up contact (today if there is no data)."""
    row = con.execute("SELECT greatest((SELECT max(treated_on) FROM treatments), "
                      "(SELECT max(seen_on) FROM follow_ups))").fetchall()[0][0]
    return row or dt.date.today()


def _outcome_list(keys) -> list[Outcome]:
    if keys is None:
        return list(registry.OUTCOMES)
    if isinstance(keys, str):
        keys = [keys]
    return [registry.get(k) for k in keys]


def _contact_aggregates(outcomes: list[Outcome]) -> list[str]:
    cols = []
    for o in outcomes:
        window = o.in_window_sql()
        if o.followed_agg:
            cols.append(f"{o.followed_agg.format(in_window=window)} AS {ident(o.key + '__cf')}")
        if o.event_agg:
            cols.append(f"{o.event_agg.format(in_window=window, assessed=o.assessed)} AS {ident(o.key + '__ce')}")
    return cols


# Each outcome's three per-session flags (eligible, followed up, event) are kept as bits of an integer column:
# a million sessions x 19 outcomes x 3 flags stays one narrow column instead of 57, which is what makes the mart
# cheap to write at every load. 21 outcomes fit in one UBIGINT; more spill into outcome_bits_1, ...
OUTCOMES_PER_BITS_COLUMN = 21
FLAGS = ("eligible", "followed", "event")


def _bit(o: Outcome, flag: str) -> tuple[str, int]:
    """(column, bit) of one outcome's flag, by the outcome's place in the registry."""
    index = [x.key for x in registry.OUTCOMES].index(o.key)
    return f"outcome_bits_{index // OUTCOMES_PER_BITS_COLUMN}", 3 * (index % OUTCOMES_PER_BITS_COLUMN) + FLAGS.index(flag)


def _base_flags(o: Outcome) -> dict[str, str]:
    """Per session, independent of the as-of date: eligible, followed up and event, as SQL over s and c.

    Followed up is built from the outcome's assessment only (a contact in the window that assessed it, or its
    session-level assessment), never from the event: the registry's principle 1."""
    k = o.key
    followed_parts = []
    if o.needs_follow_up and o.followed_agg:
        followed_parts.append(f"coalesce(c.{ident(k + '__cf')}, false)")
    if o.session_assessed_sql:
        followed_parts.append(f"coalesce({o.session_assessed_sql}, false)")
    followed = " OR ".join(followed_parts) if followed_parts else "true"
    event_parts = []
    if o.event_agg:
        event_parts.append(f"coalesce(c.{ident(k + '__ce')}, false)")
    if o.session_event_sql:
        event_parts.append(f"coalesce({o.session_event_sql}, false)")
    event = " OR ".join(event_parts) or "false"
    return {"eligible": f"coalesce({o.eligible_sql}, false)", "followed": f"({followed})", "event": f"({event})"}


def _bits_columns(outcomes: list[Outcome]) -> list[str]:
    """The outcome_bits_N columns holding these outcomes' flags (other outcomes' bits stay 0)."""
    columns: dict[str, list[str]] = {}
    for o in outcomes:
        for flag, sql in _base_flags(o).items():
            column, bit = _bit(o, flag)
            columns.setdefault(column, []).append(f"(CAST({sql} AS UBIGINT) << {bit})")
    n = max(int(c.rsplit("_", 1)[1]) for c in _bits_columns_all()) + 1
    return [f"({' | '.join(columns.get(f'outcome_bits_{i}', ['CAST(0 AS UBIGINT)']))}) AS outcome_bits_{i}"
            for i in range(n)]


def _bits_columns_all() -> list[str]:
    return sorted({_bit(o, "eligible")[0] for o in registry.OUTCOMES})


def flag_sql(o: Outcome, flag: str, alias: str = "p") -> str:
    column, bit = _bit(o, flag)
    return f"(({alias}.{column} >> {bit}) & 1 = 1)"


def counting_sql(o: Outcome, alias: str = "p", flags: dict[str, str] | None = None) -> dict[str, str]:
    """The counting flags of one outcome on a per-session row (the mart or its live equivalent), as of $as_of
    (one per COUNT_COLUMNS).
    A session's window closes `close_days` after treatment (by indication where the outcome says so). `flags`
    names the per-session eligible / followed / event booleans (default: the outcome's bits in the mart)."""
    eligible, followed, event = ((flags or {})[f] if flags else flag_sql(o, f, alias) for f in FLAGS)
    closed = f"({alias}.treated_on + {o.close_days_sql(f'{alias}.indication')} <= $as_of)"
    elig = f"({eligible} AND {closed})"
    fu = f"({elig} AND {followed})"
    ev = f"({fu} AND {event})"
    if o.lost_to_follow_up == "event":
        num, den = f"({ev} OR ({elig} AND NOT {followed}))", elig
    else:
        num, den = ev, fu
    return {"eligible_n": elig, "followed_up_n": fu, "event_n": ev,
            "awaiting_n": f"({eligible} AND NOT {closed})", "numerator_n": num, "denominator_n": den,
            "crude_event_n": f"({elig} AND {event})"}


def per_session_sql(outcomes: list[Outcome]) -> str:
    """SELECT of one row per session with each outcome's base flags (_base_flags, as bits), plus the session's
    attributes.

    This is also the definition of the `session_outcomes` mart the loader publishes (see build_mart)."""
    aggregates = _contact_aggregates(outcomes)
    contact_agg = (f"SELECT f.treatment_id, {', '.join(aggregates)} FROM contacts f GROUP BY f.treatment_id"
                   if aggregates else "SELECT NULL::VARCHAR AS treatment_id WHERE false")
    flags = ", ".join(_bits_columns(outcomes))
    return f"""
WITH sessions AS ({model_sql('sessions')}),
contacts AS ({contacts_sql()}),
contact_agg AS ({contact_agg})
SELECT s.treatment_id, s.patient_ref, s.treated_on, s.clinician, s.indication, s.areas, s.product, s.units,
       s.is_primary, s.is_repeat, s.age_band, s.sex, s.lot_number, s.lot_expiry, s.dilution_ml_per_100u,
       {dose_band_sql('s')} AS dose_band, {flags}
FROM sessions s LEFT JOIN contact_agg c USING (treatment_id)"""


def outcome_sql(o: Outcome) -> str:
    """One outcome's whole counting query, written out readably: the staging models, the outcome's contact
    aggregates, its per-session eligible / followed-up / event flags and the counts as of `$as_of`.

    Built from the same pieces as the mart and `counts` (booleans instead of bits), so the file
    `python -m pipelines docs` writes to docs/sql/<outcome>.sql is the definition that runs, and a change of
    definition shows as a diff of that file. It runs as it is (tests/test_docs.py checks its counts)."""
    aggregates = _contact_aggregates([o])
    contact_agg = ("SELECT f.treatment_id,\n           " + ",\n           ".join(aggregates)
                   + "\n    FROM contacts f\n    GROUP BY f.treatment_id"
                   if aggregates else "SELECT NULL::VARCHAR AS treatment_id WHERE false")
    base = _base_flags(o)
    names = {"eligible": "p.is_eligible", "followed": "p.is_followed_up", "event": "p.has_event"}
    counts = counting_sql(o, "p", names)
    count_lines = ",\n       ".join(f"count(*) FILTER (WHERE {sql}) AS {name}" for name, sql in counts.items())
    sessions = model_sql("sessions").strip().replace("\n", "\n    ")
    contacts = contacts_sql().strip().replace("\n", "\n    ")
    return f"""WITH sessions AS (
    {sessions}
),

contacts AS (
    {contacts}
),

-- per session: this outcome's answers from its follow-up contacts inside the window
-- (__cf: a contact assessed it; __ce: the event)
contact_agg AS (
    {contact_agg}
),

-- per session: eligible (the denominator's population), followed up (assessed; never the event), event
per_session AS (
    SELECT s.treatment_id, s.treated_on, s.indication, s.clinician,
           {base["eligible"]} AS is_eligible,
           {base["followed"]} AS is_followed_up,
           {base["event"]} AS has_event
    FROM sessions s
    LEFT JOIN contact_agg c USING (treatment_id)
)

-- only sessions whose window has closed by $as_of count; awaiting_n are still open;
-- crude_event_n: events whether followed up or not (crude rate = crude_event_n / eligible_n)
SELECT {count_lines}
FROM per_session p
"""


MART = "session_outcomes"


def registry_fingerprint() -> str:
    """Changes whenever an outcome definition or a model SQL file changes: a mart built from another version of
    the definitions is never used."""
    return hashlib.sha256(per_session_sql(list(registry.OUTCOMES)).encode("utf-8")).hexdigest()[:16]


# Sessions whose flags a load may have changed, as a share of all sessions, above which the mart is rebuilt whole
# (recomputing most sessions through the subset tables costs more than one pass over everything).
INCREMENTAL_MAX_SHARE = 0.25
# The tables the mart's SQL reads (sql/sessions.sql, sql/contacts.sql) that a load writes.
_MART_INPUTS = ("treatments", "follow_ups")


def build_mart(con: duckdb.DuckDBPyConnection, changes: str | None = None) -> str:
    """Materialise every outcome's per-session flags as `session_outcomes` (the loader calls this before it
    publishes), so that dashboard queries are one aggregate scan. Built as of the data's own date: it serves every
    as-of date on or after that; an earlier as-of date is computed live from the same definitions.

    `changes` names a relation of the session rows a load wrote, as (treatment_id, patient_ref, treated_on,
    corrects_treatment_id): every treatments row inserted or replaced, in its new and (if replaced) its old version,
    and for every follow-up contact inserted or replaced, the session it belongs to (new and old; the other columns
    NULL). With it, and a mart built from the same definitions, only the sessions whose flags may have changed are
    recomputed (`_affected_sessions`); without it (or when most sessions are affected) the mart is rebuilt whole.
    Either way the mart holds exactly what a whole rebuild gives (tests/test_incremental_mart.py).
    Returns how it was built: "full", "incremental" or "unchanged"."""
    as_of = default_as_of(con)
    products = _products_fingerprint(con)
    mode = "full"
    if changes is not None and _mart_current(con, products):
        sessions_n = con.execute("SELECT count(*) FROM main.treatments").fetchall()[0][0]
        written_n = con.execute(f"SELECT count(DISTINCT treatment_id) FROM {changes}").fetchall()[0][0]
        # the sessions written are among the affected ones: when they alone are too many, rebuild whole at once
        affected_n = (_affected_sessions(con, changes) if written_n <= INCREMENTAL_MAX_SHARE * sessions_n
                      else sessions_n + 1)
        if affected_n == 0:
            mode = "unchanged"
        elif affected_n <= INCREMENTAL_MAX_SHARE * sessions_n:
            mode = "incremental"
    if mode == "full":
        con.execute(f"CREATE OR REPLACE TABLE {MART} AS {per_session_sql(list(registry.OUTCOMES))}",
                    {"as_of": as_of}).fetchall()
    elif mode == "incremental":
        _rebuild_affected(con, as_of)
    con.execute("DROP TABLE IF EXISTS temp.main.mart_affected").fetchall()
    con.execute("CREATE OR REPLACE TABLE mart_info (as_of DATE, registry_fingerprint VARCHAR, built_at TIMESTAMP, "
                "products_fingerprint VARCHAR)").fetchall()
    con.execute("INSERT INTO mart_info VALUES (?, ?, ?, ?)",
                [as_of, _fingerprint_cached(), dt.datetime.now().replace(microsecond=0), products]).fetchall()
    return mode


def _products_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The products table (botulinum-equivalent factors, which sessions join): the mart's one input besides the
    definitions and the loaded rows."""
    rows = con.execute("SELECT * FROM products ORDER BY ALL").fetchall()
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()[:16]


def _mart_current(con: duckdb.DuckDBPyConnection, products: str) -> bool:
    """Whether the stored mart was built from these definitions and these products (then it can be updated).
    Looks in the catalog rather than trying a query: a failed query would abort the load's transaction."""
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'mart_info'").fetchall()}
    has_mart = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = ?", [MART]).fetchall()[0][0]
    if not has_mart or not {"registry_fingerprint", "products_fingerprint"} <= columns:
        return False  # no mart yet, or one from before products_fingerprint
    row = con.execute("SELECT registry_fingerprint, products_fingerprint FROM mart_info").fetchall()
    return len(row) == 1 and row[0] == (_fingerprint_cached(), products)


def _affected_sessions(con: duckdb.DuckDBPyConnection, changes: str) -> int:
    """`mart_affected`: the sessions whose flags the changes may have changed. A session's flags depend on its own
    row, its follow-up contacts, the sessions that correct it (first correction, corrections) and its patient's
    sessions on earlier days with their contacts (is_repeat, responded_before: sql/sessions.sql `history`). So:
    every session written (old and new version), every session whose contacts were written, every session a
    written session corrects (or corrected), and every later session of those sessions' patients (from the
    earliest day a change touched, in the old and the new version of a row). Returns how many."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE mart_affected AS
            WITH touched AS (
                SELECT treatment_id FROM {changes} WHERE treatment_id IS NOT NULL
                UNION SELECT corrects_treatment_id FROM {changes} WHERE corrects_treatment_id IS NOT NULL
            ),
            anchors AS (
                SELECT patient_ref, treated_on FROM {changes} WHERE patient_ref IS NOT NULL
                UNION ALL
                SELECT t.patient_ref, t.treated_on FROM main.treatments t
                WHERE t.treatment_id IN (SELECT treatment_id FROM touched)
            ),
            since AS (SELECT patient_ref, min(treated_on) AS since_on FROM anchors GROUP BY patient_ref)
            SELECT treatment_id FROM touched
            UNION
            SELECT t.treatment_id FROM main.treatments t JOIN since s
              ON t.patient_ref = s.patient_ref AND t.treated_on >= s.since_on"""
    ).fetchall()
    return con.execute("SELECT count(*) FROM mart_affected").fetchall()[0][0]


def _rebuild_affected(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """Recompute the mart rows of `mart_affected` with the mart's own SQL (per_session_sql, unchanged), run over
    temp tables that shadow `treatments` and `follow_ups` with every row those sessions' flags read: all sessions
    of their patients (history), the sessions correcting them, and those sessions' contacts. Unqualified names
    resolve to temp tables first; the shadows are dropped before this returns, by their temp-qualified names."""
    try:
        con.execute(
            """CREATE TEMP TABLE treatments AS SELECT * FROM main.treatments
               WHERE patient_ref IN (SELECT t.patient_ref FROM main.treatments t
                                     WHERE t.treatment_id IN (SELECT treatment_id FROM mart_affected))
                  OR corrects_treatment_id IN (SELECT treatment_id FROM mart_affected)"""
        ).fetchall()
        con.execute(
            """CREATE TEMP TABLE follow_ups AS SELECT * FROM main.follow_ups
               WHERE treatment_id IN (SELECT treatment_id FROM temp.main.treatments)"""
        ).fetchall()
        con.execute(f"DELETE FROM {MART} WHERE treatment_id IN (SELECT treatment_id FROM mart_affected)").fetchall()
        con.execute(
            f"""INSERT INTO {MART} SELECT * FROM ({per_session_sql(list(registry.OUTCOMES))})
                WHERE treatment_id IN (SELECT treatment_id FROM mart_affected)""",
            {"as_of": as_of},
        ).fetchall()
    finally:
        for name in _MART_INPUTS:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{name}").fetchall()


@cache
def _fingerprint_cached() -> str:
    return registry_fingerprint()


def mart_usable(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> bool:
    try:
        row = con.execute("SELECT as_of, registry_fingerprint FROM mart_info").fetchall()
    except duckdb.CatalogException:
        return False
    return bool(row) and row[0][0] is not None and as_of >= row[0][0] and row[0][1] == _fingerprint_cached()


def per_session_source(con: duckdb.DuckDBPyConnection, outcomes: list[Outcome], as_of: dt.date) -> tuple[str, str]:
    """(CTE prefix, relation) holding the per-session flags: the published mart when it serves this as-of date,
    else the same definitions computed live."""
    if mart_usable(con, as_of):
        return "", MART
    return f"WITH per_session AS ({per_session_sql(outcomes)})", "per_session"


def _period_sql(period: str | None) -> str | None:
    if period is None:
        return None
    if period not in PERIODS:
        raise ValueError(f"unknown period `{period}`; choose one of: {', '.join(PERIODS)}")
    return f"CAST(date_trunc({literal(choice(period, PERIODS, 'period'))}, p.treated_on) AS DATE)"


def counts(
    con: duckdb.DuckDBPyConnection,
    outcome_keys=None,
    *,
    by: tuple[str, ...] | list[str] | str = (),
    period: str | None = None,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Counts per outcome and stratum, in the long shape described in the module docstring."""
    outcomes = _outcome_list(outcome_keys)
    by = (by,) if isinstance(by, str) else tuple(by)
    for b in by:
        if b not in STRATA:
            raise ValueError(f"unknown stratum `{b}`; choose from: {', '.join(STRATA)}")
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    group_exprs: list[tuple[str, str]] = []
    period_sql = _period_sql(period)
    if period_sql:
        group_exprs.append(("period_start", period_sql))
    group_exprs += [(b, STRATA[b]) for b in by]
    prefix, relation = per_session_source(con, outcomes, as_of)
    source = f"{relation} p"
    if "area" in by:
        source = f"(SELECT *, unnest(string_split(areas, '|')) AS area FROM {relation}) p"
    sums = ", ".join(f"sum(CAST({expr} AS INTEGER)) AS {ident(f'{o.key}__{c}')}"
                     for o in outcomes for c, expr in counting_sql(o).items())
    select_groups = ", ".join(f"{sql} AS {ident(name)}" for name, sql in group_exprs)
    sql = f"""
{prefix}
SELECT {select_groups + ', ' if select_groups else ''}{sums}
FROM {source}
WHERE {where}
{'GROUP BY ALL' if group_exprs else ''}
{'ORDER BY ALL' if group_exprs else ''}"""
    wide = con.execute(sql, {"as_of": as_of, **params}).df()
    return _long(wide, outcomes, [name for name, _ in group_exprs])


def _long(wide: pd.DataFrame, outcomes: list[Outcome], groups: list[str]) -> pd.DataFrame:
    frames = []
    for o in outcomes:
        part = wide[groups].copy() if groups else pd.DataFrame(index=wide.index)
        part.insert(0, "metric", o.key)
        for c in COUNT_COLUMNS:
            part[c] = wide[f"{o.key}__{c}"].fillna(0).astype("int64")
        frames.append(part)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["metric", *groups,
                                                                                    *COUNT_COLUMNS])
    if "period_start" in out:
        out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    return out


def add_rates(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """rate (headline), Wilson interval, crude rate (crude_event_n / eligible_n) and follow-up completeness, from the
    counts. A rate with no session in its denominator is missing (NaN), never 0."""
    out = frame.copy()
    num = out["numerator_n"].to_numpy(dtype=float)
    den = out["denominator_n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(den > 0, num / den, np.nan)
        low, high = stats.wilson_interval(num, np.where(den > 0, den, 1), confidence)
        out["ci_low"] = np.where(den > 0, low, np.nan)
        out["ci_high"] = np.where(den > 0, high, np.nan)
        elig = out["eligible_n"].to_numpy(dtype=float)
        # a frame without the crude count (built by hand, not by counts()) has no crude rate: unknown, never the
        # events among followed-up sessions over all eligible ones
        crude = out["crude_event_n"].to_numpy(dtype=float) if "crude_event_n" in out else np.full(len(out), np.nan)
        out["crude_rate"] = np.where(elig > 0, crude / np.where(elig > 0, elig, 1), np.nan)
        out["followup_completeness"] = np.where(elig > 0, out["followed_up_n"] / np.where(elig > 0, elig, 1),
                                                np.nan)
    return out


def rates(con, outcome_keys=None, *, confidence: float = 0.95, **kwargs) -> pd.DataFrame:
    return add_rates(counts(con, outcome_keys, **kwargs), confidence)


def session_outcomes(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    only_denominator: bool = True,
    only_numerator: bool = False,
) -> pd.DataFrame:
    """Row-level view of one outcome: one row per eligible session (`only_denominator`: per denominator session;
    `only_numerator`: only the sessions counted in the numerator, filtered in SQL), with its flags (pseudonymous ids
    only)."""
    o = registry.get(outcome_key)
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    c = counting_sql(o)
    prefix, relation = per_session_source(con, [o], as_of)
    cond = (c["numerator_n"] if only_numerator else c["denominator_n"] if only_denominator
            else flag_sql(o, "eligible"))
    sql = f"""
{prefix}
SELECT p.treatment_id, p.patient_ref, p.treated_on, p.clinician, p.indication, p.areas, p.product, p.units,
       p.is_repeat, p.lot_number, p.lot_expiry, {c["eligible_n"]} AS is_closed, {c["followed_up_n"]} AS is_followed_up,
       {c["event_n"]} AS is_event, {c["numerator_n"]} AS in_numerator, {c["denominator_n"]} AS in_denominator
FROM {relation} p
WHERE {cond} AND {where}
ORDER BY p.treated_on, p.treatment_id"""
    out = con.execute(sql, {"as_of": as_of, **params}).df()
    out["treated_on"] = pd.to_datetime(out["treated_on"]).dt.date
    return out


CASE_MIX = ("indication", "areas", "product", "is_repeat")  # the strata of indirect standardisation

# Case-mix adjustment (O/E and the CUSUM) compares a clinician with the rest of the clinic:
# - the reference is the whole clinic within the date range: the other filters (clinicians, indications, areas,
#   products) only choose whose observed and expected counts are reported, so filtering never moves the yardstick;
# - leave-one-out: a clinician's expected risks come from the other clinicians' sessions only, so an outlier
#   cannot hide in (and inflate) their own reference;
# - small strata are shrunk towards the others' overall rate by `shrink_sessions` pseudo-sessions: a stratum the
#   clinician has to themself gets the others' overall rate, never the clinician's own events back (E = O);
# - the CUSUM's expected risks use only what was known on the treatment day: the other clinicians' sessions whose
#   windows had closed by then (an expanding window), so later data never change a past point or signal;
# - O/E only: clinicians found far from the rest in a first pass (analysis.reference_outliers) are left out of every
#   reference (`exclude`), so one outlier does not push all its colleagues below 1.


def reference_filters(filters: Filters) -> Filters:
    """The reference population's filters: the date range only."""
    return Filters(date_from=filters.date_from, date_to=filters.date_to)


def _reference_sql(con, o: Outcome, filters: Filters, as_of: dt.date) -> tuple[str, dict]:
    """A statement prefix ending in the CTE `ref`: one row per denominator session of the reference population
    (every clinician, the date range of `filters` only) with y (in the numerator, 0/1), the case-mix strata,
    `closes_on` (the day its window closes: its outcome is known from then on) and `is_reported` (it also passes
    the other filters: its clinician's observed and expected counts are reported)."""
    where, params = filters.sql("p")
    ref_where, ref_params = reference_filters(filters).sql("p")
    c = counting_sql(o)
    prefix, relation = per_session_source(con, [o], as_of)
    sql = f"""
{prefix}{',' if prefix else 'WITH'}
ref AS (
    SELECT p.treatment_id, p.clinician, p.treated_on,
           CAST(p.treated_on + {o.close_days_sql('p.indication')} AS DATE) AS closes_on,
           {', '.join('p.' + x for x in CASE_MIX)}, CAST({c["numerator_n"]} AS INTEGER) AS y,
           coalesce({where}, false) AS is_reported
    FROM {relation} p WHERE {c["denominator_n"]} AND {ref_where}
)"""
    return sql, {"as_of": as_of, **ref_params, **params}


def _shrunk_rate_sql(k: str = "$k") -> str:
    """A session's expected risk from the other clinicians' counts (columns others_stratum_e / _n: in its stratum,
    others_e / others_n: overall): (stratum events + k x overall rate) / (stratum sessions + k). NULL when the
    others have no session at all (no reference: no expected count)."""
    overall = "(CAST(others_e AS DOUBLE) / others_n)"
    return (f"CASE WHEN others_n = 0 THEN NULL WHEN others_stratum_n + {k} = 0 THEN {overall} "
            f"ELSE (others_stratum_e + {k} * {overall}) / (others_stratum_n + {k}) END")


def _loo_cells_sql(prefix: str) -> str:
    """`prefix` (ending in `ref`) plus the CTE `rated`: one row per clinician and stratum with the reference's
    counts (n, e), the reported ones (reported_n, reported_e), the other clinicians' counts and p, the
    leave-one-out shrunk stratum rate. Clinicians in the bound list $exclude are left out of every other
    clinician's reference too (their own expected risks still come from the clinicians not excluded), unless that
    leaves a clinician without any reference session: then that clinician's reference is every other clinician."""
    strata = ", ".join(CASE_MIX)
    kept_n, kept_e = "CASE WHEN is_excluded THEN 0 ELSE n END", "CASE WHEN is_excluded THEN 0 ELSE e END"
    return f"""{prefix},
cells AS (
    SELECT clinician, {strata}, count(*) AS n, sum(y) AS e, count(*) FILTER (WHERE is_reported) AS reported_n,
           coalesce(sum(y) FILTER (WHERE is_reported), 0) AS reported_e,
           list_contains(CAST($exclude AS VARCHAR[]), clinician) AS is_excluded
    FROM ref GROUP BY ALL
),
sums AS (
    SELECT *,
           sum(n) OVER s - n AS loo_stratum_n, sum(e) OVER s - e AS loo_stratum_e,
           sum(n) OVER () - sum(n) OVER c AS loo_n, sum(e) OVER () - sum(e) OVER c AS loo_e,
           sum({kept_n}) OVER s - {kept_n} AS kept_stratum_n, sum({kept_e}) OVER s - {kept_e} AS kept_stratum_e,
           sum({kept_n}) OVER () - sum({kept_n}) OVER c AS kept_n,
           sum({kept_e}) OVER () - sum({kept_e}) OVER c AS kept_e
    FROM cells WINDOW s AS (PARTITION BY {strata}), c AS (PARTITION BY clinician)
),
others AS (
    SELECT *, kept_n > 0 AS is_kept,
           CASE WHEN kept_n > 0 THEN kept_stratum_n ELSE loo_stratum_n END AS others_stratum_n,
           CASE WHEN kept_n > 0 THEN kept_stratum_e ELSE loo_stratum_e END AS others_stratum_e,
           CASE WHEN kept_n > 0 THEN kept_n ELSE loo_n END AS others_n,
           CASE WHEN kept_n > 0 THEN kept_e ELSE loo_e END AS others_e
    FROM sums
),
rated AS (SELECT *, {_shrunk_rate_sql()} AS p FROM others)"""


def _exact_sum(values: pd.Series) -> float:
    """SQL's sum of a float column, exactly rounded: the known values summed with math.fsum; NaN when none is
    known."""
    known = values.dropna().astype(float)
    return math.fsum(known) if len(known) else float("nan")


def expected_by_clinician(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    shrink_sessions: float,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    exclude: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Indirect standardisation against the rest of the clinic. A session's expected risk is the rate of its
    case-mix stratum (indication x areas x product x first/repeat treatment) among the OTHER clinicians' sessions
    (leave-one-out), shrunk towards their overall rate by `shrink_sessions` pseudo-sessions:
    (others' stratum events + k x others' rate) / (others' stratum sessions + k). The reference is every clinician's
    denominator sessions within the date range of `filters` (counted as of `as_of`); the other filters only choose
    the sessions whose observed and expected counts are reported, so a clinician's O/E is the same whoever else is
    filtered in or out. Summed per clinician with a reported session.

    `exclude`: clinicians left out of every reference (also the other clinicians'), e.g. outliers found in a first
    pass (analysis.case_mix); a clinician left with no reference session at all then falls back to every other
    clinician.

    Returns clinician, numerator_n (observed), expected_n (NaN when no other clinician has a session), denominator_n.
    """
    prefix, params = _reference_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    # one row per clinician and stratum; the expected counts are summed here with math.fsum, which is exactly
    # rounded and so the same in every run (a parallel SQL sum of floats may differ in the last bits between runs,
    # and the page's file must be the command line's byte for byte)
    sql = f"""{_loo_cells_sql(prefix)}
SELECT clinician, CAST(reported_e AS BIGINT) AS reported_e, CAST(reported_n AS BIGINT) AS reported_n,
       CAST(reported_n * p AS DOUBLE) AS expected
FROM rated WHERE reported_n > 0 ORDER BY clinician"""
    cells = con.execute(sql, {**params, "k": float(shrink_sessions), "exclude": list(exclude)}).df()
    rows = [
        {"clinician": clinician, "numerator_n": int(group["reported_e"].sum()),
         "expected_n": _exact_sum(group["expected"]),
         "denominator_n": int(group["reported_n"].sum())}
        for clinician, group in cells.groupby("clinician", sort=True)
    ]
    out = pd.DataFrame(rows, columns=["clinician", "numerator_n", "expected_n", "denominator_n"])
    out["numerator_n"] = out["numerator_n"].astype("int64")
    out["denominator_n"] = out["denominator_n"].astype("int64")
    out["expected_n"] = out["expected_n"].astype(float)
    return out


def session_risks(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    shrink_sessions: float,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    exclude: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Per reported denominator session in date order: clinician, treated_on, y (0/1) and `expected`, its risk as
    expected_by_clinician computes it (leave-one-out, shrunk), with `others_stratum_n`, the other clinicians'
    sessions in its stratum. expected_by_clinician's expected_n is the sum of `expected` per clinician."""
    prefix, params = _reference_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    strata = " AND ".join(f"r.{x} IS NOT DISTINCT FROM c.{x}" for x in CASE_MIX)
    sql = f"""{_loo_cells_sql(prefix)}
SELECT r.treatment_id, r.clinician, r.treated_on, r.y, c.p AS expected, c.others_stratum_n
FROM ref r JOIN rated c ON r.clinician = c.clinician AND {strata}
WHERE r.is_reported ORDER BY r.clinician, r.treated_on, r.treatment_id"""
    out = con.execute(sql, {**params, "k": float(shrink_sessions), "exclude": list(exclude)}).df()
    out["treated_on"] = pd.to_datetime(out["treated_on"]).dt.date
    return out


RISK_FLOOR = 1e-4  # a CUSUM's expected risks are kept inside [RISK_FLOOR, 1 - RISK_FLOOR] (finite weights)


def cusum_risks(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    shrink_sessions: float,
    min_reference_events: int,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """The risk-adjusted CUSUM's inputs: one row per reported denominator session, in chart order (clinician,
    treatment day, then treatment_id for sessions of the same day).

    A session's expected risk uses only what was known on its treatment day d: the OTHER clinicians' sessions of
    the reference (the date range of `filters`) whose windows had closed by d (closes_on <= d; an expanding
    window). p = (their events in its stratum + k P) / (their sessions in its stratum + k), P their overall rate,
    k = `shrink_sessions`, kept inside [RISK_FLOOR, 1 - RISK_FLOOR]. Sessions whose reference on that day holds
    fewer than `min_reference_events` events or non-events have no usable expectation yet and are left out (the
    chart starts once the reference is large enough). Sessions added later (treated later, or whose windows
    close later) never change the risk of an earlier treatment day.

    The reference sessions come from SQL (`ref`); the running counts are sorted-key lookups in numpy (four sorts,
    no loop per session). Columns: clinician, treated_on, y, expected, others_n, others_e (the reference's
    sessions and events on that day)."""
    prefix, params = _reference_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    strata = ", ".join(CASE_MIX)
    same_stratum = " AND ".join(f"r.{x} IS NOT DISTINCT FROM s.{x}" for x in CASE_MIX)
    # numbers only (strata and clinicians numbered through small tables, days since 1970): cheap to fetch
    sql = f"""{prefix},
s AS (SELECT {strata}, row_number() OVER () AS stratum_id FROM (SELECT DISTINCT {strata} FROM ref)),
c AS (SELECT clinician, row_number() OVER (ORDER BY clinician) - 1 AS clinician_id
      FROM (SELECT DISTINCT clinician FROM ref))
SELECT s.stratum_id, c.clinician_id, CAST(r.treated_on - DATE '1970-01-01' AS BIGINT) AS treated_day,
       CAST(r.closes_on - DATE '1970-01-01' AS BIGINT) AS closes_day, r.y, r.is_reported,
       row_number() OVER (ORDER BY r.clinician, r.treated_on, r.treatment_id) AS chart_order
FROM ref r JOIN s ON {same_stratum} JOIN c ON r.clinician IS NOT DISTINCT FROM c.clinician"""
    ref = con.execute(sql, params).fetchnumpy()
    codes = [row[0] for row in con.execute(f"{prefix} SELECT DISTINCT clinician FROM ref ORDER BY clinician",
                                           params).fetchall()]
    columns = ["clinician", "treated_on", "y", "expected", "others_n", "others_e"]
    reported = np.asarray(ref["is_reported"], dtype=bool)
    if not reported.any():
        return pd.DataFrame(columns=columns)
    stratum = np.asarray(ref["stratum_id"], dtype=np.int64)
    clinician = np.asarray(ref["clinician_id"], dtype=np.int64)
    closes = np.asarray(ref["closes_day"], dtype=np.int64)
    y = np.asarray(ref["y"], dtype=np.int64)
    rows = np.flatnonzero(reported)
    rows = rows[np.argsort(np.asarray(ref["chart_order"], dtype=np.int64)[rows], kind="stable")]  # chart order
    day = np.asarray(ref["treated_day"], dtype=np.int64)[rows]
    n_clinicians = len(codes)

    def closed_by(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per reported session: reference sessions (and their events) of its group closed by its treatment day."""
        return _running_counts(group, closes, y, group[rows], day)

    stratum_n, stratum_e = closed_by(stratum)
    own_stratum_n, own_stratum_e = closed_by(stratum * n_clinicians + clinician)
    all_n, all_e = closed_by(np.zeros_like(stratum))
    own_n, own_e = closed_by(clinician)
    others_n, others_e = all_n - own_n, all_e - own_e
    others_stratum_n, others_stratum_e = stratum_n - own_stratum_n, stratum_e - own_stratum_e
    k = float(shrink_sessions)
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = others_e / others_n
        p = np.where(others_stratum_n + k > 0, (others_stratum_e + k * overall) / (others_stratum_n + k), overall)
    p = np.clip(p, RISK_FLOOR, 1 - RISK_FLOOR)
    usable = (others_e >= min_reference_events) & (others_n - others_e >= min_reference_events)
    picked = rows[usable]
    # the codes taken from a string array of the few distinct codes, not one Python string per session converted
    # to the string dtype one at a time (7x less CPU for this column); an empty column stays the empty object
    # column it always was
    names = (pd.array(codes, dtype="str").take(clinician[picked]) if picked.size
             else np.asarray(codes, dtype=object)[clinician[picked]])
    return pd.DataFrame({"clinician": names,
                         "treated_on": day[usable].astype("datetime64[D]").astype(object),
                         "y": y[picked], "expected": p[usable], "others_n": others_n[usable],
                         "others_e": others_e[usable]})[columns]


DENSE_CELLS = 2_000_000  # _running_counts uses a dense (group x day) table up to this many cells


def _running_counts(ref_group: np.ndarray, ref_day: np.ndarray, ref_y: np.ndarray, group: np.ndarray,
                    day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query (group[i], day[i]): how many reference rows of the same group have ref_day <= day[i], and
    the sum of their ref_y. Small (groups x days) tables are counted densely (a cumulative sum per group over the
    days), larger ones by one sort of the reference by (group, day) and two binary searches per query."""
    low = min(int(ref_day.min()), int(day.min()))
    span = max(int(ref_day.max()), int(day.max())) - low + 1
    groups = int(max(ref_group.max(), group.max())) + 1
    if groups * span <= DENSE_CELLS:
        cells = ref_group * span + (ref_day - low)
        n = np.bincount(cells, minlength=groups * span).reshape(groups, span).cumsum(axis=1)
        e = np.bincount(cells, weights=ref_y, minlength=groups * span).reshape(groups, span).cumsum(axis=1)
        return n[group, day - low], np.rint(e[group, day - low]).astype(np.int64)
    keys = ref_group * span + (ref_day - low)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    cum_e = np.concatenate([[0], np.cumsum(ref_y[order])])
    upto = np.searchsorted(keys, group * span + (day - low), side="right")
    first = np.searchsorted(keys, group * span, side="left")
    return upto - first, cum_e[upto] - cum_e[first]
