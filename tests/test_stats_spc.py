"""Control charts (qicharts2 0.8.1 reference, 1e-9), Anhoej limits and hand-counted MDC rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import anhoej_rules, mdc_rules, p_chart, variation_reading

REF = Path(__file__).resolve().parent / "reference_data"
TOL = 1e-9

CHARTS = [
    ("c_cabg_qicharts2_readmissions_p.csv", "readmissions", "p", "readmissions_p"),
    ("c_cabg_qicharts2_readmissions_pp.csv", "readmissions", "pp", "readmissions_pp"),
    ("c_cabg_qicharts2_deaths_p.csv", "deaths", "p", "deaths_p"),
]
NUMERIC = [("rate", "y"), ("cl", "cl"), ("lcl", "lcl"), ("ucl", "ucl"), ("lcl_95", "lcl.95"), ("ucl_95", "ucl.95")]
EXACT = [
    ("numerator_n", "y.sum"),
    ("denominator_n", "n"),
    ("sigma_signal", "sigma.signal"),
    ("part", "part"),
    ("baseline", "baseline"),
    ("n_useful", "n.useful"),
    ("longest_run", "longest.run"),
    ("longest_run_max", "longest.run.max"),
    ("crossings", "n.crossings"),
    ("crossings_min", "n.crossings.min"),
    ("runs_signal", "runs.signal"),
]


@pytest.fixture(scope="module")
def cabg() -> pd.DataFrame:
    return pd.read_csv(REF / "inputs" / "cabg_by_month.csv")


@pytest.mark.parametrize(("ref_file", "column", "chart", "case"), CHARTS)
def test_p_chart_matches_qicharts2(cabg: pd.DataFrame, ref_file: str, column: str, chart: str, case: str) -> None:
    ref = pd.read_csv(REF / ref_file)
    assert ref["x"].tolist() == cabg["month"].tolist()
    out = p_chart(cabg[column], cabg["n"], chart=chart)
    assert len(out) == len(ref)
    for ours, theirs in NUMERIC:
        np.testing.assert_allclose(out[ours].to_numpy(float), ref[theirs].to_numpy(float), rtol=0, atol=TOL, err_msg=ours)
    for ours, theirs in EXACT:
        assert out[ours].to_numpy().tolist() == ref[theirs].to_numpy().tolist(), ours


@pytest.mark.parametrize(("ref_file", "column", "chart", "case"), CHARTS)
def test_p_chart_matches_qicharts2_summary(cabg: pd.DataFrame, ref_file: str, column: str, chart: str, case: str) -> None:
    summary = pd.read_csv(REF / "c_cabg_qicharts2_summary.csv").set_index("case").loc[case]
    out = p_chart(cabg[column], cabg["n"], chart=chart)
    assert out["cl"].iloc[-1] == pytest.approx(summary["CL"], abs=TOL)
    # qicharts2's summary reports the mean of each limit over the points
    assert out["lcl"].mean() == pytest.approx(summary["aLCL"], abs=TOL)
    assert out["ucl"].mean() == pytest.approx(summary["aUCL"], abs=TOL)
    assert out["lcl_95"].mean() == pytest.approx(summary["aLCL.95"], abs=TOL)
    assert out["ucl_95"].mean() == pytest.approx(summary["aUCL.95"], abs=TOL)
    for ours, theirs in [("n_useful", "n.useful"), ("longest_run", "longest.run"), ("longest_run_max", "longest.run.max"),
                         ("crossings", "n.crossings"), ("crossings_min", "n.crossings.min")]:
        assert int(out[ours].iloc[0]) == int(summary[theirs]), ours
    assert bool(out["runs_signal"].any()) == bool(summary["runs.signal"])
    assert int(out["sigma_signal"].sum()) == int(summary["sigma.signal"])


def test_anhoej_limits_table_n_1_to_100() -> None:
    table = pd.read_csv(REF / "c_anhoej_limits_table.csv")
    assert table["n_useful"].tolist() == list(range(1, 101))
    for row in table.itertuples(index=False):
        alternating = np.resize([1.0, -1.0], row.n_useful)  # n_useful points, none on the centre line
        rules = anhoej_rules(alternating, 0.0)
        assert rules["n_useful"] == row.n_useful
        assert rules["longest_run_max"] == row.longest_run_max, row.n_useful
        assert rules["crossings_min"] == row.n_crossings_min, row.n_useful


def test_anhoej_rules_hand_counted() -> None:
    # centre 0; points on the centre and missing points are not useful
    values = [1, 2, 0, 3, -1, -2, np.nan, 4, 5, 6, 7, 8, 9, 9, 9]
    rules = anhoej_rules(values, 0)
    # useful signs: + + + - - + + + + + + + +  (13 points): runs 3, 2, 8 -> 2 crossings
    assert rules["n_useful"] == 13
    assert rules["longest_run"] == 8
    assert rules["crossings"] == 2
    assert rules["longest_run_max"] == round(math.log2(13)) + 3 == 7
    assert rules["crossings_min"] == 3  # qbinom(0.05, 12, 0.5) (reference table, n = 13)
    assert rules["runs_signal"] is True
    empty = anhoej_rules([0.5, 0.5, np.nan], 0.5)
    assert empty == {"n_useful": 0, "longest_run": None, "longest_run_max": None, "crossings": None,
                     "crossings_min": None, "runs_signal": False}


def test_freeze_hand_computed() -> None:
    events = [1, 2, 1, 2, 5, 5, 5, 5]
    n = [10] * 8
    out = p_chart(events, n, freeze=4)
    cl = 6 / 40
    sigma = math.sqrt(cl * (1 - cl) / 10)
    assert out["baseline"].tolist() == [True] * 4 + [False] * 4
    np.testing.assert_allclose(out["cl"], cl, rtol=0, atol=TOL)
    np.testing.assert_allclose(out["ucl"], cl + 3 * sigma, rtol=0, atol=TOL)  # 0.48874...
    np.testing.assert_allclose(out["lcl"], 0.0, rtol=0, atol=TOL)  # 0.15 - 0.339 < 0 -> clamped
    np.testing.assert_allclose(out["ucl_95"], cl + 2 * sigma, rtol=0, atol=TOL)
    np.testing.assert_allclose(out["lcl_95"], 0.0, rtol=0, atol=TOL)
    assert out["sigma_signal"].tolist() == [False] * 4 + [True] * 4  # 0.5 > 0.4887
    # run rules on all 8 points against the frozen centre line 0.15: - + - + + + + +
    assert out["n_useful"].tolist() == [8] * 8
    assert out["longest_run"].tolist() == [5] * 8
    assert out["crossings"].tolist() == [3] * 8
    assert out["longest_run_max"].tolist() == [6] * 8
    assert out["crossings_min"].tolist() == [1] * 8
    assert not out["runs_signal"].any()
    with pytest.raises(ValueError):
        p_chart(events, n, freeze=9)


def test_parts_rebase_hand_computed() -> None:
    out = p_chart([1, 1, 1, 1, 3, 3, 3, 3], [10] * 8, parts=[4])
    assert out["part"].tolist() == [1] * 4 + [2] * 4
    s1, s2 = math.sqrt(0.1 * 0.9 / 10), math.sqrt(0.3 * 0.7 / 10)
    expected = {
        "cl": [0.1] * 4 + [0.3] * 4,
        "ucl": [0.1 + 3 * s1] * 4 + [0.3 + 3 * s2] * 4,
        "ucl_95": [0.1 + 2 * s1] * 4 + [0.3 + 2 * s2] * 4,
        "lcl": [0.0] * 8,
        "lcl_95": [0.0] * 4 + [0.3 - 2 * s2] * 4,
    }
    for col, vals in expected.items():
        np.testing.assert_allclose(out[col], vals, rtol=0, atol=TOL, err_msg=col)
    # every point sits on its part's centre line: no useful observation, no run signal
    assert out["n_useful"].tolist() == [0] * 8
    assert out["longest_run"].isna().all() and not out["runs_signal"].any()


def test_zero_denominator_point_is_ignored(cabg: pd.DataFrame) -> None:
    n = cabg["n"].to_numpy().copy()
    events = cabg["readmissions"].to_numpy().copy()
    k = 10
    n[k], events[k] = 0, 0
    out = p_chart(events, n)
    expected_cl = (cabg["readmissions"].sum() - cabg["readmissions"][k]) / (cabg["n"].sum() - cabg["n"][k])
    np.testing.assert_allclose(out["cl"], expected_cl, rtol=0, atol=TOL)
    row = out.iloc[k]
    assert math.isnan(row["rate"]) and math.isnan(row["ucl"]) and math.isnan(row["lcl_95"])
    assert not row["sigma_signal"]
    assert out["n_useful"].iloc[0] == 35
    pp = p_chart(events, n, chart="pp")
    assert math.isnan(pp["ucl"].iloc[k]) and pp["ucl"].drop(index=k).notna().all()


# ---- NHS Making Data Count rules on hand-made sequences (cl 0, 3-sigma +/-3, 2-sigma +/-2) ----


def _mdc(values, cl=0.0, lcl=-3.0, ucl=3.0, lcl_95=-2.0, ucl_95=2.0) -> pd.DataFrame:
    return mdc_rules(np.asarray(values, dtype=float), cl, lcl, ucl, lcl_95, ucl_95)


def test_mdc_shift_seven_on_one_side() -> None:
    out = _mdc([1, 1.5, 1, 1.5, 1, 1.5, 1, -1, 0, 1, 1])
    assert out["shift"].tolist() == [True] * 7 + [False] * 4
    assert out["direction"].tolist() == ["high"] * 7 + [""] * 4
    assert out["rule"].tolist() == ["shift"] * 7 + [""] * 4
    below = _mdc([-1] * 8)
    assert below["shift"].all() and (below["direction"] == "low").all()
    assert not _mdc([1] * 6)["shift"].any()  # six is not enough


def test_mdc_point_on_centre_line_breaks_a_shift() -> None:
    out = _mdc([1, 1, 1, 0, 1, 1, 1, 1])  # 3 above, on the line, 4 above
    assert not out["shift"].any()


def test_mdc_missing_values_are_skipped() -> None:
    out = _mdc([1, 1, 1, np.nan, 1, 1, 1, 1])
    assert out["shift"].tolist() == [True, True, True, False, True, True, True, True]
    assert out["direction"].iloc[3] == "" and out["rule"].iloc[3] == ""


def test_mdc_trend_seven_strictly_monotone_points() -> None:
    # centre 4: below, below, below, on, above, above, above -> no shift; strictly rising 7 points
    out = _mdc([1, 1.5, 2, 4, 5, 5.5, 5.9, 3], cl=4, lcl=-10, ucl=10, lcl_95=-5, ucl_95=9)
    assert out["trend"].tolist() == [True] * 7 + [False]
    assert not out["shift"].any()
    assert out["direction"].tolist() == ["high"] * 7 + [""]  # trend-only points take the trend direction
    falling = _mdc([1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.35])
    assert falling["trend"].tolist() == [True] * 7 + [False]
    assert falling["shift"].tolist() == [True] * 8  # all 8 above the centre line too
    assert falling["direction"].tolist() == ["high"] * 8  # side of the centre line wins over the trend
    assert falling["rule"].tolist() == ["shift; trend"] * 7 + ["shift"]


def test_mdc_tie_breaks_a_trend_and_six_points_are_not_a_trend() -> None:
    assert not _mdc([-1.5, -1, -0.5, -0.5, 0.1, 0.5, 1, 1.5])["trend"].any()  # steps + + 0 + + + +
    assert not _mdc([-1.5, -1, -0.5, 0.1, 0.5, 1])["trend"].any()  # only six rising points


def test_mdc_two_of_three_beyond_two_sigma() -> None:
    out = _mdc([2.5, 0, 2.5, 0, 0, 2.5, -2.5, 2.5, 0, -2.1, 1, -2.2])
    # windows: (0,1,2) two above +2 -> points 0, 2; (5,6,7) two above -> 5, 7; point 6 is the only
    # one below -2 in its windows; (9,10,11) two below -2 -> 9, 11
    assert out["two_of_three"].tolist() == [True, False, True, False, False, True, False, True, False, True, False, True]
    assert out["direction"].tolist() == ["high", "", "high", "", "", "high", "", "high", "", "low", "", "low"]
    assert not _mdc([2.5, 0, 0, 2.5])["two_of_three"].any()  # 2 beyond, but not within 3 points


def test_mdc_astronomical_points_strictly_outside() -> None:
    out = _mdc([3.5, 0, -3.5, 0, 3.0])  # exactly on the upper limit is not outside
    assert out["astronomical"].tolist() == [True, False, True, False, False]
    assert out["direction"].tolist() == ["high", "", "low", "", ""]
    assert out["rule"].tolist() == ["astronomical", "", "astronomical", "", ""]
    # a point beyond 3 sigma counts as beyond 2 sigma for the 2-of-3 rule
    combo = _mdc([3.5, 2.5, 0])
    assert combo["two_of_three"].tolist() == [True, True, False]
    assert combo["rule"].tolist() == ["astronomical; two_of_three", "two_of_three", ""]


def test_mdc_derives_two_sigma_when_not_given() -> None:
    out = mdc_rules(np.array([2.5, 0.0, 2.5]), 0.0, -3.0, 3.0)
    assert out["two_of_three"].tolist() == [True, False, True]


def _chart(values, cl=0.0, part=None) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    frame = pd.DataFrame({"rate": values, "cl": cl, "lcl": cl - 3.0, "ucl": cl + 3.0, "lcl_95": cl - 2.0, "ucl_95": cl + 2.0})
    if part is not None:
        frame["part"] = part
    return frame


def test_variation_reading_latest_point() -> None:
    common = _chart([0.5, -0.5, 1, -1, 0.2, -0.3, 0.1, -0.1])
    assert variation_reading(common, higher_is_worse=True) == "common_cause"
    high_shift = _chart([-1, 1, -1, 1, 1, 1, 1, 1, 1, 1])  # latest 7 above
    assert variation_reading(high_shift, higher_is_worse=True) == "special_cause_concerning"
    assert variation_reading(high_shift, higher_is_worse=False) == "special_cause_improving"
    low_astro = _chart([0, 1, -1, 0, -3.5])
    assert variation_reading(low_astro, higher_is_worse=True) == "special_cause_improving"
    assert variation_reading(low_astro, higher_is_worse=False) == "special_cause_concerning"
    old_signal = _chart([3.5, 0, 1, -1, 0.5, -0.5])  # signal long ago, latest point ordinary
    assert variation_reading(old_signal) == "common_cause"
    trailing_missing = _chart([-1, 1, -1, 1, 1, 1, 1, 1, 1, 1, np.nan])  # latest non-missing point
    assert variation_reading(trailing_missing) == "special_cause_concerning"


def test_variation_reading_uses_latest_part_only() -> None:
    # 7 points above in part 1, re-based part 2 is ordinary -> common cause
    frame = _chart([1] * 7 + [0.5, -0.5, 0.2], part=[1] * 7 + [2] * 3)
    assert variation_reading(frame) == "common_cause"
    frame_one_part = _chart([1] * 7 + [0.5, -0.5, 0.2])
    assert variation_reading(frame_one_part) == "common_cause"  # latest point is not in the shift
    # a shift spanning the re-base is not counted across parts
    spanning = _chart([1] * 4 + [1] * 4, part=[1] * 4 + [2] * 4)
    assert variation_reading(spanning) == "common_cause"
    assert variation_reading(_chart([1] * 8)) == "special_cause_concerning"


def test_variation_reading_on_p_chart_output(cabg: pd.DataFrame) -> None:
    out = p_chart(cabg["readmissions"], cabg["n"])
    assert variation_reading(out, higher_is_worse=True) == "common_cause"  # no rule fires on the last month
