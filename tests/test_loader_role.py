"""The loader role (issue 14, item 1: "admin role, and a `loader` role if that helps"): the person who exports the
month's files from the booking or journal system loads them in the browser and sees nothing else of the clinic.

It opens only Load data (its start page) and About; every other page is refused and logged; it has no export and
no capability; the sidebar has no filters (their choices come from the data: clinician codes, products, the
period); after a load the page does not link to the data-quality page (every load and rejected row). A real load
by the loader in a browser: tests/test_browser_load.py (the booking system's export). Sign-in mode as in
tests/test_clinician_role.py: `at.secrets["auth"]` and `at.user`."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from app_session import isolated_app, navigation_spy, signed_in_app
from conftest import write
from streamlit.testing.v1 import AppTest

from dashboard.auth import ROOT_PAGE, Viewer
from pipelines.demo.build import run_demo
from pipelines.release import access

END = dt.date(2026, 6, 30)
TIMEOUT = 90
EMAIL = "resepsjon@klinikk.no"
LOAD_PAGE = "load"
RESULT = {"version": 4, "rows_loaded": 7, "rows_rejected": 0, "load_id": 9, "notes": [],
          "sources": [{"name": "timebok-november.csv", "table": "treatments", "read": 7, "loaded": 7, "rejected": 0}]}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("loader") / "clinic.duckdb"
    run_demo(db, n_treatments=1500, end_date=END, progress=False)
    return db


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    yield from isolated_app(demo_db, tmp_path, monkeypatch)


@pytest.fixture
def menu(monkeypatch) -> dict:
    return navigation_spy(monkeypatch)


def log() -> list[dict]:
    return access.read_log(Path(os.environ["CLINIC_ACCESS_LOG"]))


def signed_in(claims: dict, page: str | None = None, *, state: dict | None = None) -> AppTest:
    return signed_in_app({"is_logged_in": True, "email": EMAIL, **claims}, page, state=state, timeout=TIMEOUT)


def loader(page: str | None = None, **kwargs) -> AppTest:
    return signed_in({"roles": ["loader"]}, page, **kwargs)


def shows_no_data(at: AppTest) -> bool:
    return not at.get("plotly_chart") and not at.dataframe and not at.metric and not at.get("download_button")


def links(at: AppTest) -> list[str]:
    return [link.proto.page for link in at.get("page_link")]


# --------------------------------------------------------------------------------------------------------------
# The role table
# --------------------------------------------------------------------------------------------------------------


def test_the_loader_opens_load_data_and_about_and_nothing_else():
    assert [p.name for p in access.PAGES if access.may_open(["loader"], p.name)] == ["load", "about"]
    assert not [k for k in access.EXPORT_ROLES if access.may_export(["loader"], k)]
    assert not [c for c in access.CAPABILITIES if access.may(["loader"], c)]


def test_the_token_and_the_role_file_give_the_role(tmp_path):
    assert access.token_roles({"roles": ["loader"]}) == ("loader",)
    assert access.token_roles({"roles": "Loader, doctor"}) == ("loader", "doctor")
    assert access.token_roles({"roles": ["klinikk.loader"]}, prefix="klinikk.") == ("loader",)
    path = write(tmp_path / "roles.csv", f"email,role\n{EMAIL},loader\n")
    assert access.read_role_file(path) == {EMAIL: ("loader",)}


@pytest.mark.parametrize("roles, figures, clinician_filter", [
    (("loader",), False, False),
    (("loader", "clinician"), True, False),  # My results: still no clinician filter
    (("loader", "manager"), True, True),
    (("admin",), True, True),
])
def test_filters_only_for_a_role_that_sees_figures(roles, figures, clinician_filter):
    who = Viewer(user=EMAIL, roles=roles, demo=False, clinician_codes=("C03",) if "clinician" in roles else ())
    assert (who.sees_figures(), who.offers_clinician_filter()) == (figures, clinician_filter)


# --------------------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------------------


def test_the_loader_starts_on_load_data_with_no_filters_and_no_figures(menu):
    at = loader()
    assert at.title[0].value == "Load data"
    assert menu["visible"] == ["load", "about"]
    assert at.get("file_uploader"), "the upload field"
    assert shows_no_data(at)
    assert not at.multiselect and not at.text_input, "no filters in the sidebar"
    assert any(f"Signed in as {EMAIL} (Data loader (loads files only))" in c.value for c in at.caption)
    assert any(c.value.startswith("Snapshot v") for c in at.caption), "which snapshot is published"
    # the sign-in is logged under the role (the page shows no data; its uploads and loads are logged as they happen)
    assert [(r["event"], r["user"], r["role"], r["what"]) for r in log()] == [
        ("sign_in", EMAIL, "loader", "dashboard")]


@pytest.mark.parametrize("page", [p.name for p in access.PAGES if p.name not in ("load", "about")])
def test_every_other_page_is_refused_to_the_loader(page):
    at = loader(page)
    if page == ROOT_PAGE:  # the root URL is the start page: Load data
        assert at.title[0].value == "Load data"
        assert not [r for r in log() if r["event"] == "refused"]
        return
    assert at.title[0].value == "Not available for your role"
    assert shows_no_data(at)
    refused = [r for r in log() if r["event"] == "refused"]
    assert [(r["user"], r["role"], r["what"]) for r in refused] == [(EMAIL, "loader", f"page {page}")]


def test_about_is_open_to_the_loader():
    assert loader("about").title[0].value == "About the metrics"


@pytest.mark.parametrize("roles, linked", [(["loader"], False), (["admin"], True)])
def test_after_a_load_only_a_role_that_may_open_data_quality_is_sent_there(roles, linked):
    at = signed_in({"roles": roles}, LOAD_PAGE, state={"load_result": RESULT})
    assert any("Loaded and published as snapshot 4: 7 rows loaded, 0 rejected." in s.value for s in at.success)
    assert ([p for p in links(at) if "data_quality" in p] != []) is linked, links(at)
