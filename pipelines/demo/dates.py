"""Day arithmetic of the demo generator: dates as int64 days since 1970-01-01, the clinic's open days."""

from __future__ import annotations

import datetime as dt

import numpy as np


def to_day(d: dt.date | str) -> int:
    """A date (or ISO text) as days since 1970-01-01."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return (d - dt.date(1970, 1, 1)).days


def weekday(days: np.ndarray) -> np.ndarray:
    """Day of the week, Monday = 0."""
    return (days + 3) % 7  # Monday = 0 (1970-01-01 was a Thursday)


CLOSED_DAYS = ((1, 1), (5, 1), (5, 17), (12, 24), (12, 25), (12, 26), (12, 31))  # fixed Norwegian holidays


def is_open(days: np.ndarray) -> np.ndarray:
    """Is the clinic open on these days (a weekday that is not a fixed holiday)?"""
    if len(days) == 0:
        return np.zeros(0, dtype=bool)
    lo, hi = int(days.min()), int(days.max())
    span = np.arange(lo, hi + 1)
    month, dom = months_days(span)
    table = (weekday(span) < 5) & ~np.isin(month * 100 + dom, [m * 100 + d for m, d in CLOSED_DAYS])
    return table[days - lo]


def to_weekday(rng: np.random.Generator, days: np.ndarray, lo, hi) -> np.ndarray:
    """Move weekend / holiday dates to an open day within [lo, hi]: a random weekday of the same week if one is in
    range, else the nearest open day; a date with no open day in reach stays."""
    days = np.asarray(days, dtype=np.int64)
    out = days.copy()
    todo = ~is_open(days)
    lo = np.broadcast_to(lo, days.shape)
    hi = np.broadcast_to(hi, days.shape)
    idx = np.flatnonzero(todo)
    for _ in range(3):
        if len(idx) == 0:
            break
        cand = days[idx] - weekday(days[idx]) + rng.integers(0, 5, len(idx))
        ok = is_open(cand) & (cand >= lo[idx]) & (cand <= hi[idx])
        out[idx[ok]] = cand[ok]
        todo[idx[ok]] = False
        idx = idx[~ok]
    for delta in (-1, 1, -2, 2, 3, -3, 4, -4, 5, -5):
        if not todo.any():
            break
        cand = days + delta
        ok = todo & is_open(cand) & (cand >= lo) & (cand <= hi)
        out[ok] = cand[ok]
        todo &= ~ok
    return out


def years(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def months_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(month 1-12, day of month 1-31) of each day."""
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return month, dom

