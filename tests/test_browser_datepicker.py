"""Issue 16, item 9: the dates of a Norwegian page are Norwegian whatever the browser's language, in a real browser
(Debian's chromium) on the demo.

Streamlit's st.date_input (1.67) opens a calendar whose month and weekday names follow the browser's language (its
frontend hands `navigator.language` to the calendar; the widget has no locale parameter) and adds English words of
its own ("Date range", "Select..."): on an en-US browser the Norwegian page showed "July 2023" and "S M T W T F S",
on an nb-NO browser "juli 2023" and "M T O T F L S" beside "Date range / Select...". The dashboard's dates are
typed fields in the page's language now (dashboard/filters.py date_field) and months are picked from Norwegian
names (the reporting month). Each browser language opens the page with `?lang=nb`: any calendar still on the page is
opened and read, the typed fields show and take 30.11.2026-style dates, and the month choices read "nov. 2025"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_browser import (  # noqa: F401 - the launch / context fixtures and the demo server are shared
    ARTIFACTS,
    browser_context_args,
    browser_type_launch_args,
    server,
    settle,
)

pytestmark = pytest.mark.browser

ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December")
# Streamlit's own calendar words (static/js DateInput / ReorderedSegments) and English weekday rows
ENGLISH_WORDS = ("Date range", "Select...", "Past Week", "Past Month", "Past Year", "Choose date", "Previous month",
                 "Next month", "S M T W T F S", "M T W T F S S", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def english_in(text: str) -> list[str]:
    return [w for w in (*ENGLISH_MONTHS, *ENGLISH_WORDS) if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]


def calendars_text(page) -> list[str]:
    """Open every Streamlit date field's calendar on the page and read it (what a user would see)."""
    shown = []
    fields = page.locator('[data-testid="stDateInputField"]')
    for i in range(fields.count()):
        fields.nth(i).click()
        calendar = page.locator('[data-testid="stDateInputCalendar"]')
        calendar.wait_for(timeout=10_000)
        page.wait_for_timeout(300)
        shown.append(" ".join(calendar.inner_text().split()))
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    return shown


@pytest.mark.parametrize("browser_locale", ["nb-NO", "en-US"])
def test_a_norwegian_page_has_norwegian_dates_in_any_browser_language(server, browser, browser_context_args,  # noqa: F811
                                                                      browser_locale):
    context = browser.new_context(**{**browser_context_args, "locale": browser_locale})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server}/?lang=nb")
        settle(page)
        page.get_by_role("heading", name="Oversikt", exact=True).wait_for(timeout=60_000)
        assert page.evaluate("navigator.language") == browser_locale

        # no date control that speaks the browser's language: a calendar left on the page is read for the message
        calendars = calendars_text(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        english = english_in(" ".join(calendars) + " " + sidebar.inner_text())
        assert not english, f"English on a Norwegian page ({browser_locale} browser): {english} in {calendars}"
        assert not calendars, f"a calendar whose names follow the browser's language: {calendars}"

        # the treatment dates are typed as Norwegian dates, applied on Enter and on Tab
        start, end = sidebar.get_by_role("textbox", name="Behandlet fra"), sidebar.get_by_role("textbox", name="Behandlet til")
        # read with a wait (a CI run under load once read the first field empty, once: a text field is drawn before
        # Streamlit hands it its value, e.g. when the overview reruns as its CUSUM check finishes); the value must
        # still come within the wait
        expect(start).to_have_value("03.07.2023", timeout=30_000)
        expect(end).to_have_value("30.06.2026", timeout=30_000)
        assert start.get_attribute("placeholder") == "dd.mm.åååå"
        start.fill("01.10.2025")
        start.press("Enter")
        settle(page)
        page.wait_for_function("() => window.location.search.includes('from=2025-10-01')", timeout=30_000)
        end.fill("30.11.2025")
        end.press("Tab")
        settle(page)
        page.wait_for_function("() => window.location.search.includes('to=2025-11-30')", timeout=30_000)
        expect(start).to_have_value("01.10.2025", timeout=30_000)
        expect(end).to_have_value("30.11.2025", timeout=30_000)
        expect(page.get_by_text("01.10.2025 – 30.11.2025", exact=False)).not_to_have_count(0, timeout=30_000)  # period
        # a day that does not exist is refused in Norwegian, and the period stays
        start.fill("31.02.2025")
        start.press("Enter")
        settle(page)
        sidebar.get_by_text("«31.02.2025» er ikke en dato: skriv den som 30.06.2026.").wait_for(timeout=30_000)
        expect(start).to_have_value("01.10.2025", timeout=30_000)
        assert "from=2025-10-01" in page.url
        ARTIFACTS.mkdir(exist_ok=True)
        start.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"nb_dates_fields_{browser_locale}.png"))
        # the last meeting (overview) is a Norwegian date too
        expect(page.get_by_role("textbox", name="Forrige møte")).to_have_value("30.05.2026", timeout=30_000)

        # months are picked by their Norwegian names (the reporting month)
        sidebar.get_by_role("combobox", name="Rapporteringsmåned").click()
        options = page.get_by_role("option")
        options.first.wait_for(timeout=10_000)
        names = " ".join(options.all_inner_texts())
        # the list shows the newest months (abbreviated as CLDR writes them in Norwegian: "nov. 2025")
        assert {"mai 2026", "mars 2026", "des. 2025", "nov. 2025", "okt. 2025"} <= set(options.all_inner_texts()), names
        assert not english_in(names), names

        page.screenshot(path=str(ARTIFACTS / f"nb_dates_months_{browser_locale}.png"))
        page.keyboard.press("Escape")
        assert not errors, errors
    finally:
        context.close()
