"""Risk-adjusted Bernoulli CUSUM (Steiner et al. 2000): weights, paths, exact run lengths and thresholds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.optimize import brentq
from scipy.sparse.linalg import spsolve

from pipelines.stats._common import _as_float

__all__ = ['bernoulli_cusum', 'cusum_arl', 'cusum_threshold', 'cusum_path', 'CusumTooRare', 'DEFAULT_CUSUM_ARL0']

DEFAULT_CUSUM_ARL0 = 1000.0  # in-control average run length used when no CUSUM threshold is given


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


def cusum_path(weight: ArrayLike, threshold: float | ArrayLike, *,
               reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(S_t, signal_t) of a CUSUM from its weights W_t: S_t = max(0, S_{t-1} + W_t), signal when S_t >= h_t,
    restart from 0 after a signal when `reset`. `threshold`: one h for every observation, or one per observation
    (e.g. a threshold that follows the case mix seen so far)."""
    w = _as_float(weight)
    h = np.broadcast_to(_as_float(threshold), w.shape).astype(float)
    if np.any(~(h > 0)):
        raise ValueError("thresholds must be > 0")
    return _cusum_path(w, np.zeros(w.size, dtype=bool), h, reset)


def _cusum_path(weight: np.ndarray, missing: np.ndarray, threshold: float | np.ndarray, reset: bool,
                chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """S_t = max(0, S_{t-1} + W_t) without a Python loop per observation.

    Page's identity: from S_0, S_t = D_t - min(0, min_{k<=t} D_k) with D_t = S_0 + W_1 + ... + W_t. The series is
    computed a block at a time from the running value; after a signal (with reset) the next block starts at 0 at
    the following observation. The loop runs once per block or signal, not once per observation. `threshold`: a
    number or one per observation."""
    n = weight.size
    h = np.broadcast_to(np.asarray(threshold, dtype=float), (n,))
    s = np.zeros(n)
    signal = np.zeros(n, dtype=bool)
    start, level = 0, 0.0
    while start < n:
        stop = min(start + chunk, n)
        d = level + np.cumsum(weight[start:stop])
        path = np.maximum(d - np.minimum(np.minimum.accumulate(d), 0.0), 0.0)
        hit = (path >= h[start:stop]) & ~missing[start:stop]
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

