"""Access log (admin): who signed in, saw a list of sessions, exported a file or was refused, newest first, with
the integrity of the keyed hash chain (pipelines.release.access.verify_log) and any line that cannot be read (listed, never
fatal). Read-only: the app only ever appends to the log. The log can be downloaded as CSV; that export is logged
too."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import auth, filters, i18n
from dashboard import components as ui
from pipelines.release import access

PAGE_PARAMS = ("events",)
SHOWN_MAX = 2000


def main() -> None:
    filters.page(PAGE_PARAMS)
    lg = ui.lang()
    who = auth.current()
    path = auth.log_path()
    ui.header("page_access_log", ui.tr("access_log_caption", path=str(path)))
    records = access.read_log(path)
    intact, message = access.verify_log(path)
    if intact:
        st.success(i18n.tn("access_log_intact", len(records), lg), icon=":material/verified:")
        unkeyed = _unkeyed(path)
        if unkeyed:
            st.info(i18n.tn("access_log_unkeyed", unkeyed.unkeyed_entries_n, lg,
                          created=unkeyed.created_at), icon=":material/history:")
    else:
        st.error(ui.tr("access_log_broken", message=message), icon=":material/gpp_bad:")
    if records.bad_lines:
        st.warning(i18n.tn("access_log_bad_lines", len(records.bad_lines), lg),
                   icon=":material/warning:")
        ui.table(pd.DataFrame({
            ui.tr("col_line_n"): [b.line_n for b in records.bad_lines],
            ui.tr("col_bad_reason"): [b.reason for b in records.bad_lines],
            ui.tr("col_line_start"): [b.text for b in records.bad_lines],
        }), height=min(320, 35 * (len(records.bad_lines) + 1) + 3))
    if not records:
        st.info(ui.tr("access_log_empty"))
        return

    c = st.columns([3, 1.2], vertical_alignment="bottom")
    events = filters.synced(st.multiselect, "events", ui.tr("access_log_events"), options=list(access.EVENTS),
                            default=(), container=c[0], placeholder=ui.tr("filter_all"),
                            format_func=ui.labeller("event"))
    with c[1]:
        st.download_button(ui.tr("access_log_download"),
                           data=auth.logged_download(who, f"access_log: {path.name}", "",
                                                     lambda: auth.log_csv(path, who)),
                           file_name=f"access_log_{dt.date.today().isoformat()}.csv", mime="text/csv",
                           key="download_access_log", icon=":material/download:", on_click="ignore", width="stretch")
    frame = auth.log_frame(records).iloc[::-1]
    if events:
        frame = frame[frame["event"].isin(events)]
    shown = frame.head(SHOWN_MAX)
    st.caption(i18n.tn("access_log_shown", len(frame), lg, shown=i18n.number(len(shown), lg)))
    ui.table(pd.DataFrame({
        ui.tr("col_at"): shown["at"].str.replace("T", " "),
        ui.tr("col_user"): shown["user"],
        ui.tr("col_role"): shown["role"],
        ui.tr("col_event_kind"): [i18n.label("event", v, lg) for v in shown["event"]],
        ui.tr("col_what"): shown["what"],
        ui.tr("col_filters"): shown["filters"],
        ui.tr("col_rows_n"): ["" if pd.isna(v) else i18n.number(v, lg) for v in shown["rows_n"]],
        ui.tr("col_sha256"): [v if isinstance(v, str) else "" for v in shown["file_sha256"]],
    }), height=min(640, 35 * (len(shown) + 1) + 3),
        column_config={ui.tr("col_what"): st.column_config.TextColumn(width=320),
                       ui.tr("col_filters"): st.column_config.TextColumn(width=320)},
        right=[ui.tr("col_rows_n")])


def _unkeyed(path) -> access.LogKey | None:
    """The key file, when the log has entries from before it was keyed (else None)."""
    try:
        key = access.read_key(access.key_path_for(path))
    except access.AccessLogError:
        return None
    return key if key and key.unkeyed_entries_n else None


ui.run_page(main)
