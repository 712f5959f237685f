"""Overview: every outcome's rate for the period with its interval, reference range and Making Data Count reading,
follow-up completeness, and the list of signals (each linking to the chart that shows it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, registry, signals, small_cells
from pipelines.release import reviews

PAGE_PARAMS = ("kind", "concern", "page_n")
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


def headline_rows(rates: pd.DataFrame, spc: dict[str, pd.DataFrame], lg: str) -> pd.DataFrame:
    rows = []
    for r in rates.to_dict("records"):
        o = registry.get(r["metric"])
        ref = o.reference
        frame = spc.get(o.key, pd.DataFrame())
        rows.append({
            "key": o.key, "label": o.label(lg), "group": o.group, "rate": r["rate"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "numerator_n": r["numerator_n"], "denominator_n": r["denominator_n"],
            "eligible_n": r["eligible_n"], "followed_up_n": r["followed_up_n"], "awaiting_n": r["awaiting_n"],
            "followup_completeness": r["followup_completeness"], "needs_follow_up": o.needs_follow_up,
            "is_hidden": bool(r.get("is_hidden", False)),
            "ref_low": ref.low_pct if ref else None, "ref_high": ref.high_pct if ref else None,
            "reference_text": (ref.text_nb if lg == "nb" else ref.text_en) if ref else "",
            "reading": analysis.variation_reading(frame, higher_is_better=o.higher_is_better),
            "trend": _trend(frame),
        })
    return pd.DataFrame(rows)


def headline_table(rows: pd.DataFrame, lg: str) -> None:
    colour = {"special_cause_concerning": charts.CONCERNING, "special_cause_improving": charts.IMPROVING,
              "common_cause": charts.GREY, "": charts.LIGHT_GREY}
    marks = {"special_cause_concerning": "▲", "special_cause_improving": "▼", "common_cause": "●", "": "○"}
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
    ui.table(styled, height=35 * (len(table) + 1) + 3, column_config={
        ui.tr("col_outcome"): st.column_config.TextColumn(width=235),
        ui.tr("col_rate"): st.column_config.TextColumn(help=i18n.tn("small_n", charts.SMALL_N, lg), width=72),
        ui.tr("col_interval"): st.column_config.TextColumn(width=98),
        ui.tr("col_events_short"): st.column_config.TextColumn(width=112, help=ui.tr("col_events")),
        ui.tr("col_reference"): st.column_config.TextColumn(width=80, help=ui.tr("reference_band")),
        ui.tr("col_reading"): st.column_config.TextColumn(help=f"{ui.tr('reading_help')} {ui.tr('reading_closed_note')}",
                                                          width=160),
        ui.tr("col_completeness"): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f %%",
                                                                   help=ui.tr("kpi_completeness_help"), width=90),
        ui.tr("col_trend"): st.column_config.LineChartColumn(y_min=0, width=90),
        ui.tr("col_link"): st.column_config.LinkColumn(display_text=":material/open_in_new:", width=52,
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
        return i18n.t("rule_sigma", lg, value=i18n.pct(s["value"], lg), limit=i18n.pct(s["limit"], lg))
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
        return i18n.t("rule_funnel_998", lg, value=i18n.pct(s["value"], lg), num=i18n.number(s["numerator_n"], lg),
                      den=i18n.number(s["denominator_n"], lg), target=i18n.pct(s["detail_a"], lg))
    return i18n.t("rule_cusum", lg, value=i18n.number(s["value"], lg, 2), limit=i18n.number(s["limit"], lg, 2))


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


def signals_list(sig: pd.DataFrame, lg: str, by_month: bool = False) -> None:
    top = st.columns([3, 2], vertical_alignment="bottom")
    kinds = ["all", *signals.KINDS]
    counts = {k: int((sig["kind"] == k).sum()) for k in signals.KINDS}
    counts["all"] = len(sig)
    with top[0]:
        kind = filters.synced(st.segmented_control, "kind", ui.tr("signals_kind_filter"), options=kinds,
                              default="all", required=True,
                              format_func=ui.labeller(None, {k: f"{ui.tr('signals_all') if k == 'all' else ui.tr('kind_' + k)}"
                                                                f" ({counts[k]})" for k in kinds}))
    with top[1]:
        concern_only = filters.synced(st.toggle, "concern", ui.tr("signals_concerning_only"), default=False)
    shown = sig if kind == "all" else sig[sig["kind"] == kind]
    if concern_only:
        shown = shown[shown["concern"].astype(bool)]
    if shown.empty:
        st.success(ui.tr("signals_none"), icon=":material/check_circle:")
        return
    pages = max(1, -(-len(shown) // SIGNALS_PER_PAGE))
    page_n = filters.pagination("page_n", pages, render=False)
    rows = shown.iloc[(page_n - 1) * SIGNALS_PER_PAGE: page_n * SIGNALS_PER_PAGE].to_dict("records")
    widths = [1.15, 1.25, 2.3, 1.05, 4.9, 1.15]
    head = st.columns(widths)
    for col, key in zip(head, ("col_when", "col_kind", "col_outcome", "clinician", "col_what_fired", "col_link"),
                        strict=True):
        col.caption(ui.tr(key))
    for s in rows:
        c = st.columns(widths, vertical_alignment="center")
        when = episode_when(s, lg, by_month)
        c[0].markdown(f"**{when}**")
        colour = "orange" if s["concern"] else "blue"
        c[1].badge(ui.tr(f"kind_short_{s['kind']}"), color=colour,
                   icon=":material/warning:" if s["concern"] else ":material/trending_down:")
        c[2].markdown(ui.outcome_label(s["outcome"]))
        clinician = s["clinician"] if isinstance(s["clinician"], str) else ""  # a clinic-wide episode has none
        c[3].markdown(clinician or f"*{ui.tr('clinic')}*")
        c[4].markdown(signal_text(s, lg))
        page, params = signal_link(s)
        with c[5]:
            ui.page_link(page, ui.tr("open_chart_short"), **params)
    if pages > 1:
        bottom = st.columns([1, 3], vertical_alignment="center")
        bottom[0].caption(ui.tr("showing", first=(page_n - 1) * SIGNALS_PER_PAGE + 1,
                                last=min(page_n * SIGNALS_PER_PAGE, len(shown)), total=len(shown)))
        with bottom[1]:
            filters.pagination("page_n", pages)


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_overview", ui.tr("overview_caption", period=ui.period_text(ctx), as_of=i18n.date(ctx.as_of)))
    rates = data.cached(small_cells.rates, None, filters=ctx.filters, as_of=ctx.as_of,
                        min_sessions=ctx.min_sessions)
    spc = data.cached(signals.spc_frames, None, filters=ctx.filters, as_of=ctx.as_of, min_sessions=ctx.min_sessions)
    rows = headline_rows(rates, spc, lg)

    k = st.columns(4)
    ui.kpi(k[0], ui.tr("kpi_sessions"), i18n.number(ctx.sessions_n, lg), help=ui.tr("kpi_sessions_help"))
    comp = rows.loc[rows["needs_follow_up"] & (rows["eligible_n"] > 0), "followup_completeness"]
    ui.kpi(k[1], ui.tr("kpi_completeness"),
           ui.tr("kpi_completeness_value", low=i18n.pct(comp.min(), lg, 0), high=i18n.pct(comp.max(), lg, 0))
           if len(comp) else "–", help=ui.tr("kpi_completeness_help"))
    special = rows[rows["reading"].str.startswith("special_cause_concerning")]
    ui.kpi(k[2], ui.tr("kpi_special"), i18n.number(len(special), lg),
           help=f"{ui.tr('kpi_special_help')} {ui.tr('reading_closed_note')}")
    signals_slot = k[3].empty()

    st.subheader(ui.tr("headline_rates"))
    tab_table, tab_chart = st.tabs([ui.tr("tab_table"), ui.tr("tab_chart")])
    with tab_table:
        headline_table(rows, lg)
    with tab_chart:
        ui.show_chart(charts.forest_chart(rows, lang=lg), key="forest")
    ui.hidden_note(rows, *spc.values())

    st.subheader(ui.tr("signals"))
    st.caption(ui.tr("signals_caption", budget=i18n.number(signals.EXPECTED_FALSE_ALARMS_PER_YEAR, lg, 0)))
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
    sig = signals.signal_episodes(sig)
    ui.kpi(signals_slot, ui.tr("kpi_signals"), i18n.number(int(sig["concern"].astype(bool).sum()), lg),
           help=ui.tr("kpi_signals_help"), delta=None if done else ui.tr("signals_cusum_pending_short"))
    reviewed = reviews.summary(sig, reviews.reviews_path_for(data.db_path()), by_month=by_month)  # issue 12
    st.caption(ui.tr("overview_reviews", open=i18n.number(reviewed["open"], lg),
                     reviewed=i18n.number(reviewed["reviewed"], lg)))
    if not done:
        cusum_pending(ctx)
    signals_list(sig, lg, by_month)
    if too_rare:
        st.caption(ui.tr("signals_cusum_skipped", outcomes=", ".join(ui.outcome_label(k) for k in too_rare)))


def cusum_pending(ctx: ui.Context) -> None:
    """A note that the CUSUM check is still running; it polls and reruns the page once the check is done."""

    @st.fragment(run_every=CUSUM_POLL_SECONDS)
    def poll() -> None:
        finished, _ = data.background(signals.cusum_signal_rows, signals.watched("clinician"), filters=ctx.filters,
                                      as_of=ctx.as_of, min_sessions=ctx.min_sessions)
        if finished:
            st.rerun()
        st.info(ui.tr("signals_cusum_pending"), icon=":material/hourglass_top:")

    poll()


ui.run_page(main)
