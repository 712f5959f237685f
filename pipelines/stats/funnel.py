"""Funnel plots for proportions and for ratios (FunnelPlotR: arcsine, exact and normal limits, overdispersion)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import binom as _binom
from scipy.stats import chi2 as _chi2
from scipy.stats import rankdata

from pipelines.stats._common import _as_float, _check_counts

__all__ = ['funnel_proportions', 'funnel_leave_one_out', 'funnel_proportions_robust', 'funnel_limit_curve', 'funnel_ratios', 'FUNNEL_Z95',
           'FUNNEL_Z998']

# FunnelPlotR hard-codes these rounded normal quantiles (qnorm(0.975), qnorm(0.999)); using the exact
# quantiles instead would move its limits by up to ~1e-8, so every funnel here uses the same literals.
FUNNEL_Z95 = 1.959964
FUNNEL_Z998 = 3.090232


# --------------------------------------------------------------------------------------------------
# 3. funnel plots
# --------------------------------------------------------------------------------------------------


def _quantile_type7(x: np.ndarray, prob: float) -> float:
    """R ``quantile(x, prob)`` (type 7) with R's own arithmetic: (1 - h) x[lo] + h x[hi]."""
    xs = np.sort(x)
    n = xs.size
    index = 1.0 + max(n - 1, 0) * prob
    lo = int(math.floor(index))
    hi = int(math.ceil(index))
    q = xs[lo - 1]
    if index > lo and xs[hi - 1] != q:
        h = index - lo
        q = (1.0 - h) * q + h * xs[hi - 1]
    return float(q)


def _winsorise(z: np.ndarray, trim: float) -> np.ndarray:
    """FunnelPlotR ``winsorisation``: clamp z to its R type-7 ``trim`` / ``1 - trim`` quantiles."""
    ok = ~np.isnan(z)
    if not ok.any():
        return z.copy()
    lz = _quantile_type7(z[ok], trim)
    uz = _quantile_type7(z[ok], 1.0 - trim)
    return np.where(z < lz, lz, np.where(z > uz, uz, z))


def _truncate(z: np.ndarray, trim: float) -> np.ndarray:
    """FunnelPlotR ``truncation`` (SHMI): drop (nan) z in the bottom/top ``trim`` rank groups.

    ``sp = floor(rank * k / (N + 1))`` with k = 1/trim and average ranks; a unit is kept when
    ``0 < sp < k - 1``.
    """
    out = np.full(z.shape, np.nan)
    ok = ~np.isnan(z)
    if not ok.any():
        return out
    k = 1.0 / trim
    rk = rankdata(z[ok], method="average")
    sp = np.floor(rk * k / (rk.size + 1))
    keep = (sp > 0) & (sp < k - 1)
    vals = z[ok].copy()
    vals[~keep] = np.nan
    out[ok] = vals
    return out


def _phi_tau2(wz: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """phi = mean(Wz^2); tau2 = max(0, (k phi - (k - 1)) / (sum w - sum w^2 / sum w)), w = 1/s^2.

    Only units with a non-missing (Winsorised / truncated) z-score count (FunnelPlotR ``phi_func``
    and ``tau_func``); tau2 is 0 when k phi < k - 1.
    """
    ok = ~np.isnan(wz)
    k = int(ok.sum())
    if k == 0:
        return float("nan"), 0.0
    phi = float(np.sum(wz[ok] ** 2) / k)
    if k * phi < k - 1:
        return phi, 0.0
    w = 1.0 / s[ok] ** 2
    denom = w.sum() - np.sum(w**2) / w.sum()
    tau2 = max(0.0, (k * phi - (k - 1)) / denom) if denom > 0 else 0.0
    return phi, float(tau2)


_ProportionMethod = Literal["arcsine", "exact", "normal"]


def _check_overdispersion(overdispersion: str) -> None:
    if overdispersion not in ("auto", "on", "off"):
        raise ValueError('overdispersion must be "auto", "on" or "off"')


def _funnelplotr_grid(n: np.ndarray) -> np.ndarray:
    """FunnelPlotR's limit grid for proportions: sort(unique(c(seq(3, max_x, length.out = 1000), n)))

    with max_x = ceiling(max(n)); R's seq computes from + (1:998) * ((to - from) / 999), exact ends.
    """
    finite = n[np.isfinite(n) & (n > 0)]
    if finite.size == 0:
        return finite
    to = float(math.ceil(finite.max()))
    by = (to - 3.0) / 999.0
    seq = np.concatenate([[3.0], 3.0 + np.arange(1, 999) * by, [to]])
    return np.unique(np.concatenate([seq, finite]))


def _arcsine_limits(
    theta: float, n: np.ndarray, z: float, tau2: float, truncation: str
) -> tuple[np.ndarray, np.ndarray]:
    """sin^2(asin(sqrt(theta)) -/+ z sqrt(1/(4n) + tau2)) with FunnelPlotR's truncation.

    sin^2 folds back once its argument leaves [0, pi/2], so the limits must be truncated there:

    * ``"grid"`` (FunnelPlotR 0.6.0 ``calculate_limits``): evaluate on its grid (see
      :func:`_funnelplotr_grid`); a lower limit larger than the one at the next grid denominator
      becomes 0 and an upper limit smaller than the next one becomes 1 (one pass). This zeroes/ones
      the folded region except possibly the grid point just before the fold, so e.g. at n = 1 the
      upper 95 % limit can stay just below 1 (0.998 in the medpar example).
    * ``"boundary"``: lower = 0 where its argument is <= 0, upper = 1 where its argument is >= pi/2.
    """
    centre = math.asin(math.sqrt(theta))

    def raw(nn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        se = np.sqrt(1.0 / (4.0 * nn) + tau2)
        return np.sin(centre - z * se) ** 2, np.sin(centre + z * se) ** 2, centre - z * se, centre + z * se

    if truncation == "boundary":
        low, high, lo_arg, hi_arg = raw(n)
        return np.where(lo_arg <= 0.0, 0.0, low), np.where(hi_arg >= math.pi / 2.0, 1.0, high)
    if truncation != "grid":
        raise ValueError('arcsine_truncation must be "grid" or "boundary"')
    grid = _funnelplotr_grid(n)
    g_low, g_high, _, _ = raw(grid)
    g_low, g_high = np.clip(g_low, 0.0, 1.0), np.clip(g_high, 0.0, 1.0)
    t_low, t_high = g_low.copy(), g_high.copy()
    t_low[:-1] = np.where(g_low[:-1] > g_low[1:], 0.0, g_low[:-1])
    t_high[:-1] = np.where(g_high[:-1] < g_high[1:], 1.0, g_high[:-1])
    pos = np.searchsorted(grid, n)
    pos = np.clip(pos, 0, max(grid.size - 1, 0))
    hit = (grid.size > 0) & np.isfinite(n) & (n > 0)
    low = np.where(hit, t_low[pos] if grid.size else np.nan, np.nan)
    high = np.where(hit, t_high[pos] if grid.size else np.nan, np.nan)
    return low, high


def _proportion_limits(
    theta: float,
    n: np.ndarray,
    level: Literal[95, 998],
    method: str,
    tau2: float,
    truncation: str = "boundary",
) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper funnel limits for a proportion at 95 % or 99.8 % (two-sided)."""
    z = FUNNEL_Z95 if level == 95 else FUNNEL_Z998
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "arcsine":
            low, high = _arcsine_limits(theta, n, z, tau2, truncation)
        else:
            s = np.sqrt(theta * (1.0 - theta) / n)
            inflate = np.sqrt(s**2 + tau2) / s if tau2 > 0 else 1.0
            if method == "normal":
                low = theta - z * s * inflate
                high = theta + z * s * inflate
            elif method == "exact":
                p = 0.025 if level == 95 else 0.001
                low = theta + (_spiegelhalter_exact(theta, n, p) - theta) * inflate
                high = theta + (_spiegelhalter_exact(theta, n, 1.0 - p) - theta) * inflate
            else:
                raise ValueError('method must be "arcsine", "exact" or "normal"')
            low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def _spiegelhalter_exact(theta: float, n: np.ndarray, p: float) -> np.ndarray:
    """Spiegelhalter (2005) interpolated exact binomial limit: (r_p - a) / n.

    r_p = qbinom(p, n, theta); a = (pbinom(r_p) - p) / (pbinom(r_p) - pbinom(r_p - 1)).
    """
    nn = np.where(n > 0, np.round(n), 1.0)
    rp = _binom.ppf(p, nn, theta)
    f_rp = _binom.cdf(rp, nn, theta)
    f_prev = _binom.cdf(rp - 1.0, nn, theta)
    a = (f_rp - p) / (f_rp - f_prev)
    return (rp - a) / nn


def funnel_limit_curve(
    target: float,
    n_values: ArrayLike,
    method: _ProportionMethod = "arcsine",
    tau2: float = 0.0,
    *,
    arcsine_truncation: Literal["grid", "boundary"] = "boundary",
) -> pd.DataFrame:
    """Funnel limit lines for a proportion ``target`` over denominators ``n_values`` (for plotting).

    Same limits as :func:`funnel_proportions` (``tau2 > 0`` gives the overdispersion-adjusted lines).
    With FunnelPlotR's "grid" truncation the grid is built from ``n_values`` (include the
    units' denominators and let the largest value be their maximum to reproduce the unit limits
    exactly). Columns: ``denominator_n, lcl_95, ucl_95, lcl_998, ucl_998``. A denominator <= 0 gives
    nan.
    """
    if not 0.0 < target < 1.0:
        raise ValueError("target must be strictly between 0 and 1")
    n = _as_float(np.atleast_1d(n_values))
    l95, u95 = _proportion_limits(target, n, 95, method, tau2, arcsine_truncation)
    l998, u998 = _proportion_limits(target, n, 998, method, tau2, arcsine_truncation)
    return pd.DataFrame({"denominator_n": n, "lcl_95": l95, "ucl_95": u95, "lcl_998": l998, "ucl_998": u998})


def _flags(rate: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(rate > high, "high", np.where(rate < low, "low", "")).astype(object)


def funnel_proportions(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    method: _ProportionMethod = "arcsine",
    overdispersion: Literal["auto", "on", "off"] = "auto",
    target: float | None = None,
    winsorise: float = 0.1,
    arcsine_truncation: Literal["grid", "boundary"] = "boundary",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Funnel plot for proportions (units = clinicians/sites), FunnelPlotR 0.6.0 ``data_type="PR"``.

    ``target`` defaults to the pooled proportion sum(num)/sum(den). z-scores and overdispersion:

    * ``method="arcsine"`` (FunnelPlotR): z = (asin(sqrt(p)) - asin(sqrt(target))) * 2 sqrt(n).
      Limits sin^2(asin(sqrt(target)) -/+ z_a sqrt(1/(4n) + tau2)), truncated where the argument
      leaves [0, pi/2]: ``"boundary"`` (default, the product's rule) sets the lower limit to 0
      wherever its argument is <= 0 and the upper to 1 wherever its argument is >= pi/2;
      ``arcsine_truncation="grid"`` reproduces FunnelPlotR's plotted values exactly (it
      zeroes/ones non-monotonic values on its plotting grid, which can leave the value just before
      the fold unchanged: at n = 1 in the medpar example the 95 % upper limit is 0.998, not 1, so a
      1-of-1 unit would be flagged).
    * ``method="normal"``: z = (p - target)/s with s = sqrt(target (1 - target)/n); limits
      target -/+ z_a sqrt(s^2 + tau2), clamped to [0, 1].
    * ``method="exact"``: Spiegelhalter (2005) interpolated exact binomial limits (r_p - a)/n with
      r_p = qbinom(p, n, target), a = (F(r_p) - p)/(F(r_p) - F(r_p - 1)), clamped to [0, 1]
      (denominators rounded to integers); z as for "normal". With overdispersion the distance of each exact limit from
      the target is multiplied by sqrt(s^2 + tau2)/s (the random-effects inflation of the normal
      method), so exact and normal limits widen by the same factor.

    For "normal"/"exact" overdispersion is therefore an **additive random-effects tau2 on the
    proportion scale** (weights w = 1/s^2), the same DerSimonian-Laird machinery as FunnelPlotR uses
    on the arcsine scale (w = 4n). In all methods z-scores are Winsorised at the R type-7
    ``winsorise`` and ``1 - winsorise`` quantiles, phi = mean(Wz^2) and
    tau2 = max(0, (k phi - (k - 1)) / (sum w - sum w^2 / sum w)).

    ``overdispersion``: "off" never adjusts, "on" always uses tau2, "auto" adjusts exactly when
    FunnelPlotR does, i.e. when tau2 > 0 (k phi > k - 1; for any phi > 1 this holds).

    z_a is 1.959964 (95 %) or 3.090232 (99.8 %) as hard-coded in FunnelPlotR; exact limits use the
    probabilities 0.025/0.975 and 0.001/0.999. Units with denominator 0 get nan and no flag.

    Returns ``(frame, info)``. Frame columns: ``numerator_n, denominator_n, rate, target, z, lcl_95,
    ucl_95, lcl_998, ucl_998, flag, flag_95`` where the limits are those drawn (adjusted when
    overdispersion is applied), ``z`` is the unadjusted z-score, ``flag`` is 'high'/'low'/'' against
    the drawn 99.8 % limits (a rate exactly on a limit is not flagged, as FunnelPlotR) and ``flag_95``
    the same at 95 %. ``info``: ``phi, tau2, method, overdispersion_applied, target, n_units``.
    """
    _check_overdispersion(overdispersion)
    if method not in ("arcsine", "exact", "normal"):
        raise ValueError('method must be "arcsine", "exact" or "normal"')
    num = _as_float(numerator)
    den = _as_float(denominator)
    if num.shape != den.shape:
        raise ValueError("numerator and denominator must have the same length")
    _check_counts(np.where(den > 0, num, 0.0), np.where(den > 0, den, 0.0))
    ok = den > 0
    theta = float(num[ok].sum() / den[ok].sum()) if target is None else float(target)
    if not 0.0 < theta < 1.0:
        raise ValueError("target proportion must be strictly between 0 and 1")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(ok, num / den, np.nan)
        if method == "arcsine":
            z = np.where(ok, (np.arcsin(np.sqrt(rate)) - math.asin(math.sqrt(theta))) * 2.0 * np.sqrt(den), np.nan)
            s = 1.0 / (2.0 * np.sqrt(den))
        else:
            s = np.sqrt(theta * (1.0 - theta) / den)
            z = np.where(ok, (rate - theta) / s, np.nan)
    phi, tau2 = _phi_tau2(_winsorise(z, winsorise), s)
    applied = overdispersion == "on" or (overdispersion == "auto" and tau2 > 0)
    tau2_used = tau2 if applied else 0.0
    l95, u95 = _proportion_limits(theta, den, 95, method, tau2_used, arcsine_truncation)
    l998, u998 = _proportion_limits(theta, den, 998, method, tau2_used, arcsine_truncation)
    frame = pd.DataFrame(
        {
            "numerator_n": num,
            "denominator_n": den,
            "rate": rate,
            "target": theta,
            "z": z,
            "lcl_95": l95,
            "ucl_95": u95,
            "lcl_998": l998,
            "ucl_998": u998,
            "flag": _flags(rate, l998, u998),
            "flag_95": _flags(rate, l95, u95),
        }
    )
    if isinstance(numerator, pd.Series):
        frame.index = numerator.index
    info = {
        "phi": phi,
        "tau2": tau2,
        "method": method,
        "overdispersion_applied": bool(applied),
        "target": theta,
        "n_units": int(ok.sum()),
    }
    return frame, info


def funnel_leave_one_out(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    method: _ProportionMethod = "arcsine",
    overdispersion: Literal["auto", "on", "off"] = "auto",
    winsorise: float = 0.1,
    arcsine_truncation: Literal["grid", "boundary"] = "boundary",
) -> pd.DataFrame:
    """Each unit judged against the others only: a funnel for unit i from the target, phi and tau2 of the other
    units (``funnel_proportions`` on the rest, then unit i's limits at its own denominator).

    With few units an outlier inflates the overdispersion estimate it is judged by: one clinician of ten with
    eyelid ptosis at 7.7 % against 3.0 % (z = 8.7) raised phi to 5.7 and widened the limits until it sat inside
    them. Leaving the judged unit out of the target and of phi / tau2 (a leave-one-out or "deleted residual"
    test) removes that self-masking; with many units it changes little.

    Returns one row per unit (same index): ``target, phi, tau2, overdispersion_applied, lcl_95, ucl_95, lcl_998,
    ucl_998, flag, flag_95`` where every figure of row i is computed without unit i. Units with denominator 0,
    and every unit when fewer than three units have data (the others then give no spread to judge by), get nan
    and no flag.
    """
    _check_overdispersion(overdispersion)
    num = _as_float(numerator)
    den = _as_float(denominator)
    if num.shape != den.shape:
        raise ValueError("numerator and denominator must have the same length")
    ok = den > 0
    columns = ["target", "phi", "tau2", "overdispersion_applied", "lcl_95", "ucl_95", "lcl_998", "ucl_998",
               "flag", "flag_95"]
    out = pd.DataFrame({c: np.nan for c in columns}, index=range(len(num)))
    out["flag"] = ""
    out["flag_95"] = ""
    out["overdispersion_applied"] = False
    if ok.sum() >= 3:
        for i in np.flatnonzero(ok):
            others = ok.copy()
            others[i] = False
            if not 0 < num[others].sum() < den[others].sum():
                continue  # the others all have or all lack the event: no proportion to judge unit i against
            _, info = funnel_proportions(num[others], den[others], method=method, overdispersion=overdispersion,
                                         winsorise=winsorise, arcsine_truncation=arcsine_truncation)
            tau2 = info["tau2"] if info["overdispersion_applied"] else 0.0
            n_i = den[i:i + 1]
            l95, u95 = _proportion_limits(info["target"], n_i, 95, method, tau2, arcsine_truncation)
            l998, u998 = _proportion_limits(info["target"], n_i, 998, method, tau2, arcsine_truncation)
            rate = num[i:i + 1] / n_i
            out.loc[i, ["target", "phi", "tau2"]] = [info["target"], info["phi"], info["tau2"]]
            out.loc[i, "overdispersion_applied"] = info["overdispersion_applied"]
            out.loc[i, ["lcl_95", "ucl_95", "lcl_998", "ucl_998"]] = [l95[0], u95[0], l998[0], u998[0]]
            out.loc[i, "flag"] = _flags(rate, l998, u998)[0]
            out.loc[i, "flag_95"] = _flags(rate, l95, u95)[0]
    if isinstance(numerator, pd.Series):
        out.index = numerator.index
    return out


def funnel_proportions_robust(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    method: _ProportionMethod = "arcsine",
    overdispersion: Literal["auto", "on", "off"] = "auto",
    winsorise: float = 0.1,
    arcsine_truncation: Literal["grid", "boundary"] = "boundary",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A funnel whose target and overdispersion come from the units that are not outliers.

    First pass: each unit against the others (``funnel_leave_one_out``, 99.8 %). Units flagged there, high or low,
    are left out of the target, phi and tau2; every unit is then judged against that funnel. Without outliers this
    is ``funnel_proportions`` exactly. With them, one unit far from the rest can no longer pull the target towards
    itself and widen the limits by inflating phi until it sits inside them (the self-masking of few units).

    Returns ``funnel_proportions``' frame and info for the robust funnel, plus ``flag_funnelplotr`` and
    ``flag_95_funnelplotr`` (FunnelPlotR's own flags with every unit in the estimate) so a difference can be shown;
    info adds ``excluded`` (positions of the units left out), ``phi_funnelplotr``, ``tau2_funnelplotr`` and
    ``target_funnelplotr``.
    """
    num = _as_float(numerator)
    den = _as_float(denominator)
    plain, plain_info = funnel_proportions(num, den, method=method, overdispersion=overdispersion,
                                           winsorise=winsorise, arcsine_truncation=arcsine_truncation)
    loo = funnel_leave_one_out(num, den, method=method, overdispersion=overdispersion, winsorise=winsorise,
                               arcsine_truncation=arcsine_truncation)
    outlier = (loo["flag"] != "").to_numpy()
    keep = ~outlier & (den > 0)
    frame, info = plain, dict(plain_info)
    robust = bool(outlier.any() and keep.sum() >= 3 and 0 < num[keep].sum() < den[keep].sum())
    if robust:
        _, core = funnel_proportions(num[keep], den[keep], method=method, overdispersion=overdispersion,
                                     winsorise=winsorise, arcsine_truncation=arcsine_truncation)
        theta = core["target"]
        tau2 = core["tau2"] if core["overdispersion_applied"] else 0.0
        curve = funnel_limit_curve(theta, den, method, tau2, arcsine_truncation=arcsine_truncation)
        ok = den > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(ok, num / den, np.nan)
            if method == "arcsine":
                z = np.where(ok, (np.arcsin(np.sqrt(rate)) - math.asin(math.sqrt(theta))) * 2.0 * np.sqrt(den),
                             np.nan)
            else:
                z = np.where(ok, (rate - theta) / np.sqrt(theta * (1.0 - theta) / den), np.nan)
        frame = pd.DataFrame({"numerator_n": num, "denominator_n": den, "rate": rate, "target": theta, "z": z,
                              "lcl_95": curve["lcl_95"].to_numpy(), "ucl_95": curve["ucl_95"].to_numpy(),
                              "lcl_998": curve["lcl_998"].to_numpy(), "ucl_998": curve["ucl_998"].to_numpy()})
        frame["flag"] = _flags(rate, frame["lcl_998"].to_numpy(), frame["ucl_998"].to_numpy())
        frame["flag_95"] = _flags(rate, frame["lcl_95"].to_numpy(), frame["ucl_95"].to_numpy())
        info = {**core, "n_units": int(ok.sum())}
    frame["flag_funnelplotr"] = plain["flag"].to_numpy()
    frame["flag_95_funnelplotr"] = plain["flag_95"].to_numpy()
    info.update({"excluded": [int(i) for i in np.flatnonzero(outlier)] if robust else [],
                 "phi_funnelplotr": plain_info["phi"], "tau2_funnelplotr": plain_info["tau2"],
                 "target_funnelplotr": plain_info["target"]})
    if isinstance(numerator, pd.Series):
        frame.index = numerator.index
    return frame, info


def _poisson_ratio_limits(e: np.ndarray, p_low: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits for O/E at expected E (FunnelPlotR unadjusted SR limits)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        low = _chi2.ppf(p_low, 2.0 * e) / 2.0 / e
        high = _chi2.ppf(1.0 - p_low, 2.0 * (e + 1.0)) / 2.0 / e
    return low, high


def funnel_ratios(
    observed: ArrayLike,
    expected: ArrayLike,
    *,
    method: Literal["SHMI", "CQC"] = "SHMI",
    limit: Literal[95, 99] = 95,
    overdispersion: Literal["auto", "on", "off"] = "auto",
    trim: float = 0.1,
    round_expected: bool | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Funnel plot for standardised ratios O/E (indirect standardisation), FunnelPlotR 0.6.0 "SR".

    * ``method="SHMI"`` (NHS Digital): log scale, z = sqrt(E) log(O/E), s = 1/sqrt(E); the top and
      bottom ``trim`` rank groups of z are **truncated** (excluded), not Winsorised, before
      phi/tau2. Adjusted limits exp(-/+ z_a sqrt(1/E + tau2)). As FunnelPlotR, E is first rounded to
      2 decimals (``round_expected`` default True for SHMI), and that rounded E is used for z and
      limits while ``ratio`` is O / unrounded E.
    * ``method="CQC"`` (Spiegelhalter): square-root scale, z = 2 sqrt(E) (sqrt(O/E) - 1),
      s = 1/(2 sqrt(E)), z Winsorised at the ``trim`` quantiles. Adjusted limits are
      1 -/+ z_a sqrt(s^2 + tau2) **on the ratio scale without squaring back** - this is what
      FunnelPlotR 0.6.0 draws (its ``calculate_limits``), reproduced for agreement; they are slightly
      narrower than the back-transformed (1 -/+ ...)^2.

    phi, tau2: as :func:`funnel_proportions` with w = 1/s^2. Unadjusted limits (no overdispersion
    applied) are exact Poisson: qchisq(p, 2E)/(2E) and qchisq(1 - p, 2(E + 1))/(2E) with p = 0.025 /
    0.001. ``overdispersion`` as in :func:`funnel_proportions` ("auto": adjust when tau2 > 0).

    Returns ``(frame, info)``: frame columns ``observed, expected, ratio, z, lcl_95, ucl_95, lcl_998,
    ucl_998, flag`` (limits drawn; ``flag`` against the ``limit`` level: 95 -> 95 %, 99 -> 99.8 %;
    on-the-limit is not flagged) and info ``phi, tau2, method, limit, overdispersion_applied,
    n_units``. E <= 0 gives nan and no flag.
    """
    _check_overdispersion(overdispersion)
    if method not in ("SHMI", "CQC"):
        raise ValueError('method must be "SHMI" or "CQC"')
    if limit not in (95, 99):
        raise ValueError("limit must be 95 or 99")
    o = _as_float(observed)
    e_raw = _as_float(expected)
    if o.shape != e_raw.shape:
        raise ValueError("observed and expected must have the same length")
    if round_expected is None:
        round_expected = method == "SHMI"
    e = np.round(e_raw, 2) if round_expected else e_raw
    ok = e > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(e_raw > 0, o / e_raw, np.nan)
        if method == "SHMI":
            s = 1.0 / np.sqrt(e)
            z = np.where(ok, np.sqrt(e) * np.log(o / e), np.nan)
            wz = _truncate(z, trim)
        else:
            s = 1.0 / (2.0 * np.sqrt(e))
            z = np.where(ok, (np.sqrt(o / e) - 1.0) / s, np.nan)
            wz = _winsorise(z, trim)
    phi, tau2 = _phi_tau2(wz, s)
    applied = overdispersion == "on" or (overdispersion == "auto" and tau2 > 0)
    limits: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for level, za, p_low in ((95, FUNNEL_Z95, 0.025), (998, FUNNEL_Z998, 0.001)):
            if applied:
                if method == "SHMI":
                    half = za * np.sqrt(1.0 / e + tau2)
                    low, high = np.exp(-half), np.exp(half)
                else:
                    half = za * np.sqrt(s**2 + tau2)
                    low, high = 1.0 - half, 1.0 + half
            else:
                low, high = _poisson_ratio_limits(e, p_low)
            limits[f"lcl_{level}"] = np.where(ok, low, np.nan)
            limits[f"ucl_{level}"] = np.where(ok, high, np.nan)
    lv = 95 if limit == 95 else 998
    frame = pd.DataFrame(
        {
            "observed": o,
            "expected": e_raw,
            "ratio": ratio,
            "z": z,
            **limits,
            "flag": _flags(ratio, limits[f"lcl_{lv}"], limits[f"ucl_{lv}"]),
        }
    )
    if isinstance(observed, pd.Series):
        frame.index = observed.index
    info = {
        "phi": phi,
        "tau2": tau2,
        "method": method,
        "limit": limit,
        "overdispersion_applied": bool(applied),
        "n_units": int(ok.sum()),
    }
    return frame, info

