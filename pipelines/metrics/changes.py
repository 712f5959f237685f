"""Process changes: what changed in the clinic and when (the `process_changes` reference table of the data
contract), for the time charts.

Every time chart draws the changes that concern it as dated annotations; a change with `rebase = yes` starts a
new chart part from the first period starting on or after its date (centre line, limits and run rules recomputed
per part, as qicharts2's `part`; pipelines.stats.p_chart). Which changes concern a chart (`concerning`):

- `outcome`: empty = every outcome, else only that outcome's charts;
- `clinician` / `product`: empty = the whole clinic; else the change concerns a chart unless the chart's filters
  leave that clinician (product) out. A clinic-wide chart is re-based by a change of one product or one clinician
  too: the clinic's process changed.

A database published before the table existed has no process changes (an empty frame, never an error).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from pipelines.metrics.counting import Filters

COLUMNS = ["changed_on", "description", "outcome", "product", "clinician", "rebase"]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
                            [name]).fetchall()[0][0])


def process_changes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every process change, oldest first: changed_on (date), description, outcome / product / clinician ('' when
    the change concerns all), rebase (bool; empty in the file = no)."""
    if not has_table(con, "process_changes"):
        return pd.DataFrame(columns=COLUMNS)
    rows = con.execute(
        "SELECT changed_on, description, coalesce(outcome, ''), coalesce(product, ''), coalesce(clinician, ''), "
        "coalesce(rebase, false) FROM process_changes ORDER BY changed_on, description").fetchall()
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["changed_on"] = pd.to_datetime(out["changed_on"]).dt.date if len(out) else out["changed_on"]
    out["rebase"] = out["rebase"].astype(bool)
    return out


def concerning(changes: pd.DataFrame, outcome_key: str | None, filters: Filters = Filters()) -> pd.DataFrame:
    """The changes that concern a chart of `outcome_key` (None: any outcome) under `filters` (module docstring);
    changes outside the filters' date range are left out."""
    if changes.empty:
        return changes.copy()
    keep = pd.Series(True, index=changes.index)
    if outcome_key is not None:
        keep &= changes["outcome"].isin(["", outcome_key])
    if filters.clinicians:
        keep &= (changes["clinician"] == "") | changes["clinician"].isin(list(filters.clinicians))
    if filters.products:
        keep &= (changes["product"] == "") | changes["product"].isin(list(filters.products))
    if filters.date_from:
        keep &= changes["changed_on"] >= filters.date_from
    if filters.date_to:
        keep &= changes["changed_on"] <= filters.date_to
    return changes[keep].reset_index(drop=True)


def part_starts(con: duckdb.DuckDBPyConnection, outcome_key: str, filters: Filters = Filters(), *,
                changes: pd.DataFrame | None = None) -> list[dt.date]:
    """The dates of the re-basing changes (`rebase = yes`) that concern this outcome's chart, oldest first: what
    pipelines.metrics.analysis.spc takes as `part_starts` (`changes`: process_changes(con), when read already)."""
    found = concerning(process_changes(con) if changes is None else changes, outcome_key, filters)
    return sorted(set(found.loc[found["rebase"], "changed_on"])) if not found.empty else []


def in_month(con: duckdb.DuckDBPyConnection, month: dt.date | str) -> pd.DataFrame:
    """The process changes dated in one calendar month (`month`: any date in it, or 'YYYY-MM'), oldest first."""
    if isinstance(month, str):
        month = dt.date.fromisoformat(month + "-01") if len(month) == 7 else dt.date.fromisoformat(month)
    first = month.replace(day=1)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return concerning(process_changes(con), None, Filters(date_from=first, date_to=nxt - dt.timedelta(days=1)))


def period_of_part_starts(period_starts, starts: list[dt.date]) -> list[int]:
    """0-based indices of the periods where a new part starts: for each date, the first period starting on or after
    it (as pipelines.metrics.analysis.spc); the first period never starts a part."""
    periods = list(period_starts)
    found = {next((i for i, p in enumerate(periods) if p >= d), None) for d in starts}
    return sorted(i for i in found if i is not None and i > 0)


__all__ = ["has_table", "process_changes", "concerning", "part_starts", "in_month", "period_of_part_starts", "COLUMNS"]
