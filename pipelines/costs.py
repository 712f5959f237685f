"""What corrections cost: from correction sessions, dated product prices and clinician cost per minute.

cost of one correction = units x product cost per unit valid on its date + chair minutes x the clinician's cost
per minute + a consumables amount (a setting, default below). Prices and costs live in the `product_prices` and
`clinicians` reference tables, which the clinic edits and loads like any export.

Grouping: `month` is the month of the correction session (when the cost arises) against the primary sessions and
revenue of the same month; `clinician` and `product` are those of the corrected session (whose result needed
correcting) against that clinician's / product's primary sessions and revenue.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from pipelines.metrics import Filters, default_as_of, model_sql

DEFAULT_CONSUMABLES_NOK = 100.0
COST_GROUPS = {
    "month": ("CAST(date_trunc('month', c.treated_on) AS DATE)", "CAST(date_trunc('month', s.treated_on) AS DATE)"),
    "clinician": ("c.clinician", "s.clinician"),
    "product": ("c.product", "s.product"),
}
COST_COLUMNS = ("correction_n", "correction_cost_nok", "primary_n", "cost_per_100_primary_nok", "revenue_nok",
                "cost_share", "product_cost_nok", "chair_cost_nok", "consumables_nok", "unpriced_n")


def correction_costs(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: dt.date | None = None,
    consumables_nok: float = DEFAULT_CONSUMABLES_NOK,
    filters: Filters = Filters(),
) -> pd.DataFrame:
    """One row per correction session with its cost parts."""
    as_of = as_of or default_as_of(con)
    where, params = filters.sql("c")
    sql = f"""WITH costs AS ({model_sql('correction_costs')})
SELECT * EXCLUDE (area_list) FROM (SELECT *, string_split(areas, '|') AS area_list FROM costs) c
WHERE {where} ORDER BY treated_on, treatment_id"""
    return con.execute(sql, {"as_of": as_of, "consumables_nok": consumables_nok, **params}).df()


def cost_summary(
    con: duckdb.DuckDBPyConnection,
    by: str = "month",
    *,
    as_of: dt.date | None = None,
    consumables_nok: float = DEFAULT_CONSUMABLES_NOK,
    filters: Filters = Filters(),
) -> pd.DataFrame:
    """Correction count and cost against primary sessions and revenue, per month, clinician or product."""
    if by not in COST_GROUPS:
        raise ValueError(f"unknown grouping `{by}`; choose one of: {', '.join(COST_GROUPS)}")
    as_of = as_of or default_as_of(con)
    cost_group, session_group = COST_GROUPS[by]
    where_c, params = filters.sql("c")
    where_s, _ = filters.sql("s")
    sql = f"""
WITH costs AS ({model_sql('correction_costs')}),
c AS (SELECT *, string_split(areas, '|') AS area_list FROM costs),
cost_groups AS (
    SELECT {cost_group} AS g, count(*) AS correction_n, sum(correction_cost_nok) AS correction_cost_nok,
           sum(product_cost_nok) AS product_cost_nok, sum(chair_cost_nok) AS chair_cost_nok,
           sum(consumables_nok) AS consumables_nok, count(*) FILTER (WHERE is_unpriced) AS unpriced_n
    FROM c WHERE {where_c} GROUP BY 1
),
session_groups AS (
    SELECT {session_group} AS g, count(*) FILTER (WHERE s.corrects_treatment_id IS NULL) AS primary_n,
           sum(s.price_nok) AS revenue_nok
    FROM (SELECT *, string_split(areas, '|') AS area_list FROM treatments WHERE treated_on <= $as_of) s
    WHERE {where_s} GROUP BY 1
)
SELECT coalesce(sg.g, cg.g) AS "{by}", coalesce(cg.correction_n, 0) AS correction_n,
       coalesce(cg.correction_cost_nok, 0) AS correction_cost_nok, coalesce(sg.primary_n, 0) AS primary_n,
       coalesce(sg.revenue_nok, 0) AS revenue_nok, coalesce(cg.product_cost_nok, 0) AS product_cost_nok,
       coalesce(cg.chair_cost_nok, 0) AS chair_cost_nok, coalesce(cg.consumables_nok, 0) AS consumables_nok,
       coalesce(cg.unpriced_n, 0) AS unpriced_n
FROM session_groups sg FULL JOIN cost_groups cg USING (g)
ORDER BY 1"""
    out = con.execute(sql, {"as_of": as_of, "consumables_nok": consumables_nok, **params}).df()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_100_primary_nok"] = np.where(out["primary_n"] > 0,
                                                   100 * out["correction_cost_nok"] / out["primary_n"], np.nan)
        out["cost_share"] = np.where(out["revenue_nok"] > 0, out["correction_cost_nok"] / out["revenue_nok"], np.nan)
    if by == "month":
        out["month"] = pd.to_datetime(out["month"]).dt.date
    for c in ("correction_n", "primary_n", "unpriced_n"):
        out[c] = out[c].astype("int64")
    return out[[by, *COST_COLUMNS]]
