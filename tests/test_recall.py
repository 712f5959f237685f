"""Issue 13, item 4: the recall list. `python -m pipelines export recall --lot L [--product P] -o FILE` lists every
session with the lot (a case list: never released), and the access log records it as one."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pandas as pd
import pytest
from conftest import FIXTURES, TODAY

from pipelines.__main__ import main
from pipelines.ingest.load import load_files
from pipelines.release import access


@pytest.fixture(scope="module")
def lots_db(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("lots") / "clinic.duckdb"
    assert load_files(sorted((FIXTURES / "lots").glob("*.csv")), db_path, today=TODAY).rows_rejected == 0
    return db_path


@pytest.fixture
def db(lots_db, tmp_path):
    """A private copy (each test has its own access log beside it)."""
    target = tmp_path / "db"
    target.mkdir()
    shutil.copy(lots_db, target / "clinic.duckdb")
    return target / "clinic.duckdb"


def read(path):
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)


# Every session of the fixture with lot LOTB, by hand (tests/fixtures/lots): T07 (partial; corrected by T14), T08
# (partial, eyelid ptosis), T13 (no expiry recorded), T14 (the correction, never followed up), T09 and T10 (treated
# in April, after the lot expired on 31 March), and T15, an Azzalure lot written "lotb" (stored upper case).
LOTB = [
    # treatment_id, patient_ref, treated_on, clinician, product, is_expired, corrects, status, contacts, last, effect,
    # adverse
    ("T07", "p07", "2024-03-01", "C02", "Botox", "False", "", "followed_up", "1", "2024-03-15", "partial", ""),
    ("T08", "p08", "2024-03-02", "C02", "Botox", "False", "", "followed_up", "1", "2024-03-16", "partial",
     "eyelid_ptosis"),
    ("T13", "p13", "2024-03-12", "C02", "Botox", "", "", "followed_up", "1", "2024-03-26", "none", ""),
    ("T14", "p07", "2024-03-15", "C02", "Botox", "False", "T07", "not_followed_up", "0", "", "", ""),
    ("T09", "p09", "2024-04-02", "C01", "Botox", "True", "", "followed_up", "1", "2024-04-16", "full", ""),
    ("T10", "p10", "2024-04-03", "C01", "Botox", "True", "", "followed_up", "1", "2024-04-17", "full", ""),
    # the data's date is T15's own day (the newest date in the fixture): its follow-up is still awaited
    ("T15", "p15", "2024-05-01", "C01", "Azzalure", "False", "", "awaiting", "0", "", "", ""),
]
COLUMNS = ["treatment_id", "patient_ref", "treated_on", "clinician", "product", "is_expired", "corrects_treatment_id",
           "follow_up_status", "contacts_n", "last_contact_on", "latest_effect", "adverse_outcomes"]


def rows(frame):
    return [tuple(r) for r in frame[COLUMNS].itertuples(index=False)]


def test_the_recall_list_holds_every_session_with_the_lot(db, tmp_path):
    out = tmp_path / "recall.csv"
    assert main(["export", "recall", "--lot", "lotb", "-o", str(out), "--db", str(db)]) == 0
    frame = read(out)
    assert list(frame.columns) == ["treatment_id", "patient_ref", "treated_on", "clinician", "product", "lot_number",
                                   "lot_expiry", "is_expired", "corrects_treatment_id", "follow_up_status",
                                   "contacts_n", "last_contact_on", "latest_effect", "adverse_outcomes"]
    assert rows(frame) == LOTB
    assert set(frame["lot_number"]) == {"LOTB"}
    text = out.read_text()
    assert "# export: recall" in text and "# lot: LOTB" in text


def test_product_narrows_the_list_and_an_unknown_product_is_refused(db, tmp_path, capsys):
    out = tmp_path / "recall.csv"
    assert main(["export", "recall", "--lot", "LOTB", "--product", "botox", "-o", str(out), "--db", str(db)]) == 0
    assert rows(read(out)) == [r for r in LOTB if r[4] == "Botox"]
    assert main(["export", "recall", "--lot", "LOTB", "--product", "Botax", "-o", str(out), "--db", str(db)]) == 1
    assert "--product Botax is not a product of the data contract; choose one of: Botox" in capsys.readouterr().err


def test_the_lot_is_bound_never_pasted_into_sql(db, tmp_path):
    out = tmp_path / "recall.csv"
    assert main(["export", "recall", "--lot", "LOTB' OR '1'='1", "-o", str(out), "--db", str(db)]) == 0
    assert read(out).empty


def test_the_recall_is_logged_as_a_case_list(db, tmp_path):
    out = tmp_path / "recall.csv"
    assert main(["export", "recall", "--lot", "LOTB", "-o", str(out), "--db", str(db)]) == 0
    entries = list(access.read_log(access.log_path_for(db)))
    assert len(entries) == 1
    e = entries[0]
    assert e["event"] == "export" and e["role"] == "command line" and e["rows_n"] == 7
    assert e["what"] == "recall (case list) lot LOTB -> recall.csv"
    assert e["file_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.parametrize("args, message", [
    (["--lot", "LOTB", "--release"], "a recall list names every session and patient reference with the lot (a case "
                                     "list) and cannot be released; keep it inside the clinic"),
    ([], "export recall needs --lot LOT"),
    (["--lot", "LOTB", "--outcome", "ptosis"], "export recall takes no --outcome, --by or --period"),
    (["--lot", "LOTB", "--from", "2024-03-01"], "export recall lists every session with the lot; it takes only --lot"),
])
def test_refusals(db, tmp_path, capsys, args, message):
    out = tmp_path / "recall.csv"
    assert main(["export", "recall", *args, "-o", str(out), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not out.exists()
    assert list(access.read_log(access.log_path_for(db))) == []


def test_lot_is_only_for_recall(db, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["export", "rates", "--outcome", "ptosis", "--lot", "LOTB", "-o", str(out), "--db", str(db)]) == 1
    assert "export rates takes no --lot" in capsys.readouterr().err


def test_recall_as_of_leaves_out_later_sessions_and_contacts(lots_db):
    import duckdb

    from pipelines.release import export

    con = duckdb.connect(str(lots_db), read_only=True)
    try:
        frame = export.recall_frame(con, "LOTB", as_of=dt.date(2024, 3, 20))
    finally:
        con.close()
    got = {r.treatment_id: (r.follow_up_status, int(r.contacts_n)) for r in frame.itertuples()}
    # T13's contact (26 March) is after the as-of date, its session 8 days old: awaiting; T09, T10, T15 later
    assert got == {"T07": ("followed_up", 1), "T08": ("followed_up", 1), "T13": ("awaiting", 0),
                   "T14": ("awaiting", 0)}


# --------------------------------------------------------------------------------------------------------------
# The Products and lots page (AppTest on the small demo database of tests/test_app_auth.py): the doctor sees lots
# and the recall list (logged as a case list); the manager the aggregate by product only
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    import streamlit as st
    from test_app_auth import END  # the demo's end date of the app tests

    from pipelines.demo.build import run_demo

    db = tmp_path / "demo" / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    monkeypatch.setenv("CLINIC_DB", str(db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    monkeypatch.setenv("CLINIC_DEMO", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def recall_downloads(monkeypatch) -> dict:
    """file_id -> the callable a download button registered (as tests/test_app_auth.py `downloads`)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return registered


def _page_log(tmp_path):
    return list(access.read_log(tmp_path / "access.jsonl"))


def test_the_doctor_sees_lots_and_the_recall_list_is_logged_as_a_case_list(app_env, tmp_path, recall_downloads):
    import duckdb
    from test_app_auth import EMAIL, app, click

    con = duckdb.connect(str(app_env), read_only=True)
    lot, n = con.execute("SELECT lot_number, count(*) FROM treatments WHERE lot_number IS NOT NULL "
                         "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchall()[0]
    expired = con.execute("SELECT count(*) FROM treatments WHERE treated_on > lot_expiry").fetchall()[0][0]
    con.close()
    at = app("doctor", "lots", outcome="insufficient_effect")
    assert at.title[0].value == "Products and lots"
    by = at.segmented_control(key="w_lots_by")
    assert list(by.options) == ["lot", "product", "dilution", "dose band"]
    assert at.get("plotly_chart")
    subheaders = [h.value for h in at.subheader]
    assert "Recall list" in subheaders and "Sessions treated with an expired lot" in subheaders
    views = [r for r in _page_log(tmp_path) if r["event"] == "page_view"]
    if expired:  # the expired-lot sessions are a case list too
        assert [v["what"] for v in views] == ["lots: expired-lot sessions"] and views[0]["rows_n"] == expired
    at.text_input(key="lots_recall_lot").set_value(lot.lower()).run()
    assert not at.exception
    recall_table = at.dataframe[-1].value
    assert len(recall_table) == n and set(recall_table["lot_number"]) == {lot}
    views = [r for r in _page_log(tmp_path) if r["event"] == "page_view" and r["what"] == "lots: recall list"]
    assert len(views) == 1
    assert (views[0]["user"], views[0]["role"], views[0]["rows_n"]) == (EMAIL["doctor"], "doctor", n)
    assert views[0]["filters"] == f"lot={lot}"
    body = click(at, recall_downloads, "Download Recall list")  # the command line's file, logged with its hash
    exports = [r for r in _page_log(tmp_path) if r["event"] == "export"]
    assert len(exports) == 1 and exports[0]["what"].startswith(f"recall (case list) lot {lot}: recall_")
    assert exports[0]["rows_n"] == n and exports[0]["file_sha256"] == hashlib.sha256(body).hexdigest()
    assert b"# export: recall" in body


def test_the_manager_sees_products_only_and_no_case_list(app_env, tmp_path):
    from test_app_auth import app, texts

    at = app("manager", "lots", outcome="insufficient_effect")
    assert at.title[0].value == "Products and lots"
    assert len(at.segmented_control(key="w_lots_by").options) == 1  # product only
    assert len(at.segmented_control(key="w_funnel_by").options) == 1
    # no lot field (the sidebar's typed date fields are the only text inputs)
    assert {t.key for t in at.text_input} <= {"w_from", "w_to"}
    assert "Recall list" not in [h.value for h in at.subheader]
    assert "Lots, dilutions, dose bands and the recall list are for the responsible doctor." in texts(at)
    assert not [r for r in _page_log(tmp_path) if r["event"] == "page_view"]
    # a lot in the URL gives the manager nothing either: the choice falls back to product
    at = app("manager", "lots", outcome="insufficient_effect", lots_by="lot", funnel_by="lot")
    assert at.segmented_control(key="w_lots_by").value == "product"
    assert at.segmented_control(key="w_funnel_by").value == "product"


def test_only_the_doctor_may_recall():
    assert access.may(["doctor"], "recall") and not any(access.may([r], "recall")
                                                         for r in ("manager", "auditor", "admin"))
    assert not access.may(["manager"], "lots") and access.may(["doctor"], "lots")
