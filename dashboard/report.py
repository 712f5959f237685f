"""The monthly quality report (issue 12): one document for the clinic's quality meeting, as PDF or HTML.

    python -m pipelines report --month 2026-10 [--lang nb|en] [--release] -o rapport.pdf   (or .html)
    and the same from the overview's button.

What it holds, in this order: the month's headline table (every outcome's events / sessions, rate with its 95 %
interval, the published reference range, follow-up completeness and the sessions still awaiting their window),
the control charts of the outcomes watched per clinician and of the correction rate over the 24 months up to the
month (the month highlighted, process changes drawn where the data hold them), the signal episodes that began in the
month and those still listed (with their reviews where the review log holds them), the month's process changes,
and the correction costs (the month against the same month a year before, the year to date and the last 12 months
against the 12 before). Every page carries the provenance line: snapshot version, data through, counted as of,
generated when and by whom, internal or released under which rule.

`--release` (fit to e-mail): only the figures a release may show. The headline and the costs are built by the
export builder's release path (pipelines.release.build: a whole calendar month, counted as of a month end, small
cells suppressed and marked, counts rounded to base 5, rates recomputed from the rounded counts); the control
charts are the release rule applied to the monthly rows (pipelines.release.export.release, kind spc); signals,
reviews and per-clinician figures are internal and left out, and the report says so.

This module draws with the dashboard's charts and texts and never imports streamlit, so the command line may
call it (tests/test_architecture.py). Static charts come from kaleido (it drives the machine's Chromium); without
a browser the report is still written, each chart replaced by a line saying why. The PDF is made by reportlab.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from dashboard import charts, i18n
from dashboard.i18n import t
from pipelines.errors import UserError
from pipelines.ingest import history
from pipelines.metrics import analysis, changes, costs, counting, registry, signals, targets
from pipelines.metrics.counting import Filters
from pipelines.release import build, disclosure, export, pdf, reviews

CHART_OUTCOMES = (*registry.WATCHED_PER_CLINICIAN, "correction")  # the control charts shown, in this order
CHART_MONTHS = 24  # the charts' span: the report month and the 23 before it
CHART_WIDTH_PX, CHART_HEIGHT_PX = 900, 380
FORMATS = (".pdf", ".html")


class ReportError(UserError):
    """The report cannot be made as asked (the message says what to change)."""


@dataclass(frozen=True)
class ReportOptions:
    month: dt.date  # the first day of the reporting month
    lang: str = i18n.DEFAULT_LANG
    release: disclosure.Rule | None = None  # fit to leave the clinic: suppressed figures only
    user: str | None = None  # generated_by (default: the OS account running the process)
    reviews_file: Path | None = None  # the signal review log (pipelines/release/reviews.py); None: no reviews shown


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    widths: tuple[float, ...] = ()  # relative column widths (PDF)


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, go.Figure | None, str]] = field(default_factory=list)  # (title, figure, note)
    notes: list[str] = field(default_factory=list)  # small print under the section


@dataclass
class Report:
    title: str
    subtitle: str
    footer: str  # the provenance line printed on every page
    provenance: dict[str, str]
    sections: list[Section]
    lang: str
    is_release: bool


# --------------------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------------------


def parse_month(text: str) -> dt.date:
    """'2026-10' -> 2026-10-01; ReportError with the expected form otherwise."""
    value = str(text).strip()
    try:
        if len(value) == 7 and value[4] == "-":
            return dt.date(int(value[:4]), int(value[5:]), 1)
    except ValueError:
        pass
    raise ReportError(f"--month `{text}` is not a month; write YYYY-MM, e.g. --month 2026-10")


def check_output_name(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(f"-o {path}: the report is written as .pdf or .html; name the file e.g. rapport-2026-10.pdf")
    return suffix


def month_end(month: dt.date) -> dt.date:
    return disclosure.month_end(month)


def month_name(month: dt.date, lang: str) -> str:
    """'oktober 2026' / 'October 2026': the month written out (CLDR skeleton yMMMM)."""
    from babel import dates as babel_dates

    return babel_dates.format_skeleton("yMMMM", month, locale=i18n.LOCALES[lang])


def month_span(first: dt.date, last: dt.date, lang: str) -> str:
    return f"{i18n.month_label(first, lang)}–{i18n.month_label(last, lang)}"


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


# --------------------------------------------------------------------------------------------------------------
# Building the report (data -> sections)
# --------------------------------------------------------------------------------------------------------------


def _as_of(con: duckdb.DuckDBPyConnection, o: ReportOptions) -> tuple[dt.date, dt.date]:
    """(data as of, counted as of). A release is counted as of a month end (the release rule)."""
    data_as_of = counting.default_as_of(con)
    if data_as_of is None:
        raise ReportError("the database holds no treatments yet; load exports first")
    first = export._first_date(con)
    if o.month > data_as_of:
        raise ReportError(f"the data reach {data_as_of.isoformat()}; {o.month:%Y-%m} has no data yet. Choose "
                          f"--month {data_as_of:%Y-%m} or earlier")
    if first is not None and month_end(o.month) < first:
        raise ReportError(f"the data begin {first.isoformat()}; {o.month:%Y-%m} is before them")
    if o.release is None:
        return data_as_of, data_as_of
    return data_as_of, disclosure.release_as_of(None, data_as_of, month_end(o.month))


def _month_filters(o: ReportOptions) -> Filters:
    return Filters(date_from=o.month, date_to=month_end(o.month))


def _reference_text(outcome: registry.Outcome, lang: str) -> str:
    ref = outcome.reference
    if ref is None:
        return t("report_no_reference", lang)
    low, high = ref.low_pct, ref.high_pct
    if low is None and high is None:
        return t("report_no_reference", lang)
    if low is not None and high is not None and low != high:
        text = f"{i18n.number(low, lang, 1 if low % 1 else 0)}–{i18n.pct(high / 100, lang, 1 if high % 1 else 0)}"
    else:
        value = high if high is not None else low
        text = i18n.pct(value / 100, lang, 1 if value % 1 else 0)
    return text + (" " + t("report_estimate", lang) if ref.is_estimate else "")


def _label(outcome: registry.Outcome, lang: str) -> str:
    return outcome.label_nb if lang == "nb" else outcome.label_en


def _number(value) -> float | None:
    """A figure of a frame as a float; None for a missing or suppressed cell (a release marks it with text)."""
    if value is None or isinstance(value, str):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(value) else value


def _count(value, lang: str) -> str:
    value = _number(value)
    return "–" if value is None else i18n.number(int(round(value)), lang)


def headline(con: duckdb.DuckDBPyConnection, o: ReportOptions, as_of: dt.date) -> Section:
    lg = o.lang
    rows = []
    for outcome in registry.OUTCOMES:
        note = ""
        if o.release is None:
            frame = export.rates_frame(con, outcome.key, period="all", filters=_month_filters(o), as_of=as_of)
            r = frame.iloc[0] if len(frame) else None
            awaiting = int(r["awaiting_n"]) if r is not None and "awaiting_n" in frame and pd.notna(r["awaiting_n"]) \
                else 0
            if awaiting:
                note = i18n.tn("report_awaiting", awaiting, lg, n=i18n.number(awaiting, lg))
        else:
            frame, _ = build.build(con, "rates", build.ExportOptions(
                outcome=outcome.key, period="all", filters=_month_filters(o), release=o.release, as_of=as_of))
            r = frame.iloc[0] if len(frame) else None
            if r is not None and r.get("suppression") == disclosure.MARK:
                note = t("report_suppressed", lg)
        den = _number(r["denominator_n"]) if r is not None else None
        if r is None or (den is None and not note) or den == 0:
            rate, ci, counts, completeness = "–", "", "–", "–"
        else:
            counts = f"{_count(r['numerator_n'], lg)} / {_count(r['denominator_n'], lg)}"
            rate_value, low, high = (_number(r[c]) for c in ("rate", "ci_low", "ci_high"))
            rate = "–" if rate_value is None else i18n.pct(rate_value, lg, 1)
            ci = "" if low is None or high is None else i18n.pct_range(low, high, lg, 1)
            share = _number(r.get("followup_completeness"))
            completeness = "–" if share is None else i18n.pct(share, lg, 0)
            if o.release is None and share is not None and share < analysis.LOW_COMPLETENESS_BELOW and not note:
                note = t("report_low_completeness", lg)
        rows.append([_label(outcome, lg), counts, rate, ci, _reference_text(outcome, lg), completeness, note])
    table = Table([t("report_col_outcome", lg), t("report_col_counts", lg), t("report_col_rate", lg),
                   t("report_col_ci", lg), t("report_col_reference", lg), t("report_col_completeness", lg),
                   t("report_col_note", lg)], rows, numeric=(1, 2, 3, 5), widths=(3.0, 1.7, 0.9, 1.6, 1.7, 1.25, 2.1))
    return Section(t("report_headline", lg), [t("report_headline_text", lg, month=month_name(o.month, lg))],
                   [table], notes=[t("report_reference_note", lg)])


def _spc_frame(con, key: str, o: ReportOptions, as_of: dt.date) -> pd.DataFrame:
    filters = Filters(date_from=add_months(o.month, 1 - CHART_MONTHS), date_to=month_end(o.month))
    frame = export.spc_frame(con, key, filters=filters, as_of=as_of)
    if o.release is not None and len(frame):
        released = export.release(frame, "spc", ["period_start"], o.release, outcome_key=key)
        for c in released.columns:
            if c not in ("period_start", "suppression", "signal_rules"):
                released[c] = pd.to_numeric(released[c], errors="coerce")  # a hidden cell: not drawn
        released["part"] = frame["part"].to_numpy() if "part" in frame else 1  # where limits restart: not a count
        frame = released
    return frame


def control_charts(con, o: ReportOptions, as_of: dt.date) -> Section:
    """The watched outcomes' p-charts over CHART_MONTHS months: the month as a band, the process changes that
    concern each chart as dated lines (a re-basing change starts a new part), the clinic's target and its
    assurance reading where one is set. A release draws changes by month and only those naming no clinician."""
    lg = o.lang
    section = Section(t("report_charts", lg), [t("report_charts_text", lg, months=CHART_MONTHS)])
    chart_filters = Filters(date_from=add_months(o.month, 1 - CHART_MONTHS), date_to=month_end(o.month))
    all_changes = changes.process_changes(con)
    if o.release is not None and len(all_changes):
        all_changes = all_changes[all_changes["clinician"] == ""]
    rows = []
    for key in CHART_OUTCOMES:
        outcome = registry.get(key)
        frame = _spc_frame(con, key, o, as_of)
        target = targets.target_for(con, key)
        assurance = targets.assurance(frame, key, target) if len(frame) else ""
        fig = charts.spc_chart(frame, outcome_label=_label(outcome, lg), lang=lg,
                               reference=charts.reference_tuple(outcome.reference),
                               higher_is_better=outcome.higher_is_better, height=CHART_HEIGHT_PX,
                               report=(o.month, o.month), report_label=t("report_band", lg,
                                                                          period=month_name(o.month, lg)),
                               changes=changes.concerning(all_changes, key, chart_filters), target=target,
                               assurance=assurance, changes_by_month=o.release is not None)
        reading = analysis.variation_reading(frame, higher_is_better=outcome.higher_is_better) if len(frame) else ""
        section.figures.append((_label(outcome, lg), fig, ""))
        rows.append([_label(outcome, lg), t(f"reading_{reading or 'none'}", lg),
                     "–" if target is None else i18n.pct(target, lg, 1),
                     t(f"assurance_{assurance or 'none'}", lg)])
    section.tables.append(Table([t("report_col_outcome", lg), t("report_col_reading", lg),
                                 t("report_col_target", lg), t("report_col_assurance", lg)], rows,
                                widths=(3, 2.4, 1.2, 2.4)))
    return section


def _month_text(d: object, lg: str) -> str:
    return i18n.month_label(pd.Timestamp(d).date(), lg)


def signals_section(con, o: ReportOptions, as_of: dt.date) -> Section:
    """Concerning episodes listed for sessions up to the month's end: new in the month, and older ones, each with
    its latest review (pipelines/release/reviews.py) or 'not reviewed'. Internal only."""
    lg = o.lang
    if o.release is not None:
        return Section(t("report_signals", lg), [t("report_signals_release", lg)])
    filters = Filters(date_to=month_end(o.month))  # what a meeting about the month sees
    if o.reviews_file is not None:
        frame = reviews.episodes_with_reviews(con, o.reviews_file, filters=filters, as_of=as_of)
    else:
        frame = signals.episode_list(con, filters=filters, as_of=as_of)
    frame = frame[frame["concern"].astype(bool)] if len(frame) else frame
    first = pd.to_datetime(frame["first_date"]).dt.date if len(frame) else pd.Series(dtype=object)
    is_new = ((first >= o.month) & (first <= month_end(o.month))).to_numpy(dtype=bool)
    reviewed_n = int((frame["review_status"] == "reviewed").sum()) if "review_status" in frame else 0
    section = Section(t("report_signals", lg), [t("report_signals_text", lg, new=int(is_new.sum()),
                                                  listed=len(frame), month=month_name(o.month, lg),
                                                  reviewed=reviewed_n)])
    columns = [t("report_col_outcome", lg), t("report_col_clinician", lg), t("report_col_rule", lg),
               t("report_col_began", lg), t("report_col_review", lg)]
    for title, part in ((t("report_signals_new", lg), frame[is_new]), (t("report_signals_open", lg),
                                                                      frame[~is_new])):
        rows = [[_label(registry.get(r["outcome"]), lg), _text(r.get("clinician")) or t("report_clinic", lg),
                 signals.rule_words(r["rule"], lg),
                 _month_text(r["first_date"], lg), _review_text(r, lg)] for r in part.to_dict("records")]
        section.paragraphs.append(f"{title}: {len(rows)}")
        if rows:
            section.tables.append(Table(columns, rows, widths=(2.4, 1.3, 2.6, 1.3, 3.0)))
    return section


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _review_text(r: dict, lg: str) -> str:
    """'Cause found (lege@klinikk.no, 12.11.2026): note. Action: owner by date', or 'not reviewed'."""
    conclusion = _text(r.get("conclusion"))
    if r.get("review_status") != "reviewed" or not conclusion:
        return t("report_not_reviewed", lg)
    when = _text(r.get("reviewed_at"))[:10]
    who = ", ".join(x for x in (_text(r.get("reviewed_by")), i18n.date(dt.date.fromisoformat(when), lg)
                                if len(when) == 10 else "") if x)
    text = t(f"conclusion_{conclusion}", lg) + (f" ({who})" if who else "")
    note = _text(r.get("note"))
    if note:
        text += f": {note}"
    owner, due = _text(r.get("action_owner")), _text(r.get("due_on"))[:10]
    if owner or due:
        text += " · " + t("report_action", lg, owner=owner or "–",
                          due=i18n.date(dt.date.fromisoformat(due), lg) if len(due) == 10 else "–")
    return text


def changes_section(con, o: ReportOptions, as_of: dt.date) -> Section:
    """The month's process changes (a release leaves out those naming a clinician)."""
    lg = o.lang
    month = changes.in_month(con, o.month)
    if o.release is not None and len(month):
        month = month[month["clinician"] == ""]
    section = Section(t("report_changes", lg))
    if month.empty:
        section.paragraphs.append(t("report_changes_none", lg, month=month_name(o.month, lg)))
        return section
    rows = [[i18n.date(r["changed_on"], lg), r["description"],
             ", ".join(x for x in (_label(registry.get(r["outcome"]), lg) if r["outcome"] else "", r["product"],
                                   r["clinician"]) if x) or t("report_whole_clinic", lg),
             t("report_rebase_yes", lg) if r["rebase"] else t("report_rebase_no", lg)]
            for r in month.to_dict("records")]
    section.tables.append(Table([t("report_col_date", lg), t("report_col_description", lg),
                                 t("report_col_concerns", lg), t("report_col_rebase", lg)], rows,
                                widths=(1.3, 4.5, 2.2, 1.6)))
    return section


def _cost_row(label: str, sums: dict | None, lg: str) -> list[str]:
    """Period, corrections, primary treatments, cost, cost per 100 with its 95 % interval (costs.per_100_interval)."""
    if sums is None or sums.get("is_hidden"):
        return [label, "–", "–", "–", "–"]
    per_100, low, high = (_number(sums.get(k)) for k in ("per_100_nok", "per_100_low_nok", "per_100_high_nok"))
    text = "–" if per_100 is None else i18n.nok(per_100, lg)
    if per_100 is not None and low is not None and high is not None:
        text += f" ({i18n.nok(low, lg)}–{i18n.nok(high, lg)})"
    return [label, _count(sums["correction_n"], lg), _count(sums["primary_n"], lg),
            i18n.nok(sums["correction_cost_nok"], lg), text]


def costs_section(con, o: ReportOptions, as_of: dt.date) -> Section:
    lg = o.lang
    m, m_end = o.month, month_end(o.month)
    year_ago = add_months(m, -12)
    section = Section(t("report_costs", lg), [t("report_costs_text", lg)])
    columns = [t("report_col_period", lg), t("col_corrections", lg), t("col_primary", lg), t("kpi_cost", lg),
               t("kpi_cost_per_100", lg)]
    if o.release is not None:
        rows = []
        for start in (m, year_ago):
            try:
                frame, _ = build.build(con, "costs", build.ExportOptions(
                    by="month", filters=Filters(date_from=start, date_to=month_end(start)), release=o.release,
                    as_of=as_of))
            except disclosure.NotForRelease:
                frame = pd.DataFrame()
            sums = None
            if len(frame) and frame.iloc[0].get("suppression") != disclosure.MARK:
                r = frame.iloc[0]
                sums = {"correction_n": r["correction_n"], "primary_n": r["primary_n"],
                        "correction_cost_nok": r["correction_cost_nok"], "per_100_nok": r["cost_per_100_primary_nok"]}
            rows.append(_cost_row(i18n.month_label(start, lg), sums, lg))
        section.tables.append(Table(columns, rows, numeric=(1, 2, 3, 4), widths=(2.1, 1.3, 1.4, 2.0, 2.6)))
        section.notes.append(t("report_costs_release", lg))
        return section
    frame = export.costs_frame(con, by="month", filters=Filters(date_from=add_months(m, -23), date_to=m_end),
                               as_of=as_of)
    if frame.empty:
        section.paragraphs.append(t("costs_empty", lg))
        return section
    months = pd.to_datetime(frame["month"]).dt.date
    per_month = costs.with_interval(frame).assign(per_100_nok=frame["cost_per_100_primary_nok"])
    rows = [_cost_row(i18n.month_label(day, lg), next(iter(per_month[(months == day).to_numpy()]
                                                           .to_dict("records")), None), lg) for day in (m, year_ago)]
    # this year so far and the last 12 months, each against the year before: the costs page's comparison
    compared = costs.cost_comparison(con, as_of=as_of, through=m_end)
    rows += [_cost_row(month_span(r["date_from"], r["date_to"], lg) if r["date_to"] >= r["date_from"] else
                       t("report_no_period", lg), r, lg) for r in compared.to_dict("records")]
    section.tables.append(Table(columns, rows, numeric=(1, 2, 3, 4), widths=(2.1, 1.3, 1.4, 2.0, 2.6)))
    section.notes.append(t("report_costs_counts_note", lg, days=costs.LATE_AFTER_DAYS))
    shown = frame[(months >= add_months(m, 1 - CHART_MONTHS)).to_numpy()]
    section.figures.append((t("cost_month_title", lg), charts.cost_time_chart(shown, lang=lg,
                                                                                height=CHART_HEIGHT_PX), ""))
    return section


def provenance(con, o: ReportOptions, data_as_of: dt.date, as_of: dt.date) -> dict[str, str]:
    lg = o.lang
    info = history.snapshot_info(con)
    published = info["published_at"]
    return {
        t("report_prov_snapshot", lg): f"{info['version']}" + (f" ({i18n.date(published, lg)})" if published else ""),
        t("report_prov_data", lg): i18n.date(data_as_of, lg),
        t("report_prov_as_of", lg): i18n.date(as_of, lg),
        t("report_prov_generated", lg): f"{i18n.date(export._now().replace(microsecond=0), lg)} "
                                        f"{t('report_by', lg)} {o.user or export._user()}",
        t("report_prov_use", lg): (t("report_release", lg, rule=o.release.describe()) if o.release is not None
                                   else t("report_internal", lg)),
    }


def build_report(con: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    """The report's content (no drawing yet): sections of paragraphs, tables and figures."""
    if o.lang not in i18n.LANGS:
        raise ReportError(f"--lang {o.lang}: choose one of {', '.join(i18n.LANGS)}")
    data_as_of, as_of = _as_of(con, o)
    lg = o.lang
    sections = [headline(con, o, as_of), control_charts(con, o, as_of), signals_section(con, o, as_of),
                changes_section(con, o, as_of), costs_section(con, o, as_of)]
    prov = provenance(con, o, data_as_of, as_of)
    month = month_name(o.month, lg)
    footer = " · ".join([t("report_title", lg, month=month), *(f"{k}: {v}" for k, v in prov.items())])
    if month_end(o.month) > data_as_of:
        sections[0].paragraphs.insert(0, t("report_month_unfinished", lg, day=i18n.date(data_as_of, lg)))
    sections.append(Section(t("report_about", lg), [t("report_about_text", lg)],
                            [Table([t("report_col_item", lg), t("report_col_value", lg)],
                                   [[k, v] for k, v in prov.items()], widths=(1.5, 5))]))
    return Report(title=t("report_title", lg, month=month),
                  subtitle=t("report_subtitle", lg), footer=footer, provenance=prov, sections=sections, lang=lg,
                  is_release=o.release is not None)


# --------------------------------------------------------------------------------------------------------------
# Static charts
# --------------------------------------------------------------------------------------------------------------


class ChartImages:
    """PNG images of plotly figures through kaleido (one Chromium for the whole report)."""

    def __init__(self) -> None:
        self.error = ""
        self._server = False

    def __enter__(self) -> ChartImages:
        try:
            import kaleido

            kaleido.start_sync_server(silence_warnings=True)
            self._server = True
        except Exception as exc:  # noqa: BLE001 - no browser: the report says so in place of each chart
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return self

    def __exit__(self, *exc) -> None:
        if self._server:
            import kaleido

            try:
                kaleido.stop_sync_server(silence_warnings=True)
            except Exception:  # noqa: BLE001
                pass

    def png(self, fig: go.Figure) -> bytes | None:
        if self.error:
            return None
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fig.to_image(format="png", width=CHART_WIDTH_PX, height=int(fig.layout.height or
                                                                                    CHART_HEIGHT_PX), scale=2)
        except Exception as exc:  # noqa: BLE001
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            return None


def _static(fig: go.Figure) -> go.Figure:
    """A copy fit for paper: no hover, legend kept, white background."""
    out = go.Figure(fig)
    out.update_layout(hovermode=False, paper_bgcolor="white", plot_bgcolor="white")
    return out


# --------------------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------------------


def render_html(report: Report, images: ChartImages) -> str:
    e = html.escape
    lg = report.lang
    parts = [f"<!doctype html><html lang=\"{'nb' if lg == 'nb' else 'en'}\"><head><meta charset=\"utf-8\">",
             f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{e(report.title)}</h1><p class=sub>{e(report.subtitle)}</p>"
             f"<p class=prov>{e(report.footer)}</p></header>"]
    for s in report.sections:
        parts.append(f"<section><h2>{e(s.heading)}</h2>")
        parts += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        for table in s.tables:
            parts.append(_html_table(table))
        for title, fig, note in s.figures:
            png = images.png(_static(fig)) if fig is not None else None
            if png:
                parts.append(f"<figure><img alt=\"{e(title)}\" src=\"data:image/png;base64,"
                             f"{base64.b64encode(png).decode('ascii')}\"></figure>")
            else:
                parts.append(f"<p class=missing>{e(title)}: {e(t('report_chart_missing', lg, why=images.error))}</p>")
            if note:
                parts.append(f"<p class=note>{e(note)}</p>")
        parts += [f"<p class=note>{e(n)}</p>" for n in s.notes]
        parts.append("</section>")
    parts.append(f"<footer class=prov>{e(report.footer)}</footer></body></html>")
    return "\n".join(parts)


def _html_table(table: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td class={'num' if i in table.numeric else 'txt'}>{e(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;max-width:1000px;margin:24px auto}
h1{font-size:22px;margin:0} h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
.sub{color:#57606a;margin:4px 0} .prov{color:#57606a;font-size:11px} .note{color:#57606a;font-size:12px}
.missing{color:#b35806} table{border-collapse:collapse;width:100%;font-size:12px;margin:8px 0}
th,td{border-bottom:1px solid #eef1f4;padding:3px 6px;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap} img{max-width:100%}
@page{size:A4;margin:14mm} @media print{section{break-inside:auto} figure{break-inside:avoid}}
"""


# --------------------------------------------------------------------------------------------------------------
# PDF (reportlab)
# --------------------------------------------------------------------------------------------------------------


# the font and the Paragraph text: pipelines/release/pdf.py (shared with the adverse-event report draft)
_pdf_fonts = pdf.fonts
_pdf_text = pdf.paragraph_text


def render_pdf(report: Report, images: ChartImages) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table as PdfTable,
                                    TableStyle)

    regular, bold = _pdf_fonts()
    styles = {
        "title": ParagraphStyle("title", fontName=bold, fontSize=17, leading=21, spaceAfter=2),
        "sub": ParagraphStyle("sub", fontName=regular, fontSize=10, leading=13, textColor=colors.HexColor("#57606a"),
                              spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5, spaceAfter=4),
        "note": ParagraphStyle("note", fontName=regular, fontSize=8, leading=10,
                               textColor=colors.HexColor("#57606a"), spaceAfter=3),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=8, leading=9.6),
        "cellnum": ParagraphStyle("cellnum", fontName=regular, fontSize=8, leading=9.6, alignment=2),
        "head": ParagraphStyle("head", fontName=bold, fontSize=8, leading=9.6),
    }
    page_w, page_h = A4
    margin = 14 * mm
    frame_w = page_w - 2 * margin
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin + 8 * mm, title=report.title, author=report.provenance.get(
                                t("report_prov_generated", report.lang), ""), subject=report.subtitle)

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(regular, 6.5)
        canvas.setFillColor(colors.HexColor("#57606a"))
        text = _pdf_text(report.footer).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        lines = _wrap(text, regular, 6.5, frame_w - 20 * mm)
        y = margin - 2 * mm + 8 * (len(lines) - 1)
        for line in lines:
            canvas.drawString(margin, y, line)
            y -= 8
        canvas.drawRightString(page_w - margin, margin - 2 * mm, f"{document.page}")
        canvas.restoreState()

    story = [Paragraph(_pdf_text(report.title), styles["title"]), Paragraph(_pdf_text(report.subtitle), styles["sub"])]
    for s in report.sections:
        story.append(Paragraph(_pdf_text(s.heading), styles["h2"]))
        story += [Paragraph(_pdf_text(p), styles["body"]) for p in s.paragraphs]
        for table in s.tables:
            widths = table.widths or tuple(1.0 for _ in table.columns)
            scale = frame_w / sum(widths)
            data = [[Paragraph(_pdf_text(c), styles["head"]) for c in table.columns]]
            data += [[Paragraph(_pdf_text(v), styles["cellnum" if i in table.numeric else "cell"])
                      for i, v in enumerate(row)] for row in table.rows]
            pdf_table = PdfTable(data, colWidths=[w * scale for w in widths], repeatRows=1)
            pdf_table.setStyle(TableStyle([
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#57606a")),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#d0d7de")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]))
            story += [pdf_table, Spacer(1, 4)]
        for title, fig, note in s.figures:
            png = images.png(_static(fig)) if fig is not None else None
            block = []
            if png:
                height_px = int(fig.layout.height or CHART_HEIGHT_PX)
                block.append(Image(io.BytesIO(png), width=frame_w, height=frame_w * height_px / CHART_WIDTH_PX))
            else:
                block.append(Paragraph(_pdf_text(f"{title}: {t('report_chart_missing', report.lang, why=images.error)}"),
                                       styles["body"]))
            if note:
                block.append(Paragraph(_pdf_text(note), styles["note"]))
            block.append(Spacer(1, 6 * mm))
            story.append(KeepTogether(block))
        story += [Paragraph(_pdf_text(n), styles["note"]) for n in s.notes]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}".strip()
        if line and stringWidth(candidate, font, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + ([line] if line else [])


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def render(report: Report, suffix: str) -> bytes:
    with ChartImages() as images:
        if suffix == ".html":
            return render_html(report, images).encode("utf-8")
        return render_pdf(report, images)


def report_bytes(con: duckdb.DuckDBPyConnection, o: ReportOptions, suffix: str = ".pdf") -> bytes:
    """The report as the bytes of a .pdf or .html file."""
    if suffix not in FORMATS:
        raise ReportError(f"the report is written as .pdf or .html, not {suffix}")
    return render(build_report(con, o), suffix)


def run_command(args) -> Path:
    """`python -m pipelines report`: check the options and the output path, write the report from the published
    snapshot, log it in the access log like an export."""
    import hashlib

    from pipelines.ingest import store
    from pipelines.release import access
    from pipelines.release.cli import check_output

    db = Path(args.db) if args.db else store.default_db_path()
    o = ReportOptions(month=parse_month(args.month), lang=args.lang,
                      release=disclosure.Rule(args.min_numerator, args.min_denominator) if args.release else None,
                      reviews_file=reviews.reviews_path_for(db))
    suffix = check_output_name(args.output)
    check_output(args.output, db)
    if not db.exists():
        raise ReportError(f"no database at {db}; load exports first (python -m pipelines load ...)")
    con = duckdb.connect(str(db), read_only=True)
    try:
        data = report_bytes(con, o, suffix)
    finally:
        con.close()
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    access.append(access.log_path_for(db), access.Entry(
        user=export._user(), role="command line", event="export",
        what=f"report {o.month:%Y-%m} -> {path.name}" + (" (release)" if o.release else ""),
        filters=f"from {o.month.isoformat()} / to {month_end(o.month).isoformat()}",
        file_sha256=hashlib.sha256(data).hexdigest()))
    return path
