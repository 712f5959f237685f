"""The dashboard in a real browser (Debian's chromium through Playwright): `streamlit run` on a demo database,
every page opened from the sidebar with its charts drawn and a screenshot saved to test-artifacts/, a filter
applied (and kept in the URL and across pages), the language switched, and a CSV downloaded and read back.
Demo mode (no sign-in configured, whatever .streamlit/secrets.toml says); sign-in: tests/test_browser_auth.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser_stack import dashboard_server, settle
from conftest import ROOT
from playwright.sync_api import expect

from dashboard import i18n
from dashboard.auth import ROOT_PAGE
from pipelines.demo.build import run_demo
from pipelines.release import access

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
END = dt.date(2026, 6, 30)
DRAWN = {"export": "download", "about": "text", "access_log": "text", "load": "text", "signals": "text",
         "adverse_events": "text"}  # what must be drawn; else a chart
# (menu label, page, what): every page the demo's admin opens (not the clinician role's own view, issue 13 item 7)
PAGES = [(i18n.t(p.title_key, "en"), p, DRAWN.get(p.name, "chart")) for p in access.PAGES
         if access.may_open(["admin"], p.name)]

if not Path(CHROMIUM).exists():  # `make test` installs it (make chromium); never `playwright install`
    pytest.fail("Debian's chromium is not installed: run `make chromium` (make test does)", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "accept_downloads": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    with dashboard_server(db) as base:
        yield base


def wait_for_content(page, what: str) -> None:
    if what == "chart":
        page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg', state="attached",
                               timeout=60_000)
    elif what == "download":
        page.wait_for_selector('[data-testid="stDownloadButton"]', timeout=60_000)
    if page.locator('[data-testid="stDataFrame"]:visible').count():  # tables in closed expanders are not drawn
        page.wait_for_selector('[data-testid="stDataFrame"]:visible canvas', state="attached", timeout=30_000)
    page.wait_for_timeout(400)  # let plotly finish its transitions before the screenshot


def screenshot(page, name: str) -> Path:
    """The whole page (the app scrolls inside its main block, so the viewport is stretched to fit it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 140, 9000)})
    page.wait_for_timeout(500)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})
    return path


def open_page(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label, exact=True).click()
    settle(page)


def test_every_page_filter_language_and_download(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/?lang=en")
    settle(page)
    page.get_by_role("heading", name="Overview").wait_for()
    expect(page.get_by_text("Demo mode: no sign-in configured")).to_have_count(1, timeout=30_000)

    nav = page.locator('[data-testid="stSidebarNav"]')
    for label, spec, what in PAGES:
        stem = spec.name
        url = "/" if stem == ROOT_PAGE else f"/{spec.url_path}"  # the page table's URL path, unchanged
        assert urlparse(nav.get_by_role("link", name=label, exact=True).get_attribute("href")).path == url
        if stem != ROOT_PAGE:
            open_page(page, label)
            assert urlparse(page.url).path == url
        page.get_by_role("heading", name=label, exact=True).first.wait_for(timeout=60_000)
        wait_for_content(page, what)
        assert not page.locator('[data-testid="stException"]').count(), f"{label}: {page.inner_text('body')[:500]}"
        if what == "chart":
            expect(page.locator('[data-testid="stPlotlyChart"] .main-svg')).not_to_have_count(0, timeout=30_000)
        assert screenshot(page, f"en_{stem}").stat().st_size > 20_000

    # a filter: only clinician C01; it lands in the URL and stays when switching pages
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("combobox", name="Clinicians").click()
    page.keyboard.type("C01")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    settle(page)
    page.wait_for_function("() => window.location.search.includes('clin=C01')", timeout=30_000)
    open_page(page, "Export")
    page.wait_for_selector('[data-testid="stDownloadButton"]', timeout=60_000)
    assert "clin=C01" in page.url
    expect(page.get_by_text("Filters in the files: clinicians = C01", exact=False)).to_have_count(1, timeout=30_000)
    page.get_by_text("Internal (not suppressed)", exact=True).click()  # demo mode acts as admin
    settle(page)
    page.get_by_role("button", name="Download CUSUM").wait_for(timeout=30_000)

    # the CSV: provenance lines, then the same columns as `python -m pipelines export rates`
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Rates").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert download.suggested_filename.startswith("rates_insufficient_effect_")
    assert lines[0] == "# export: rates"
    assert "# filters: clinicians = C01" in lines
    assert "# release: internal: small cells not suppressed; not for use outside the clinic" in lines
    assert "# generated_by: demo" in lines
    assert any(line.startswith("# snapshot_version: ") for line in lines)
    body = [line for line in lines if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    assert rows and {"period_start", "numerator_n", "denominator_n", "rate", "ci_low", "ci_high",
                     "followup_completeness"} <= set(rows[0])
    assert all(int(r["numerator_n"]) <= int(r["denominator_n"]) for r in rows)

    # the language: Norwegian labels everywhere, the filter kept
    sidebar.get_by_text("Norsk", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="Eksport", exact=True).wait_for(timeout=30_000)
    expect(page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Oversikt")).to_have_count(1, timeout=30_000)
    assert "clin=C01" in page.url and "lang=" not in page.url
    open_page(page, "Komplikasjoner")
    page.get_by_role("heading", name="Komplikasjoner", exact=True).wait_for(timeout=60_000)
    wait_for_content(page, "chart")
    expect(page.get_by_text("p-diagram per måned")).not_to_have_count(0, timeout=30_000)
    screenshot(page, "nb_complications_C01")

    # back on the overview the CUSUM check (run in the background) has finished and its note is gone
    open_page(page, "Oversikt")
    page.get_by_role("heading", name="Signaler", exact=True).wait_for(timeout=60_000)
    page.get_by_text("sjekkes fortsatt", exact=False).wait_for(state="hidden", timeout=60_000)
    assert page.get_by_text("CUSUM sjekkes ennå").count() == 0
    assert not errors, errors
