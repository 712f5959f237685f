"""Sign-in, roles and the access log in the app (AppTest on a small demo database).

Sign-in mode without an identity provider: `at.secrets["auth"] = {...}` (dashboard/auth.py reads st.secrets, which
AppTest replaces) and `at.user = {"is_logged_in": True, "email": ..., "roles": [...]}`. Demo mode: CLINIC_DEMO=1
and no [auth] section, on the demo generator's database. Without either, and with a broken secrets file, the app
shows a setup page and nothing else (tests at the end). Downloads are "clicked" by
calling the callable the page registered for the button (recorded from Streamlit's media file manager), which is
exactly what the server runs when a user clicks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st
from app_session import (
    AUTH,
    demo_app,
    isolated_app,
    navigation_spy,
    open_page,
    signed_in_app,
)
from conftest import CLINICIANS_CSV, ROOT, TODAY, write
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dashboard.auth import ROOT_PAGE
from pipelines.demo.build import run_demo
from pipelines.ingest.load import load_files
from pipelines.release import access

END = dt.date(2026, 6, 30)
TIMEOUT = 60
EMAIL = {"doctor": "lege@klinikk.no", "manager": "leder@klinikk.no", "auditor": "revisor@klinikk.no",
         "admin": "admin@klinikk.no"}
NAVIGATION = {  # what each role finds in the menu (pipelines/release/access.py PAGES: the roles of each page)
    # issue 12: the quality meeting (signals) is the doctor's and the admin's; issue 13: products and lots
    "doctor": ["overview", "complications", "lots", "clinicians", "responses", "signals", "adverse_events", "costs",
               "data_quality", "about"],
    "manager": ["overview", "complications", "lots", "clinicians", "responses", "costs", "about"],
    "auditor": ["data_quality", "export", "about"],
    "admin": ["overview", "complications", "lots", "clinicians", "responses", "signals", "adverse_events", "costs",
              "data_quality", "export", "load", "about", "access_log"],
}
RELEASE_DOWNLOADS = ["Download Rates", "Download Funnel", "Download Control chart", "Download Costs",
                     "Download Pseudonymised records"]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("auth") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    """Each test: the demo database, its own access log and role file, fresh caches."""
    yield from isolated_app(demo_db, tmp_path, monkeypatch)


@pytest.fixture
def menu(monkeypatch) -> dict:
    return navigation_spy(monkeypatch)


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file_id -> the callable a download button registered (what the server runs on a click)."""
    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return registered


def log() -> list[dict]:
    return access.read_log(access.log_path_for(Path("unused")))


def app(role: str | None = "doctor", page: str | None = None, *, email: str | None = None, claims: dict | None = None,
        signed_in: bool = True, clinic: dict | None = None, **query) -> AppTest:
    """The app in sign-in mode, signed in with `role` (None: a user without a role claim); `clinic`: the secrets'
    [clinic] section."""
    if signed_in:
        address = {} if email == "" else {"email": email or EMAIL.get(role, "someone@klinikk.no")}  # "": none
        user = {"is_logged_in": True, **address, **({"roles": [role]} if role else {}), **(claims or {})}
    else:
        user = {"is_logged_in": False}
    return signed_in_app(user, page, clinic=clinic, timeout=TIMEOUT, **query)


def demo(page: str | None = None, **query) -> AppTest:
    return demo_app(page, timeout=TIMEOUT, **query)



def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button")]


def click(at: AppTest, downloads: dict, label: str) -> bytes:
    button = next(b for b in at.get("download_button") if b.label == label)
    return downloads[button.proto.deferred_file_id]()


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


# --------------------------------------------------------------------------------------------------------------
# who sees what
# --------------------------------------------------------------------------------------------------------------


def test_every_page_is_registered_under_its_url_path_from_the_page_table(menu):
    app("admin")
    assert menu["urls"] == {p.name: "" if p.name == ROOT_PAGE else p.url_path for p in access.PAGES}
    assert menu["urls"]["clinicians"] == "clinicians" and menu["urls"]["overview"] == ""  # the root URL


@pytest.mark.parametrize("role", list(NAVIGATION))
def test_each_role_finds_its_pages_in_the_menu(role, menu):
    at = app(role)
    assert menu["visible"] == NAVIGATION[role]
    assert set(menu["visible"]) | set(menu["hidden"]) == {p.name for p in access.PAGES}, "every page has a URL"
    assert menu["position"] == "sidebar"
    start = "Export" if role == "auditor" else "Overview"
    assert at.title[0].value == start, "each role starts on a page it may open"
    assert not [r for r in log() if r["event"] == "refused"], "the root URL is no attempt on the overview"
    assert f"Signed in as {EMAIL[role]}" in texts(at)
    assert not any("Demo mode" in w.value for w in at.warning)


@pytest.mark.parametrize("role, page, title", [
    ("doctor", "export", "Export"),
    ("manager", "data_quality", "Data quality"),
    ("manager", "export", "Export"),
    ("auditor", "complications", "Complications"),
    ("auditor", "clinicians", "Clinicians"),
    ("doctor", "access_log", "Access log"),
])
def test_a_forbidden_page_opened_by_its_url_refuses_and_is_logged(role, page, title):
    at = app(role, page)
    assert at.title[0].value == "Not available for your role"
    assert any(f"“{title}” is not open to your role" in e.value for e in at.error)
    assert not at.get("plotly_chart") and not at.dataframe and not at.get("download_button")
    refused = [r for r in log() if r["event"] == "refused"]
    assert [(r["user"], r["role"], r["what"]) for r in refused] == [(EMAIL[role], role, f"page {page}")]
    at.run()  # the same refusal on screen again is not a new attempt
    assert len([r for r in log() if r["event"] == "refused"]) == 1


def test_the_doctor_reviews_cases_and_the_view_is_logged():
    at = app("doctor", "complications", outcome="ptosis", point="2025-06-01")
    review = at.dataframe[-1].value
    assert "Patient (pseudonym)" in review.columns and len(review) > 0
    views = [r for r in log() if r["event"] == "page_view"]
    assert len(views) == 1
    v = views[0]
    assert (v["user"], v["role"], v["what"], v["rows_n"]) == (EMAIL["doctor"], "doctor", "complications: case review",
                                                              len(review))
    assert v["filters"].startswith("outcome=ptosis; period=2025-06-01; sessions=numerator; page=1")
    assert v["filters"].endswith("filters: none")
    at.segmented_control(key="w_lang").set_value("nb").run()  # the same list in another language: not a new view
    assert len([r for r in log() if r["event"] == "page_view"]) == 1
    at.segmented_control(key="w_which").set_value("denominator").run()  # another list: a new view
    assert [r["filters"].split("; ")[2] for r in log() if r["event"] == "page_view"] == ["sessions=numerator",
                                                                                         "sessions=denominator"]


def test_the_manager_sees_rates_but_no_case_list():
    at = app("manager", "complications", outcome="ptosis", point="2025-06-01")
    assert at.title[0].value == "Complications" and at.get("plotly_chart")
    assert not any("Patient (pseudonym)" in d.value.columns for d in at.dataframe)
    assert "Lists of individual sessions are shown to doctors only." in texts(at)
    assert not [r for r in log() if r["event"] == "page_view"]


def test_the_auditor_gets_release_exports_and_records_only(downloads):
    at = app("auditor", "export", outcome="ptosis", mode="internal")  # a mode in the URL cannot unlock anything
    assert labels(at) == RELEASE_DOWNLOADS
    assert not [s for s in at.get("button_group") if s.proto.label == "Files"], "no internal files offered"
    numerator, denominator = at.number_input(key="w_hide_num"), at.number_input(key="w_hide_den")
    assert (numerator.value, denominator.value) == (4, 10)
    assert (numerator.min, denominator.min) == (4, 10), "an auditor may only make the rule stricter"
    assert "numerators 1–4 and denominators under 10 hidden" in texts(at)

    body = click(at, downloads, "Download Rates").decode("utf-8")
    lines = body.splitlines()
    assert "# generated_by: revisor@klinikk.no" in lines
    assert "# suppression: numerators 1-4 and denominators under 10 hidden, with complementary suppression" in lines
    frame = pd.read_csv(io.StringIO(body), comment="#", dtype=str, keep_default_na=False)
    assert "suppressed" in set(frame["numerator_n"]) and (frame["suppression"] != "").any()
    assert "eligible_n" not in frame.columns

    records = click(at, downloads, "Download Pseudonymised records").decode("utf-8")
    table = pd.read_csv(io.StringIO(records), comment="#")
    assert table["patient_key"].str.fullmatch(r"P[0-9a-f]{16}").all()
    assert "# pseudonymisation: patient and session references re-keyed with HMAC-SHA256 under a one-off key that " \
           "was not kept; no free text" in records.splitlines()

    exports = [r for r in log() if r["event"] == "export"]
    assert [(r["user"], r["role"]) for r in exports] == [("revisor@klinikk.no", "auditor")] * 2
    assert exports[0]["what"].startswith("rates (release): rates_ptosis_") and exports[0]["what"].endswith(
        "_release.csv")
    assert exports[0]["rows_n"] == len(frame) and exports[1]["rows_n"] == len(table)
    assert exports[0]["file_sha256"] == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert exports[1]["file_sha256"] == hashlib.sha256(records.encode("utf-8")).hexdigest()
    assert "suppression=numerators 1-4" in exports[0]["filters"]


def test_a_stricter_rule_set_on_the_page_reaches_the_file(downloads):
    at = app("auditor", "export", outcome="bruising", hide_num="9", hide_den="30")
    assert "numerators 1–9 and denominators under 30 hidden" in texts(at)
    body = click(at, downloads, "Download Funnel").decode("utf-8")
    assert "# suppression: numerators 1-9 and denominators under 30 hidden, with complementary suppression" in body
    at = app("auditor", "export", outcome="bruising", hide_num="1", hide_den="2")
    assert (at.number_input(key="w_hide_num").value, at.number_input(key="w_hide_den").value) == (4, 10)


def test_the_admin_sees_the_access_log_and_internal_exports(downloads):
    app("doctor", "export")  # something to see in the log: a sign-in and a refusal
    at = app("admin", "export", outcome="ptosis", mode="internal")
    assert labels(at) == ["Download Rates", "Download Funnel", "Download Control chart", "Download Costs",
                          "Download Observed / expected", "Download CUSUM", "Download Signals list",
                          "Download Pseudonymised records"]
    body = click(at, downloads, "Download CUSUM").decode("utf-8")
    assert "# release: internal: small cells not suppressed; not for use outside the clinic" in body.splitlines()
    assert "# generated_by: admin@klinikk.no" in body.splitlines()

    at = app("admin", "access_log")
    assert at.title[0].value == "Access log"
    assert any(s.value.startswith("The chain is intact: ") for s in at.success)
    shown = at.dataframe[0].value
    assert list(shown["Event"][:3]) == ["sign-in", "export", "sign-in"]  # newest first
    assert {"lege@klinikk.no", "admin@klinikk.no"} <= set(shown["User"])
    before = len(log())
    exported = click(at, downloads, "Download the access log").decode("utf-8")
    assert "# chain: intact" in exported.splitlines()
    assert len(pd.read_csv(io.StringIO(exported), comment="#")) == before
    last = log()[-1]
    assert (last["event"], last["user"], last["rows_n"]) == ("export", "admin@klinikk.no", before)
    assert last["file_sha256"] == hashlib.sha256(exported.encode("utf-8")).hexdigest()


def test_a_broken_chain_is_shown_to_the_admin():
    app("doctor")
    app("manager")
    path = access.log_path_for(Path("unused"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].replace("lege@", "someone@"), *lines[1:]]) + "\n")
    at = app("admin", "access_log")
    assert any("The chain is broken: entry 1 was changed after it was written" in e.value for e in at.error)


# --------------------------------------------------------------------------------------------------------------
# signing in, no role, the role file, demo mode
# --------------------------------------------------------------------------------------------------------------


def test_nobody_signed_in_sees_only_the_sign_in_page(menu):
    at = app(signed_in=False)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not menu["visible"] and menu["position"] == "hidden"
    assert not at.get("plotly_chart") and not at.dataframe and not log()


def test_a_user_without_a_role_sees_no_access_and_is_logged(menu):
    at = app(None, "complications", email="vikar@klinikk.no")
    assert at.title[0].value == "No access"
    assert any("ask the clinic's administrator for a role" in e.value.lower() for e in at.error)
    assert [b.label for b in at.button] == ["Sign out"]
    assert not menu["visible"] and not at.get("plotly_chart") and not at.dataframe
    assert [(r["event"], r["user"], r["role"], r["what"]) for r in log()] == [
        ("sign_in", "vikar@klinikk.no", "none", "dashboard"),
        ("refused", "vikar@klinikk.no", "none", "dashboard: no role")]


def test_roles_from_the_role_file_when_the_token_has_none(tmp_path, menu):
    write(tmp_path / "roles.csv", "email,role\nleder@klinikk.no,manager\nLEGE@klinikk.no,doctor\n")
    verified = {"email_verified": True}
    app(None, email="leder@klinikk.no", claims=verified)
    assert menu["visible"] == NAVIGATION["manager"]
    app(None, email="lege@klinikk.no", claims={"email_verified": "True"})  # some providers send a string
    assert menu["visible"] == NAVIGATION["doctor"]
    app("auditor", email="lege@klinikk.no", claims=verified)  # a role in the token wins
    assert menu["visible"] == NAVIGATION["auditor"]
    for unverified in ({"email_verified": False}, {}, {"email_verified": "no"}, {"email_verified": 1}):
        app(None, email="lege@klinikk.no", claims=unverified)  # an address not verified gets nothing
        assert not menu["visible"], unverified
    entra = {"preferred_username": "leder@klinikk.no"}  # Entra ID without an email claim
    at = app(None, email="", claims=entra)
    assert not menu["visible"] and at.title[0].value == "No access", "preferred_username only when turned on"
    app(None, email="", claims=entra, clinic={"role_file_match_preferred_username": True})
    assert menu["visible"] == NAVIGATION["manager"]


def test_a_broken_role_file_gives_nobody_a_role(tmp_path, menu):
    write(tmp_path / "roles.csv", "email,role\nleder@klinikk.no,boss\n")
    at = app(None, email="leder@klinikk.no", claims={"email_verified": True})
    assert any("The role file cannot be read" in e.value and "row 2" in e.value for e in at.error)
    assert not menu["visible"] and not at.get("plotly_chart")


def test_a_sign_in_is_logged_once(menu):
    token = {"iat": 1_790_000_000, "auth_time": 1_790_000_000}
    at = app("doctor", claims=token)
    at.run()
    at.switch_page(access.page("about").file).run()
    app("doctor", claims=token)  # a reload or a second tab with the same sign-in
    st.cache_resource.clear()  # even after the app restarted
    app("doctor", claims=token)
    app("doctor", claims={"iat": 1_790_003_600})  # signed in again later: a new sign-in
    sign_ins = [r for r in log() if r["event"] == "sign_in"]
    assert len(sign_ins) == 2
    assert sign_ins[0]["what"] == f"dashboard (signed in {dt.datetime.fromtimestamp(1_790_000_000).isoformat()})"
    assert access.verify_log(access.log_path_for(Path("unused"))) == (True, "intact")


def test_sign_out_is_logged():
    at = app("manager")
    at.button(key="sign_out").click().run()
    assert [r["event"] for r in log()] == ["sign_in", "sign_out"]


def test_demo_mode_is_bannered_acts_as_admin_and_previews_roles(menu):
    at = demo()
    banner = "Demo mode: no sign-in configured — synthetic data, everyone sees everything."
    assert at.warning[0].value == banner
    assert menu["visible"] == NAVIGATION["admin"]
    assert at.selectbox(key="w_preview_role").value == "admin"
    at.selectbox(key="w_preview_role").set_value("auditor").run()
    assert menu["visible"] == NAVIGATION["auditor"]
    assert at.title[0].value == "Export" and at.warning[0].value == banner
    at.switch_page(access.page("complications").file).run()
    assert at.title[0].value == "Not available for your role"
    assert [(r["user"], r["role"], r["event"], r["what"]) for r in log()] == [
        ("demo", "auditor", "refused", "page complications")]
    at.segmented_control(key="w_lang").set_value("nb").run()
    assert at.warning[0].value == "Demomodus: ingen innlogging satt opp — syntetiske data, alle ser alt."


def test_demo_downloads_are_generated_by_demo_and_logged(downloads):
    at = demo("export", outcome="bruising")
    body = click(at, downloads, "Download Costs").decode("utf-8")
    assert "# generated_by: demo" in body.splitlines()
    [entry] = log()
    assert (entry["user"], entry["role"], entry["event"]) == ("demo", "admin", "export")
    assert entry["file_sha256"] == hashlib.sha256(body.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("mode", ["release", "internal"])
def test_every_download_offered_is_logged_with_its_rows_and_hash(mode, downloads):
    at = app("admin", "export", outcome="bruising", clin=["C01", "C02"], mode=mode, excel="True")
    offered = labels(at)
    assert len(offered) == (5 if mode == "release" else 8)  # internal adds the CUSUM, O/E and the signals list
    bodies = {label: click(at, downloads, label) for label in offered}
    exports = [r for r in log() if r["event"] == "export"]
    assert len(exports) == len(offered)
    for (label, body), entry in zip(bodies.items(), exports, strict=True):
        assert body.startswith(b"\xef\xbb\xbf"), "the Norwegian Excel option reaches the file"
        frame = pd.read_csv(io.BytesIO(body), comment="#", sep=";", encoding="utf-8-sig")
        assert entry["file_sha256"] == hashlib.sha256(body).hexdigest(), label
        assert entry["rows_n"] == len(frame), label
        assert "filters: clinicians = C01|C02" in entry["filters"] and "excel=yes" in entry["filters"]
        assert b"# generated_by: admin@klinikk.no" in body


def test_no_file_is_handed_over_when_the_log_cannot_be_written(tmp_path, monkeypatch):
    from dashboard import auth

    blocker = write(tmp_path / "not-a-dir", "x")
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(blocker / "access.jsonl"))
    make = auth.logged_download(auth.Viewer("revisor@klinikk.no", ("auditor",)), "rates (release): x.csv", "",
                                lambda: (b"secret,rows\n", 1))
    with pytest.raises(OSError):
        make()




def test_the_log_export_is_formula_safe_and_names_the_chain(tmp_path):
    from dashboard import auth

    path = tmp_path / "access.jsonl"
    access.append(path, access.Entry("=HYPERLINK(\"http://x\")@klinikk.no", "doctor", "sign_in", "dashboard"))
    body, rows = auth.log_csv(path, auth.Viewer("admin@klinikk.no", ("admin",)))
    text = body.decode("utf-8")
    assert rows == 1 and "# chain: intact" in text.splitlines() and "# generated_by: admin@klinikk.no" in text
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert frame.loc[0, "user"].startswith("'="), "a spreadsheet shows it as text, never runs it"


# --------------------------------------------------------------------------------------------------------------
# role claims through the app (issue 10, part 3)
# --------------------------------------------------------------------------------------------------------------


def test_token_roles_of_another_shape_give_no_access(menu):
    for roles in ({"admin": True}, {"roles": ["admin"]}, 1, ["administrator", 7, None]):
        at = app(None, email="x@klinikk.no", claims={"roles": roles})
        assert at.title[0].value == "No access" and not menu["visible"], roles
    app(None, email="x@klinikk.no", claims={"roles": [" Manager ", 7, {"admin": 1}]})
    assert menu["visible"] == NAVIGATION["manager"], "the strings in a list count, trimmed and lower-cased"


def test_a_role_prefix_from_the_secrets(menu):
    prefixed = {"role_prefix": "klinikk."}
    app(None, email="leder@klinikk.no", claims={"roles": ["klinikk.manager", "otherapp.admin"]}, clinic=prefixed)
    assert menu["visible"] == NAVIGATION["manager"]
    at = app(None, email="x@klinikk.no", claims={"roles": ["admin"]}, clinic=prefixed)
    assert at.title[0].value == "No access" and not menu["visible"], "a bare role of a shared provider means nothing"
    assert [(r["user"], r["role"]) for r in log() if r["event"] == "refused"] == [("x@klinikk.no", "none")]


@pytest.mark.parametrize("clinic, problem", [
    ({"role_prefx": "klinikk."}, "[clinic] role_prefx is not an option of this dashboard"),
    ({"role_prefix": ["klinikk."]}, "[clinic] role_prefix must be text without spaces or commas"),
    ({"role_file_match_preferred_username": "true"}, "must be true or false (without quotes)"),
])
def test_a_bad_clinic_option_shows_nothing_but_the_problem(clinic, problem, menu):
    at = app("admin", clinic=clinic)
    assert at.title[0].value == "Sign-in is not configured correctly"
    assert problem in at.code[0].value
    assert not menu["visible"] and not at.get("plotly_chart") and not at.dataframe and not log()


# --------------------------------------------------------------------------------------------------------------
# sign-in fails closed; demo mode only when asked for, on a demo database (issue 10, part 2)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def db_opens(monkeypatch) -> list:
    """Every duckdb.connect the app makes during the test (after the background jobs of earlier tests are done)."""
    from dashboard import data

    data._BACKGROUND.submit(lambda: None).result(timeout=120)  # one worker, first in first out
    opened: list = []
    original = duckdb.connect

    def spy(*args, **kwargs):
        opened.append(args[0] if args else kwargs.get("database"))
        return original(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)
    return opened


def nothing_shown(at: AppTest, menu: dict, db_opens: list) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not menu["visible"] and menu["position"] == "hidden"
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric and not at.get("download_button")
    assert not any("Demo mode" in w.value for w in at.warning)
    assert not db_opens, "the database is not even opened"
    assert not log()


@pytest.fixture
def secrets_files(monkeypatch):
    from streamlit import config

    old = config.get_option("secrets.files")

    def use(*paths: Path) -> None:
        from streamlit.runtime.secrets import Secrets

        config.set_option("secrets.files", [str(p) for p in paths])
        monkeypatch.setattr(st, "secrets", Secrets())

    yield use
    config.set_option("secrets.files", old)


def plain(page: str | None = None) -> AppTest:
    """The app with whatever st.secrets holds (no at.secrets)."""
    return open_page(AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT), page)


@pytest.mark.parametrize("page", [None, "complications", "access_log"])
def test_no_auth_section_and_no_demo_asked_for_shows_sign_in_not_configured(page, menu, db_opens, monkeypatch):
    monkeypatch.delenv("CLINIC_DEMO")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    open_page(at, page)
    assert at.title[0].value == "Sign-in is not configured"
    assert "CLINIC_DEMO=1" in at.info[0].value and "[auth]" in at.info[0].value
    nothing_shown(at, menu, db_opens)


def test_an_app_started_where_there_is_no_secrets_file_shows_sign_in_not_configured(tmp_path, secrets_files, menu,
                                                                                     db_opens):
    secrets_files(tmp_path / "elsewhere" / ".streamlit" / "secrets.toml", tmp_path / "home" / "secrets.toml")
    at = plain("complications")
    assert at.title[0].value == "Sign-in is not configured"
    nothing_shown(at, menu, db_opens)


@pytest.mark.parametrize("demo_asked", ["0", "1"])
def test_a_secrets_file_with_a_syntax_error_is_an_error_on_screen(demo_asked, tmp_path, secrets_files, menu,
                                                                  db_opens, monkeypatch):
    monkeypatch.setenv("CLINIC_DEMO", demo_asked)
    broken = write(tmp_path / ".streamlit" / "secrets.toml",
                   '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "x\n')
    secrets_files(broken)
    at = plain("complications")
    assert at.title[0].value == "The secrets file cannot be read"
    assert "must be valid TOML" in at.error[0].value
    assert str(broken) in at.code[0].value and "line 3" in at.code[0].value
    nothing_shown(at, menu, db_opens)


@pytest.mark.parametrize("demo_asked", ["0", "1"])
def test_a_wrong_case_auth_section_is_refused(demo_asked, tmp_path, secrets_files, menu, db_opens, monkeypatch):
    monkeypatch.setenv("CLINIC_DEMO", demo_asked)
    body = "[Auth]\n" + "".join(f'{k} = "{v}"\n' for k, v in AUTH.items())
    secrets_files(write(tmp_path / ".streamlit" / "secrets.toml", body))
    at = plain()
    assert at.title[0].value == "Sign-in is not configured correctly"
    assert "the secrets have a [Auth] section, but only [auth] (lower case) is read: rename it" in at.code[0].value
    nothing_shown(at, menu, db_opens)


@pytest.mark.parametrize("drop, problem", [
    ("cookie_secret", "[auth] needs cookie_secret"),
    ("client_secret", "[auth] has client_id, server_metadata_url but no client_secret"),
    ("redirect_uri", "[auth] needs redirect_uri"),
])
def test_an_incomplete_auth_section_is_refused(drop, problem, menu, db_opens, monkeypatch):
    monkeypatch.setenv("CLINIC_DEMO", "1")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = {k: v for k, v in AUTH.items() if k != drop}
    at.user = {"is_logged_in": True, "email": EMAIL["admin"], "roles": ["admin"]}
    open_page(at, None)
    assert at.title[0].value == "Sign-in is not configured correctly"
    assert problem in at.code[0].value
    nothing_shown(at, menu, db_opens)


def test_provider_sections_each_get_a_sign_in_button(menu):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    provider = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "test", "microsoft": provider,
                          "google": provider}
    at.user = {"is_logged_in": False}
    open_page(at, None)
    assert [b.label for b in at.button] == ["Sign in with Microsoft", "Sign in with Google"]


def test_demo_mode_on_a_database_the_demo_did_not_make_is_refused(tmp_path, metrics_db, menu, monkeypatch):
    monkeypatch.setenv("CLINIC_DB", str(metrics_db))  # the real loader, real-looking data, no demo marker
    at = demo("complications")
    assert at.title[0].value == "Demo mode refused"
    assert f"{metrics_db} was not made by the demo generator" in at.error[0].value
    assert not menu["visible"] and not at.get("plotly_chart") and not at.dataframe and not at.metric
    assert not any("Demo mode:" in w.value for w in at.warning) and not log()


def test_demo_mode_after_real_data_was_loaded_into_the_demo_database_is_refused(demo_db, tmp_path, menu,
                                                                               monkeypatch):
    db = tmp_path / "copy" / "clinic.duckdb"
    db.parent.mkdir()
    shutil.copyfile(demo_db, db)
    monkeypatch.setenv("CLINIC_DB", str(db))
    at = demo()
    assert at.title[0].value == "Overview", "the copy is still the demo's"
    result = load_files([write(tmp_path / "clinicians.csv", CLINICIANS_CSV)], db, today=TODAY)
    at.run()  # the next page view pins the new snapshot (one process keeps one DuckDB instance per open file)
    assert at.title[0].value == "Demo mode refused"
    assert f"data was loaded into {db} after the demo generator made it (load {result.load_id})" in at.error[0].value
    assert not at.get("plotly_chart") and not at.dataframe


def test_demo_mode_with_a_valid_auth_section_is_sign_in(menu):
    os.environ["CLINIC_DEMO"] = "1"
    at = app("manager")
    assert menu["visible"] == NAVIGATION["manager"] and not any("Demo mode" in w.value for w in at.warning)


# --------------------------------------------------------------------------------------------------------------
# the access log in the app: odd characters and bad lines never stop it (issue 10, part 8)
# --------------------------------------------------------------------------------------------------------------


def test_a_line_separator_in_a_logged_value_does_not_stop_the_next_sign_in(menu):
    path = access.log_path_for(Path("unused"))
    access.append(path, access.Entry(EMAIL["doctor"], "doctor", "page_view", "complications: case review",
                                     "outcome=ptosis; filters: clinicians = C01\u2028C02", 3))
    token = {"iat": 1_790_000_000}
    app("doctor", claims=token)  # reads the log to log a sign-in only once
    app("doctor", claims=token)
    at = app("admin", "access_log", claims=token)
    assert at.title[0].value == "Access log" and menu["visible"] == NAVIGATION["admin"]
    assert [r["event"] for r in log()] == ["page_view", "sign_in", "sign_in"]
    assert log()[0]["filters"].endswith("C01\u2028C02")
    assert any(s.value.startswith("The chain is intact: 3 entries") for s in at.success)


def test_bad_lines_in_the_log_are_shown_to_the_admin_and_nobody_is_stopped(menu):
    app("doctor")
    app("manager")
    path = access.log_path_for(Path("unused"))
    lines = path.read_text().split("\n")[:-1]
    path.write_text("\n".join([lines[0], "garbage in the middle", lines[1], '{"torn": "at the e']))
    at = app("auditor", claims={"iat": 1_790_000_000})  # a sign-in appends after the torn last line
    assert at.title[0].value == "Export"
    at = app("admin", "access_log")
    assert any("The chain is broken: line 2 cannot be read (not JSON" in e.value for e in at.error)
    assert any(w.value.startswith("2 lines of the log cannot be read") for w in at.warning)
    bad = at.dataframe[0].value
    assert list(bad["Line"]) == [2, 4] and bad["Start of the line"].iloc[0] == "garbage in the middle"
    shown = at.dataframe[1].value
    assert list(shown["User"]) == ["admin@klinikk.no", "revisor@klinikk.no", "leder@klinikk.no", "lege@klinikk.no"]


def test_a_keyed_log_without_its_key_file_stops_the_app_with_the_reason():
    app("doctor")  # the first entry creates the log's key file beside it
    key = access.key_path_for(access.log_path_for(Path("unused")))
    key.unlink()  # e.g. someone rewrote the log and removed the key to hide it
    at = app("manager", "complications")
    assert any("The access log cannot be written" in e.value and "put the key file back" in e.value
               for e in at.error)
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric
    assert len(log()) == 1, "nothing is added that could not be checked"
