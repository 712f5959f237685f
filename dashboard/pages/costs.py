"""Corrections and costs (clinic manager): correction rate and cost over time, per clinician and per product,
cost per 100 treatments and share of revenue, with a consumables amount that recomputes everything, and the price
and chair-time cost assumptions as an editable what-if (never written to the database: pipelines/metrics/costs.py
takes the edited tables as overrides for this view only). The page says which corrections a cost counts (every
correction session, also after day 28, unlike the correction rate) and how many corrections have a part without a
price or time (counted as 0 NOK: the cost is then a lower bound)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import changes, costs, lookups, registry, small_cells

PAGE_PARAMS = ("consumables",)
EDITORS = ("whatif_prices", "whatif_clinicians")


def group_table(frame: pd.DataFrame, by: str, lg: str) -> None:
    f = frame.sort_values(by).reset_index(drop=True)
    cols = [ui.tr("col_corrections"), ui.tr("col_primary"), ui.tr("col_cost"), ui.tr("col_cost_per_100"),
            ui.tr("col_revenue"), ui.tr("col_cost_share")]
    ui.table(pd.DataFrame({
        ui.tr(by): f[by],
        cols[0]: ui.nums(f["correction_n"]),
        cols[1]: ui.nums(f["primary_n"]),
        cols[2]: ui.nums(f["correction_cost_nok"]),
        cols[3]: ui.nums(f["cost_per_100_primary_nok"]),
        cols[4]: ui.nums(f["revenue_nok"]),
        cols[5]: [i18n.pct(v, lg, 2) for v in f["cost_share"]],
        ui.tr("col_small"): [ui.hidden_mark() if h else ui.small_flag(d)
                             for d, h in zip(f["primary_n"], f.get("is_hidden", [False] * len(f)), strict=True)],
    }), right=cols)


def _reset_whatif() -> None:
    for key in EDITORS:
        st.session_state.pop(key, None)


def assumptions(ctx: ui.Context) -> dict[str, pd.DataFrame | None]:
    """The price and chair-time tables as editable what-if assumptions; returns the overrides (None: as loaded)."""
    lg = ctx.lang
    st.subheader(ui.tr("assumptions"))
    st.info(ui.tr("whatif_note"), icon=":material/science:")
    prices = data.cached(lookups.product_prices, ctx.as_of)
    cl = data.cached(lookups.clinician_costs)
    c = st.columns([3, 2])
    with c[0]:
        st.markdown(f"**{ui.tr('product_prices')}**")
        yes = ui.tr("yes")
        shown = pd.DataFrame({
            "product": prices["product"], "valid_from": prices["valid_from"],
            "cost_per_unit_nok": prices["cost_per_unit_nok"].astype(float),
            "botox_equivalent_factor": prices["botox_equivalent_factor"],
            "in_force": [yes if v else "" for v in prices["in_force"]],
        })
        edited_prices = st.data_editor(shown, key=EDITORS[0], hide_index=True, width="stretch", height=300,
                                       num_rows="fixed",
                                       disabled=["product", "valid_from", "botox_equivalent_factor", "in_force"],
                                       column_config={
            "product": st.column_config.TextColumn(ui.tr("product")),
            "valid_from": st.column_config.DateColumn(ui.tr("col_valid_from"), format="YYYY-MM-DD"),
            "cost_per_unit_nok": st.column_config.NumberColumn(ui.tr("col_cost_per_unit"), min_value=0.0,
                                                               step=0.5, format="%.2f"),
            "botox_equivalent_factor": st.column_config.NumberColumn(ui.tr("col_factor"), format="%.2f"),
            "in_force": st.column_config.TextColumn(ui.tr("col_in_force")),
        })
    with c[1]:
        st.markdown(f"**{ui.tr('clinician_costs')}**")
        shown_cl = pd.DataFrame({
            "clinician": cl["clinician"], "profession": [i18n.label("prof", v, lg) for v in cl["profession"]],
            "cost_per_minute_nok": cl["cost_per_minute_nok"].astype(float),
        })
        edited_cl = st.data_editor(shown_cl, key=EDITORS[1], hide_index=True, width="stretch", height=300,
                                   num_rows="fixed", disabled=["clinician", "profession"], column_config={
            "clinician": st.column_config.TextColumn(ui.tr("clinician")),
            "profession": st.column_config.TextColumn(ui.tr("col_profession")),
            "cost_per_minute_nok": st.column_config.NumberColumn(ui.tr("col_cost_per_minute"), min_value=0.0,
                                                                 step=0.5, format="%.2f"),
        })
    overrides = {"prices": costs.override_if_edited(shown, edited_prices, "cost_per_unit_nok", costs.PRICE_COLUMNS),
                 "clinician_costs": costs.override_if_edited(shown_cl, edited_cl, "cost_per_minute_nok",
                                                             costs.CLINICIAN_COST_COLUMNS)}
    if any(v is not None for v in overrides.values()):
        st.button(ui.tr("whatif_reset"), on_click=_reset_whatif, icon=":material/undo:")
    return overrides


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_costs", ui.tr("costs_caption"))
    c = st.columns([1.3, 3])
    with c[0]:
        consumables = filters.synced(st.number_input, "consumables", ui.tr("consumables"),
                                     default=float(costs.DEFAULT_CONSUMABLES_NOK), min_value=0.0, max_value=10_000.0,
                                     step=10.0, format="%.0f", help=ui.tr("consumables_help"), cast=float)
    consumables = float(consumables if consumables is not None else costs.DEFAULT_CONSUMABLES_NOK)
    body = st.container()  # the figures, drawn above the assumptions they are computed from
    whatif = assumptions(ctx)
    with body:
        figures(ctx, consumables, whatif)


def figures(ctx: ui.Context, consumables: float, whatif: dict) -> None:
    lg = ctx.lang
    if any(v is not None for v in whatif.values()):
        st.warning(ui.tr("whatif_active"), icon=":material/science:")
    every_month = data.cached(costs.cost_summary, "month", consumables_nok=consumables, filters=ctx.filters,
                              as_of=ctx.as_of, **whatif)
    tot = costs.cost_totals(every_month, ctx.min_sessions)  # one cell: hidden under the minimum as a whole
    by_month = data.cached(costs.cost_summary, "month", consumables_nok=consumables, filters=ctx.filters,
                           as_of=ctx.as_of, min_sessions=ctx.min_sessions, **whatif)
    rate = data.cached(small_cells.rates, "correction", filters=ctx.filters, as_of=ctx.as_of,
                       min_sessions=ctx.min_sessions).iloc[0]
    k = st.columns(4)
    ui.kpi(k[0], ui.tr("kpi_correction_rate"), i18n.pct(rate["rate"], lg),
           delta=ui.hidden_mark() if ui.is_hidden(rate) else
           ui.tr("events_of", num=i18n.number(rate["numerator_n"], lg), den=i18n.number(rate["denominator_n"], lg))
           + " · " + i18n.pct_range(rate["ci_low"], rate["ci_high"], lg),
           help=ui.tr("kpi_correction_rate_help"))
    if ui.is_hidden(tot):
        for i, key in enumerate(("kpi_cost", "kpi_cost_per_100", "kpi_cost_share"), start=1):
            ui.kpi(k[i], ui.tr(key), "–", delta=ui.hidden_mark())
    else:
        cost_kpis(k, tot, lg)
    # which corrections a cost counts (pipelines/metrics/costs.py SCOPE_TEXT), beside the rate that counts fewer
    st.caption(ui.tr("costs_scope", days=costs.LATE_AFTER_DAYS,
                     late="–" if ui.is_hidden(tot) else i18n.number(tot["late_correction_n"], lg)))
    c = st.columns(2)
    with c[0]:
        monthly = data.cached(small_cells.rates, "correction", period="month", filters=ctx.filters,
                              as_of=ctx.as_of, min_sessions=ctx.min_sessions)
        monthly = monthly[monthly["denominator_n"] > 0]
        fig = charts.rate_time_chart(monthly, lang=lg, title=ui.tr("correction_rate_title"),
                                     subtitle=ui.tr("correction_rate_subtitle"),
                                     reference=charts.reference_tuple(registry.get("correction").reference))
        ui.show_chart(with_changes(fig, "correction", ctx), key="correction_rate")
    with c[1]:
        ui.show_chart(with_changes(charts.cost_time_chart(by_month, lang=lg), "correction", ctx), key="cost_month")

    tabs = st.tabs([ui.tr("clinician"), ui.tr("product")])
    groups = []
    for tab, by in zip(tabs, ("clinician", "product"), strict=True):
        with tab:
            frame = data.cached(costs.cost_summary, by, consumables_nok=consumables, filters=ctx.filters,
                                as_of=ctx.as_of, min_sessions=ctx.min_sessions, **whatif)
            ui.show_chart(charts.cost_group_chart(frame, by=by, lang=lg), key=f"cost_{by}")
            group_table(frame, by, lg)
            groups.append(frame)
    ui.hidden_note(by_month, monthly, *groups)


def cost_kpis(k, tot: dict, lg: str) -> None:
    ui.kpi(k[1], ui.tr("kpi_cost"), i18n.nok(tot["correction_cost_nok"], lg),
           delta=i18n.tn("kpi_corrections_n", tot["correction_n"], lg))
    ui.kpi(k[2], ui.tr("kpi_cost_per_100"), i18n.nok(tot["per_100"], lg), help=ui.tr("kpi_cost_per_100_help"),
           delta=i18n.tn("kpi_corrections_n", tot["correction_n"], lg).split(" ")[0] + " / "
           + i18n.number(tot["primary_n"], lg))
    ui.kpi(k[3], ui.tr("kpi_cost_share"), i18n.pct(tot["share"], lg, 2), help=ui.tr("kpi_cost_share_help"),
           delta=i18n.nok(tot["revenue_nok"], lg))
    if tot["unpriced_n"]:
        st.warning(i18n.tn("kpi_unpriced", int(tot["unpriced_n"]), lg), icon=":material/price_change:")
    if tot["unknown_chair_time_n"]:
        st.warning(ui.tr("costs_unknown_chair_time", n=i18n.number(tot["unknown_chair_time_n"], lg)),
                   icon=":material/timer_off:")


def with_changes(fig, outcome_key: str, ctx: ui.Context):
    """The process changes concerning the outcome, marked on a time chart (issue 12: pipelines/metrics/changes.py;
    at their month for roles that see no day)."""
    found = changes.concerning(data.cached(changes.process_changes), outcome_key, ctx.filters)
    charts.add_process_changes(fig, found, ctx.lang, by_month=not ui.sees_sessions())
    return fig


ui.run_page(main)
