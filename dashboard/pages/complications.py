"""Complications (responsible doctor): one outcome over time as a p / p' chart with its limits and signals, the
breakdown by indication, area and product, and the sessions behind a point for case review."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, changes, counting, registry, signals, small_cells, targets

PAGE_PARAMS = ("outcome", "chart", "rules", "period", "point", "review_clin", "which", "review_page")
REVIEW_PAGE_SIZE = 25
PERIODS = ("month", "quarter", "week")


def definition(o: registry.Outcome, lg: str) -> None:
    with st.expander(f"{ui.tr('definition')}: {o.label(lg)}", expanded=False, icon=":material/info:"):
        st.markdown(o.description(lg))
        st.markdown(f"**{ui.tr('eligible')}:** {o.eligible_nb if lg == 'nb' else o.eligible_en}  \n"
                    f"**{ui.tr('window')}:** {o.window_text(lg)}  \n"
                    f"**{ui.tr('about_lost')}:** "
                    + (ui.tr("about_lost_event", label=o.label(lg).lower()) if o.lost_to_follow_up == "event"
                       else ui.tr("about_no_follow_up") if not o.needs_follow_up else ui.tr("about_lost_excluded")))
        if o.reference:
            ref = o.reference
            st.markdown(f"**{ui.tr('reference')}:** {ref.text_nb if lg == 'nb' else ref.text_en}"
                        f"{' (' + ui.tr('estimate') + ')' if ref.is_estimate else ''}  \n"
                        + (f"**{ui.tr('about_source')}:** {ui.source_text(ref, lg)}" if ref.source_text(lg) else ""))


def headline(o: registry.Outcome, ctx: ui.Context) -> None:
    lg = ctx.lang
    r = data.cached(small_cells.rates, o.key, filters=ctx.filters, as_of=ctx.as_of,
                    min_sessions=ctx.min_sessions).iloc[0]
    hidden = ui.is_hidden(r)  # fewer sessions in the rate than a figure for this role may cover
    c = st.columns(4)
    if hidden:
        ui.kpi(c[0], ui.tr("rate"), "–", delta=ui.hidden_mark(),
               help=i18n.tn("cells_hidden_note", small_cells.MIN_SESSIONS, lg))
    elif r["denominator_n"] == 0 and r["eligible_n"] > 0:  # nothing assessed the outcome: unknown, not 0 %
        ui.kpi(c[0], ui.tr("rate"), ui.tr("rate_not_recorded"), help=ui.tr("rate_not_recorded_help"))
    else:
        ui.kpi(c[0], ui.tr("rate"), i18n.pct(r["rate"], lg),
               help=ui.tr("hover_rate", rate=i18n.pct(r["rate"], lg), num=i18n.number(r["numerator_n"], lg),
                          den=i18n.number(r["denominator_n"], lg)),
               delta=ui.tr("events_of", num=i18n.number(r["numerator_n"], lg),
                           den=i18n.number(r["denominator_n"], lg))
               + (" ⚠" if r["denominator_n"] < charts.SMALL_N else ""))
    ui.kpi(c[1], ui.tr("interval"), i18n.pct_range(r["ci_low"], r["ci_high"], lg))
    ref = o.reference
    ref_value = ui.reference_short(ref, lg)
    ui.kpi(c[2], ui.tr("reference"), ref_value if ref_value != "–" else ui.tr("reference_none"),
           help=(ref.text_nb if lg == "nb" else ref.text_en)
           + (f" ({ref.source_text(lg)})" if ref.source_text(lg) else "") if ref else None)
    ui.kpi(c[3], ui.tr("completeness"),
           i18n.pct(r["followup_completeness"], lg, 0) if o.needs_follow_up else "–",
           help=None if hidden else ui.tr("hover_completeness", pct=i18n.pct(r["followup_completeness"], lg),
                                          num=i18n.number(r["followed_up_n"], lg),
                                          den=i18n.number(r["eligible_n"], lg)),
           delta=i18n.tn("awaiting_short", r["awaiting_n"], lg)
           if not hidden and r["awaiting_n"] else None)


REVIEW_ALL = "all"  # the case review's period: the whole period under the filters (?point=all)
REVIEW_MOST_ROWS = 10_000  # the review list's download holds at most this many sessions


def review_filters(ctx: ui.Context, picked: str, period: str, clinician: str) -> counting.Filters:
    """The filters of the case review: the picked period (a chart period, or the whole period under the filters)
    and the picked clinician (else the sidebar's clinicians)."""
    f = ctx.filters
    if picked == REVIEW_ALL:
        start, end = f.date_from, f.date_to
    else:
        start = dt.date.fromisoformat(picked)
        end = (pd.Timestamp(start) + pd.tseries.frequencies.to_offset(analysis.PERIOD_FREQ[period])).date() \
            - dt.timedelta(days=1)
        start = max(start, f.date_from) if f.date_from else start
        end = min(end, f.date_to) if f.date_to else end
    return counting.Filters(date_from=start, date_to=end, clinicians=(clinician,) if clinician else f.clinicians,
                            indications=f.indications, areas=f.areas, products=f.products)


def review_frame(o: registry.Outcome, page: pd.DataFrame, reasons: pd.DataFrame, lg: str, *,
                 compact: bool = False) -> pd.DataFrame:
    """The case review's table: one row per session, with why it counts (components.why_counts). `compact` (the
    page): what was treated in one column and no contacts / repeat / effect columns, so that every column fits the
    main column at 1,400 px without sideways scrolling; the download holds them all."""
    yes, no = i18n.t("yes", lg), i18n.t("no", lg)
    why = {r["treatment_id"]: r for r in reasons.to_dict("records")}
    areas = [", ".join(i18n.label("area", a, lg) for a in str(v).split("|")) for v in page["areas"]]
    out = {
        i18n.t("col_treatment_id", lg): page["treatment_id"],
        i18n.t("col_patient_ref", lg): page["patient_ref"],
        i18n.t("col_treated_on", lg): [i18n.date(d, lg) for d in page["treated_on"]],
        i18n.t("clinician", lg): page["clinician"],
        i18n.t("col_event", lg): [yes if v else no for v in page["event"]],
        i18n.t("col_why", lg): [ui.why_counts(why.get(t, {}), o.key, event=bool(e), lost=bool(lost), lg=lg)
                                for t, e, lost in zip(page["treatment_id"], page["in_numerator"], page["lost"],
                                                      strict=True)],
    }
    if compact:
        out[i18n.t("col_treatment", lg)] = [
            f"{a} · {p} {i18n.number(u, lg, 1).removesuffix(',0').removesuffix('.0')}"
            for a, p, u in zip(areas, page["product"], page["units"], strict=True)]
        out[i18n.t("indication", lg)] = [i18n.label("ind", v, lg) for v in page["indication"]]
        return pd.DataFrame(out)
    out.update({
        i18n.t("col_contacts", lg): page["contacts_n"],
        i18n.t("col_last_effect", lg): [i18n.label("effect", v, lg) if isinstance(v, str) else "" for v in
                                        page["last_effect"]],
        i18n.t("col_areas", lg): areas,
        i18n.t("product", lg): page["product"],
        i18n.t("col_units", lg): page["units"],
        i18n.t("col_repeat", lg): [yes if v else no for v in page["is_repeat"]],
        i18n.t("indication", lg): [i18n.label("ind", v, lg) for v in page["indication"]],
    })
    return pd.DataFrame(out)


def review(o: registry.Outcome, ctx: ui.Context, frame: pd.DataFrame, period: str, chosen: dt.date | None) -> None:
    lg = ctx.lang
    who = auth.current()
    if not who.may("case_review"):  # lists of sessions are the doctor's (pipelines/release/access.py)
        st.caption(ui.tr("case_review_not_for_role"))
        return
    st.subheader(ui.tr("case_review"))
    st.caption(i18n.tn("case_review_caption", REVIEW_PAGE_SIZE, ui.lang()))
    periods = [p for p in frame.loc[frame["denominator_n"] > 0, "period_start"]][::-1]
    if not periods:
        st.info(ui.tr("no_eligible"))
        return
    iso = [p.isoformat() for p in periods]
    c = st.columns([1.1, 1, 2], vertical_alignment="bottom")
    with c[0]:
        picked = filters.synced(st.selectbox, "point", ui.tr("review_period"), options=[REVIEW_ALL, *iso],
                                default=chosen.isoformat() if chosen and chosen.isoformat() in iso else iso[0],
                                format_func=lambda v: ui.tr("review_whole_period") if v == REVIEW_ALL else
                                i18n.period_label(dt.date.fromisoformat(v), period, lg))
    with c[1]:
        offered = [k for k in ctx.options["clinicians"] if not ctx.filters.clinicians or k in ctx.filters.clinicians]
        clinician = filters.synced(st.selectbox, "review_clin", ui.tr("review_clinician"), options=["", *offered],
                                   default="", format_func=lambda v: v or i18n.t("review_all_clinicians", lg))
    with c[2]:
        which = ui.choice("which", "review_which", signals.REVIEW_SETS, default="numerator", prefix="review")
    narrowed = review_filters(ctx, picked, period, clinician)
    page_n = filters.pagination("review_page", 10_000, render=False)
    page, total = data.cached(signals.case_review, o.key, which=which, filters=narrowed, as_of=ctx.as_of,
                              limit=REVIEW_PAGE_SIZE, offset=(page_n - 1) * REVIEW_PAGE_SIZE)
    pages = max(1, -(-total // REVIEW_PAGE_SIZE))
    if page_n > pages:
        filters.canon()["review_page"] = 1
        page, total = data.cached(signals.case_review, o.key, which=which, filters=narrowed, as_of=ctx.as_of,
                                  limit=REVIEW_PAGE_SIZE, offset=0)
    if total == 0:
        st.info(ui.tr("review_none"))
        return
    auth.view_rows(who, "complications: case review", len(page), ctx.filters, outcome=o.key, period=picked,
                   clinician=clinician, sessions=which, page=page_n if page_n <= pages else 1)
    reasons = data.cached(signals.case_reasons, o.key, tuple(page["treatment_id"]), as_of=ctx.as_of)
    shown = review_frame(o, page, reasons, lg, compact=True)
    # every column fits the main column at 1,400 px with the sidebar open (tests/test_doctor_browser.py); a long
    # cell ends in '…' and shows whole on hover
    ui.table(shown, column_config={
        ui.tr("col_treatment_id"): st.column_config.TextColumn(width=78),
        ui.tr("col_patient_ref"): st.column_config.TextColumn(width=112),
        ui.tr("col_treated_on"): st.column_config.TextColumn(width=84),
        ui.tr("clinician"): st.column_config.TextColumn(width=70),
        ui.tr("col_event"): st.column_config.TextColumn(width=62),
        ui.tr("col_why"): st.column_config.TextColumn(width=250, help=ui.tr("col_why_help")),
        ui.tr("col_treatment"): st.column_config.TextColumn(width=170, help=ui.tr("col_treatment_help")),
        ui.tr("indication"): st.column_config.TextColumn(width=100)})

    def build() -> tuple[bytes, int]:
        every, _n = data.cached(signals.case_review, o.key, which=which, filters=narrowed, as_of=ctx.as_of,
                                limit=REVIEW_MOST_ROWS, offset=0)
        why = data.cached(signals.case_reasons, o.key, tuple(every["treatment_id"]), as_of=ctx.as_of)
        body = review_frame(o, every, why, lg).to_csv(index=False, sep=";" if lg == "nb" else ",")
        return body.encode("utf-8-sig"), len(every)

    c = st.columns([1, 1.6, 1.4], vertical_alignment="center")
    c[0].caption(ui.tr("showing", first=(min(page_n, pages) - 1) * REVIEW_PAGE_SIZE + 1,
                       last=min(min(page_n, pages) * REVIEW_PAGE_SIZE, total), total=total))
    if pages > 1:
        with c[1]:
            filters.pagination("review_page", pages)
    name = f"review_{o.key}_{picked}{'_' + clinician if clinician else ''}_{which}.csv"
    c[2].download_button(ui.tr("review_download"), help=ui.tr("review_download_help"),
                         data=auth.logged_download(who, f"complications: review list {o.key}",
                                                   auth.describe(ctx.filters, outcome=o.key, period=picked,
                                                                 clinician=clinician, sessions=which), build),
                         file_name=name, mime="text/csv", key="download_review", icon=":material/download:",
                         on_click="ignore", width="stretch")


def incomplete_note(frame: pd.DataFrame, period: str, ctx: ui.Context) -> None:
    """Names the periods drawn apart as incomplete (`period_closed` False): shown, never judged."""
    if frame.empty or "period_closed" not in frame:
        return
    open_ = frame[~frame["period_closed"].astype(bool) & (frame["denominator_n"].fillna(0) > 0)]
    if open_.empty:
        return
    periods = ", ".join(i18n.period_label(p, period, ctx.lang) for p in open_["period_start"])
    st.caption(ui.tr("spc_incomplete_note", periods=periods, as_of=i18n.date(ctx.as_of, ctx.lang)))


def spc_chart(key: str, o: registry.Outcome, ctx: ui.Context, frame: pd.DataFrame, *, chart: str, rules: str,
              period: str, chosen: dt.date | None) -> dt.date | None:
    """The p / p' chart by period; a click on a point chooses the period reviewed below (returned)."""
    lg = ctx.lang
    least_followed = auth.min_completeness()
    fig = charts.spc_chart(frame, outcome_label=o.label(lg), lang=lg, chart=chart, rules=rules, period=period,
                           reference=charts.reference_tuple(o.reference),
                           reference_text=(o.reference.text_nb if lg == "nb" else o.reference.text_en)
                           if o.reference else None, higher_is_better=o.higher_is_better, highlight=chosen,
                           min_completeness=least_followed,
                           report=(ctx.report.start, ctx.report.end) if ctx.report and period == "month" else None,
                           report_label=ui.tr("report_band", period=ui.report_text(ctx)),
                           **quality_marks(key, frame, ctx))
    event = ui.show_chart(fig, key=f"spc_{key}_{chart}_{rules}_{period}", on_select="rerun",
                          selection_mode=("points",))
    incomplete_note(frame, period, ctx)
    ui.hidden_note(frame)
    points = (event.selection.points if event and getattr(event, "selection", None) else None) or []
    if points:
        x = points[0].get("x")
        if x:
            clicked = pd.Timestamp(x).date()
            if clicked in set(frame["period_start"]) and clicked != st.session_state.get("_spc_click"):
                st.session_state["_spc_click"] = clicked
                filters.canon()["point"] = clicked.isoformat()
                st.session_state.pop(filters.widget_key("point"), None)
                st.rerun()
    return chosen


def g_chart(key: str, o: registry.Outcome, ctx: ui.Context, *, auto: bool) -> None:
    """The g-chart of the sessions between events (a rare outcome; roles that see sessions only)."""
    lg = ctx.lang
    frame = data.cached(analysis.g_chart, key, filters=ctx.filters, as_of=ctx.as_of)
    fig = charts.g_chart(frame, outcome_label=o.label(lg), lang=lg, as_of=ctx.as_of,
                         sessions_since_last=frame.attrs.get("sessions_since_last"),
                         sessions_n=frame.attrs.get("sessions_n"),
                         changes=changes.concerning(data.cached(changes.process_changes), key, ctx.filters))
    ui.show_chart(fig, key=f"g_{key}")
    if auto:
        st.caption(ui.tr("g_auto_note"))


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_complications", ui.tr("complications_caption"))
    c = st.columns([2.1, 1.9, 1.5, 1.8], vertical_alignment="bottom")
    key = ui.outcome_picker(container=c[0])
    # the g-chart lists single events (their dates): offered to the roles that see sessions; "auto" picks it for a
    # rare outcome (analysis.is_rare)
    sees = ui.sees_sessions()
    picked = ui.choice("chart", "chart_type", ("auto", *analysis.CHARTS, "g") if sees else analysis.CHARTS,
                       default="auto" if sees else "p", prefix="chart_short",
                       help_key="chart_help_g" if sees else "chart_help", container=c[1])
    chart = picked if picked in analysis.CHARTS else "p"
    rules = ui.choice("rules", "rules", analysis.RULE_SETS, default="anhoej", prefix="rules", help_key="rules_help",
                      container=c[2])
    # weeks are for roles with session-level access: a week of one clinician is a handful of sessions
    periods = PERIODS if ui.sees_sessions() else tuple(p for p in PERIODS if p != "week")
    period = ui.choice("period", "period_choice", periods, default="month", prefix="period", container=c[3])
    o = registry.get(key)
    definition(o, lg)
    headline(o, ctx)

    least_followed = auth.min_completeness()  # [clinic] min_completeness: lower follow-up is marked as low
    frame = data.cached(analysis.spc, key, period=period, chart=chart, rules=rules, filters=ctx.filters,
                        as_of=ctx.as_of, min_sessions=ctx.min_sessions, low_completeness_below=least_followed)
    point = filters.peek("point")
    chosen = dt.date.fromisoformat(point) if isinstance(point, str) and point[:4].isdigit() else None
    if chosen is None and not frame.empty and ctx.report is not None and period == "month" \
            and ctx.report.months[-1] in set(frame.loc[frame["denominator_n"] > 0, "period_start"]):
        chosen = ctx.report.months[-1]  # the reporting month (the last of a quarter / year) is the one reviewed
    if chosen is None and not frame.empty:
        flagged = frame.loc[frame["signal"].astype(bool) & frame["sigma_signal"].astype(bool), "period_start"]
        chosen = (flagged.iloc[-1] if len(flagged) else
                  frame.loc[frame["denominator_n"] > 0, "period_start"].iloc[-1]
                  if (frame["denominator_n"] > 0).any() else None)
    if chosen is not None and not frame.empty and chosen not in set(frame["period_start"]):
        chosen = None
    rare = analysis.is_rare(frame)
    if sees and (picked == "g" or (picked == "auto" and rare)):
        g_chart(key, o, ctx, auto=picked == "auto")
    else:
        chosen = spc_chart(key, o, ctx, frame, chart=chart, rules=rules, period=period, chosen=chosen)
        if rare and not sees:
            st.caption(ui.tr("g_rare_note"))

    st.subheader(ui.tr("breakdown"))
    st.caption(ui.tr("breakdown_caption"))
    overall = data.cached(small_cells.rates, key, filters=ctx.filters, as_of=ctx.as_of,
                          min_sessions=ctx.min_sessions)["rate"].iloc[0]
    tabs = st.tabs([ui.tr("indication"), ui.tr("area"), ui.tr("product")])
    for tab, by, labels in (
        (tabs[0], "indication", {k: i18n.label("ind", k, lg) for k in ctx.options["indications"]}),
        (tabs[1], "area", {k: i18n.label("area", k, lg) for k in ctx.options["areas"]}),
        (tabs[2], "product", {k: k for k in ctx.options["products"]}),
    ):
        with tab:
            part = data.cached(small_cells.rates, key, by=(by,), filters=ctx.filters, as_of=ctx.as_of,
                               min_sessions=ctx.min_sessions)
            ui.show_chart(charts.breakdown_chart(part, by=by, labels=labels, outcome_label=o.label(lg), lang=lg,
                                                 overall=overall, reference=charts.reference_tuple(o.reference)),
                          key=f"breakdown_{by}")
            ui.hidden_note(part)
    review(o, ctx, frame, period, chosen)


def quality_marks(key: str, frame: pd.DataFrame, ctx: ui.Context) -> dict:
    """The chart's process changes, target and assurance reading (issue 12: pipelines/metrics/changes.py,
    targets.py)."""
    target = data.cached(targets.target_for, key)
    return {"changes": changes.concerning(data.cached(changes.process_changes), key, ctx.filters),
            "changes_by_month": not ui.sees_sessions(),  # no day for roles without session-level access
            "target": target, "assurance": targets.assurance(frame, key, target)}


ui.run_page(main)
