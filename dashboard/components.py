"""Small UI helpers shared by the pages: the page guard (clear messages instead of tracebacks), the page context
(language, filters, as-of date), the shared sidebar, translated text, chart / table display and in-app links.

The dashboard imports one way (tests/test_architecture.py): i18n and data (the only module that touches DuckDB)
import no other dashboard module; filters and charts import i18n; auth imports data, filters and i18n; this module
imports all of those; the pages import this module and the ones below it (never another page, never duckdb or
pipelines.stats); streamlit_app.py routes. The pages and their links come from the page table
(pipelines/release/access.py PAGES).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import auth, data, filters, i18n
from pipelines.ingest import history
from pipelines.metrics import analysis, counting, lookups, registry, small_cells
from pipelines.release import access

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
                 "toImageButtonOptions": {"format": "png", "scale": 2}}
DEFAULT_OUTCOME = "insufficient_effect"


def lang() -> str:
    return filters.lang()


def tr(key: str, **values: Any) -> str:
    return i18n.t(key, filters.lang(), **values)


def run_page(body: Callable[[], None]) -> None:
    """Run a page body; a missing / republishing / unreadable database becomes a message, not a traceback."""
    try:
        body()
    except data.NoDatabase:
        if data.db_path().exists():
            st.warning(tr("republishing"), icon=":material/sync:")
        else:
            st.info(tr("no_database"), icon=":material/database:")
    except data.BadDatabase as exc:
        st.error(tr("bad_database", error=str(exc).splitlines()[0][:200]), icon=":material/error:")


@dataclass(frozen=True)
class Context:
    lang: str
    filters: counting.Filters
    as_of: dt.date
    options: dict
    sessions_n: int
    min_sessions: int = 0  # cells of fewer sessions are hidden for this viewer (pipelines/metrics/small_cells.py)
    report: filters.Report | None = None  # the reporting period (dashboard/filters.py): judged and marked, never a filter

    def report_filters(self) -> counting.Filters:
        """The filters narrowed to the reporting period (for its counts; the charts keep the whole history)."""
        f, r = self.filters, self.report
        if r is None:
            return f
        return dataclasses.replace(f, date_from=max(r.start, f.date_from) if f.date_from else r.start,
                                   date_to=min(r.end, f.date_to) if f.date_to else r.end)


def context(*, require_sessions: bool = True) -> Context:
    """Language, filters and the data's as-of date for a page; stops the page with a clear message when the
    database is empty or the filters select nothing."""
    options = data.cached(lookups.filter_options)
    if options["first_date"] is None:
        st.info(tr("empty_database"), icon=":material/inbox:")
        st.stop()
    f = picked = filters.current()
    if not sees_sessions():  # no day for roles without session-level access (docs/security.md)
        f = analysis.whole_months(picked)
        if (f.date_from, f.date_to) != (picked.date_from, picked.date_to):
            st.sidebar.caption(tr("period_whole_months", start=i18n.date(f.date_from or options["first_date"], lang()),
                                  end=i18n.date(f.date_to or options["last_date"], lang())))
    n = data.cached(lookups.session_count, f)
    if require_sessions and n == 0:
        st.warning(tr("no_match"), icon=":material/filter_alt_off:")
        st.stop()
    least = min_sessions()
    if require_sessions and n < least:  # every figure of the page would be a cell of fewer sessions
        st.warning(i18n.tn("cells_too_few", least, lang()), icon=":material/filter_alt_off:")
        st.stop()
    as_of = data.cached(counting.default_as_of)
    return Context(lang=lang(), filters=f, as_of=as_of, options=options, sessions_n=n, min_sessions=least,
                   report=filters.report(options["first_date"], as_of))


def sees_sessions() -> bool:
    """True for a viewer with session-level access (case review or the record export: doctor, auditor, admin).
    The others (the manager) get no day and no session: whole calendar months in every period, the CUSUM by
    month, signals dated by month, and no figure over fewer than min_sessions() sessions (docs/security.md)."""
    who = auth.current()
    return who.may("case_review") or who.may("record_export")


def min_sessions() -> int:
    """The fewest sessions a figure shown to this viewer may cover: 0 for viewers with session-level access,
    else the release rule's minimum denominator (pipelines/metrics/small_cells.py: smaller cells are hidden)."""
    return 0 if sees_sessions() else small_cells.MIN_SESSIONS


def hidden_mark() -> str:
    """The marker written in place of a hidden cell's figures."""
    return tr("cell_hidden")


def is_hidden(row: Any) -> bool:
    """True for a hidden cell (a row or record of a frame from pipelines/metrics/small_cells.py)."""
    value = row.get(small_cells.HIDDEN, False) if hasattr(row, "get") else False
    return bool(value) if value is not None and not (isinstance(value, float) and pd.isna(value)) else False


def hidden_note(*frames: Any) -> None:
    """A caption explaining the hidden cells, when any of the frames has one."""
    for frame in frames:
        if isinstance(frame, pd.DataFrame) and small_cells.HIDDEN in frame and frame[small_cells.HIDDEN].any():
            st.caption(i18n.tn("cells_hidden_note", small_cells.MIN_SESSIONS, lang()))
            return


def header(title_key: str, caption: str | None = None) -> None:
    st.title(tr(title_key))
    if caption:
        st.caption(caption)


def period_text(ctx: Context) -> str:
    f = ctx.filters
    if not f.date_from and not f.date_to:
        return tr("period_all") + (f" ({i18n.date(ctx.options['first_date'], ctx.lang)} – "
                                   f"{i18n.date(ctx.options['last_date'], ctx.lang)})")
    return tr("period_range", start=i18n.date(f.date_from or ctx.options["first_date"], ctx.lang),
              end=i18n.date(f.date_to or ctx.options["last_date"], ctx.lang))


def outcome_label(key: str) -> str:
    return registry.get(key).label(lang())


def outcome_picker(name: str = "outcome", keys: Sequence[str] | None = None, default: str = DEFAULT_OUTCOME,
                   container: Any = None, label_key: str = "choose_outcome") -> str:
    keys = list(keys or registry.OUTCOMES_BY_KEY)
    lg = lang()
    return filters.synced(st.selectbox, name, tr(label_key), options=keys,
                          default=default if default in keys else keys[0], container=container,
                          format_func=lambda k: f"{registry.get(k).label(lg)} · {i18n.label('group', registry.get(k).group, lg)}")


def choice(name: str, label_key: str, options: Sequence[str], *, default: str, prefix: str,
           help_key: str | None = None, container: Any = None, select: bool = False) -> str:
    """A segmented control (or a selectbox, `select=True`, for long labels) of coded options with translated
    labels (`{prefix}_{option}`), synced to the URL."""
    fmt = labeller(prefix)
    if select:
        return filters.synced(st.selectbox, name, tr(label_key), options=list(options), default=default,
                              container=container, format_func=fmt, help=tr(help_key) if help_key else None)
    return filters.synced(st.segmented_control, name, tr(label_key), options=list(options), default=default,
                          container=container, required=True, format_func=fmt,
                          help=tr(help_key) if help_key else None)


def labeller(prefix: str | None = None, overrides: dict[str, str] | None = None) -> Callable[[Any], str]:
    """A format_func for coded options, bound to the language of this run (`{prefix}_{value}` texts)."""
    lg = lang()
    fixed = dict(overrides or {})
    return lambda v: fixed[v] if v in fixed else i18n.t(f"{prefix}_{v}" if prefix else str(v), lg)


def reference_short(reference, lg: str) -> str:
    """A registry reference range in a few characters: '2-17 %', '0.6 %', '≈ 3 %', '< 0.1 %', '–'."""
    low = reference.low_pct if reference else None
    high = reference.high_pct if reference else None

    def p(v: float) -> str:
        return i18n.pct(v / 100, lg, 1).replace(",0\u00a0", "\u00a0").replace(".0\u00a0", "\u00a0")

    if low is None and high is None:
        return "–"
    if low is not None and high is not None:
        if high == low:
            return p(low)
        return p(low).replace("\u00a0%", "") + "–" + p(high)
    if high is not None:
        return "< " + p(high)
    return "≈ " + p(low)


def show_chart(fig, *, key: str | None = None, on_select: str = "ignore", selection_mode=("points",)):
    return st.plotly_chart(fig, theme=None, config=PLOTLY_CONFIG, key=key, on_select=on_select,
                           selection_mode=selection_mode)


def table(frame, *, column_config: dict | None = None, height: int | str = "auto", key: str | None = None,
          right: Sequence[str] = (), **kwargs: Any):
    """A dataframe without index, full width; `right` = columns of formatted numbers (text) to right-align."""
    config = dict(column_config or {})
    for col in right:
        config.setdefault(col, st.column_config.TextColumn(alignment="right"))
    return st.dataframe(frame, hide_index=True, width="stretch", column_config=config, height=height, key=key,
                        **kwargs)


def nums(values, digits: int = 0) -> list[str]:
    """Numbers as text in the page's language (thousands separated), '' for missing."""
    lg = lang()
    return ["" if v is None or pd.isna(v) else i18n.number(v, lg, digits) for v in values]


def kpi(container: Any, label: str, value: str, *, help: str | None = None, delta: str | None = None) -> None:
    container.metric(label, value, delta=delta, delta_color="off", delta_arrow="off", help=help, border=True)


def page_link(page: str, label: str, **params: Any) -> None:
    """A link to the page called `page` (pipelines/release/access.py PAGES) with the current filters."""
    st.page_link(access.page(page).file, label=label, icon=":material/open_in_new:",
                 query_params=filters.link_params(**params))


def link_url(page: str, **params: Any) -> str:
    """A relative URL to a page (its URL path from the page table) with the current filters and the given page
    parameters (for table links)."""
    return f"{access.page(page).url_path}?" + urlencode(filters.link_params(**params), doseq=True)


def sidebar() -> counting.Filters:
    """Language, filters and the snapshot line in the sidebar (rendered on every page by streamlit_app.py)."""
    filters.render_language()
    who = auth.current()
    if not who.sees_figures():  # the loader: no filters, whose choices would come from the data
        caption = snapshot_caption()
        if caption:
            st.sidebar.caption(caption)
        return counting.Filters()
    try:
        options = data.cached(lookups.filter_options)
        as_of = data.cached(counting.default_as_of) if options and options.get("first_date") else None
    except (data.NoDatabase, data.BadDatabase):
        options, as_of = None, None
    result = filters.render_filters(options, as_of, clinician_filter=who.offers_clinician_filter())
    caption = snapshot_caption()
    if caption:
        st.sidebar.caption(caption)
    st.sidebar.caption(i18n.t("share_hint", lang()))
    return result


def snapshot_caption() -> str | None:
    try:
        info = data.cached(history.snapshot_info)
        as_of = data.cached(counting.default_as_of)
    except (data.NoDatabase, data.BadDatabase):
        return None
    published = info["published_at"]
    return tr("snapshot_caption", version=info["version"],
              published=i18n.date(published, lang()) if published else "–", as_of=i18n.date(as_of, lang()))


def small_flag(den: float | int | None, n: int = 20) -> str:
    return "⚠ " + tr("small_n_badge", n=n) if den is not None and pd.notna(den) and den < n else ""


def report_text(ctx: Context) -> str:
    """'okt. 2026': the reporting period in the page's language."""
    return ctx.report.label(ctx.lang) if ctx.report else ""


def report_caption(ctx: Context) -> str:
    """The line under a page title naming the reporting period and how to change it."""
    return tr("report_caption", period=report_text(ctx)) if ctx.report else ""


def source_text(reference, lg: str) -> str:
    """A reference's source in the language (the registry's Norwegian wording where there is one); '–' if none."""
    text = reference.source_text(lg) if reference else ""
    return text or "–"


def cases_link(outcome: str, clinician: str | None, *, which: str = "numerator", label: str | None = None,
               container: Any = None) -> None:
    """One click to the sessions behind an outcome for a clinician (or the clinic) over the whole period: the
    complications page's case review with the outcome, the clinician, the whole period and the sessions (`which`:
    those with the event; all in the rate for a low, improving flag) preselected. Drawn only for viewers who may
    see case lists (pipelines/release/access.py)."""
    if not auth.current().may("case_review"):
        return
    params = {"outcome": outcome, "point": "all", "review_clin": clinician or None, "which": which}
    target = container if container is not None else st
    target.page_link(access.page("complications").file, label=label or tr("open_cases"), icon=":material/list_alt:",
                     query_params=filters.link_params(**{k: v for k, v in params.items() if v is not None}))


RISK_KEYS = {"neuromuscular_disease": "risk_neuromuscular", "aminoglycoside_antibiotics": "risk_aminoglycoside",
             "pregnant_or_breastfeeding": "risk_pregnant"}


def _answer_text(column: str, value: Any, answers: dict, lg: str) -> str | None:
    """One recorded answer as the reader says it ('hengende øyelokk', 'effekt delvis', '6 hodepinedager (før: 10)');
    None for an answer that does not make the event (a no, or a baseline shown beside its answer)."""
    if column.startswith("baseline_") or value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if column == "effect":
        return i18n.t("answer_effect", lg, value=i18n.label("effect", value, lg))
    if column == "headache_days":
        return i18n.t("answer_headache", lg, n=i18n.number(value, lg),
                      base=i18n.number(answers.get("baseline_headache_days"), lg))
    if column == "hdss":
        return i18n.t("answer_hdss", lg, n=i18n.number(value, lg), base=i18n.number(answers.get("baseline_hdss"), lg))
    if column == "satisfaction":
        return i18n.t("answer_satisfaction", lg, n=i18n.number(value, lg))
    if isinstance(value, bool | np.bool_):
        if not value:
            return None
        return registry.get(column).label(lg).lower() if column in registry.OUTCOMES_BY_KEY else column
    return f"{column} {value}"


def why_counts(reason: dict, outcome_key: str, *, event: bool, lost: bool, lg: str) -> str:
    """The case review's "why it counts" cell for one session (`reason`: a row of signals.case_reasons): what put
    it in the numerator ("korrigert dag 14", "hengende øyelokk ved kontrollen dag 12", "ingen oppfølging innen dag
    28: telles som hendelse") or why it is in the rate without the event."""
    o = registry.get(outcome_key)

    def day(name: str) -> int | None:
        v = reason.get(name)
        return None if v is None or pd.isna(v) else int(v)

    parts: list[str] = []
    if event:
        if day("event_day") is not None:
            answers = reason.get("answers") or {}
            said = [t for c, v in answers.items() if (t := _answer_text(c, v, answers, lg))]
            parts.append(i18n.t("why_recorded", lg, answers=", ".join(said) or o.label(lg).lower(),
                                day=day("event_day")))
        if day("correction_day") is not None:
            parts.append(i18n.t("why_correction", lg, day=day("correction_day")))
        risks = reason.get("risks") or ()
        if risks:
            parts.append(i18n.t("why_risks", lg, risks=", ".join(i18n.t(RISK_KEYS.get(r, r), lg) for r in risks)))
        if not parts and lost and o.lost_to_follow_up == "event":
            parts.append(i18n.t("why_lost_event", lg, day=day("close_day")))
        return "; ".join(parts) or "–"
    if lost:
        return i18n.t("why_lost", lg, day=day("close_day"))
    if day("assessed_day") is not None:
        return i18n.t("why_no_event", lg, day=day("assessed_day"))
    return i18n.t("why_no_event_plain", lg)
