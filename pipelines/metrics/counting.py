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
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines import stats
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
}
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
       s.is_primary, s.is_repeat, s.age_band, s.sex, {flags}
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


def build_mart(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise every outcome's per-session flags as `session_outcomes` (the loader calls this before it
    publishes), so that dashboard queries are one aggregate scan. Built as of the data's own date: it serves every
    as-of date on or after that; an earlier as-of date is computed live from the same definitions."""
    as_of = default_as_of(con)
    con.execute(f"CREATE OR REPLACE TABLE {MART} AS {per_session_sql(list(registry.OUTCOMES))}",
                {"as_of": as_of}).fetchall()
    con.execute("CREATE OR REPLACE TABLE mart_info (as_of DATE, registry_fingerprint VARCHAR, built_at TIMESTAMP)"
                ).fetchall()
    con.execute("INSERT INTO mart_info VALUES (?, ?, ?)",
                [as_of, registry_fingerprint(), dt.datetime.now().replace(microsecond=0)]).fetchall()


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
) -> pd.DataFrame:
    """Row-level view of one outcome: one row per eligible session, with its flags (pseudonymous ids only)."""
    o = registry.get(outcome_key)
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    c = counting_sql(o)
    prefix, relation = per_session_source(con, [o], as_of)
    cond = c["denominator_n"] if only_denominator else flag_sql(o, "eligible")
    sql = f"""
{prefix}
SELECT p.treatment_id, p.patient_ref, p.treated_on, p.clinician, p.indication, p.areas, p.product, p.units,
       p.is_repeat, {c["eligible_n"]} AS is_closed, {c["followed_up_n"]} AS is_followed_up,
       {c["event_n"]} AS is_event, {c["numerator_n"]} AS in_numerator, {c["denominator_n"]} AS in_denominator
FROM {relation} p
WHERE {cond} AND {where}
ORDER BY p.treated_on, p.treatment_id"""
    out = con.execute(sql, {"as_of": as_of, **params}).df()
    out["treated_on"] = pd.to_datetime(out["treated_on"]).dt.date
    return out


CASE_MIX = ("indication", "areas", "product", "is_repeat")  # the strata of indirect standardisation


def _case_mix_sql(con, o: Outcome, filters: Filters, as_of: dt.date) -> tuple[str, dict]:
    """A statement prefix ending in the CTE `risk`: one row per denominator session with y (in the numerator, 0/1),
    `expected` (the rate of its case-mix stratum over all clinicians, over the same sessions) and `stratum_n`."""
    where, params = filters.sql("p")
    c = counting_sql(o)
    prefix, relation = per_session_source(con, [o], as_of)
    strata = ", ".join(CASE_MIX)
    sql = f"""
{prefix}{',' if prefix else 'WITH'}
base AS (
    SELECT p.treatment_id, p.clinician, p.treated_on, {', '.join('p.' + x for x in CASE_MIX)},
           CAST({c["numerator_n"]} AS INTEGER) AS y
    FROM {relation} p WHERE {c["denominator_n"]} AND {where}
),
risk AS (
    SELECT *, avg(y) OVER (PARTITION BY {strata}) AS expected, count(*) OVER (PARTITION BY {strata}) AS stratum_n
    FROM base
)"""
    return sql, {"as_of": as_of, **params}


def expected_by_clinician(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Indirect standardisation: each session's expected risk is the clinic-wide rate in its case-mix stratum
    (indication x areas x product x first/repeat treatment), over the same sessions; summed per clinician.

    Returns clinician, numerator_n (observed), expected_n, denominator_n.
    """
    prefix, params = _case_mix_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    sql = f"""{prefix}
SELECT clinician, sum(y) AS numerator_n, sum(expected) AS expected_n, count(*) AS denominator_n
FROM risk GROUP BY clinician ORDER BY clinician"""
    return con.execute(sql, params).df()


def session_risks(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Per denominator session in date order: clinician, treated_on, y (0/1), its case-mix expected risk (the
    stratum's rate over all clinicians) and the stratum's size."""
    prefix, params = _case_mix_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    sql = f"""{prefix}
SELECT treatment_id, clinician, treated_on, y, expected, stratum_n
FROM risk ORDER BY clinician, treated_on, treatment_id"""
    out = con.execute(sql, params).df()
    out["treated_on"] = pd.to_datetime(out["treated_on"]).dt.date
    return out


def daily_risks(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    shrink_sessions: float,
    odds_ratio: float,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> tuple[pd.DataFrame, float]:
    """The risk-adjusted CUSUM's inputs per clinician and treatment day, aggregated in DuckDB.

    A session's expected risk p is its case-mix stratum rate shrunk towards the clinic rate p0 by
    `shrink_sessions` pseudo-sessions: (stratum events + k p0) / (stratum sessions + k), kept inside [1e-4, 1 - 1e-4].
    Per clinician and day: sessions_n, events_n, expected_n (sum of p) and log_term (sum of ln(1 - p + R p)), from
    which the day's CUSUM weight is events_n ln R - log_term. Returns (frame, p0)."""
    prefix, params = _case_mix_sql(con, registry.get(outcome_key), filters, as_of or default_as_of(con))
    sql = f"""{prefix},
clinic AS (SELECT avg(y) AS p0 FROM risk),
shrunk AS (
    SELECT r.clinician, r.treated_on, r.y,
           least(greatest((r.expected * r.stratum_n + $k * c.p0) / (r.stratum_n + $k), 1e-4), 1 - 1e-4) AS p
    FROM risk r, clinic c
)
SELECT clinician, treated_on, count(*) AS sessions_n, sum(y) AS events_n, sum(p) AS expected_n,
       sum(ln(1 - p + $odds_ratio * p)) AS log_term, (SELECT p0 FROM clinic) AS p0
FROM shrunk GROUP BY clinician, treated_on ORDER BY clinician, treated_on"""
    out = con.execute(sql, {**params, "k": float(shrink_sessions), "odds_ratio": float(odds_ratio)}).df()
    p0 = float(out["p0"].iloc[0]) if len(out) else float("nan")
    out = out.drop(columns="p0")
    out["treated_on"] = pd.to_datetime(out["treated_on"]).dt.date
    return out, p0
