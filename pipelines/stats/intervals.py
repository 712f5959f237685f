"""Confidence intervals for a proportion and for an observed/expected ratio (PHEindicatormethods, base R)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta as _beta
from scipy.stats import chi2 as _chi2
from scipy.stats import norm as _norm

from pipelines.stats._common import _as_float, _check_confidence, _check_counts, _maybe_scalar

__all__ = ['z_for_confidence', 'wilson_interval', 'wilson_cc_interval', 'clopper_pearson_interval', 'jeffreys_interval', 'observed_expected']


# --------------------------------------------------------------------------------------------------
# 1. confidence intervals for a proportion
# --------------------------------------------------------------------------------------------------


def z_for_confidence(confidence: float = 0.95) -> float:
    """Two-sided standard-normal quantile: ``z`` with P(-z < Z < z) = ``confidence``.

    ``z_for_confidence(0.95)`` = 1.959964..., ``z_for_confidence(0.998)`` = 3.090232...
    (R: ``qnorm((1 + confidence) / 2)``).
    """
    _check_confidence(confidence)
    return float(_norm.ppf((1.0 + confidence) / 2.0))



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

