"""Products and lots (issue 13): one outcome by lot, product, dilution and dose band, the funnel by lot or product,
the sessions treated with an expired lot, and the recall list of a lot.

The doctor (and the admin: capability `lots`) sees lots, dilutions and dose bands; the manager sees the aggregate by
product only, its small cells hidden like every other page's (pipelines/metrics/small_cells.py). The expired-lot
sessions and the recall list are case lists: the doctor's only (`case_review`, `recall`), each view logged as one
(auth.view_rows), the recall file logged with its row count and SHA-256 when it is generated
(auth.logged_download). The recall file is the command line's `export recall`, built by the same builder."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import analysis, counting, registry, small_cells
from pipelines.metrics.counting import Filters
from pipelines.release import build

PAGE_PARAMS = ("outcome", "lots_by", "funnel_by")
BREAKDOWNS = ("lot", "product", "dilution", "dose_band")  # the doctor's; the manager's: product only
FUNNELS = ("lot", "product")
DEFAULT_OUTCOME = "insufficient_effect"


def group_labels(by: str, values, lg: str) -> dict:
    """Display names of the groups (a lot and a product are shown as they are)."""
    if by == "dose_band":
        return {v: i18n.t(f"dose_band_{v}", lg) for v in values}
    if by == "dilution":
        return {v: ui.tr("lots_dilution_value", ml=i18n.number(v, lg, 2)) for v in values}
    return {v: str(v) for v in sorted(values)}


def breakdown(o: registry.Outcome, ctx: ui.Context, by: str) -> None:
    lg = ctx.lang
    part = data.cached(small_cells.rates, o.key, by=(by,), filters=ctx.filters, as_of=ctx.as_of,
                       min_sessions=ctx.min_sessions)
    overall = data.cached(small_cells.rates, o.key, filters=ctx.filters, as_of=ctx.as_of,
                          min_sessions=ctx.min_sessions)["rate"].iloc[0]
    known = part[part[by].notna()].reset_index(drop=True)
    labels = group_labels(by, list(known[by]), lg)
    chart_frame = known.assign(**{by: [labels[v] for v in known[by]]})
    ui.show_chart(charts.breakdown_chart(chart_frame, by=by, labels={v: v for v in labels.values()},
                                         outcome_label=o.label(lg), lang=lg, overall=overall,
                                         reference=charts.reference_tuple(o.reference)), key=f"lots_breakdown_{by}")
    ui.hidden_note(part)
    missing = part[part[by].isna()]
    if not missing.empty and not ui.is_hidden(missing.iloc[0]):
        st.caption(ui.tr("lots_not_recorded", n=i18n.number(missing["eligible_n"].iloc[0], lg),
                         what=ui.tr(f"by_{by}")))


def funnel(o: registry.Outcome, ctx: ui.Context, by: str) -> None:
    lg = ctx.lang
    frame, info = data.cached(analysis.funnel, o.key, filters=ctx.filters, as_of=ctx.as_of,
                              min_sessions=ctx.min_sessions, by=by)
    method = info.get("method", "arcsine")
    shown = small_cells.shown(frame)
    curve = analysis.funnel_curve(info, int(shown["denominator_n"].max()) if not shown.empty else 1, method)
    ui.show_chart(charts.funnel_chart(frame.rename(columns={by: "clinician"}), curve, info,
                                      outcome_label=o.label(lg), lang=lg,
                                      reference=charts.reference_tuple(o.reference)), key=f"lots_funnel_{by}")
    ui.hidden_note(frame)
    high = shown[shown["flag"] == "high"] if "flag" in shown else shown.iloc[0:0]
    if not high.empty:
        st.warning(ui.tr("lots_flagged_high", by=ui.tr(f"by_{by}"), units=", ".join(str(v) for v in high[by]),
                         outcome=o.label(lg).lower()), icon=":material/warning:")


def expired_sessions(ctx: ui.Context, who: auth.Viewer) -> None:
    """The sessions treated after their lot's expiry date (registry `expired_lot`): a case list for the doctor."""
    lg = ctx.lang
    st.subheader(ui.tr("lots_expired"))
    st.caption(registry.get("expired_lot").description(lg))
    # only the expired sessions leave the database (not every session with a lot, filtered here)
    listed = data.cached(counting.session_outcomes, "expired_lot", filters=ctx.filters, as_of=ctx.as_of,
                         only_numerator=True)
    if listed.empty:
        st.info(ui.tr("lots_expired_none"))
        return
    auth.view_rows(who, "lots: expired-lot sessions", len(listed), ctx.filters, outcome="expired_lot")
    ui.table(pd.DataFrame({
        ui.tr("col_treatment_id"): listed["treatment_id"],
        ui.tr("col_patient_ref"): listed["patient_ref"],
        ui.tr("col_treated_on"): listed["treated_on"],
        ui.tr("clinician"): listed["clinician"],
        ui.tr("product"): listed["product"],
        ui.tr("col_lot"): listed["lot_number"],
        ui.tr("col_lot_expiry"): listed["lot_expiry"],
    }))


def recall(ctx: ui.Context, who: auth.Viewer) -> None:
    """The recall list of one lot (optionally of some products): every session with it, whatever the sidebar's
    filters, as on the command line (`export recall`); shown and downloadable, each logged as a case list."""
    st.subheader(ui.tr("lots_recall"))
    st.caption(ui.tr("lots_recall_caption"))
    c = st.columns([1, 2], vertical_alignment="bottom")
    with c[0]:
        lot = st.text_input(ui.tr("lots_recall_lot"), key="lots_recall_lot", max_chars=64)
    with c[1]:
        products = st.multiselect(ui.tr("product"), options=list(ctx.options["products"]), key="lots_recall_products")
    lot = (lot or "").strip()
    if not lot:
        return
    options = build.ExportOptions(lot=lot, filters=Filters(products=tuple(products)), user=who.user)
    try:
        frame = data.run(data.export_frame, "recall", options)
    except build.ExportOptionError as exc:
        st.warning(str(exc), icon=":material/block:")
        return
    details = {"lot": lot.upper(), "products": "|".join(products) or None}
    auth.view_rows(who, "lots: recall list", len(frame), None, **details)
    if frame.empty:
        st.info(ui.tr("lots_recall_none", lot=lot.upper()))
        return
    st.caption(i18n.tn("lots_recall_rows", len(frame), ctx.lang, lot=lot.upper()))
    ui.table(frame)

    def make() -> tuple[bytes, int]:
        return data.run(data.export_file, "recall", options)

    name = f"recall_{''.join(ch for ch in lot.upper() if ch.isalnum() or ch in '-_.')[:32] or 'lot'}.csv"
    st.download_button(ui.tr("export_download", name=ui.tr("export_recall")),
                       data=auth.logged_download(who, f"recall (case list) lot {lot.upper()}: {name}",
                                                 auth.describe(None, **details), make),
                       file_name=name, mime="text/csv", key="download_recall", icon=":material/download:",
                       on_click="ignore")


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    who = auth.current()
    sees_lots = who.may("lots")
    ui.header("page_lots", ui.tr("lots_caption" if sees_lots else "lots_caption_product_only"))
    key = ui.outcome_picker(default=DEFAULT_OUTCOME)
    o = registry.get(key)
    by_options = BREAKDOWNS if sees_lots else ("product",)
    funnel_options = FUNNELS if sees_lots else ("product",)
    c = st.columns(2)
    by = ui.choice("lots_by", "lots_by", by_options, default=by_options[0], prefix="by", container=c[0])
    funnel_by = ui.choice("funnel_by", "lots_funnel_by", funnel_options, default=funnel_options[0], prefix="by",
                          container=c[1])
    st.subheader(ui.tr("lots_rates"))
    breakdown(o, ctx, by)
    st.subheader(ui.tr("lots_funnel"))
    st.caption(ui.tr("lots_funnel_caption"))
    funnel(o, ctx, funnel_by)
    if not sees_lots:
        st.caption(ui.tr("lots_for_the_doctor"))
        return
    if who.may("case_review"):
        expired_sessions(ctx, who)
    if who.may("recall"):
        recall(ctx, who)


ui.run_page(main)
