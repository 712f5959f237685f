"""Quality meeting (doctor, admin): every signal episode with its review, the clinic's process changes and its
targets.

- Each episode of the overview's list (pipelines.metrics.signals.episode_list) shows whether it is open or
  reviewed; a form records a review (conclusion, note, action owner, due date) through
  pipelines.release.reviews.record_review, which writes the access log and then the append-only review file. The
  review history of the episode is listed under the form.
- Process changes (the `process_changes` table) are listed; a form adds one through
  pipelines.release.reviews.add_process_change: the loader's own validation, then a load (a new snapshot).
- Targets (the `targets` table) beside the variation reading, with the Making Data Count assurance reading.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import auth, data, filters, i18n
from dashboard import components as ui
from pipelines.metrics import changes, registry, signals, targets
from pipelines.release import reviews

PAGE_PARAMS = ("status", "page_n")
STATUS_CHOICES = ("open", "reviewed", "all")
PER_PAGE = 10
EPISODES_WAIT_SECONDS = 3.0
POLL_SECONDS = 2.0


def _reviews_file():
    return reviews.reviews_path_for(data.db_path())


def _when(e: dict, lg: str) -> str:
    def one(d) -> str:
        return i18n.period_label(d, "month", lg) if e["kind"] == "spc" else i18n.date(d, lg)

    first, last = one(e["first_date"]), one(e["last_date"])
    return last if first == last else ui.tr("episode_span", first=first, last=last)


def _link(e: dict) -> tuple[str, dict]:
    if e["kind"] == "spc":
        return "complications", {"outcome": e["outcome"], "point": e["period"], "rules": "anhoej"}
    return "clinicians", {"outcome": e["outcome"], "clinician": e["clinician"],
                          "tab": "cusum" if e["kind"] == "cusum" else "funnel"}


def _label(e: dict, lg: str) -> str:
    clinician = e["clinician"] if isinstance(e["clinician"], str) and e["clinician"] else ui.tr("clinic")
    mark = "🟠" if e["review_status"] == "open" else "✅"
    status = ui.tr("review_status_" + e["review_status"])
    if e["review_status"] == "reviewed":
        status += f" · {ui.tr('conclusion_' + e['conclusion'])}"
    return (f"{mark} {_when(e, lg)} · {ui.tr('kind_short_' + e['kind'])} · {ui.outcome_label(e['outcome'])} · "
            f"{clinician} · {status}")


def review_form(e: dict, who: auth.Viewer, lg: str) -> None:
    key = e["episode_key"]
    with st.form(f"review_{key}", clear_on_submit=False, border=False):
        c = st.columns([1.4, 1, 1])
        conclusion = c[0].selectbox(ui.tr("review_conclusion"), reviews.CONCLUSIONS,
                                    index=reviews.CONCLUSIONS.index(e["conclusion"]) if e["conclusion"] else 0,
                                    format_func=ui.labeller("conclusion"), key=f"conclusion_{key}")
        owner = c[1].text_input(ui.tr("review_owner"), value=e["action_owner"], max_chars=reviews.OWNER_MAX_CHARS,
                                key=f"owner_{key}")
        # typed in the page's language (dashboard/filters.py: Streamlit's calendar follows the browser's language)
        due_text = c[2].text_input(ui.tr("review_due"), max_chars=10, key=f"due_{key}",
                                   value=filters.date_text(dt.date.fromisoformat(e["due_on"]) if e["due_on"] else None,
                                                           lg),
                                   placeholder=ui.tr("date_placeholder"))
        note = st.text_area(ui.tr("review_note"), value=e["note"], max_chars=reviews.NOTE_MAX_CHARS,
                            help=ui.tr("review_note_help"), key=f"note_{key}")
        if st.form_submit_button(ui.tr("review_save"), icon=":material/task_alt:"):
            due, problem = filters.form_date(due_text, lg)
            if problem:
                st.error(problem, icon=":material/event_busy:")
                return
            try:
                reviews.record_review(_reviews_file(), e, reviews.Review(conclusion, note, owner, due),
                                      user=who.user, role=who.role, access_log=auth.log_path())
            except reviews.ReviewError as exc:
                st.error(str(exc), icon=":material/error:")
            except Exception as exc:  # the access log refused it (AccessLogError): nothing was saved
                st.error(ui.tr("review_not_saved", error=str(exc)[:300]), icon=":material/error:")
            else:
                st.success(ui.tr("review_saved"), icon=":material/check_circle:")
                st.rerun()


def history_table(found: list[dict], e: dict, lg: str) -> None:
    past = reviews.history(found, e["episode_key"])
    if not past:
        return
    st.caption(ui.tr("review_history"))
    ui.table(pd.DataFrame({
        ui.tr("col_reviewed_at"): [r["reviewed_at"].replace("T", " ") for r in reversed(past)],
        ui.tr("col_reviewed_by"): [r["reviewed_by"] for r in reversed(past)],
        ui.tr("review_conclusion"): [ui.tr("conclusion_" + r["conclusion"]) for r in reversed(past)],
        ui.tr("review_owner"): [r["action_owner"] for r in reversed(past)],
        ui.tr("review_due"): [r["due_on"] for r in reversed(past)],
        ui.tr("review_note"): [r["note"] for r in reversed(past)],
    }), height=min(300, 35 * (len(past) + 1) + 3))


def episodes_section(ctx: ui.Context, who: auth.Viewer) -> None:
    lg = ctx.lang
    st.subheader(ui.tr("signals_review_title"))
    st.caption(ui.tr("signals_review_caption"))
    # every watched outcome's charts, CUSUMs included (seconds on a large clinic): on the background worker
    done, episodes = data.background(signals.episode_list, filters=ctx.filters, as_of=ctx.as_of,
                                     wait=EPISODES_WAIT_SECONDS)
    if not done:
        episodes_pending(ctx)
        return
    found = reviews.read_reviews(_reviews_file())  # read on every run: the file changes between snapshots
    listed = reviews.with_reviews(episodes, found)
    counts = reviews.review_counts(listed)
    k = st.columns(3)
    ui.kpi(k[0], ui.tr("review_status_open"), i18n.number(counts["open"], lg))
    ui.kpi(k[1], ui.tr("review_status_reviewed"), i18n.number(counts["reviewed"], lg))
    ui.kpi(k[2], ui.tr("conclusion_investigating"), i18n.number(counts["investigating"], lg))
    if found.bad_lines:
        st.warning(ui.tr("reviews_bad_lines", lines=", ".join(str(n) for n in found.bad_lines[:10])),
                   icon=":material/warning:")
    status = filters.synced(st.segmented_control, "status", ui.tr("review_show"), options=list(STATUS_CHOICES),
                            default="open", required=True, format_func=ui.labeller("review_status"))
    shown = listed if status == "all" else listed[listed["review_status"] == status]
    if shown.empty:
        st.success(ui.tr("signals_none"), icon=":material/check_circle:")
        return
    pages = max(1, -(-len(shown) // PER_PAGE))
    page_n = filters.pagination("page_n", pages, render=False)
    for e in shown.iloc[(page_n - 1) * PER_PAGE: page_n * PER_PAGE].to_dict("records"):
        with st.expander(_label(e, lg), expanded=False):
            page, params = _link(e)
            ui.page_link(page, ui.tr("open_chart"), **params)
            review_form(e, who, lg)
            history_table(found, e, lg)
    if pages > 1:
        filters.pagination("page_n", pages)


def episodes_pending(ctx: ui.Context) -> None:
    """A note that the episodes are still being computed; it polls and reruns the page once they are ready."""

    @st.fragment(run_every=POLL_SECONDS)
    def poll() -> None:
        finished, _ = data.background(signals.episode_list, filters=ctx.filters, as_of=ctx.as_of)
        if finished:
            st.rerun()
        st.info(ui.tr("signals_review_pending"), icon=":material/hourglass_top:")

    poll()


def changes_section(ctx: ui.Context, who: auth.Viewer) -> None:
    lg = ctx.lang
    st.subheader(ui.tr("process_changes_title"))
    st.caption(ui.tr("process_changes_caption"))
    found = data.cached(changes.process_changes)
    if found.empty:
        st.info(ui.tr("process_changes_none"), icon=":material/info:")
    else:
        ui.table(pd.DataFrame({
            ui.tr("col_changed_on"): [i18n.date(d, lg) for d in found["changed_on"]],
            ui.tr("col_description"): found["description"],
            ui.tr("col_outcome"): [ui.outcome_label(k) if k else ui.tr("filter_all") for k in found["outcome"]],
            ui.tr("product"): [p or ui.tr("filter_all") for p in found["product"]],
            ui.tr("clinician"): [c or ui.tr("clinic") for c in found["clinician"]],
            ui.tr("col_rebase"): [ui.tr("yes") if r else ui.tr("no") for r in found["rebase"]],
        }), height=min(320, 35 * (len(found) + 1) + 3))
    if who.demo:  # a load after the demo's ends demo mode for the database (pipelines/demo/build.py)
        st.caption(ui.tr("process_change_demo"))
        return
    with st.form("process_change", clear_on_submit=True):
        c = st.columns([1, 3])
        changed_text = c[0].text_input(ui.tr("col_changed_on"), max_chars=10, placeholder=ui.tr("date_placeholder"))
        description = c[1].text_input(ui.tr("col_description"), max_chars=200)
        c = st.columns([2, 1.3, 1, 1])
        outcome = c[0].selectbox(ui.tr("col_outcome"), ["", *registry.OUTCOMES_BY_KEY],
                                 format_func=lambda k: ui.outcome_label(k) if k else ui.tr("filter_all"))
        product = c[1].selectbox(ui.tr("product"), ["", *ctx.options["products"]],
                                 format_func=lambda p: p or ui.tr("filter_all"))
        clinician = c[2].selectbox(ui.tr("clinician"), ["", *ctx.options["clinicians"]],
                                   format_func=lambda p: p or ui.tr("clinic"))
        rebase = c[3].checkbox(ui.tr("col_rebase"), help=ui.tr("rebase_help"))
        if st.form_submit_button(ui.tr("process_change_add"), icon=":material/add:"):
            changed_on, problem = filters.form_date(changed_text, ctx.lang)
            if problem:
                st.error(problem, icon=":material/event_busy:")
                return
            row = {"changed_on": changed_on, "description": description, "outcome": outcome, "product": product,
                   "clinician": clinician, "rebase": rebase}
            try:
                reviews.add_process_change(data.db_path(), row, user=who.user, role=who.role,
                                           access_log=auth.log_path())
            except Exception as exc:  # the loader's fix-it message, or the access log refusing it
                st.error(ui.tr("process_change_not_saved", error=str(exc)[:600]), icon=":material/error:")
            else:
                st.success(ui.tr("process_change_saved"), icon=":material/check_circle:")
                st.rerun()


def targets_section(ctx: ui.Context) -> None:
    lg = ctx.lang
    st.subheader(ui.tr("targets_title"))
    st.caption(ui.tr("targets_caption"))
    spc = data.cached(signals.spc_frames, None, filters=ctx.filters, as_of=ctx.as_of)
    readings = data.run(targets.readings, spc)
    readings = readings[readings["target"].notna()]
    if readings.empty:
        st.info(ui.tr("targets_none"), icon=":material/info:")
        return
    ui.table(pd.DataFrame({
        ui.tr("col_outcome"): [ui.outcome_label(k) for k in readings["outcome"]],
        ui.tr("col_target"): [i18n.pct(v, lg) for v in readings["target"]],
        ui.tr("col_reading"): [ui.tr("reading_short_" + (r or "none")) for r in readings["variation"]],
        ui.tr("col_assurance"): [ui.tr("assurance_" + (r or "none")) for r in readings["assurance"]],
    }), height=min(420, 35 * (len(readings) + 1) + 3))


def main() -> None:
    filters.page(PAGE_PARAMS)
    ctx = ui.context()
    who = auth.current()
    ui.header("page_signals", ui.tr("signals_page_caption"))
    episodes_section(ctx, who)
    changes_section(ctx, who)
    targets_section(ctx)


ui.run_page(main)
