"""The signals list: every outcome / clinician / period where a control-chart rule, a funnel limit or a CUSUM fired.

Sources (each from the same frames the charts and exports draw, pipelines/metrics/analysis.py):

- `spc` (clinic level, one outcome over time; p or p' chart; closed periods only, analysis.periods_closed):
  - `sigma`: a period outside the 3-sigma limits (one entry per period);
  - `runs_longest` / `runs_crossings`: Anhoej's run rules on the chart (one entry per chart part), dated at the
    end of the longest run (or at the last period for too few crossings);
  - `mdc_<rule>`: the NHS "Making Data Count" reading of the latest period is special cause (astronomical, shift,
    trend or two of three beyond 2 sigma); one entry per outcome, dated at the latest period. This is the entry
    behind a "special cause" icon on the overview;
- `funnel` (clinician against the clinic rate): outside the 99.8 % limit (`funnel_998`), dated at the end of the
  period analysed;
- `cusum` (risk-adjusted Bernoulli CUSUM per clinician): every crossing of the threshold (`cusum`).

`direction` is the side of the signal ('high' / 'low'); `concern` is True when that side is the worse one for the
outcome (all outcomes in the registry are adverse events, so 'high' is concerning unless `higher_is_better`).
A run-rule or Making Data Count entry has `detail_b = 'rare'` when the chart expects fewer than one event per
period: most periods are then empty and sit below the centre line, so such runs are what a rare event looks like.

The batched readers (`spc_frames`, `funnel_frames`) compute the counts of many outcomes in one DuckDB statement
and then apply exactly the per-outcome functions of pipelines.metrics.analysis / pipelines.stats, so their frames equal
`analysis.spc` / `analysis.funnel` (tests/test_signals.py checks it) at a fraction of the cost.

`case_review` is the paginated list of sessions behind a rate (pseudonymous references only).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from pipelines import stats
from pipelines.metrics import analysis, changes, counting, episodes, registry
from pipelines.metrics.counting import Filters
from pipelines.sqltext import ident

SIGNAL_COLUMNS = ["on", "kind", "rule", "outcome", "clinician", "period", "direction", "concern", "value",
                  "numerator_n", "denominator_n", "limit", "detail_a", "detail_b", "run_start"]
KINDS = ("spc", "funnel", "cusum")
MDC_RULES = ("astronomical", "shift", "trend", "two_of_three")
REVIEW_SETS = ("numerator", "denominator", "lost")


def _keys(outcome_keys) -> list[str]:
    if outcome_keys is None:
        return [o.key for o in registry.OUTCOMES]
    if isinstance(outcome_keys, str):
        return [outcome_keys]
    return [registry.get(k).key for k in outcome_keys]


# --------------------------------------------------------------------------------------------------------------
# Batched frames (same result as analysis.spc / analysis.funnel per outcome)
# --------------------------------------------------------------------------------------------------------------


def spc_frames(
    con: duckdb.DuckDBPyConnection,
    outcome_keys=None,
    *,
    period: str = "month",
    chart: str = "p",
    rules: str = "anhoej",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    min_sessions: int = 0,
    low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW,
) -> dict[str, pd.DataFrame]:
    """analysis.spc for many outcomes from one counting statement: {outcome key: spc frame} (`min_sessions`,
    `low_completeness_below`: as analysis.spc; periods not closed are not judged, `period_closed`)."""
    keys = _keys(outcome_keys)
    as_of = as_of or counting.default_as_of(con)
    counted = counting.counts(con, keys, period=period, filters=filters, as_of=as_of)
    process = changes.process_changes(con)  # re-basing changes start new parts, as in analysis.spc
    out = {}
    for key in keys:
        part = counted[counted["metric"] == key]
        frame = analysis.with_period_closed(analysis.full_periods(part, period), key, period, as_of, filters)
        parts = (changes.period_of_part_starts(frame["period_start"],
                                               changes.part_starts(con, key, filters, changes=process))
                 if not frame.empty else None)
        out[key] = analysis.spc_hiding_small(
            frame, min_sessions, chart=chart, rules=rules, parts=parts or None,
            higher_is_better=registry.get(key).higher_is_better,
            low_completeness_below=analysis.completeness_threshold(key, low_completeness_below))
    return out


def funnel_frames(
    con: duckdb.DuckDBPyConnection,
    outcome_keys=None,
    *,
    method: str = "arcsine",
    overdispersion: str = "auto",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    min_sessions: int = 0,
    low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """analysis.funnel for many outcomes from one counting statement: {outcome key: (frame, info)}.

    An outcome with no event at all (or only events) has no funnel: an empty frame and a NaN target (where
    analysis.funnel raises, since a funnel needs a target rate strictly between 0 and 1). `min_sessions`: as
    analysis.funnel_from_counts."""
    if method not in analysis.FUNNEL_METHODS:
        raise ValueError(f"method must be one of {', '.join(analysis.FUNNEL_METHODS)}")
    if overdispersion not in analysis.OVERDISPERSION:
        raise ValueError(f"overdispersion must be one of {', '.join(analysis.OVERDISPERSION)}")
    keys = _keys(outcome_keys)
    counted = counting.counts(con, keys, by="clinician", filters=filters, as_of=as_of)
    return {key: analysis.funnel_from_counts(
                counted[counted["metric"] == key], method, overdispersion, min_sessions=min_sessions,
                low_completeness_below=analysis.completeness_threshold(key, low_completeness_below))
            for key in keys}


def funnel(con: duckdb.DuckDBPyConnection, outcome_key: str, *, method: str = "arcsine",
           overdispersion: str = "auto", filters: Filters = Filters(),
           as_of: dt.date | None = None, min_sessions: int = 0,
           low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW) -> tuple[pd.DataFrame, dict]:
    """One outcome's funnel (as analysis.funnel, but an outcome without events gives an empty funnel)."""
    return funnel_frames(con, [outcome_key], method=method, overdispersion=overdispersion, filters=filters,
                         as_of=as_of, min_sessions=min_sessions,
                         low_completeness_below=low_completeness_below)[outcome_key]


def cusum(con: duckdb.DuckDBPyConnection, outcome_key: str, *, filters: Filters = Filters(),
          as_of: dt.date | None = None) -> tuple[pd.DataFrame, str]:
    """analysis.cusum, with the reason when it cannot be drawn: (frame, "") or (empty frame, reason).

    Reasons: "no_events" (no session to chart: none under the filters, or the other clinicians' sessions closed
    by then hold too few events, or too few without one, to say what to expect: analysis.CUSUM_MIN_REFERENCE_EVENTS)
    and "too_rare" (the event is so rare that the threshold for the in-control run length cannot be found:
    stats.CusumTooRare, when the expected risk is below about 1 / ARL0, i.e. one event alone would already be
    unusual)."""
    try:
        frame = analysis.cusum(con, outcome_key, filters=filters, as_of=as_of)
    except stats.CusumTooRare:
        return pd.DataFrame(columns=analysis.CUSUM_COLUMNS), "too_rare"
    if frame.empty:
        return frame, "no_events"
    return frame, ""


def cusum_daily(frame: pd.DataFrame) -> pd.DataFrame:
    """A CUSUM frame (analysis.cusum: one row per session, updated per session) reduced to one row per clinician
    and treatment day: the highest value the day's sessions reached, the threshold after the day's last session,
    whether any of them signalled, sessions and events. Small enough to chart years of sessions; the chart's point
    is a treatment day, its height the day's highest value."""
    columns = ["clinician", "treated_on", "cusum", "threshold", "signal", "sessions_n", "events_n", "cusum_end"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    g = frame.groupby(["clinician", "treated_on"], sort=True)
    # analysis.cusum has a row per session with sessions_n = 1; a frame without the column counts its rows
    sessions = g["sessions_n"].sum() if "sessions_n" in frame else g.size()
    out = pd.DataFrame({"cusum": g["cusum"].max(), "threshold": g["threshold"].last(), "signal": g["signal"].any(),
                        "sessions_n": sessions.astype("int64"),
                        "events_n": g["outcome"].sum().astype("int64"), "cusum_end": g["cusum"].last()}).reset_index()
    return out[columns]


def cusum_spans(daily: pd.DataFrame, min_sessions: int = 0) -> pd.DataFrame:
    """Each clinician's treatment months grouped into spans of whole months, for viewers without case access
    (pipelines/metrics/small_cells.py): a span closes at the first month that brings it to `min_sessions` of the
    clinician's sessions; months left over at the end join the last span, and a clinician with fewer than
    `min_sessions` sessions in all has no span. `min_sessions` <= 0: every month is its own span.

    `daily`: rows with clinician, treated_on and sessions_n (analysis.cusum or cusum_daily). Returns one row per
    clinician and month with sessions: clinician, month, span_start, span_end (first days of the months)."""
    columns = ["clinician", "month", "span_start", "span_end"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    month = pd.to_datetime(daily["treated_on"]).dt.to_period("M").dt.start_time.dt.date
    per_month = (daily.assign(month=month.to_numpy()).groupby(["clinician", "month"], sort=True)["sessions_n"]
                 .sum().reset_index())
    rows = []
    for clinician, sub in per_month.groupby("clinician", sort=True):
        spans: list[list] = []
        open_months: list = []
        open_n = 0
        for m, n in zip(sub["month"], sub["sessions_n"], strict=True):
            open_months.append(m)
            open_n += int(n)
            if open_n >= max(min_sessions, 1):
                spans.append(open_months)
                open_months, open_n = [], 0
        if open_months and spans:
            spans[-1] = spans[-1] + open_months
        for months in spans:
            rows += [(clinician, m, months[0], months[-1]) for m in months]
    return pd.DataFrame(rows, columns=columns)


def cusum_monthly(daily: pd.DataFrame, min_sessions: int = 0) -> pd.DataFrame:
    """A daily CUSUM (cusum_daily) reduced to one row per clinician and span of calendar months (cusum_spans; with
    `min_sessions` 0 every month is a span), for viewers without case access (docs/security.md): `month`, the
    span's last month, and `span_start`, its first (first days of the months); `cusum`, the value at the end of
    the span (after its last session); `peak`, the highest value in it; the threshold; and `signal`, whether
    it crossed the threshold in the span. No sessions, no events and no day: the chart shows how a clinician's
    CUSUM moved span by span, never which day or session moved it, and each step covers at least `min_sessions`
    of the clinician's sessions. Months without sessions of that clinician have no row (the CUSUM stands
    still)."""
    columns = ["clinician", "month", "span_start", "cusum", "peak", "threshold", "signal"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    days = daily.sort_values(["clinician", "treated_on"], kind="stable")
    month = pd.to_datetime(days["treated_on"]).dt.to_period("M").dt.start_time.dt.date
    spans = cusum_spans(days, min_sessions)
    days = days.assign(month=month.to_numpy()).merge(spans, on=["clinician", "month"], how="inner")
    if days.empty:
        return pd.DataFrame(columns=columns)
    g = days.groupby(["clinician", "span_end"], sort=True)
    end = g["cusum_end"].last() if "cusum_end" in days else g["cusum"].last()  # the value after the span's last session
    out = pd.DataFrame({"span_start": g["span_start"].first(), "cusum": end, "peak": g["cusum"].max(),
                        "threshold": g["threshold"].last(), "signal": g["signal"].any()}).reset_index()
    return out.rename(columns={"span_end": "month"})[columns]


def cusum_signals_by_span(sig: pd.DataFrame, frame: pd.DataFrame, min_sessions: int) -> pd.DataFrame:
    """CUSUM signal rows (cusum_signals) dated by the span of months they fall in (cusum_spans of the CUSUM
    `frame` they come from): `on` = the first day of the span's last month. Signals of a clinician without a
    span (fewer than `min_sessions` sessions) are dropped."""
    if sig.empty:
        return sig
    spans = cusum_spans(frame, min_sessions)
    out = sig.assign(month=[month_start(d) for d in sig["on"]])
    out = out.merge(spans[["clinician", "month", "span_end"]], on=["clinician", "month"], how="inner")
    out["on"] = out["span_end"]
    return out.drop(columns=["month", "span_end"])[SIGNAL_COLUMNS]


def month_start(d) -> dt.date | None:
    """The first day of the calendar month of a date (None stays None)."""
    if d is None or pd.isna(d):
        return None
    return pd.Timestamp(d).date().replace(day=1)


def by_month(sig: pd.DataFrame) -> pd.DataFrame:
    """A signals list (collect output) for viewers without case access: each signal dated by its calendar month
    (`on` = the month's first day) and one row per month, kind, rule, outcome and clinician (the highest value
    kept), newest month first. The day of a CUSUM crossing is the day of a session with the event, and the order
    of crossings within a month would tell their days apart: neither is shown."""
    if sig.empty:
        return sig.copy()
    out = sig.copy()
    out["on"] = [month_start(d) for d in out["on"]]
    out["_clinician"] = out["clinician"].fillna("")
    out = out.sort_values(["value"], ascending=False, kind="stable", na_position="last")
    out = out.drop_duplicates(["on", "kind", "rule", "outcome", "_clinician"]).drop(columns=["_clinician"])
    return collect(out)


def cusum_summary(con: duckdb.DuckDBPyConnection, outcome_key: str, *, filters: Filters = Filters(),
                  as_of: dt.date | None = None, per_day: bool = True, min_sessions: int = 0) -> dict:
    """What the pages need of one outcome's CUSUM, without its row per session: {"status":
    analysis.cusum_status, "daily": cusum_daily, "signals": the threshold crossings (cusum_signals), "reason":
    "" or why there is no chart}.

    per_day=False (viewers without case access, docs/security.md): no day at all. "monthly" (cusum_monthly)
    replaces "daily", the status has `last_signal_month` (the month's first day) instead of `last_signal_on`, and
    the signals are dated by month (by_month). With `min_sessions` > 0 (pipelines/metrics/small_cells.py) months
    become spans of at least that many of the clinician's sessions (cusum_spans): the chart has a point per span,
    the last signal is named by its span's last month, and a clinician with fewer sessions in all has no status
    and no signal."""
    frame, reason = cusum(con, outcome_key, filters=filters, as_of=as_of)
    status, daily, sig = analysis.cusum_status(frame), cusum_daily(frame), cusum_signals({outcome_key: frame})
    if per_day:
        return {"status": status, "daily": daily, "signals": sig, "reason": reason}
    spans = cusum_spans(frame, min_sessions)
    sig = cusum_signals_by_span(sig, frame, min_sessions)
    status = status[status["clinician"].isin(set(spans["clinician"]))].reset_index(drop=True)
    last = sig.groupby("clinician")["on"].max() if not sig.empty else pd.Series(dtype=object)
    status = status.assign(last_signal_month=[month_start(last.get(c)) if c in last.index else None
                                              for c in status["clinician"]])
    return {"status": status.drop(columns=["last_signal_on"]), "monthly": cusum_monthly(daily, min_sessions),
            "signals": by_month(sig), "reason": reason}


def cusum_signal_rows(con: duckdb.DuckDBPyConnection, outcome_keys=None, *, filters: Filters = Filters(),
                      as_of: dt.date | None = None, min_sessions: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Every CUSUM threshold crossing of the outcomes (default: all), and the outcomes too rare for a CUSUM.
    One outcome at a time, so only one outcome's sessions are ever in memory. `min_sessions` > 0 (viewers
    without case access): each crossing dated by its span of months (cusum_signals_by_span)."""
    parts, too_rare = [], []
    for key in _keys(outcome_keys):
        frame, reason = cusum(con, key, filters=filters, as_of=as_of)
        if reason == "too_rare":
            too_rare.append(key)
        sig = cusum_signals({key: frame})
        parts.append(cusum_signals_by_span(sig, frame, min_sessions) if min_sessions > 0 else sig)
    parts = [p for p in parts if not p.empty]
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SIGNAL_COLUMNS)), too_rare


# --------------------------------------------------------------------------------------------------------------
# Signals from the frames (pure)
# --------------------------------------------------------------------------------------------------------------


def _concern(outcome_key: str, direction: str) -> bool:
    higher_is_better = registry.get(outcome_key).higher_is_better
    return (direction == "high") != higher_is_better


def _row(**values) -> dict:
    row = dict.fromkeys(SIGNAL_COLUMNS)
    row.update(values)
    return row


def longest_run(rate: pd.Series, cl: pd.Series) -> tuple[int, int, int, str] | None:
    """The longest run of consecutive useful points on one side of the centre line, as Anhoej counts it
    (points on the line or missing are skipped): (length, first index, last index, 'high' / 'low')."""
    side = np.sign(rate.to_numpy(dtype=float) - cl.to_numpy(dtype=float))
    useful = np.flatnonzero((side != 0) & ~np.isnan(side))
    best = None
    start = 0
    for i in range(1, len(useful) + 1):
        if i == len(useful) or side[useful[i]] != side[useful[start]]:
            length = i - start
            if best is None or length >= best[0]:
                best = (length, int(useful[start]), int(useful[i - 1]), "high" if side[useful[start]] > 0 else "low")
            start = i
    return best


def spc_signals(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Control-chart signals of each outcome's spc frame (analysis.spc / spc_frames output). Only closed periods
    are read (`period_closed`): a period whose windows are still open is never listed, nor dates a run."""
    rows = []
    for key, frame in frames.items():
        if "period_closed" in frame:
            frame = frame[frame["period_closed"].astype(bool)]
        if frame.empty:
            continue
        frame = frame.reset_index(drop=True)
        periods = pd.Series(frame["period_start"])
        for r in frame[frame["sigma_signal"].astype(bool)].itertuples():
            direction = "high" if r.rate > r.ucl else "low"
            # fewer than one expected event in the period: a single event lies beyond the 3-sigma limit
            rare = "rare" if float(r.cl) * float(r.denominator_n) < 1 else None
            rows.append(_row(on=r.period_start, period=r.period_start, kind="spc", rule="sigma", outcome=key,
                             direction=direction, concern=_concern(key, direction), value=r.rate,
                             numerator_n=r.numerator_n, denominator_n=r.denominator_n,
                             limit=r.ucl if direction == "high" else r.lcl, detail_b=rare))
        for _part, idx in frame.groupby("part").groups.items():
            sub = frame.loc[idx]
            first = sub.iloc[0]
            if not bool(first["runs_signal"]):
                continue
            run_max, crossings, crossings_min = first["longest_run_max"], first["crossings"], first["crossings_min"]
            # fewer than one expected event per period: most periods are 0, below the centre line, so long runs
            # below it are what a rare event looks like (a g-chart of sessions between events suits it better)
            rare = "rare" if float(first["cl"]) * float(sub["denominator_n"].mean()) < 1 else None
            if pd.notna(first["longest_run"]) and pd.notna(run_max) and first["longest_run"] > run_max:
                found = longest_run(sub["rate"], sub["cl"])
                length, a, b, direction = found
                start, end = periods.loc[sub.index[a]], periods.loc[sub.index[b]]
                rows.append(_row(on=end, period=end, kind="spc", rule="runs_longest", outcome=key,
                                 direction=direction, concern=_concern(key, direction), value=sub["rate"].iloc[b],
                                 limit=float(run_max), detail_a=float(length), detail_b=rare, run_start=start))
            elif pd.notna(crossings) and pd.notna(crossings_min) and crossings < crossings_min:
                end = periods.loc[sub.index[-1]]
                rows.append(_row(on=end, period=end, kind="spc", rule="runs_crossings", outcome=key, direction="",
                                 concern=True, value=sub["rate"].iloc[-1], limit=float(crossings_min),
                                 detail_a=float(crossings), detail_b=rare))
        latest = frame[frame["rate"].notna()]
        if not latest.empty:
            last = latest.iloc[-1]
            if last["mdc_rule"] and last["direction"]:
                rule = str(last["mdc_rule"]).split("; ")[0]
                part = frame[frame["part"] == last["part"]]
                rare = "rare" if float(last["cl"]) * float(part["denominator_n"].mean()) < 1 else None
                rows.append(_row(on=last["period_start"], period=last["period_start"], kind="spc",
                                 rule=f"mdc_{rule}", outcome=key, direction=last["direction"],
                                 concern=_concern(key, last["direction"]), value=last["rate"],
                                 numerator_n=last["numerator_n"], denominator_n=last["denominator_n"],
                                 detail_a=None, detail_b=rare))
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def funnel_signals(frames: dict[str, tuple[pd.DataFrame, dict]], on: dt.date) -> pd.DataFrame:
    """Clinicians outside the 99.8 % funnel limits, dated `on` (the end of the period analysed)."""
    rows = []
    for key, (frame, _info) in frames.items():
        if frame.empty or "flag" not in frame:
            continue
        for r in frame[frame["flag"].isin(["high", "low"])].itertuples():
            rows.append(_row(on=on, kind="funnel", rule="funnel_998", outcome=key, clinician=r.clinician,
                             direction=r.flag, concern=_concern(key, r.flag), value=r.rate,
                             numerator_n=r.numerator_n, denominator_n=r.denominator_n,
                             limit=r.ucl_998 if r.flag == "high" else r.lcl_998, detail_a=r.target))
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def cusum_signals(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every threshold crossing of each outcome's per-clinician CUSUM (analysis.cusum output)."""
    rows = []
    for key, frame in frames.items():
        if frame.empty:
            continue
        for r in frame[frame["signal"].astype(bool)].itertuples():
            rows.append(_row(on=r.treated_on, kind="cusum", rule="cusum", outcome=key, clinician=r.clinician,
                             direction="high", concern=_concern(key, "high"), value=r.cusum, limit=r.threshold))
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def collect(*parts: pd.DataFrame) -> pd.DataFrame:
    """All signals, newest first (then by kind, outcome in registry order and clinician)."""
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["on"] = pd.to_datetime(out["on"]).dt.date
    order = {o.key: i for i, o in enumerate(registry.OUTCOMES)}
    out["_kind"] = out["kind"].map({k: i for i, k in enumerate(KINDS)})
    out["_outcome"] = out["outcome"].map(order)
    out["_clinician"] = out["clinician"].fillna("")
    out = out.sort_values(["on", "_kind", "_outcome", "_clinician"], ascending=[False, True, True, True])
    return out.drop(columns=["_kind", "_outcome", "_clinician"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# The list: which signals are listed, as episodes (the false-alarm budget, docs/signal-budget.md)
# --------------------------------------------------------------------------------------------------------------

# What fired, in a few plain words per language (English, Norwegian): for texts outside the dashboard's own
# signal list, which names the figures too (the monthly report, the alert e-mail). Read with rule_words().
RULE_WORDS: dict[str, tuple[str, str]] = {
    "sigma": ("a month outside the control limits", "en måned utenfor kontrollgrensene"),
    "runs_longest": ("a long run on one side of the centre line", "en lang serie på én side av senterlinjen"),
    "runs_crossings": ("too few crossings of the centre line", "for få kryssinger av senterlinjen"),
    "funnel_998": ("outside the funnel's 99.8 % limit", "utenfor traktens 99,8 %-grense"),
    "cusum": ("the CUSUM crossed its threshold", "CUSUM krysset terskelen"),
}


def rule_words(rule: str, lang: str) -> str:
    """A listed rule in plain words ('nb' or 'en'); an unknown rule as its key."""
    en, nb = RULE_WORDS.get(rule, (rule, rule))
    return nb if lang == "nb" else en


LISTED_SPC_RULES = ("sigma", "runs_longest", "runs_crossings")
# The budget: in an in-control clinic of the demo's size (10 clinicians, 36 months, ~20,000 sessions) the list
# holds at most this many concerning episodes in 36 months on average (one a quarter). Measured with these
# settings: 8.8 in 36 months, about 3 a year (docs/signal-budget.md; tests/test_signal_budget.py checks it).
FALSE_ALARM_BUDGET_PER_36_MONTHS = 12
EXPECTED_FALSE_ALARMS_PER_YEAR = 3


def watched(level: str) -> tuple[str, ...]:
    """The outcomes the registry watches at `level` (clinician: funnel and CUSUM listed; clinic: control chart)."""
    levels = {"clinician": ("clinician",), "clinic": ("clinician", "clinic")}[level]
    return tuple(o.key for o in registry.OUTCOMES if o.watch in levels)


def listed(sig: pd.DataFrame) -> pd.DataFrame:
    """The signals that go on the overview's list and into `export signals`; the others stay on their charts.

    - a clinic control chart (outcomes watched per clinician or per clinic): a period beyond the 3-sigma limits
      and Anhoej's run rules, where the chart expects at least one event per period (below that a single event
      crosses the limit and runs of empty periods are what a rare event looks like). The Making Data Count
      reading stays the overview's variation icon: its shift and two-of-three rules repeat the run and sigma
      rules with more false alarms;
    - a clinician's funnel position (99.8 %) and risk-adjusted CUSUM, for the outcomes watched per clinician;
    - nothing for the outcomes reviewed case by case (double vision, infection, allergic reaction, ...).
    """
    if sig is None or sig.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    watch = sig["outcome"].map(lambda k: registry.get(k).watch)
    spc = ((sig["kind"] == "spc") & watch.isin(["clinician", "clinic"]) & sig["rule"].isin(LISTED_SPC_RULES)
           & (sig["detail_b"].fillna("") != "rare"))
    per_clinician = sig["kind"].isin(["funnel", "cusum"]) & (watch == "clinician")
    return sig[spc | per_clinician].reset_index(drop=True)


def signal_episodes(sig: pd.DataFrame, period: str = "month") -> pd.DataFrame:
    """The listed signals (`listed`) grouped into episodes (pipelines.metrics.episodes), newest first."""
    return episodes.episodes(listed(sig), period)


def episode_list(
    con: duckdb.DuckDBPyConnection,
    *,
    period: str = "month",
    chart: str = "p",
    funnel_method: str = "arcsine",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """What the overview lists, computed at once: every listed signal of every watched outcome, as episodes."""
    as_of = as_of or counting.default_as_of(con)
    spc = spc_frames(con, watched("clinic"), period=period, chart=chart, filters=filters, as_of=as_of)
    funnels = funnel_frames(con, watched("clinician"), method=funnel_method, filters=filters, as_of=as_of)
    cus = cusum_signal_rows(con, watched("clinician"), filters=filters, as_of=as_of)[0]
    end = min(filters.date_to, as_of) if filters.date_to else as_of
    return signal_episodes(collect(spc_signals(spc), funnel_signals(funnels, end), cus), period)


def signals(
    con: duckdb.DuckDBPyConnection,
    outcome_keys=None,
    *,
    period: str = "month",
    chart: str = "p",
    funnel_method: str = "arcsine",
    include_cusum: bool = True,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Every signal of the given outcomes (default: all) under the filters, newest first."""
    as_of = as_of or counting.default_as_of(con)
    keys = _keys(outcome_keys)
    spc = spc_frames(con, keys, period=period, chart=chart, filters=filters, as_of=as_of)
    funnels = funnel_frames(con, keys, method=funnel_method, filters=filters, as_of=as_of)
    cus = cusum_signal_rows(con, keys, filters=filters, as_of=as_of)[0] if include_cusum else None
    end = min(filters.date_to, as_of) if filters.date_to else as_of
    return collect(spc_signals(spc), funnel_signals(funnels, end), cus)


# --------------------------------------------------------------------------------------------------------------
# Case review: the sessions behind a rate, a page at a time
# --------------------------------------------------------------------------------------------------------------


def case_review(
    con: duckdb.DuckDBPyConnection,
    outcome_key: str,
    *,
    which: str = "numerator",
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    limit: int = 25,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """One page of the sessions behind a rate, newest first, with what their follow-up contacts recorded.

    which: `numerator` (the sessions counted as the event, including those lost to follow-up when the outcome
    counts loss as the event), `denominator` (every session in the rate) or `lost` (eligible, window closed, no
    follow-up for this outcome). Returns (page, total number of such sessions).
    Identifiers are the export's pseudonymous treatment id and patient reference only.
    """
    if which not in REVIEW_SETS:
        raise ValueError(f"which must be one of {', '.join(REVIEW_SETS)}")
    o = registry.get(outcome_key)
    as_of = as_of or counting.default_as_of(con)
    where, params = filters.sql("p")
    c = counting.counting_sql(o)
    prefix, relation = counting.per_session_source(con, [o], as_of)
    cond = {"numerator": c["numerator_n"], "denominator": c["denominator_n"],
            "lost": f'({c["eligible_n"]} AND NOT {c["followed_up_n"]})'}[which]
    sql = f"""
{prefix}{',' if prefix else 'WITH'}
chosen AS (
    SELECT p.treatment_id, p.patient_ref, CAST(p.treated_on AS DATE) AS treated_on, p.clinician, p.indication,
           p.areas, p.product, p.units, p.is_repeat, {c["followed_up_n"]} AS followed_up,
           {c["event_n"]} AS event, {c["numerator_n"]} AS in_numerator, count(*) OVER () AS total_n
    FROM {relation} p
    WHERE {cond} AND {where}
    ORDER BY p.treated_on DESC, p.treatment_id DESC
    LIMIT $limit OFFSET $offset
),
seen AS (
    SELECT f.treatment_id, count(*) AS contacts_n, max(f.seen_on - t.treated_on) AS last_contact_day,
           arg_max(f.effect, f.seen_on) AS last_effect
    FROM follow_ups f JOIN treatments t USING (treatment_id)
    WHERE f.treatment_id IN (SELECT treatment_id FROM chosen) AND f.seen_on <= $as_of
    GROUP BY 1
)
SELECT c.* EXCLUDE (total_n), coalesce(s.contacts_n, 0) AS contacts_n, s.last_contact_day, s.last_effect,
       c.total_n
FROM chosen c LEFT JOIN seen s USING (treatment_id)
ORDER BY c.treated_on DESC, c.treatment_id DESC"""
    page = con.execute(sql, {"as_of": as_of, "limit": int(limit), "offset": int(offset), **params}).df()
    if page.empty:
        total = 0 if not offset else int(con.execute(
            f"{prefix} SELECT count(*) FROM {relation} p WHERE {cond} AND {where}",
            {"as_of": as_of, **params}).fetchall()[0][0])
    else:
        total = int(page["total_n"].iloc[0])
    page = page.drop(columns=["total_n"])
    page["treated_on"] = pd.to_datetime(page["treated_on"]).dt.date
    page["contacts_n"] = page["contacts_n"].astype("int64")
    page["lost"] = ~page["followed_up"].astype(bool)
    return page, total


# --------------------------------------------------------------------------------------------------------------
# The overview's list for the monthly meeting: what is new since a date, what fell in the reporting period, and
# one row per clinician (or the clinic) and clinical problem (the registry's outcome `family`)
# --------------------------------------------------------------------------------------------------------------

SCOPES = ("since", "report", "all")  # new since the last meeting, in the reporting period, everything listed
GROUP_COLUMNS = ["family", "clinician", "concern", "is_new", "episodes_n", "signals_n", "first_date", "last_date",
                 "last_day", "kinds", "outcomes", "episodes"]


def with_last_day(ep: pd.DataFrame, period: str = "month", by_month: bool = False) -> pd.DataFrame:
    """Episodes (signal_episodes) with the days their signals cover and became known:

    - `last_day`: the last day the latest signal covers. A control-chart signal is dated by its period's first
      day and covers the whole period (analysis.period_end); so does every signal of a viewer who sees months
      only (`by_month`, dated by the month's first day); a funnel or CUSUM signal is its day;
    - `first_known` / `last_known`: the day the first / latest signal could first be seen, its last day covered
      plus the outcome's longest window (analysis.longest_close_days): a session counts, and a period is judged,
      only once its windows have closed. A funnel flag is known on its date (the end of the period analysed)."""
    out = ep.copy()
    if out.empty:
        for c in ("last_day", "first_known", "last_known"):
            out[c] = pd.Series(dtype=object)
        return out

    def end(kind: str, day) -> dt.date:
        day = pd.Timestamp(day).date()
        if kind == "spc":
            return analysis.period_end(day, period)
        if by_month:
            return analysis.period_end(day, "month")
        return day

    def known(kind: str, outcome: str, day: dt.date) -> dt.date:
        if kind == "funnel":
            return day
        return day + dt.timedelta(days=analysis.longest_close_days(outcome))

    kinds, outcomes = list(out["kind"]), list(out["outcome"])
    out["last_day"] = [end(k, d) for k, d in zip(kinds, out["last_date"], strict=True)]
    # a run rule's episode is one signal, judged at the end of its run (its first date is where the run began)
    first_day = [end(k, d) if k != "spc" or episodes._per_period(r) else last
                 for k, r, d, last in zip(kinds, out["rule"], out["first_date"], out["last_day"], strict=True)]
    out["first_known"] = [known(k, o, d) for k, o, d in zip(kinds, outcomes, first_day, strict=True)]
    out["last_known"] = [known(k, o, d) for k, o, d in zip(kinds, outcomes, out["last_day"], strict=True)]
    return out


def in_period(ep: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The episodes (with_last_day) with a signal in [start, end]: their span from `first_date` to `last_day`
    meets the period. A funnel flag judges the whole period analysed, so it is in every period."""
    if ep.empty:
        return ep
    first = pd.to_datetime(ep["first_date"]).dt.date
    meets = (first <= end) & (ep["last_day"] >= start)
    return ep[meets | (ep["kind"] == "funnel")].reset_index(drop=True)


def funnel_flags_at(con: duckdb.DuckDBPyConnection, outcome_keys, at: dt.date, *, filters: Filters = Filters(),
                    method: str = "arcsine", min_sessions: int = 0) -> set[tuple[str, str, str]]:
    """The clinicians outside the 99.8 % funnel limits as the data stood on `at` (sessions treated before it,
    windows closed by it): {(outcome, clinician, 'high' / 'low')}. A funnel judges its whole period at once and
    has no date of its own; what was already flagged on the day of the last meeting is not new."""
    before = at - dt.timedelta(days=1)
    then = Filters(date_from=filters.date_from, date_to=min(filters.date_to, before) if filters.date_to else before,
                   clinicians=filters.clinicians, indications=filters.indications, areas=filters.areas,
                   products=filters.products)
    if then.date_from and then.date_from > then.date_to:
        return set()
    frames = funnel_frames(con, outcome_keys, method=method, filters=then, as_of=at, min_sessions=min_sessions)
    return {(key, str(r.clinician), str(r.flag)) for key, (frame, _info) in frames.items()
            if not frame.empty and "flag" in frame for r in frame[frame["flag"].isin(["high", "low"])].itertuples()}


def new_since(ep: pd.DataFrame, since: dt.date, flagged_before=()) -> pd.DataFrame:
    """The episodes (with_last_day) that were not all known on `since` (the day of the last meeting): their latest
    signal became known after it (`last_known`), and `is_new`: their first one did too (else the episode was
    already on the list then and has fired again). A funnel flag counts only when it was not flagged already on
    `since` (`flagged_before`: funnel_flags_at)."""
    if ep.empty:
        return ep.assign(is_new=pd.Series(dtype=bool))
    before = set(flagged_before)
    funnel_old = [k == "funnel" and (o, str(c), str(d)) in before
                  for k, o, c, d in zip(ep["kind"], ep["outcome"], ep["clinician"], ep["direction"], strict=True)]
    keep = (ep["last_known"] > since) & ~pd.Series(funnel_old, index=ep.index)
    out = ep[keep].reset_index(drop=True)
    out["is_new"] = (out["first_known"] > since) | (out["kind"] == "funnel")
    return out


def signal_groups(ep: pd.DataFrame) -> pd.DataFrame:
    """Episodes grouped per clinician (the clinic for a clinic-wide chart) and clinical problem (the registry's
    outcome `family`: eyelid and brow ptosis are ptosis): one row per group, newest `last_day` first, with
    concern (any concerning episode), is_new (any new episode, when the episodes carry `is_new`), episodes_n,
    signals_n, the first and last date, the kinds and outcomes in it (registry and KINDS order) and `episodes`:
    its episodes as records, newest first (the first one describes the group)."""
    if ep is None or ep.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    rows = ep.copy()
    if "last_day" not in rows:
        rows = with_last_day(rows)
    rows["family"] = rows["outcome"].map(lambda k: registry.get(k).family)
    rows["_clinician"] = rows["clinician"].where(rows["clinician"].notna(), "").astype(str)
    order = {o.key: i for i, o in enumerate(registry.OUTCOMES)}
    out = []
    for (family, clinician), g in rows.groupby(["family", "_clinician"], sort=False):
        g = g.sort_values(["last_day", "concern"], ascending=[False, False], kind="stable")
        out.append({
            "family": family, "clinician": clinician or None, "concern": bool(g["concern"].astype(bool).any()),
            "is_new": bool(g["is_new"].astype(bool).any()) if "is_new" in g else False,
            "episodes_n": len(g), "signals_n": int(pd.to_numeric(g["signals_n"]).sum()),
            "first_date": min(pd.to_datetime(g["first_date"]).dt.date), "last_date": max(g["last_date"]),
            "last_day": max(g["last_day"]),
            "kinds": tuple(k for k in KINDS if k in set(g["kind"])),
            "outcomes": tuple(sorted(set(g["outcome"]), key=order.get)),
            "episodes": g.drop(columns=["family", "_clinician"]).to_dict("records"),
        })
    frame = pd.DataFrame(out, columns=GROUP_COLUMNS)
    # a clinic-wide group has no clinician: None, never NaN (pandas 3 infers a string column; NaN reads 'nan')
    frame["clinician"] = pd.Series([c if isinstance(c, str) else None for c in frame["clinician"]], dtype=object)
    frame["_order"] = frame["family"].map(order)
    frame["_clinician"] = frame["clinician"].fillna("")
    frame = frame.sort_values(["last_day", "_order", "_clinician"], ascending=[False, True, True], kind="stable")
    return frame.drop(columns=["_order", "_clinician"]).reset_index(drop=True)


def case_reasons(con: duckdb.DuckDBPyConnection, outcome_key: str, treatment_ids, *,
                 as_of: dt.date | None = None) -> pd.DataFrame:
    """Why each of these sessions counts as it does for the outcome (the case review's "why it counts" column),
    from the registry's own definitions, one row per treatment_id:

    - `event_day`: the first follow-up contact inside the window at which the outcome was recorded as the event
      (the outcome's event aggregate applied to that one contact), and `answers`: that contact's answers in the
      columns that record the outcome ({column: value}; with the session's baseline for a headache-days count or
      an HDSS score);
    - `correction_day`: days from the session to its first correction, when the outcome counts a correction
      (its session condition names `first_correction_after_days`) and there was one within its 28 days;
    - `risks`: the risk questions answered yes, when the outcome counts them (treated despite a listed risk);
    - `assessed_day`: the latest contact inside the window that assessed the outcome (a session without the
      event was judged there); `close_day`: the last day of the session's window (lost to follow-up means no
      assessing contact by then)."""
    o = registry.get(outcome_key)
    as_of = as_of or counting.default_as_of(con)
    ids = [str(t) for t in treatment_ids]
    columns = ["treatment_id", "event_day", "answers", "correction_day", "risks", "assessed_day", "close_day"]
    if not ids:
        return pd.DataFrame(columns=columns)
    risk_columns = ("neuromuscular_disease", "aminoglycoside_antibiotics", "pregnant_or_breastfeeding")
    session_sql = o.session_event_sql or ""
    risks = [c for c in risk_columns if c in session_sql]
    answered_cols = list(o.assessed_by)
    # a response is judged against the session's baseline: it goes with the answer
    answered_cols += [b for c, b in (("headache_days", "baseline_headache_days"), ("hdss", "baseline_hdss"))
                      if c in answered_cols]
    window = o.in_window_sql()
    contact_rows = pd.DataFrame(columns=["treatment_id", "days_after", "is_event", "is_assessed", *answered_cols])
    if o.event_agg:
        cols = "".join(f", any_value(f.{ident(c)}) AS {ident(c)}" for c in answered_cols)
        event = o.event_agg.format(in_window=window, assessed=o.assessed)
        sql = f"""
WITH contacts AS ({counting.contacts_sql()})
SELECT f.treatment_id, any_value(f.days_after) AS days_after, {event} AS is_event,
       bool_or({window} AND ({o.assessed})) AS is_assessed{cols}
FROM contacts f
WHERE list_contains($ids, f.treatment_id)
GROUP BY f.treatment_id, f.follow_up_id"""
        contact_rows = con.execute(sql, {"as_of": as_of, "ids": ids}).df()
    risk_sql = "".join(f", s.{ident(c)}" for c in risks)
    sessions = con.execute(f"""
WITH sessions AS ({counting.model_sql('sessions')})
SELECT s.treatment_id, s.first_correction_after_days, {o.close_days_sql('s.indication')} AS close_day{risk_sql}
FROM sessions s WHERE list_contains($ids, s.treatment_id)""", {"as_of": as_of, "ids": ids}).df()
    by_session = {t: g.sort_values("days_after", kind="stable") for t, g in contact_rows.groupby("treatment_id")}
    counts_correction = "first_correction_after_days" in session_sql
    out = []
    for r in sessions.to_dict("records"):
        contacts = by_session.get(r["treatment_id"], contact_rows.iloc[0:0])
        events = contacts[contacts["is_event"].astype("boolean").fillna(False).astype(bool)]
        assessed = contacts[contacts["is_assessed"].astype("boolean").fillna(False).astype(bool)]
        first = events.iloc[0] if len(events) else None
        day = r["first_correction_after_days"]
        out.append({
            "treatment_id": r["treatment_id"],
            "event_day": int(first["days_after"]) if first is not None else None,
            "answers": {c: first[c] for c in answered_cols} if first is not None else {},
            "correction_day": int(day) if counts_correction and pd.notna(day) and day <= 28 else None,
            "risks": tuple(c for c in risks if bool(r.get(c)) and pd.notna(r.get(c))),
            "assessed_day": int(assessed["days_after"].iloc[-1]) if len(assessed) else None,
            "close_day": int(r["close_day"]),
        })
    frame = pd.DataFrame(out, columns=columns)
    for c in ("event_day", "correction_day", "assessed_day", "close_day"):
        frame[c] = frame[c].astype("Int64")
    order = {t: i for i, t in enumerate(ids)}
    return frame.sort_values("treatment_id", key=lambda s: s.map(order)).reset_index(drop=True)
