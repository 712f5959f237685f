"""The g-chart of a rare outcome in a real browser (issue 13, item 5): the Complications page of the demo, in
Norwegian, draws double vision as sessions between events by itself, says why, and the screenshot is saved to
test-artifacts/ to be looked at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_browser import (  # noqa: F401 - the launch / context fixtures and the demo server are shared
    browser_context_args,
    browser_type_launch_args,
    screenshot,
    server,
    settle,
    wait_for_content,
)

pytestmark = pytest.mark.browser


def test_double_vision_is_drawn_as_a_g_chart(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/complications?lang=nb&outcome=double_vision")
    settle(page)
    page.get_by_role("heading", name="Komplikasjoner", exact=True).wait_for(timeout=60_000)
    wait_for_content(page, "chart")
    expect(page.get_by_text("Dobbeltsyn: behandlinger mellom hendelser (g-diagram)")).not_to_have_count(0, timeout=30_000)
    expect(page.get_by_text("Et sjeldent utfall", exact=False)).to_have_count(1, timeout=30_000)
    assert not page.locator('[data-testid="stException"]').count()
    assert screenshot(page, "nb_complications_g_chart").stat().st_size > 20_000
    # the doctor may still ask for the monthly chart
    chart_choice = page.locator('[data-testid="stButtonGroup"]').filter(has_text="Auto")
    expect(chart_choice.get_by_text("g", exact=True)).to_have_count(1, timeout=30_000)  # every option fits its column
    chart_choice.get_by_text("p", exact=True).click()
    settle(page)
    wait_for_content(page, "chart")
    expect(page.get_by_text("p-diagram per måned", exact=False)).not_to_have_count(0, timeout=30_000)
    assert "chart=p" in page.url
    assert not errors, errors
