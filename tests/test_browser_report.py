"""The monthly report from the overview's button (issue 12, item 3), in a real browser on the demo (demo mode:
everyone is admin, so the internal report): the PDF downloads, reads back with pypdf as the report of the
reporting month, and the download is in the access log."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
from test_browser import (  # noqa: F401 - the launch / context fixtures and the demo server are shared
    browser_context_args,
    browser_type_launch_args,
    server,
    settle,
)
from test_browser_auth import sign_in, stack  # noqa: F401 - the sign-in stack (provider + app) is shared

from pipelines.release import access

pytestmark = pytest.mark.browser


def test_the_overview_button_downloads_the_months_report(server, page, tmp_path_factory):
    page.goto(f"{server}/?lang=nb")
    settle(page)
    page.get_by_text("Månedsrapport for").first.wait_for(timeout=60_000)
    heading = page.get_by_text("Månedsrapport for").first.inner_text()
    month = heading.split("Månedsrapport for", 1)[1].strip().splitlines()[0]
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Månedsrapport (PDF)").click()
    download = info.value
    assert download.suggested_filename.startswith("kvalitetsrapport-") and download.suggested_filename.endswith(".pdf")
    pages = [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(download.path()).pages]
    text = " ".join(pages)
    assert f"Kvalitetsrapport {month}" in text
    assert "Måneden i tall" in text and "Signaler" in text and "Korrigeringskostnader" in text
    assert all("Øyeblikksbilde:" in p for p in pages)
    # the access log sits beside the demo database (test_browser.server: CLINIC_ACCESS_LOG)
    logs = list(Path(tmp_path_factory.getbasetemp()).rglob("clinic.access.jsonl"))
    # other tests in this worker keep access logs under the same base (a command-line report is logged as the
    # user running it); the button's download is the demo viewer's
    entries = sorted((e for path in logs for e in access.read_log(path)
                      if e["what"].startswith("report ") and e["user"] == "demo"), key=lambda e: e["at"])
    assert entries and entries[-1]["event"] == "export" and entries[-1]["what"].endswith(".pdf")
    assert len(entries[-1]["file_sha256"]) == 64


def test_the_manager_gets_the_released_report(stack, page):  # noqa: F811 - the sign-in stack of test_browser_auth
    """The manager sees no session: the overview's report is the release (small counts hidden, rounded, no
    clinician named, no signals), and its download is logged under the manager's name."""
    sign_in(page, stack, "manager")
    page.get_by_text("Monthly report,").first.wait_for(timeout=60_000)
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Monthly report (PDF)").click()
    pages = [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(info.value.path()).pages]
    text = " ".join(pages)
    assert all("Use: for use outside the clinic" in p for p in pages)
    assert "Signals and their reviews name clinicians and are internal" in text
    for code in ("C01", "C02", "C03", "C04", "C05"):
        assert code not in text
    logged = [e for e in access.read_log(stack["log"]) if e["user"] == "leder@klinikk.no" and e["event"] == "export"]
    assert logged and logged[-1]["what"].startswith("report ") and logged[-1]["what"].endswith("(release)")
