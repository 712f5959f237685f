"""Correction cost on the hand-made fixture: S03 corrects S02 (A01) on 2024-03-18 with 6 Botox units in 10 min.

Botox costs 30 NOK/unit from 2023-01-01 and 32 from 2024-03-10, so 32 applies; A01 costs 30 NOK/min.
cost = 6 x 32 + 10 x 30 + consumables (100) = 592 NOK.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import TODAY, write

from pipelines.ingest.load import load_files
from pipelines.metrics import costs
from pipelines.metrics.counting import Filters

AS_OF = dt.date(2024, 6, 30)


def test_one_correction_costed_by_hand(metrics_con):
    rows = costs.correction_costs(metrics_con, as_of=AS_OF)
    assert len(rows) == 1
    r = rows.iloc[0]
    assert (r["treatment_id"], r["corrected_treatment_id"], r["clinician"], r["product"]) == ("S03", "S02", "A01", "Botox")
    assert (r.cost_per_unit_nok, r.product_cost_nok, r.chair_cost_nok, r.consumables_nok) == (32, 192, 300, 100)
    assert r.correction_cost_nok == 592


def test_consumables_is_a_setting(metrics_con):
    rows = costs.correction_costs(metrics_con, as_of=AS_OF, consumables_nok=0)
    assert rows.iloc[0].correction_cost_nok == 492


def test_cost_by_month(metrics_con):
    frame = costs.cost_summary(metrics_con, "month", as_of=AS_OF).set_index("month")
    march = frame.loc[dt.date(2024, 3, 1)]
    # March primaries S01 S02 S04 S05; revenue 1900 + 2900 + 0 (S03) + 1900 + 1900
    assert (march.correction_n, march.correction_cost_nok, march.primary_n, march.revenue_nok) == (1, 592, 4, 8600)
    assert march.cost_per_100_primary_nok == pytest.approx(592 / 4 * 100)
    assert march.cost_share == pytest.approx(592 / 8600)
    january = frame.loc[dt.date(2024, 1, 1)]
    # S07 S08 S09 S10: no corrections; revenue 3900 + 3900 + 2900 + 2900
    assert (january.correction_n, january.correction_cost_nok, january.primary_n, january.revenue_nok) == (
        0, 0, 4, 13600)
    assert list(frame.columns) == list(costs.COST_COLUMNS)


def test_cost_by_clinician_and_product(metrics_con):
    by_clinician = costs.cost_summary(metrics_con, "clinician", as_of=AS_OF).set_index("clinician")
    # A01 primaries: S01 S02 S07 S08 S11 S13 S14; revenue 1900+2900+0+3900+3900+5000+1900+1900
    assert tuple(by_clinician.loc["A01", ["correction_n", "correction_cost_nok", "primary_n", "revenue_nok"]]) == (
        1, 592, 7, 21400)
    assert by_clinician.loc["B02", "correction_n"] == 0
    by_product = costs.cost_summary(metrics_con, "product", as_of=AS_OF).set_index("product")
    assert by_product.loc["Azzalure", "primary_n"] == 1 and by_product.loc["Azzalure", "correction_n"] == 0
    assert by_product.loc["Botox", "correction_cost_nok"] == 592


def test_filters_and_as_of(metrics_con):
    assert costs.cost_summary(metrics_con, "month", as_of=dt.date(2024, 3, 17))["correction_n"].sum() == 0
    only_b = costs.cost_summary(metrics_con, "clinician", as_of=AS_OF, filters=Filters(clinicians=("B02",)))
    assert list(only_b["clinician"]) == ["B02"] and only_b["correction_n"].sum() == 0


def test_a_correction_without_a_price_is_counted_as_unpriced_not_free(tmp_path, db):
    write(tmp_path / "c.csv", "clinician,profession,cost_per_minute_nok\nA01,lege,30\n")
    write(tmp_path / "p.csv", "product,valid_from,cost_per_unit_nok\nBotox,2024-01-01,30\n")
    write(tmp_path / "t.csv",
          "treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
          "price_nok,minutes\n"
          "T1,p1,2024-02-01,A01,cosmetic,glabella,Xeomin,20,,1900,20\n"
          "T2,p1,2024-02-15,A01,cosmetic,glabella,Xeomin,4,T1,0,10\n")
    load_files([tmp_path / "c.csv", tmp_path / "p.csv", tmp_path / "t.csv"], db, today=TODAY)
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    frame = costs.cost_summary(con, "month", as_of=dt.date(2024, 6, 1))
    con.close()
    feb = frame.iloc[0]
    assert (feb.correction_n, feb.unpriced_n) == (1, 1)
    # the priced parts still count; the product part is unknown, so the total is unknown and left out of the sum
    assert feb.correction_cost_nok == 0 and feb.chair_cost_nok == 300


def test_unknown_grouping(metrics_con):
    with pytest.raises(ValueError, match="unknown grouping `area`"):
        costs.cost_summary(metrics_con, "area")


# --------------------------------------------------------------------------------------------------------------
# What-if overrides of the reference tables (the dashboard's editable assumptions)
# --------------------------------------------------------------------------------------------------------------

def _prices(botox_factor: float = 1.0):
    import pandas as pd

    return pd.DataFrame({"product": ["Botox", "Botox", "Azzalure"],
                         "valid_from": [dt.date(2023, 1, 1), dt.date(2024, 3, 10), dt.date(2023, 1, 1)],
                         "cost_per_unit_nok": [30 * botox_factor, 32 * botox_factor, 11.0]})


def test_doubling_botox_prices_doubles_the_product_part(metrics_con):
    # S03: 6 units x 64 (doubled 32) + 10 min x 30 + 100 = 784 NOK (was 592)
    r = costs.correction_costs(metrics_con, as_of=AS_OF, prices=_prices(2.0)).iloc[0]
    assert (r.cost_per_unit_nok, r.product_cost_nok, r.chair_cost_nok, r.correction_cost_nok) == (64, 384, 300, 784)
    by_month = costs.cost_summary(metrics_con, "month", as_of=AS_OF, prices=_prices(2.0)).set_index("month")
    assert by_month.loc[dt.date(2024, 3, 1), "correction_cost_nok"] == 784
    assert by_month.loc[dt.date(2024, 3, 1), "product_cost_nok"] == 384


def test_clinician_cost_override(metrics_con):
    import pandas as pd

    clinicians = pd.DataFrame({"clinician": ["A01", "B02"], "profession": ["lege", "sykepleier"],
                               "cost_per_minute_nok": [45.0, 20.0]})
    # 6 x 32 + 10 min x 45 + 100 = 742 NOK; the prices still come from the table
    r = costs.correction_costs(metrics_con, as_of=AS_OF, clinician_costs=clinicians).iloc[0]
    assert (r.product_cost_nok, r.chair_cost_nok, r.correction_cost_nok) == (192, 450, 742)
    both = costs.cost_summary(metrics_con, "clinician", as_of=AS_OF, prices=_prices(2.0),
                              clinician_costs=clinicians).set_index("clinician")
    assert both.loc["A01", "correction_cost_nok"] == 6 * 64 + 10 * 45 + 100


def test_overrides_leave_the_tables_and_the_connection_as_they_were(metrics_con):
    import pandas as pd

    views_before = metrics_con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall()
    odd = pd.DataFrame({"product": ["Botox'; DROP TABLE treatments; --", "Botox"],
                        "valid_from": ["2023-01-01", "2023-01-01"], "cost_per_unit_nok": [1.0, 50.0]})
    r = costs.correction_costs(metrics_con, as_of=AS_OF, prices=odd).iloc[0]
    assert r.product_cost_nok == 6 * 50  # values are data, never SQL text
    assert costs.correction_costs(metrics_con, as_of=AS_OF).iloc[0].correction_cost_nok == 592
    assert metrics_con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall() == views_before
    assert metrics_con.execute("SELECT max(cost_per_unit_nok) FROM product_prices").fetchall()[0][0] == 32


def test_a_product_missing_from_the_override_is_unpriced(metrics_con):
    r = costs.correction_costs(metrics_con, as_of=AS_OF, prices=_prices().query("product != 'Botox'")).iloc[0]
    assert bool(r.is_unpriced) and r.chair_cost_nok == 300


def test_an_override_without_its_columns_is_refused(metrics_con):
    import pandas as pd

    with pytest.raises(ValueError, match="prices override needs the columns product, valid_from, cost_per_unit_nok"):
        costs.correction_costs(metrics_con, as_of=AS_OF, prices=pd.DataFrame({"product": ["Botox"]}))


def test_an_unedited_table_is_no_override():
    import pandas as pd

    shown = _prices().assign(in_force=["", "yes", "yes"])
    assert costs.override_if_edited(shown, shown.copy(), "cost_per_unit_nok", costs.PRICE_COLUMNS) is None
    edited = shown.copy()
    edited.loc[1, "cost_per_unit_nok"] = 64.0
    override = costs.override_if_edited(shown, edited, "cost_per_unit_nok", costs.PRICE_COLUMNS)
    assert list(override.columns) == list(costs.PRICE_COLUMNS) and list(override.cost_per_unit_nok) == [30, 64, 11]
    emptied = shown.copy()
    emptied.loc[2, "cost_per_unit_nok"] = None  # a cleared cell is an edit too (the product becomes unpriced)
    assert costs.override_if_edited(shown, emptied, "cost_per_unit_nok", costs.PRICE_COLUMNS) is not None
    assert pd.isna(costs.override_if_edited(shown, emptied, "cost_per_unit_nok", costs.PRICE_COLUMNS).iloc[2, 2])
