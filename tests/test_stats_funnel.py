"""Funnel plots against FunnelPlotR 0.6.0 on COUNT::medpar (1e-9) and the README worked example."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import FUNNEL_Z95, FUNNEL_Z998, funnel_limit_curve, funnel_proportions, funnel_ratios

REF = Path(__file__).resolve().parent / "reference_data"
TOL = 1e-9

OD_LIMITS = [("lcl_95", "OD95LCL"), ("ucl_95", "OD95UCL"), ("lcl_998", "OD99LCL"), ("ucl_998", "OD99UCL")]
PLAIN_LIMITS = [("lcl_95", "LCL95"), ("ucl_95", "UCL95"), ("lcl_998", "LCL99"), ("ucl_998", "UCL99")]


def _units(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, dtype={"group": str})


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return pd.read_csv(REF / "b_medpar_FunnelPlotR_summary.csv", dtype={"outliers": str}).fillna({"outliers": ""})


@pytest.fixture(scope="module")
def medpar() -> pd.DataFrame:
    return pd.read_csv(REF / "inputs" / "medpar_with_predictions.csv", dtype={"provnum": str})


def _summary_row(summary: pd.DataFrame, prefix: str) -> pd.Series:
    rows = summary[summary["case"].str.startswith(prefix)]
    assert len(rows) == 1
    return rows.iloc[0]


def _close(actual, expected, *, rel: bool = False, msg: str = "") -> None:
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    if rel:
        np.testing.assert_allclose(a, e, rtol=TOL, atol=0, err_msg=msg)
    else:
        np.testing.assert_allclose(a, e, rtol=0, atol=TOL, err_msg=msg)


# ------------------------------------------------------------------------------------ proportions


@pytest.fixture(scope="module")
def pr_units() -> pd.DataFrame:
    return _units("b_medpar_PR_died_lim99_FunnelPlotR_units.csv")


def test_pr_units_are_deaths_over_admissions_per_hospital(pr_units: pd.DataFrame, medpar: pd.DataFrame) -> None:
    agg = medpar.groupby("provnum").agg(died=("died", "sum"), admissions=("died", "size")).loc[pr_units["group"]]
    assert agg["died"].tolist() == pr_units["numerator"].tolist()
    assert agg["admissions"].tolist() == pr_units["denominator"].tolist()


def test_pr_arcsine_adjusted_matches_funnelplotr(pr_units: pd.DataFrame, summary: pd.DataFrame) -> None:
    frame, info = funnel_proportions(pr_units["numerator"], pr_units["denominator"], arcsine_truncation="grid")
    ref = _summary_row(summary, "PR died")
    assert info["method"] == "arcsine" and info["overdispersion_applied"] is True
    assert bool(ref["draw_adjusted_effective"]) is True
    assert info["phi"] == pytest.approx(ref["phi"], rel=TOL, abs=0)
    assert info["tau2"] == pytest.approx(ref["tau2"], rel=TOL, abs=0)
    assert info["n_units"] == ref["n_groups"] == 54
    assert info["target"] == pytest.approx(pr_units["numerator"].sum() / pr_units["denominator"].sum(), abs=1e-15)
    _close(frame["rate"], pr_units["rr"], msg="rate")
    _close(frame["z"], pr_units["Uzscore"], msg="z")
    _close(np.arcsin(np.sqrt(frame["target"])), pr_units["target_transformed"], msg="target")
    for ours, theirs in OD_LIMITS:
        _close(frame[ours], pr_units[theirs], msg=ours)
    # limit = 99 -> flags at 99.8 %; FunnelPlotR flags nobody
    assert ref["outliers"] == "" and pr_units["outlier"].sum() == 0
    assert (frame["flag"] == "").all()


def test_pr_arcsine_unadjusted_matches_funnelplotr(pr_units: pd.DataFrame, summary: pd.DataFrame) -> None:
    frame, info = funnel_proportions(pr_units["numerator"], pr_units["denominator"], overdispersion="off",
                                     arcsine_truncation="grid")
    assert info["overdispersion_applied"] is False
    assert info["phi"] == pytest.approx(_summary_row(summary, "PR died")["phi"], rel=TOL, abs=0)
    for ours, theirs in PLAIN_LIMITS:
        _close(frame[ours], pr_units[theirs], msg=ours)
    # FunnelPlotR's grid truncation leaves the 95 % upper limit at n = 1 just below 1 (0.99824...)
    one = pr_units["denominator"] == 1
    assert (pr_units.loc[one, "UCL95"] < 0.999).all()


def test_pr_limit_curve_matches_funnelplotr_units(pr_units: pd.DataFrame, summary: pd.DataFrame) -> None:
    ref = _summary_row(summary, "PR died")
    target = pr_units["numerator"].sum() / pr_units["denominator"].sum()
    curve = funnel_limit_curve(target, pr_units["denominator"], method="arcsine", tau2=ref["tau2"],
                               arcsine_truncation="grid")
    assert list(curve.columns) == ["denominator_n", "lcl_95", "ucl_95", "lcl_998", "ucl_998"]
    for ours, theirs in OD_LIMITS:
        _close(curve[ours], pr_units[theirs], msg=ours)
    plain = funnel_limit_curve(target, pr_units["denominator"], arcsine_truncation="grid")
    for ours, theirs in PLAIN_LIMITS:
        _close(plain[ours], pr_units[theirs], msg=ours)


def test_boundary_truncation_option() -> None:
    target = 0.3431438127090301
    grid = funnel_limit_curve(target, [1, 2, 3, 50], arcsine_truncation="grid")
    boundary = funnel_limit_curve(target, [1, 2, 3, 50], arcsine_truncation="boundary")
    # argument of the 95 % upper limit at n = 1 exceeds pi/2 -> 1 under the boundary rule
    assert math.asin(math.sqrt(target)) + FUNNEL_Z95 * 0.5 > math.pi / 2
    assert boundary["ucl_95"].iloc[0] == 1.0 and grid["ucl_95"].iloc[0] < 1.0
    _close(boundary["ucl_95"].iloc[1:], grid["ucl_95"].iloc[1:])
    _close(boundary["lcl_998"], grid["lcl_998"])


def test_readme_worked_example_three_methods() -> None:
    """n = 15, clinic rate 3.6 %: 99.8 % upper limit 0.185 normal, 0.229 exact, 0.309 arcsine."""
    theta, n = 0.036, 15
    curves = {m: funnel_limit_curve(theta, [n], method=m) for m in ("normal", "exact", "arcsine")}
    assert round(curves["normal"]["ucl_998"].iloc[0], 3) == 0.185
    assert round(curves["exact"]["ucl_998"].iloc[0], 3) == 0.229
    assert round(curves["arcsine"]["ucl_998"].iloc[0], 3) == 0.309
    # the same values by hand
    normal = theta + FUNNEL_Z998 * math.sqrt(theta * (1 - theta) / n)
    arcsine = math.sin(math.asin(math.sqrt(theta)) + FUNNEL_Z998 / (2 * math.sqrt(n))) ** 2

    def cdf(k: int) -> float:
        return sum(math.comb(n, i) * theta**i * (1 - theta) ** (n - i) for i in range(k + 1))

    rp = next(k for k in range(n + 1) if cdf(k) >= 0.999)  # qbinom(0.999, 15, 0.036)
    assert rp == 4
    a = (cdf(rp) - 0.999) / (cdf(rp) - cdf(rp - 1))
    exact = (rp - a) / n
    _close(curves["normal"]["ucl_998"], [normal])
    _close(curves["arcsine"]["ucl_998"], [arcsine])
    _close(curves["exact"]["ucl_998"], [exact])


def test_normal_and_exact_methods_hand_computed() -> None:
    num = np.array([1, 4, 10, 30])
    den = np.array([20, 40, 100, 150])
    theta = num.sum() / den.sum()  # 45 / 310
    frame, info = funnel_proportions(num, den, method="normal", overdispersion="off")
    s = np.sqrt(theta * (1 - theta) / den)
    _close(frame["z"], (num / den - theta) / s)
    _close(frame["lcl_95"], np.clip(theta - FUNNEL_Z95 * s, 0, 1))
    _close(frame["ucl_998"], theta + FUNNEL_Z998 * s)
    assert info["tau2"] > 0  # 30/150 vs 1/20 etc. are over-dispersed...
    adjusted, info_on = funnel_proportions(num, den, method="normal", overdispersion="on")
    _close(adjusted["ucl_95"], theta + FUNNEL_Z95 * np.sqrt(s**2 + info_on["tau2"]))
    exact_off, _ = funnel_proportions(num, den, method="exact", overdispersion="off")
    exact_on, _ = funnel_proportions(num, den, method="exact", overdispersion="on")
    inflate = np.sqrt(s**2 + info_on["tau2"]) / s
    _close(exact_on["ucl_998"], np.clip(theta + (exact_off["ucl_998"] - theta) * inflate, 0, 1))


def test_overdispersion_auto_follows_tau2() -> None:
    # every unit exactly at target: z = 0, phi = 0, tau2 = 0 -> unadjusted limits
    frame, info = funnel_proportions([5, 10, 20], [50, 100, 200])
    assert info["phi"] == 0 and info["tau2"] == 0 and info["overdispersion_applied"] is False
    forced, info_on = funnel_proportions([5, 10, 20], [50, 100, 200], overdispersion="on")
    assert info_on["overdispersion_applied"] is True
    _close(forced["ucl_95"], frame["ucl_95"])  # tau2 = 0 so "on" changes nothing
    with pytest.raises(ValueError):
        funnel_proportions([1], [2], overdispersion="maybe")


def test_zero_denominator_unit_is_ignored() -> None:
    frame, info = funnel_proportions([5, 10, 0, 20], [50, 100, 0, 200])
    assert info["n_units"] == 3 and info["target"] == pytest.approx(35 / 350)
    assert np.isnan(frame.loc[2, "rate"]) and np.isnan(frame.loc[2, "ucl_998"]) and frame.loc[2, "flag"] == ""


# ----------------------------------------------------------------------------------------- ratios

SR_CASES = [
    ("b_medpar_SR_SHMI_lim95_FunnelPlotR_units.csv", "SHMI", 95, "SR SHMI"),
    ("b_medpar_SR_CQC_lim99_FunnelPlotR_units.csv", "CQC", 99, "SR CQC"),
]


def _aggregate_los(medpar: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    return medpar.groupby("provnum").agg(observed=("los", "sum"), expected=("prds", "sum")).loc[groups]


@pytest.mark.parametrize(("ref_file", "method", "limit", "case"), SR_CASES)
def test_sr_units_are_los_over_predicted_los(medpar: pd.DataFrame, ref_file: str, method: str, limit: int, case: str) -> None:
    units = _units(ref_file)
    agg = _aggregate_los(medpar, units["group"])
    assert agg["observed"].tolist() == units["numerator"].tolist()
    if method == "SHMI":  # FunnelPlotR rounds the SHMI expected values to 2 decimals
        _close(np.round(agg["expected"], 2), units["denominator"], rel=True)
    else:
        _close(agg["expected"], units["denominator"], rel=True)
    _close(agg["observed"] / agg["expected"], units["rr"], rel=True)


@pytest.mark.parametrize(("ref_file", "method", "limit", "case"), SR_CASES)
def test_sr_adjusted_matches_funnelplotr(
    medpar: pd.DataFrame, summary: pd.DataFrame, ref_file: str, method: str, limit: int, case: str
) -> None:
    units = _units(ref_file)
    ref = _summary_row(summary, case)
    agg = _aggregate_los(medpar, units["group"])
    frame, info = funnel_ratios(agg["observed"].to_numpy(), agg["expected"].to_numpy(), method=method, limit=limit)
    assert info["overdispersion_applied"] is True and bool(ref["draw_adjusted_effective"]) is True
    assert info["phi"] == pytest.approx(ref["phi"], rel=TOL, abs=0)
    assert info["tau2"] == pytest.approx(ref["tau2"], rel=TOL, abs=0)
    assert info["n_units"] == ref["n_groups"]
    _close(frame["ratio"], units["rr"], rel=True, msg="ratio")
    _close(frame["z"], units["Uzscore"], rel=True, msg="z")
    for ours, theirs in OD_LIMITS:
        _close(frame[ours], units[theirs], rel=True, msg=ours)
    flagged = sorted(units["group"][frame["flag"].to_numpy() != ""])
    assert flagged == sorted(ref["outliers"].split(";"))
    assert flagged == sorted(units["group"][units["outlier"] == 1])
    # direction of each flag
    lvl = "95" if limit == 95 else "998"
    high = frame["ratio"] > frame[f"ucl_{lvl}"]
    assert (frame.loc[high, "flag"] == "high").all() and (frame.loc[~high & (frame["flag"] != ""), "flag"] == "low").all()


@pytest.mark.parametrize(("ref_file", "method", "limit", "case"), SR_CASES)
def test_sr_unadjusted_poisson_limits_match_funnelplotr(medpar: pd.DataFrame, ref_file: str, method: str, limit: int, case: str) -> None:
    units = _units(ref_file)
    agg = _aggregate_los(medpar, units["group"])
    frame, info = funnel_ratios(agg["observed"], agg["expected"], method=method, limit=limit, overdispersion="off")
    assert info["overdispersion_applied"] is False
    for ours, theirs in PLAIN_LIMITS:
        _close(frame[ours], units[theirs], rel=True, msg=ours)


def test_sr_shmi_truncation_columns(medpar: pd.DataFrame) -> None:
    """Units FunnelPlotR truncated (top/bottom 10 % by rank) are exactly those without a Wuzscore."""
    units = _units("b_medpar_SR_SHMI_lim95_FunnelPlotR_units.csv")
    kept = units["truncated"] == 0
    assert kept.sum() == 44 and units.loc[~kept, "Wuzscore"].isna().all()
    # phi from the reference's own kept z-scores equals the summary phi (sanity of the reading)
    phi = float(np.mean(units.loc[kept, "Wuzscore"] ** 2))
    assert phi == pytest.approx(8.53285128924864, rel=TOL)


def test_observed_expected_ratio_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        funnel_ratios([1, 2], [1.0, 2.0], method="XYZ")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        funnel_ratios([1, 2], [1.0, 2.0], limit=90)  # type: ignore[arg-type]


@pytest.mark.parametrize("overdispersion, columns", [("on", OD_LIMITS), ("off", PLAIN_LIMITS)])
def test_pr_default_boundary_clamp_agrees_with_funnelplotr_except_where_the_arc_folds(
    pr_units: pd.DataFrame, overdispersion: str, columns
) -> None:
    """The default is the clamp the product specifies: where asin(sqrt(target)) + z*se >= pi/2 the upper limit is 1
    (FunnelPlotR's grid leaves 0.9988 there at n = 1, which would flag a 1-of-1 unit at 95 %). Everywhere else the
    limits are FunnelPlotR's to 1e-9."""
    frame, info = funnel_proportions(pr_units["numerator"], pr_units["denominator"], overdispersion=overdispersion)
    centre = math.asin(math.sqrt(info["target"]))
    tau2 = info["tau2"] if overdispersion == "on" else 0.0
    se = np.sqrt(1 / (4 * pr_units["denominator"]) + tau2)
    for ours, theirs in columns:
        z = FUNNEL_Z95 if "95" in ours else FUNNEL_Z998
        folded = (centre + z * se >= math.pi / 2) if ours.startswith("ucl") else (centre - z * se <= 0)
        expected = np.where(folded, 1.0 if ours.startswith("ucl") else 0.0, pr_units[theirs])
        _close(frame[ours], expected, msg=ours)
    # the only cells where the two rules differ: the 95 % upper limit of the two hospitals with one admission
    differs = [(g, c) for ours, theirs in columns for g, a, b in zip(pr_units["group"], frame[ours], pr_units[theirs])
               if abs(a - b) > TOL for c in [ours]]
    assert sorted(differs) == [("030033", "ucl_95"), ("030068", "ucl_95")]
    assert (frame.loc[pr_units["denominator"] == 1, "ucl_95"] == 1.0).all()
    assert (frame.loc[pr_units["denominator"] == 1, "flag"] == "").all()
