"""Issue 13's doctor and injector views in a real browser on the demo, in Norwegian: the doctor's adverse-event
list with a de-identified draft, and a clinician's own results ("Mine resultater") with colleagues unnamed.
Screenshots go to test-artifacts/ to be looked at."""

from __future__ import annotations

import pytest
from test_browser import (  # noqa: F401 - the launch / context fixtures and the demo server are shared
    browser_context_args,
    browser_type_launch_args,
    screenshot,
    server,
    settle,
    wait_for_content,
)

pytestmark = pytest.mark.browser


def test_the_doctor_opens_an_adverse_event_draft(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/adverse_events?lang=nb&role=doctor")
    settle(page)
    page.get_by_role("heading", name="Bivirkningsmeldinger", exact=True).wait_for(timeout=60_000)
    wait_for_content(page, "download")
    assert not page.locator('[data-testid="stException"]').count(), page.inner_text("body")[:500]
    draft = page.locator('[data-testid="stCode"]').first
    draft.wait_for(timeout=60_000)
    text = draft.inner_text()
    assert "AE-" in text  # the draft number, never the treatment id or the patient reference
    assert screenshot(page, "nb_adverse_events_doctor").stat().st_size > 20_000
    assert not errors, errors


def test_a_clinician_sees_their_own_results_among_unnamed_colleagues(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/my_results?lang=nb&role=clinician&preview_code=C03")
    settle(page)
    page.get_by_role("heading", name="Mine resultater", exact=True).wait_for(timeout=60_000)
    wait_for_content(page, "chart")
    assert not page.locator('[data-testid="stException"]').count(), page.inner_text("body")[:500]
    main = page.locator('[data-testid="stMain"]')
    body = main.inner_text()
    assert "C03" in body
    others = [f"C{n:02d}" for n in range(1, 13) if n != 3]
    assert not [c for c in others if c in body]  # no colleague named in the page's text
    # only their own page and About in the menu
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Mine resultater" in nav and "Oversikt" not in nav and "Eksport" not in nav
    assert screenshot(page, "nb_my_results_C03").stat().st_size > 20_000
    assert not errors, errors
