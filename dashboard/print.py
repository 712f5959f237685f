"""Printing a page (issue 16, item 8): every page prints on A4 without the sidebar, the toolbar or the buttons,
under a header that says what the printout shows (the page, the period, the viewer's role, the data's as-of date,
the snapshot and the other filters) - on paper there is no sidebar to read them from.

`page_header` is called once per run by streamlit_app.py, before the page: it draws the print stylesheet and the
header, which is hidden on screen (`@media screen`) and shown on paper (`@media print`). In print:
- the sidebar, the top toolbar, the status widget and the app's scroll container go (the main column prints at the
  paper's width over as many pages as it needs, not one clipped screenful);
- KPI labels, values and notes wrap between words and never inside one (no ellipsis, no hyphenation);
- charts, KPIs, tables and rows of columns are not split across pages (the open tab prints: the others are not
  drawn);
- the page keeps its screen layout, scaled down to the paper's width (PRINT_JS, on the browser's `beforeprint`
  event; undone on `afterprint`): a table (a canvas) and a chart (an SVG of fixed size) cannot reflow to a narrower
  sheet, so without the scaling they would be cut at the paper's right edge and lose columns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html

import streamlit as st

from dashboard import auth, data, filters, i18n

PRINT_CSS = """
@page { size: A4 portrait; margin: 12mm 10mm 12mm 10mm; }
.clinic-print-header { display: none; }
@media print {
  html, body, .stApp, [data-testid="stApp"], [data-testid="stAppViewContainer"], [data-testid="stMain"],
  [data-testid="stMainBlockContainer"], section.main {
    height: auto !important; min-height: 0 !important; overflow: visible !important; position: static !important;
  }
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stSidebarCollapseButton"],
  [data-testid="stHeader"], header[data-testid="stHeader"], [data-testid="stToolbar"],
  [data-testid="stDecoration"], [data-testid="stStatusWidget"], [data-testid="stBottom"],
  [data-testid="stSidebarNav"], [data-testid="stDownloadButton"], [data-testid="stBaseButton-secondary"],
  [data-testid="stBaseButton-primary"], [data-testid="stPageLink"], [data-testid="stElementToolbar"],
  [data-testid="stTooltipIcon"], .modebar-container {
    display: none !important;
  }
  [data-testid="stMain"] { margin-left: 0 !important; width: 100% !important; }
  [data-testid="stMainBlockContainer"] { max-width: none !important; width: 100% !important;
    padding: 0 !important; }
  .clinic-print-header { display: block !important; font-size: 9.5pt; line-height: 1.35; color: #000;
    border-bottom: 1px solid #888; padding-bottom: 2mm; margin-bottom: 3mm; }
  .clinic-print-header b { font-size: 11pt; }
  [data-testid="stMetric"] *, [data-testid="stCaptionContainer"] *, [data-testid="stMarkdownContainer"] * {
    white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
    word-break: normal !important; overflow-wrap: normal !important; hyphens: manual !important;
  }
  [data-testid="stMetric"], [data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stTable"],
  [data-testid="stAlert"], [data-testid="stExpander"] { break-inside: avoid; page-break-inside: avoid; }
  [data-testid="stHorizontalBlock"] { display: flex !important; flex-wrap: nowrap !important;
    break-inside: avoid; page-break-inside: avoid; }
  [data-testid="stColumn"] { min-width: 0 !important; }
  a[href]::after { content: none !important; }
}
"""


PAPER_WIDTH_PX = 718  # A4's 210 mm less the 2 x 10 mm margins of @page, at CSS's 96 px per inch
PRINT_JS = """
(() => {
  if (window.__clinicPrint) return;
  window.__clinicPrint = true;
  const main = () => document.querySelector('[data-testid="stMainBlockContainer"]');
  window.addEventListener("beforeprint", () => {
    const m = main();
    if (!m) return;
    const width = m.getBoundingClientRect().width;
    if (width <= 0) return;
    m.style.setProperty("width", width + "px", "important");
    m.style.setProperty("max-width", width + "px", "important");
    m.style.setProperty("zoom", String(Math.min(1, %(paper)d / width)));
  });
  window.addEventListener("afterprint", () => {
    const m = main();
    if (!m) return;
    for (const p of ["width", "max-width", "zoom"]) m.style.removeProperty(p);
  });
})();
""" % {"paper": PAPER_WIDTH_PX}


def header_lines(*, page: str, lang: str) -> list[str]:
    """The header's lines: the page; the period, role and as-of date; the other filters and the snapshot."""
    from dashboard import components
    from pipelines.metrics import analysis, counting, lookups

    who = auth.current()
    role = ", ".join(i18n.t(f"role_{r}", lang) for r in who.roles) or i18n.t("role_none", lang)
    lines = [i18n.t("print_title", lang, page=page)]
    try:
        options = data.cached(lookups.filter_options)
        as_of = data.cached(counting.default_as_of)
    except (data.NoDatabase, data.BadDatabase):
        return [*lines, i18n.t("print_role", lang, role=role)]
    f = filters.current()
    f = dataclasses.replace(f, date_from=f.date_from or options["first_date"], date_to=f.date_to or options["last_date"])
    if not components.sees_sessions():  # the manager's figures are of whole months (components.context)
        f = analysis.whole_months(f)
    start, end = f.date_from, f.date_to
    lines.append(i18n.t("print_period", lang, start=i18n.date(start, lang), end=i18n.date(end, lang), role=role,
                        as_of=i18n.date(as_of, lang)))
    chosen = [(key, values) for key, values in (("print_clinicians", f.clinicians),
                                                ("print_indications", f.indications), ("print_areas", f.areas),
                                                ("print_products", f.products)) if values]
    extra = [i18n.t(key, lang, values=", ".join(str(v) for v in values)) for key, values in chosen]
    printed = i18n.date(dt.datetime.now().replace(second=0, microsecond=0), lang)
    lines.append(" · ".join([*extra, i18n.t("print_printed", lang, at=printed)]))
    return lines


def page_header(page: str) -> None:
    """The print stylesheet and the header (hidden on screen), for the page titled `page`."""
    lang = filters.lang()
    try:
        lines = header_lines(page=page, lang=lang)
    except Exception:  # noqa: BLE001 - the header must never stop a page; the page says what is wrong itself
        lines = [i18n.t("print_title", lang, page=page)]
    body = "<br>".join(f"<b>{html.escape(line)}</b>" if i == 0 else html.escape(line) for i, line in enumerate(lines))
    st.html(f"<style>{PRINT_CSS}</style><div class=\"clinic-print-header\">{body}</div>"
            f"<script>{PRINT_JS}</script>", unsafe_allow_javascript=True)
