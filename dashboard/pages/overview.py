"""Overview: every outcome's rate for the period with its interval, reference range and Making Data Count reading,
the reporting period's rate and reading (dashboard/filters.py Report: judged and counted, never a filter),
follow-up completeness, and the signals to review: one row per clinician (or the clinic) and clinical problem
(the registry's outcome family), new since the last meeting by default, each linking to its chart and cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, counting, lookups, registry, signals, small_cells
from pipelines.release import disclosure, reviews

PAGE_PARAMS = ("scope", "since", "improving", "page_n")
SIGNALS_PER_PAGE = 12
CUSUM_WAIT_SECONDS = 1.0  # a short wait: when the check is quick (small clinic) the list comes complete at once
CUSUM_POLL_SECONDS = 2.0


def _trend(frame: pd.DataFrame) -> list[float | None]:
    """The sparkline of an spc frame: its closed periods' rates in percent (a period not closed, `period_closed`
    False, is left out: the sparkline cannot draw it apart, and it is not judged)."""
    if frame.empty:
        return []
    if "period_closed" in frame:
        frame = frame[frame["period_closed"].astype(bool)]
    return [round(100 * v, 2) if np.isfinite(v) else None for v in frame["rate"].to_numpy(float)]


def report_figures(frame: pd.DataFrame, report: filters.Report | None, higher_is_better: bool) -> dict:
    """An spc frame's figures for the reporting period: its months' events and sessions and their rate, whether
    every one of its months is closed for the outcome (else the rate is of the sessions closed so far, not judged),
    and the Making Data Count reading of the latest closed month up to the period's end (the history before it
    included; nothing after it)."""
    out = {"num": np.nan, "den": np.nan, "rate": np.nan, "closed": False, "reading": "", "hidden": False}
    if frame.empty or report is None:
        return out
    months = pd.to_datetime(frame["period_start"]).dt.date
    part = frame[months.isin(report.months).to_numpy()]
    hidden = bool(part["is_hidden"].fillna(False).astype(bool).any()) if "is_hidden" in part else False
    num, den = float(part["numerator_n"].fillna(0).sum()), float(part["denominator_n"].fillna(0).sum())
    closed = bool(len(part) == len(report.months) and part["period_closed"].astype(bool).all())
    upto = frame[(months <= report.months[-1]).to_numpy()]
    out.update(num=num, den=den, rate=num / den if den > 0 and not hidden else np.nan, closed=closed,
               hidden=hidden, reading=analysis.variation_reading(upto, higher_is_better=higher_is_better))
    return out


def headline_rows(rates: pd.DataFrame, spc: dict[str, pd.DataFrame], lg: str,
                  report: filters.Report | None = None) -> pd.DataFrame:
    rows = []
    for r in rates.to_dict("records"):
        o = registry.get(r["metric"])
        ref = o.reference
        frame = spc.get(o.key, pd.DataFrame())
        rep = report_figures(frame, report, o.higher_is_better)
        rows.append({
            "key": o.key, "label": o.label(lg), "group": o.group, "rate": r["rate"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "numerator_n": r["numerator_n"], "denominator_n": r["denominator_n"],
            "eligible_n": r["eligible_n"], "followed_up_n": r["followed_up_n"], "awaiting_n": r["awaiting_n"],
            "followup_completeness": r["followup_completeness"], "needs_follow_up": o.needs_follow_up,
            "is_hidden": bool(r.get("is_hidden", False)),
            "ref_low": ref.low_pct if ref else None, "ref_high": ref.high_pct if ref else None,
            "reference_text": (ref.text_nb if lg == "nb" else ref.text_en) if ref else "",
            # the reading of the reporting period's month (the latest closed one up to it)
            "reading": rep["reading"] if report is not None else
            analysis.variation_reading(frame, higher_is_better=o.higher_is_better),
            "report_rate": rep["rate"], "report_num": rep["num"], "report_den": rep["den"],
            "report_closed": rep["closed"], "report_hidden": rep["hidden"],
            "trend": _trend(frame),
        })
    return pd.DataFrame(rows)


def report_cell(r: dict, lg: str) -> str:
    """The reporting period's rate: '12,1 %'; '○ 9,8 %' when some of its windows are still open (not judged);
    the hidden mark or '–'."""
    if r["report_hidden"]:
        return ui.hidden_mark()
    if not np.isfinite(r["report_rate"]):
        return "–"
    return ("" if r["report_closed"] else "○ ") + i18n.pct(r["report_rate"], lg)


def headline_table(rows: pd.DataFrame, lg: str, report_label: str = "") -> None:
    colour = {"special_cause_concerning": charts.CONCERNING, "special_cause_improving": charts.IMPROVING,
              "common_cause": charts.GREY, "": charts.LIGHT_GREY}
    marks = {"special_cause_concerning": "▲", "special_cause_improving": "▼", "common_cause": "●", "": "○"}
    report_col = ui.tr("col_report_rate", period=report_label) if report_label else ui.tr("col_report_rate_plain")
    table = pd.DataFrame({
        ui.tr("col_outcome"): rows["label"],
        ui.tr("col_rate"): [ui.hidden_mark() if h else (i18n.pct(v, lg) if pd.notna(v) else
                                                         ui.tr("rate_not_recorded") if e > 0 and d == 0 else "–")
                            + ("  ⚠" if d < charts.SMALL_N else "")
                            for v, d, e, h in zip(rows["rate"], rows["denominator_n"], rows["eligible_n"],
                                                  rows["is_hidden"], strict=True)],
        ui.tr("col_interval"): [i18n.pct_range(a, b, lg) for a, b in zip(rows["ci_low"], rows["ci_high"],
                                                                          strict=True)],
        ui.tr("col_events_short"): [f"{i18n.number(a, lg)} / {i18n.number(b, lg)}" for a, b in
                                    zip(rows["numerator_n"], rows["denominator_n"], strict=True)],
        ui.tr("col_reference"): [ui.reference_short(registry.get(k).reference, lg) for k in rows["key"]],
        report_col: [report_cell(r, lg) for r in rows.to_dict("records")],
        ui.tr("col_reading"): [f"{marks[r]} {ui.tr('reading_short_' + (r or 'none'))}" for r in rows["reading"]],
        ui.tr("col_completeness"): [100 * v if pd.notna(v) and need else None
                                    for v, need in zip(rows["followup_completeness"], rows["needs_follow_up"],
                                                       strict=True)],
        ui.tr("col_trend"): rows["trend"],
        ui.tr("col_link"): [ui.link_url("complications", outcome=k) for k in rows["key"]],
    })
    reading_col = ui.tr("col_reading")
    styled = table.style.apply(
        lambda s: [f"color: {colour[r]}; font-weight: {'600' if r.startswith('special') else '400'}"
                   for r in rows["reading"]], subset=[reading_col])
    # widths that fit the main column at 1,400 px with the sidebar open (tests/test_browser.py: no sideways scroll)
    ui.table(styled, height=35 * (len(table) + 1) + 3, column_config={
        ui.tr("col_outcome"): st.column_config.TextColumn(width=230),
        ui.tr("col_rate"): st.column_config.TextColumn(help=i18n.tn("small_n", charts.SMALL_N, lg), width=58),
        ui.tr("col_interval"): st.column_config.TextColumn(width=90),
        ui.tr("col_events_short"): st.column_config.TextColumn(width=90, help=ui.tr("col_events")),
        ui.tr("col_reference"): st.column_config.TextColumn(width=70, help=ui.tr("reference_band")),
        report_col: st.column_config.TextColumn(width=70, help=ui.tr("col_report_rate_help")),
        ui.tr("col_reading"): st.column_config.TextColumn(help=f"{ui.tr('reading_help')} {ui.tr('reading_closed_note')}",
                                                          width=144),  # "▾ Spesiell: bekymring" whole
        ui.tr("col_completeness"): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f %%",
                                                                   help=ui.tr("kpi_completeness_help"), width=64),
        ui.tr("col_trend"): st.column_config.LineChartColumn(y_min=0, width=52, help=ui.tr("col_trend_help")),
        ui.tr("col_link"): st.column_config.LinkColumn(display_text=":material/open_in_new:", width=56,
                                                       help=ui.tr("open_chart")),
    })


def signal_text(s: dict, lg: str) -> str:
    text = _signal_text(s, lg)
    if s.get("detail_b") == "rare":
        text += f"  \n*{i18n.t('rule_rare_note', lg)}*"
    return text


def _signal_text(s: dict, lg: str) -> str:
    rule = s["rule"]
    if rule == "sigma":
        value, limit = i18n.pct_apart(s["value"], s["limit"], lg)
        side = "rule_sigma_above" if s["direction"] == "high" else "rule_sigma_below"
        return i18n.t(side, lg, value=value, limit=limit)
    if rule == "runs_longest":
        return i18n.tn("rule_runs_longest", int(s["detail_a"]), lg,
                       side=i18n.t("side_above" if s["direction"] == "high" else "side_below", lg),
                       start=i18n.period_label(s["run_start"], "month", lg),
                       end=i18n.period_label(s["period"], "month", lg), limit=int(s["limit"]))
    if rule == "runs_crossings":
        return i18n.tn("rule_runs_crossings", int(s["detail_a"]), lg, limit=int(s["limit"]))
    if rule.startswith("mdc_"):
        return i18n.t(f"rule_{rule}", lg, value=i18n.pct(s["value"], lg))
    if rule == "funnel_998":
        value, limit = i18n.pct_apart(s["value"], s["limit"], lg)
        return i18n.t("rule_funnel_998_limit", lg, value=value, limit=limit,
                      num=i18n.number(s["numerator_n"], lg), den=i18n.number(s["denominator_n"], lg),
                      target=i18n.pct(s["detail_a"], lg))
    value, limit = i18n.number_apart(s["value"], s["limit"], lg)
    return i18n.t("rule_cusum", lg, value=value, limit=limit)


def signal_link(s: dict) -> tuple[str, dict]:
    if s["kind"] == "spc":
        rules = "mdc" if str(s["rule"]).startswith("mdc_") else "anhoej"
        return "complications", {"outcome": s["outcome"], "point": s["period"], "rules": rules}
    return "clinicians", {"outcome": s["outcome"], "clinician": s["clinician"],
                          "tab": "cusum" if s["kind"] == "cusum" else "funnel"}


def episode_when(s: dict, lg: str, by_month: bool) -> str:
    """An episode's dates: its month (a control-chart period, or any date for a viewer who sees no day) or its day,
    as one date or first - last."""
    def one(d) -> str:
        return i18n.period_label(d, "month", lg) if s["kind"] == "spc" or by_month else i18n.date(d, lg)

    first, last = one(s.get("first_date", s["on"])), one(s.get("last_date", s["on"]))
    return last if first == last else ui.tr("episode_span", first=first, last=last)


def family_label(family: str) -> str:
    """The clinical problem's label: the registry outcome named by the family (ptosis: 'Ptose (...)')."""
    return ui.outcome_label(family)


def scoped(ep: pd.DataFrame, scope: str, ctx: ui.Context, since: dt.date, flagged_before) -> pd.DataFrame:
    """The episodes of a scope: new since the last meeting, with a signal in the reporting period, or all."""
    if scope == "since":
        return signals.new_since(ep, since, flagged_before)
    if scope == "report" and ctx.report is not None:
        return signals.in_period(ep, ctx.report.start, ctx.report.end)
    return ep


def group_row(g: dict, lg: str, by_month: bool) -> None:
    """One row of the list: a clinician (or the clinic) and a clinical problem, its latest episode described,
    the others in a popover, links to the chart and to the cases."""
    widths = [1.15, 1.2, 1.9, 0.95, 4.1, 1.7]
    c = st.columns(widths, vertical_alignment="center")
    latest = g["episodes"][0]
    c[0].markdown(f"**{episode_when(latest, lg, by_month)}**")
    with c[1]:
        for kind in g["kinds"]:
            concerning = any(e["concern"] for e in g["episodes"] if e["kind"] == kind)
            st.badge(ui.tr(f"kind_short_{kind}"), color="orange" if concerning else "blue",
                     icon=":material/warning:" if concerning else ":material/trending_down:")
    names = [ui.outcome_label(k) for k in g["outcomes"]]
    c[2].markdown(family_label(g["family"]) + (f"  \n*{', '.join(names)}*" if names != [family_label(g['family'])]
                                               else ""))
    c[3].markdown(g["clinician"] if isinstance(g["clinician"], str) and g["clinician"] else f"*{ui.tr('clinic')}*")
    text = signal_text(latest, lg)
    if g.get("is_new"):
        text = f":orange-badge[{ui.tr('signal_new')}] " + text
    with c[4]:
        st.markdown(text)
        if g["episodes_n"] > 1:
            with st.popover(i18n.tn("signal_more_episodes", g["episodes_n"] - 1, lg), width="content"):
                for e in g["episodes"][1:]:
                    st.markdown(f"**{episode_when(e, lg, by_month)}** · {ui.tr('kind_short_' + e['kind'])}: "
                                f"{signal_text(e, lg)}")
    page, params = signal_link(latest)
    with c[5]:
        ui.page_link(page, ui.tr("open_chart_short"), **params)
        ui.cases_link(latest["outcome"], g["clinician"] if isinstance(g["clinician"], str) else None,
                      which="numerator" if latest["concern"] else "denominator")


def signals_list(groups: pd.DataFrame, lg: str, by_month: bool, empty_text: str | None = None) -> None:
    if groups.empty:
        st.success(empty_text or ui.tr("signals_none"), icon=":material/check_circle:")
        return
    pages = max(1, -(-len(groups) // SIGNALS_PER_PAGE))
    page_n = filters.pagination("page_n", pages, render=False)
    rows = groups.iloc[(page_n - 1) * SIGNALS_PER_PAGE: page_n * SIGNALS_PER_PAGE].to_dict("records")
    head = st.columns([1.15, 1.2, 1.9, 0.95, 4.1, 1.7])
    for col, key in zip(head, ("col_when", "col_kind", "col_problem", "clinician", "col_what_fired", "col_link"),
                        strict=True):
        col.caption(ui.tr(key))
    for g in rows:
        group_row(g, lg, by_month)
    if pages > 1:
        bottom = st.columns([1, 3], vertical_alignment="center")
        bottom[0].caption(ui.tr("showing", first=(page_n - 1) * SIGNALS_PER_PAGE + 1,
                                last=min(page_n * SIGNALS_PER_PAGE, len(groups)), total=len(groups)))
        with bottom[1]:
            filters.pagination("page_n", pages)


def since_input(ctx: ui.Context, container, by_month: bool = False) -> dt.date:
    """The day of the last meeting (kept in the URL as ?since=2026-11-05; a month before the data's date by
    default), typed as 05.11.2026 in Norwegian. A viewer who sees months only (no day: docs/security.md) picks a
    month instead (?since=2026-10-01): "new since October" is what became known after October's last day."""
    default = filters.default_since(ctx.as_of)
    state = filters.canon()
    filters.apply_url(["since"])
    first = ctx.options["first_date"]
    if by_month:
        months = [m for m in pd.date_range(first.replace(day=1), ctx.as_of, freq="MS").date][::-1]
        picked = state.get("since")
        if isinstance(picked, dt.date):
            state["since"] = picked.replace(day=1)
        with container:
            month = filters.synced(st.selectbox, "since", ui.tr("since_month_label"), options=months,
                                   default=default.replace(day=1), help=ui.tr("since_month_help"),
                                   format_func=lambda d: i18n.period_label(d, "month", ctx.lang))
        return analysis.period_end(month, "month")
    value = state.get("since") if isinstance(state.get("since"), dt.date) else default
    # a date from a link outside the data's span is the nearest day inside it (the field refuses others)
    value = min(max(value, first), ctx.as_of)
    filters.date_field("since", ui.tr("since_label"), value, first=first, last=ctx.as_of, default=default,
                       container=container, help=ui.tr("since_help"))
    filters.write_url(["since"], {"since": None})
    return value


def monthly_report(ctx: ui.Context) -> None:
    """The quality meeting's monthly report (dashboard/report.py, the same as `python -m pipelines report`) for the
    reporting period's last month: internal for roles that see sessions, released (small counts suppressed,
    rounded, no clinician named) for the others. Built when the button is clicked, logged as an export."""
    from dashboard import report as monthly

    if ctx.report is None:
        return
    lg = ctx.lang
    month = ctx.report.months[-1]
    who = auth.current()
    internal = ui.sees_sessions()
    options = monthly.ReportOptions(month=month, lang=lg, user=who.user,
                                    release=None if internal else disclosure.Rule(),
                                    reviews_file=reviews.reviews_path_for(data.db_path()) if internal else None)
    name = f"{ui.tr('report_file_stem')}-{month:%Y-%m}.pdf"

    def build() -> tuple[bytes, int]:
        return data.cached(monthly.report_bytes, options, ".pdf"), 1

    with st.container(border=True):
        cols = st.columns([3, 1.3], vertical_alignment="center")
        cols[0].markdown(f"**{ui.tr('report_heading', month=monthly.month_name(month, lg))}**  \n"
                         + ui.tr("report_button_help_internal" if internal else "report_button_help_release"))
        cols[1].download_button(ui.tr("report_button"), data=auth.logged_download(
            who, f"report {month:%Y-%m} -> {name}" + ("" if internal else " (release)"),
            auth.describe(counting.Filters(date_from=month, date_to=monthly.month_end(month))), build),
            file_name=name, mime="application/pdf", key="download_report", icon=":material/picture_as_pdf:",
            on_click="ignore", width="stretch")


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    report = ui.report_text(ctx)
    ui.header("page_overview", ui.tr("overview_caption", period=ui.period_text(ctx), as_of=i18n.date(ctx.as_of, lg))
              + " " + ui.report_caption(ctx))
    rates = data.cached(small_cells.rates, None, filters=ctx.filters, as_of=ctx.as_of,
                        min_sessions=ctx.min_sessions)
    spc = data.cached(signals.spc_frames, None, filters=ctx.filters, as_of=ctx.as_of, min_sessions=ctx.min_sessions)
    rows = headline_rows(rates, spc, lg, ctx.report)
    monthly_report(ctx)

    k = st.columns(4)
    report_n = data.cached(lookups.session_count, ctx.report_filters())
    # the reporting period's sessions: a cell like any other (hidden for a role when it holds 1 to 9 sessions)
    report_n_text = ui.hidden_mark() if 0 < report_n < ctx.min_sessions else i18n.number(report_n, lg)
    ui.kpi(k[0], ui.tr("kpi_sessions"), i18n.number(ctx.sessions_n, lg), help=ui.tr("kpi_sessions_help"),
           delta=ui.tr("kpi_sessions_report", n=report_n_text, period=report))
    comp = rows.loc[rows["needs_follow_up"] & (rows["eligible_n"] > 0), "followup_completeness"]
    ui.kpi(k[1], ui.tr("kpi_completeness"),
           ui.tr("kpi_completeness_value", low=i18n.pct(comp.min(), lg, 0), high=i18n.pct(comp.max(), lg, 0))
           if len(comp) else "–", help=ui.tr("kpi_completeness_help"))
    special = rows[rows["reading"].str.startswith("special_cause_concerning")]
    ui.kpi(k[2], ui.tr("kpi_special_short"), i18n.number(len(special), lg),
           help=f"{ui.tr('kpi_special_help')} {ui.tr('reading_closed_note')}",
           delta=ui.tr("kpi_special_delta", period=report))
    signals_slot = k[3].empty()
    # the card is drawn at once and its count below replaces it: it keeps its place while the signals are gathered
    ui.kpi(signals_slot, ui.tr("kpi_signals_review"), "…", help=ui.tr("kpi_signals_review_help"))

    st.subheader(ui.tr("headline_rates"))
    tab_table, tab_chart = st.tabs([ui.tr("tab_table"), ui.tr("tab_chart")])
    with tab_table:
        headline_table(rows, lg, report)
        if not rows["report_closed"].all():
            st.caption(ui.tr("report_open_note", period=report))
    with tab_chart:
        ui.show_chart(charts.forest_chart(rows, lang=lg), key="forest")
    ui.hidden_note(rows, *spc.values())

    st.subheader(ui.tr("signals"))
    st.caption(ui.tr("signals_caption_grouped", budget=i18n.number(signals.EXPECTED_FALSE_ALARMS_PER_YEAR, lg, 0)))
    funnels = data.cached(signals.funnel_frames, signals.watched("clinician"), filters=ctx.filters, as_of=ctx.as_of,
                          min_sessions=ctx.min_sessions)
    # the CUSUM check reads every outcome's sessions in order: it runs in the background, and the list shows
    # the control-chart and funnel signals at once and adds the CUSUM ones when they are ready
    done, result = data.background(signals.cusum_signal_rows, signals.watched("clinician"), filters=ctx.filters,
                                   as_of=ctx.as_of, min_sessions=ctx.min_sessions, wait=CUSUM_WAIT_SECONDS)
    cusum_rows, too_rare = result if done else (None, [])
    end = min(ctx.filters.date_to, ctx.as_of) if ctx.filters.date_to else ctx.as_of
    sig = signals.listed(signals.collect(signals.spc_signals(spc), signals.funnel_signals(funnels, end), cusum_rows))
    by_month = not ui.sees_sessions()  # a CUSUM crossing's day is the day of a session with the event
    if by_month:
        sig = signals.by_month(sig)
    ep = signals.with_last_day(signals.signal_episodes(sig), by_month=by_month)

    top = st.columns([3.2, 1.4, 1.6], vertical_alignment="bottom")
    since = since_input(ctx, top[1], by_month)
    flagged_before = data.cached(signals.funnel_flags_at, signals.watched("clinician"), since, filters=ctx.filters,
                                 min_sessions=ctx.min_sessions)
    scopes = {s: scoped(ep, s, ctx, since, flagged_before) for s in signals.SCOPES}
    with top[2]:
        improving = filters.synced(st.toggle, "improving", ui.tr("signals_show_improving"), default=False,
                                   help=ui.tr("signals_show_improving_help"))
    groups = {s: signals.signal_groups(e) for s, e in scopes.items()}
    concerning = {s: g[g["concern"].astype(bool)] if not g.empty else g for s, g in groups.items()}
    since_text = i18n.period_label(since.replace(day=1), "month", lg) if by_month else i18n.date(since, lg)
    scope_names = {"since": ui.tr("scope_since", date=since_text),
                   "report": ui.tr("scope_report", period=report), "all": ui.tr("scope_all")}
    with top[0]:
        scope = filters.synced(st.segmented_control, "scope", ui.tr("signals_scope"), options=list(signals.SCOPES),
                               default="since", required=True,
                               format_func=ui.labeller(None, {s: f"{scope_names[s]} ({len(concerning[s])})"
                                                             for s in signals.SCOPES}))
    shown = groups[scope] if improving else concerning[scope]
    # the KPI counts exactly the rows the list shows (concerning ones), and says so while the CUSUM is checked
    ui.kpi(signals_slot, ui.tr("kpi_signals_review"), i18n.number(len(concerning[scope]), lg),
           help=ui.tr("kpi_signals_review_help"),
           delta=ui.tr("kpi_signals_scope", scope=scope_names[scope]) if done
           else ui.tr("kpi_signals_provisional"))
    listed = ep[ep["concern"].astype(bool)] if not ep.empty else ep  # every concerning episode, any scope
    reviewed = reviews.summary(listed, reviews.reviews_path_for(data.db_path()), by_month=by_month)  # issue 12
    st.caption(ui.tr("overview_reviews", open=i18n.number(reviewed["open"], lg),
                     reviewed=i18n.number(reviewed["reviewed"], lg)))
    if not done:
        cusum_pending(ctx)
    signals_list(shown, lg, by_month,
                 ui.tr("signals_none_since", date=since_text) if scope == "since" else None)
    if too_rare:
        st.caption(ui.tr("signals_cusum_skipped", outcomes=", ".join(ui.outcome_label(k) for k in too_rare)))


def cusum_pending(ctx: ui.Context) -> None:
    """A note that the CUSUM check is still running and the count is provisional; it polls and reruns the page once
    the check is done."""

    @st.fragment(run_every=CUSUM_POLL_SECONDS)
    def poll() -> None:
        finished, _ = data.background(signals.cusum_signal_rows, signals.watched("clinician"), filters=ctx.filters,
                                      as_of=ctx.as_of, min_sessions=ctx.min_sessions)
        if finished:
            st.rerun()
        st.info(ui.tr("signals_cusum_pending"), icon=":material/hourglass_top:")

    poll()


ui.run_page(main)
