"""Correction cost on the hand-made fixture: S03 corrects S02 (A01) on 2024-03-18 with 6 Botox units in 10 min.

Botox costs 30 NOK/unit from 2023-01-01 and 32 from 2024-03-10, so 32 applies; A01 costs 30 NOK/min.
cost = 6 x 32 + 10 x 30 + consumables (100) = 592 NOK.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
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


# --------------------------------------------------------------------------------------------------------------
# Unknown parts and late corrections (issue 17, item 8), on a hand-made file:
#   T1 primary    2024-02-01 A01 Xeomin 20 u, 1900 NOK, 20 min
#   T2 correction 2024-02-15 of T1 (day 14), Xeomin 4 u, 10 min: no Xeomin price -> 0 + 10 x 30 + 100 = 400 NOK
#   T3 primary    2024-02-05 B02 Botox 20 u, 1900 NOK
#   T4 correction 2024-02-19 of T3 (day 14), Botox 5 u, minutes blank -> 5 x 30 + 0 + 100 = 250 NOK
#   T5 primary    2024-01-10 A01 Botox 20 u, 1900 NOK
#   T6 correction 2024-02-20 of T5 (day 41, late), Botox 2 u, 10 min -> 2 x 30 + 10 x 30 + 100 = 460 NOK
# Prices: Botox 30 NOK/u from 2024-01-01 (no Xeomin price); A01 30 NOK/min, B02 20 NOK/min (the correction's own
# clinician is the corrected session's here). February: 3 corrections, 400 + 250 + 460 = 1,110 NOK (product 0 + 150
# + 60 = 210, chair 300 + 0 + 300 = 600, consumables 300); primaries T1 T3, revenue 1900 + 0 + 1900 + 0 + 0.
# --------------------------------------------------------------------------------------------------------------

UNKNOWN_PARTS = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
                 "price_nok,minutes\n"
                 "T1,p1,2024-02-01,A01,cosmetic,glabella,Xeomin,20,,1900,20\n"
                 "T2,p1,2024-02-15,A01,cosmetic,glabella,Xeomin,4,T1,0,10\n"
                 "T3,p2,2024-02-05,B02,cosmetic,glabella,Botox,20,,1900,20\n"
                 "T4,p2,2024-02-19,B02,cosmetic,glabella,Botox,5,T3,0,\n"
                 "T5,p3,2024-01-10,A01,cosmetic,glabella,Botox,20,,1900,20\n"
                 "T6,p3,2024-02-20,A01,cosmetic,glabella,Botox,2,T5,0,10\n")


@pytest.fixture
def unknown_parts_db(tmp_path, db):
    write(tmp_path / "c.csv", "clinician,profession,cost_per_minute_nok\nA01,lege,30\nB02,sykepleier,20\n")
    write(tmp_path / "p.csv", "product,valid_from,cost_per_unit_nok\nBotox,2024-01-01,30\n")
    write(tmp_path / "t.csv", UNKNOWN_PARTS)
    assert load_files([tmp_path / "c.csv", tmp_path / "p.csv", tmp_path / "t.csv"], db, today=TODAY).rows_rejected == 0
    return db


@pytest.fixture
def unknown_parts_con(unknown_parts_db):
    import duckdb

    con = duckdb.connect(str(unknown_parts_db), read_only=True)
    yield con
    con.close()


FEB_AS_OF = dt.date(2024, 6, 1)


def test_an_unpriced_or_untimed_correction_keeps_its_known_parts(unknown_parts_con):
    rows = costs.correction_costs(unknown_parts_con, as_of=FEB_AS_OF).set_index("treatment_id")
    t2, t4, t6 = rows.loc["T2"], rows.loc["T4"], rows.loc["T6"]
    # T2: the units have no price (unknown, not 0), the chair time and consumables count
    assert pd.isna(t2.product_cost_nok) and (t2.chair_cost_nok, t2.consumables_nok, t2.correction_cost_nok) == (
        300, 100, 400)
    assert bool(t2.is_unpriced) and not bool(t2.is_chair_time_unknown)
    # T4: blank minutes: chair cost unknown, counted as 0 in the total; the product and consumables count
    assert pd.isna(t4.chair_cost_nok) and (t4.product_cost_nok, t4.correction_cost_nok) == (150, 250)
    assert bool(t4.is_chair_time_unknown) and not bool(t4.is_unpriced)
    # T6: 41 days after T5: late, and costed like any other
    assert (t6.days_after, bool(t6.is_late), t6.correction_cost_nok) == (41, True, 460)
    assert [bool(rows.loc[t, "is_late"]) for t in ("T2", "T4")] == [False, False]


def test_every_total_keeps_the_flagged_corrections(unknown_parts_con):
    feb = costs.cost_summary(unknown_parts_con, "month", as_of=FEB_AS_OF).set_index("month").loc[dt.date(2024, 2, 1)]
    assert (feb.correction_n, feb.correction_cost_nok, feb.product_cost_nok, feb.chair_cost_nok,
            feb.consumables_nok) == (3, 1110, 210, 600, 300)
    assert (feb.unpriced_n, feb.unknown_chair_time_n, feb.late_correction_n) == (1, 1, 1)
    assert (feb.primary_n, feb.revenue_nok) == (2, 3800)
    assert feb.cost_per_100_primary_nok == pytest.approx(100 * 1110 / 2)
    # by the corrected session's clinician: A01 has T2 (400) and T6 (460), B02 has T4 (250)
    by_clinician = costs.cost_summary(unknown_parts_con, "clinician", as_of=FEB_AS_OF).set_index("clinician")
    assert tuple(by_clinician.loc["A01", ["correction_n", "correction_cost_nok", "unpriced_n",
                                         "unknown_chair_time_n", "late_correction_n", "primary_n"]]) == (
        2, 860, 1, 0, 1, 2)
    assert tuple(by_clinician.loc["B02", ["correction_n", "correction_cost_nok", "unpriced_n",
                                         "unknown_chair_time_n", "late_correction_n", "primary_n"]]) == (
        1, 250, 0, 1, 0, 1)
    by_product = costs.cost_summary(unknown_parts_con, "product", as_of=FEB_AS_OF).set_index("product")
    assert (by_product.loc["Xeomin", "correction_cost_nok"], by_product.loc["Botox", "correction_cost_nok"]) == (
        400, 710)
    tot = costs.cost_totals(costs.cost_summary(unknown_parts_con, "month", as_of=FEB_AS_OF))
    assert (tot["correction_n"], tot["correction_cost_nok"], tot["unpriced_n"], tot["unknown_chair_time_n"],
            tot["late_correction_n"], tot["primary_n"]) == (3, 1110, 1, 1, 1, 3)


def test_costs_count_late_corrections_which_the_correction_rate_leaves_out(unknown_parts_con):
    from pipelines.metrics import counting

    # T1 and T3 corrected by day 14, T5 only on day 41: the rate counts 2 of 3, the costs all 3 corrections
    rate = counting.rates(unknown_parts_con, "correction", as_of=FEB_AS_OF).iloc[0]
    assert (rate.numerator_n, rate.denominator_n) == (2, 3)
    assert costs.cost_summary(unknown_parts_con, "month", as_of=FEB_AS_OF)["correction_n"].sum() == 3
    assert costs.LATE_AFTER_DAYS == 28


def test_a_cleared_cost_per_minute_in_a_what_if_is_unknown_chair_time_not_a_dropped_correction(unknown_parts_con):
    cleared = pd.DataFrame({"clinician": ["A01", "B02"], "cost_per_minute_nok": [float("nan"), 20.0]})
    # A01's chair time unpriced: T2 0 + 0 + 100 = 100, T6 60 + 0 + 100 = 160; T4 as before 250
    feb = costs.cost_summary(unknown_parts_con, "month", as_of=FEB_AS_OF, clinician_costs=cleared).iloc[-1]
    assert (feb.correction_n, feb.correction_cost_nok, feb.unknown_chair_time_n) == (3, 510, 3)


def test_the_costs_export_states_what_it_counts(unknown_parts_con):
    from pipelines.release.build import ExportOptions, build

    frame, prov = build(unknown_parts_con, "costs", ExportOptions(as_of=FEB_AS_OF))
    assert prov["corrections"] == ("every correction session, also those more than 28 days after the session they "
                                   "correct (late_correction_n), which the correction rate leaves out")
    assert prov["unknown_parts"].startswith("a part without a price or time counts as 0 NOK")
    feb = frame.set_index("month").loc[dt.date(2024, 2, 1)]
    assert (feb.correction_cost_nok, feb.unpriced_n, feb.unknown_chair_time_n, feb.late_correction_n) == (
        1110, 1, 1, 1)


def test_a_cost_release_rounds_and_hides_the_new_counts_with_the_row(unknown_parts_con):
    from pipelines.release import disclosure, export

    frame = costs.cost_summary(unknown_parts_con, "month", as_of=FEB_AS_OF)
    out = export.release(frame, "costs", ["month"], disclosure.Rule())
    # 2 and 1 primary sessions: both months under 10, hidden whole, the new counts with them
    assert set(out.unknown_chair_time_n) == {disclosure.MARK} and set(out.late_correction_n) == {disclosure.MARK}


def test_the_costs_page_states_the_scope_and_the_unknown_chair_time(unknown_parts_db, tmp_path, monkeypatch):
    import duckdb
    import streamlit as st
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    from pipelines.demo.build import mark_as_demo

    page_db = tmp_path / "page" / "clinic.duckdb"
    page_db.parent.mkdir()
    page_db.write_bytes(unknown_parts_db.read_bytes())
    con = duckdb.connect(str(page_db))
    mark_as_demo(con, con.execute("SELECT max(load_id) FROM load_log").fetchall()[0][0])
    con.close()
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(page_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    at.query_params["lang"] = "en"
    at.switch_page("dashboard/pages/costs.py")
    at.run()
    st.cache_data.clear()
    assert not at.exception, [e.message for e in at.exception]
    from dashboard import i18n

    assert {m.label: m.value for m in at.metric}["Correction cost"] == i18n.nok(1110, "en")  # T2, T4 and T6
    captions = [c.value for c in at.caption]
    assert ("Costs count every correction session, also those given more than 28 days after the session they "
            "correct (1 here): each took chair time and product. The correction rate counts only corrections within "
            "28 days.") in captions
    warnings = [w.value for w in at.warning]
    assert ("Corrections with unknown chair time (minutes blank): 1. Their chair time counts as 0 NOK, not as a "
            "guess, so the cost shown is a lower bound.") in warnings
    assert any(w.startswith("1 correction has no product price for its date") for w in warnings)


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
