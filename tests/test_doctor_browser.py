"""Issue 16 in a real browser (Debian's chromium), 1,400 px wide with the sidebar open: the overview's outcome
table and the case review's list show every column without sideways scrolling; screenshots in test-artifacts/."""

from __future__ import annotations

import pytest
from test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    browser_context_args,
    browser_type_launch_args,
    server,
    settle,
    wait_for_content,
)

pytestmark = pytest.mark.browser

# how far each data grid's content reaches beyond its visible width (0: no sideways scrolling)
OVERFLOW_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].map(frame => {
    const scroller = frame.querySelector('.dvn-scroller') || frame;
    return scroller.scrollWidth - scroller.clientWidth;
})"""


@pytest.mark.parametrize("path, name", [
    ("/", "overview"),
    ("/complications?outcome=insufficient_effect&point=all&review_clin=C02", "case_review"),
    ("/clinicians?outcome=insufficient_effect&clinician=C02", "clinicians"),
    ("/?scope=all&improving=true", "signals"),
])
def test_tables_fit_1400_px_without_sideways_scrolling(server, page, path, name):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{server}{path}")
    settle(page)
    wait_for_content(page, "chart")
    if path.startswith("/?") or path == "/":  # the overview once its background CUSUM check is done (its end reruns
        # the page: a screenshot during that run would miss what is drawn late, e.g. the signals KPI)
        page.get_by_text("sjekkes fortsatt", exact=False).wait_for(state="hidden", timeout=90_000)
        settle(page)
    page.wait_for_selector('[data-testid="stDataFrame"] canvas', state="attached", timeout=60_000)
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 140, 9000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"doctor_1400_{name}.png"))
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow and all(px <= 1 for px in overflow), overflow
