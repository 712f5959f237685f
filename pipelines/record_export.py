"""The pseudonymised record-level export for the auditor.

One row per session with its outcome flags. Patient and session references are re-keyed with HMAC-SHA256 under a
key drawn fresh for every export and never stored, so two exports cannot be linked to each other or back to the
clinic's references; clinicians appear by code. No free text leaves: only contract columns with fixed value sets,
dates, numbers and the outcome flags.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import duckdb
import pandas as pd

from pipelines import metrics
from pipelines import outcomes as registry
from pipelines.metrics import Filters

SESSION_COLUMNS = ["treated_on", "clinician", "indication", "areas", "product", "units", "is_primary", "is_repeat",
                   "age_band", "sex"]


def rekey(values: pd.Series, key: bytes, prefix: str) -> pd.Series:
    """HMAC-SHA256 under `key`, shortened to 16 hex digits (64 bits: no collisions at clinic scale)."""
    cache: dict[str, str] = {}

    def one(v: str) -> str:
        if v not in cache:
            cache[v] = prefix + hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        return cache[v]

    return values.map(one)


def records(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    key: bytes | None = None,
) -> pd.DataFrame:
    """Sessions with, per outcome, in_denominator / in_numerator (as of `as_of`), references re-keyed."""
    key = key or secrets.token_bytes(32)
    as_of = as_of or metrics.default_as_of(con)
    prefix, relation = metrics.per_session_source(con, list(registry.OUTCOMES), as_of)
    flags = []
    for o in registry.OUTCOMES:
        c = metrics.counting_sql(o)
        flags.append(f'{c["denominator_n"]} AS "{o.key}__in_denominator"')
        flags.append(f'{c["numerator_n"]} AS "{o.key}__in_numerator"')
    where, params = filters.sql("p")
    sql = f"""{prefix}
SELECT p.patient_ref, p.treatment_id, {', '.join('p.' + c for c in SESSION_COLUMNS)}, {', '.join(flags)}
FROM {relation} p WHERE {where} ORDER BY p.treated_on, p.treatment_id"""
    frame = con.execute(sql, {"as_of": as_of, **params}).df()
    frame.insert(0, "patient_key", rekey(frame.pop("patient_ref"), key, "P"))
    frame.insert(1, "session_key", rekey(frame.pop("treatment_id"), key, "S"))
    frame["treated_on"] = pd.to_datetime(frame["treated_on"]).dt.date
    return frame


def record_count(con: duckdb.DuckDBPyConnection, *, filters: Filters = Filters(),
                 as_of: dt.date | None = None) -> int:
    """How many rows `records` would give with these filters (one per session), without building them."""
    as_of = as_of or metrics.default_as_of(con)
    prefix, relation = metrics.per_session_source(con, list(registry.OUTCOMES), as_of)
    where, params = filters.sql("p")
    sql = f"{prefix} SELECT count(*) FROM {relation} p WHERE {where}"
    if "$as_of" in sql:  # the live definitions need it; the published mart does not
        params = {"as_of": as_of, **params}
    return int(con.execute(sql, params).fetchall()[0][0])
