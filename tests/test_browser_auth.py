"""Sign-in for real: a local OpenID Connect provider (oidc-provider-mock), `streamlit run` with an `[auth]` section
in a temporary secrets file (`--secrets.files`, so the repository's .streamlit/ is never touched), and Debian's
chromium signing in as each role through the provider's login page. Checks what each role is offered, that a
forbidden URL refuses, the auditor's release download (provenance with the user's e-mail, suppressed cells
marked), the manager's what-if prices, the admin's access log, and that the sign-ins and downloads are in the log.
Screenshots per role go to test-artifacts/auth_*.png."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from browser_stack import signed_in_stack
from playwright.sync_api import expect
from test_browser import (  # noqa: F401 - the launch / context fixtures are shared with the demo-mode test
    browser_context_args,
    browser_type_launch_args,
    screenshot,
    settle,
)

from pipelines.demo.build import run_demo
from pipelines.release import access

pytestmark = pytest.mark.browser

END = dt.date(2026, 6, 30)
USERS = {  # sub -> claims; the manager has no roles claim and gets the role from the role file (verified e-mail)
    "doctor": {"email": "lege@klinikk.no", "name": "Kari Lege", "roles": ["doctor"]},
    "manager": {"email": "leder@klinikk.no", "email_verified": True, "name": "Ola Leder"},
    "auditor": {"email": "revisor@klinikk.no", "name": "Siri Revisor", "roles": ["auditor"]},
    "admin": {"email": "admin@klinikk.no", "name": "Per Admin", "roles": ["admin"]},
    "nobody": {"email": "vikar@klinikk.no", "name": "Vikar Uten Rolle"},
}
PAGES = {"Overview": "overview", "Complications": "complications", "Clinicians": "clinicians",
         "Headache and sweating": "responses", "Corrections and costs": "costs", "Data quality": "data_quality",
         "Export": "export", "About the metrics": "about", "Access log": "access_log", "Load data": "load"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The identity provider and the dashboard in sign-in mode, on free ports; everything under a temp dir."""
    tmp = tmp_path_factory.mktemp("browser_auth")
    db = tmp / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    with signed_in_stack(tmp, db, USERS, "email,role\nleder@klinikk.no,manager\n") as stack:
        yield stack


def sign_in(page, stack, sub: str) -> None:
    """Through the provider's own login page, as a user would; then switch the dashboard to English."""
    page.goto(f"{stack['base']}/?lang=en")
    settle(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)
    page.get_by_role("button", name=sub, exact=True).click()  # the provider's "authenticate predefined user"
    page.wait_for_url(f"{stack['base']}/**", timeout=30_000)
    settle(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()
    settle(page)


def menu(page) -> set[str]:
    nav = page.locator('[data-testid="stSidebarNav"]')
    return {label for label in PAGES if nav.get_by_role("link", name=label, exact=True).count()}


def refused(page, stack, stem: str, title: str, shot: str | None = None) -> None:
    """Open a page the role may not open by its URL (a new session: the sign-in is not logged again)."""
    page.goto(f"{stack['base']}/{stem}?lang=en")
    settle(page)
    page.get_by_role("heading", name="Not available for your role").wait_for(timeout=30_000)
    expect(page.get_by_text(f"“{title}” is not open to your role")).to_have_count(1, timeout=30_000)
    assert not page.locator('[data-testid="stPlotlyChart"], [data-testid="stDownloadButton"]').count()
    if shot:
        screenshot(page, shot)


def entries(stack, user: str) -> list[dict]:
    return [r for r in access.read_log(stack["log"]) if r["user"] == user]


def no_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_doctor(stack, page):
    errors = no_errors(page)
    sign_in(page, stack, "doctor")
    page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
    assert menu(page) == set(PAGES) - {"Export", "Access log", "Load data"}
    expect(page.get_by_text("Signed in as lege@klinikk.no (Doctor)")).to_have_count(1, timeout=30_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Complications", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="Sessions behind a point").wait_for(timeout=60_000)
    page.wait_for_selector('[data-testid="stDataFrame"]:visible canvas', state="attached", timeout=30_000)
    screenshot(page, "auth_doctor")
    refused(page, stack, "export", "Export", shot="auth_doctor_refused_export")
    log = entries(stack, "lege@klinikk.no")
    assert [r["event"] for r in log] == ["sign_in", "page_view", "refused"], "one sign-in, though the URL was opened"
    assert log[0]["what"].startswith("dashboard (signed in 20")
    assert log[1]["what"] == "complications: case review" and log[1]["rows_n"] > 0
    assert log[2]["what"] == "page export"
    assert not errors, errors


def test_manager_with_a_role_from_the_role_file_and_what_if_prices(stack, page):
    errors = no_errors(page)
    sign_in(page, stack, "manager")
    assert menu(page) == set(PAGES) - {"Data quality", "Export", "Access log", "Load data"}
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Corrections and costs", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="Corrections and costs", exact=True).wait_for(timeout=60_000)
    cost = page.locator('[data-testid="stMetric"]').filter(has_text="Correction cost")
    before = cost.locator('[data-testid="stMetricValue"]').inner_text()
    # what-if: the first clinician's chair time at 500 NOK a minute (row 1, column 3 of the second editor)
    editor = page.locator('[data-testid="stDataFrame"]').last
    editor.locator("canvas").first.wait_for(state="attached", timeout=30_000)
    editor.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = editor.bounding_box()
    page.mouse.click(box["x"] + 30, box["y"] + 35 + 17)  # below the 35 px header row
    page.wait_for_timeout(200)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # open the cell's editor
    page.wait_for_timeout(300)
    page.keyboard.press("Control+A")
    page.keyboard.type("500", delay=50)
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_text("What-if: the figures on this page use edited prices").wait_for(timeout=30_000)
    after = cost.locator('[data-testid="stMetricValue"]').inner_text()
    assert after != before, (before, after)
    screenshot(page, "auth_manager")
    refused(page, stack, "data_quality", "Data quality")
    assert [r["event"] for r in entries(stack, "leder@klinikk.no")] == ["sign_in", "refused"]
    assert not errors, errors


def test_auditor_downloads_a_release_file(stack, page):
    errors = no_errors(page)
    sign_in(page, stack, "auditor")
    page.get_by_role("heading", name="Export", exact=True).wait_for(timeout=60_000)
    assert menu(page) == {"Data quality", "Export", "About the metrics"}
    page.goto(f"{stack['base']}/export?lang=en&outcome=ptosis&rates_by=clinician&rates_period=year")
    settle(page)
    page.wait_for_selector('[data-testid="stDownloadButton"]', timeout=60_000)
    assert page.get_by_role("button", name="Download CUSUM").count() == 0, "per-session files are not released"
    assert page.get_by_text("Internal (not suppressed)").count() == 0
    screenshot(page, "auth_auditor")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Rates").click()
    download = info.value
    raw = Path(download.path()).read_bytes()
    text = raw.decode("utf-8")
    lines = text.splitlines()
    assert download.suggested_filename.endswith("_release.csv")
    assert "# generated_by: revisor@klinikk.no" in lines
    assert "# suppression: numerators 1-4 and denominators under 10 hidden, with complementary suppression" in lines
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))))
    hidden = [r for r in rows if r["numerator_n"] == "suppressed"]
    assert hidden and all(r["suppression"] == "suppressed" for r in hidden), "one marker, never the reason"
    assert all(r["rate"] == "suppressed" for r in hidden)
    assert all(int(r[c]) % 5 == 0 for r in rows for c in ("numerator_n", "denominator_n") if r[c] != "suppressed")
    refused(page, stack, "complications", "Complications")
    log = entries(stack, "revisor@klinikk.no")
    assert [r["event"] for r in log] == ["sign_in", "export", "refused"]
    assert log[1]["rows_n"] == len(rows) and log[1]["file_sha256"] == hashlib.sha256(raw).hexdigest()
    assert log[1]["what"] == f"rates (release): {download.suggested_filename}"
    assert not errors, errors


def test_admin_sees_the_access_log(stack, page):
    errors = no_errors(page)
    sign_in(page, stack, "admin")
    assert menu(page) == set(PAGES)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Access log", exact=True).click()
    settle(page)
    page.get_by_text("The chain is intact:").wait_for(timeout=30_000)
    page.wait_for_selector('[data-testid="stDataFrame"]:visible canvas', state="attached", timeout=30_000)
    page.wait_for_timeout(400)
    screenshot(page, "auth_admin")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the access log").click()
    raw = Path(info.value.path()).read_bytes()
    exported = list(csv.DictReader(io.StringIO("\n".join(
        line for line in raw.decode("utf-8").splitlines() if not line.startswith("#")))))
    assert {"lege@klinikk.no", "leder@klinikk.no", "revisor@klinikk.no"} <= {r["user"] for r in exported}
    last = access.read_log(stack["log"])[-1]
    assert (last["user"], last["event"], last["file_sha256"]) == ("admin@klinikk.no", "export",
                                                                  hashlib.sha256(raw).hexdigest())
    assert not errors, errors


def test_a_user_without_a_role_sees_nothing(stack, page):
    sign_in(page, stack, "nobody")
    page.get_by_role("heading", name="No access").wait_for(timeout=30_000)
    expect(page.get_by_text("ask the clinic's administrator for a role")).to_have_count(1, timeout=30_000)
    assert not page.locator('[data-testid="stSidebarNav"]').count()
    assert not page.locator('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"]').count()
    screenshot(page, "auth_no_role")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider ends its session too
    page.get_by_role("button", name="Logg inn").wait_for(timeout=30_000)  # back on the sign-in page (default language)
    assert [(r["event"], r["role"]) for r in entries(stack, "vikar@klinikk.no")] == [
        ("sign_in", "none"), ("refused", "none"), ("sign_out", "none")]


def test_every_sign_in_and_download_is_in_the_intact_log(stack):
    """After the tests above (one module, run in order): every sign-in once, both downloads, an intact chain."""
    log = access.read_log(stack["log"])
    signed_in = [r["user"] for r in log if r["event"] == "sign_in"]
    assert len(signed_in) >= len(USERS), "needs the sign-ins of the tests above: run the whole module"
    assert sorted(signed_in) == sorted(claims["email"] for claims in USERS.values())
    assert [(r["user"], r["what"].split(":")[0]) for r in log if r["event"] == "export"] == [
        ("revisor@klinikk.no", "rates (release)"), ("admin@klinikk.no", "access_log")]
    assert access.verify_log(stack["log"]) == (True, "intact")
