"""Small cells in the views of roles without session-level access (the manager; docs/security.md).

The doctor (case review) and the auditor / admin (record export) see sessions anyway; for them nothing here applies
(`min_sessions` = 0). For the others every view is made of cells of at least MIN_SESSIONS sessions, the release
rule's minimum denominator (10; pipelines/release/disclosure.py takes its defaults from here):

1. **Cells.** A cell is every figure about one group of sessions in one period: a month or quarter of a control
   chart or rate chart (a sparkline point too), a month of costs, a row of a breakdown or cost table, a clinician's
   point in a funnel or O/E chart, a span of a clinician's CUSUM, a KPI over the selected period. A cell whose
   sessions (its `sessions` column: the rate's denominator, the primary treatments of a cost row, the sessions
   measured for a mean) number fewer than MIN_SESSIONS is **hidden**: no rate, no numerator, no denominator, no
   interval or limit, no signal. Its values become missing and `is_hidden` is True; pages write "fewer than 10
   sessions" and charts do not draw it.
2. **Complementary cells.** The cells of one series add up to a total the manager also sees (the KPI over the
   period, the clinic rate beside a funnel), so total minus the visible cells would give the hidden ones back.
   The hidden cells of a series must together cover either no session or at least MIN_SESSIONS in every session
   column; until they do, the smallest visible cell is hidden too.
3. **Statistics from visible cells only.** A control chart's centre line, limits and run rules, and a funnel's
   target and overdispersion are computed without the hidden cells (pipelines/metrics/analysis.py, pipelines/metrics/signals.py),
   so nothing drawn depends on a hidden cell's count. A clinician's CUSUM is shown at the end of spans of whole
   months holding at least MIN_SESSIONS of their sessions (signals.cusum_spans).
4. **Numerators.** An event count of 1-4 among 10 or more sessions *is* shown to the manager: inside the clinic it
   is the clinic's own quality figure (2 ptosis cases among 40 sessions in March). The release rule, which also
   hides numerators 1-4 and rounds, is for aggregates that leave the clinic (pipelines/release/disclosure.py).

Limits: the rule protects each view on its own. Two views that differ by one month, clinician or filter value
(January-June minus January-May, all clinicians minus all but one) can still give a small cell by subtraction.
The manager works inside the clinic, signs in and is logged (pipelines/release/access.py); what leaves the clinic follows
the release rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


# The smallest cell anyone outside the case-review roles may see, and the release rule's defaults
# (pipelines/release/disclosure.py reads them from here: the release stage builds on the metrics stage).
MIN_SESSIONS = 10  # fewer sessions (a denominator under 10) identify too few people
MIN_EVENTS = 5  # a released numerator of 1-4 identifies too few people
HIDDEN = "is_hidden"

# counting.rates / counting.counts frames: the rate's sessions first (a cell is small when it is under the minimum);
# complementary cells keep the hidden rate sessions and the hidden sessions of any kind (closed or still open)
# at 0 or at least the minimum
RATE_SESSIONS: tuple[str | tuple[str, ...], ...] = ("denominator_n", ("eligible_n", "awaiting_n"))
RATE_COUNTS = ("eligible_n", "followed_up_n", "event_n", "awaiting_n", "numerator_n", "denominator_n",
               "crude_event_n")
RATE_VALUES = (*RATE_COUNTS, "rate", "ci_low", "ci_high", "crude_rate", "followup_completeness")


def _column(frame: pd.DataFrame, spec: str | tuple[str, ...]) -> pd.Series:
    if isinstance(spec, str):
        return pd.to_numeric(frame[spec], errors="coerce").fillna(0).astype(float)
    return sum((_column(frame, s) for s in spec), pd.Series(0.0, index=frame.index))


def hidden_cells(frame: pd.DataFrame, sessions: Sequence[str | tuple[str, ...]], *, series: Sequence[str] = (),
                 min_sessions: int = MIN_SESSIONS) -> pd.Series:
    """Which rows of `frame` are hidden (a boolean Series on its index).

    `sessions`: the session columns of a cell; the first one decides whether a cell is small (fewer than
    `min_sessions`). Each entry is a column or a tuple of columns that are added up. `series`: the columns naming
    one series (e.g. ["metric"]); the cells of a series are one margin for the complementary step (rule 2 of the
    module docstring): the hidden cells of each series cover 0 or at least `min_sessions` sessions in every
    `sessions` column. `min_sessions` <= 0 hides nothing."""
    hidden = pd.Series(False, index=frame.index)
    if min_sessions <= 0 or frame.empty:
        return hidden
    values = [_column(frame, s) for s in sessions]
    hidden = values[0] < min_sessions
    keys = list(series)
    groups = [frame.index] if not keys else list(frame.groupby(keys[0] if len(keys) == 1 else keys, sort=False,
                                                               dropna=False).groups.values())
    for idx in groups:
        idx = list(idx)
        while True:
            short = [v for v in values if 0 < float(v[idx][hidden[idx]].sum()) < min_sessions]
            visible = [i for i in idx if not hidden[i]]
            if not short or not visible:
                break
            smallest = min(visible, key=lambda i: (float(values[0][i]), idx.index(i)))
            hidden[smallest] = True
    return hidden


def blank(frame: pd.DataFrame, hidden: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """A copy with `columns` missing (NaN) in the hidden rows and the `is_hidden` column."""
    out = frame.copy()
    mask = hidden.reindex(out.index, fill_value=False).to_numpy(dtype=bool)
    for c in columns:
        if c in out and mask.any():
            if out[c].dtype == bool or out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
                out[c] = out[c].astype(object).where(~mask, None)
            else:
                out[c] = out[c].astype(float).where(~mask, np.nan)
    out[HIDDEN] = mask
    return out


def hide_small_cells(frame: pd.DataFrame, *, sessions: Sequence[str | tuple[str, ...]], hide: Sequence[str],
                     series: Sequence[str] = (), min_sessions: int = MIN_SESSIONS) -> pd.DataFrame:
    """The suppression for roles without session-level access: `frame` with the cells of fewer than
    `min_sessions` sessions hidden, and their complementary cells (hidden_cells). The `hide` columns become missing
    in hidden rows; `is_hidden` says which rows. With `min_sessions` <= 0 (doctor, auditor, admin) only the
    `is_hidden` column (all False) is added."""
    return blank(frame, hidden_cells(frame, sessions, series=series, min_sessions=min_sessions), hide)


def hide_rates(frame: pd.DataFrame, *, series: Sequence[str] = ("metric",),
               min_sessions: int = MIN_SESSIONS) -> pd.DataFrame:
    """hide_small_cells for a counting.rates frame: a cell is small when its rate's denominator is; every count,
    the rate, its interval, the crude rate and the completeness are hidden with it."""
    return hide_small_cells(frame, sessions=RATE_SESSIONS, hide=RATE_VALUES, series=series,
                            min_sessions=min_sessions)


def rates(con, outcome_keys=None, *, min_sessions: int = 0, **kwargs) -> pd.DataFrame:
    """counting.rates with the small cells hidden (min_sessions = MIN_SESSIONS for roles without session-level
    access, 0 for the others). The series are per outcome, and per other stratum when the rates are by period."""
    from pipelines.metrics import counting

    frame = counting.rates(con, outcome_keys, **kwargs)
    by = kwargs.get("by", ())
    by = [by] if isinstance(by, str) else list(by)
    series = ["metric", *by] if kwargs.get("period") else ["metric"]
    return hide_rates(frame, series=series, min_sessions=min_sessions)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not hidden (all rows of a frame without `is_hidden`)."""
    if HIDDEN not in frame:
        return frame
    return frame[~frame[HIDDEN].astype(bool)]


# --------------------------------------------------------------------------------------------------------------
# Headache and sweating (pipelines/metrics/responses.py frames)
# --------------------------------------------------------------------------------------------------------------

CHANGE_SESSIONS: tuple[str, ...] = ("measured_n", "eligible_n")
CHANGE_VALUES = ("eligible_n", "measured_n", "lost_n", "responders_n", "baseline_mean", "follow_up_mean",
                 "change_mean", "change_sd", "change_low", "change_high", "pct_change_mean", "pct_change_median")


def headache_change(con, *, min_sessions: int = 0, **kwargs) -> pd.DataFrame:
    """responses.headache_change with the small cells hidden: an indication (and period) whose mean change comes
    from fewer than `min_sessions` measured sessions has no count and no mean; complementary cells per indication
    across periods."""
    from pipelines.metrics import responses

    frame = responses.headache_change(con, **kwargs)
    return hide_small_cells(frame, sessions=CHANGE_SESSIONS, hide=CHANGE_VALUES, series=["indication"],
                            min_sessions=min_sessions)


def hide_distribution(frame: pd.DataFrame, *, measured: pd.Series, group: str | None = None,
                      min_sessions: int = MIN_SESSIONS) -> pd.DataFrame:
    """A distribution of sessions over bins (one row per bin, `sessions_n`; per `group` value when given) as one
    cell per group: a bin count among the group's sessions is a numerator, shown when the group has at least
    `min_sessions` measured sessions (`measured`: True for the rows of bins with a value); otherwise every
    `sessions_n` of the group is missing and `is_hidden` is True."""
    if min_sessions <= 0 or frame.empty:
        return blank(frame, pd.Series(False, index=frame.index), [])
    keys = frame[group] if group else pd.Series("", index=frame.index)
    per_group = frame["sessions_n"].where(measured, 0).groupby(keys).transform("sum")
    return blank(frame, per_group < min_sessions, ["sessions_n"])


def headache_change_distribution(con, *, min_sessions: int = 0, **kwargs) -> pd.DataFrame:
    """responses.headache_change_distribution, hidden per indication with fewer than `min_sessions` measured
    sessions (hide_distribution)."""
    from pipelines.metrics import responses

    frame = responses.headache_change_distribution(con, **kwargs)
    return hide_distribution(frame, measured=frame["bin_start"].notna(), group="indication",
                             min_sessions=min_sessions)


def hdss_change(con, *, min_sessions: int = 0, **kwargs) -> pd.DataFrame:
    """responses.hdss_change, hidden when fewer than `min_sessions` sessions have an HDSS pair
    (hide_distribution)."""
    from pipelines.metrics import responses

    frame = responses.hdss_change(con, **kwargs)
    return hide_distribution(frame, measured=frame["hdss_drop"].notna(), min_sessions=min_sessions)
