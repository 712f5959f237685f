"""The sidebar's language and filter widgets (drawn by dashboard/components.py `sidebar`) and the link between
widget state and the URL. Of the dashboard it imports only dashboard/i18n.py (tests/test_architecture.py).

State lives in one place per session, `st.session_state["_canon"]` (coded values: clinician codes, indication
keys, ISO dates), and is mirrored to the URL query parameters after every run, so a view can be shared and
reopened. A URL value is applied to the state only when it differs from what the app itself last wrote: a new
session opened from a shared link, or a link inside the app (st.page_link with query parameters) that preselects
an outcome / clinician / period. Parameters missing from the URL leave the state as it is (page switches may drop
the query string).

Every run sets each widget from the state before drawing it, and a user's change reaches the state through the
widget's on_change callback (which runs before the script). So a value survives page switches (a widget's own
memory can be stale there), language switches (labels change, the coded value does not) and reruns.

Global parameters (every page): lang, from, to, clin, ind, area, prod, the reporting period `rep` and, in demo
mode only, the previewed role `role` and clinician code `preview_code` (dashboard/auth.py). Pages add their own (outcome, clinician, point, chart,
rules, ...) through `synced(...)`.

The **reporting period** (`rep`, `Report`) is what the monthly quality meeting looks at: the last closed month by
default (REPORT_OUTCOME's windows all closed at the data's date), this quarter or this year up to that month, or
any month by name. It never narrows the data: every chart keeps the whole history under the date filter and marks
the reporting period, and the pages judge and count that period (the overview's KPIs and signals list).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard import i18n
from pipelines.metrics import analysis
from pipelines.metrics.counting import Filters

GLOBAL_PARAMS = ("lang", "from", "to", "clin", "ind", "area", "prod", "rep", "role", "preview_code")
LIST_PARAMS = {"clin", "ind", "area", "prod"}
DATE_PARAMS = {"from", "to", "since"}
# the date inputs' format per language (what the user types: 30.11.2026 in Norwegian); the URL keeps ISO dates
DATE_INPUT_FORMAT = {"nb": "DD.MM.YYYY", "en": "YYYY-MM-DD"}
DATE_FIELD_FORMAT = {"nb": "%d.%m.%Y", "en": "%Y-%m-%d"}  # the same, for the typed date fields (date_field)
_DATE_ERRORS = "_date_errors"
REPORT_PRESETS = ("last", "quarter", "year")
# the outcome whose windows decide which month is closed: its 28 days are those of the complications watched per
# clinician (ptosis, asymmetry, corrections); an outcome with a longer window (satisfaction: 42 days, headache: 84)
# judges the month once its own windows have closed, and its chart draws the month hollow until then
REPORT_OUTCOME = "insufficient_effect"
_CANON = "_canon"
_WRITTEN = "_url_written"


def widget_key(name: str) -> str:
    return f"w_{name}"


def canon() -> dict[str, Any]:
    return st.session_state.setdefault(_CANON, {})


def get(name: str, default: Any = None) -> Any:
    value = canon().get(name)
    return default if value is None or value == () else value


def lang() -> str:
    value = canon().get("lang")
    return value if value in i18n.LANGS else i18n.DEFAULT_LANG


# --------------------------------------------------------------------------------------------------------------
# URL <-> state
# --------------------------------------------------------------------------------------------------------------


def _parse(name: str, values: list[str]) -> Any:
    values = [v for v in values if v != ""]
    if name in LIST_PARAMS or name.endswith("_list"):
        return tuple(dict.fromkeys(values))
    if not values:
        return None
    value = values[-1]
    if name in DATE_PARAMS:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    if name == "page_n":
        try:
            return max(1, int(value))
        except ValueError:
            return None
    return value


def _serialise(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    if isinstance(value, dt.date):
        return [value.isoformat()]
    return [str(value)]


def apply_url(names: Sequence[str]) -> None:
    """Take URL values that changed outside the app into the state."""
    written = st.session_state.setdefault(_WRITTEN, {})
    state = canon()
    for name in names:
        if name not in st.query_params:
            continue
        values = st.query_params.get_all(name)
        if written.get(name) == values:
            continue
        state[name] = _parse(name, values)
        written[name] = values
        st.session_state.pop(widget_key(name), None)


def write_url(names: Sequence[str], defaults: dict[str, Any] | None = None) -> None:
    """Mirror the state of `names` into the URL (a value equal to its default is left out)."""
    written = st.session_state.setdefault(_WRITTEN, {})
    defaults = defaults or {}
    state = canon()
    for name in names:
        value = state.get(name)
        values = [] if value == defaults.get(name) else _serialise(value)
        if values:
            if st.query_params.get_all(name) != values:
                st.query_params[name] = values if len(values) > 1 else values[0]
            written[name] = values
        else:
            if name in st.query_params:
                del st.query_params[name]
            written.pop(name, None)


def keep_only(page_names: Sequence[str]) -> None:
    """Drop URL parameters that belong to other pages (a page calls this with its own parameter names)."""
    allowed = set(GLOBAL_PARAMS) | set(page_names)
    for name in list(st.query_params.keys()):
        if name not in allowed and name.lower() not in ("embed", "embed_options"):
            del st.query_params[name]


def link_params(**page_params: Any) -> dict[str, Any]:
    """Query parameters for an in-app link: the current global state plus the target page's own values."""
    out: dict[str, Any] = {}
    for name in GLOBAL_PARAMS:
        values = st.session_state.get(_WRITTEN, {}).get(name)
        if values:
            out[name] = values if len(values) > 1 else values[0]
    for name, value in page_params.items():
        values = _serialise(value)
        if values:
            out[name] = values if len(values) > 1 else values[0]
    return out


# --------------------------------------------------------------------------------------------------------------
# Synced widgets
# --------------------------------------------------------------------------------------------------------------


def synced(widget: Callable[..., Any], name: str, label: str, *, options: Sequence[Any] | None = None,
           default: Any = None, url: bool = True, container: Any = None, cast: Callable[[Any], Any] | None = None,
           **kwargs: Any) -> Any:
    """Render `widget` (st.selectbox, st.segmented_control, st.radio, st.multiselect, st.number_input, ...) bound
    to the state `name` and, unless url=False, to the URL parameter of the same name. An option no longer offered
    falls back to `default`; `cast` converts a value read from the URL (e.g. float). Returns the value."""
    state = canon()
    apply_url([name]) if url else None
    value = state.get(name, default)
    if cast is not None and value is not None:
        try:
            value = cast(value)
        except (TypeError, ValueError):
            value = default
    elif widget is st.toggle and isinstance(value, str):
        value = value.lower() in ("1", "true", "yes")
    multi = widget is st.multiselect or kwargs.get("selection_mode") == "multi"
    if options is not None:
        if multi:
            value = tuple(v for v in (value or ()) if v in options)
        elif value not in options:
            value = default if default in options else (options[0] if options else None)

    def to_widget(v: Any) -> Any:
        if multi:
            return list(v or ())
        return v

    key = widget_key(name)

    def changed() -> None:  # runs before the script: the user's new value becomes the state
        new = st.session_state.get(key)
        state[name] = tuple(new or ()) if multi else (default if new is None else new)

    # the widget always shows the state (a widget's own memory can be stale after a page switch)
    st.session_state[key] = to_widget(value)
    kwargs["on_change"] = changed
    target = container or st
    call = getattr(target, widget.__name__)
    result = call(label, options, key=key, **kwargs) if options is not None else call(label, key=key, **kwargs)
    if multi:
        result = tuple(result or ())
    elif result is None:
        result = default
    state[name] = result
    if url:
        write_url([name], {name: default if not multi else ()})
    return result


# --------------------------------------------------------------------------------------------------------------
# Typed dates
# --------------------------------------------------------------------------------------------------------------
# Streamlit's st.date_input (1.67) opens a calendar whose month and weekday names and first weekday follow the
# browser's language (its frontend hands `navigator.language` to the calendar; st.date_input has no locale
# parameter), and it adds English words of its own ("Date range", "Select...", "Past Week", "Choose date"): a
# Norwegian page on an English browser showed "July 2023" and "S M T W T F S". The dashboard's dates are therefore
# typed into text fields in the page's language (30.11.2026 in Norwegian, 2026-11-30 in English; either form is
# read in both), applied on Enter or Tab like any text field, with messages in the page's language.


def date_text(d: dt.date | None, lg: str) -> str:
    """A date as it is typed into the date fields: 30.11.2026 in Norwegian, 2026-11-30 in English."""
    return "" if d is None else d.strftime(DATE_FIELD_FORMAT.get(lg, DATE_FIELD_FORMAT["en"]))


def parse_date_text(text: str) -> dt.date:
    """A typed date: day.month.year (30.11.2026, 1.2.2026; / or - between the numbers also work) or ISO
    (2026-11-30). Raises ValueError for anything else, including days that do not exist (31.02.2026)."""
    text = text.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        return dt.date(year, month, day)
    dmy = re.fullmatch(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})", text)
    if dmy:
        return dt.date(int(dmy.group(4)), int(dmy.group(3)), int(dmy.group(1)))
    raise ValueError(f"not a date: {text!r}")


def form_date(text: str, lg: str) -> tuple[dt.date | None, str | None]:
    """A date typed into a form's text field (date_text), read when the form is submitted: (date, None), (None,
    None) for an empty field, or (None, the message in the page's language) when it cannot be read."""
    if not (text or "").strip():
        return None, None
    try:
        return parse_date_text(text), None
    except ValueError:
        return None, i18n.t("date_unreadable", lg, text=text.strip(), example=date_text(dt.date.today(), lg))


def date_field(name: str, label: str, value: dt.date, *, first: dt.date, last: dt.date, default: dt.date | None,
               container: Any, check: Callable[[dt.date], str | None] | None = None, help: str | None = None) -> None:
    """A date typed in the page's language (date_text), bound to the state `name` (None when it is `default` or
    the field is emptied). A date that cannot be read, lies outside first..last or fails `check` (which returns a
    message) is refused with a message below the field (shown until a date field or its date changes: a rerun of
    the page, e.g. when a background check finishes, keeps it), and the state keeps its date. The caller writes the
    URL."""
    lg = lang()
    state = canon()
    key = widget_key(name)
    errors = st.session_state.setdefault(_DATE_ERRORS, {})

    def changed() -> None:  # runs before the script, on Enter or when the field loses focus
        text = (st.session_state.get(key) or "").strip()
        errors.clear()  # the newest refusal is the one shown
        if not text:
            state[name] = None
            return
        try:
            picked = parse_date_text(text)
        except ValueError:
            problem = i18n.t("date_unreadable", lg, text=text, example=date_text(last, lg))
        else:
            problem = (i18n.t("date_outside", lg, date=date_text(picked, lg), first=date_text(first, lg),
                              last=date_text(last, lg)) if not first <= picked <= last else
                       check(picked) if check else None)
        if problem:
            errors[name] = (problem, state.get(name))  # the message belongs to the date the state keeps
            return
        state[name] = None if picked == default else picked

    st.session_state[key] = date_text(value, lg)  # the field always shows the state's date
    container.text_input(label, key=key, on_change=changed, help=help, max_chars=10,
                         placeholder=i18n.t("date_placeholder", lg))
    problem, kept = errors.get(name) or (None, None)
    if problem and kept == state.get(name):
        container.error(problem, icon=":material/event_busy:")
    else:
        errors.pop(name, None)


# --------------------------------------------------------------------------------------------------------------
# The sidebar
# --------------------------------------------------------------------------------------------------------------


def _on_language_change() -> None:
    canon()["lang"] = st.session_state.get(widget_key("lang")) or i18n.DEFAULT_LANG


def language_selector() -> str:
    """Language switch (kept in the URL as ?lang=en / nb); call before building the navigation."""
    apply_url(["lang"])
    state = canon()
    if state.get("lang") not in i18n.LANGS:
        state["lang"] = i18n.DEFAULT_LANG
    st.session_state[widget_key("lang")] = state["lang"]
    return state["lang"]


def render_language() -> None:
    current = lang()
    st.sidebar.segmented_control(i18n.t("language", current), i18n.LANGS, key=widget_key("lang"),
                                 format_func=lambda v: i18n.LANG_NAMES[v], required=True,
                                 on_change=_on_language_change)
    write_url(["lang"], {"lang": i18n.DEFAULT_LANG})


def _reset() -> None:
    state = canon()
    for name in ("from", "to", "clin", "ind", "area", "prod"):
        state[name] = None if name in DATE_PARAMS else ()
    st.session_state.pop(_DATE_ERRORS, None)


def render_filters(options: dict | None, as_of: dt.date | None = None, *,
                   clinician_filter: bool = True) -> Filters:
    """The filters in the sidebar, from the values present in the data (`pipelines.metrics.lookups.filter_options`),
    with the reporting period above them (`as_of`: the data's date). Returns the Filters every page passes to the
    pipelines (values reach SQL only as bound parameters). `clinician_filter=False` (the clinician role's own
    view): no clinician filter is offered, and any clinician chosen before (a URL, another role) is dropped."""
    lg = lang()
    apply_url(["from", "to", "clin", "ind", "area", "prod"])
    state = canon()
    if not clinician_filter:
        state["clin"] = ()
    sb = st.sidebar
    if options and options.get("first_date") is not None:
        render_report(options["first_date"], as_of or options["last_date"], sb)
    sb.subheader(i18n.t("filters", lg))
    if not options or options.get("first_date") is None:
        return Filters()
    first, last = options["first_date"], options["last_date"]
    start = state.get("from") or first
    end = state.get("to") or last
    start, end = max(min(start, last), first), min(max(end, first), last)
    if start > end:
        start, end = first, last
    date_field("from", i18n.t("filter_from", lg), start, first=first, last=last, default=first, container=sb,
               help=i18n.t("filter_period_help", lg),
               check=lambda d: None if d <= (state.get("to") or last) else
               i18n.t("date_after_to", lg, date=date_text(d, lg), to=date_text(state.get("to") or last, lg)))
    date_field("to", i18n.t("filter_to", lg), end, first=first, last=last, default=last, container=sb,
               check=lambda d: None if d >= (state.get("from") or first) else
               i18n.t("date_before_from", lg, date=date_text(d, lg), start=date_text(state.get("from") or first, lg)))

    def fmt(prefix: str) -> Callable[[str], str]:
        return lambda v: i18n.label(prefix, v, lg)

    if clinician_filter:
        synced(st.multiselect, "clin", i18n.t("filter_clinicians", lg), options=list(options["clinicians"]),
               default=(), url=False, container=sb, placeholder=i18n.t("filter_all", lg))
    synced(st.multiselect, "ind", i18n.t("filter_indications", lg), options=list(options["indications"]),
           default=(), url=False, container=sb, placeholder=i18n.t("filter_all", lg), format_func=fmt("ind"))
    synced(st.multiselect, "area", i18n.t("filter_areas", lg), options=list(options["areas"]),
           default=(), url=False, container=sb, placeholder=i18n.t("filter_all", lg), format_func=fmt("area"))
    synced(st.multiselect, "prod", i18n.t("filter_products", lg), options=list(options["products"]),
           default=(), url=False, container=sb, placeholder=i18n.t("filter_all", lg))
    write_url(["from", "to", "clin", "ind", "area", "prod"])
    active = sum(1 for n in ("from", "to", "clin", "ind", "area", "prod") if state.get(n))
    if active:
        sb.button(i18n.t("filter_reset", lg), on_click=_reset, icon=":material/filter_alt_off:",
                  width="stretch")
    return current()


def current() -> Filters:
    """The Filters of the current state."""
    state = canon()
    return Filters(date_from=state.get("from"), date_to=state.get("to"),
                   clinicians=tuple(state.get("clin") or ()), indications=tuple(state.get("ind") or ()),
                   areas=tuple(state.get("area") or ()), products=tuple(state.get("prod") or ()))


def active_count() -> int:
    state = canon()
    return sum(1 for n in ("from", "to", "clin", "ind", "area", "prod") if state.get(n))


def pagination(name: str, num_pages: int, *, render: bool = True) -> int:
    """Current page (1-based) of a paginated list, kept in the state and the URL; render=False only reads it
    (call again with render=True where the control should appear)."""
    apply_url([name])
    state = canon()
    page = state.get(name) or 1
    page = max(1, min(int(page), num_pages))
    if not render:
        state[name] = page
        return page

    # no widget key: the widget's identity follows `default`, so it always shows the state's page; a click
    # returns the new page once, which becomes the state (and the rows shown) on an immediate rerun
    picked = st.pagination(num_pages, default=page)
    if picked != page:
        state[name] = picked
        write_url([name], {name: 1})
        st.rerun()
    write_url([name], {name: 1})
    return picked


def page(names: Sequence[str]) -> None:
    """Start of a page: keep only the global and this page's URL parameters, and take changed ones into the state."""
    keep_only(names)
    apply_url(names)


def peek(name: str, default: Any = None) -> Any:
    """The latest value of a synced widget before it is drawn again (the widget's value if the user just changed
    it, else the state)."""
    key = widget_key(name)
    if key in st.session_state and st.session_state[key] is not None:
        return st.session_state[key]
    return get(name, default)


# --------------------------------------------------------------------------------------------------------------
# The reporting period (pure functions first; `render_report` draws the control)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """The reporting period: `choice` ('last', 'quarter', 'year' or a month 'YYYY-MM'), its first and last day,
    the first days of its months, and the last closed month (first day) it was chosen against."""
    choice: str
    start: dt.date
    end: dt.date
    months: tuple[dt.date, ...]
    last_closed: dt.date

    @property
    def is_month(self) -> bool:
        return len(self.months) == 1

    def label(self, lang: str) -> str:
        """'okt. 2026', 'juli–sep. 2026' (the span of its months)."""
        return span_label(self.months[0], self.months[-1], lang)


def _month(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _add_months(d: dt.date, n: int) -> dt.date:
    i = d.year * 12 + d.month - 1 + n
    return dt.date(i // 12, i % 12 + 1, 1)


def last_closed_month(as_of: dt.date, first: dt.date | None = None, outcome: str = REPORT_OUTCOME) -> dt.date:
    """The first day of the newest month whose sessions' windows of `outcome` have all closed on `as_of`
    (analysis.periods_closed: its last day plus the outcome's longest window); never before the data's first month
    (`first`)."""
    month = _month(as_of)
    for _ in range(36):
        if analysis.periods_closed([month], outcome, "month", as_of)[0]:
            break
        month = _add_months(month, -1)
    return max(month, _month(first)) if first else month


def report_choices(first: dt.date, as_of: dt.date) -> list[str]:
    """The presets, then every month from the last closed one back to the data's first (newest first)."""
    last = last_closed_month(as_of, first)
    months, month = [], last
    while month >= _month(first):
        months.append(month.strftime("%Y-%m"))
        month = _add_months(month, -1)
    return [*REPORT_PRESETS, *months]


def report_period(choice: str | None, first: dt.date, as_of: dt.date) -> Report:
    """The reporting period of a choice (an unknown choice is the default, 'last'): 'last' the last closed month;
    'quarter' and 'year' from the start of that month's quarter / year to its end; 'YYYY-MM' that month."""
    last = last_closed_month(as_of, first)
    start_month = end_month = last
    if choice == "quarter":
        start_month = last.replace(month=3 * ((last.month - 1) // 3) + 1)
    elif choice == "year":
        start_month = last.replace(month=1)
    elif choice and choice not in REPORT_PRESETS:
        try:
            picked = dt.date.fromisoformat(f"{choice}-01")
        except ValueError:
            picked = None
        if picked is not None and _month(first) <= picked <= last:
            start_month = end_month = picked
        else:
            choice = "last"
    else:
        choice = "last"
    start_month = max(start_month, _month(first))
    months, month = [], start_month
    while month <= end_month:
        months.append(month)
        month = _add_months(month, 1)
    return Report(choice, start_month, analysis.period_end(end_month, "month"), tuple(months), last)


def span_label(first_month: dt.date, last_month: dt.date, lang: str) -> str:
    """'okt. 2026' for one month; 'juli–sep. 2026' or 'des. 2025–feb. 2026' for several."""
    if first_month == last_month:
        return i18n.period_label(first_month, "month", lang)
    end = i18n.period_label(last_month, "month", lang)
    if first_month.year == last_month.year:
        start = i18n.period_label(first_month, "month", lang).rsplit(" ", 1)[0]
    else:
        start = i18n.period_label(first_month, "month", lang)
    return f"{start}–{end}"


def default_since(as_of: dt.date) -> dt.date:
    """The default day of the last meeting: the same day a month before the data's date (the month's last day
    when it is shorter: 31 March -> 28 February)."""
    month = _add_months(_month(as_of), -1)
    last_day = (_add_months(month, 1) - dt.timedelta(days=1)).day
    return month.replace(day=min(as_of.day, last_day))


def report(first: dt.date, as_of: dt.date) -> Report:
    """The reporting period of the current state."""
    return report_period(get("rep"), first, as_of)


def render_report(first: dt.date, as_of: dt.date, container: Any = None) -> Report:
    """The reporting-period control (kept in the URL as ?rep=quarter / ?rep=2026-10; the default, the last closed
    month, leaves it out)."""
    lg = lang()
    choices = report_choices(first, as_of)
    periods = {c: report_period(c, first, as_of) for c in REPORT_PRESETS}

    def fmt(c: str) -> str:
        if c in periods:
            return i18n.t(f"report_{c}", lg, period=periods[c].label(lg))
        return i18n.period_label(dt.date.fromisoformat(f"{c}-01"), "month", lg)

    synced(st.selectbox, "rep", i18n.t("report_period", lg), options=choices, default="last",
           container=container or st.sidebar, format_func=fmt, help=i18n.t("report_period_help", lg))
    return report(first, as_of)
