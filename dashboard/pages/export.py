"""Export (quality audit): the CSV exports of `python -m pipelines export` (rates, funnel, spc, costs, cusum), with
the current filters and the same provenance lines, as downloads; optionally in Norwegian Excel format."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import data, filters, i18n
from dashboard import components as ui
from pipelines import analysis, costs, export, metrics
from pipelines import outcomes as registry

PAGE_PARAMS = ("outcome", "excel", "rates_by", "rates_period", "spc_period", "costs_by", "method", "chart", "rules",
               "consumables")
RATES_BY = ("none", "clinician", "indication", "product", "area")
RATES_PERIODS = ("month", "quarter", "year", "all")
SPC_PERIODS = ("month", "week", "quarter")
COSTS_BY = ("month", "clinician", "product")


def _user() -> str | None:
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name") or "")
    except Exception:  # noqa: BLE001 - no auth configured
        return None
    return None


def download(kind: str, outcome_key: str | None, ctx: ui.Context, excel: bool, preview_fn=None, rows: int | None = None,
             **options) -> None:
    """One export: what it holds, its row count, a preview, and a download built on click (fresh provenance).
    Without `preview_fn` (the CUSUM file has a row per session) the count is given and the preview left out."""
    name = f"{kind}{'_' + outcome_key if outcome_key and kind != 'costs' else ''}_{ctx.as_of.isoformat()}.csv"
    try:
        preview = preview_fn() if preview_fn else None
    except ValueError as exc:
        st.warning(ui.tr("export_failed", error=str(exc)), icon=":material/block:")
        return
    rows = len(preview) if preview is not None else rows
    db_text = str(data.db_path())
    user = _user()
    as_of, f = ctx.as_of, ctx.filters

    def build() -> bytes:
        body, _rows = data.run(data.export_csv, kind, outcome_key, filters=f, as_of=as_of, excel=excel,
                               db_path_text=db_text, generated_by=user, **options)
        return body

    c = st.columns([3, 1.2], vertical_alignment="center")
    c[0].caption(ui.tr(f"export_{kind}_help") + (" · " + ui.tr("export_rows", n=i18n.number(rows, ctx.lang))
                                                  if rows is not None else ""))
    with c[1]:
        st.download_button(ui.tr("export_download", name=ui.tr(f"export_{kind}")), data=build, file_name=name,
                           mime="text/csv", key=f"download_{kind}", icon=":material/download:", on_click="ignore",
                           width="stretch")
    if preview is not None:
        with st.expander(ui.tr("export_preview")):
            ui.table(preview.head(50), height=260)


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    lg = ctx.lang
    ui.header("page_export", ui.tr("export_caption"))
    c = st.columns([2.2, 1.5], vertical_alignment="bottom")
    key = ui.outcome_picker(container=c[0])
    with c[1]:
        excel = filters.synced(st.toggle, "excel", ui.tr("excel_format"), default=False, help=ui.tr("excel_help"))
    prov = data.cached(_provenance_preview, key, ctx.filters, ctx.as_of, str(data.db_path()))
    st.caption(ui.tr("export_filters", filters=prov["filters"]))
    o = registry.get(key)
    as_of, f = ctx.as_of, ctx.filters

    with st.container(border=True):
        st.markdown(f"**{ui.tr('export_rates')}** · {o.label(lg)}")
        cc = st.columns(2)
        by = filters.synced(st.selectbox, "rates_by", ui.tr("export_by"), options=list(RATES_BY), default="none",
                            container=cc[0], format_func=ui.labeller(None, {"none": ui.tr("export_by_none")}))
        period = filters.synced(st.selectbox, "rates_period", ui.tr("period_choice"), options=list(RATES_PERIODS),
                                default="month", container=cc[1],
                                format_func=ui.labeller("period", {"all": ui.tr("export_period_all")}))
        by_value = None if by == "none" else by
        download("rates", key, ctx, excel,
                 lambda: data.cached(export.rates_frame, key, by=by_value, period=period, filters=f, as_of=as_of),
                 by=by_value, period=period)

    with st.container(border=True):
        st.markdown(f"**{ui.tr('export_funnel')}** · {o.label(lg)}")
        method = ui.choice("method", "funnel_method", analysis.FUNNEL_METHODS, default="arcsine", prefix="method")
        download("funnel", key, ctx, excel,
                 lambda: data.cached(export.funnel_frame, key, method=method, filters=f, as_of=as_of),
                 method=method)

    with st.container(border=True):
        st.markdown(f"**{ui.tr('export_spc')}** · {o.label(lg)}")
        cc = st.columns(3)
        chart = ui.choice("chart", "chart_type", analysis.CHARTS, default="p", prefix="chart_short", container=cc[0])
        rules = ui.choice("rules", "rules", analysis.RULE_SETS, default="anhoej", prefix="rules", container=cc[1])
        spc_period = ui.choice("spc_period", "period_choice", SPC_PERIODS, default="month", prefix="period",
                               container=cc[2])
        download("spc", key, ctx, excel,
                 lambda: data.cached(export.spc_frame, key, chart=chart, period=spc_period, rules=rules, filters=f,
                                     as_of=as_of),
                 chart=chart, period=spc_period, rules=rules)

    with st.container(border=True):
        st.markdown(f"**{ui.tr('export_costs')}**")
        cc = st.columns(2)
        costs_by = filters.synced(st.selectbox, "costs_by", ui.tr("export_by"), options=list(COSTS_BY),
                                  default="month", container=cc[0], format_func=ui.labeller())
        consumables = float(filters.synced(st.number_input, "consumables", ui.tr("consumables"),
                                           default=float(costs.DEFAULT_CONSUMABLES_NOK), min_value=0.0,
                                           max_value=10_000.0, step=10.0, format="%.0f", container=cc[1],
                                           cast=float) or 0.0)
        download("costs", None, ctx, excel,
                 lambda: data.cached(export.costs_frame, by=costs_by, consumables_nok=consumables, filters=f,
                                     as_of=as_of),
                 by=costs_by, consumables_nok=consumables)

    with st.container(border=True):
        st.markdown(f"**{ui.tr('export_cusum')}** · {o.label(lg)}")
        counted = data.cached(metrics.counts, key, filters=f, as_of=as_of).iloc[0]
        has_chart = 0 < counted["numerator_n"] < counted["denominator_n"]
        download("cusum", key, ctx, excel, rows=int(counted["denominator_n"]) if has_chart else 0)

    with st.expander(ui.tr("export_provenance")):
        st.code("\n".join(f"# {k}: {v}" for k, v in prov.items()), language="text")


def _provenance_preview(con, key: str, f, as_of: dt.date, db: str) -> dict:
    """The provenance lines of a rates export with these filters (generated_at / _by are set at download)."""
    prov = export.provenance(con, "rates", as_of=as_of, filters=f, options=data.export_options("rates"),
                             outcome_key=key, db_path=None, generated_by="…")
    prov["database"] = db
    prov.pop("generated_at", None)
    prov.pop("generated_by", None)
    return prov


ui.run_page(main)
