"""Signals grouped into episodes: what the doctor opens, one entry per problem, not one per flagged point.

A control chart that stays above its limit for three months flags three periods; a risk-adjusted CUSUM restarts
at 0 after each crossing and, while the excess lasts, crosses again some months later. Each is one problem. An
**episode** is:

- `spc` rules judged per period (`sigma`, `mdc_*`): consecutive flagged periods of one rule, outcome and side;
- `spc` run rules (`runs_longest`, `runs_crossings`): one per chart part (they are judged on the part as a whole);
- `funnel`: one per outcome, clinician and side (the funnel judges the whole period at once);
- `cusum`: the crossings of one clinician's chart for one outcome, each within `CUSUM_EPISODE_GAP_DAYS` of the one
  before: after a restart, a lasting excess crosses again within months (at a busy clinician's volume a doubled
  rate of a 2-3 % complication needs about 3-6 months); a crossing after a longer quiet spell is a new episode.

An episode row is its latest signal (every column of the signals list: value, limit, counts, ...) with
`first_date` (the first flagged date; for a run rule the start of the run), `last_date` and `signals_n`. The
overview and `export signals` count episodes.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

CUSUM_EPISODE_GAP_DAYS = 180
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
EXTRA_COLUMNS = ["first_date", "last_date", "signals_n"]
_PER_PERIOD = ("sigma",)


def _next_period(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day + dt.timedelta(days=7)
    months = day.year * 12 + day.month - 1 + PERIOD_MONTHS[period]
    return dt.date(months // 12, months % 12 + 1, 1)


def _per_period(rule: str) -> bool:
    return rule in _PER_PERIOD or rule.startswith("mdc_")


def _starts_new(kind: str, rule: str, previous: dt.date, day: dt.date, period: str) -> bool:
    """Whether a signal on `day` opens a new episode after one of the same chart on `previous`."""
    if kind == "cusum":
        return (day - previous).days > CUSUM_EPISODE_GAP_DAYS
    if kind == "spc" and _per_period(rule):
        return day > _next_period(previous, period)
    return kind == "spc"  # run rules: one per chart part; a funnel flag is one episode whatever its dates


def episodes(signal_rows: pd.DataFrame, period: str = "month") -> pd.DataFrame:
    """Episodes of a signals list (pipelines.metrics.signals.collect output), newest `last_date` first."""
    columns = [*signal_rows.columns, *EXTRA_COLUMNS] if signal_rows is not None else EXTRA_COLUMNS
    if signal_rows is None or signal_rows.empty:
        return pd.DataFrame(columns=columns)
    rows = signal_rows.copy()
    rows["on"] = pd.to_datetime(rows["on"]).dt.date
    rows["_start"] = [pd.Timestamp(s).date() if pd.notna(s) else on
                      for s, on in zip(rows.get("run_start", pd.Series(index=rows.index)), rows["on"])]
    rows["_clinician"] = rows["clinician"].fillna("")
    rows["_direction"] = rows["direction"].fillna("")
    out = []
    keys = ["kind", "rule", "outcome", "_clinician", "_direction"]
    for _, chart in rows.sort_values("on", kind="stable").groupby(keys, sort=False):
        current: list[pd.Series] = []
        for _, r in chart.iterrows():
            if current and _starts_new(r["kind"], r["rule"], current[-1]["on"], r["on"], period):
                out.append(_episode(current, signal_rows.columns))
                current = []
            current.append(r)
        if current:
            out.append(_episode(current, signal_rows.columns))
    frame = pd.DataFrame(out, columns=columns)
    frame["_clinician"] = frame["clinician"].fillna("")
    frame = frame.sort_values(["last_date", "kind", "outcome", "_clinician"], ascending=[False, True, True, True],
                              kind="stable")
    return frame.drop(columns="_clinician").reset_index(drop=True)


def _episode(signals: list[pd.Series], columns) -> dict:
    last = signals[-1]
    row = {c: last[c] for c in columns}
    row.update({"first_date": min(s["_start"] for s in signals), "last_date": last["on"],
                "signals_n": len(signals)})
    return row


__all__ = ["episodes", "EXTRA_COLUMNS", "CUSUM_EPISODE_GAP_DAYS"]
