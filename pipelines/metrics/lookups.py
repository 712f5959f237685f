"""Small read-only queries the dashboard needs beside the metrics: the values a filter can take, the reference
tables behind the cost figures (product prices, clinician cost per minute) and how many sessions a filter selects.

Every query returns a small, fully fetched result (DuckDB 2: never leave a result half-read).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from pipelines import contract
from pipelines.metrics.counting import Filters

_TREATMENTS_P = "(SELECT *, string_split(areas, '|') AS area_list FROM treatments) p"


def filter_options(con: duckdb.DuckDBPyConnection) -> dict:
    """What the filters can choose from: values present in the data (clinicians also from the reference table),
    in the contract's order for indications and areas, and the first and last treatment date."""
    clinicians = [r[0] for r in con.execute(
        "SELECT clinician FROM clinicians UNION SELECT DISTINCT clinician FROM treatments ORDER BY 1").fetchall()]
    indications = {r[0] for r in con.execute("SELECT DISTINCT indication FROM treatments").fetchall()}
    areas = {r[0] for r in con.execute(
        "SELECT DISTINCT unnest(string_split(areas, '|')) FROM treatments").fetchall()}
    products = {r[0] for r in con.execute("SELECT DISTINCT product FROM treatments").fetchall()}
    first, last = con.execute("SELECT min(treated_on), max(treated_on) FROM treatments").fetchall()[0]
    return {
        "clinicians": tuple(clinicians),
        "indications": tuple(i for i in contract.INDICATIONS if i in indications),
        "areas": tuple(a for a in contract.AREAS if a in areas),
        "products": tuple(p for p in contract.PRODUCT_NAMES if p in products),
        "first_date": first,
        "last_date": last,
    }


def session_count(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> int:
    """Sessions (primary and corrections) the filters select, whatever their follow-up."""
    where, params = filters.sql("p")
    return int(con.execute(f"SELECT count(*) FROM {_TREATMENTS_P} WHERE {where}", params).fetchall()[0][0])


def product_prices(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> pd.DataFrame:
    """The dated price table with each product's unit type, its Botox-equivalent factor, the cost of one
    Botox-equivalent unit, and whether the row is the price in force on `as_of` (default: today)."""
    as_of = as_of or dt.date.today()
    frame = con.execute(
        """SELECT pp.product, pr.unit_type, CAST(pp.valid_from AS DATE) AS valid_from, pp.cost_per_unit_nok,
                  pr.botox_equivalent_factor,
                  pp.cost_per_unit_nok / pr.botox_equivalent_factor AS cost_per_botox_unit_nok,
                  pp.valid_from = max(pp.valid_from) FILTER (WHERE pp.valid_from <= $as_of)
                      OVER (PARTITION BY pp.product) AS in_force
           FROM product_prices pp LEFT JOIN products pr USING (product)
           ORDER BY pp.product, pp.valid_from""", {"as_of": as_of}).df()
    frame["valid_from"] = pd.to_datetime(frame["valid_from"]).dt.date
    frame["in_force"] = frame["in_force"].fillna(False).astype(bool)
    return frame


def clinician_costs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Clinician codes, profession and what their chair time costs (per minute and per hour)."""
    return con.execute(
        """SELECT clinician, profession, cost_per_minute_nok, 60 * cost_per_minute_nok AS cost_per_hour_nok
           FROM clinicians ORDER BY clinician""").df()
