"""What the AppTest tests of the signed-in app share: a sign-in configuration (`AUTH`, the `[auth]` section put in
`at.secrets`, with `at.user` as the signed-in user), each test's own environment (`isolated_app`), and the pages
of the last st.navigation call (`navigation_spy`), and the app opened signed in (`signed_in_app`) or in demo mode
(`demo_app`) on a page (`open_page`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from dashboard.auth import ROOT_PAGE
from pipelines.release import access

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test", "client_id": "dashboard",
        "client_secret": "test", "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}


def isolated_app(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For an autouse fixture (`yield from isolated_app(...)`): the database `db`, the test's own access log and role
    file, sign-in mode (CLINIC_DEMO=0; a test that turns demo mode on gets the original back afterwards), and fresh
    caches before and after."""
    monkeypatch.setenv("CLINIC_DB", str(db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    monkeypatch.setenv("CLINIC_DEMO", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def page_name(page) -> str:
    """The page table's name of an st.Page, from its public URL path (the root page's is "")."""
    return next(p.name for p in access.PAGES if p.url_path == page.url_path) if page.url_path else ROOT_PAGE


def navigation_spy(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Watch st.navigation: returns the dict that holds the pages of its last call: {"visible": [names],
    "hidden": [names], "position": ..., "urls": {name: URL path}}."""
    seen: dict = {}
    original = st.navigation

    def spy(pages, **kwargs):
        entries = [p for section in pages.values() for p in section]
        seen["visible"] = [page_name(p) for p in entries if p.visibility == "visible"]
        seen["hidden"] = [page_name(p) for p in entries if p.visibility == "hidden"]
        seen["urls"] = {page_name(p): p.url_path for p in entries}
        seen["position"] = kwargs.get("position")
        return original(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    return seen


def open_page(at: AppTest, page: str | None, **query) -> AppTest:
    """Run `at` in English with these URL parameters, on `page` (its name in pipelines/release/access.py PAGES;
    found by its file before the first run), and check that the run raised nothing."""
    at.query_params["lang"] = "en"
    for k, v in query.items():
        at.query_params[k] = v
    if page:
        at.switch_page(access.page(page).file)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def signed_in_app(user: dict, page: str | None = None, *, clinic: dict | None = None, state: dict | None = None,
                  timeout: float = 90, **query) -> AppTest:
    """The app in sign-in mode (`AUTH`) with `user` as st.user; `clinic`: the secrets' [clinic] section; `state`:
    session state set before the first run."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    at.secrets["auth"] = AUTH
    if clinic is not None:
        at.secrets["clinic"] = clinic
    at.user = user
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return open_page(at, page, **query)


def demo_app(page: str | None = None, *, timeout: float = 90, **query) -> AppTest:
    """The app in demo mode: CLINIC_DEMO=1 (isolated_app puts the original back) and secrets without an [auth]
    section (whatever .streamlit/ holds)."""
    os.environ["CLINIC_DEMO"] = "1"
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    return open_page(at, page, **query)
