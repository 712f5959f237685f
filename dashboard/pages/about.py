"""About the metrics: generated from the outcome registry and the statistics settings, in the chosen language."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, charts, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, episodes, registry, signals, small_cells

PAGE_PARAMS = ()


def outcome_section(o: registry.Outcome, lg: str) -> None:
    with st.container(border=True):
        left, right = st.columns([2, 3])
        left.markdown(f"**{o.label(lg)}**  \n{o.description(lg)}")
        if not o.needs_follow_up:
            lost = ui.tr("about_no_follow_up")
        elif o.lost_to_follow_up == "event":
            lost = ui.tr("about_lost_event", label=o.label(lg).lower())
        else:
            lost = ui.tr("about_lost_excluded")
        lines = [f"**{ui.tr('about_denominator')}:** {o.eligible_nb if lg == 'nb' else o.eligible_en}",
                 f"**{ui.tr('about_window')}:** {o.window_text(lg)}. "
                 + i18n.tn("about_closed", o.close_days, lg, n=_close_text(o))]
        if o.needs_follow_up:
            columns = ", ".join(f"`{c}`" for c in o.assessed_by)
            lines.append(f"**{ui.tr('about_followed')}:** "
                         + ui.tr("about_followed_any" if o.assessed_sql else "about_followed_all", columns=columns))
        lines.append(f"**{ui.tr('about_lost')}:** {lost}")
        ref = o.reference
        if ref:
            text = ref.text_nb if lg == "nb" else ref.text_en
            lines.append(f"**{ui.tr('about_reference')}:** {text}"
                         + (f" ({ui.tr('estimate')})" if ref.is_estimate else ""))
            if ref.source_text(lg):  # "none": no published source, nothing to name
                lines.append(f"**{ui.tr('about_source')}:** {ui.source_text(ref, lg)}")
        right.markdown("  \n".join(lines))
        left.caption(f"`{o.key}`")


def _close_text(o: registry.Outcome) -> str:
    if not o.window_days_by_indication:
        return str(o.close_days)
    parts = [f"{ind}: {max(w[1], o.reported_within_days or 0)}" for ind, w in o.window_days_by_indication.items()]
    return f"{o.close_days} ({', '.join(parts)})"


def main() -> None:
    filters.page(PAGE_PARAMS)
    lg = ui.lang()
    ui.header("page_about", ui.tr("about_caption"))
    st.subheader(ui.tr("about_outcomes"))
    # the registry's counting principles (followed up, crude rate, blank answers): what every outcome below obeys
    st.markdown(f"**{ui.tr('about_counting')}**  \n{ui.tr('about_counting_text')}")
    for group in registry.GROUPS:
        members = [o for o in registry.OUTCOMES if o.group == group]
        if not members:
            continue
        st.markdown(f"##### {i18n.label('group', group, lg)}")
        for o in members:
            outcome_section(o, lg)

    st.subheader(ui.tr("about_methods"))
    methods = [
        ("method_windows", {}),
        ("method_wilson", {}),
        ("method_spc", {}),
        ("method_anhoej", {}),
        ("method_mdc", {"run": analysis.MDC_RUN_LENGTH}),
        ("method_funnel", {"z95": i18n.number(analysis.FUNNEL_Z95, lg, 6),
                            "z998": i18n.number(analysis.FUNNEL_Z998, lg, 6)}),
        ("method_oe", {"shrink": i18n.tn("count_pseudo_sessions", analysis.CASE_MIX_SHRINK_SESSIONS, lg)}),
        ("method_cusum", {"odds": i18n.number(analysis.CUSUM_ODDS_RATIO, lg, 1),
                          "shrink": i18n.tn("count_pseudo_sessions", analysis.CUSUM_SHRINK_SESSIONS, lg),
                          "events": analysis.CUSUM_MIN_REFERENCE_EVENTS,
                          "arl": i18n.tn("count_sessions", analysis.CUSUM_ARL0, lg)}),
        ("method_signals", {"gap": episodes.CUSUM_EPISODE_GAP_DAYS,
                            "per_clinician": ", ".join(ui.outcome_label(k) for k in registry.WATCHED_PER_CLINICIAN),
                            "case_by_case": ", ".join(ui.outcome_label(k) for k in registry.WATCHED_CASE_BY_CASE),
                            "arl": i18n.tn("count_sessions", analysis.CUSUM_ARL0, lg),
                            "budget": signals.FALSE_ALARM_BUDGET_PER_36_MONTHS,
                            "per_year": signals.EXPECTED_FALSE_ALARMS_PER_YEAR}),
        ("method_small", {"sessions": i18n.tn("count_sessions", charts.SMALL_N, lg)}),
        ("method_cells", {"n": small_cells.MIN_SESSIONS, "m": small_cells.MIN_SESSIONS - 1,
                          "sessions": i18n.tn("count_sessions", small_cells.MIN_SESSIONS, lg)}),
    ]
    for key, values in methods:
        st.markdown(f"**{ui.tr(key)}**  \n{ui.tr(key + '_text', **values)}")
        if key == "method_anhoej":  # which periods the rules judge, and which rates are least reliable
            st.markdown(f"**{ui.tr('method_judged')}**  \n"
                        f"{ui.tr('method_judged_text', pct=i18n.pct(auth.min_completeness(), lg, 0))}")


ui.run_page(main)
