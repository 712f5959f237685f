"""My results: one injector's own view (the `clinician` role, issue 13 item 7).

The viewer's one clinician code comes from the token or the role file (dashboard/auth.py; demo mode: the previewed
code), never from the URL or a widget. The page shows that clinician's rate per outcome with its 95 % interval and
the clinic's rate beside it, the funnel of one outcome with their own point marked and every colleague an unnamed
dot (no other code in the figure: not in its text, hover, customdata or legend; colleagues ordered by their
sessions and rate, never by code), their observed / expected with its interval, and their own risk-adjusted CUSUM.
Every figure comes from the same library frames as the Clinicians page (pipelines/metrics); the role has no
session-level access, so small cells are hidden and the CUSUM is by span of months (pipelines/metrics/small_cells.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, registry, signals, small_cells

PAGE_PARAMS = ("outcome",)
FUNNEL_METHOD, FUNNEL_OVERDISPERSION = "arcsine", "auto"  # the Clinicians page's defaults


def _position(flag: object, flag_95: object) -> str:
    if flag in ("high", "low"):
        return ui.tr(f"pos_{flag}")
    if flag_95 in ("high", "low"):
        return ui.tr(f"pos_{flag_95}95")
    return ui.tr("pos_inside")


def anonymous_funnel(funnel: pd.DataFrame, code: str, peer_label: str) -> pd.DataFrame:
    """The funnel's visible rows with every other clinician's code replaced by `peer_label`: the clinician's own
    row first, then the colleagues ordered by sessions and rate (an order the figure shows anyway), so that not
    even the order of the points follows the codes."""
    shown = small_cells.shown(funnel)
    own = shown[shown["clinician"] == code]
    peers = shown[shown["clinician"] != code].sort_values(["denominator_n", "rate"], kind="stable")
    peers = peers.assign(clinician=peer_label)
    return pd.concat([own, peers], ignore_index=True)


def unnamed_peers(fig, code: str) -> None:
    """The funnel figure's point labels: the clinician's own code, nothing beside a colleague's point."""
    for trace in fig.data:
        if getattr(trace, "text", None) is not None and not isinstance(trace.text, str):
            trace.text = [t if t == code else "" for t in trace.text]


def rates_table(own: pd.DataFrame, clinic: pd.DataFrame, lg: str) -> None:
    """One row per outcome: the clinician's sessions, events, rate and 95 % interval, and the clinic's rate and
    interval beside it. A hidden (small) cell shows no figure; fewer than SMALL_N sessions has ⚠."""
    own_by = own.set_index("metric")
    clinic_by = clinic.set_index("metric")
    rows = []
    for o in registry.OUTCOMES:
        if o.key not in own_by.index:
            continue
        r = own_by.loc[o.key]
        c = clinic_by.loc[o.key] if o.key in clinic_by.index else None
        den = r["denominator_n"]
        none = pd.isna(den) or den == 0
        hidden = ui.is_hidden(r)
        c_hidden = c is None or ui.is_hidden(c) or pd.isna(c["rate"])
        rows.append({
            ui.tr("outcome"): o.label(lg),
            ui.tr("sessions"): "–" if none and not hidden else (
                ui.hidden_mark() if hidden else i18n.number(den, lg) + ("  ⚠" if den < charts.SMALL_N else "")),
            ui.tr("events"): "" if hidden or none else i18n.number(r["numerator_n"], lg),
            ui.tr("my_rate"): "" if hidden or none else i18n.pct(r["rate"], lg),
            ui.tr("interval"): "" if hidden or none else i18n.pct_range(r["ci_low"], r["ci_high"], lg),
            ui.tr("clinic_rate"): "" if c_hidden else i18n.pct(c["rate"], lg),
            ui.tr("clinic_interval"): "" if c_hidden else i18n.pct_range(c["ci_low"], c["ci_high"], lg),
        })
    table = pd.DataFrame(rows)
    ui.table(table, right=[ui.tr("events"), ui.tr("my_rate"), ui.tr("clinic_rate")],
             column_config={ui.tr("sessions"): st.column_config.TextColumn(
                 alignment="right", help=i18n.tn("small_n", charts.SMALL_N, lg))})


def main() -> None:
    filters.page(PAGE_PARAMS)
    who = auth.current()
    code = who.clinician_code
    if not code or auth.clinician_problem(who):  # the app refused already (auth.admitted): never draw without it
        st.error(ui.tr("clinician_no_code", user=who.user, claim="clinician_code", column="clinician_code",
                       codes=""), icon=":material/lock:")
        st.stop()
    ctx = ui.context()
    lg = ctx.lang
    everyone = dataclasses.replace(ctx.filters, clinicians=())  # the clinician filter is never offered here
    mine = dataclasses.replace(ctx.filters, clinicians=(code,))
    ui.header("page_my_results", ui.tr("my_results_caption", clinician=code, period=ui.period_text(ctx)))

    # --- rates per outcome, the clinic's beside them ---------------------------------------------------------
    st.subheader(ui.tr("my_rates"))
    own = data.cached(small_cells.rates, None, filters=mine, as_of=ctx.as_of, min_sessions=ctx.min_sessions)
    clinic = data.cached(small_cells.rates, None, filters=everyone, as_of=ctx.as_of, min_sessions=ctx.min_sessions)
    rates_table(own, clinic, lg)
    st.caption(ui.tr("my_rates_note", n=charts.SMALL_N))
    ui.hidden_note(own, clinic)

    # --- one outcome: funnel among unnamed colleagues, O/E, CUSUM -----------------------------------------------
    st.subheader(ui.tr("my_outcome"))
    key = ui.outcome_picker()
    o = registry.get(key)
    auth.log_once(who, "page_view", "my_results", filters_text=auth.describe(everyone, outcome=key))
    least_followed = auth.min_completeness()
    funnel, info = data.cached(signals.funnel, key, method=FUNNEL_METHOD, overdispersion=FUNNEL_OVERDISPERSION,
                               filters=everyone, as_of=ctx.as_of, min_sessions=ctx.min_sessions,
                               low_completeness_below=least_followed)
    oe, _ = data.cached(analysis.case_mix, key, filters=mine, as_of=ctx.as_of, min_sessions=ctx.min_sessions)
    per_day = ui.sees_sessions()  # False for this role: the CUSUM by span of months, no day, no session
    summary = data.cached(signals.cusum_summary, key, filters=mine, as_of=ctx.as_of, per_day=per_day,
                          min_sessions=ctx.min_sessions)

    shown = anonymous_funnel(funnel, code, ui.tr("colleague"))
    mine_row = shown[shown["clinician"] == code]
    k = st.columns(3)
    if mine_row.empty:
        ui.kpi(k[0], ui.tr("funnel_position"), "–", help=ui.tr("my_position_none"))
    else:
        r = mine_row.iloc[0]
        ui.kpi(k[0], ui.tr("funnel_position"), _position(r.get("flag"), r.get("flag_95")),
               help=ui.tr("my_position_help"))
    oe_row = oe[oe["clinician"] == code] if not oe.empty else oe
    if oe_row.empty or ui.is_hidden(oe_row.iloc[0]) or pd.isna(oe_row.iloc[0]["oe_ratio"]):
        ui.kpi(k[1], ui.tr("col_oe"), "–", help=ui.tr("col_oe_help"))
    else:
        r = oe_row.iloc[0]
        ui.kpi(k[1], ui.tr("col_oe"), f"{i18n.number(r['oe_ratio'], lg, 2)}",
               delta=ui.tr("my_oe_delta", observed=i18n.number(r["observed_n"], lg),
                           expected=i18n.number(r["expected_n"], lg, 1), low=i18n.number(r["oe_low"], lg, 2),
                           high=i18n.number(r["oe_high"], lg, 2)), help=ui.tr("col_oe_help"))
    status = summary["status"]
    st_row = status[status["clinician"] == code] if not status.empty else status
    if summary["reason"] or st_row.empty:
        ui.kpi(k[2], ui.tr("col_cusum"), "–", help=i18n.tn("col_cusum_help", analysis.CUSUM_RECENT_DAYS, lg))
    else:
        ui.kpi(k[2], ui.tr("col_cusum"), i18n.label("cusum", st_row.iloc[0]["cusum_status"], lg),
               help=i18n.tn("col_cusum_help", analysis.CUSUM_RECENT_DAYS, lg))

    tabs = st.tabs([ui.tr("tab_funnel"), ui.tr("tab_oe"), ui.tr("tab_cusum")])
    with tabs[0]:
        visible_n = shown["denominator_n"].max() if not shown.empty else np.nan
        curve = analysis.funnel_curve(info, int(visible_n) if pd.notna(visible_n) else 1, FUNNEL_METHOD)
        fig = charts.funnel_chart(shown, curve, info, outcome_label=o.label(lg), lang=lg,
                                  reference=charts.reference_tuple(o.reference), highlight=code,
                                  min_completeness=least_followed)
        unnamed_peers(fig, code)
        ui.show_chart(fig, key="my_funnel")
        st.caption(ui.tr("my_funnel_note"))
    with tabs[1]:
        ui.show_chart(charts.oe_chart(oe_row, outcome_label=o.label(lg), lang=lg, highlight=code), key="my_oe")
        st.caption(ui.tr("col_oe_help"))
    with tabs[2]:
        if summary["reason"]:
            st.info(ui.tr(f"cusum_{summary['reason']}"), icon=":material/info:")
        elif per_day:
            ui.show_chart(charts.cusum_chart(summary["daily"], clinician=code, outcome_label=o.label(lg), lang=lg,
                                             arl0=analysis.CUSUM_ARL0), key="my_cusum")
        else:
            ui.show_chart(charts.cusum_monthly_chart(summary["monthly"], clinician=code, outcome_label=o.label(lg),
                                                     lang=lg, arl0=analysis.CUSUM_ARL0,
                                                     min_sessions=ctx.min_sessions), key="my_cusum")
    ui.hidden_note(funnel, oe)


ui.run_page(main)
