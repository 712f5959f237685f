"""Pure statistical functions for clinic outcome monitoring.

No I/O, no project imports, no UI: numpy / scipy / pandas only. Every public function is tested
against values produced by the established R tools (reference CSVs copied verbatim into
``tests/reference_data``; its README describes each file) or, where no R reference exists, against
values worked out by hand in the test:

* ``wilson_interval`` - PHEindicatormethods 2.0.2 ``phe_proportion`` (95 %, 99.8 %) and base R
  ``prop.test(correct = FALSE)`` (``tests/test_stats_ci.py``);
* ``wilson_cc_interval`` - base R ``prop.test(correct = TRUE)`` (``test_stats_ci.py``);
* ``clopper_pearson_interval`` - base R ``binom.test``, 95 % and 99.8 % (``test_stats_ci.py``);
* ``jeffreys_interval`` - base R ``qbeta(c(.025, .975), x + .5, n - x + .5)`` (``test_stats_ci.py``);
* ``observed_expected`` - exact Poisson (gamma) limits written out by hand (``test_stats_ci.py``);
* ``p_chart`` - qicharts2 0.8.1 ``qic(chart = "p")`` and ``chart = "pp"`` on its ``cabg`` data,
  per point and summary; freeze / parts / n = 0 by hand (``test_stats_spc.py``);
* ``anhoej_rules`` - qicharts2 run-rule limits for n_useful = 1..100 (``test_stats_spc.py``);
* ``mdc_rules``, ``variation_reading`` - hand-counted sequences (``test_stats_spc.py``);
* ``funnel_proportions``, ``funnel_limit_curve`` - FunnelPlotR 0.6.0 ``data_type = "PR"`` on
  COUNT::medpar (z, limits adjusted and unadjusted, phi, tau2, outliers) and the README worked
  example n = 15, 3.6 % (``test_stats_funnel.py``);
* ``funnel_ratios`` - FunnelPlotR 0.6.0 ``data_type = "SR"``, SHMI at 95 % and CQC at 99.8 %
  (``test_stats_funnel.py``);
* ``bernoulli_cusum`` - hand-computed S_t sequences; ``cusum_arl`` / ``cusum_threshold`` - exact
  lattice ARL (independent linear solve) and Monte Carlo run lengths (``test_stats_cusum.py``).

Conventions: proportions are on the 0-1 scale; missing values are ``nan``; a denominator of 0 gives
a ``nan`` rate and is ignored by every calculation that the reference tools would also ignore.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.optimize import brentq
from scipy.sparse.linalg import spsolve
from scipy.stats import beta as _beta
from scipy.stats import binom as _binom
from scipy.stats import chi2 as _chi2
from scipy.stats import norm as _norm
from scipy.stats import rankdata

__all__ = [
    "z_for_confidence",
    "wilson_interval",
    "wilson_cc_interval",
    "clopper_pearson_interval",
    "jeffreys_interval",
    "observed_expected",
    "anhoej_rules",
    "p_chart",
    "mdc_rules",
    "variation_reading",
    "funnel_proportions",
    "funnel_limit_curve",
    "funnel_ratios",
    "bernoulli_cusum",
    "cusum_arl",
    "cusum_threshold",
    "cusum_path",
    "CusumTooRare",
    "FUNNEL_Z95",
    "FUNNEL_Z998",
    "MDC_RUN_LENGTH",
    "DEFAULT_CUSUM_ARL0",
]

# FunnelPlotR hard-codes these rounded normal quantiles (qnorm(0.975), qnorm(0.999)); using the exact
# quantiles instead would move its limits by up to ~1e-8, so every funnel here uses the same literals.
FUNNEL_Z95 = 1.959964
FUNNEL_Z998 = 3.090232
MDC_RUN_LENGTH = 7  # NHS "Making Data Count": 7 points for a shift and for a trend
DEFAULT_CUSUM_ARL0 = 1000.0  # in-control average run length used when no CUSUM threshold is given


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _maybe_scalar(*arrays: np.ndarray, scalar: bool) -> Any:
    if scalar:
        out = tuple(float(a) for a in arrays)
    else:
        out = arrays
    return out if len(out) > 1 else out[0]


def _check_counts(events: np.ndarray, n: np.ndarray) -> None:
    bad = (events < 0) | (n < 0) | (events > n)
    if np.any(bad[~(np.isnan(events) | np.isnan(n))]):
        raise ValueError("events and n must satisfy 0 <= events <= n")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def z_for_confidence(confidence: float = 0.95) -> float:
    """Two-sided standard-normal quantile: ``z`` with P(-z < Z < z) = ``confidence``.

    ``z_for_confidence(0.95)`` = 1.959964..., ``z_for_confidence(0.998)`` = 3.090232...
    (R: ``qnorm((1 + confidence) / 2)``).
    """
    _check_confidence(confidence)
    return float(_norm.ppf((1.0 + confidence) / 2.0))


# --------------------------------------------------------------------------------------------------
# 1. confidence intervals for a proportion
# --------------------------------------------------------------------------------------------------


def wilson_interval(events: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> Any:
    """Wilson score interval for a proportion, without continuity correction.

    ``(2x + z^2 -/+ z*sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2))`` (Wilson 1927), the formula used by
    PHEindicatormethods ``phe_proportion`` and by R ``prop.test(correct = FALSE)``.

    Vectorised over ``events`` and ``n``; returns ``(low, high)`` as floats for scalar input, arrays
    otherwise. ``n == 0`` gives ``(nan, nan)``. The bounds are exactly 0 at ``x = 0`` and exactly 1
    at ``x = n`` (the formula gives those values up to rounding).
    """
    _check_confidence(confidence)
    scalar = np.ndim(events) == 0 and np.ndim(n) == 0
    x, nn = np.broadcast_arrays(_as_float(events), _as_float(n))
    _check_counts(x, nn)
    z = z_for_confidence(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = z * np.sqrt(z * z + 4.0 * x * (1.0 - x / nn))
        den = 2.0 * (nn + z * z)
        low = (2.0 * x + z * z - root) / den
        high = (2.0 * x + z * z + root) / den
    low = np.where(x == 0, 0.0, low)
    high = np.where(x == nn, 1.0, high)
    empty = ~(nn > 0)
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return _maybe_scalar(low, high, scalar=scalar)


def wilson_cc_interval(events: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> Any:
    """Wilson score interval with Yates' continuity correction, exactly as R ``prop.test(correct=TRUE)``.

    R computes the correction as ``min(0.5, |x - n * p0|)`` with the default null ``p0 = 0.5``, so the
    correction shrinks below 0.5 when x is within 0.5 of n/2 and **vanishes when x = n/2**; the
    interval is then the plain Wilson interval. This quirk is reproduced on purpose (it is what R
    reports). With ``p_c = x/n +/- cc/n`` and ``a = z^2/(2n)``:
    ``(p_c + a -/+ z*sqrt(p_c(1 - p_c)/n + a/(2n))) / (1 + 2a)``, the lower bound being 0 when
    ``p_c <= 0`` and the upper 1 when ``p_c >= 1``. ``n == 0`` gives ``(nan, nan)``.
    """
    _check_confidence(confidence)
    scalar = np.ndim(events) == 0 and np.ndim(n) == 0
    x, nn = np.broadcast_arrays(_as_float(events), _as_float(n))
    _check_counts(x, nn)
    z = z_for_confidence(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_hat = x / nn
        yates = np.minimum(0.5, np.abs(x - nn * 0.5))
        z22n = z * z / (2.0 * nn)
        pc_u = p_hat + yates / nn
        pc_l = p_hat - yates / nn
        up = (pc_u + z22n + z * np.sqrt(pc_u * (1.0 - pc_u) / nn + z22n / (2.0 * nn))) / (1.0 + 2.0 * z22n)
        lo = (pc_l + z22n - z * np.sqrt(pc_l * (1.0 - pc_l) / nn + z22n / (2.0 * nn))) / (1.0 + 2.0 * z22n)
    high = np.where(pc_u >= 1.0, 1.0, np.minimum(up, 1.0))
    low = np.where(pc_l <= 0.0, 0.0, np.maximum(lo, 0.0))
    empty = ~(nn > 0)
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return _maybe_scalar(low, high, scalar=scalar)


def clopper_pearson_interval(events: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> Any:
    """Clopper-Pearson 'exact' interval, as R ``binom.test``.

    ``low = qbeta(a, x, n - x + 1)`` (0 when x = 0), ``high = qbeta(1 - a, x + 1, n - x)`` (1 when
    x = n), with ``a = (1 - confidence) / 2``. ``n == 0`` gives ``(nan, nan)``.
    """
    _check_confidence(confidence)
    scalar = np.ndim(events) == 0 and np.ndim(n) == 0
    x, nn = np.broadcast_arrays(_as_float(events), _as_float(n))
    _check_counts(x, nn)
    a = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(x > 0, _beta.ppf(a, np.where(x > 0, x, 1.0), nn - x + 1.0), 0.0)
        high = np.where(x < nn, _beta.ppf(1.0 - a, x + 1.0, np.where(x < nn, nn - x, 1.0)), 1.0)
    empty = ~(nn > 0)
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return _maybe_scalar(low, high, scalar=scalar)


def jeffreys_interval(events: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> Any:
    """Jeffreys interval: equal-tailed quantiles of Beta(x + 1/2, n - x + 1/2).

    As in Brown, Cai & DasGupta (2001) the lower bound is set to 0 at x = 0 and the upper to 1 at
    x = n. ``n == 0`` gives ``(nan, nan)``.
    """
    _check_confidence(confidence)
    scalar = np.ndim(events) == 0 and np.ndim(n) == 0
    x, nn = np.broadcast_arrays(_as_float(events), _as_float(n))
    _check_counts(x, nn)
    a = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = _beta.ppf(a, x + 0.5, nn - x + 0.5)
        high = _beta.ppf(1.0 - a, x + 0.5, nn - x + 0.5)
    low = np.where(x == 0, 0.0, low)
    high = np.where(x == nn, 1.0, high)
    empty = ~(nn > 0)
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return _maybe_scalar(low, high, scalar=scalar)


def observed_expected(observed: ArrayLike, expected: ArrayLike, confidence: float = 0.95) -> Any:
    """Observed / expected ratio (indirect standardisation) with an exact Poisson interval.

    The observed count O is treated as Poisson; its exact (Garwood) limits are
    ``qchisq(a, 2O) / 2`` (0 when O = 0) and ``qchisq(1 - a, 2(O + 1)) / 2`` with
    ``a = (1 - confidence) / 2`` (equivalently gamma quantiles), and the expected count E is taken as
    fixed, so the ratio limits are those divided by E. Returns ``(ratio, low, high)``; E <= 0 gives
    nan. Example: O = 10, E = 5 gives 2.0 (0.9591, 3.6781).
    """
    _check_confidence(confidence)
    scalar = np.ndim(observed) == 0 and np.ndim(expected) == 0
    o, e = np.broadcast_arrays(_as_float(observed), _as_float(expected))
    if np.any(o[~np.isnan(o)] < 0):
        raise ValueError("observed counts must be >= 0")
    a = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_count = np.where(o > 0, _chi2.ppf(a, 2.0 * np.where(o > 0, o, 1.0)) / 2.0, 0.0)
        hi_count = _chi2.ppf(1.0 - a, 2.0 * (o + 1.0)) / 2.0
        ok = e > 0
        ratio = np.where(ok, o / e, np.nan)
        low = np.where(ok, lo_count / e, np.nan)
        high = np.where(ok, hi_count / e, np.nan)
    return _maybe_scalar(ratio, low, high, scalar=scalar)


# --------------------------------------------------------------------------------------------------
# 2. control charts over time
# --------------------------------------------------------------------------------------------------


def _run_lengths(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length encoding: (value of each run, length of each run)."""
    if codes.size == 0:
        return codes, np.zeros(0, dtype=int)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, codes.size])
    return codes[starts], lengths


def anhoej_rules(values: ArrayLike, centre: ArrayLike) -> dict[str, Any]:
    """Anhoej run rules (as qicharts2 0.8.1 ``runs.analysis`` with ``method = "anhoej"``).

    Points exactly on the centre line, and missing points, are not useful observations and are
    dropped before counting. With ``n_useful`` remaining points:

    * ``longest_run``: longest sequence of consecutive useful points on the same side of the centre;
    * ``longest_run_max`` = ``round(log2(n_useful)) + 3`` (Schilling 2012). log2 of an integer is
      never exactly x.5, so R's round-half-even and Python's ``round`` agree;
    * ``crossings``: number of times the useful points cross the centre (= runs - 1);
    * ``crossings_min`` = ``qbinom(0.05, n_useful - 1, 0.5)`` (Chen 2010);
    * ``runs_signal`` = ``longest_run > longest_run_max or crossings < crossings_min``.

    With no useful point every count is ``None`` and ``runs_signal`` is False.
    """
    y = _as_float(values)
    cl = np.broadcast_to(_as_float(centre), y.shape)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    side = side[(side != 0) & ~np.isnan(side)]
    n_useful = int(side.size)
    if n_useful == 0:
        return {
            "n_useful": 0,
            "longest_run": None,
            "longest_run_max": None,
            "crossings": None,
            "crossings_min": None,
            "runs_signal": False,
        }
    _, lengths = _run_lengths(side)
    longest = int(lengths.max())
    crossings = int(lengths.size - 1)
    longest_max = int(round(math.log2(n_useful))) + 3
    crossings_min = int(_binom.ppf(0.05, n_useful - 1, 0.5)) if n_useful > 1 else 0
    return {
        "n_useful": n_useful,
        "longest_run": longest,
        "longest_run_max": longest_max,
        "crossings": crossings,
        "crossings_min": crossings_min,
        "runs_signal": bool(longest > longest_max or crossings < crossings_min),
    }


def _part_labels(parts: ArrayLike | None, n_points: int) -> np.ndarray:
    """1-based part number per point; ``parts`` = 0-based indices where a new part starts."""
    starts = [0] if parts is None else sorted({0, *(int(p) for p in np.atleast_1d(parts))})
    starts = [s for s in starts if 0 <= s < max(n_points, 1)]
    labels = np.zeros(n_points, dtype=int)
    for k, s in enumerate(starts, start=1):
        labels[s:] = k
    return labels


def _laney_sigma_z(rate: np.ndarray, cl: float, sd: np.ndarray, screen_mr: bool) -> float:
    """Laney's sigma_z: mean moving range of the z-scores / 1.128, MRs >= 3.267 x mean screened out.

    z-scores of missing points are nan, which removes the two moving ranges touching them (as in R,
    ``diff`` then ``mean(na.rm = TRUE)``); a moving range is kept when strictly below 3.267 x the
    first mean (qicharts2: ``mr[mr < ulmr]``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (rate - cl) / sd
    mr = np.abs(np.diff(z))
    mr = mr[~np.isnan(mr)]
    if mr.size == 0:
        return float("nan")
    amr = mr.mean()
    if screen_mr:
        kept = mr[mr < 3.267 * amr]
        amr = kept.mean() if kept.size else float("nan")
    return float(amr / 1.128)


def p_chart(
    events: ArrayLike,
    n: ArrayLike,
    *,
    chart: Literal["p", "pp"] = "p",
    freeze: int | None = None,
    parts: ArrayLike | None = None,
    screen_mr: bool = True,
) -> pd.DataFrame:
    """Proportion control chart (p or Laney p') with Anhoej run rules, matching qicharts2 0.8.1.

    Per part (``parts`` = 0-based indices where a new part starts; qicharts2's ``part``):

    * ``cl`` = sum(events) / sum(n) over the part's baseline points;
    * ``chart="p"``: sigma_i = sqrt(cl (1 - cl) / n_i);
      ``chart="pp"`` (Laney 2002): sigma_i is multiplied by sigma_z = mean moving range of the baseline
      z-scores ``(p_i - cl) / sigma_i`` divided by 1.128, moving ranges >= 3.267 x their mean being
      dropped before the mean is recomputed when ``screen_mr`` (qicharts2's default once attached);
    * ``lcl/ucl`` = cl -/+ 3 sigma_i and ``lcl_95/ucl_95`` = cl -/+ 2 sigma_i, upper limits clamped
      at 1 and lower limits at 0;
    * ``sigma_signal``: point strictly outside the 3-sigma limits;
    * Anhoej rules (:func:`anhoej_rules`) on every point of the part against its centre line, the
      summary repeated on each row of the part.

    ``freeze=N``: centre line and limits of the first part come from its first N points only
    (``baseline`` column), the run rules still use every point of the part. Unlike qicharts2, which
    ignores ``freeze`` when parts are given, here ``freeze`` then applies to the first part and must
    not exceed its length; later parts use all their points.

    A point with n = 0 (or missing) has ``rate``, limits and ``sigma_signal`` nan/False, adds nothing
    to the centre line, is not a useful observation for the run rules, and its Laney z-score is nan.
    If ``events`` is a pandas Series its index is kept.
    """
    if chart not in ("p", "pp"):
        raise ValueError('chart must be "p" or "pp"')
    y = _as_float(events)
    nn = _as_float(n)
    if y.shape != nn.shape or y.ndim != 1:
        raise ValueError("events and n must be 1-d and of equal length")
    with np.errstate(invalid="ignore"):
        _check_counts(np.where(nn > 0, y, 0.0), np.where(nn > 0, nn, 0.0))
    m = y.size
    part = _part_labels(parts, m)
    baseline = np.ones(m, dtype=bool)
    if freeze is not None:
        first_len = int(np.sum(part == 1))
        if not 1 <= int(freeze) <= first_len:
            raise ValueError(f"freeze must be between 1 and the length of the first part ({first_len})")
        baseline[: int(freeze)] = True
        baseline[int(freeze) : first_len] = False
    valid = nn > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(valid, y / nn, np.nan)

    cl = np.full(m, np.nan)
    sd = np.full(m, np.nan)
    runs: dict[str, np.ndarray] = {
        k: np.empty(m, dtype=object)
        for k in ("n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min", "runs_signal")
    }
    for p in np.unique(part):
        idx = np.flatnonzero(part == p)
        base = idx[baseline[idx]]
        use = base[valid[base]]
        den = nn[use].sum()
        centre = y[use].sum() / den if den > 0 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt(centre * (1.0 - centre) / nn[idx])
        if chart == "pp":
            s_base = s[np.isin(idx, base)]
            s = s * _laney_sigma_z(rate[base], centre, s_base, screen_mr)
        cl[idx] = centre
        sd[idx] = s
        rules = anhoej_rules(rate[idx], centre)
        for k in runs:
            runs[k][idx] = rules[k]

    with np.errstate(invalid="ignore"):
        ucl = np.minimum(cl + 3.0 * sd, 1.0)
        ucl95 = np.minimum(cl + 2.0 * sd, 1.0)
        lcl = np.maximum(cl - 3.0 * sd, 0.0)
        lcl95 = np.maximum(cl - 2.0 * sd, 0.0)
    finite = np.isfinite(sd) & valid
    ucl, ucl95, lcl, lcl95 = (np.where(finite, v, np.nan) for v in (ucl, ucl95, lcl, lcl95))
    with np.errstate(invalid="ignore"):
        sigma_signal = (rate > ucl) | (rate < lcl)

    index = events.index if isinstance(events, pd.Series) else None
    out = pd.DataFrame(
        {
            "numerator_n": y,
            "denominator_n": nn,
            "rate": rate,
            "cl": cl,
            "lcl": lcl,
            "ucl": ucl,
            "lcl_95": lcl95,
            "ucl_95": ucl95,
            "sigma_signal": sigma_signal,
            "part": part,
            "baseline": baseline,
        },
        index=index,
    )
    for k in ("n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min"):
        out[k] = pd.array([pd.NA if v is None else int(v) for v in runs[k]], dtype="Int64")
    out["runs_signal"] = runs["runs_signal"].astype(bool)
    return out


def _flag_runs(mask_codes: np.ndarray, min_len: int) -> np.ndarray:
    """True for elements belonging to a run of equal non-zero codes of length >= min_len."""
    if mask_codes.size == 0:
        return np.zeros(0, dtype=bool)
    values, lengths = _run_lengths(mask_codes)
    long_run = (values != 0) & (lengths >= min_len)
    return np.repeat(long_run, lengths)


def _two_of_three(beyond: np.ndarray) -> np.ndarray:
    """Points beyond a limit that sit in some window of 3 consecutive points with >= 2 beyond it."""
    k = beyond.size
    if k < 2:
        return np.zeros(k, dtype=bool)
    b = beyond.astype(int)
    width = min(3, k)
    counts = np.convolve(b, np.ones(width, dtype=int), mode="valid")  # window starting at j
    hot = counts >= 2
    covered = np.zeros(k, dtype=bool)
    for offset in range(width):
        covered[offset : offset + hot.size] |= hot
    return covered & beyond


def mdc_rules(
    values: ArrayLike,
    cl: ArrayLike,
    lcl: ArrayLike,
    ucl: ArrayLike,
    lcl_95: ArrayLike | None = None,
    ucl_95: ArrayLike | None = None,
) -> pd.DataFrame:
    """NHS "Making Data Count" special-cause rules, one row per point.

    Missing values (nan, e.g. months with no patients) are skipped: the rules are evaluated on the
    remaining points in order and missing rows get False / ''. Columns:

    * ``astronomical``: the point is strictly above ``ucl`` or strictly below ``lcl``;
    * ``shift``: the point belongs to a run of >= 7 consecutive points strictly on the same side of
      the centre line. A point exactly on the centre line **breaks** the run and is never part of a
      shift (as NHSRplotthedots);
    * ``trend``: the point belongs to a run of >= 7 consecutive points each strictly higher (or each
      strictly lower) than the previous one. A **tie** (equal consecutive values) breaks the trend;
    * ``two_of_three``: the point is strictly beyond a 2-sigma limit and, in some window of 3
      consecutive points containing it, at least 2 points are beyond that same 2-sigma limit (points
      beyond the 3-sigma limit count as beyond 2 sigma; the third point may lie anywhere). Only the
      points beyond the limit are flagged (a series of only 2 points uses that one window). If ``lcl_95``/``ucl_95`` are not given they are derived as
      cl -/+ 2s with s = max(ucl - cl, cl - lcl)/3, exact unless both 3-sigma limits were clamped;
    * ``rule``: names of the rules that fired, '; '-joined in the order above ('' if none);
    * ``direction``: 'high'/'low' side of the signal, '' if none. For astronomical, shift and
      two_of_three it is the side of the centre line the point lies on; a point flagged *only* by a
      trend takes the trend's direction (increasing = 'high').
    """
    y = _as_float(values)
    m = y.size
    cl_a, lcl_a, ucl_a = (np.broadcast_to(_as_float(v), (m,)).astype(float) for v in (cl, lcl, ucl))
    if lcl_95 is None or ucl_95 is None:
        with np.errstate(invalid="ignore"):
            s = np.fmax(ucl_a - cl_a, cl_a - lcl_a) / 3.0
        l95, u95 = cl_a - 2.0 * s, cl_a + 2.0 * s
        if lcl_95 is not None:
            l95 = np.broadcast_to(_as_float(lcl_95), (m,)).astype(float)
        if ucl_95 is not None:
            u95 = np.broadcast_to(_as_float(ucl_95), (m,)).astype(float)
    else:
        l95 = np.broadcast_to(_as_float(lcl_95), (m,)).astype(float)
        u95 = np.broadcast_to(_as_float(ucl_95), (m,)).astype(float)

    ok = ~np.isnan(y)
    yv, c, lo, hi, lo2, hi2 = (a[ok] for a in (y, cl_a, lcl_a, ucl_a, l95, u95))
    side = np.sign(yv - c)
    astro = (yv > hi) | (yv < lo)
    shift = _flag_runs(side, MDC_RUN_LENGTH)
    step = np.sign(np.diff(yv))
    trend_steps = _flag_runs(step, MDC_RUN_LENGTH - 1) if step.size else np.zeros(0, dtype=bool)
    trend = np.zeros(yv.size, dtype=bool)
    trend_dir = np.zeros(yv.size)
    if step.size:
        trend[:-1] |= trend_steps
        trend[1:] |= trend_steps
        signed = np.where(trend_steps, step, 0.0)
        trend_dir[:-1] = signed
        trend_dir[1:] = np.where(signed != 0, signed, trend_dir[1:])
    up2, down2 = yv > hi2, yv < lo2
    two3 = _two_of_three(up2) | _two_of_three(down2)

    flags = {"astronomical": astro, "shift": shift, "trend": trend, "two_of_three": two3}
    names = np.array(list(flags))
    stacked = np.column_stack([flags[k] for k in names]).reshape(yv.size, len(names))
    sided = astro | shift | two3
    dir_num = np.where(sided, side, np.where(trend, trend_dir, 0.0))

    out = pd.DataFrame({k: np.zeros(m, dtype=bool) for k in flags})
    for k, v in flags.items():
        out.loc[ok, k] = v
    rule = np.full(m, "", dtype=object)
    rule[ok] = ["; ".join(names[row]) for row in stacked]
    direction = np.full(m, "", dtype=object)
    direction[ok] = np.where(dir_num > 0, "high", np.where(dir_num < 0, "low", ""))
    out["rule"] = rule
    out["direction"] = direction
    if isinstance(values, pd.Series):
        out.index = values.index
    return out


def variation_reading(
    chart: pd.DataFrame,
    *,
    higher_is_worse: bool = True,
    value_col: str = "rate",
) -> str:
    """NHS "Making Data Count" variation category of the latest point of a chart.

    ``chart`` is a frame with ``value_col``, ``cl``, ``lcl``, ``ucl`` and optionally ``lcl_95``,
    ``ucl_95`` and ``part`` (e.g. the output of :func:`p_chart`). The rules of :func:`mdc_rules` are
    evaluated on the latest part only (the current process after any re-basing), and the reading is
    taken from the latest non-missing point:

    * ``'common_cause'`` if no MDC rule flags that point;
    * otherwise special cause, whose side is the point's ``direction``: 'high' is
      ``'special_cause_concerning'`` when ``higher_is_worse`` and ``'special_cause_improving'`` when
      not, and conversely for 'low'.

    Because a shift, trend or two-of-three pattern flags every point of the pattern, "the latest point
    is flagged" means the latest point is beyond 3 sigma or closes a run of >= 7 points on one side,
    a run of >= 7 rising/falling points, or a 2-of-3 pattern beyond 2 sigma. No usable point gives
    ``'common_cause'``.
    """
    df = chart
    if "part" in df.columns and len(df):
        df = df[df["part"] == df["part"].iloc[-1]]
    values = df[value_col].to_numpy(dtype=float)
    if not np.any(~np.isnan(values)):
        return "common_cause"
    rules = mdc_rules(
        values,
        df["cl"].to_numpy(dtype=float),
        df["lcl"].to_numpy(dtype=float),
        df["ucl"].to_numpy(dtype=float),
        df["lcl_95"].to_numpy(dtype=float) if "lcl_95" in df else None,
        df["ucl_95"].to_numpy(dtype=float) if "ucl_95" in df else None,
    )
    last = int(np.flatnonzero(~np.isnan(values))[-1])
    direction = rules["direction"].iloc[last]
    if rules["rule"].iloc[last] == "" or direction == "":
        return "common_cause"
    worse = (direction == "high") == higher_is_worse
    return "special_cause_concerning" if worse else "special_cause_improving"


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


# --------------------------------------------------------------------------------------------------
# 4. CUSUM
# --------------------------------------------------------------------------------------------------


def _cusum_weights(p: np.ndarray, odds_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Steiner et al. (2000) log-likelihood-ratio scores for an event / a non-event at risk p."""
    log_den = np.log(1.0 - p + odds_ratio * p)
    return math.log(odds_ratio) - log_den, -log_den


def cusum_arl(threshold: float, p0: float, odds_ratio: float = 2.0, *, n_states: int = 1500) -> float:
    """In-control average run length of a Bernoulli CUSUM (Markov-chain approximation).

    Brook & Evans (1972) Markov chain on ``n_states`` grid points 0, d, ..., h - d (d = h/n_states)
    for S in [0, h): from each grid point the two possible next values max(0, S + W) are split
    between their two neighbouring grid points in proportion to distance (this keeps the mean step
    exact; values in the top cell stay on the top grid point), S >= h is absorbing. The ARL from
    S = 0 solves (I - Q) L = 1 (sparse). Deterministic; exact whenever both steps are multiples of d.
    """
    if threshold <= 0:
        raise ValueError("threshold must be > 0")
    if not 0.0 < p0 < 1.0:
        raise ValueError("p0 must be strictly between 0 and 1")
    if odds_ratio <= 0 or odds_ratio == 1:
        raise ValueError("odds_ratio must be > 0 and != 1")
    w1, w0 = (float(v) for v in _cusum_weights(np.array(p0), odds_ratio))
    m = int(n_states)
    d = threshold / m
    grid = np.arange(m) * d
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for w, prob in ((w1, p0), (w0, 1.0 - p0)):
        v = np.maximum(grid + w, 0.0)
        inside = v < threshold
        u = v / d
        j = np.minimum(np.floor(u), m - 1)
        frac = np.where(j >= m - 1, 0.0, u - j)
        src = np.flatnonzero(inside)
        jj = j[inside].astype(int)
        ff = frac[inside]
        rows += [src, src]
        cols += [jj, np.minimum(jj + 1, m - 1)]
        vals += [prob * (1.0 - ff), prob * ff]
    q = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
    system = (sparse.identity(m, format="csc") - q).tocsc()
    arl = spsolve(system, np.ones(m))
    return float(arl[0])


class CusumTooRare(ValueError):
    """No threshold reaches the requested in-control ARL: the event is rarer than 1 / ARL0."""


def cusum_threshold(
    p0: float,
    odds_ratio: float = 2.0,
    arl0: float = DEFAULT_CUSUM_ARL0,
    *,
    n_states: int = 1500,
) -> float:
    """Threshold h giving an in-control ARL of ``arl0`` observations (root of cusum_arl(h) = arl0).

    Uses :func:`cusum_arl` (deterministic Markov-chain approximation) and Brent's method on log ARL.
    For risk-adjusted charts pass the average expected risk as ``p0``; the in-control ARL then holds
    only approximately because it depends on the mix of risks.
    """
    if arl0 <= 1:
        raise ValueError("arl0 must be > 1")

    def f(h: float) -> float:
        return math.log(cusum_arl(h, p0, odds_ratio, n_states=n_states)) - math.log(arl0)

    lo, hi = 1e-3, 1.0
    if f(lo) > 0:
        raise CusumTooRare(
            f"an event with risk {p0:.3g} is too rare for a CUSUM with an in-control average run length of "
            f"{arl0:g}: even the lowest threshold, where every event signals, gives a longer run length (about "
            f"1/p = {1 / p0:,.0f}); review each event on its own instead")
    while f(hi) < 0:
        lo, hi = hi, hi * 2.0
        if hi > 1e3:
            raise ValueError("could not bracket the threshold")
    return float(brentq(f, lo, hi, xtol=1e-6))


def cusum_path(weight: ArrayLike, threshold: float, *, reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(S_t, signal_t) of a CUSUM from its weights W_t: S_t = max(0, S_{t-1} + W_t), signal when S_t >= h, restart
    from 0 after a signal when `reset`. For charts whose weights are summed outside, e.g. per treatment day."""
    w = _as_float(weight)
    return _cusum_path(w, np.zeros(w.size, dtype=bool), float(threshold), reset)


def _cusum_path(weight: np.ndarray, missing: np.ndarray, threshold: float, reset: bool,
                chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """S_t = max(0, S_{t-1} + W_t) without a Python loop per observation.

    Page's identity: from S_0, S_t = D_t - min(0, min_{k<=t} D_k) with D_t = S_0 + W_1 + ... + W_t. The series is
    computed a block at a time from the running value; after a signal (with reset) the next block starts at 0 at
    the following observation. The loop runs once per block or signal, not once per observation."""
    n = weight.size
    s = np.zeros(n)
    signal = np.zeros(n, dtype=bool)
    start, level = 0, 0.0
    while start < n:
        stop = min(start + chunk, n)
        d = level + np.cumsum(weight[start:stop])
        path = np.maximum(d - np.minimum(np.minimum.accumulate(d), 0.0), 0.0)
        hit = (path >= threshold) & ~missing[start:stop]
        if reset and hit.any():
            first = int(np.argmax(hit))
            s[start:start + first + 1] = path[: first + 1]
            signal[start + first] = True
            start, level = start + first + 1, 0.0
            continue
        s[start:stop] = path
        signal[start:stop] = hit
        start, level = stop, float(path[-1])
    return s, signal


def bernoulli_cusum(
    outcomes: ArrayLike,
    p0: float,
    *,
    odds_ratio: float = 2.0,
    threshold: float | None = None,
    expected: ArrayLike | None = None,
    reset: bool = True,
) -> pd.DataFrame:
    """Bernoulli (risk-adjusted) CUSUM, Steiner, Cook, Farewell & Treasure (2000).

    Weight of observation t with outcome y_t (1 = adverse event) and expected risk p_t:
    ``W_t = y_t log(R) - log(1 - p_t + R p_t)`` with R = ``odds_ratio`` (R > 1 detects a rise in
    the odds of an event, R < 1 a fall). p_t = ``expected[t]`` when given, else ``p0`` for every
    observation (then this is the plain Bernoulli CUSUM). ``S_t = max(0, S_{t-1} + W_t)``, S_0 = 0;
    ``signal`` when S_t >= h; with ``reset`` the chart restarts from 0 after a signal (the reported
    ``cusum`` is the value that signalled).

    Default threshold: ``cusum_threshold(p, odds_ratio, DEFAULT_CUSUM_ARL0)`` - an in-control
    average run length of 1000 observations - with p = ``p0``, or the mean expected risk when
    ``expected`` is given (approximate for a risk-adjusted chart). Missing outcomes (nan) are skipped:
    weight 0, S carried over, no signal.

    Returns a frame with ``outcome, expected, weight, cusum, threshold, signal``.
    """
    y = _as_float(outcomes)
    if np.any(~np.isin(y[~np.isnan(y)], (0.0, 1.0))):
        raise ValueError("outcomes must be 0/1 (or nan)")
    if not 0.0 < p0 < 1.0:
        raise ValueError("p0 must be strictly between 0 and 1")
    if odds_ratio <= 0 or odds_ratio == 1:
        raise ValueError("odds_ratio must be > 0 and != 1")
    p = np.full(y.shape, float(p0)) if expected is None else _as_float(expected).copy()
    if p.shape != y.shape:
        raise ValueError("expected must have one risk per outcome")
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("expected risks must be strictly between 0 and 1")
    if threshold is None:
        threshold = cusum_threshold(float(p0 if expected is None else p.mean()), odds_ratio)
    w_event, w_none = _cusum_weights(p, odds_ratio)
    missing = np.isnan(y)
    weight = np.where(missing, 0.0, np.where(y == 1.0, w_event, w_none))
    s, signal = _cusum_path(weight, missing, float(threshold), reset)
    out = pd.DataFrame(
        {"outcome": y, "expected": p, "weight": weight, "cusum": s, "threshold": float(threshold), "signal": signal}
    )
    if isinstance(outcomes, pd.Series):
        out.index = outcomes.index
    return out
