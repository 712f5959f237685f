"""The Load data page in a real browser (issue 14, item 4): the admin signs in (local OpenID Connect provider),
uploads the second half of the demo exports through the page, loads them, and finds the new months on the
overview; a file with a national identity number is refused, says why, and leaves nothing behind. The uploads and
the load are in the access log. Screenshots: test-artifacts/load_*.png."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from browser_stack import signed_in_stack
from conftest import ROOT, query
from playwright.sync_api import expect
from test_browser import (  # noqa: F401 - the launch / context fixtures are shared
    browser_context_args,
    browser_type_launch_args,
    screenshot,
    settle,
)
from test_browser_auth import USERS as SIGN_IN_USERS
from test_browser_auth import sign_in
from test_privacy import fnr_with_check_digits

from pipelines.demo.build import COLUMN_MAP
from pipelines.demo.generate import write_demo_exports
from pipelines.ingest import uploads
from pipelines.ingest.load import load_files
from pipelines.release import access

pytestmark = pytest.mark.browser

END = dt.date(2026, 6, 30)
# the provider's users: the sign-in test's, and the person at the front desk who loads the month's exports
USERS = {**SIGN_IN_USERS, "loader": {"email": "resepsjon@klinikk.no", "name": "Resepsjon", "roles": ["loader"]}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The clinic's database with 2023-2024 loaded (no demo mark: sign-in mode), the provider and the app."""
    tmp = tmp_path_factory.mktemp("browser_load")
    exports = tmp / "exports"
    files = write_demo_exports(exports, n_treatments=3000, end_date=END)
    first = [p for p in files if not any(y in p.name for y in ("2025", "2026"))]
    second = [p for p in files if p not in first]
    db = tmp / "clinic.duckdb"
    load_files(first, db, column_map=COLUMN_MAP, today=END, progress=False)
    # the later files in the clinic's own export format: the 2025 files as they are (already the contract's
    # headers), for the page to recognise without a mapping
    with signed_in_stack(tmp, db, USERS, "email,role\n") as signed_in:
        yield {**signed_in, "second": second, "tmp": tmp}


def open_load(page, stack) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Load data", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="Load data").wait_for(timeout=30_000)


def upload_dirs() -> set[str]:
    return {p.name for p in uploads.MEMORY_DIR.glob("clinic-upload-*")} if uploads.MEMORY_DIR.is_dir() else set()


def test_the_admin_uploads_the_exports_loads_them_and_finds_them_on_the_overview(page, stack):
    before = upload_dirs()
    newest_before = query(stack["db"], "SELECT max(treated_on) FROM treatments")[0][0]
    assert newest_before < dt.date(2025, 1, 1)
    sign_in(page, stack, "admin")
    open_load(page, stack)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        [str(p) for p in stack["second"]])
    settle(page)
    page.get_by_text("What the files are").wait_for(timeout=60_000)
    table = page.locator('[data-testid="stDataFrame"], [data-testid="stTable"], table').first
    table.wait_for(timeout=30_000)
    for p in stack["second"]:
        expect(page.get_by_text(p.name)).not_to_have_count(0, timeout=30_000)
    screenshot(page, "load_recognised")
    page.get_by_role("button", name="Load", exact=True).click()
    settle(page, timeout=180_000)
    page.get_by_text("Loaded and published as snapshot").wait_for(timeout=180_000)
    screenshot(page, "load_done")
    # the rows are in the published database, and the data quality link is there
    newest = query(stack["db"], "SELECT max(treated_on) FROM treatments")[0][0]
    assert newest > dt.date(2026, 1, 1)
    expect(page.get_by_role("link", name="Data quality: every load and every rejected row")).to_have_count(1, timeout=30_000)
    # the overview shows the new months: its period reaches the new newest date
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Overview", exact=True).click()
    settle(page, timeout=120_000)
    page.get_by_text(newest.isoformat()).first.wait_for(timeout=60_000)
    screenshot(page, "load_overview_after")
    # the uploads and the load are in the access log; no upload is left in memory
    entries = [e for e in access.read_log(stack["log"]) if e["user"] == "admin@klinikk.no"]
    uploaded = [e for e in entries if e["event"] == "upload"]
    assert len(uploaded) == len(stack["second"])
    loads = [e for e in entries if e["event"] == "load"]
    assert len(loads) == 1 and loads[0]["what"].startswith(f"{len(stack['second'])} file(s) -> snapshot")
    assert upload_dirs() == before


def test_a_file_with_a_national_id_is_refused_and_nothing_of_it_is_kept(page, stack):
    before = upload_dirs()
    fnr = fnr_with_check_digits("150385123")
    bad = stack["tmp"] / "behandlinger-desember.csv"
    bad.write_text("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,price_nok,notat\n"
                   f"X1,p9001,2026-06-01,C01,cosmetic,glabella,Botox,20,1900,pasient {fnr}\n", encoding="utf-8")
    version_before = query(stack["db"], "SELECT version FROM snapshot_info")[0][0]
    sign_in(page, stack, "admin")
    open_load(page, stack)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(bad)])
    settle(page)
    page.get_by_text("is refused and was not kept").wait_for(timeout=60_000)
    expect(page.get_by_text("national identity number")).not_to_have_count(0, timeout=30_000)
    assert fnr not in page.content()
    assert page.get_by_role("button", name="Load", exact=True).is_disabled()
    screenshot(page, "load_refused")
    assert query(stack["db"], "SELECT version FROM snapshot_info")[0][0] == version_before
    assert query(stack["db"], "SELECT count(*) FROM treatments WHERE treatment_id = 'X1'")[0][0] == 0
    assert upload_dirs() == before
    refused = [e for e in access.read_log(stack["log"]) if e["event"] == "refused"
               and "behandlinger-desember.csv" in e["what"]]
    assert refused and fnr not in json.dumps(refused)


def test_a_booking_system_export_is_recognised_by_its_preset_and_loaded(page, stack):
    """The shipped preset for the booking system's appointments export (Norwegian headers, service names,
    correction markers): the page names the preset, and the load maps services and links the corrections
    (hand counts of the fixture in tests/test_presets.py: 12 read, 7 loaded, 5 rejected)."""
    booking = ROOT / "tests" / "fixtures" / "presets" / "booking_appointments.csv"
    sign_in(page, stack, "loader")  # the loader role: its start page is Load data, the only page besides About
    page.get_by_role("heading", name="Load data").wait_for(timeout=30_000)
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_role("link").count() == 2
    assert all(nav.get_by_role("link", name=n, exact=True).count() == 1 for n in ("Load data", "About the metrics"))
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert not sidebar.get_by_role("textbox").count() and not sidebar.get_by_text("Clinicians").count(), \
        "no filters (their choices come from the data)"
    open_load(page, stack)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(booking)])
    settle(page)
    page.get_by_text("booking_appointments v1").first.wait_for(state="attached", timeout=60_000)  # a grid cell
    screenshot(page, "load_preset_recognised")
    page.get_by_role("button", name="Load", exact=True).click()
    settle(page, timeout=180_000)
    page.get_by_text("Loaded and published as snapshot").wait_for(timeout=180_000)
    expect(page.get_by_text("7 rows loaded, 5 rejected")).to_have_count(1, timeout=30_000)
    expect(page.get_by_text("preset booking_appointments v1 applied to booking_appointments.csv")).to_have_count(1, timeout=30_000)
    assert query(stack["db"], "SELECT indication, areas FROM treatments WHERE treatment_id = 'B1002'") == [
        ("hyperhidrosis", "axillae")]
    assert not page.get_by_role("link", name="Data quality: every load and every rejected row").count(), \
        "the data-quality page is not the loader's"
    screenshot(page, "load_by_loader")
    loads = [e for e in access.read_log(stack["log"]) if e["event"] == "load"]
    assert loads[-1]["what"].startswith("1 file(s) -> snapshot") and loads[-1]["role"] == "loader"


def test_other_roles_cannot_open_the_page(page, stack):
    sign_in(page, stack, "doctor")
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_role("link", name="Load data", exact=True).count() == 0
    page.goto(f"{stack['base']}/load?lang=en")
    settle(page)
    page.get_by_role("heading", name="Not available for your role").wait_for(timeout=30_000)
    assert not page.locator('[data-testid="stFileUploader"]').count()


def test_uploads_of_a_year_are_allowed():
    config = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "maxUploadSize = 1024" in config
    assert Path(uploads.__file__).exists()
