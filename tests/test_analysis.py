"""Metric frames: counts put through the statistics, checked by hand on small inputs."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from pipelines.metrics import analysis

AS_OF = dt.date(2024, 6, 30)


def counts_frame(events, n):
    months = pd.date_range("2024-01-01", periods=len(n), freq="MS").date
    return pd.DataFrame({"period_start": months, "eligible_n": n, "followed_up_n": n, "event_n": events,
                         "awaiting_n": 0, "numerator_n": events, "denominator_n": n})


def test_spc_fills_empty_months_and_counts_only_closed_windows(metrics_con):
    frame = analysis.spc(metrics_con, "correction", as_of=AS_OF)
    # primary sessions by month: Oct-23 S13; Jan S07-S10; Feb S11 S12 S14; Mar S01 S02 S04 S05 (S02 corrected);
    # Apr S15 S16; June S06 is still open, so the chart ends in April; Nov, Dec and nothing else is empty
    assert [str(d) for d in frame.period_start] == ["2023-10-01", "2023-11-01", "2023-12-01", "2024-01-01",
                                                    "2024-02-01", "2024-03-01", "2024-04-01"]
    assert list(frame.denominator_n) == [1, 0, 0, 4, 3, 4, 2]
    assert list(frame.numerator_n) == [0, 0, 0, 0, 0, 1, 0]
    assert frame.cl.dropna().unique() == pytest.approx([1 / 14])
    assert frame.rate.isna().tolist() == [False, True, True, False, False, False, False]


def test_anhoej_signal_is_named():
    # 4 low months then 8 high ones: cl = 44/1200; longest run 8 > round(log2 12) + 3 = 7; 1 crossing < 3
    frame = analysis.spc_from_counts(counts_frame([1] * 4 + [5] * 8, [100] * 12))
    assert frame.signal.all()
    assert set(frame.signal_rules) == {"Anhoej: longest run 8 > 7; Anhoej: 1 crossings < 3"}
    assert not frame.sigma_signal.any()


def test_sigma_signal_is_named():
    frame = analysis.spc_from_counts(counts_frame([2, 3] * 5 + [2, 30], [100] * 12))
    assert frame.signal_rules.iloc[-1].startswith("outside 3-sigma limits")
    assert frame.sigma_signal.tolist() == [False] * 11 + [True]


def test_mdc_rules_flag_the_shift_points():
    frame = analysis.spc_from_counts(counts_frame([1] * 4 + [5] * 8, [100] * 12), rules="mdc")
    assert frame.signal.tolist() == [False] * 4 + [True] * 8
    assert set(frame.signal_rules.iloc[4:]) == {"shift"}
    assert set(frame.direction.iloc[4:]) == {"high"}


def test_funnel_by_clinician(metrics_con):
    frame, info = analysis.funnel(metrics_con, "ptosis", method="normal", overdispersion="off", as_of=AS_OF)
    # A01 1 of 4 followed-up upper-face sessions, B02 0 of 2; target 1/6
    assert list(frame.clinician) == ["A01", "B02"]
    assert list(frame.numerator_n) == [1, 0] and list(frame.denominator_n) == [4, 2]
    assert info["target"] == pytest.approx(1 / 6)
    # normal approximation by hand for A01: 1/6 +/- 1.959964 sqrt((1/6)(5/6)/4), clamped to [0, 1]
    se = math.sqrt((1 / 6) * (5 / 6) / 4)
    assert frame.ucl_95.iloc[0] == pytest.approx(1 / 6 + 1.959964 * se)
    assert frame.lcl_95.iloc[0] == 0.0
    assert set(frame.flag) == {""} and set(frame.method) == {"normal"}


def test_case_mix_observed_over_expected(metrics_con):
    frame, info = analysis.case_mix(metrics_con, "insufficient_effect", as_of=AS_OF)
    frame = frame.set_index("clinician")
    # leave-one-out (tests/test_metrics.py): A01 (2 events) at B02's rates, none of B02's sessions had the event:
    # expected 0, no ratio; B02 (0 events) expects 10/11 at A01's shrunk rate
    assert (frame.loc["A01", "observed_n"], frame.loc["A01", "expected_n"]) == (2, 0.0)
    assert np.isnan(frame.loc["A01", "oe_ratio"])
    assert frame.loc["B02", "expected_n"] == pytest.approx(10 / 11) and frame.loc["B02", "oe_ratio"] == 0.0
    assert info["excluded"] == ()  # one clinician with an expectation: no first-pass funnel


def test_cusum_by_hand(metrics_con):
    chart = analysis.cusum(metrics_con, "insufficient_effect", as_of=AS_OF, min_reference_events=2)
    # A CUSUM session's reference: the other clinician's sessions whose windows (28 days) had closed by its day.
    # A01's sessions (Oct-23 to March) come before any of B02's closed: not charted. B02's S15 (1 April) and S16
    # (2 April): A01's S13 S14 S01 S02 had closed (2 events of 4, rate 1/2); their stratum glabella/first holds
    # A01's S01 S13 (0 of 2): p = (0 + 20 x 1/2) / (2 + 20) = 5/11; no event: W = -ln(1 + 5/11), S stays 0
    assert list(chart.clinician) == ["B02", "B02"]
    assert list(chart.outcome) == [0, 0]
    assert list(chart.expected) == pytest.approx([5 / 11, 5 / 11])
    assert list(chart.weight) == pytest.approx([-math.log(16 / 11)] * 2)
    assert list(chart.cusum) == [0.0, 0.0] and not chart.signal.any()
    assert list(chart.threshold) == pytest.approx([analysis.threshold_for(5 / 11)] * 2)
    status = analysis.cusum_status(chart).set_index("clinician")
    assert status.loc["B02", "cusum_now"] == 0.0 and status.loc["B02", "signals_n"] == 0
    assert list(status.index) == ["B02"]


def test_option_errors(metrics_con):
    with pytest.raises(ValueError, match="method must be one of arcsine, exact, normal"):
        analysis.funnel(metrics_con, "ptosis", method="poisson")
    with pytest.raises(ValueError, match="chart must be one of p, pp"):
        analysis.spc(metrics_con, "ptosis", chart="u")


def test_parts_rebase_the_chart_after_a_process_change():
    frame = counts_frame([1] * 4 + [5] * 8, [100] * 12)
    whole = analysis.spc_from_counts(frame, rules="mdc")
    split = analysis.spc_from_counts(frame, rules="mdc", parts=[4])
    assert whole.signal.sum() == 8  # one process: the last 8 months are a shift
    # re-based at month 5: each part has its own centre line (0.01 and 0.05) and no signal
    assert list(split.cl.round(6).unique()) == [0.01, 0.05]
    assert not split.signal.any() and list(split.part.unique()) == [1, 2]


def test_part_starts_by_date(metrics_con):
    frame = analysis.spc(metrics_con, "correction", as_of=AS_OF, part_starts=[dt.date(2024, 2, 15)])
    # months Oct-23 .. Apr-24; the first month starting on or after 15 Feb is March
    assert list(frame.part) == [1, 1, 1, 1, 1, 2, 2]


def test_a_funnel_needs_a_clinic_rate_between_0_and_1():
    none = pd.DataFrame({"clinician": ["A", "B"], "eligible_n": [10, 10], "followed_up_n": [10, 10],
                         "event_n": [0, 0], "numerator_n": [0, 0], "denominator_n": [10, 10]})
    frame, info = analysis.funnel_from_counts(none)
    assert frame.empty and np.isnan(info["target"])
    every = none.assign(event_n=[10, 10], numerator_n=[10, 10])
    assert analysis.funnel_from_counts(every)[0].empty


def test_cusum_for_an_event_too_rare_says_so():
    from pipelines import stats

    with pytest.raises(stats.CusumTooRare, match="too rare for a CUSUM with an in-control average run length"):
        stats.cusum_threshold(0.0002, 2.0, 1000)
    arl0 = analysis.CUSUM_ARL0
    with pytest.raises(stats.CusumTooRare):  # an event rarer than about one in ARL0 sessions
        analysis.threshold_for(0.75 / arl0)
    # thresholds by the 10 % grid, interpolated in log risk: their in-control run length is the stated one within
    # 5 %; near the rare limit never below it (a threshold under one event's weight would make every event signal)
    for p in (0.001, 0.0123, 0.03, 0.2, 0.6):
        assert 0.95 * arl0 < stats.cusum_arl(analysis.threshold_for(p), p, 2.0) < 1.05 * arl0
    for p in (1.5 / arl0, 2 / arl0, 2.5 / arl0):
        assert stats.cusum_arl(analysis.threshold_for(p), p, 2.0) >= arl0
    assert analysis.threshold_for(0.0308) < analysis.threshold_for(0.0312)
    # a running mean too rare for any threshold gets the lowest one (every event signals) instead of raising
    assert list(analysis.thresholds_for([0.75 / arl0, 0.03])) == [analysis.LOWEST_THRESHOLD,
                                                              pytest.approx(analysis.threshold_for(0.03))]
