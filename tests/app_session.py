"""What the AppTest tests of the signed-in app share: a sign-in configuration (`AUTH`, the `[auth]` section put in
`at.secrets`, with `at.user` as the signed-in user), each test's own environment (`isolated_app`), and the pages
of the last st.navigation call (`navigation_spy`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

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
