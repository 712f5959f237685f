"""Every page printed to PDF in a real browser (issue 16, item 8): Debian's chromium through Playwright prints each
page of the demo (`page.pdf`, A4) and the PDF's text is read back with pypdf.

Each printout must be A4; carry the header (the page, the period, the role and the data's as-of date); leave out
the sidebar; keep every KPI label whole (no word broken or cut off); and fit the page's tables and charts inside
the paper's width (checked in the browser with the print style and the `beforeprint` scaling applied, as the
browser does when it prints). The PDFs are kept in test-artifacts/ (print_<page>.pdf) to look at.
The expected period and as-of date are read from the demo database with SQL of the test's own."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

import duckdb
import pypdf  # the test extra (pyproject.toml): reads the printed PDFs back
import pytest
from browser_stack import dashboard_server, settle
from test_browser import (  # noqa: F401 - Debian's chromium (its check and launch arguments) as everywhere
    ARTIFACTS,
    DRAWN,
    browser_type_launch_args,
)

from dashboard import i18n
from dashboard.auth import ROOT_PAGE
from pipelines.demo.build import run_demo
from pipelines.release import access

pytestmark = pytest.mark.browser

END = dt.date(2026, 6, 15)  # the data end in the middle of June: June is an unfinished month
A4_PT = (595.28, 841.89)  # 210 x 297 mm in PDF points
PAPER_PX = 718  # A4 less the 10 mm margins of the print style, in CSS px (dashboard/print.py PAPER_WIDTH_PX)
SIDEBAR_TEXTS = ("Vis som rolle", "Adressefeltet inneholder filtrene", "Språk")

@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("print") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(scope="module")
def server(demo):
    with dashboard_server(demo) as base:
        yield base


@pytest.fixture(scope="module")
def facts(demo) -> dict:
    """The period the sidebar starts with (first and last treatment) and the as-of date (newest treatment or
    follow-up contact), from the database."""
    con = duckdb.connect(str(demo), read_only=True)
    try:
        first, last = con.execute("SELECT min(treated_on), max(treated_on) FROM treatments").fetchall()[0]
        as_of = con.execute("SELECT greatest((SELECT max(treated_on) FROM treatments), "
                            "(SELECT max(seen_on) FROM follow_ups))").fetchall()[0][0]
    finally:
        con.close()
    return {"first": first, "last": last, "as_of": as_of}


def wait_for_content(page, what: str) -> None:
    if what == "chart":
        page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg', state="attached",
                               timeout=60_000)
    elif what == "download":
        page.wait_for_selector('[data-testid="stDownloadButton"]', timeout=60_000)
    if page.locator('[data-testid="stDataFrame"]:visible').count():
        page.wait_for_selector('[data-testid="stDataFrame"]:visible canvas', state="attached", timeout=30_000)
    page.wait_for_timeout(1500)  # plotly's transitions, the background checks' reruns
    settle(page)


OVERFLOW_JS = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll(
      '[data-testid="stDataFrame"], [data-testid="stPlotlyChart"] .main-svg, [data-testid="stMetric"]')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > main.right + 1) out.push([el.getAttribute('data-testid') || 'svg', r.right, main.right]);
  }
  return {width: main.width, sidebar: getComputedStyle(
      document.querySelector('[data-testid="stSidebar"]') || document.body).display, overflowing: out};
}"""


def printed(page, name: str) -> tuple[list, str]:
    """The page printed to PDF: (page sizes in points, the text), the PDF kept in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / f"print_{name}.pdf").write_bytes(pdf)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    # NFKC: the PDF's ligatures (U+FB00 'ff' in 'effekt') read back as their letters
    return sizes, unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))


def whole_word(word: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def check_printout(page, name: str, title: str, period_line: str) -> str:
    labels = [t.strip() for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts() if t.strip()]
    sizes, text = printed(page, name)
    assert sizes and all(abs(w - A4_PT[0]) < 2 and abs(h - A4_PT[1]) < 2 for w, h in sizes), (name, sizes)
    flat = " ".join(text.split())
    assert f"Klinikkens resultater · {title}" in flat, (name, flat[:400])
    assert period_line in flat, (name, flat[:400])
    for sidebar_text in SIDEBAR_TEXTS:
        assert sidebar_text not in flat, f"{name}: the sidebar's '{sidebar_text}' is printed"
    for label in labels:  # each word of a KPI label whole in the PDF: not broken, hyphenated or cut off
        for word in re.findall(r"[^\W\d_]{4,}", label):
            assert whole_word(word, flat), f"{name}: KPI label '{label}': '{word}' is not whole in the printout"
    # what the browser lays out for paper, looked at in the page itself after printing (the emulation below lets the
    # charts redraw at other widths, so it comes after page.pdf): the scaling of `beforeprint` at the screen's
    # width, then the print style
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    try:
        layout = page.evaluate(OVERFLOW_JS)
    finally:
        page.emulate_media(media="null")  # no emulation: page.pdf() prints with the print style
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert layout["sidebar"] == "none", f"{name}: the sidebar prints"
    assert layout["width"] <= PAPER_PX + 1, f"{name}: {layout['width']} px wide, the paper holds {PAPER_PX}"
    assert not layout["overflowing"], f"{name}: cut at the paper's edge: {layout['overflowing']}"

    return flat


def test_every_page_prints_on_a4_with_the_period_role_and_as_of_date(server, page, facts):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    nb = lambda d: d.strftime("%d.%m.%Y")  # noqa: E731 - Norwegian dates (dd.mm.yyyy) on a Norwegian page
    period_line = (f"Periode {nb(facts['first'])} – {nb(facts['last'])} · Rolle: Administrator · "
                   f"Data per {nb(facts['as_of'])}")
    # demo mode shows the admin every page but the clinician role's own view (issue 13 item 7: its roles)
    for spec in (p for p in access.PAGES if access.may_open(["admin"], p.name)):
        title = i18n.t(spec.title_key, "nb")
        url = "/" if spec.name == ROOT_PAGE else f"/{spec.url_path}"
        page.goto(f"{server}{url}?lang=nb")
        settle(page)
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
        wait_for_content(page, DRAWN.get(spec.name, "chart"))
        assert not page.locator('[data-testid="stException"]').count(), f"{spec.name}: {page.inner_text('body')[:500]}"
        flat = check_printout(page, spec.name, title, period_line)
        if spec.name == "costs":  # the unfinished month is marked on the printed cost chart too
            assert f"juni 2026: ufullstendig, data til {nb(facts['as_of'])}" in flat
            assert "Blir det bedre?" in flat and "I år så langt (jan. – mai 2026)" in flat
            # the charts print at their screen size, scaled: their titles whole, not cut to a narrow drawing
            assert "Korrigeringsandel etter måned for første behandling" in flat
            assert "Korrigeringskostnad per 100 første behandlinger, etter behandler" in flat
    assert not errors, errors


def test_the_manager_prints_whole_months_and_their_role(server, page, facts):
    """The manager's figures are of whole calendar months (the period widened to them, as the page counts it): so
    is the printed period, under the manager's role."""
    page.goto(f"{server}/costs?lang=nb")
    settle(page)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="Daglig leder").click()
    settle(page)
    # a new preview role opens the role's start page: back to the costs page from the menu (same session)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Korrigeringer og kostnader",
                                                                exact=True).click()
    settle(page)
    page.get_by_role("heading", name="Korrigeringer og kostnader", exact=True).wait_for(timeout=60_000)
    wait_for_content(page, "chart")
    # widened to whole months: from the first day of the first treatment's month to the end of the last one's
    start = facts["first"].replace(day=1)
    end = (facts["last"].replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    # the costs tables show every column at 1400 px (no sideways scrolling inside a table)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(1500)
    scrolled = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
        .map(s => [s.scrollWidth, s.clientWidth]).filter(([w, c]) => c > 0 && w > c)""")
    assert not scrolled, f"a costs table scrolls sideways at 1400 px: {scrolled}"
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_timeout(1000)
    line = (f"Periode {start.strftime('%d.%m.%Y')} – {end.strftime('%d.%m.%Y')} · Rolle: Daglig leder · "
            f"Data per {facts['as_of'].strftime('%d.%m.%Y')}")
    check_printout(page, "costs_manager", "Korrigeringer og kostnader", line)
