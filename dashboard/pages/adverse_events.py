"""Adverse events (issue 13, the doctor only): the serious or unexpected reactions to report to the medicines agency
(melde.no), each with its reporting status; a pre-filled, de-identified draft of the chosen one (text to copy, and
a PDF); and a form that records it reported (date, melde.no reference).

What is reportable, the draft and the status file are pipelines/release/adverse_events.py; this page only draws.
The list is a case list (capability `adverse_event_report`): its view is logged (auth.view_rows), each draft shown
is logged as a view of one case, the PDF and the CSV (the command line's `export adverse-events`, the same builder)
as exports with their SHA-256 (auth.logged_download), and a recorded report as an `edit` before it is saved."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import auth, data, filters, i18n
from dashboard import components as ui
from pipelines.release import access, build
from pipelines.release import adverse_events as ae


def _status_file():
    return ae.status_path_for(data.db_path())


def _status(row) -> str:
    return ui.tr("ae_status_reported" if row["report_status"] == "reported" else "ae_status_not_reported")


def _label(row, lg: str) -> str:
    mark = "✅" if row["report_status"] == "reported" else "🟠"
    return (f"{mark} {row['draft_number']} · {ae.REPORTABLE_BY_KEY[row['reaction']].label(lg)} · "
            f"{i18n.date(row['treated_on'], lg)} · {row['product']} · {_status(row)}")


def case_table(frame: pd.DataFrame, lg: str) -> None:
    yes, no = i18n.t("yes", lg), i18n.t("no", lg)
    ui.table(pd.DataFrame({
        ui.tr("col_draft_number"): frame["draft_number"],
        ui.tr("col_reaction"): [ae.REPORTABLE_BY_KEY[r].label(lg) for r in frame["reaction"]],
        ui.tr("col_treatment_id"): frame["treatment_id"],
        ui.tr("col_treated_on"): [i18n.date(d, lg) for d in frame["treated_on"]],
        ui.tr("col_onset_on"): [i18n.date(d, lg) for d in frame["onset_on"]],
        ui.tr("product"): frame["product"],
        ui.tr("col_lot"): ["" if pd.isna(v) else v for v in frame["lot_number"]],
        ui.tr("clinician"): frame["clinician"],
        ui.tr("col_off_label"): [yes if v else no for v in frame["is_off_label"]],
        # status, date and reference in one column: every column fits at 1400 px without sideways scrolling
        ui.tr("col_report_status"): [_status_text(r, lg) for _, r in frame.iterrows()],
    }))


def _status_text(row, lg: str) -> str:
    """"Not reported", or "Reported 12.08.2026 · REF" (the date in the page's language)."""
    if row["report_status"] != "reported":
        return _status(row)
    on = row["reported_on"]
    if isinstance(on, str) and on:
        on = dt.date.fromisoformat(on)
    when = i18n.date(on, lg) if isinstance(on, dt.date) else ""
    return " · ".join(x for x in (_status(row), when, str(row["report_reference"] or "")) if x)


def draft_section(row, who: auth.Viewer, lg: str) -> None:
    d = ae.draft(row, lg, reporter_role=who.role)
    auth.log_once(who, "page_view", f"adverse events: draft {d.number}", filters_text=f"reaction={row['reaction']}",
                  rows_n=1)
    st.subheader(ui.tr("ae_draft"))
    st.caption(ui.tr("ae_draft_caption"))
    st.code(ae.draft_text(d), language=None, wrap_lines=True)

    def make() -> tuple[bytes, int]:
        return ae.draft_pdf(d), 1

    name = f"{d.number}.pdf"
    st.download_button(ui.tr("ae_download_pdf"),
                       data=auth.logged_download(who, f"adverse-event draft {d.number} (case): {name}",
                                                 auth.describe(None, reaction=row["reaction"], lang=lg), make),
                       file_name=name, mime="application/pdf", key="download_ae_draft",
                       icon=":material/picture_as_pdf:", on_click="ignore")


def record_form(row, who: auth.Viewer, found: list[dict]) -> None:
    st.subheader(ui.tr("ae_record"))
    with st.form("ae_record_form", clear_on_submit=False, border=False):
        c = st.columns([1, 2])
        today = dt.date.today()
        # typed in the page's language (dashboard/filters.py: Streamlit's calendar follows the browser's language)
        reported_text = c[0].text_input(ui.tr("ae_reported_on"), value=filters.date_text(today, ui.lang()),
                                        max_chars=10, key="ae_reported_on", placeholder=ui.tr("date_placeholder"))
        reference = c[1].text_input(ui.tr("ae_reference"), value=row["report_reference"] or "",
                                    max_chars=ae.REFERENCE_MAX_CHARS, key="ae_reference",
                                    help=ui.tr("ae_reference_help", n=ae.REFERENCE_MAX_CHARS))
        if st.form_submit_button(ui.tr("ae_save"), icon=":material/task_alt:"):
            reported_on, problem = filters.form_date(reported_text, ui.lang())
            if problem or reported_on is None:
                st.error(problem or ui.tr("date_required", example=filters.date_text(today, ui.lang())),
                         icon=":material/event_busy:")
                return
            try:
                ae.record_report(_status_file(), row, reported_on=reported_on, reference=reference, user=who.user,
                                 role=who.role, access_log=auth.log_path(), today=today)
            except (ae.AdverseEventError, access.AccessLogError) as exc:  # nothing was saved
                st.error(ui.tr("ae_not_saved", error=str(exc)[:300]), icon=":material/error:")
            else:
                st.success(ui.tr("ae_saved"), icon=":material/check_circle:")
                st.rerun()
    past = ae.history(found, row["treatment_id"], row["reaction"])
    if past:
        st.caption(ui.tr("ae_history"))
        ui.table(pd.DataFrame({
            ui.tr("col_recorded_at"): [r["recorded_at"].replace("T", " ") for r in reversed(past)],
            ui.tr("col_recorded_by"): [r["recorded_by"] for r in reversed(past)],
            ui.tr("col_reported_on"): [r["reported_on"] for r in reversed(past)],
            ui.tr("col_report_reference"): [r["reference"] for r in reversed(past)],
        }))


def main() -> None:
    ctx = ui.context()
    who = auth.current()
    ui.header("page_adverse_events", ui.tr("ae_caption"))
    if not who.may(ae.REPORT_CAPABILITY):
        st.info(ui.tr("ae_for_the_doctor"))
        return
    lg = ctx.lang
    try:
        found = ae.read_reports(_status_file())  # read on every run: the file changes between snapshots
    except ae.AdverseEventError as exc:  # fail closed: no list that would show every reaction as not reported
        st.error(ui.tr("ae_unreadable", error=str(exc)[:300]), icon=":material/error:")
        return
    frame = ae.with_status(data.cached(ae.reactions, as_of=ctx.as_of), found)
    if found.bad_lines:
        st.warning(ui.tr("ae_bad_lines", lines=", ".join(str(n) for n in found.bad_lines[:10])),
                   icon=":material/warning:")
    if frame.empty:
        st.success(ui.tr("ae_none"), icon=":material/check_circle:")
        return
    auth.view_rows(who, "adverse events: case list", len(frame), None)
    k = st.columns(2)
    reported = int((frame["report_status"] == "reported").sum())
    ui.kpi(k[0], ui.tr("ae_status_not_reported"), i18n.number(len(frame) - reported, lg))
    ui.kpi(k[1], ui.tr("ae_status_reported"), i18n.number(reported, lg))
    case_table(frame, lg)
    options = build.ExportOptions(user=who.user, lang=lg, database=data.db_path())

    def make_csv() -> tuple[bytes, int]:
        return data.run(data.export_file, "adverse-events", options)

    st.download_button(ui.tr("export_download", name=ui.tr("export_adverse-events")),
                       data=auth.logged_download(who, "adverse-events (case list): adverse_events.csv", "",
                                                 make_csv),
                       file_name="adverse_events.csv", mime="text/csv", key="download_ae_list",
                       icon=":material/download:", on_click="ignore")
    labels = [_label(r, lg) for _, r in frame.iterrows()]
    picked = st.selectbox(ui.tr("ae_pick"), options=list(range(len(frame))), key="ae_pick",
                          format_func=labels.__getitem__)
    row = frame.iloc[picked]
    draft_section(row, who, lg)
    record_form(row, who, found)


ui.run_page(main)
