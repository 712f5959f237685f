"""Metric frames: counts from pipelines.metrics.counting put through pipelines.stats. The exports and the dashboard both
read these, so a chart and its CSV always show the same numbers. Every interval a view shows comes in these frames
(the dashboard's pages and charts never call pipelines.stats: tests/test_architecture.py).

- spc():       one outcome over time, p or Laney p' chart, Anhoej run rules and the NHS "Making Data Count" rules;
- g_chart():   a rare outcome as sessions between events (is_rare: a monthly chart would expect under one a month);
- funnel():    one outcome by clinician against the clinic rate, with limits by the chosen method;
- completeness(), variation_reading(): follow-up completeness with its interval, an spc frame's MDC reading;
- periods_closed(), mark_low_completeness(): which periods may be judged (every window closed), and which periods
  or clinicians have too little follow-up for their rate to be trusted (`is_low_completeness`);
- case_mix():  observed / expected per clinician after indirect standardisation against the other clinicians
               (leave-one-out, the whole clinic as reference whatever the filters), with a funnel of ratios;
- cusum():     a risk-adjusted Bernoulli CUSUM per clinician, per session, from risks known on the treatment day;
- signals():   every place where one of the above fired, newest first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math

import duckdb
import numpy as np
import pandas as pd

from pipelines import stats
from pipelines.metrics import changes, counting, registry, small_cells
from pipelines.metrics.counting import Filters

FUNNEL_METHODS = ("arcsine", "exact", "normal")
OVERDISPERSION = ("auto", "on", "off")
CHARTS = ("p", "pp")  # period charts; the g-chart (one point per event) is g_chart()
RULE_SETS = ("anhoej", "mdc")
CUSUM_ODDS_RATIO = 2.0  # the chart looks for a doubling of the odds of the event
# In-control average run length (sessions) that sets the CUSUM threshold. The list watches one chart per clinician
# for each outcome the registry watches per clinician (5 x 10 in the demo). 10,000 sessions keeps the whole list
# within its false-alarm budget (one concerning episode a quarter in an in-control clinic of the demo's size: 8.8
# in 36 months measured) while a tripled eyelid-ptosis rate of one clinician is listed in a median 4.7 months and
# a doubled one in 8.3 (docs/signal-budget.md, tests/benchmarks/signal_budget.py). The chart updates once per
# session, so this is the run length the threshold (stats.cusum_threshold, in observations) is computed for.
CUSUM_ARL0 = 10_000.0
# case-mix risks are shrunk towards the others' overall rate by this many pseudo-sessions (CUSUM and O/E alike)
CUSUM_SHRINK_SESSIONS = 20
CASE_MIX_SHRINK_SESSIONS = CUSUM_SHRINK_SESSIONS
# a CUSUM point needs a reference (other clinicians' sessions closed by its treatment day) holding at least this many
# events and this many sessions without the event: the reference rate is then known to about +-1/sqrt(20) = 22 %
CUSUM_MIN_REFERENCE_EVENTS = 20

PERIOD_FREQ = {"week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}
MIN_POINTS_FOR_READING = 6  # an spc frame's Making Data Count reading needs this many periods with a rate
# the methods' settings as pipelines.stats applies them, for the texts that explain them (the dashboard's About page)
MDC_RUN_LENGTH = stats.MDC_RUN_LENGTH
FUNNEL_Z95 = stats.FUNNEL_Z95
FUNNEL_Z998 = stats.FUNNEL_Z998
# Follow-up completeness below this share marks a period or clinician `is_low_completeness`: the rate among
# followed-up sessions is least reliable there (those followed up may not be like those who were not). The export's
# --min-completeness and the dashboard's [clinic] min_completeness secret change it (check_min_completeness).
LOW_COMPLETENESS_BELOW = 0.60


def check_min_completeness(value: object, name: str = "min_completeness") -> float:
    """The low-completeness threshold as a share from 0 to 1 (ValueError saying how to write it otherwise)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if number and 0 <= float(value) <= 1:
        return float(value)
    shown = f"{float(value):g}" if number else repr(value)
    hint = f" ({float(value) / 100:g} for {shown} %?)" if number and 1 < float(value) <= 100 else ""
    raise ValueError(f"{name} must be a share from 0 to 1, e.g. 0.6 to mark follow-up completeness below 60 % "
                     f"as low; got {shown}{hint}")


def mark_low_completeness(frame: pd.DataFrame, below: float | None = LOW_COMPLETENESS_BELOW) -> pd.DataFrame:
    """The frame with `is_low_completeness`: True where follow-up completeness (followed_up_n / eligible_n, or the
    frame's followup_completeness) is known and strictly below `below` (5 of 10 followed up is low at 0.6, 6 of 10
    is not). False where it is unknown (no session due a follow-up, a hidden cell) and everywhere when `below` is
    None (an outcome that needs no follow-up)."""
    out = frame.copy()
    if below is None or out.empty:
        out["is_low_completeness"] = pd.Series(False, index=out.index, dtype=bool)
        return out
    if "followup_completeness" in out:
        share = pd.to_numeric(out["followup_completeness"], errors="coerce").to_numpy(dtype=float)
    else:
        elig = pd.to_numeric(out["eligible_n"], errors="coerce").to_numpy(dtype=float)
        fu = pd.to_numeric(out["followed_up_n"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(elig > 0, fu / np.where(elig > 0, elig, 1), np.nan)
    with np.errstate(invalid="ignore"):
        # a hair of tolerance: 6 / 10 is exactly the threshold 0.6, never "below" it through rounding
        out["is_low_completeness"] = np.isfinite(share) & (share < float(below) - 1e-12)
    return out


def period_end(start: dt.date, period: str) -> dt.date:
    """The last day of the period starting on `start` (a week from its Monday, a month, quarter or year)."""
    following = pd.Timestamp(start) + pd.tseries.frequencies.to_offset(PERIOD_FREQ[period])
    return following.date() - dt.timedelta(days=1)


def longest_close_days(outcome_key: str) -> int:
    """Days after treatment by which every session's window of the outcome has closed: its close_days, or the
    longest of its windows by indication (an indication's window closes at its end or the reporting limit)."""
    o = registry.get(outcome_key)
    by_indication = [max(w[1], o.reported_within_days or 0) for w in o.window_days_by_indication.values()]
    return max([o.close_days, *by_indication])


def periods_closed(period_starts, outcome_key: str, period: str, as_of: dt.date,
                   date_to: dt.date | None = None) -> np.ndarray:
    """Which periods may be judged: True when every session the period can hold has its window closed at `as_of`,
    i.e. the period's last day (or `date_to`, the last treatment date counted, when earlier) plus the outcome's
    longest close (longest_close_days) is on or before `as_of`. The newest month of a 28-day outcome, with only its
    first days' windows closed, is not: its rate is of those first days only and would be judged against months
    of whole sessions."""
    close = dt.timedelta(days=longest_close_days(outcome_key))
    out = []
    for start in period_starts:
        last = period_end(pd.Timestamp(start).date(), period)
        if date_to is not None:
            last = min(last, date_to)
        out.append(last + close <= as_of)
    return np.array(out, dtype=bool)


def with_period_closed(frame: pd.DataFrame, outcome_key: str, period: str, as_of: dt.date,
                       filters: Filters = Filters()) -> pd.DataFrame:
    """A counts-by-period frame (full_periods) with its `period_closed` column (periods_closed)."""
    return frame.assign(period_closed=periods_closed(frame["period_start"], outcome_key, period, as_of,
                                                     filters.date_to))


def full_periods(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """All periods from the first to the last with a counted session; missing ones get zero counts."""
    have = frame[frame["denominator_n"] > 0]
    if have.empty:
        return frame.iloc[0:0]
    first, last = min(have["period_start"]), max(have["period_start"])
    periods = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq=PERIOD_FREQ[period]).date
    full = pd.DataFrame({"period_start": periods})
    merged = full.merge(frame.drop(columns=["metric"]), on="period_start", how="left")
    for c in counting.COUNT_COLUMNS:
        merged[c] = merged[c].fillna(0).astype("int64")
    return merged


def spc(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    period: str = "month",
    chart: str = "p",
    freeze: int | None = None,
    parts: list[int] | None = None,
    part_starts: list[dt.date] | None = None,
    rules: str = "anhoej",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    min_sessions: int = 0,
    low_completeness_below: float | None = LOW_COMPLETENESS_BELOW,
) -> pd.DataFrame:
    """Control chart of one outcome by treatment period (only closed windows count).

    Only closed periods are judged (`period_closed`, periods_closed): a period where some session's window is
    still open at the as-of date is drawn with its rate so far, but adds nothing to the centre line, the limits,
    the run rules or Laney's sigma, and no rule fires on it (spc_from_counts).
    `part_starts`: dates of process changes (e.g. a product switch); the chart is re-based from the first period
    starting on or after each date: its own centre line, limits and run rules. None (the default): the re-basing
    changes of the `process_changes` table that concern this chart (changes.part_starts); [] for none.
    `min_sessions` > 0 (roles without session-level access): periods of fewer sessions are hidden, with their
    complementary periods, and left out of the chart's statistics (spc_hiding_small).
    `low_completeness_below`: periods with less follow-up are `is_low_completeness` (mark_low_completeness)."""
    if chart not in CHARTS:
        raise ValueError(f"chart must be one of {', '.join(CHARTS)}")
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}")
    as_of = as_of or counting.default_as_of(con)
    counted = counting.counts(con, outcome_key, period=period, filters=filters, as_of=as_of)
    frame = with_period_closed(full_periods(counted, period), outcome_key, period, as_of, filters)
    if part_starts is None:  # the re-basing process changes of the data (pipelines/metrics/changes.py)
        part_starts = changes.part_starts(con, outcome_key, filters)
    if part_starts and not frame.empty:
        parts = sorted(set(parts or []) | set(changes.period_of_part_starts(frame["period_start"], part_starts)))
    return spc_hiding_small(frame, min_sessions, chart=chart, freeze=freeze, parts=parts, rules=rules,
                            higher_is_better=registry.get(outcome_key).higher_is_better,
                            low_completeness_below=completeness_threshold(outcome_key, low_completeness_below))


# the g-chart's columns (export spc --chart g): one row per event, in treatment order
G_COLUMNS = ["event_date", "sessions_between", "cl", "lcl", "ucl", "part", "sigma_signal", "runs_signal",
             "n_useful", "longest_run", "longest_run_max", "crossings", "crossings_min"]


def g_chart(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    part_starts: list[dt.date] | None = None,
) -> pd.DataFrame:
    """g-chart of one outcome: one row per event, in treatment-date order (sessions of the same day by
    treatment_id), among the outcome's denominator sessions (closed window, followed up: counting.session_outcomes).

    `sessions_between`: the denominator sessions without the event since the previous event (for the first event,
    since the first session counted); `event_date`: the treatment date of the session with the event. Limits and
    rules as qicharts2's g-chart (stats.g_chart): limits from the mean, the median as centre line, Anhoej's run
    rules against it. Unlike qicharts2's vignette (x - lag(x), which counts the event's own session), the count
    here holds only the sessions without the event (Benneyan's g: the number of non-events before each event).
    `part_starts`: dates of re-basing process changes (None: those of the process_changes table concerning the
    chart); a new part starts at the first event treated on or after each. `sessions_since_last` (attrs): the
    sessions without the event after the last one (the open gap, not a point)."""
    as_of = as_of or counting.default_as_of(con)
    sessions = counting.session_outcomes(con, outcome_key, filters=filters, as_of=as_of)
    is_event = sessions["in_numerator"].astype(bool).to_numpy()
    without_before = np.cumsum(~is_event) - (~is_event)  # sessions without the event before each session
    at_events = without_before[is_event]
    between = np.diff(np.r_[0, at_events]).astype(float)
    dates = list(sessions.loc[is_event, "treated_on"])
    if part_starts is None:
        part_starts = changes.part_starts(con, outcome_key, filters)
    parts = changes.period_of_part_starts(dates, part_starts) if part_starts and dates else None
    chart = stats.g_chart(between, parts=parts)
    out = pd.DataFrame({"event_date": dates, "sessions_between": between.astype("int64")})
    for c in G_COLUMNS[2:]:
        out[c] = chart[c].to_numpy()
    out = out.reindex(columns=G_COLUMNS)
    out.attrs["sessions_since_last"] = int((~is_event).sum() - (at_events[-1] if at_events.size else 0))
    out.attrs["sessions_n"] = int(len(sessions))
    return out


def is_rare(frame: pd.DataFrame) -> bool:
    """Whether a monthly (period) chart of this outcome would expect fewer than one event per period: its latest
    part's centre line times the mean sessions of its closed periods with sessions is below 1. Then most periods
    hold no event, the p-chart's lower limit is 0 and one event crosses its upper limit: a g-chart of the sessions
    between events says more (analysis.g_chart). An spc frame (spc()); False when nothing is closed."""
    if frame is None or frame.empty:
        return False
    f = frame[frame["part"] == frame["part"].iloc[-1]] if "part" in frame else frame
    if "period_closed" in f:
        f = f[f["period_closed"].astype(bool)]
    f = f[f["denominator_n"] > 0]
    if f.empty or not np.isfinite(float(f["cl"].iloc[-1])):
        return False
    return float(f["cl"].iloc[-1]) * float(f["denominator_n"].mean()) < 1.0


SPC_HIDDEN = (*small_cells.RATE_VALUES, "lcl", "ucl", "lcl_95", "ucl_95")
SPC_FLAGS = ("sigma_signal", "astronomical", "shift", "trend", "two_of_three", "signal")
SPC_TEXTS = ("mdc_rule", "direction", "signal_rules")
# every column that says a rule fired: never True on a period that is not closed (spc_from_counts)
SPC_RULE_FLAGS = ("sigma_signal", "runs_signal", "astronomical", "shift", "trend", "two_of_three", "signal")


def spc_hiding_small(frame: pd.DataFrame, min_sessions: int = 0, **kwargs) -> pd.DataFrame:
    """spc_from_counts for a view with small cells hidden (pipelines/metrics/small_cells.py): the hidden periods
    (fewer than `min_sessions` sessions in the rate, and their complementary periods) enter the chart as periods
    without sessions, so the centre line, limits and run rules come from the visible periods only; in the result
    their counts, rate, limits and completeness are missing, they carry no signal, and `is_hidden` is True.
    `min_sessions` <= 0: exactly spc_from_counts (no `is_hidden` column: the exports read this frame)."""
    if min_sessions <= 0:
        return spc_from_counts(frame, **kwargs)
    hidden = small_cells.hidden_cells(frame, small_cells.RATE_SESSIONS, min_sessions=min_sessions)
    counts = frame.copy()
    if hidden.any():
        for c in counting.COUNT_COLUMNS:
            if c in counts:
                counts.loc[hidden, c] = 0
    out = spc_from_counts(counts, **kwargs)
    if out.empty:
        return out.assign(**{small_cells.HIDDEN: pd.Series(dtype=bool)})
    hidden = pd.Series(hidden.to_numpy(), index=out.index)
    out = small_cells.blank(out, hidden, SPC_HIDDEN)
    for c in SPC_FLAGS:
        out[c] = out[c].astype(bool) & ~hidden
    for c in SPC_TEXTS:
        out[c] = out[c].where(~hidden, "")
    out["is_low_completeness"] = out["is_low_completeness"].astype(bool) & ~hidden
    return out


def spc_from_counts(frame: pd.DataFrame, *, chart: str = "p", freeze: int | None = None,
                    parts: list[int] | None = None, rules: str = "anhoej",
                    higher_is_better: bool = False,
                    low_completeness_below: float | None = LOW_COMPLETENESS_BELOW) -> pd.DataFrame:
    """The control chart of a counts-by-period frame.

    A `period_closed` column (with_period_closed; all True without it) says which periods are judged. A period
    not closed enters the chart as a period without sessions, so the centre line, the limits, the run rules, the
    Making Data Count rules and Laney's sigma come from the closed periods only; in the result it keeps its counts
    and rate (drawn apart, as incomplete), has no limits, and no rule column (SPC_RULE_FLAGS) is True on it."""
    if frame.empty:
        return pd.DataFrame(columns=["period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl",
                                     "sigma_signal", "runs_signal", "signal", "signal_rules", "period_closed",
                                     "is_low_completeness"])
    frame = frame.reset_index(drop=True)
    closed = (frame["period_closed"].astype(bool).to_numpy() if "period_closed" in frame
              else np.ones(len(frame), dtype=bool))
    num = frame["numerator_n"].to_numpy(dtype=float)
    den = frame["denominator_n"].to_numpy(dtype=float)
    pc = stats.p_chart(np.where(closed, num, 0.0), np.where(closed, den, 0.0), chart=chart, freeze=freeze,
                       parts=parts)
    out = pd.concat([frame[["period_start", "eligible_n", "followed_up_n", "event_n", "awaiting_n"]],
                     pc.reset_index(drop=True)], axis=1)
    # the MDC rules, like the Anhoej rules, look at each part (the process after a change) on its own
    mdc = pd.concat([stats.mdc_rules(g["rate"], g["cl"], g["lcl"], g["ucl"], g["lcl_95"], g["ucl_95"])
                     for _, g in pc.reset_index(drop=True).groupby("part", sort=True)]).sort_index()
    for c in ("astronomical", "shift", "trend", "two_of_three"):
        out[c] = mdc[c].to_numpy()
    out["mdc_rule"] = mdc["rule"].to_numpy()
    out["direction"] = mdc["direction"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["followup_completeness"] = np.where(out["eligible_n"] > 0, out["followed_up_n"] / out["eligible_n"],
                                                np.nan)
    if rules == "mdc":
        out["signal"] = out["mdc_rule"] != ""
        out["signal_rules"] = out["mdc_rule"]
    else:
        texts = []
        for r in out.itertuples():
            fired = []
            if r.sigma_signal:
                fired.append("outside 3-sigma limits")
            if r.runs_signal:
                if pd.notna(r.longest_run) and pd.notna(r.longest_run_max) and r.longest_run > r.longest_run_max:
                    fired.append(f"Anhoej: longest run {r.longest_run} > {r.longest_run_max}")
                if pd.notna(r.crossings) and pd.notna(r.crossings_min) and r.crossings < r.crossings_min:
                    fired.append(f"Anhoej: {r.crossings} crossings < {r.crossings_min}")
            texts.append("; ".join(fired))
        out["signal_rules"] = texts
        out["signal"] = out["signal_rules"] != ""
    out["period_closed"] = closed
    if not closed.all():
        open_ = ~closed
        out["numerator_n"] = num
        out["denominator_n"] = den
        with np.errstate(divide="ignore", invalid="ignore"):
            out.loc[open_, "rate"] = np.where(den[open_] > 0, num[open_] / np.where(den[open_] > 0, den[open_], 1),
                                              np.nan)
        for c in SPC_RULE_FLAGS:
            out[c] = out[c].astype(bool) & closed
        for c in SPC_TEXTS:
            out[c] = out[c].where(closed, "")
    return mark_low_completeness(out, low_completeness_below)


def variation_reading(frame: pd.DataFrame, *, higher_is_better: bool = False) -> str:
    """The Making Data Count reading of an spc frame's latest closed period ("common_cause",
    "special_cause_concerning", "special_cause_improving"); "" with fewer than MIN_POINTS_FOR_READING closed
    periods with a rate. A period not closed (`period_closed` False) is never read."""
    if "period_closed" in frame:
        frame = frame[frame["period_closed"].astype(bool)]
    if frame.empty or frame["rate"].notna().sum() < MIN_POINTS_FOR_READING:
        return ""
    return stats.variation_reading(frame, higher_is_worse=not higher_is_better)


def completeness(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    period: str = "month",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Follow-up completeness of one outcome per period as a rate frame: numerator_n = sessions followed up,
    denominator_n = sessions due a follow-up (eligible_n), rate = their ratio, with its Wilson interval (ci_low,
    ci_high). Only periods with a session due a follow-up."""
    frame = counting.rates(con, outcome_key, period=period, filters=filters, as_of=as_of)
    frame = frame[frame["eligible_n"] > 0]
    low, high = stats.wilson_interval(frame["followed_up_n"].to_numpy(float), frame["eligible_n"].to_numpy(float),
                                      confidence)
    return frame.assign(numerator_n=frame["followed_up_n"], denominator_n=frame["eligible_n"],
                        rate=frame["followup_completeness"], ci_low=low, ci_high=high
                        ).drop(columns=["followup_completeness"])


def funnel(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    method: str = "arcsine",
    overdispersion: str = "auto",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    min_sessions: int = 0,
    low_completeness_below: float | None = LOW_COMPLETENESS_BELOW,
    by: str = "clinician",
) -> tuple[pd.DataFrame, dict]:
    """Funnel plot data: one row per clinician with a denominator, limits at 95 % and 99.8 %, and the clinician's
    rate with its Wilson 95 % interval (ci_low, ci_high), follow-up completeness and `is_low_completeness`.
    `min_sessions` > 0: see funnel_from_counts.

    `by`: the unit of the funnel, one of FUNNEL_BY (clinician, lot, product); the frame's first column is named
    after it. Sessions without a value (no lot recorded) are no unit and are left out."""
    if by not in FUNNEL_BY:
        raise ValueError(f"a funnel is by one of {', '.join(FUNNEL_BY)}, not `{by}`")
    if method not in FUNNEL_METHODS:
        raise ValueError(f"method must be one of {', '.join(FUNNEL_METHODS)}")
    if overdispersion not in OVERDISPERSION:
        raise ValueError(f"overdispersion must be one of {', '.join(OVERDISPERSION)}")
    counted = counting.counts(con, outcome_key, by=by, filters=filters, as_of=as_of)
    if by == "clinician":
        return funnel_from_counts(counted, method, overdispersion, min_sessions=min_sessions,
                                  low_completeness_below=completeness_threshold(outcome_key, low_completeness_below))
    # the funnel's code names its unit `clinician`: another unit goes through under that name and back
    counted = counted[counted[by].notna()].rename(columns={by: "clinician"}).reset_index(drop=True)
    frame, info = funnel_from_counts(counted, method, overdispersion, min_sessions=min_sessions,
                                     low_completeness_below=completeness_threshold(outcome_key,
                                                                                   low_completeness_below))
    return frame.rename(columns={"clinician": by}), info


FUNNEL_BY = ("clinician", "lot", "product")  # the units a funnel compares (export funnel --by)


def completeness_threshold(outcome_key: str, below: float | None = LOW_COMPLETENESS_BELOW) -> float | None:
    """`below` for an outcome that needs a follow-up; None (nothing is ever low) for one that does not."""
    return below if registry.get(outcome_key).needs_follow_up else None


# With fewer clinicians than this, an outlier can hide by inflating the overdispersion it is judged by: the funnel's
# target and overdispersion then come from the clinicians a leave-one-out first pass does not flag
# (stats.funnel_proportions_robust); FunnelPlotR's own flag stays beside it (`flag_funnelplotr`).
FUNNEL_ROBUST_BELOW_UNITS = 20
FUNNEL_SESSIONS = ("denominator_n",)  # a clinician's cell: the sessions in their rate (the table's "Sessions")


def funnel_from_counts(counted: pd.DataFrame, method: str = "arcsine",
                       overdispersion: str = "auto", *, min_sessions: int = 0,
                       low_completeness_below: float | None = LOW_COMPLETENESS_BELOW
                       ) -> tuple[pd.DataFrame, dict]:
    """The funnel of one outcome from its counts by clinician (counting.counts(..., by="clinician")), each
    clinician with their follow-up completeness and `is_low_completeness` (mark_low_completeness; the funnel's
    limits do not depend on it).

    An outcome with no event at all among the clinicians (or only events) has no funnel: there is no clinic rate
    strictly between 0 and 1 to draw limits around. It comes back as an empty frame with a NaN target.

    `min_sessions` > 0 (roles without session-level access, pipelines/metrics/small_cells.py): clinicians with fewer
    sessions in their rate, and their complementary cells, are left out of the funnel (target, overdispersion and
    limits come from the others) and come back as rows with only their code and `is_hidden` True."""
    counted = counted[counted["denominator_n"] > 0].reset_index(drop=True)
    hidden = small_cells.hidden_cells(counted, FUNNEL_SESSIONS, min_sessions=min_sessions)
    out, info = _funnel(counted[~hidden].reset_index(drop=True), method, overdispersion)
    out = mark_low_completeness(out, low_completeness_below)
    if min_sessions <= 0:
        return out, info
    if out.empty:
        return out.assign(**{small_cells.HIDDEN: pd.Series(dtype=bool)}), info
    rest = pd.DataFrame({"clinician": counted.loc[hidden, "clinician"].to_numpy()})
    out = pd.concat([out.assign(**{small_cells.HIDDEN: False}), rest.assign(**{small_cells.HIDDEN: True})],
                    ignore_index=True)
    out = out.sort_values("clinician", kind="stable").reset_index(drop=True)
    for c in ("flag", "flag_95"):
        if c in out:
            out[c] = out[c].astype(object).where(~out[small_cells.HIDDEN], "")
    out["is_low_completeness"] = out["is_low_completeness"].fillna(False).astype(bool) & ~out[small_cells.HIDDEN]
    return out, info


def _funnel(counted: pd.DataFrame, method: str, overdispersion: str) -> tuple[pd.DataFrame, dict]:
    empty_info = {"phi": np.nan, "tau2": np.nan, "method": method, "overdispersion_applied": False,
                  "target": np.nan}
    events, total = counted["numerator_n"].sum(), counted["denominator_n"].sum()
    if counted.empty or events == 0 or events == total:
        return counted.iloc[0:0].assign(rate=[], ci_low=[], ci_high=[], target=[], flag=[],
                                        followup_completeness=[]), empty_info
    if len(counted) < FUNNEL_ROBUST_BELOW_UNITS:
        frame, info = stats.funnel_proportions_robust(counted["numerator_n"], counted["denominator_n"],
                                                      method=method, overdispersion=overdispersion)
        info["excluded"] = [str(counted["clinician"].iloc[i]) for i in info["excluded"]]
    else:
        frame, info = stats.funnel_proportions(counted["numerator_n"], counted["denominator_n"], method=method,
                                               overdispersion=overdispersion)
        frame["flag_funnelplotr"], frame["flag_95_funnelplotr"] = frame["flag"], frame["flag_95"]
        info.update({"excluded": [], "phi_funnelplotr": info["phi"], "tau2_funnelplotr": info["tau2"],
                     "target_funnelplotr": info["target"]})
    out = pd.concat([counted[["clinician", "eligible_n", "followed_up_n", "event_n"]],
                     frame.reset_index(drop=True)], axis=1)
    elig = out["eligible_n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["followup_completeness"] = np.where(elig > 0, out["followed_up_n"] / np.where(elig > 0, elig, 1),
                                                np.nan)
    # each clinician's own rate with its Wilson 95 % interval, as in the rates frames (the table and hover show it)
    out["ci_low"], out["ci_high"] = stats.wilson_interval(out["numerator_n"].to_numpy(float),
                                                          out["denominator_n"].to_numpy(float))
    out["phi"] = info["phi"]
    out["tau2"] = info["tau2"]
    out["method"] = method
    out["overdispersion_applied"] = info["overdispersion_applied"]
    return out, info


def funnel_curve(info: dict, max_n: int, method: str) -> pd.DataFrame:
    """Limit lines for drawing a funnel from n = 1 to max_n."""
    if not np.isfinite(info.get("target", np.nan)):
        return pd.DataFrame(columns=["denominator_n", "lcl_95", "ucl_95", "lcl_998", "ucl_998"])
    n = np.unique(np.round(np.geomspace(1, max(max_n, 2) * 1.05, 200)))
    tau2 = info["tau2"] if info.get("overdispersion_applied") else 0.0
    return stats.funnel_limit_curve(info["target"], n, method=method, tau2=tau2)


def _without_clinicians(filters: Filters) -> Filters:
    return dataclasses.replace(filters, clinicians=())


def reference_outliers(con: duckdb.DuckDBPyConnection, outcome_key: str, *, filters: Filters = Filters(),
                       as_of: dt.date | None = None) -> tuple[str, ...]:
    """The clinicians left out of everyone's case-mix reference: those whose leave-one-out O/E over the whole clinic
    (the date range of `filters`; the other filters do not apply) lies outside the exact Poisson 99.8 % limits, high
    or low (first pass, without overdispersion). One clinician far from the rest would otherwise move every
    colleague's expected count: a clinician at 3.5 times the risk pushes everyone else's O/E well below 1, which
    in turn widens the overdispersion allowance until the outlier itself is no longer flagged."""
    first = counting.expected_by_clinician(con, outcome_key, shrink_sessions=CASE_MIX_SHRINK_SESSIONS,
                                           filters=counting.reference_filters(filters), as_of=as_of)
    usable = first[first["expected_n"] > 0]
    if len(usable) < 2:
        return ()
    fr, _ = stats.funnel_ratios(usable["numerator_n"], usable["expected_n"], method="SHMI", limit=99,
                                overdispersion="off")
    return tuple(usable.loc[fr["flag"].isin(["high", "low"]).to_numpy(), "clinician"])


def _ratio_funnel(observed: np.ndarray, expected: np.ndarray, outlier: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The funnel of standardised ratios (FunnelPlotR's SHMI method, flags at 99.8 %, overdispersion "auto") with
    its overdispersion (phi, tau2) estimated from the units that are not `outlier`: with ten clinicians the SHMI
    truncation leaves one outlier in, and its own z would widen the limits until it is inside them. Limits are
    exp(-/+ z sqrt(1/E + tau2)) where tau2 > 0 (E rounded to 2 decimals, as FunnelPlotR), else exact Poisson."""
    if not outlier.any() or (~outlier).sum() < 2:
        return stats.funnel_ratios(observed, expected, method="SHMI", limit=99)
    _, info = stats.funnel_ratios(observed[~outlier], expected[~outlier], method="SHMI", limit=99)
    frame, _ = stats.funnel_ratios(observed, expected, method="SHMI", limit=99, overdispersion="off")
    if info["overdispersion_applied"]:
        e = np.round(expected, 2)
        for level, z in (("95", FUNNEL_Z95), ("998", FUNNEL_Z998)):
            half = z * np.sqrt(1.0 / e + info["tau2"])
            frame[f"lcl_{level}"], frame[f"ucl_{level}"] = np.exp(-half), np.exp(half)
    ratio = frame["ratio"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        frame["flag"] = np.where(ratio > frame["ucl_998"], "high",
                                 np.where(ratio < frame["lcl_998"], "low", "")).astype(object)
    return frame, {**info, "n_units": int(observed.size)}


def case_mix(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    confidence: float = 0.95,
    min_sessions: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Observed / expected per clinician (indirect standardisation) with an exact Poisson interval and a funnel of
    standardised ratios (FunnelPlotR's SHMI method, flags at 99.8 %).

    The expected count of a clinician compares them with the rest of the clinic (counting.expected_by_clinician):
    the reference is every clinician's sessions within the date range (the other filters only choose whose
    counts are reported), the clinician is left out of their own reference (leave-one-out), small case-mix strata
    are shrunk towards the others' overall rate by CASE_MIX_SHRINK_SESSIONS pseudo-sessions, and clinicians found
    far from the rest in a first pass (reference_outliers) are left out of every reference. The funnel of ratios
    is drawn over every clinician passing the filters other than the clinician filter, which then picks the rows:
    a clinician's ratio, interval and flag are the same filtered or not.

    `min_sessions` > 0 (roles without session-level access, pipelines/metrics/small_cells.py): clinicians with fewer
    sessions, and their complementary cells, have no observed, expected, ratio, interval or flag (`is_hidden`
    True), and the funnel of ratios is computed without them. info["excluded"]: the clinicians left out of the
    reference; the funnel's overdispersion is estimated without them (_ratio_funnel)."""
    excluded = reference_outliers(con, outcome_key, filters=filters, as_of=as_of)
    frame = counting.expected_by_clinician(con, outcome_key, shrink_sessions=CASE_MIX_SHRINK_SESSIONS,
                                           filters=_without_clinicians(filters), as_of=as_of, exclude=excluded)
    frame = frame.rename(columns={"numerator_n": "observed_n"})
    if frame.empty:
        return frame, {}
    hidden = small_cells.hidden_cells(frame, FUNNEL_SESSIONS, min_sessions=min_sessions)
    ratio, low, high = stats.observed_expected(frame["observed_n"], frame["expected_n"], confidence)
    frame["oe_ratio"], frame["oe_low"], frame["oe_high"] = ratio, low, high
    usable = (frame["expected_n"] > 0) & ~hidden
    info: dict = {}
    if usable.sum() >= 2:
        fr, info = _ratio_funnel(frame.loc[usable, "observed_n"].to_numpy(float),
                                 frame.loc[usable, "expected_n"].to_numpy(float),
                                 frame.loc[usable, "clinician"].isin(excluded).to_numpy())
        for c in ("lcl_95", "ucl_95", "lcl_998", "ucl_998", "flag"):
            frame.loc[usable, c] = fr[c].to_numpy()
    frame["flag"] = frame.get("flag", pd.Series("", index=frame.index)).fillna("")
    info = {**info, "excluded": excluded}
    if min_sessions > 0:
        frame = small_cells.blank(frame, hidden, ["observed_n", "expected_n", "denominator_n", "oe_ratio", "oe_low",
                                                     "oe_high", "lcl_95", "ucl_95", "lcl_998", "ucl_998"])
        frame["flag"] = frame["flag"].where(~hidden, "")
    if filters.clinicians:
        frame = frame[frame["clinician"].isin(filters.clinicians)].reset_index(drop=True)
    return frame, info


CUSUM_COLUMNS = ["clinician", "treated_on", "outcome", "expected", "sessions_n", "weight", "cusum", "threshold",
                 "signal"]


def cusum(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    odds_ratio: float = CUSUM_ODDS_RATIO,
    arl0: float = CUSUM_ARL0,
    min_reference_events: int = CUSUM_MIN_REFERENCE_EVENTS,
) -> pd.DataFrame:
    """Risk-adjusted Bernoulli CUSUM per clinician (Steiner et al. 2000), updated once per session.

    Expected risks (counting.cusum_risks) use only what was known on the treatment day: the rate of the session's
    case-mix stratum (indication x areas x product x first/repeat) among the OTHER clinicians' sessions whose
    windows had closed by that day, shrunk towards their overall rate by CUSUM_SHRINK_SESSIONS pseudo-sessions.
    The reference is the whole clinic within the date range: the other filters only choose whose sessions are
    charted, so a clinician's chart is the same filtered or not, and sessions added later never change a point
    already drawn. Sessions before the reference holds `min_reference_events` events (and as many non-events) are
    not charted. See cusum_from_risks for the chart itself.

    One row per charted session: clinician, treated_on, outcome (0/1), expected (its risk), sessions_n (1: a point
    is a session), weight, cusum, threshold, signal. Raises stats.CusumTooRare for an event too rare for the
    in-control run length."""
    risks = counting.cusum_risks(con, outcome_key, shrink_sessions=CUSUM_SHRINK_SESSIONS,
                                 min_reference_events=min_reference_events, filters=filters, as_of=as_of)
    return cusum_from_risks(risks, odds_ratio, arl0)


def cusum_from_risks(risks: pd.DataFrame, odds_ratio: float = CUSUM_ODDS_RATIO,
                     arl0: float = CUSUM_ARL0) -> pd.DataFrame:
    """The CUSUM of sessions in chart order (risks: clinician, treated_on, y, expected; rows ordered by clinician,
    treatment day and treatment_id, as counting.cusum_risks gives them).

    Per session W = y ln R - ln(1 - p + R p), R = `odds_ratio`, p its expected risk; S = max(0, S_previous + W),
    one update per session in treatment order (sessions of one day in the order of their treatment_id). The
    threshold at a session is stats.cusum_threshold for the clinician's mean expected risk over their sessions so
    far (this one included; interpolated as threshold_for does), for an in-control average run length of `arl0`
    sessions; it depends on nothing later. A signal is S >= threshold; the chart then restarts from 0, so a lasting
    problem signals again. Raises stats.CusumTooRare when a clinician's mean risk over all their sessions is too
    rare for any threshold; an earlier point whose running mean is too rare gets the lowest threshold (every event
    signals), which is what "too rare" means."""
    if risks.empty:
        return pd.DataFrame(columns=CUSUM_COLUMNS)
    column = risks["clinician"]
    numbered = pd.factorize(column, sort=True)[0] if isinstance(column.dtype, pd.StringDtype) else None
    if numbered is not None and (numbered >= 0).all():
        # by clinician, keeping each one's sessions in chart order: a stable sort of the codes numbered in sorted
        # order (the order of the strings themselves), and the column taken in that order without a Python
        # object per session
        order = np.argsort(numbered, kind="stable")
        clinicians = column.array.take(order)
        starts = np.flatnonzero(np.r_[True, numbered[order][1:] != numbered[order][:-1]])
    else:
        objects = column.to_numpy(dtype=object)
        order = np.argsort(objects, kind="stable")  # by clinician, keeping each one's sessions in chart order
        clinicians = objects[order]
        starts = np.flatnonzero(np.r_[True, clinicians[1:] != clinicians[:-1]])
    p = risks["expected"].to_numpy(dtype=float)[order]
    y = risks["y"].to_numpy(dtype=float)[order]
    weight = y * np.log(odds_ratio) - np.log(1.0 - p + odds_ratio * p)
    path, signal, thresholds = np.empty(p.size), np.zeros(p.size, dtype=bool), np.empty(p.size)
    for a, b in zip(starts, np.r_[starts[1:], p.size], strict=True):
        running = np.cumsum(p[a:b]) / np.arange(1, b - a + 1)
        threshold_for(float(running[-1]), odds_ratio, arl0)  # the clinician's chart as a whole: CusumTooRare
        thresholds[a:b] = thresholds_for(running, odds_ratio, arl0)
        path[a:b], signal[a:b] = stats.cusum_path(weight[a:b], thresholds[a:b])
    return pd.DataFrame({"clinician": clinicians, "treated_on": risks["treated_on"].to_numpy()[order], "outcome": y,
                         "expected": p, "sessions_n": np.ones(p.size, dtype="int64"), "weight": weight,
                         "cusum": path, "threshold": thresholds, "signal": signal})[CUSUM_COLUMNS]


THRESHOLD_GRID_STEP = 1.1  # thresholds are computed at risks 1.1^k (k < 0) and interpolated in log risk in between


def threshold_for(mean_risk: float, odds_ratio: float = CUSUM_ODDS_RATIO, arl0: float = CUSUM_ARL0) -> float:
    """The CUSUM threshold (stats.cusum_threshold) for a clinician's mean expected risk, interpolated linearly in
    log risk between the two neighbouring risks of the grid THRESHOLD_GRID_STEP^k: h is smooth in log p (it moves
    by about 0.08 across one 10 % step), and the few grid points a clinic needs are computed once each (stats
    takes ~0.1 s per threshold). Risks above the top grid point (1 / 1.1) take its threshold. Raises
    stats.CusumTooRare when the event is too rare for any threshold to reach the in-control ARL at the grid point
    below the risk."""
    h = _interpolated(np.array([float(mean_risk)]), float(odds_ratio), float(arl0))[0]
    if not np.isfinite(h):
        _threshold_at(_grid_index(np.array([float(mean_risk)]))[0][0], float(odds_ratio), float(arl0))  # raises
    return float(h)


LOWEST_THRESHOLD = 1e-3  # stats.cusum_threshold's lower bracket: every event signals


def thresholds_for(mean_risks, odds_ratio: float = CUSUM_ODDS_RATIO, arl0: float = CUSUM_ARL0) -> np.ndarray:
    """threshold_for of each value (vectorised: each grid point computed once); a value too rare for any threshold
    gets LOWEST_THRESHOLD (every event signals) instead of raising."""
    out = _interpolated(np.asarray(mean_risks, dtype=float), float(odds_ratio), float(arl0))
    return np.where(np.isfinite(out), out, LOWEST_THRESHOLD)


def _grid_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, fraction): value = STEP^(k + fraction), with k + 1 <= -1 (values above the top grid point: k = -2,
    fraction 1)."""
    if np.any(~((values > 0) & (values < 1))):
        raise ValueError("expected risks must be strictly between 0 and 1")
    x = np.minimum(np.log(values) / math.log(THRESHOLD_GRID_STEP), -1.0)
    k = np.minimum(np.floor(x), -2).astype(np.int64)
    return k, x - k


def _interpolated(values: np.ndarray, odds_ratio: float, arl0: float) -> np.ndarray:
    """Thresholds by the grid; NaN where the grid point below is too rare (stats.CusumTooRare)."""
    k, fraction = _grid_index(values)
    needed = np.unique(np.concatenate([k, k + 1]))
    grid = np.empty(needed.size)
    for i, j in enumerate(needed):
        try:
            grid[i] = _threshold_at(int(j), odds_ratio, arl0)
        except stats.CusumTooRare:
            grid[i] = np.nan
    low, high = grid[np.searchsorted(needed, k)], grid[np.searchsorted(needed, k + 1)]
    # never below one event's weight: there every event would signal, a run length of 1/p, shorter than arl0 for
    # any risk that is not too rare (near 1/arl0 the exact threshold sits just above that weight)
    one_event = math.log(odds_ratio) - np.log(1.0 - values + odds_ratio * values)
    return np.maximum(low + (high - low) * fraction, one_event + 1e-9)


@functools.lru_cache(maxsize=4096)
def _threshold_at(k: int, odds_ratio: float, arl0: float) -> float:
    return stats.cusum_threshold(THRESHOLD_GRID_STEP ** k, odds_ratio, arl0)


CUSUM_RECENT_DAYS = 90


def cusum_status(chart: pd.DataFrame) -> pd.DataFrame:
    """Per clinician: the current CUSUM value against its threshold, signals so far and the latest one.

    cusum_status: 'signal' when the latest signal lies within CUSUM_RECENT_DAYS of the newest session charted,
    'watch' when the CUSUM now stands at half its threshold or more, else 'in control' (older signals are counted
    in signals_n: after a signal the chart restarts from 0)."""
    if chart.empty:
        return pd.DataFrame(columns=["clinician", "cusum_now", "threshold", "signals_n", "last_signal_on",
                                     "cusum_status"])
    g = chart.groupby("clinician", sort=True)
    out = pd.DataFrame({
        "cusum_now": g["cusum"].last(),
        "threshold": g["threshold"].last(),
        "signals_n": g["signal"].sum().astype(int),
    })
    last = chart[chart["signal"].astype(bool)].groupby("clinician")["treated_on"].max()
    out["last_signal_on"] = last.reindex(out.index).astype(object).where(last.reindex(out.index).notna(), None)
    out = out.reset_index()
    newest = max(chart["treated_on"])
    recent = out["last_signal_on"].map(
        lambda d: d is not None and (newest - d).days <= CUSUM_RECENT_DAYS)
    out["cusum_status"] = np.where(recent, "signal",
                                   np.where(out["cusum_now"] >= 0.5 * out["threshold"], "watch", "in control"))
    return out


def cusum_provenance() -> dict[str, object]:
    """The CUSUM's settings as export provenance writes them (one source for the CLI and the dashboard)."""
    return {"odds_ratio": CUSUM_ODDS_RATIO, "in_control_arl": CUSUM_ARL0, "reset": "to 0 after each signal",
            "updated": "once per session, in treatment order (sessions of one day by treatment_id); one row per "
                       "session",
            "expected_risk": "case-mix stratum rate (indication x areas x product x first/repeat) among the other "
                             "clinicians' sessions whose windows had closed by the treatment day, shrunk towards "
                             f"their overall rate by {CUSUM_SHRINK_SESSIONS:g} pseudo-sessions; sessions start once "
                             f"that reference holds {CUSUM_MIN_REFERENCE_EVENTS} events and as many non-events",
            "threshold": "for the clinician's mean expected risk over the sessions so far (in-control average run "
                         "length in sessions)",
            "weight": "y ln(odds_ratio) - ln(1 - expected + odds_ratio x expected); cusum = max(0, previous cusum "
                      "+ weight), 0 again after a signal (cusum >= threshold)"}


def whole_months(filters: counting.Filters) -> counting.Filters:
    """The filters with their period widened to whole calendar months (from the first day of the month of
    `date_from` to the last day of the month of `date_to`). The views of roles without any session-level access
    use it (docs/security.md): a period of one day and one clinician would otherwise show that day's sessions
    as a rate, and no count they receive is tied to anything finer than a month."""
    start = filters.date_from.replace(day=1) if filters.date_from else None
    end = None
    if filters.date_to:
        end = (pd.Timestamp(filters.date_to) + pd.offsets.MonthEnd(0)).date()
    return dataclasses.replace(filters, date_from=start, date_to=end)
