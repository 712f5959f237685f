"""The manager's costs page (issue 16, item 6): is it improving (cost per 100 primary treatments this year against
last year, the last 12 months against the 12 before, in whole months), each clinician's figure with its interval
and n, why two counts differ, the unfinished month marked, no developer text, amounts typed in Norwegian.

Hand-made clinic (prices: Botox 30 NOK/unit from 2022-01-01; A01 30 NOK/min, B02 20 NOK/min; consumables 100):
  P1 2023-02-01 A01 primary          C1 2023-02-10 corrects P1 (day 9):  2 u, 10 min -> 60 + 300 + 100 = 460 NOK
  P2 2023-03-01 A01 primary
  P3 2023-07-01 B02 primary
  P4 2024-01-10 A01 primary          C2 2024-01-20 corrects P4 (day 10): 4 u, 10 min -> 120 + 300 + 100 = 520 NOK
  P5 2024-04-01 B02 primary
  P6 2024-05-01 B02 primary
  P7 2024-06-05 A01 primary          C3 2024-06-10 corrects P7 (day 5):  1 u, 10 min -> 30 + 300 + 100 = 430 NOK
The data's date (as of) is 2024-06-10: June 2024 has not ended, so the comparisons end with May 2024:
  this year  2024-01..05: C2 520 NOK over P4 P5 P6 (3)     -> 17,333.33 per 100
  last year  2023-01..05: C1 460 NOK over P1 P2 (2)        -> 23,000 per 100     change -5,666.67 (-24.6 %)
  12 months  2023-06..2024-05: C2 520 over P3-P6 (4)       -> 13,000 per 100
  12 before  2022-06..2023-05: C1 460 over P1 P2 (2)       -> 23,000 per 100     change -10,000 (-43.5 %)
One correction: Garwood 95 % count limits 0.025318 and 5.571643, so this year's interval is 520 x 100 / 3 x those
= 438.85 to 96,575.1 and last year's 582.31 to 128,147.8: they overlap, no clear change.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st
from conftest import ROOT, write
from streamlit.testing.v1 import AppTest

from dashboard import i18n
from pipelines.ingest.load import load_files
from pipelines.metrics import costs

AS_OF = dt.date(2024, 6, 10)
TREATMENTS = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
              "price_nok,minutes\n"
              "P1,p1,2023-02-01,A01,cosmetic,glabella,Botox,20,,2000,20\n"
              "C1,p1,2023-02-10,A01,cosmetic,glabella,Botox,2,P1,0,10\n"
              "P2,p2,2023-03-01,A01,cosmetic,glabella,Botox,20,,2000,20\n"
              "P3,p3,2023-07-01,B02,cosmetic,glabella,Botox,20,,2000,20\n"
              "P4,p4,2024-01-10,A01,cosmetic,glabella,Botox,20,,2000,20\n"
              "C2,p4,2024-01-20,A01,cosmetic,glabella,Botox,4,P4,0,10\n"
              "P5,p5,2024-04-01,B02,cosmetic,glabella,Botox,20,,2000,20\n"
              "P6,p6,2024-05-01,B02,cosmetic,glabella,Botox,20,,2000,20\n"
              "P7,p7,2024-06-05,A01,cosmetic,glabella,Botox,20,,2000,20\n"
              "C3,p7,2024-06-10,A01,cosmetic,glabella,Botox,1,P7,0,10\n")
ONE_LOW, ONE_HIGH = 0.025318, 5.571643  # Garwood 95 % limits of a count of 1 (chi2 tables: 0.0506 / 2, 11.143 / 2)


@pytest.fixture
def clinic_db(tmp_path, db) -> Path:
    write(tmp_path / "c.csv", "clinician,profession,cost_per_minute_nok\nA01,lege,30\nB02,sykepleier,20\n")
    write(tmp_path / "p.csv", "product,valid_from,cost_per_unit_nok\nBotox,2022-01-01,30\n")
    write(tmp_path / "t.csv", TREATMENTS)
    result = load_files([tmp_path / "c.csv", tmp_path / "p.csv", tmp_path / "t.csv"], db, today=dt.date(2024, 6, 30))
    assert result.rows_rejected == 0
    return db


@pytest.fixture
def con(clinic_db):
    c = duckdb.connect(str(clinic_db), read_only=True)
    yield c
    c.close()


# --------------------------------------------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------------------------------------------


def test_the_periods_are_whole_months_up_to_the_newest_ended_one():
    d = dt.date
    assert costs.comparison_periods(d(2024, 6, 10)) == [
        ("year", "current", d(2024, 1, 1), d(2024, 5, 31)), ("year", "previous", d(2023, 1, 1), d(2023, 5, 31)),
        ("12_months", "current", d(2023, 6, 1), d(2024, 5, 31)),
        ("12_months", "previous", d(2022, 6, 1), d(2023, 5, 31))]
    # the last day of a month counts that month; a leap February against a common one
    assert costs.comparison_periods(d(2024, 2, 29))[:2] == [
        ("year", "current", d(2024, 1, 1), d(2024, 2, 29)), ("year", "previous", d(2023, 1, 1), d(2023, 2, 28))]
    # in January no month of the year has ended: the year compares nothing
    year = costs.comparison_periods(d(2025, 1, 10))[0]
    assert year[2] > year[3]


def test_the_interval_of_a_cost_per_100_by_hand():
    # 4 corrections costing 2,000 NOK over 100 primary treatments: Garwood 1.0899 and 10.2416 x 500 NOK
    low, high = costs.per_100_interval([4, 0], [2000, 0], [100, 50], 500.0)
    assert low[0] == pytest.approx(544.93, abs=0.05) and high[0] == pytest.approx(5120.79, abs=0.05)
    # no correction: 0 to 3.6889 corrections x the clinic's 500 NOK, over 50 treatments
    assert low[1] == 0 and high[1] == pytest.approx(3.688879 * 500 * 100 / 50, abs=0.05)


def test_this_year_against_last_year_and_12_months_against_the_12_before(con):
    table = costs.cost_comparison(con, as_of=AS_OF).set_index(["comparison", "period"])
    assert table.loc[("year", "current"), ["correction_n", "correction_cost_nok", "primary_n"]].tolist() == [
        1, 520, 3]
    assert table.loc[("year", "previous"), ["correction_n", "correction_cost_nok", "primary_n"]].tolist() == [
        1, 460, 2]
    assert table.loc[("12_months", "current"), "primary_n"] == 4
    assert table.loc[("year", "current"), "per_100_nok"] == pytest.approx(52000 / 3)
    assert table.loc[("12_months", "previous"), "per_100_nok"] == pytest.approx(23000)
    assert table.loc[("year", "current"), "per_100_low_nok"] == pytest.approx(52000 / 3 * ONE_LOW, rel=1e-4)
    assert table.loc[("year", "current"), "per_100_high_nok"] == pytest.approx(52000 / 3 * ONE_HIGH, rel=1e-4)
    year = costs.change(costs.cost_comparison(con, as_of=AS_OF), "year")
    assert year["change_nok"] == pytest.approx(52000 / 3 - 23000)
    assert year["change_share"] == pytest.approx((52000 / 3 - 23000) / 23000)
    assert year["direction"] == "unclear"  # one correction a year: the intervals overlap
    twelve = costs.change(costs.cost_comparison(con, as_of=AS_OF), "12_months")
    assert twelve["change_nok"] == pytest.approx(-10000)
    # the sidebar's dates give way to the comparison's; a clinician filter applies: B02 had no correction
    only_b = costs.cost_comparison(con, as_of=AS_OF, filters=costs.Filters(
        clinicians=("B02",), date_from=dt.date(2024, 5, 1), date_to=dt.date(2024, 5, 31))).set_index(
        ["comparison", "period"])
    assert only_b.loc[("12_months", "current"), ["correction_n", "primary_n"]].tolist() == [0, 3]
    # a manager sees no figure of fewer than 10 primary treatments: nothing to compare
    hidden = costs.cost_comparison(con, as_of=AS_OF, min_sessions=10)
    assert hidden["is_hidden"].all() and costs.change(hidden, "year")["direction"] == "none"


def test_a_change_is_called_clear_only_when_the_intervals_do_not_overlap():
    def frame(cur, prev):
        return pd.DataFrame([{"comparison": "year", "period": p, "per_100_nok": v, "per_100_low_nok": lo,
                              "per_100_high_nok": hi} for p, (v, lo, hi) in (("current", cur), ("previous", prev))])

    assert costs.change(frame((100, 80, 120), (200, 150, 250)), "year")["direction"] == "lower"
    assert costs.change(frame((300, 260, 340), (200, 150, 250)), "year")["direction"] == "higher"
    assert costs.change(frame((100, 80, 160), (200, 150, 250)), "year")["direction"] == "unclear"
    assert costs.change(frame((float("nan"),) * 3, (200, 150, 250)), "year")["direction"] == "none"


# --------------------------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------------------------


def costs_page(clinic_db: Path, tmp_path: Path, monkeypatch, lang: str, **params) -> AppTest:
    from pipelines.demo.build import mark_as_demo

    page_db = tmp_path / f"page-{lang}" / "clinic.duckdb"
    page_db.parent.mkdir(exist_ok=True)
    page_db.write_bytes(clinic_db.read_bytes())
    c = duckdb.connect(str(page_db))
    mark_as_demo(c, c.execute("SELECT max(load_id) FROM load_log").fetchall()[0][0])
    c.close()
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(page_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    at.query_params["lang"] = lang
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page("dashboard/pages/costs.py")
    at.run()
    st.cache_data.clear()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_page_compares_this_year_with_last_year(clinic_db, tmp_path, monkeypatch):
    at = costs_page(clinic_db, tmp_path, monkeypatch, "nb")
    metrics = {m.label: m for m in at.metric}
    year = metrics["I år så langt (jan. – mai 2024)"]
    assert year.value == "kr\u00a017\u00a0333"
    assert year.proto.delta == "kr\u00a0−5\u00a0667 (−24,6\u00a0%) mot jan. – mai 2023"
    twelve = metrics["Siste 12 måneder (juni 2023 – mai 2024)"]
    assert twelve.value == "kr\u00a013\u00a0000"
    assert twelve.proto.delta == "kr\u00a0−10\u00a0000 (−43,5\u00a0%) mot juni 2022 – mai 2023"
    captions = [c.value for c in at.caption]
    assert ("Ingen tydelig endring, 95 %-intervallene overlapper. jan. – mai 2024: kr\u00a017\u00a0333 per 100 "
            "(95 %-intervall kr\u00a0439 – kr\u00a096\u00a0575; korrigeringer: 1, første behandlinger: 3); "
            "jan. – mai 2023: kr\u00a023\u00a0000 per 100 (95 %-intervall kr\u00a0582 – kr\u00a0128\u00a0148; "
            "korrigeringer: 1, første behandlinger: 2)") in captions, captions


def test_the_page_says_why_two_counts_differ(clinic_db, tmp_path, monkeypatch):
    at = costs_page(clinic_db, tmp_path, monkeypatch, "en")
    # the rate: P1-P6 have a closed 28-day window on 2024-06-10 (P7 not), P1 and P4 corrected in it: 2 of 6;
    # the costs: C1 C2 C3 (none after day 28) against P1-P7
    assert ("Why two counts: the correction rate counts 2 corrections of 6 primary treatments whose 28-day window "
            "has closed (corrected within 28 days, by the month of the treatment); the costs count all 3 correction "
            "sessions given (0 after day 28) against all 7 primary treatments in the period (by the month of the "
            "correction).") in [c.value for c in at.caption]


def test_each_clinicians_cost_has_its_interval_and_n(clinic_db, tmp_path, monkeypatch):
    at = costs_page(clinic_db, tmp_path, monkeypatch, "en")
    # A01: C1 C2 C3 = 1,410 NOK over P1 P2 P4 P7 (4): 35,250 per 100; 3 corrections: Garwood 0.61867 - 8.76727
    # x 470 NOK x 100 / 4. B02: none over P3 P5 P6: 0 to 3.68888 x the clinic's 470 NOK x 100 / 3 = 57,792
    column = "Per 100 treatments (NOK), 95 % interval"
    table = next(t.value for t in at.dataframe if column in t.value.columns)
    rows = table.set_index("Clinician")
    assert rows.loc["A01", column] == "35,250 (7,269–103,015)"
    assert rows.loc["B02", column] == "0 (0–57,792)"
    assert rows.loc["B02", "Corrections / primary treatments"] == "0 / 3"
    assert rows.loc["A01", "Corrections / primary treatments"] == "3 / 4"
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = next(f["data"][0] for f in figs if f["data"] and f["data"][0].get("orientation") == "h"
                and sorted(f["data"][0]["y"]) == ["A01", "B02"])
    by_name = dict(zip(bars["y"], zip(bars["text"], bars["error_x"]["array"], bars["error_x"]["arrayminus"],
                                      strict=True), strict=True))
    assert by_name["A01"][0] == "n = 4" and by_name["B02"][0] == "n = 3"
    assert by_name["A01"][1] == pytest.approx(8.76727 * 470 * 25 - 35250, abs=1)
    assert by_name["A01"][2] == pytest.approx(35250 - 0.618672 * 470 * 25, abs=1)


def test_the_unfinished_month_is_marked_on_the_cost_chart(clinic_db, tmp_path, monkeypatch):
    at = costs_page(clinic_db, tmp_path, monkeypatch, "en")
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    monthly = next(f for f in figs if f["layout"].get("barmode") == "stack")
    notes = [a["text"] for a in monthly["layout"].get("annotations", [])]
    assert "Jun 2024: incomplete, data to 2024-06-10" in notes
    (shade,) = [s for s in monthly["layout"]["shapes"] if s.get("type") == "rect"]
    assert shade["x0"].startswith("2024-05-17") and shade["x1"].startswith("2024-06-16")


def test_no_developer_text_on_the_costs_page(clinic_db, tmp_path, monkeypatch):
    for lang in ("en", "nb"):
        at = costs_page(clinic_db, tmp_path, monkeypatch, lang)
        texts = [e.value for kind in ("caption", "info", "warning", "markdown", "subheader", "title")
                 for e in getattr(at, kind)]
        texts += [m.label for m in at.metric] + [m.proto.help for m in at.metric]
        texts += [e.help or "" for e in at.text_input]
        shown = "\n".join(str(t) for t in texts)
        for dev in ("python -m", ".csv", "pipelines", "registry", "data/", "`"):
            assert dev not in shown, (lang, dev)


def test_amounts_are_typed_in_norwegian(clinic_db, tmp_path, monkeypatch):
    at = costs_page(clinic_db, tmp_path, monkeypatch, "nb")
    box = at.text_input[0]
    assert box.label == "Forbruksmateriell per korrigering (kr)" and box.value == "100"
    # 150,50 per correction: C1 C2 C3 cost 50.50 more each, 1,410 + 151.50 = 1,561.50
    box.set_value("150,50").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Korrigeringskostnad"] == "kr\u00a01\u00a0562"
    box = at.text_input[0]
    box.set_value("1.500").run()  # a thousands point or 1.5? refused, the default kept, the way to write it said
    assert {m.label: m.value for m in at.metric}["Korrigeringskostnad"] == "kr\u00a01\u00a0410"
    assert any("«1.500» er ikke et beløp i kroner: skriv det som 150 eller 1 500,50" in w.value for w in at.warning)
    at.text_input[0].set_value("1 000").run()  # 900 more each: 1,410 + 2,700
    assert {m.label: m.value for m in at.metric}["Korrigeringskostnad"] == "kr\u00a04\u00a0110"
    # the what-if prices and chair-time costs are written as Norwegian amounts too (typed back the same way)
    chair = next(t.value for t in at.dataframe if "cost_per_minute_nok" in t.value.columns)
    assert chair["cost_per_minute_nok"].tolist() == ["30,00", "20,00"]
    prices = next(t.value for t in at.dataframe if "cost_per_unit_nok" in t.value.columns)
    assert prices["cost_per_unit_nok"].tolist() == ["30,00"]


@pytest.mark.parametrize(("text", "lang", "amount"), [
    ("150", "nb", 150.0), ("150,50", "nb", 150.5), ("1 500,5", "nb", 1500.5), ("1\u00a0500", "nb", 1500.0),
    ("150.5", "nb", 150.5),  # a point before fewer than three digits: the decimal sign
    ("1.500", "nb", None),  # a thousands point or 1.5? refused, never guessed
    ("12,345", "nb", None), ("abc", "nb", None), ("1,5,0", "nb", None), ("", "nb", None),
    ("−5", "nb", -5.0), ("1,500.50", "en", 1500.5), ("150.25", "en", 150.25), ("150,5", "en", None),
])
def test_an_amount_is_read_as_typed_in_the_pages_language(text, lang, amount):
    assert i18n.parse_amount(text, lang) == amount


def test_an_amount_is_shown_as_it_is_typed():
    assert [i18n.amount_text(v, "nb") for v in (100.0, 150.5, 1500.25)] == ["100", "150,5", "1\u00a0500,25"]
    assert i18n.amount_text(1500.25, "en") == "1,500.25"
