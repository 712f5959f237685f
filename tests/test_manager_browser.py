"""The manager's what-if prices typed in Norwegian in a real browser (issue 16, item 6): Debian's chromium edits
a chair-time cost in the costs page's table ('45,50' is 45.5 NOK a minute) and the correction cost moves by exactly
the new price's difference times the chair minutes of that clinician's corrections, counted here with SQL; an
amount that could be read two ways ('4.500') is refused with a message and the loaded price kept."""

from __future__ import annotations

import re

import duckdb
import pytest
from test_browser_print import (  # noqa: F401 - the demo, its server and the browser's launch arguments
    browser_context_args,
    browser_type_launch_args,
    demo,
    server,
    settle,
)

pytestmark = pytest.mark.browser


def kroner(text: str) -> int:
    """'kr 812 714' -> 812714."""
    return int(re.sub(r"[^0-9−-]", "", text).replace("−", "-"))


def test_a_chair_time_cost_typed_in_norwegian_recomputes_the_cost(server, page, demo):  # noqa: F811
    con = duckdb.connect(str(demo), read_only=True)
    try:
        minutes = con.execute("SELECT sum(minutes) FROM treatments WHERE corrects_treatment_id IS NOT NULL "
                              "AND clinician = 'C01'").fetchall()[0][0]
        loaded = con.execute("SELECT cost_per_minute_nok FROM clinicians WHERE clinician = 'C01'").fetchall()[0][0]
    finally:
        con.close()
    page.goto(f"{server}/costs?lang=nb")
    settle(page)
    page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=60_000)
    page.wait_for_timeout(1500)
    cost = page.locator('[data-testid="stMetric"]').filter(has_text="Korrigeringskostnad").locator(
        '[data-testid="stMetricValue"]')
    before = kroner(cost.inner_text())
    editor = page.locator('[data-testid="stDataFrame"]').filter(has_text="kr per minutt")
    assert f"{loaded:.2f}".replace(".", ",") in editor.text_content()  # written as a Norwegian amount

    def type_into_c01(text: str) -> None:
        editor.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        box = editor.bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] - 40, box["y"] + 35 + 17)  # C01's row, the price column
        page.wait_for_timeout(500)
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        settle(page)
        page.wait_for_timeout(1500)
        settle(page)

    type_into_c01("45,50")
    after = kroner(cost.inner_text())
    assert abs((after - before) - (45.5 - float(loaded)) * minutes) <= 1, (before, after, minutes, loaded)
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "Hva om: tallene på denne siden bruker endrede priser" in alerts

    type_into_c01("4.500")  # a thousands point or 4.5? refused, the loaded price used
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "Ikke et beløp, så det innlastede beholdes: C01: «4.500»" in alerts
    assert kroner(cost.inner_text()) == before
