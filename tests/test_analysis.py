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
    frame, _ = analysis.case_mix(metrics_con, "insufficient_effect", as_of=AS_OF)
    a01 = frame.set_index("clinician").loc["A01"]
    assert (a01.observed_n, a01.expected_n, a01.oe_ratio) == (2, 2.0, 1.0)
    assert np.isnan(frame.set_index("clinician").loc["B02", "oe_ratio"])  # expected 0: no ratio


def test_cusum_by_hand(metrics_con):
    chart = analysis.cusum(metrics_con, "insufficient_effect", as_of=AS_OF)
    a01 = chart[chart.clinician == "A01"]
    # A01's followed-up sessions in date order: S13 (0), S14 (1), S01 (0), S02 (1); clinic rate p0 = 2/6.
    # Case-mix risks shrunk by 20 pseudo-sessions: S13, S01 stratum rate 0 of 4 -> (0 + 20/3) / 24;
    # S14, S02 strata 1 of 1 -> (1 + 20/3) / 21. W = y ln 2 - ln(1 + p).
    p_low, p_high = (20 / 3) / 24, (1 + 20 / 3) / 21
    w = [-math.log(1 + p_low), math.log(2) - math.log(1 + p_high), -math.log(1 + p_low),
         math.log(2) - math.log(1 + p_high)]
    s, expected = 0.0, []
    for step in w:
        s = max(0.0, s + step)
        expected.append(s)
    assert list(a01.outcome) == [0, 1, 0, 1]
    assert list(a01.cusum) == pytest.approx(expected)
    assert list(a01.expected) == pytest.approx([p_low, p_high, p_low, p_high])
    assert (a01.threshold > 0).all() and not a01.signal.any()
    status = analysis.cusum_status(chart).set_index("clinician")
    assert status.loc["A01", "cusum_now"] == pytest.approx(expected[-1])
    assert status.loc["A01", "signals_n"] == 0


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
    # a common event has a threshold, and equal rounded risks share one computation
    assert analysis.threshold_for(0.0312) == analysis.threshold_for(0.0308) > 0
