"""What corrections cost: from correction sessions, dated product prices and clinician cost per minute.

cost of one correction = units x product cost per unit valid on its date + chair minutes x the clinician's cost
per minute + a consumables amount (a setting, default below). Prices and costs live in the `product_prices` and
`clinicians` reference tables, which the clinic edits and loads like any export.

What-if: `prices` and `clinician_costs` DataFrames, when given, replace the two reference tables for one call (the
dashboard's editable assumptions). They are registered on the connection under one-off names for the query and
unregistered afterwards; nothing is written to the database, and no value is ever pasted into SQL text.

Grouping: `month` is the month of the correction session (when the cost arises) against the primary sessions and
revenue of the same month; `clinician` and `product` are those of the corrected session (whose result needed
correcting) against that clinician's / product's primary sessions and revenue.

Which corrections (SCOPE_TEXT): every correction session, whatever its delay. The correction *rate* (registry
outcome `correction`) counts a primary session corrected within 28 days, so that a month's rate is final four weeks
after it ends; a correction given later still took chair time and product, and the clinic manager's question is what
corrections cost. `late_correction_n` counts those given after day 28, so the two figures can be told apart.

Unknown parts (UNKNOWN_TEXT): a correction whose product has no price on its date, or whose chair minutes are blank,
keeps every part that is known in every total; the unknown part counts as 0 NOK, never as a guessed amount (not the
median of other corrections: a guess would hide that the figure is incomplete), and the correction is counted in
`unpriced_n` / `unknown_chair_time_n`. A total with such corrections is a lower bound, and the page says so.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pandas as pd

from pipelines.metrics import registry, small_cells
from pipelines.metrics.counting import Filters, default_as_of, model_sql
from pipelines.sqltext import ident

DEFAULT_CONSUMABLES_NOK = 100.0
LATE_AFTER_DAYS = registry.get("correction").window_days[1]  # the correction rate's window: corrections up to day 28
SCOPE_TEXT = (f"every correction session, also those more than {LATE_AFTER_DAYS} days after the session they correct "
              f"(late_correction_n), which the correction rate leaves out")
UNKNOWN_TEXT = ("a part without a price or time counts as 0 NOK and the rest of the correction is kept: units without "
                "a product price on the correction date (unpriced_n), blank chair minutes (unknown_chair_time_n); "
                "where those counts are above 0 the cost is a lower bound")
SCOPE_TEXT_NB = (f"hver korrigering, også de som er gitt mer enn {LATE_AFTER_DAYS} dager etter behandlingen de "
                 "korrigerer (korrigeringer_etter_28_dager), som korrigeringsandelen holder utenfor")
UNKNOWN_TEXT_NB = ("en del uten pris eller tid teller som 0 kr, og resten av korrigeringen beholdes: enheter uten "
                   "preparatpris på korrigeringsdatoen (uten_pris), tomme minutter for stoltid (ukjent_stoltid); der "
                   "disse tallene er over 0, er kostnaden et minimum")
COST_GROUPS = {
    "month": ("CAST(date_trunc('month', c.treated_on) AS DATE)", "CAST(date_trunc('month', s.treated_on) AS DATE)"),
    "clinician": ("c.clinician", "s.clinician"),
    "product": ("c.product", "s.product"),
}
PRICE_COLUMNS = ("product", "valid_from", "cost_per_unit_nok")
CLINICIAN_COST_COLUMNS = ("clinician", "cost_per_minute_nok")
COST_COLUMNS = ("correction_n", "correction_cost_nok", "primary_n", "cost_per_100_primary_nok", "revenue_nok",
                "cost_share", "product_cost_nok", "chair_cost_nok", "consumables_nok", "unpriced_n",
                "unknown_chair_time_n", "late_correction_n")
COST_COUNTS = ("correction_n", "primary_n", "unpriced_n", "unknown_chair_time_n", "late_correction_n")


def override_if_edited(original: pd.DataFrame, edited: pd.DataFrame, value: str,
                       columns: tuple[str, ...]) -> pd.DataFrame | None:
    """An edited copy of a reference table as an override (its `columns`), or None when no `value` differs from
    the original (so an unedited view keeps reading the tables)."""
    before = pd.to_numeric(original[value], errors="coerce").reset_index(drop=True)
    after = pd.to_numeric(edited[value], errors="coerce").reset_index(drop=True)
    if len(before) == len(after) and bool(((before == after) | (before.isna() & after.isna())).all()):
        return None
    return edited[list(columns)].reset_index(drop=True)


def _override(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} override needs the columns {', '.join(columns)} (missing: {', '.join(missing)})")
    out = frame[list(columns)].copy()
    if "valid_from" in out:
        out["valid_from"] = pd.to_datetime(out["valid_from"]).dt.date
    for c in columns:
        if c.endswith("_nok"):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out


@contextmanager
def _reference_relations(con: duckdb.DuckDBPyConnection, prices: pd.DataFrame | None,
                         clinician_costs: pd.DataFrame | None) -> Iterator[dict[str, str]]:
    """The relations the correction_costs model reads prices and clinician costs from: the loaded tables, or the
    override frames registered under one-off names (unregistered on exit)."""
    relations = {"product_prices": "product_prices", "clinicians": "clinicians"}
    registered: list[str] = []
    try:
        if prices is not None:
            name = f"_whatif_prices_{secrets.token_hex(6)}"
            con.register(name, _override(prices, PRICE_COLUMNS, "prices"))
            registered.append(name)
            relations["product_prices"] = (f"(SELECT CAST(product AS VARCHAR) AS product, CAST(valid_from AS DATE) "
                                           f"AS valid_from, CAST(cost_per_unit_nok AS DOUBLE) AS cost_per_unit_nok "
                                           f"FROM {name})")
        if clinician_costs is not None:
            name = f"_whatif_clinicians_{secrets.token_hex(6)}"
            con.register(name, _override(clinician_costs, CLINICIAN_COST_COLUMNS, "clinician_costs"))
            registered.append(name)
            relations["clinicians"] = (f"(SELECT CAST(clinician AS VARCHAR) AS clinician, "
                                       f"CAST(cost_per_minute_nok AS DOUBLE) AS cost_per_minute_nok FROM {name})")
        yield relations
    finally:
        for name in registered:
            con.unregister(name)


def _model(relations: dict[str, str]) -> str:
    return model_sql("correction_costs").format(**relations)


def _params(as_of: dt.date, consumables_nok: float, filter_params: dict) -> dict:
    return {"as_of": as_of, "consumables_nok": consumables_nok, "late_after_days": LATE_AFTER_DAYS, **filter_params}


def correction_costs(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date | None = None,
    consumables_nok: float = DEFAULT_CONSUMABLES_NOK,
    filters: Filters = Filters(),
    prices: pd.DataFrame | None = None,
    clinician_costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per correction session with its cost parts (`prices` / `clinician_costs`: what-if overrides of the
    product_prices / clinicians tables)."""
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("c")
    with _reference_relations(con, prices, clinician_costs) as relations:
        sql = f"""WITH costs AS ({_model(relations)})
SELECT * EXCLUDE (area_list) FROM (SELECT *, string_split(areas, '|') AS area_list FROM costs) c
WHERE {where} ORDER BY treated_on, treatment_id"""
        return con.execute(sql, _params(as_of, consumables_nok, params)).df()


def cost_summary(
    con: duckdb.DuckDBPyConnection,
    by: str = "month",
    *,
    as_of: dt.date | None = None,
    consumables_nok: float = DEFAULT_CONSUMABLES_NOK,
    filters: Filters = Filters(),
    prices: pd.DataFrame | None = None,
    clinician_costs: pd.DataFrame | None = None,
    min_sessions: int = 0,
) -> pd.DataFrame:
    """Correction count and cost against primary sessions and revenue, per month, clinician or product
    (`prices` / `clinician_costs`: what-if overrides of the product_prices / clinicians tables).

    `min_sessions` > 0 (roles without session-level access, pipelines/metrics/small_cells.py): a row of fewer primary
    treatments is hidden (every count and amount missing, `is_hidden` True), and so are complementary rows, until
    the hidden rows hold no primary treatment or at least `min_sessions`, and no session (primary or correction)
    or at least `min_sessions`."""
    if by not in COST_GROUPS:
        raise ValueError(f"unknown grouping `{by}`; choose one of: {', '.join(COST_GROUPS)}")
    as_of = as_of or default_as_of(con)
    cost_group, session_group = COST_GROUPS[by]
    where_c, params = filters.sql("c")
    where_s, _ = filters.sql("s")
    with _reference_relations(con, prices, clinician_costs) as relations:
        sql = f"""
WITH costs AS ({_model(relations)}),
c AS (SELECT *, string_split(areas, '|') AS area_list FROM costs),
cost_groups AS (
    SELECT {cost_group} AS g, count(*) AS correction_n, fsum(correction_cost_nok) AS correction_cost_nok,
           fsum(product_cost_nok) AS product_cost_nok, fsum(chair_cost_nok) AS chair_cost_nok,
           fsum(consumables_nok) AS consumables_nok, count(*) FILTER (WHERE is_unpriced) AS unpriced_n,
           count(*) FILTER (WHERE is_chair_time_unknown) AS unknown_chair_time_n,
           count(*) FILTER (WHERE is_late) AS late_correction_n
    FROM c WHERE {where_c} GROUP BY 1
),
session_groups AS (
    SELECT {session_group} AS g, count(*) FILTER (WHERE s.corrects_treatment_id IS NULL) AS primary_n,
           fsum(s.price_nok) AS revenue_nok
    FROM (SELECT *, string_split(areas, '|') AS area_list FROM treatments WHERE treated_on <= $as_of) s
    WHERE {where_s} GROUP BY 1
)
SELECT coalesce(sg.g, cg.g) AS {ident(by)}, coalesce(cg.correction_n, 0) AS correction_n,
       coalesce(cg.correction_cost_nok, 0) AS correction_cost_nok, coalesce(sg.primary_n, 0) AS primary_n,
       coalesce(sg.revenue_nok, 0) AS revenue_nok, coalesce(cg.product_cost_nok, 0) AS product_cost_nok,
       coalesce(cg.chair_cost_nok, 0) AS chair_cost_nok, coalesce(cg.consumables_nok, 0) AS consumables_nok,
       coalesce(cg.unpriced_n, 0) AS unpriced_n, coalesce(cg.unknown_chair_time_n, 0) AS unknown_chair_time_n,
       coalesce(cg.late_correction_n, 0) AS late_correction_n
FROM session_groups sg FULL JOIN cost_groups cg USING (g)
ORDER BY 1"""
        out = con.execute(sql, _params(as_of, consumables_nok, params)).df()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_100_primary_nok"] = np.where(out["primary_n"] > 0,
                                                   100 * out["correction_cost_nok"] / out["primary_n"], np.nan)
        out["cost_share"] = np.where(out["revenue_nok"] > 0, out["correction_cost_nok"] / out["revenue_nok"], np.nan)
    if by == "month":
        out["month"] = pd.to_datetime(out["month"]).dt.date
    for c in COST_COUNTS:
        out[c] = out[c].astype("int64")
    out = out[[by, *COST_COLUMNS]]
    if min_sessions <= 0:
        return out
    return small_cells.hide_small_cells(out, sessions=COST_SESSIONS, hide=COST_COLUMNS, min_sessions=min_sessions)


COST_SESSIONS = ("primary_n", ("primary_n", "correction_n"))  # a cost row's sessions (internal_cells)


def cost_totals(frame: pd.DataFrame, min_sessions: int = 0) -> dict:
    """The totals of a cost_summary frame (computed without hiding): corrections, cost, primary treatments,
    revenue, unpriced corrections, corrections with unknown chair time, corrections after day 28, cost per 100
    primary treatments (`per_100`) and share of revenue (`share`).
    `min_sessions` > 0: the totals are one cell (pipelines/metrics/small_cells.py); under `min_sessions` primary
    treatments every figure is NaN and `is_hidden` is True."""
    out = {c: float(frame[c].sum()) for c in ("correction_n", "correction_cost_nok", "primary_n", "revenue_nok",
                                               "unpriced_n", "unknown_chair_time_n", "late_correction_n")}
    out["per_100"] = 100 * out["correction_cost_nok"] / out["primary_n"] if out["primary_n"] else float("nan")
    out["share"] = out["correction_cost_nok"] / out["revenue_nok"] if out["revenue_nok"] else float("nan")
    row = small_cells.hide_small_cells(pd.DataFrame([out]), sessions=COST_SESSIONS, hide=list(out),
                                          min_sessions=min_sessions)
    return row.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------------------------
# Is it improving? Cost per 100 primary treatments against the year before, with an interval (issue 16, item 6)
# --------------------------------------------------------------------------------------------------------------

INTERVAL_TEXT = ("approximate 95 % interval: the exact Poisson (Garwood) interval of the correction count times the "
                 "average cost of a correction (the clinic's where a group has none), per 100 primary treatments; "
                 "it leaves out how much one correction's cost varies")


def last_whole_month_end(as_of: dt.date) -> dt.date:
    """The last day of the newest calendar month that has ended by `as_of` (as_of itself on a month's last day)."""
    if (as_of + dt.timedelta(days=1)).month != as_of.month:
        return as_of
    return as_of.replace(day=1) - dt.timedelta(days=1)


def _month_start(day: dt.date, back_months: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back_months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(day: dt.date, back_months: int = 0) -> dt.date:
    return _month_start(day, back_months - 1) - dt.timedelta(days=1)


def comparison_periods(as_of: dt.date) -> list[tuple[str, str, dt.date, dt.date]]:
    """(comparison, "current" | "previous", first day, last day) of the two comparisons, in whole calendar months
    ending with the newest month that has ended by `as_of` (an unfinished month would compare a part of a month with
    a whole one): this year so far against the same months last year, and the last 12 months against the 12
    before. Example: as_of 2026-06-15 -> 2026-01-01..2026-05-31 against 2025-01-01..2025-05-31, and
    2025-06-01..2026-05-31 against 2024-06-01..2025-05-31. In January (no month of the year ended) the year
    compares nothing: both of its periods are empty (the first day after the last)."""
    end = last_whole_month_end(as_of)
    if end.year != as_of.year:  # as_of in January: no whole month of this year yet, nothing to compare
        empty = dt.date(as_of.year, 1, 1)
        year = (empty, empty - dt.timedelta(days=1))
        prev_year = (dt.date(as_of.year - 1, 1, 1), dt.date(as_of.year - 1, 1, 1) - dt.timedelta(days=1))
    else:
        year = (dt.date(end.year, 1, 1), end)
        prev_year = (dt.date(end.year - 1, 1, 1), _month_end(end, 12))
    return [("year", "current", *year), ("year", "previous", *prev_year),
            ("12_months", "current", _month_start(end, 11), end),
            ("12_months", "previous", _month_start(end, 23), _month_end(end, 12))]


def per_100_interval(correction_n, correction_cost_nok, primary_n, fallback_cost_nok: float = float("nan")
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the cost per 100 primary treatments (INTERVAL_TEXT): Garwood limits of the correction count
    x the average cost of one correction (`fallback_cost_nok`, the clinic's average, where there is no correction)
    x 100 / primary treatments. Example: 4 corrections costing 2,000 NOK over 100 primary treatments (2,000 per
    100): count limits 1.0899 and 10.2416 x 500 NOK -> 544.95 to 5,120.8 NOK per 100. No primary treatment: NaN."""
    from pipelines.stats import observed_expected

    n = np.asarray(correction_n, dtype="float64")
    cost = np.asarray(correction_cost_nok, dtype="float64")
    primary = np.asarray(primary_n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        average = np.where(n > 0, cost / np.where(n > 0, n, 1.0), fallback_cost_nok)
        _, low_n, high_n = observed_expected(np.nan_to_num(n), np.ones_like(n))
        scale = np.where(primary > 0, 100.0 * average / primary, np.nan)
    return np.asarray(low_n * scale, dtype="float64"), np.asarray(high_n * scale, dtype="float64")


def with_interval(frame: pd.DataFrame) -> pd.DataFrame:
    """A cost_summary frame with `per_100_low_nok` / `per_100_high_nok` (per_100_interval; a hidden row keeps
    NaN), the clinic's average cost per correction standing in for a group without a correction."""
    out = frame.copy()
    total_n, total_cost = out["correction_n"].sum(), out["correction_cost_nok"].sum()
    fallback = float(total_cost / total_n) if total_n else float("nan")
    out["per_100_low_nok"], out["per_100_high_nok"] = per_100_interval(
        out["correction_n"], out["correction_cost_nok"], out["primary_n"], fallback)
    return out


def cost_comparison(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date | None = None,
    consumables_nok: float = DEFAULT_CONSUMABLES_NOK,
    filters: Filters = Filters(),
    prices: pd.DataFrame | None = None,
    clinician_costs: pd.DataFrame | None = None,
    min_sessions: int = 0,
    through: dt.date | None = None,
) -> pd.DataFrame:
    """Cost per 100 primary treatments in the periods of comparison_periods (ending with the newest whole month
    by `through`, default the as-of date: the monthly report passes its month's last day) (the filters' own dates give way to
    them; their clinicians, products, indications and areas apply): one row per period with comparison, period,
    date_from, date_to, correction_n, correction_cost_nok, primary_n, per_100_nok, per_100_low_nok,
    per_100_high_nok (per_100_interval) and is_hidden (a period of fewer than `min_sessions` primary
    treatments: every figure NaN, as cost_totals)."""
    import dataclasses

    as_of = as_of or default_as_of(con)
    rows = []
    for comparison, period, start, end in comparison_periods(through or as_of):
        if end < start:
            tot = {"correction_n": 0.0, "correction_cost_nok": 0.0, "primary_n": 0.0, "per_100": float("nan"),
                   "is_hidden": False}
        else:
            frame = cost_summary(con, "month", as_of=as_of, consumables_nok=consumables_nok,
                                 filters=dataclasses.replace(filters, date_from=start, date_to=end),
                                 prices=prices, clinician_costs=clinician_costs)
            tot = cost_totals(frame, min_sessions)
        rows.append({"comparison": comparison, "period": period, "date_from": start, "date_to": end,
                     "correction_n": tot["correction_n"], "correction_cost_nok": tot["correction_cost_nok"],
                     "primary_n": tot["primary_n"], "per_100_nok": tot["per_100"],
                     "is_hidden": bool(tot.get("is_hidden", False))})
    out = pd.DataFrame(rows)
    shown = ~out["is_hidden"]
    n, c = out.loc[shown, "correction_n"].sum(), out.loc[shown, "correction_cost_nok"].sum()
    out["per_100_low_nok"], out["per_100_high_nok"] = per_100_interval(
        out["correction_n"], out["correction_cost_nok"], out["primary_n"], float(c / n) if n else float("nan"))
    return out


def change(comparison: pd.DataFrame, which: str) -> dict:
    """The current period against the previous one of `which` ("year" | "12_months"): per_100 of both, the change
    in NOK and as a share of the previous, and `direction`: "lower" / "higher" when the two 95 % intervals do not
    overlap, "unclear" when they do, "none" when a figure is missing (an empty or hidden period)."""
    rows = comparison[comparison["comparison"] == which].set_index("period")
    cur, prev = rows.loc["current"], rows.loc["previous"]
    out = {"current": cur.to_dict(), "previous": prev.to_dict(), "change_nok": float("nan"),
           "change_share": float("nan"), "direction": "none"}
    if pd.isna(cur["per_100_nok"]) or pd.isna(prev["per_100_nok"]):
        return out
    out["change_nok"] = float(cur["per_100_nok"] - prev["per_100_nok"])
    out["change_share"] = out["change_nok"] / prev["per_100_nok"] if prev["per_100_nok"] else float("nan")
    if cur["per_100_high_nok"] < prev["per_100_low_nok"]:
        out["direction"] = "lower"
    elif cur["per_100_low_nok"] > prev["per_100_high_nok"]:
        out["direction"] = "higher"
    else:
        out["direction"] = "unclear"
    return out
