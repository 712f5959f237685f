"""Control charts over time: p and Laney p' charts (qicharts2), Anhoej run rules, NHS Making Data Count rules
and the variation reading."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import binom as _binom

from pipelines.stats._common import _as_float, _check_counts

__all__ = ['anhoej_rules', 'p_chart', 'g_chart', 'mdc_rules', 'variation_reading', 'assurance_reading', 'MDC_RUN_LENGTH',
           'ASSURANCE_READINGS']

MDC_RUN_LENGTH = 7  # NHS "Making Data Count": 7 points for a shift and for a trend
# NHS "Making Data Count" assurance icons: the target against the process limits
ASSURANCE_READINGS = ("consistently_meets", "consistently_fails", "hit_and_miss")


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


_RUN_COUNTS = ("n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min")


def _empty_runs(m: int) -> dict[str, np.ndarray]:
    """Per point, the run-rule summary of its part (anhoej_rules' keys), filled part by part."""
    return {k: np.empty(m, dtype=object) for k in (*_RUN_COUNTS, "runs_signal")}


def _with_runs(out: pd.DataFrame, runs: dict[str, np.ndarray]) -> pd.DataFrame:
    """The run-rule columns added to a chart frame: counts as nullable integers (missing without a useful point)."""
    for k in _RUN_COUNTS:
        out[k] = pd.array([pd.NA if v is None else int(v) for v in runs[k]], dtype="Int64")
    out["runs_signal"] = runs["runs_signal"].astype(bool)
    return out


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
    runs = _empty_runs(m)
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
    return _with_runs(out, runs)


def g_chart(values: ArrayLike, *, parts: ArrayLike | None = None) -> pd.DataFrame:
    """g-chart of the opportunities between rare events (Benneyan 2001), matching qicharts2 0.8.1 ``qic.g``.

    ``values``: one number per event, in event order: the opportunities (here: followed-up sessions without the
    event) since the previous event. Per part (``parts`` = 0-based indices where a new part starts):

    * the limits come from the mean m of the part's values (a geometric distribution, Montgomery p. 319):
      sigma = sqrt(m (m + 1)); ``ucl`` = m + 3 sigma, ``ucl_95`` = m + 2 sigma; ``lcl`` = m - 3 sigma and
      ``lcl_95`` = m - 2 sigma, floored at 0 (for a geometric count m - 3 sigma is always below 0);
    * the centre line ``cl`` is the part's median (the data are skewed; qicharts2 draws the median);
    * ``sigma_signal``: a value strictly above ``ucl`` (or below a positive ``lcl``): an unusually long run of
      sessions without the event;
    * the Anhoej run rules (:func:`anhoej_rules`) against the median, the summary repeated on each row of the part:
      a long run below the median means events coming closer together.

    Missing values are not counted (nan limits when a part has none)."""
    y = _as_float(values)
    if y.ndim != 1:
        raise ValueError("values must be 1-d")
    if np.any(y[~np.isnan(y)] < 0):
        raise ValueError("the values of a g-chart are counts of sessions between events: none may be negative")
    m = y.size
    part = _part_labels(parts, m)
    cl = np.full(m, np.nan)
    mean = np.full(m, np.nan)
    runs = _empty_runs(m)
    for p in np.unique(part):
        idx = np.flatnonzero(part == p)
        known = y[idx][~np.isnan(y[idx])]
        centre_mean = float(known.mean()) if known.size else np.nan
        median = float(np.median(known)) if known.size else np.nan
        mean[idx] = centre_mean
        cl[idx] = median
        rules = anhoej_rules(y[idx], median)
        for k in runs:
            runs[k][idx] = rules[k]
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(mean * (mean + 1.0))
        ucl, ucl95 = mean + 3.0 * sd, mean + 2.0 * sd
        lcl, lcl95 = np.maximum(mean - 3.0 * sd, 0.0), np.maximum(mean - 2.0 * sd, 0.0)
        sigma_signal = (y > ucl) | (y < lcl)
    out = pd.DataFrame({"value": y, "mean": mean, "cl": cl, "lcl": lcl, "ucl": ucl, "lcl_95": lcl95,
                        "ucl_95": ucl95, "sigma_signal": sigma_signal, "part": part})
    return _with_runs(out, runs)


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



def assurance_reading(
    chart: pd.DataFrame,
    target: float | None,
    *,
    higher_is_worse: bool = True,
) -> str:
    """NHS "Making Data Count" assurance of a target, from the process limits of a chart's latest point.

    ``chart`` is a frame with ``lcl``, ``ucl`` (e.g. :func:`p_chart` output) and optionally ``part``; only the
    latest part counts (the current process after any re-basing), and the limits read are those of its latest
    point with finite limits (a p-chart's limits vary with each period's n; the latest are the process as it runs
    now). As NHSRplotthedots (``ptd_calculate_assurance_type``), with strict inequalities:

    * ``'consistently_meets'``: the whole process lies on the good side of the target: the target is above the
      upper limit when higher is worse (below the lower limit when higher is better);
    * ``'consistently_fails'``: the whole process lies on the bad side: the target is below the lower limit when
      higher is worse (above the upper limit when higher is better);
    * ``'hit_and_miss'``: the target lies between the limits (or on one): the process will meet it some periods
      and miss it in others by common-cause variation alone; only a change to the process makes it reliable.

    No target (None / nan) or no point with finite limits gives ``''``.
    """
    if target is None or not np.isfinite(float(target)):
        return ""
    df = chart
    if "part" in df.columns and len(df):
        df = df[df["part"] == df["part"].iloc[-1]]
    lcl = df["lcl"].to_numpy(dtype=float) if len(df) else np.zeros(0)
    ucl = df["ucl"].to_numpy(dtype=float) if len(df) else np.zeros(0)
    ok = np.flatnonzero(np.isfinite(lcl) & np.isfinite(ucl))
    if ok.size == 0:
        return ""
    low, high, t = float(lcl[ok[-1]]), float(ucl[ok[-1]]), float(target)
    above, below = t > high, t < low
    if higher_is_worse:
        return "consistently_meets" if above else "consistently_fails" if below else "hit_and_miss"
    return "consistently_meets" if below else "consistently_fails" if above else "hit_and_miss"
