"""How much headache and sweating treatments help: change from baseline, beside the registry's response outcomes.

The sessions, windows and follow-up rules are those of the registry outcomes `headache_non_response` and
`hyperhidrosis_non_response` (pipelines/metrics/registry.py), so the counts here agree with their rates:

- headache: per eligible session whose window has closed, the headache-days count of the *latest* contact inside
  the window that recorded one (the contact that decides response: a responder has at most half the baseline
  days), and its change from the baseline diary. Sessions with no headache-days count in the window are *lost to
  follow-up*; the registry counts them as non-responders, and they are reported here as their own count, never as
  zero change.
- hyperhidrosis: the HDSS of the latest contact in the window that judged response (a usable HDSS pair or an effect
  judgement), against the baseline HDSS, when that contact's HDSS decided (baseline 3 or 4 and a score); otherwise
  no HDSS drop (the effect judgement decided, or the session was not followed up).

Everything is aggregated in DuckDB; only per-period / per-bin counts and means leave the database.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from pipelines.metrics import counting, registry
from pipelines.metrics.counting import PERIODS, Filters, default_as_of
from pipelines.sqltext import choice, literal

HEADACHE_OUTCOME = "headache_non_response"
SWEATING_OUTCOME = "hyperhidrosis_non_response"
PCT_BIN = 10  # width of the bins of percentage change in headache days
# the value at the latest contact that assessed the outcome (the registry's `assessed`; same-day contacts: the
# larger follow_up_id), as the registry's `latest` judges response; a struct keeps a NULL value of that contact
HEADACHE_VALUE = ("(arg_max({'v': f.headache_days}, (f.seen_on, f.follow_up_id)) "
                  f"FILTER (WHERE {registry.get(HEADACHE_OUTCOME).assessed})).v")
HDSS_VALUE = (f"(arg_max({{'v': CASE WHEN {registry.HDSS_PAIR} THEN f.hdss END}}, (f.seen_on, f.follow_up_id)) "
              f"FILTER (WHERE {registry.get(SWEATING_OUTCOME).assessed})).v")


def _base_cte(con: duckdb.DuckDBPyConnection, outcome_key: str, value_sql: str, as_of: dt.date) -> str:
    """`WITH ..., base AS (...)`: one row per eligible session of the outcome whose window has closed by $as_of,
    with `value` = the deciding follow-up value in its window (NULL when none was recorded), the baselines and the
    session attributes the filters use (alias p). The eligibility and window come from the registry, through the
    published per-session mart when it serves this as-of date."""
    o = registry.get(outcome_key)
    c = counting.counting_sql(o)
    prefix, relation = counting.per_session_source(con, [o], as_of)
    return f"""{prefix}{',' if prefix else 'WITH'}
eligible AS (
    SELECT p.treatment_id, p.treated_on, p.clinician, p.indication, p.product, string_split(p.areas, '|') AS area_list
    FROM {relation} p WHERE {c["eligible_n"]}
),
contacts AS ({counting.contacts_sql("(SELECT * FROM follow_ups WHERE treatment_id IN (SELECT treatment_id FROM eligible))")}),
deciding AS (
    SELECT f.treatment_id, {value_sql} AS value
    FROM contacts f
    WHERE {o.in_window_sql()}
    GROUP BY f.treatment_id
),
base AS (
    SELECT e.*, t.baseline_headache_days, t.baseline_hdss, b.value
    FROM eligible e JOIN treatments t USING (treatment_id) LEFT JOIN deciding b USING (treatment_id)
)"""


def headache_change(
    con: duckdb.DuckDBPyConnection,
    *,
    period: str | None = "quarter",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Change in headache days per month from the baseline diary, per indication (and period of treatment).

    Columns: [period_start,] indication, eligible_n, measured_n, lost_n, responders_n, baseline_mean,
    follow_up_mean, change_mean, change_sd, change_low, change_high (normal 95 % interval of the mean change),
    pct_change_mean, pct_change_median.
    """
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    if period is not None and period not in PERIODS:
        raise ValueError(f"unknown period `{period}`; choose one of: {', '.join(PERIODS)}")
    groups = ([f"CAST(date_trunc({literal(choice(period, PERIODS, 'period'))}, p.treated_on) AS DATE) AS period_start"]
              if period else [])
    groups.append("p.indication")
    sql = f"""
{_base_cte(con, HEADACHE_OUTCOME, HEADACHE_VALUE, as_of)}
SELECT {', '.join(groups)},
       count(*) AS eligible_n,
       count(p.value) AS measured_n,
       count(*) - count(p.value) AS lost_n,
       count(*) FILTER (WHERE p.value <= 0.5 * p.baseline_headache_days) AS responders_n,
       favg(p.baseline_headache_days) FILTER (WHERE p.value IS NOT NULL) AS baseline_mean,
       favg(p.value) AS follow_up_mean,
       favg(p.value - p.baseline_headache_days) AS change_mean,
       stddev_samp(p.value - p.baseline_headache_days) AS change_sd,
       favg(100 * (p.value - p.baseline_headache_days) / p.baseline_headache_days) AS pct_change_mean,
       median(100 * (p.value - p.baseline_headache_days) / p.baseline_headache_days) AS pct_change_median
FROM base p
WHERE {where}
GROUP BY ALL ORDER BY ALL"""
    out = con.execute(sql, {"as_of": as_of, **params}).df()
    for c in ("eligible_n", "measured_n", "lost_n", "responders_n"):
        out[c] = out[c].astype("int64")
    n = out["measured_n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = 1.959964 * out["change_sd"].to_numpy(dtype=float) / np.sqrt(n)
    out["change_low"] = out["change_mean"] - half
    out["change_high"] = out["change_mean"] + half
    if "period_start" in out:
        out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    return out


def headache_change_distribution(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    bin_pct: int = PCT_BIN,
) -> pd.DataFrame:
    """Sessions per bin of percentage change in headache days, per indication. Bins are closed at the top
    (bin_start, bin_end], the lowest is [-100, -100 + bin] (-100 % = headache-free) and changes above +100 % go in
    the top bin, so `responder` (bin_end <= -50) is exactly the registry's "at most half the baseline days".
    Sessions lost to follow-up are one row per indication with NULL bins.

    Columns: indication, bin_start, bin_end (percent), sessions_n, responder.
    """
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    sql = f"""
{_base_cte(con, HEADACHE_OUTCOME, HEADACHE_VALUE, as_of)},
pct AS (
    SELECT p.indication,
           CASE WHEN p.value IS NOT NULL
                THEN least(100.0, 100.0 * (p.value - p.baseline_headache_days) / p.baseline_headache_days) END AS pct
    FROM base p WHERE {where}
)
SELECT indication,
       CASE WHEN pct IS NOT NULL
            THEN greatest(CAST(ceil(pct / $bin) * $bin AS INTEGER), CAST($bin AS INTEGER) - 100) END AS bin_end,
       count(*) AS sessions_n
FROM pct GROUP BY ALL ORDER BY indication, bin_end NULLS LAST"""
    out = con.execute(sql, {"as_of": as_of, "bin": float(bin_pct), **params}).df()
    out["sessions_n"] = out["sessions_n"].astype("int64")
    out["bin_end"] = out["bin_end"].astype("Int64")
    out["bin_start"] = out["bin_end"] - bin_pct
    out["responder"] = (out["bin_end"] <= -50).fillna(False).astype(bool)
    return out[["indication", "bin_start", "bin_end", "sessions_n", "responder"]]


def hdss_change(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Hyperhidrosis: sessions by the drop in HDSS points (baseline minus the score of the latest contact in the
    window that judged response).

    Columns: hdss_drop (NULL = the HDSS did not decide: a baseline other than 3-4, no score at that contact (the
    effect judgement decided), or no contact that judged response), sessions_n.
    A drop of 2 or more is a response by the registry's definition.
    """
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("p")
    sql = f"""
{_base_cte(con, SWEATING_OUTCOME, HDSS_VALUE, as_of)}
SELECT CAST(p.baseline_hdss - p.value AS INTEGER) AS hdss_drop, count(*) AS sessions_n
FROM base p WHERE {where}
GROUP BY ALL ORDER BY hdss_drop NULLS LAST"""
    out = con.execute(sql, {"as_of": as_of, **params}).df()
    out["hdss_drop"] = out["hdss_drop"].astype("Int64")
    out["sessions_n"] = out["sessions_n"].astype("int64")
    return out
