"""Issue 16, the doctor's tasks, pure parts: the reporting period, value and limit printed apart, Norwegian dates
and labels, the signal list grouped per clinician and clinical problem, "new since the last meeting", why a session
counts, and the charts (no band without a reference, an incomplete month neither sets the scale nor stretches the
date axis). Figures are counted by hand in the comments."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import charts, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, episodes, registry, signals

NBSP = "\u00a0"
D = dt.date


# --------------------------------------------------------------------------------------------------------------
# 4. a value and its limit never print equal
# --------------------------------------------------------------------------------------------------------------


def test_value_and_limit_print_apart_with_enough_digits():
    # the "0,6 % against the limit 0,6 %": one decimal hides the difference
    assert i18n.pct(0.006049, "nb") == i18n.pct(0.006038, "nb") == f"0,6{NBSP}%"
    assert i18n.pct_apart(0.006049, 0.006038, "nb") == (f"0,605{NBSP}%", f"0,604{NBSP}%")
    # "CUSUM 3,65 (threshold 3,65)": 3.6512 against 3.6498 -> 3,651 against 3,65 (3,650 without its zero)
    assert i18n.number(3.6512, "nb", 2) == i18n.number(3.6498, "nb", 2) == "3,65"
    assert i18n.number_apart(3.6512, 3.6498, "nb") == ("3,651", "3,65")
    # a zero rate against a tiny lower funnel limit: the zero stays short
    assert i18n.pct_apart(0, 0.000002, "nb") == (f"0,0{NBSP}%", f"0,0002{NBSP}%")
    # values that differ at the first digits keep them; equal values print equal
    assert i18n.pct_apart(0.258, 0.223, "nb") == (f"25,8{NBSP}%", f"22,3{NBSP}%")
    assert i18n.number_apart(3.65, 3.65, "en") == ("3.65", "3.65")
    assert i18n.pct_apart(None, 0.1, "en") == ("–", f"10.0{NBSP}%")


# --------------------------------------------------------------------------------------------------------------
# 1. the reporting period
# --------------------------------------------------------------------------------------------------------------


FIRST = D(2023, 7, 3)


def test_last_closed_month_waits_for_the_windows():
    # insufficient effect closes 28 days after treatment: October's last sessions (31 Oct) close on 28 November
    assert analysis.longest_close_days(filters.REPORT_OUTCOME) == 28
    assert filters.last_closed_month(D(2026, 11, 30), FIRST) == D(2026, 10, 1)
    assert filters.last_closed_month(D(2026, 11, 28), FIRST) == D(2026, 10, 1)
    assert filters.last_closed_month(D(2026, 11, 27), FIRST) == D(2026, 9, 1)  # 31 Oct + 28 = 28 Nov > 27 Nov
    assert filters.last_closed_month(D(2023, 7, 20), FIRST) == D(2023, 7, 1)  # never before the data's first month


def test_report_presets_and_months():
    as_of = D(2026, 11, 30)  # last closed month: October 2026
    last = filters.report_period("last", FIRST, as_of)
    assert (last.start, last.end, last.months) == (D(2026, 10, 1), D(2026, 10, 31), (D(2026, 10, 1),))
    assert last.label("nb") == "okt. 2026" and last.label("en") == "Oct 2026"
    quarter = filters.report_period("quarter", FIRST, as_of)  # Q4 up to October: October only
    assert (quarter.start, quarter.end) == (D(2026, 10, 1), D(2026, 10, 31))
    year = filters.report_period("year", FIRST, as_of)
    assert (year.start, year.end, len(year.months)) == (D(2026, 1, 1), D(2026, 10, 31), 10)
    assert year.label("nb") == "jan.–okt. 2026"
    march = filters.report_period("2026-03", FIRST, as_of)
    assert (march.start, march.end, march.choice) == (D(2026, 3, 1), D(2026, 3, 31), "2026-03")
    assert march.label("nb") == "mars 2026"
    # a month not closed yet, before the data, or not a month at all: the last closed month
    for bad in ("2026-11", "2023-06", "13-2026", "quarterly", None):
        assert filters.report_period(bad, FIRST, as_of) == last
    # the quarter of a September: July to September
    q3 = filters.report_period("quarter", FIRST, D(2026, 11, 27))
    assert (q3.start, q3.end, len(q3.months)) == (D(2026, 7, 1), D(2026, 9, 30), 3)
    choices = filters.report_choices(FIRST, as_of)
    assert choices[:5] == ["last", "quarter", "year", "2026-10", "2026-09"]
    assert choices[-1] == "2023-07" and len(choices) == 3 + 40  # Jul 2023 .. Oct 2026: 6 + 12 + 12 + 10 months


def test_default_last_meeting_is_a_month_before_the_data():
    assert filters.default_since(D(2026, 11, 30)) == D(2026, 10, 30)
    assert filters.default_since(D(2026, 3, 31)) == D(2026, 2, 28)
    assert filters.default_since(D(2026, 1, 15)) == D(2025, 12, 15)


# --------------------------------------------------------------------------------------------------------------
# 9. Norwegian throughout
# --------------------------------------------------------------------------------------------------------------


def test_norwegian_dates_labels_and_sources():
    assert i18n.date(D(2026, 11, 30), "nb") == "30.11.2026"  # as typed in the date fields
    assert filters.DATE_INPUT_FORMAT["nb"] == "DD.MM.YYYY"
    assert registry.get("secondary_non_response").label("nb") == "Sekundær svikt (mistenkte antistoffer)"
    assert registry.get("dry_eye").reference.source_text("nb") == "preparatomtalen for Vistabel"
    assert registry.get("dry_eye").reference.source_text("en") == "Vistabel summary of product characteristics"
    assert i18n.t("none", "nb") == "ingen"
    assert i18n.t("reading_short_common_cause", "nb") == "Vanlig variasjon"
    # the KPI label that was cut off ("Utfall: spesiell variasjon, b…") is short now
    assert len(i18n.t("kpi_special_short", "nb")) <= 26


# --------------------------------------------------------------------------------------------------------------
# 2. the signal list: one row per clinician and clinical problem, new since the last meeting
# --------------------------------------------------------------------------------------------------------------


def signal(on, kind, rule, outcome, clinician, concern=True, direction="high", run_start=None):
    return {"on": on, "kind": kind, "rule": rule, "outcome": outcome, "clinician": clinician, "period": "month",
            "direction": direction, "concern": concern, "value": 0.1, "numerator_n": 3.0, "denominator_n": 30.0,
            "limit": 0.08, "detail_a": np.nan, "detail_b": np.nan, "run_start": run_start}


def five_episodes() -> pd.DataFrame:
    rows = pd.DataFrame([
        signal(D(2026, 6, 30), "funnel", "funnel_998", "eyelid_ptosis", "C01"),
        signal(D(2026, 5, 10), "cusum", "cusum", "brow_ptosis", "C01"),
        signal(D(2026, 3, 2), "cusum", "cusum", "ptosis", "C01"),
        signal(D(2026, 4, 1), "cusum", "cusum", "eyelid_ptosis", "C02", concern=False, direction="low"),
        signal(D(2026, 2, 1), "spc", "sigma", "insufficient_effect", None),
    ])
    return signals.with_last_day(episodes.episodes(rows))


def test_ptosis_and_eyelid_ptosis_are_one_problem():
    assert registry.get("eyelid_ptosis").family == registry.get("brow_ptosis").family == "ptosis"
    assert registry.get("ptosis").family == "ptosis" and registry.get("asymmetry").family == "asymmetry"
    groups = signals.signal_groups(five_episodes())
    # 5 episodes -> 3 rows: C01's three ptosis episodes are one row, newest (30 June) first
    assert list(zip(groups["family"], groups["clinician"], groups["episodes_n"], strict=True)) == [
        ("ptosis", "C01", 3), ("ptosis", "C02", 1), ("insufficient_effect", None, 1)]
    first = groups.iloc[0]
    assert first["outcomes"] == ("ptosis", "eyelid_ptosis", "brow_ptosis")  # registry order
    assert first["kinds"] == ("funnel", "cusum") and first["episodes"][0]["kind"] == "funnel"
    assert list(groups["concern"]) == [True, False, True]
    assert groups.iloc[2]["last_day"] == D(2026, 2, 28)  # a control-chart month covers the whole month


def test_new_since_the_last_meeting():
    ep = five_episodes()
    by_outcome = ep.set_index("outcome")
    # a CUSUM crossing on 10 May is known once its session's 28-day window closed: 7 June
    assert by_outcome.loc["brow_ptosis", "last_known"] == D(2026, 6, 7)
    # February's control-chart point is judged once February's last sessions closed: 28 Feb + 28 = 28 March
    assert by_outcome.loc["insufficient_effect", "last_known"] == D(2026, 3, 28)
    new = signals.new_since(ep, D(2026, 6, 1))
    assert sorted(new["outcome"]) == ["brow_ptosis", "eyelid_ptosis"]  # 7 June and the funnel of 30 June
    assert signals.signal_groups(new)["clinician"].tolist() == ["C01"]
    # a funnel flag that was already there on the day of the last meeting is not new
    old_flag = {("eyelid_ptosis", "C01", "high")}
    assert sorted(signals.new_since(ep, D(2026, 6, 1), old_flag)["outcome"]) == ["brow_ptosis"]
    assert signals.new_since(ep, D(2026, 7, 1), old_flag).empty
    # the reporting month: episodes with a signal in March 2026 (C01's CUSUM of 2 March, the funnel of the period)
    march = signals.in_period(ep, D(2026, 3, 1), D(2026, 3, 31))
    assert sorted(march["outcome"]) == ["eyelid_ptosis", "ptosis"]


# --------------------------------------------------------------------------------------------------------------
# 3. why a session counts
# --------------------------------------------------------------------------------------------------------------


def test_why_it_counts_in_plain_words():
    assert ui.why_counts({"correction_day": 14, "close_day": 28}, "correction", event=True, lost=False,
                         lg="nb") == "korrigert dag 14"
    assert ui.why_counts({"correction_day": 14, "close_day": 28}, "correction", event=True, lost=False,
                         lg="en") == "correction on day 14"
    assert ui.why_counts({"event_day": 12, "answers": {"eyelid_ptosis": True, "brow_ptosis": False}}, "ptosis",
                         event=True, lost=False, lg="nb") == "hengende øyelokk ved kontrollen dag 12"
    assert ui.why_counts({"event_day": 13, "answers": {"effect": "partial"}, "correction_day": 16},
                         "insufficient_effect", event=True, lost=False, lg="nb") == \
        "effekt delvis ved kontrollen dag 13; korrigert dag 16"
    assert ui.why_counts({"event_day": 80, "answers": {"headache_days": 9, "baseline_headache_days": 12}},
                         "headache_non_response", event=True, lost=False, lg="nb") == \
        "9 hodepinedager (før: 12) ved kontrollen dag 80"
    # lost to follow-up counts as non-response for headache: the window's last day is named
    assert registry.get("headache_non_response").lost_to_follow_up == "event"
    assert ui.why_counts({"close_day": 84}, "headache_non_response", event=True, lost=True, lg="nb") == \
        "ingen oppfølging innen dag 84: telles som hendelse"
    assert ui.why_counts({"risks": ("pregnant_or_breastfeeding",)}, "treated_despite_risk", event=True,
                         lost=False, lg="nb") == "behandlet til tross for graviditet eller amming"
    assert ui.why_counts({"assessed_day": 15, "close_day": 28}, "ptosis", event=False, lost=False, lg="nb") == \
        "ingen hendelse ved kontrollen dag 15"
    assert ui.why_counts({"close_day": 28}, "ptosis", event=False, lost=True, lg="nb") == \
        "ingen oppfølging innen dag 28: holdt utenfor andelen"


@pytest.fixture(scope="module")
def demo_con(tmp_path_factory):
    from pipelines.demo.build import run_demo

    db = tmp_path_factory.mktemp("doctor") / "clinic.duckdb"
    run_demo(db, n_treatments=1500, end_date=D(2026, 6, 30), progress=False)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_case_reasons_name_the_correction_day_the_data_holds(demo_con):
    page, total = signals.case_review(demo_con, "correction", which="numerator", limit=40)
    assert total > 0
    reasons = signals.case_reasons(demo_con, "correction", page["treatment_id"])
    assert list(reasons["treatment_id"]) == list(page["treatment_id"])
    # counted independently: the days from each session to its first correction
    ids = list(page["treatment_id"])
    days = dict(demo_con.execute("""
        SELECT t.treatment_id, min(c.treated_on - t.treated_on)
        FROM treatments t JOIN treatments c ON c.corrects_treatment_id = t.treatment_id
        WHERE list_contains($ids, t.treatment_id) GROUP BY 1""", {"ids": ids}).fetchall())
    assert {t: int(d) for t, d in zip(reasons["treatment_id"], reasons["correction_day"], strict=True)} == \
        {t: int(d) for t, d in days.items()}
    assert all(d <= 28 for d in days.values())


# --------------------------------------------------------------------------------------------------------------
# 4 and 5. charts
# --------------------------------------------------------------------------------------------------------------


def forest_rows(ref_low, ref_high) -> pd.DataFrame:
    base = {"group": "injection_site", "rate": 0.02, "ci_low": 0.01, "ci_high": 0.03, "numerator_n": 2,
            "denominator_n": 100, "followup_completeness": 0.9, "reference_text": "", "reading": "common_cause"}
    return pd.DataFrame([{**base, "label": "Bruising", "ref_low": 3.0, "ref_high": 8.0},
                         {**base, "label": "Bleeding", "ref_low": ref_low, "ref_high": ref_high}])


def test_no_reference_band_for_an_outcome_without_a_reference():
    # a frame holds the missing reference as NaN (pandas turns None into NaN in a float column)
    fig = charts.forest_chart(forest_rows(None, None), lang="nb")
    assert len(fig.layout.shapes) == 1, "only bruising has a reference range"
    assert fig.layout.shapes[0].x0 == 3.0 and fig.layout.shapes[0].x1 == 8.0


def test_an_incomplete_newest_month_neither_sets_the_scale_nor_stretches_the_axis(demo_con):
    frame = analysis.spc(demo_con, "insufficient_effect", as_of=D(2026, 6, 30))
    last = frame.index[-1]
    assert not frame.loc[last, "period_closed"]
    # the newest month: 1 closed session of 1 with the event (100 %), as on the first days after a month ends
    frame.loc[last, ["numerator_n", "denominator_n", "rate"]] = [1.0, 1.0, 1.0]
    closed = frame[frame["period_closed"].astype(bool)]
    highest = max(closed["rate"].max(), closed.loc[closed["denominator_n"] >= charts.SMALL_N, "ucl"].max())
    fig = charts.spc_chart(frame, outcome_label="x", lang="nb")
    top = fig.layout.yaxis.range[1]
    assert top == pytest.approx(100 * highest * 1.12) and top < 60
    end = pd.Timestamp(fig.layout.xaxis.range[1])
    assert end == pd.Timestamp(frame["period_start"].iloc[-1]) + pd.Timedelta(days=16)  # not the next year
    # the axis names months in Norwegian (Plotly's own ticks are English): 'mai', 'okt.', never 'May', 'Oct'
    ticks = " ".join(fig.layout.xaxis.ticktext)
    assert not any(m in ticks for m in ("May", "Oct", "Dec", "Jan ")) and any(m in ticks for m in
                                                                             ("jan.", "mai", "okt.", "juli", "apr."))


def test_the_reporting_month_is_a_band_on_the_p_chart(demo_con):
    frame = analysis.spc(demo_con, "insufficient_effect", as_of=D(2026, 6, 30))
    fig = charts.spc_chart(frame, outcome_label="x", lang="nb", report=(D(2026, 3, 1), D(2026, 3, 31)),
                           report_label="Rapporteringsmåned: mars 2026")
    bands = [s for s in fig.layout.shapes if s.fillcolor == charts.REPORT_FILL]
    assert len(bands) == 1
    assert pd.Timestamp(bands[0].x0) == pd.Timestamp(2026, 2, 15)  # half a month around March's point
    assert pd.Timestamp(bands[0].x1) == pd.Timestamp(2026, 3, 15)
    assert "Rapporteringsmåned: mars 2026" in {t.name for t in fig.data}


def test_an_incomplete_quarter_is_drawn_apart_on_the_responders_chart():
    quarters = [D(2025, 7, 1), D(2025, 10, 1), D(2026, 1, 1), D(2026, 4, 1)]
    frame = pd.DataFrame({"period_start": quarters, "numerator_n": [20, 22, 18, 1], "denominator_n": [40, 44, 40, 1],
                          "rate": [0.5, 0.5, 0.45, 1.0], "ci_low": [0.35, 0.36, 0.31, 0.21],
                          "ci_high": [0.65, 0.64, 0.6, 1.0], "period_closed": [True, True, True, False]})
    fig = charts.rate_time_chart(frame, lang="nb", title="x", period="quarter")
    # the closed quarters set the scale: 65 % x 1.12 = 72.8 %, not 100 %
    assert fig.layout.yaxis.range[1] == pytest.approx(72.8)
    apart = [t for t in fig.data if t.name == i18n.t("legend_incomplete", "nb")]
    assert len(apart) == 1 and list(apart[0].y) == [100.0]


def test_reference_sources_in_norwegian_and_never_none():
    for o in registry.OUTCOMES:
        if o.reference is None:
            continue
        text = o.reference.source_text("nb")
        assert "none" not in text and "pooled" not in text and "summary of product" not in text, (o.key, text)
        assert "at least" not in text and " week" not in text, (o.key, text)
    # the citation stays as published; its description is Norwegian
    assert registry.get("bruising").reference.source_text("nb") == \
        "Brin et al., J Am Acad Dermatol 2009;61:961 (samlede studier, n=1 678)"
    assert registry.get("bleeding").reference.source_text("nb") == ""  # no published source: nothing named
    assert ui.source_text(registry.get("bleeding").reference, "nb") == "–"
