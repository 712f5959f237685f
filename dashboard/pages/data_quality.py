"""Data quality: how fresh the data is, the loads (when, file, rows loaded / rejected), the rejected rows with
their reasons (re-exported sessions in conflict with stored rows listed apart, with the date kept), and follow-up
completeness by month and clinician."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.ingest import history
from pipelines.metrics import analysis, changes, counting, registry

PAGE_PARAMS = ("dq_outcome",)
STALE_DAYS = 14

WRAPPED_ROWS = 50  # up to this many rejected rows are a static table with each reason in full


def freshness(ctx_lang: str) -> None:
    info = data.cached(history.snapshot_info)
    fresh = data.cached(history.data_freshness)
    today = dt.date.today()
    c = st.columns(4)

    def day_of(d) -> dt.date | None:
        return d.date() if isinstance(d, dt.datetime) else d

    def ago(d) -> str | None:
        if d is None:
            return None
        n = (today - day_of(d)).days
        text = ui.tr("today") if n == 0 else i18n.tn("days_ago", n, ui.lang())
        if isinstance(d, dt.datetime):
            text += " " + ui.tr("at_time", time=d.strftime("%H:%M"))
        return text

    ui.kpi(c[0], ui.tr("fresh_snapshot"), f"v{info['version']}",
           delta=ui.tr("fresh_published", when=i18n.date(info["published_at"], ui.lang())) if info["published_at"] else None)
    ui.kpi(c[1], ui.tr("fresh_treatment"), i18n.date(fresh["last_treatment_on"], ui.lang()), delta=ago(fresh["last_treatment_on"]))
    ui.kpi(c[2], ui.tr("fresh_follow_up"), i18n.date(fresh["last_follow_up_on"], ui.lang()), delta=ago(fresh["last_follow_up_on"]))
    ui.kpi(c[3], ui.tr("fresh_load"), i18n.date(day_of(fresh["last_load_at"]), ui.lang()), delta=ago(fresh["last_load_at"]))
    last = fresh["last_treatment_on"]
    if last is not None and (today - last).days > STALE_DAYS:
        st.warning(i18n.tn("stale_warning", (today - last).days, ui.lang()), icon=":material/schedule:")


def main() -> None:
    filters.page(PAGE_PARAMS)
    lg = ui.lang()
    ui.header("page_data_quality", ui.tr("dq_caption"))
    freshness(lg)

    st.subheader(ui.tr("loads"))
    loads = data.cached(history.load_history)
    ui.table(pd.DataFrame({
        ui.tr("col_loaded_at"): [_when(v) for v in loads["loaded_at"]],
        ui.tr("col_file"): loads["file_name"],
        ui.tr("col_table"): loads["table_name"],
        ui.tr("col_rows_read"): ui.nums(loads["rows_read"]),
        ui.tr("col_rows_loaded"): ui.nums(loads["rows_loaded"]),
        ui.tr("col_rows_rejected"): ui.nums(loads["rows_rejected"]),
        ui.tr("col_rows_inserted"): ui.nums(loads["rows_inserted"]),
        ui.tr("col_rows_updated"): ui.nums(loads["rows_updated"]),
    }), right=[ui.tr(k) for k in ("col_rows_read", "col_rows_loaded", "col_rows_rejected", "col_rows_inserted",
                                  "col_rows_updated")])

    st.subheader(ui.tr("rejected"))
    st.caption(ui.tr("rejected_caption"))
    rejected = data.cached(history.rejected_rows)
    if rejected.empty:
        st.success(ui.tr("rejected_none"), icon=":material/check_circle:")
    else:
        auth.view_rows(auth.current(), "data_quality: rejected rows", len(rejected))
        summary = data.cached(history.pending_summary)
        st.markdown(f"**{ui.tr('rejected_summary')}**")
        ui.table(pd.DataFrame({
            ui.tr("col_table"): summary["table_name"],
            ui.tr("col_reason_kind"): [i18n.label("kind", v, lg) for v in summary["reason_kind"]],
            ui.tr("col_rows"): summary["rows_n"],
            ui.tr("col_files"): summary["files_n"],
            ui.tr("col_first_rejected"): [_when(v) for v in summary["first_rejected_at"]],
        }), column_config={ui.tr("col_reason_kind"): st.column_config.TextColumn(width=470)})
        conflicts(lg)
        rows = pd.DataFrame({
            ui.tr("col_file"): rejected["file_name"],
            ui.tr("col_row"): rejected["row_number"],
            ui.tr("col_column"): rejected["column_name"],
            ui.tr("col_reason"): rejected["reason"],
            ui.tr("col_record"): rejected["record_id"],
            ui.tr("col_rejected_at"): [_when(v) for v in rejected["rejected_at"]],
        })
        if len(rows) <= WRAPPED_ROWS:  # a static table wraps each reason in full (a grid cuts it off)
            st.table(rows.set_index(ui.tr("col_file")))
        else:
            ui.table(rows, column_config={ui.tr("col_reason"): st.column_config.TextColumn(width=430),
                                          ui.tr("col_file"): st.column_config.TextColumn(width=140)},
                     height=min(400, 35 * (len(rejected) + 1) + 3))

    st.subheader(ui.tr("completeness_title"))
    st.caption(ui.tr("completeness_caption"))
    ctx = ui.context()
    keys = [o.key for o in registry.OUTCOMES if o.needs_follow_up]
    c = st.columns([1.5, 3])
    key = ui.outcome_picker("dq_outcome", keys=keys, default="bruising", container=c[0],
                            label_key="completeness_outcome")
    o = registry.get(key)
    monthly = data.cached(analysis.completeness, key, period="month", filters=ctx.filters, as_of=ctx.as_of)
    fig = charts.rate_time_chart(
        monthly, lang=lg, title=f"{o.label(lg)}: {ui.tr('completeness').lower()}", subtitle=ui.tr("interval"),
        name=ui.tr("completeness_short"), y_title=ui.tr("completeness_short") + " (%)")
    charts.add_process_changes(fig, changes.concerning(data.cached(changes.process_changes), key, ctx.filters), lg,
                               by_month=not ui.sees_sessions())  # issue 12: what changed, on the time chart
    ui.show_chart(fig, key="completeness_month")
    grid = data.cached(counting.counts, key, by=("clinician",), period="month", filters=ctx.filters, as_of=ctx.as_of)
    ui.show_chart(charts.completeness_heatmap(grid, outcome_label=o.label(lg), lang=lg), key="completeness_grid")

    st.subheader(ui.tr("table_counts"))
    counts = data.cached(history.table_counts)
    ui.table(pd.DataFrame({ui.tr("col_table"): counts["table_name"], ui.tr("col_rows"): ui.nums(counts["rows_n"])}),
             right=[ui.tr("col_rows")])


def conflicts(lg: str) -> None:
    """Re-exported sessions rejected because they conflict with stored rows: the re-exported and the kept date."""
    found = data.cached(history.stored_conflicts)
    if found.empty:
        return
    st.markdown(f"**{ui.tr('conflicts_title')}**")
    st.caption(ui.tr("conflicts_caption"))
    ui.table(pd.DataFrame({
        ui.tr("col_record"): found["record_id"],
        ui.tr("col_rejected_value"): found["rejected_value"],
        ui.tr("col_stored_value"): found["stored_value"],
        ui.tr("col_file"): found["file_name"],
        ui.tr("col_row"): found["row_number"],
        ui.tr("col_reason"): found["reason"],
    }), column_config={ui.tr("col_reason"): st.column_config.TextColumn(width=560)})


def _when(value) -> str:
    """A timestamp as text in the page's language ('30.11.2026 12:24'; '2026-11-30 12:24' in English): no
    time-zone surprises in the grid."""
    if value is None or pd.isna(value):
        return ""
    return i18n.date(pd.Timestamp(value).to_pydatetime().replace(second=0, microsecond=0), ui.lang())


ui.run_page(main)
