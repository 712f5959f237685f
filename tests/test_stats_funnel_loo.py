"""Leave-one-out funnel: each unit judged against the others only (issue 17, "an outlier must not hide itself")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines import stats

Z998 = 3.090232  # FunnelPlotR's rounded qnorm(0.999)


def test_limits_from_the_other_units_by_hand():
    frame = stats.funnel_leave_one_out([2, 3, 30], [100, 100, 100], method="normal", overdispersion="off")
    # unit 3 against units 1 and 2: target 5/200
    t = 5 / 200
    assert frame.loc[2, "target"] == pytest.approx(t, abs=1e-15)
    assert frame.loc[2, "ucl_998"] == pytest.approx(t + Z998 * math.sqrt(t * (1 - t) / 100), abs=1e-12)
    assert frame.loc[2, "flag"] == "high"
    # unit 1 against units 2 and 3: target 33/200
    t = 33 / 200
    assert frame.loc[0, "lcl_998"] == pytest.approx(t - Z998 * math.sqrt(t * (1 - t) / 100), abs=1e-12)
    assert frame.loc[0, "flag"] == "low"  # 2 % against 16.5 %: far below
    assert not frame["overdispersion_applied"].any()


def test_each_row_is_the_funnel_of_the_others_at_the_units_own_size():
    num, den = np.array([30, 41, 55, 60, 12, 42]), np.array([900, 1792, 1427, 1649, 1325, 1044])
    frame = stats.funnel_leave_one_out(num, den)
    for i in range(len(num)):
        keep = np.arange(len(num)) != i
        _, info = stats.funnel_proportions(num[keep], den[keep])
        assert frame.loc[i, "target"] == pytest.approx(num[keep].sum() / den[keep].sum(), abs=1e-15)
        assert frame.loc[i, "phi"] == pytest.approx(info["phi"], abs=1e-12)
        assert frame.loc[i, "tau2"] == pytest.approx(info["tau2"], abs=1e-15)
        # the limit at the unit's own size: arcsine scale, sin^2(asin(sqrt(target)) + z sqrt(1/(4n) + tau2))
        tau2 = info["tau2"] if info["overdispersion_applied"] else 0.0
        upper = math.sin(math.asin(math.sqrt(info["target"])) + Z998 * math.sqrt(1 / (4 * den[i]) + tau2)) ** 2
        assert frame.loc[i, "ucl_998"] == pytest.approx(upper, abs=1e-12)


def test_an_outlier_cannot_hide_by_inflating_the_overdispersion():
    """Ten clinicians; one at 7.7 % eyelid ptosis among others at 0.9-4.1 %: with the outlier in the estimate phi is
    8.5 and FunnelPlotR's limits swallow it; judged against the other nine it is far above their funnel."""
    den = [3590, 1792, 1427, 1649, 1325, 1044, 1053, 88, 148, 385]
    num = [60, 41, 55, 127, 12, 42, 40, 2, 4, 11]
    everyone, info = stats.funnel_proportions(num, den)
    assert info["phi"] > 8 and everyone.loc[3, "flag"] == ""  # the self-masking the issue describes
    alone = stats.funnel_leave_one_out(num, den)
    assert alone.loc[3, "flag"] == "high"
    assert alone.loc[3, "phi"] < info["phi"]  # the others are far less dispersed without it
    assert alone.loc[3, "ucl_998"] < 127 / 1649 < everyone.loc[3, "ucl_998"]


def test_too_few_units_to_judge():
    frame = stats.funnel_leave_one_out([1, 9], [100, 100])
    assert (frame["flag"] == "").all() and frame["target"].isna().all()
    frame = stats.funnel_leave_one_out([1, 2, 9, 0], [100, 100, 100, 0])
    assert frame.loc[3, "flag"] == "" and math.isnan(frame.loc[3, "target"])


def test_the_robust_funnel_flags_the_outlier_and_says_what_funnelplotr_says():
    den = [3590, 1792, 1427, 1649, 1325, 1044, 1053, 88, 148, 385]
    num = [60, 41, 55, 127, 12, 42, 40, 2, 4, 11]
    frame, info = stats.funnel_proportions_robust(num, den)
    assert list(frame["flag"]) == [""] * 3 + ["high"] + [""] * 6
    assert list(frame["flag_funnelplotr"]) == [""] * 10  # FunnelPlotR, every unit in phi: nothing flagged
    assert info["excluded"] == [3, 4]  # the first pass flags the 7.7 % clinician high and the 0.9 % one low
    keep = [i for i in range(10) if i not in (3, 4)]
    core, core_info = stats.funnel_proportions([num[i] for i in keep], [den[i] for i in keep])
    assert info["target"] == pytest.approx(sum(num[i] for i in keep) / sum(den[i] for i in keep), abs=1e-15)
    assert (info["phi"], info["tau2"]) == (pytest.approx(core_info["phi"]), pytest.approx(core_info["tau2"]))
    assert info["phi_funnelplotr"] > 8 > info["phi"]
    # unit 4's limit is the core funnel's at its own size
    upper = math.sin(math.asin(math.sqrt(info["target"])) + Z998 * math.sqrt(1 / (4 * 1649) + info["tau2"])) ** 2
    assert frame.loc[3, "ucl_998"] == pytest.approx(upper, abs=1e-12)


def test_without_outliers_the_robust_funnel_is_funnelplotrs():
    den = np.array([900, 1792, 1427, 1649, 1325, 1044])
    num = np.array([30, 55, 48, 51, 40, 33])
    robust, info = stats.funnel_proportions_robust(num, den)
    plain, plain_info = stats.funnel_proportions(num, den)
    assert info["excluded"] == []
    for c in ("target", "lcl_998", "ucl_998", "flag"):
        assert list(robust[c]) == list(plain[c])
    assert info["phi"] == plain_info["phi"]
