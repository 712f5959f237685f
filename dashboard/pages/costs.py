"""Corrections and costs (clinic manager): correction rate and cost over time, per clinician and per product,
cost per 100 treatments and share of revenue, with a consumables amount that recomputes everything, and the price
and chair-time cost assumptions as an editable what-if (never written to the database: pipelines/metrics/costs.py
takes the edited tables as overrides for this view only). The page says which corrections a cost counts (every
correction session, also after day 28, unlike the correction rate) and how many corrections have a part without a
price or time (counted as 0 NOK: the cost is then a lower bound)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import changes, costs, lookups, registry, small_cells

PAGE_PARAMS = ("consumables",)
EDITORS = ("whatif_prices", "whatif_clinicians")


def group_table(frame: pd.DataFrame, by: str, lg: str) -> None:
    """One row per clinician / product in code order: the cost per 100 with its 95 % interval and its counts beside
    it (never a bare ranking)."""
    f = frame.sort_values(by).reset_index(drop=True)
    cols = [ui.tr("col_corrections_of_primary"), ui.tr("col_cost"), ui.tr("col_per_100_interval"),
            ui.tr("col_revenue"), ui.tr("col_cost_share")]
    hidden = (f["is_hidden"].fillna(False).astype(bool) if "is_hidden" in f else pd.Series([False] * len(f))).tolist()
    ui.table(pd.DataFrame({
        ui.tr(by): f[by],
        cols[0]: ["" if h else f"{i18n.number(c, lg)} / {i18n.number(p, lg)}"
                  for c, p, h in zip(f["correction_n"], f["primary_n"], hidden, strict=True)],
        cols[1]: ui.nums(f["correction_cost_nok"]),
        cols[2]: [per_100_text(v, lo, hi, lg) for v, lo, hi in zip(f["cost_per_100_primary_nok"], f["per_100_low_nok"],
                                                                    f["per_100_high_nok"], strict=True)],
        cols[3]: ui.nums(f["revenue_nok"]),
        cols[4]: [i18n.pct(v, lg, 2) for v in f["cost_share"]],
        ui.tr("col_small"): [ui.hidden_mark() if h else ui.small_flag(d)
                             for d, h in zip(f["primary_n"], hidden, strict=True)],
    }), right=cols,  # clinician codes are short: the room goes to the figures (every column shown at 1400 px)
        column_config={ui.tr(by): st.column_config.TextColumn(width="small")} if by == "clinician" else None)


def per_100_text(value: float, low: float, high: float, lg: str) -> str:
    """'4 450 (3 955–4 988)': the cost per 100 with its 95 % interval ('' for a hidden row)."""
    if pd.isna(value):
        return ""
    if pd.isna(low) or pd.isna(high):
        return i18n.number(value, lg)
    return f"{i18n.number(value, lg)} ({i18n.number(low, lg)}–{i18n.number(high, lg)})"


# --------------------------------------------------------------------------------------------------------------
# amounts typed in the page's language: "150,50" or "1 500" in Norwegian, "1,500.50" in English
# --------------------------------------------------------------------------------------------------------------

AMOUNT_EXAMPLE = {"nb": "150 eller 1 500,50", "en": "150 or 1,500.50"}


def consumables_input() -> float:
    """The consumables amount, typed in the page's language (a text box: a number box takes only '150.5'); a text
    that is no amount, or out of range, says so and the page keeps the default."""
    lg = filters.lang()
    default = costs.DEFAULT_CONSUMABLES_NOK
    text = filters.synced(st.text_input, "consumables", ui.tr("consumables"), default=i18n.amount_text(default, lg),
                          help=ui.tr("consumables_help"), cast=str)
    value = i18n.parse_amount(text, lg) if text not in (None, "") else default
    if value is None:
        st.warning(ui.tr("amount_invalid", text=str(text), example=AMOUNT_EXAMPLE[lg],
                         used=i18n.nok(default, lg)), icon=":material/edit_off:")
        return default
    if not 0 <= value <= CONSUMABLES_MAX_NOK:
        st.warning(ui.tr("amount_out_of_range", text=i18n.nok(value, lg), most=i18n.nok(CONSUMABLES_MAX_NOK, lg),
                         used=i18n.nok(default, lg)), icon=":material/edit_off:")
        return default
    return value


CONSUMABLES_MAX_NOK = 10_000.0


def _reset_whatif() -> None:
    for key in EDITORS:
        st.session_state.pop(key, None)


def _edited_amounts(shown: pd.DataFrame, edited: pd.DataFrame, column: str, original: pd.Series, lg: str,
                    names: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """The edited table with `column` read back as numbers (typed in `lg`); a cell that is no amount keeps its
    loaded value and is listed (by its row's name) for a warning. A cleared cell is unknown (NaN)."""
    out = edited.copy()
    values, bad = [], []
    for i, text in enumerate(edited[column].tolist()):
        if text is None or (isinstance(text, str) and not text.strip()) or (isinstance(text, float) and pd.isna(text)):
            values.append(float("nan"))
            continue
        parsed = i18n.parse_amount(text, lg)
        if parsed is None or parsed < 0:
            bad.append(f"{names.iloc[i]}: «{text}»" if lg == "nb" else f"{names.iloc[i]}: “{text}”")
            parsed = float(original.iloc[i])
        values.append(parsed)
    out[column] = pd.Series(values, index=out.index, dtype="float64")
    return out, bad


def assumptions(ctx: ui.Context) -> dict[str, pd.DataFrame | None]:
    """The price and chair-time tables as editable what-if assumptions, amounts written and typed in the page's
    language ('32,50' in Norwegian); returns the overrides (None: as loaded)."""
    lg = ctx.lang
    st.subheader(ui.tr("assumptions"))
    st.info(ui.tr("whatif_note"), icon=":material/science:")
    prices = data.cached(lookups.product_prices, ctx.as_of)
    cl = data.cached(lookups.clinician_costs)
    amount_check = r"^\s*[0-9][0-9 \u00a0.,]*\s*$"
    c = st.columns([3, 2])
    with c[0]:
        st.markdown(f"**{ui.tr('product_prices')}**")
        yes = ui.tr("yes")
        loaded_prices = prices["cost_per_unit_nok"].astype(float).reset_index(drop=True)
        shown = pd.DataFrame({
            "product": prices["product"], "valid_from": prices["valid_from"],
            "cost_per_unit_nok": [i18n.number(v, lg, 2) for v in loaded_prices],
            "botox_equivalent_factor": [i18n.number(v, lg, 2) for v in prices["botox_equivalent_factor"]],
            "in_force": [yes if v else "" for v in prices["in_force"]],
        })
        edited_prices = st.data_editor(shown, key=EDITORS[0], hide_index=True, width="stretch", height=300,
                                       num_rows="fixed",
                                       disabled=["product", "valid_from", "botox_equivalent_factor", "in_force"],
                                       column_config={
            "product": st.column_config.TextColumn(ui.tr("product")),
            "valid_from": st.column_config.DateColumn(ui.tr("col_valid_from"), format="YYYY-MM-DD"),
            "cost_per_unit_nok": st.column_config.TextColumn(ui.tr("col_cost_per_unit"), validate=amount_check),
            "botox_equivalent_factor": st.column_config.TextColumn(ui.tr("col_factor")),
            "in_force": st.column_config.TextColumn(ui.tr("col_in_force")),
        })
    with c[1]:
        st.markdown(f"**{ui.tr('clinician_costs')}**")
        loaded_cl = cl["cost_per_minute_nok"].astype(float).reset_index(drop=True)
        shown_cl = pd.DataFrame({
            "clinician": cl["clinician"], "profession": [i18n.label("prof", v, lg) for v in cl["profession"]],
            "cost_per_minute_nok": [i18n.number(v, lg, 2) for v in loaded_cl],
        })
        edited_cl = st.data_editor(shown_cl, key=EDITORS[1], hide_index=True, width="stretch", height=300,
                                   num_rows="fixed", disabled=["clinician", "profession"], column_config={
            "clinician": st.column_config.TextColumn(ui.tr("clinician")),
            "profession": st.column_config.TextColumn(ui.tr("col_profession")),
            "cost_per_minute_nok": st.column_config.TextColumn(ui.tr("col_cost_per_minute"), validate=amount_check),
        })
    before_prices = shown.assign(cost_per_unit_nok=loaded_prices.to_numpy())
    before_cl = shown_cl.assign(cost_per_minute_nok=loaded_cl.to_numpy())
    after_prices, bad_prices = _edited_amounts(shown, edited_prices, "cost_per_unit_nok", loaded_prices, lg,
                                               shown["product"].astype(str) + " " +
                                               shown["valid_from"].astype(str))
    after_cl, bad_cl = _edited_amounts(shown_cl, edited_cl, "cost_per_minute_nok", loaded_cl, lg,
                                       shown_cl["clinician"].astype(str))
    if bad_prices or bad_cl:
        st.warning(ui.tr("whatif_invalid", cells="; ".join(bad_prices + bad_cl), example=AMOUNT_EXAMPLE[lg]),
                   icon=":material/edit_off:")
    overrides = {"prices": costs.override_if_edited(before_prices, after_prices, "cost_per_unit_nok",
                                                    costs.PRICE_COLUMNS),
                 "clinician_costs": costs.override_if_edited(before_cl, after_cl, "cost_per_minute_nok",
                                                             costs.CLINICIAN_COST_COLUMNS)}
    if any(v is not None for v in overrides.values()):
        st.button(ui.tr("whatif_reset"), on_click=_reset_whatif, icon=":material/undo:")
    return overrides


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    ui.header("page_costs", ui.tr("costs_caption"))
    c = st.columns([1.3, 3])
    with c[0]:
        consumables = consumables_input()
    body = st.container()  # the figures, drawn above the assumptions they are computed from
    whatif = assumptions(ctx)
    with body:
        figures(ctx, consumables, whatif)


# --------------------------------------------------------------------------------------------------------------
# is it improving: this year against last year, the last 12 months against the 12 before
# --------------------------------------------------------------------------------------------------------------


def period_text(start: dt.date, end: dt.date, lg: str) -> str:
    """'Jan – May 2026' / 'jan. – mai 2026', 'Jun 2025 – May 2026'; one month: 'Jan 2026'."""
    if (start.year, start.month) == (end.year, end.month):
        return i18n.month_label(start, lg)
    if start.year == end.year:
        first = i18n.month_label(start, lg).rsplit(" ", 1)[0]
        return f"{first} – {i18n.month_label(end, lg)}"
    return f"{i18n.month_label(start, lg)} – {i18n.month_label(end, lg)}"


VERDICT = {"lower": "cost_compare_lower", "higher": "cost_compare_higher", "unclear": "cost_compare_unclear"}


def comparison(ctx: ui.Context, consumables: float, whatif: dict) -> None:
    """Two figures: cost per 100 primary treatments this year so far and over the last 12 months, each against
    the same months a year earlier, with the change, whether the 95 % intervals say it is a clear change, and the
    counts and intervals underneath."""
    lg = ctx.lang
    table = data.cached(costs.cost_comparison, consumables_nok=consumables, filters=ctx.filters, as_of=ctx.as_of,
                        min_sessions=ctx.min_sessions, **whatif)
    st.markdown(f"**{ui.tr('cost_compare_title')}**", help=ui.tr("cost_compare_help"))
    k = st.columns(2)
    for col, which, key in ((k[0], "year", "cost_compare_year"), (k[1], "12_months", "cost_compare_12")):
        ch = costs.change(table, which)
        cur, prev = ch["current"], ch["previous"]
        cur_period = period_text(cur["date_from"], cur["date_to"], lg) if cur["date_to"] >= cur["date_from"] \
            else "–"
        prev_period = period_text(prev["date_from"], prev["date_to"], lg) if prev["date_to"] >= prev["date_from"] \
            else "–"
        if ch["direction"] == "none":
            delta, verdict = None, ui.tr("cost_compare_none", period=prev_period)
        else:
            sign = "+" if ch["change_nok"] > 0 else ""
            delta = ui.tr("cost_compare_delta", change=sign + i18n.nok(ch["change_nok"], lg),
                          share=sign + i18n.pct(ch["change_share"], lg, 1), period=prev_period)
            verdict = ui.tr(VERDICT[ch["direction"]])
        ui.kpi(col, ui.tr(key, period=cur_period), i18n.nok(cur["per_100_nok"], lg), delta=delta,
               help=ui.tr("cost_compare_help"))
        details = [ui.tr("cost_compare_detail", period=label, value=i18n.nok(row["per_100_nok"], lg),
                         low=i18n.nok(row["per_100_low_nok"], lg), high=i18n.nok(row["per_100_high_nok"], lg),
                         corrections=i18n.number(row["correction_n"], lg), primary=i18n.number(row["primary_n"], lg))
                   for row, label in ((cur, cur_period), (prev, prev_period)) if pd.notna(row["per_100_nok"])]
        col.caption(verdict[:1].upper() + verdict[1:] + ". " + "; ".join(details))


# --------------------------------------------------------------------------------------------------------------
# charts: the unfinished month marked, each clinician's / product's figure with its interval and n
# --------------------------------------------------------------------------------------------------------------


def incomplete_month(as_of: dt.date) -> dt.date | None:
    """The first day of `as_of`'s month when that month has not ended by `as_of`, else None."""
    return None if costs.last_whole_month_end(as_of) == as_of else as_of.replace(day=1)


def mark_incomplete_month(fig: go.Figure, as_of: dt.date, lg: str) -> go.Figure:
    """Shade the month of `as_of` on a monthly chart when it has not ended, labelled 'May 2026: incomplete, data
    to 2026-05-15' (its bar is part of a month)."""
    month = incomplete_month(as_of)
    xs = [pd.Timestamp(v).date() for trace in fig.data if getattr(trace, "x", None) is not None for v in trace.x
          if not pd.isna(v)]
    if month is None or month not in xs:
        return fig
    start = pd.Timestamp(month) - pd.Timedelta(days=15)
    end = pd.Timestamp(month) + pd.Timedelta(days=15)
    fig.add_vrect(x0=start, x1=end, fillcolor="rgba(120,120,120,0.18)", line_width=0,
                  layer="below")
    fig.add_annotation(x=pd.Timestamp(month), y=1, yref="paper", yanchor="bottom", showarrow=False,
                       text=ui.tr("cost_incomplete_month", month=i18n.month_label(month, lg),
                                  day=i18n.date(as_of, lg)),
                       font=dict(size=11, color="#555555"), xanchor="right")
    return fig


def with_uncertainty(fig: go.Figure, frame: pd.DataFrame, by: str, lg: str) -> go.Figure:
    """The cost-per-100 bars with their 95 % interval as error bars and 'n = primary treatments' beside each."""
    if not fig.data or getattr(fig.data[0], "orientation", None) != "h":
        return fig  # the empty figure
    bar = fig.data[0]
    rows = frame.set_index(frame[by].astype(str))
    names = [str(v) for v in bar.y]
    if not all(n in rows.index for n in names):
        return fig
    r = rows.loc[names]
    value = r["cost_per_100_primary_nok"].to_numpy(dtype="float64")
    bar.error_x = dict(type="data", symmetric=False, array=(r["per_100_high_nok"].to_numpy() - value).tolist(),
                       arrayminus=(value - r["per_100_low_nok"].to_numpy()).tolist(), color="#333333",
                       thickness=1.2, width=4)
    bar.text = [f"n = {i18n.number(n, lg)}" for n in r["primary_n"]]
    bar.textposition = "inside"
    bar.insidetextanchor = "start"
    bar.textfont = dict(color="white", size=11)
    return fig


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
    if not ui.is_hidden(tot) and not ui.is_hidden(rate):  # the two counts above, side by side
        st.caption(ui.tr("costs_counts_differ", rate_n=i18n.number(rate["numerator_n"], lg),
                         rate_den=i18n.number(rate["denominator_n"], lg), days=costs.LATE_AFTER_DAYS,
                         cost_n=i18n.number(tot["correction_n"], lg), late=i18n.number(tot["late_correction_n"], lg),
                         primary_n=i18n.number(tot["primary_n"], lg)))
    comparison(ctx, consumables, whatif)
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
        ui.show_chart(mark_incomplete_month(with_changes(charts.cost_time_chart(by_month, lang=lg), "correction", ctx),
                                            ctx.as_of, lg), key="cost_month")

    tabs = st.tabs([ui.tr("clinician"), ui.tr("product")])
    groups = []
    for tab, by in zip(tabs, ("clinician", "product"), strict=True):
        with tab:
            frame = costs.with_interval(data.cached(costs.cost_summary, by, consumables_nok=consumables,
                                                    filters=ctx.filters, as_of=ctx.as_of,
                                                    min_sessions=ctx.min_sessions, **whatif))
            st.caption(ui.tr("cost_group_caption"))
            ui.show_chart(with_uncertainty(charts.cost_group_chart(frame, by=by, lang=lg), frame, by, lg),
                          key=f"cost_{by}")
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
