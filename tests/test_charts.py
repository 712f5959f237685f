"""dashboard/charts.py: pure figure builders on frames small enough to check by hand (no database, no streamlit)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from conftest import ROOT

from dashboard import charts, i18n
from pipelines import stats
from pipelines.metrics import analysis, counting, signals

NBSP = "\u00a0"


def spc_frame(events, n, start=dt.date(2025, 1, 1), **kw) -> pd.DataFrame:
    periods = pd.date_range(start, periods=len(events), freq="MS").date
    counts = pd.DataFrame({"period_start": periods, "eligible_n": [int(x * 1.25) for x in n], "followed_up_n": n,
                           "event_n": events, "awaiting_n": 0, "numerator_n": events, "denominator_n": n})
    return analysis.spc_from_counts(counts, **kw)


def trace(fig: go.Figure, name: str):
    return next(tr for tr in fig.data if tr.name == name)


def hover_texts(tr) -> list[str]:
    return [row[0] for row in tr.customdata]


def test_charts_module_does_not_import_streamlit():
    code = "import sys, dashboard.charts; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------------------
# p-chart
# --------------------------------------------------------------------------------------------------------------


def test_spc_chart_draws_limits_centre_points_and_reference_band():
    frame = spc_frame([5, 4, 6, 5, 5, 30, 5, 4, 6, 5], [100, 100, 100, 100, 100, 100, 100, 100, 100, 10])
    fig = charts.spc_chart(frame, outcome_label="Bruising", lang="en", reference=(2.0, 5.0),
                           reference_text="about 3 %")
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text == "<b>Bruising: p-chart by month</b>"
    assert "3-sigma" in fig.layout.title.subtitle.text
    rate = trace(fig, "Rate")
    assert list(rate.y) == pytest.approx([5, 4, 6, 5, 5, 30, 5, 4, 6, 50])
    ucl = [tr for tr in fig.data if tr.name == "3-sigma limits"]
    assert len(ucl) == 2
    assert list(ucl[0].y) == pytest.approx(list(100 * frame["ucl"]))
    assert list(trace(fig, "Centre line").y) == pytest.approx(list(100 * frame["cl"]))
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(bands) == 1 and (bands[0].y0, bands[0].y1) == (2.0, 5.0)
    assert fig.layout.xaxis.type == "date"


def test_spc_chart_hover_counts_interval_completeness_and_rule():
    frame = spc_frame([5, 4, 6, 5, 5, 30, 5, 4, 6, 1], [100] * 9 + [10])
    fig = charts.spc_chart(frame, outcome_label="Bruising", lang="en")
    texts = hover_texts(trace(fig, "Rate"))
    assert "Rate: 30.0" in texts[5] and "(30 of 100)" in texts[5]
    assert "Limits:" in texts[5] and "centre" in texts[5]
    assert "Followed up: 80.0" in texts[5] and "(100 of 125 eligible)" in texts[5]
    assert "Signal: Outside the 3-sigma limits" in texts[5]
    assert "Signal" not in texts[4]
    assert "fewer than 20 sessions" in texts[9] and "fewer than 20" not in texts[8]
    symbols = list(trace(fig, "Rate").marker.symbol)
    assert symbols[5] == "diamond" and symbols[9] == "circle-open" and symbols[8] == "circle"
    assert trace(fig, "Rate").marker.color[5] == charts.CONCERNING
    assert "Fewer than 20 sessions" in {tr.name for tr in fig.data}


def test_spc_chart_marks_anhoej_runs_on_the_centre_line_and_names_them():
    frame = spc_frame([2] * 9 + [20] * 3, [100] * 12)
    fig = charts.spc_chart(frame, outcome_label="X", lang="en")
    cl = trace(fig, "Centre line")
    assert cl.line.dash == "dash" and cl.line.color == charts.CONCERNING
    notes = [a.text for a in fig.layout.annotations]
    assert any("longest run 9 > 7" in n for n in notes)


def test_spc_chart_mdc_rules_and_improvement_colour():
    frame = spc_frame([10] * 11 + [0], [100] * 12, rules="mdc")
    fig = charts.spc_chart(frame, outcome_label="X", lang="nb", rules="mdc")
    assert "2-sigma-grenser" in {tr.name for tr in fig.data}
    rate = trace(fig, "Andel")
    assert rate.marker.color[-1] == charts.IMPROVING  # lower is better for an adverse event
    assert "Signal:" in hover_texts(rate)[-1]
    assert fig.layout.separators == ", "


def test_spc_chart_highlight_and_empty():
    frame = spc_frame([5] * 6, [100] * 6)
    fig = charts.spc_chart(frame, outcome_label="X", lang="en", highlight=dt.date(2025, 3, 1))
    ring = trace(fig, "Selected for review")
    assert list(ring.y) == pytest.approx([5.0])
    empty = charts.spc_chart(frame.iloc[0:0], outcome_label="X", lang="en")
    assert empty.layout.annotations[0].text.startswith("No closed periods")


def test_spc_chart_draws_a_part_closed_period_apart_and_unjudged():
    """Issue 17: the newest month, not closed, is a hollow labelled marker off the line, never a signal."""
    frame = spc_frame([5] * 11 + [30], [100] * 12)
    frame = analysis.spc_from_counts(frame[["period_start", "eligible_n", "followed_up_n", "event_n", "awaiting_n",
                                            "numerator_n", "denominator_n"]]
                                     .assign(period_closed=[True] * 11 + [False]))
    fig = charts.spc_chart(frame, outcome_label="X", lang="en")
    rate = trace(fig, "Rate")
    assert list(rate.y[:11]) == pytest.approx([5.0] * 11) and rate.y[11] is None
    apart = trace(fig, "Incomplete period (not judged)")
    assert list(apart.y) == pytest.approx([30.0]) and list(apart.text) == ["incomplete"]
    assert apart.marker.symbol == "circle-open"
    hover = hover_texts(apart)[0]
    assert "Rate: 30.0" in hover and "not judged" in hover and "Signal" not in hover
    assert "Signal" not in " ".join(hover_texts(rate)) and "Signal: concerning" not in {tr.name for tr in fig.data}
    nb = charts.spc_chart(frame, outcome_label="X", lang="nb")
    assert list(trace(nb, "Ufullstendig periode (ikke vurdert)").text) == ["ufullstendig"]
    # judged, the same month is a concerning signal
    judged = charts.spc_chart(analysis.spc_from_counts(frame.assign(period_closed=True)), outcome_label="X",
                              lang="en")
    assert trace(judged, "Rate").marker.symbol[11] == "diamond"


def test_spc_chart_marks_low_follow_up_completeness():
    counts = pd.DataFrame({"period_start": pd.date_range("2025-01-01", periods=6, freq="MS").date,
                           "eligible_n": [10] * 6, "followed_up_n": [10, 10, 5, 6, 10, 10],
                           "event_n": [1] * 6, "awaiting_n": 0})
    frame = analysis.spc_from_counts(counts.assign(numerator_n=counts.event_n, denominator_n=counts.followed_up_n))
    assert frame.is_low_completeness.tolist() == [False, False, True, False, False, False]
    fig = charts.spc_chart(frame, outcome_label="X", lang="en", min_completeness=0.6)
    rate = trace(fig, "Rate")
    assert rate.marker.symbol[2] == "square-open" and rate.marker.symbol[3] == "circle-open"  # n < 20: hollow
    texts = hover_texts(rate)
    assert f"Follow-up completeness 50{NBSP}%: least reliable" in texts[2]
    assert "least reliable" not in texts[3]
    assert f"Follow-up below 60{NBSP}%: least reliable" in {tr.name for tr in fig.data}


def test_funnel_chart_marks_clinicians_with_low_completeness():
    num, den = np.array([5, 60, 12, 3]), np.array([100, 200, 150, 15])
    counted = pd.DataFrame({"clinician": ["B", "A", "C", "D"], "eligible_n": [100, 400, 250, 15],
                            "followed_up_n": den, "event_n": num, "awaiting_n": 0, "numerator_n": num,
                            "denominator_n": den})
    frame, info = analysis.funnel_from_counts(counted, "arcsine", "off")
    # A: 200 of 400 followed up (50 %) is low; C: 150 of 250 (60 %) is not
    assert frame.set_index("clinician").is_low_completeness.to_dict() == {"A": True, "B": False, "C": False,
                                                                         "D": False}
    fig = charts.funnel_chart(frame, analysis.funnel_curve(info, 200, "arcsine"), info, outcome_label="X",
                              lang="en", min_completeness=0.6)
    high = trace(fig, "Above the 99.8 % limit")
    assert list(high.text) == ["A"] and list(high.marker.symbol) == ["diamond-x"]
    assert f"Follow-up completeness 50{NBSP}%: least reliable" in hover_texts(high)[0]
    inside = trace(fig, "Within the limits")
    assert "square" not in list(inside.marker.symbol)
    assert f"Follow-up below 60{NBSP}%: least reliable" in {tr.name for tr in fig.data}


# --------------------------------------------------------------------------------------------------------------
# funnel, O/E, CUSUM
# --------------------------------------------------------------------------------------------------------------


def funnel_inputs(method="arcsine"):
    """The library's funnel frame (analysis.funnel_from_counts) of four clinicians' counts."""
    num = np.array([5, 60, 12, 3])
    den = np.array([100, 200, 150, 15])
    counted = pd.DataFrame({"clinician": ["B", "A", "C", "D"], "eligible_n": den, "followed_up_n": den,
                            "event_n": num, "awaiting_n": 0, "numerator_n": num, "denominator_n": den})
    frame, info = analysis.funnel_from_counts(counted, method, "off")
    curve = analysis.funnel_curve(info, int(den.max()), method)
    return frame, curve, info


def test_the_funnel_frame_carries_each_clinicians_wilson_interval():
    """Statistics out of views: the interval comes with the library's frame. Wilson 95 % by hand for 60 of 200:
    p = 0.3, z = 1.959964, centre = (p + z²/400) / (1 + z²/200) = 0.303769, half-width =
    z·sqrt(p(1-p)/200 + z²/160000) / (1 + z²/200) = 0.063022: 0.240747 to 0.366791; 3 of 15: 0.070475 to 0.451854."""
    frame, _, _ = funnel_inputs()
    by = frame.set_index("clinician")
    assert by.loc["A", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.240747, 0.366791], abs=1e-6)
    assert by.loc["D", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.070475, 0.451854], abs=1e-6)


def test_the_funnel_chart_draws_the_frames_interval_and_computes_none():
    frame, curve, info = funnel_inputs()
    frame.loc[frame["clinician"] == "A", ["ci_low", "ci_high"]] = [0.2111, 0.3999]  # not Wilson: drawn as given
    fig = charts.funnel_chart(frame, curve, info, outcome_label="Ptosis", lang="en")
    hover = hover_texts(trace(fig, "Above the 99.8 % limit"))[0]
    assert f"95 % interval: 21.1{NBSP}% to 40.0{NBSP}%" in hover


def test_funnel_chart_has_both_limits_method_and_flags():
    frame, curve, info = funnel_inputs()
    fig = charts.funnel_chart(frame, curve, info, outcome_label="Ptosis", lang="en", highlight="C")
    names = [tr.name for tr in fig.data]
    assert names.count("95 % limits") == 2 and names.count("99.8 % limits") == 2
    assert "Clinic rate" in names and "Selected clinician" in names
    sub = fig.layout.title.subtitle.text
    assert "Arcsine (FunnelPlotR)" in sub and "95 %" in sub and "99.8 %" in sub and "overdispersion" in sub
    target = 100 * info["target"]
    assert f"{target:.1f}" in fig.layout.title.text
    high = trace(fig, "Above the 99.8 % limit")
    assert list(high.text) == ["A"]
    hover = hover_texts(high)[0]
    assert "(60 of 200)" in hover and "95 % interval" in hover and "above 99.8 %" in hover
    assert f"95 % interval: 24.1{NBSP}% to 36.7{NBSP}%" in hover  # Wilson, by hand (the test below)
    small = [tr for tr in fig.data if tr.name == "Within the limits"][0]
    assert "circle-open" in list(small.marker.symbol)  # D: 15 sessions
    assert fig.layout.xaxis.title.text == "Sessions (denominator)"


def test_funnel_chart_exact_method_and_empty():
    frame, curve, info = funnel_inputs("exact")
    fig = charts.funnel_chart(frame, curve, info, outcome_label="X", lang="nb")
    assert "Eksakt binomisk" in fig.layout.title.subtitle.text and "99,8 %" in fig.layout.title.subtitle.text
    empty = charts.funnel_chart(frame.iloc[0:0], curve, {"target": np.nan}, outcome_label="X", lang="en")
    assert "No funnel" in empty.layout.annotations[0].text


def test_oe_chart_orders_by_code_and_draws_the_interval():
    frame = pd.DataFrame({"clinician": ["C02", "C01"], "observed_n": [10, 4], "expected_n": [5.0, 4.0],
                          "denominator_n": [50, 40], "flag": ["high", ""]})
    frame["oe_ratio"], frame["oe_low"], frame["oe_high"] = stats.observed_expected(frame["observed_n"],
                                                                                   frame["expected_n"])
    fig = charts.oe_chart(frame, outcome_label="X", lang="en")
    tr = fig.data[0]
    assert list(tr.y) == ["C02", "C01"]  # reversed for a top-down reading: C01 on top
    assert list(tr.x) == pytest.approx([2.0, 1.0])
    assert tr.error_x.array[0] == pytest.approx(3.6781 - 2.0, abs=1e-3)
    assert any(s.type == "line" and s.x0 == 1 for s in fig.layout.shapes)


def test_cusum_chart_daily_points_threshold_and_signals():
    frame = pd.DataFrame({"clinician": ["A"] * 4 + ["B"], "treated_on": [dt.date(2026, 1, 1)] * 2
                          + [dt.date(2026, 1, 2), dt.date(2026, 1, 3), dt.date(2026, 1, 1)],
                          "outcome": [1, 0, 1, 0, 1], "expected": 0.1, "cusum": [0.6, 0.5, 3.4, 0.0, 0.6],
                          "threshold": 3.2, "signal": [False, False, True, False, False]})
    daily = signals.cusum_daily(frame)
    a = daily[daily["clinician"] == "A"]
    assert list(a["cusum"]) == [0.6, 3.4, 0.0] and list(a["sessions_n"]) == [2, 1, 1]
    assert list(a["events_n"]) == [1, 1, 0] and list(a["signal"]) == [False, True, False]
    fig = charts.cusum_chart(daily, clinician="A", outcome_label="X", lang="en", arl0=1000)
    # the legend says what a point is: a treatment day at its highest value, the chart updating per session
    legend = i18n.t("legend_cusum", "en")
    assert "updated per session" in legend and "a point = a treatment day" in legend
    assert list(trace(fig, legend).y) == [0.6, 3.4, 0.0]
    assert list(trace(fig, "Signal").y) == [3.4]
    assert "3.20" in fig.layout.title.subtitle.text and "1,000 sessions" in fig.layout.title.subtitle.text
    assert "no events" in charts.cusum_chart(daily, clinician="Z", outcome_label="X", lang="en",
                                             arl0=1000).layout.annotations[0].text


# --------------------------------------------------------------------------------------------------------------
# rates: forest, breakdown, time
# --------------------------------------------------------------------------------------------------------------


def rates_frame(values, by="indication"):
    rows = pd.DataFrame(values, columns=[by, "numerator_n", "denominator_n"])
    rows["metric"] = "x"
    rows["eligible_n"] = rows["denominator_n"]
    rows["followed_up_n"] = rows["denominator_n"]
    rows["event_n"] = rows["numerator_n"]
    rows["awaiting_n"] = 0
    return counting.add_rates(rows)


def test_forest_chart_two_panels_bands_and_readings():
    rows = pd.DataFrame({
        "label": ["Ptosis", "Bruising", "Headache non-response"], "group": ["eye", "injection_site", "response"],
        "rate": [0.03, 0.06, 0.55], "ci_low": [0.02, 0.05, 0.5], "ci_high": [0.04, 0.07, 0.6],
        "numerator_n": [30, 60, 55], "denominator_n": [1000, 1000, 100], "eligible_n": [1100, 1200, 100],
        "followed_up_n": [1000, 1000, 100], "followup_completeness": [0.91, 0.83, 1.0],
        "ref_low": [0.5, 3.0, 55.2], "ref_high": [5.4, None, 55.2], "reference_text": ["0.5-5.4 %", "3 %", "55 %"],
        "reading": ["common_cause", "special_cause_concerning", ""]})
    fig = charts.forest_chart(rows, lang="en")
    assert [a.text for a in fig.layout.annotations][:2] == ["Complications, effect and safety",
                                                            "Non-response (headache, sweating)"]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 1 and (rects[0].x0, rects[0].x1) == (0.5, 5.4)
    assert len([s for s in fig.layout.shapes if s.type == "line"]) == 2  # single reference values
    concerning = trace(fig, "Special cause: concerning")
    assert list(concerning.x) == pytest.approx([6.0]) and concerning.marker.color == charts.CONCERNING
    assert "(60 of 1,000)" in hover_texts(concerning)[0] and "Followed up: 83.0" in hover_texts(concerning)[0]


def test_breakdown_chart_keeps_label_order_not_rate_order():
    frame = rates_frame([("cosmetic", 30, 1000), ("migraine", 2, 10), ("bruxism", 8, 100)])
    labels = {"cosmetic": "Cosmetic", "migraine": "Migraine", "bruxism": "Bruxism"}
    fig = charts.breakdown_chart(frame, by="indication", labels=labels, outcome_label="X", lang="en",
                                 overall=0.036, reference=(1.0, 4.0))
    rate = trace(fig, "Rate")
    assert list(rate.y) == ["Bruxism", "Migraine", "Cosmetic"]  # label order, top-down
    assert list(rate.marker.symbol) == ["circle", "circle-open", "circle"]
    assert "(2 of 10)" in hover_texts(rate)[1] and "fewer than 20" in hover_texts(rate)[1]
    assert any(s.type == "rect" and (s.x0, s.x1) == (1.0, 4.0) for s in fig.layout.shapes)
    assert any(s.type == "line" and s.x0 == pytest.approx(3.6) for s in fig.layout.shapes)


def test_rate_time_chart_inverts_non_response_into_responders():
    frame = rates_frame([(dt.date(2025, 1, 1), 6, 10), (dt.date(2025, 4, 1), 40, 100)], by="period_start")
    frame["indication"] = "migraine"
    fig = charts.rate_time_chart(frame, lang="en", title="Responders", series="indication",
                                 series_labels={"migraine": "Migraine"}, invert=True,
                                 references={"migraine": 0.448}, period="quarter")
    line = trace(fig, "Migraine")
    assert list(line.y) == pytest.approx([40.0, 60.0])
    assert "4 of 10 responded" in hover_texts(line)[0] and "Q1 2025" in hover_texts(line)[0]
    assert any(s.type == "line" and s.y0 == pytest.approx(44.8) for s in fig.layout.shapes)
    band = fig.data[0]
    assert band.fill == "toself"


# --------------------------------------------------------------------------------------------------------------
# costs, completeness, headache
# --------------------------------------------------------------------------------------------------------------


def cost_frame(by, keys):
    n = len(keys)
    return pd.DataFrame({by: keys, "correction_n": [3] * n, "correction_cost_nok": [1500.0] * n,
                         "primary_n": [50] * (n - 1) + [10], "cost_per_100_primary_nok": [3000.0] * (n - 1) + [15000],
                         "revenue_nok": [100000.0] * n, "cost_share": [0.015] * n, "product_cost_nok": [900.0] * n,
                         "chair_cost_nok": [300.0] * n, "consumables_nok": [300.0] * n, "unpriced_n": [0] * n})


def test_cost_charts():
    monthly = cost_frame("month", [dt.date(2025, 1, 1), dt.date(2025, 2, 1)])
    fig = charts.cost_time_chart(monthly, lang="nb")
    assert [tr.name for tr in fig.data] == ["Preparat", "Stoltid", "Forbruksmateriell"]
    assert fig.layout.barmode == "stack"
    assert f"kr{NBSP}1{NBSP}500" in hover_texts(fig.data[0])[0]
    by = charts.cost_group_chart(cost_frame("clinician", ["C02", "C01", "C03"]), by="clinician", lang="en")
    assert list(by.data[0].y) == ["C03", "C02", "C01"]  # by code (top-down C01..), never by cost
    assert "fewer than 20" in hover_texts(by.data[0])[0] and "fewer than 20" not in hover_texts(by.data[0])[1]


def test_completeness_heatmap():
    frame = pd.DataFrame({"period_start": [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 1, 1)],
                          "clinician": ["C01", "C01", "C02"], "eligible_n": [10, 20, 0], "followed_up_n": [5, 20, 0]})
    fig = charts.completeness_heatmap(frame, outcome_label="Bruising", lang="en")
    z = np.array(fig.data[0].z, dtype=float)
    assert list(fig.data[0].y) == ["C01"]
    assert list(z[0]) == pytest.approx([50.0, 100.0])
    assert "(5 of 10 eligible)" in fig.data[0].customdata[0][0]


def test_headache_charts():
    labels = {"migraine": "Migraine", "tension_headache": "Tension headache"}
    change = pd.DataFrame({"period_start": [dt.date(2025, 1, 1)], "indication": ["migraine"], "measured_n": [30],
                           "lost_n": [3], "baseline_mean": [20.0], "follow_up_mean": [12.0], "change_mean": [-8.0],
                           "change_low": [-9.5], "change_high": [-6.5]})
    fig = charts.change_chart(change, lang="en", labels=labels)
    assert list(fig.data[0].y) == [-8.0] and fig.data[0].error_y.array[0] == pytest.approx(1.5)
    dist = pd.DataFrame({"indication": ["migraine"] * 3, "bin_start": pd.array([-60, -50, pd.NA], dtype="Int64"),
                         "bin_end": pd.array([-50, -40, pd.NA], dtype="Int64"), "sessions_n": [4, 6, 2],
                         "responder": [True, False, False]})
    fig = charts.change_distribution_chart(dist, lang="en", labels=labels)
    assert list(fig.data[0].y) == [4, 6]
    assert "Responders" in hover_texts(fig.data[0])[0] and "Non-responders" in hover_texts(fig.data[0])[1]
    hdss = pd.DataFrame({"hdss_drop": pd.array([1, 2, pd.NA], dtype="Int64"), "sessions_n": [3, 7, 5]})
    fig = charts.hdss_chart(hdss, lang="en")
    assert list(fig.data[0].x) == [1, 2] and "Responders" in hover_texts(fig.data[0])[1]


@pytest.mark.parametrize("builder", [
    lambda: charts.breakdown_chart(pd.DataFrame(), by="area", labels={}, outcome_label="X", lang="en"),
    lambda: charts.rate_time_chart(pd.DataFrame({"denominator_n": []}), lang="en", title="T"),
    lambda: charts.cost_time_chart(pd.DataFrame(), lang="en"),
    lambda: charts.completeness_heatmap(pd.DataFrame(), outcome_label="X", lang="en"),
    lambda: charts.forest_chart(pd.DataFrame(), lang="en"),
    lambda: charts.hdss_chart(pd.DataFrame(), lang="en"),
])
def test_empty_inputs_give_a_message_not_an_error(builder):
    fig = builder()
    assert isinstance(fig, go.Figure) and fig.layout.annotations and not fig.data
