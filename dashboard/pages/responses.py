"""Headache and sweating outcomes: responder / non-responder rates for migraine, tension headache and
hyperhidrosis (from the registry's non-response outcomes), and the change in headache days from baseline."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, changes, counting, registry, responses, small_cells

PAGE_PARAMS = ()
GROUPS = (  # (indication, registry outcome, published responder rate)
    ("migraine", responses.HEADACHE_OUTCOME, 0.448),
    ("tension_headache", responses.HEADACHE_OUTCOME, None),
    ("hyperhidrosis", responses.SWEATING_OUTCOME, 0.75),  # HDSS at least 2 points better at week 4 (Lowe 2007)
)


def restricted(f: counting.Filters, indication: str) -> counting.Filters | None:
    """The page's indication within the sidebar filters (None when the sidebar excludes it)."""
    if f.indications and indication not in f.indications:
        return None
    return dataclasses.replace(f, indications=(indication,))


def policy_text(o: registry.Outcome, lg: str) -> str:
    if o.lost_to_follow_up == "event":
        return ui.tr("lost_as_event", label=ui.tr("non_responders").lower())
    return ui.tr("lost_excluded")


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_responses", ui.tr("responses_caption"))
    cols = st.columns(3)
    series, refs = [], {}
    for col, (ind, key, published) in zip(cols, GROUPS, strict=True):
        o = registry.get(key)
        with col.container(border=True):
            st.markdown(f"**{i18n.label('ind', ind, lg)}**")
            f = restricted(ctx.filters, ind)
            if f is None:
                st.caption(ui.tr("not_in_filter"))
                continue
            r = data.cached(small_cells.rates, key, filters=f, as_of=ctx.as_of,
                            min_sessions=ctx.min_sessions).iloc[0]
            if ui.is_hidden(r):  # fewer sessions than a figure for this role may cover
                st.caption(ui.hidden_mark())
                continue
            if r["denominator_n"] == 0:
                st.caption(f"{ui.tr('rate_not_recorded')}: {ui.tr('rate_not_recorded_help')}"
                           if r["eligible_n"] > 0 else ui.tr("no_eligible"))
                continue
            responders = int(r["denominator_n"] - r["numerator_n"])
            st.metric(ui.tr("responder_rate"), i18n.pct(1 - r["rate"], lg),
                      delta=ui.tr("responder_of", num=i18n.number(responders, lg),
                                  den=i18n.number(r["denominator_n"], lg)) + (" ⚠" if r["denominator_n"] <
                                                                                charts.SMALL_N else ""),
                      delta_color="off", delta_arrow="off",
                      help=ui.tr("hover_ci", low=i18n.pct(1 - r["ci_high"], lg), high=i18n.pct(1 - r["ci_low"], lg)))
            st.caption(f"{ui.tr('interval')}: {i18n.pct_range(1 - r['ci_high'], 1 - r['ci_low'], lg)}  \n"
                       f"{ui.tr('non_responders')}: {i18n.pct(r['rate'], lg)} "
                       f"({i18n.number(r['numerator_n'], lg)})  \n"
                       f"{ui.tr('completeness_short')}: {i18n.pct(r['followup_completeness'], lg, 0)}  \n"
                       f"{ui.tr('responder_reference', text=ui.tr('responder_reference_' + ind))}  \n"
                       f"{policy_text(o, lg)}")
            quarterly = data.cached(small_cells.rates, key, period="quarter", filters=f, as_of=ctx.as_of,
                                    min_sessions=ctx.min_sessions)
            # a quarter whose windows have not all closed is drawn apart and does not set the scale
            series.append(quarterly.assign(indication=ind, period_closed=analysis.periods_closed(
                quarterly["period_start"], key, "quarter", ctx.as_of, f.date_to)))
            refs[ind] = published
    if series:
        frame = pd.concat(series, ignore_index=True)
        fig = charts.rate_time_chart(
            frame, lang=lg, title=ui.tr("responder_time_title"), subtitle=ui.tr("responder_time_subtitle"),
            series="indication", series_labels={ind: i18n.label("ind", ind, lg) for ind, _, _ in GROUPS},
            invert=True, references=refs, period="quarter", y_title=ui.tr("responder_rate") + " (%)")
        found = changes.concerning(data.cached(changes.process_changes), None, ctx.filters)  # issue 12
        found = found[found["outcome"].isin(["", *(key for _, key, _ in GROUPS)])] if len(found) else found
        charts.add_process_changes(fig, found, lg, by_month=not ui.sees_sessions())
        ui.show_chart(fig, key="responders")

    st.subheader(ui.tr("headache_change"))
    st.caption(ui.tr("headache_change_caption"))
    labels = {ind: i18n.label("ind", ind, lg) for ind in ("migraine", "tension_headache")}
    c = st.columns(2)
    with c[0]:
        by_quarter = data.cached(small_cells.headache_change, period="quarter", filters=ctx.filters,
                                 as_of=ctx.as_of, min_sessions=ctx.min_sessions)
        ui.show_chart(charts.change_chart(by_quarter, lang=lg, labels=labels), key="change")
    with c[1]:
        dist = data.cached(small_cells.headache_change_distribution, filters=ctx.filters, as_of=ctx.as_of,
                           min_sessions=ctx.min_sessions)
        ui.show_chart(charts.change_distribution_chart(dist, lang=lg, labels=labels), key="distribution")
        lost = int(dist.loc[dist["bin_start"].isna(), "sessions_n"].sum()) if not dist.empty else 0
        if lost:
            st.caption(i18n.tn("distribution_lost", lost, lg))
    overall = data.cached(small_cells.headache_change, period=None, filters=ctx.filters, as_of=ctx.as_of,
                          min_sessions=ctx.min_sessions)
    if not overall.empty:
        ui.table(pd.DataFrame({
            ui.tr("indication"): [labels.get(v, v) for v in overall["indication"]],
            ui.tr("sessions"): [ui.hidden_mark() if h else v for v, h in zip(ui.nums(overall["eligible_n"]),
                                                                            overall["is_hidden"], strict=True)],
            ui.tr("col_measured"): ui.nums(overall["measured_n"]),
            ui.tr("col_lost_n"): ui.nums(overall["lost_n"]),
            ui.tr("responders"): ui.nums(overall["responders_n"]),
            ui.tr("col_baseline"): [i18n.number(v, lg, 1) for v in overall["baseline_mean"]],
            ui.tr("col_follow_up"): [i18n.number(v, lg, 1) for v in overall["follow_up_mean"]],
            ui.tr("col_change"): [f"{i18n.number(m, lg, 1)} ({i18n.number(a, lg, 1)} – {i18n.number(b, lg, 1)})"
                                  for m, a, b in zip(overall["change_mean"], overall["change_low"],
                                                     overall["change_high"], strict=True)],
            ui.tr("col_pct_median"): [f"{i18n.number(v, lg, 0)} %" for v in overall["pct_change_median"]],
        }), right=[ui.tr("sessions"), ui.tr("col_measured"), ui.tr("col_lost_n"), ui.tr("responders"),
                   ui.tr("col_baseline"), ui.tr("col_follow_up"), ui.tr("col_pct_median")])

    f = restricted(ctx.filters, "hyperhidrosis")
    if f is not None:
        hdss = data.cached(small_cells.hdss_change, filters=ctx.filters, as_of=ctx.as_of,
                           min_sessions=ctx.min_sessions)
        c = st.columns([3, 2], vertical_alignment="center")
        with c[0]:
            ui.show_chart(charts.hdss_chart(hdss, lang=lg), key="hdss")
        missing = int(hdss.loc[hdss["hdss_drop"].isna(), "sessions_n"].sum()) if not hdss.empty else 0
        if missing:
            c[1].caption(i18n.tn("hdss_missing", missing, lg))
    ui.hidden_note(*series, by_quarter, dist, overall)


ui.run_page(main)
