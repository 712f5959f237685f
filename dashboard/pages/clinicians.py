"""Clinicians: each clinician against the clinic rate (funnel plot with its method and limits named), observed /
expected after case mix, and the risk-adjusted CUSUM; a table by clinician code (never ranked by rate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, changes, registry, signals
from pipelines.metrics.counting import Filters

PAGE_PARAMS = ("outcome", "method", "od", "clinician", "tab")
TABS = ("funnel", "oe", "cusum")


def _position(flag, flag_95) -> str:
    if flag in ("high", "low"):
        return ui.tr(f"pos_{flag}")
    if flag_95 in ("high", "low"):
        return ui.tr(f"pos_{flag_95}95")
    return ui.tr("pos_inside")


def position(r: dict) -> str:
    """The clinician's place in the funnel; where FunnelPlotR's own funnel (every clinician in its overdispersion
    estimate) places them otherwise, its reading follows."""
    ours = _position(r.get("flag"), r.get("flag_95"))
    theirs = _position(r.get("flag_funnelplotr", r.get("flag")), r.get("flag_95_funnelplotr", r.get("flag_95")))
    return ours if theirs == ours else ui.tr("pos_funnelplotr_differs", ours=ours, theirs=theirs)


def clinician_table(funnel: pd.DataFrame, oe: pd.DataFrame, status: pd.DataFrame, lg: str, cusum_note: str,
                    min_completeness: float = analysis.LOW_COMPLETENESS_BELOW, outcome: str | None = None) -> None:
    """status: analysis.cusum_status, or its by-month form (signals.cusum_summary per_day=False: the latest signal
    named by its month). A clinician with low follow-up completeness (`is_low_completeness`) has ⚠ beside it."""
    if funnel.empty:
        return
    f = funnel.sort_values("clinician").reset_index(drop=True)
    hidden = [ui.is_hidden(r) for r in f.to_dict("records")]  # cells too small for this role: no figure
    low, high = f["ci_low"], f["ci_high"]  # the library's interval (none for a hidden cell)
    oe_by = oe.set_index("clinician") if not oe.empty else pd.DataFrame()
    st_by = status.set_index("clinician") if not status.empty else pd.DataFrame()

    def oe_text(c: str) -> tuple[str, str]:
        if c not in oe_by.index or ui.is_hidden(oe_by.loc[c]):
            return "–", "–"
        r = oe_by.loc[c]
        return (f"{i18n.number(r['oe_ratio'], lg, 2)} ({i18n.number(r['observed_n'], lg)} / "
                f"{i18n.number(r['expected_n'], lg, 1)})",
                f"{i18n.number(r['oe_low'], lg, 2)}–{i18n.number(r['oe_high'], lg, 2)}")

    def cusum_text(c: str) -> tuple[str, str]:
        if c not in st_by.index:
            return (cusum_note and ui.tr("none")) or "–", ""
        r = st_by.loc[c]
        label = i18n.label("cusum", r["cusum_status"], lg)
        if int(r["signals_n"]):
            last = (i18n.date(r["last_signal_on"], lg) if "last_signal_on" in r.index
                    else i18n.period_label(r["last_signal_month"], "month", lg))
            return label, ui.tr("cusum_signals_text", n=int(r["signals_n"]), last=last)
        return label, "0"

    oes = [oe_text(c) for c in f["clinician"]]
    cus = [cusum_text(c) for c in f["clinician"]]
    # a clinician with fewer than 20 sessions has ⚠ beside the count (the note column is gone: every column fits
    # the main column at 1,400 px, tests/test_doctor_browser.py); the CUSUM status names its signals beside it
    table = pd.DataFrame({
        ui.tr("clinician"): f["clinician"],
        ui.tr("sessions"): [ui.hidden_mark() if h else (v + ("  ⚠" if d < charts.SMALL_N else ""))
                            for v, h, d in zip(ui.nums(f["denominator_n"]), hidden, f["denominator_n"], strict=True)],
        ui.tr("events"): ui.nums(f["numerator_n"]),
        ui.tr("rate"): [i18n.pct(v, lg) for v in f["rate"]],
        ui.tr("interval"): [i18n.pct_range(a, b, lg) for a, b in zip(low, high, strict=True)],
        ui.tr("funnel_position"): ["–" if h else position(r) for r, h in zip(f.to_dict("records"), hidden,
                                                                              strict=True)],
        ui.tr("col_oe"): [x[0] for x in oes],
        ui.tr("col_oe_interval"): [x[1] for x in oes],
        ui.tr("col_cusum"): [f"{a} · {b}" if b and b != "0" else a for a, b in cus],
        ui.tr("col_completeness"): ["–" if h or pd.isna(r.get("followup_completeness"))
                                    else i18n.pct(r["followup_completeness"], lg, 0)
                                    + ("  ⚠" if r.get("is_low_completeness") else "")
                                    for r, h in zip(f.to_dict("records"), hidden, strict=True)],
    })
    links = outcome is not None and auth.current().may("case_review")
    if links:  # each clinician's sessions for the outcome over the whole period, one click away
        table[ui.tr("col_cases")] = [ui.link_url("complications", outcome=outcome, point="all", review_clin=c)
                                     for c in f["clinician"]]
    colour = {"high": charts.CONCERNING, "low": charts.IMPROVING}
    flags = list(f["flag"].fillna(""))
    styled = table.style.apply(lambda s: [f"color: {colour.get(fl, '#1F2328')}; font-weight: "
                                          f"{'600' if fl else '400'}" for fl in flags],
                               subset=[ui.tr("funnel_position")])
    ui.table(styled, height=35 * (len(table) + 1) + 3, right=[ui.tr("events"), ui.tr("rate")],
             column_config={
        ui.tr("clinician"): st.column_config.TextColumn(width=62),
        ui.tr("sessions"): st.column_config.TextColumn(width=80, alignment="right",
                                                       help=i18n.tn("small_n", charts.SMALL_N, lg)),
        ui.tr("events"): st.column_config.TextColumn(width=68, alignment="right"),
        ui.tr("rate"): st.column_config.TextColumn(width=54, alignment="right"),
        ui.tr("interval"): st.column_config.TextColumn(width=84),
        ui.tr("funnel_position"): st.column_config.TextColumn(width=88),
        ui.tr("col_oe"): st.column_config.TextColumn(help=ui.tr("col_oe_help"), width=136),
        ui.tr("col_oe_interval"): st.column_config.TextColumn(width=80),
        ui.tr("col_cusum"): st.column_config.TextColumn(help=i18n.tn("col_cusum_help", analysis.CUSUM_RECENT_DAYS, lg),
                                                        width=170),
        ui.tr("col_completeness"): st.column_config.TextColumn(
            help=ui.tr("col_completeness_help", pct=i18n.pct(min_completeness, lg, 0)), width=66),
        **({ui.tr("col_cases"): st.column_config.LinkColumn(display_text=":material/list_alt:", width=48,
                                                            help=ui.tr("open_cases_help"))} if links else {}),
    })


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_clinicians", ui.tr("clinicians_caption"))
    c = st.columns([2.2, 2, 1.6], vertical_alignment="bottom")
    key = ui.outcome_picker(container=c[0])
    method = ui.choice("method", "funnel_method", analysis.FUNNEL_METHODS, default="arcsine", prefix="method",
                       help_key="method_help", container=c[1], select=True)
    od = ui.choice("od", "overdispersion", analysis.OVERDISPERSION, default="auto", prefix="od", help_key="od_help",
                   container=c[2], select=True)
    o = registry.get(key)
    least_followed = auth.min_completeness()  # [clinic] min_completeness: lower follow-up is marked as low
    funnel, info = data.cached(signals.funnel, key, method=method, overdispersion=od, filters=ctx.filters,
                               as_of=ctx.as_of, min_sessions=ctx.min_sessions, low_completeness_below=least_followed)
    oe, _oe_info = data.cached(analysis.case_mix, key, filters=ctx.filters, as_of=ctx.as_of,
                               min_sessions=ctx.min_sessions)
    per_day = ui.sees_sessions()  # others get the CUSUM by month: no day, no session (docs/security.md)
    summary = data.cached(signals.cusum_summary, key, filters=ctx.filters, as_of=ctx.as_of, per_day=per_day,
                          min_sessions=ctx.min_sessions)
    status, reason = summary["status"], summary["reason"]
    cusum_note = ui.tr(f"cusum_{reason}") if reason else ""

    clinicians = sorted(funnel["clinician"]) if not funnel.empty else sorted(ctx.options["clinicians"])
    recent = status.loc[status["cusum_status"] == "signal", "clinician"] if not status.empty else []
    focus_default = recent.iloc[0] if len(recent) else (clinicians[0] if clinicians else None)
    chosen = filters.peek("clinician")  # set by a link (?clinician=) or the CUSUM selector: ringed in the charts
    tab_param = filters.get("tab", "funnel")
    labels = {"funnel": ui.tr("tab_funnel"), "oe": ui.tr("tab_oe"), "cusum": ui.tr("tab_cusum")}
    tabs = st.tabs([labels[k] for k in TABS], default=labels.get(tab_param, labels["funnel"]))
    focus = chosen if chosen in clinicians else focus_default
    ring = chosen if chosen in clinicians and "clinician" in st.query_params else None
    cases_label = ui.tr("open_cases_of", clinician=focus, outcome=o.label(lg)) if focus else None
    with tabs[0]:
        curve = analysis.funnel_curve(info, int(funnel["denominator_n"].max()) if not funnel.empty else 1, method)
        ui.show_chart(charts.funnel_chart(funnel, curve, info, outcome_label=o.label(lg), lang=lg,
                                          reference=charts.reference_tuple(o.reference), highlight=ring,
                                          min_completeness=least_followed),
                      key="funnel")
        if focus:  # one click to the clinician's sessions for the outcome over the whole period
            ui.cases_link(key, focus, label=cases_label)
    with tabs[1]:
        ui.show_chart(charts.oe_chart(oe, outcome_label=o.label(lg), lang=lg, highlight=ring), key="oe")
        if focus:
            ui.cases_link(key, focus, label=cases_label)
    with tabs[2]:
        if reason:
            st.info(cusum_note, icon=":material/info:")
        else:
            cc = st.columns([1, 3])
            with cc[0]:
                focus = filters.synced(st.selectbox, "clinician", ui.tr("focus_clinician"), options=clinicians,
                                       default=focus_default)
            if per_day:
                fig = charts.cusum_chart(summary["daily"], clinician=focus, outcome_label=o.label(lg), lang=lg,
                                         arl0=analysis.CUSUM_ARL0)
            else:
                fig = charts.cusum_monthly_chart(summary["monthly"], clinician=focus, outcome_label=o.label(lg),
                                                 lang=lg, arl0=analysis.CUSUM_ARL0, min_sessions=ctx.min_sessions)
            charts.add_process_changes(fig, changes.concerning(data.cached(changes.process_changes), key,  # issue 12
                                                               Filters(clinicians=(focus,))), lg,
                                       by_month=not per_day)
            ui.show_chart(fig, key="cusum")
            if focus:
                ui.cases_link(key, focus, label=ui.tr("open_cases_of", clinician=focus, outcome=o.label(lg)))
    st.subheader(ui.tr("clinician_table"))
    if funnel.empty:
        st.info(ui.tr("funnel_empty"))
    clinician_table(funnel, oe, status, lg, cusum_note, least_followed, outcome=key)
    ui.hidden_note(funnel, oe)
    if not funnel.empty and np.isfinite(info.get("target", np.nan)):
        if info.get("excluded"):
            st.caption(ui.tr("funnel_robust_note", clinicians=", ".join(info["excluded"]),
                             phi=i18n.number(info["phi"], lg, 1), phi_all=i18n.number(info["phi_funnelplotr"], lg, 1)))
        st.caption(ui.tr("col_oe_help"))


ui.run_page(main)
