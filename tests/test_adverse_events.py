"""Issue 13, item 6: adverse-event report drafts. The reportable reactions (one row per session x reaction), the
de-identified draft (text and PDF), the off-label table, the append-only report status file, `export
adverse-events` (a case list, logged) and the doctor-only page."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import threading

import duckdb
import pandas as pd
import pytest
from conftest import FIXTURES, ROOT, TODAY

from pipelines.__main__ import main
from pipelines.ingest.load import load_files
from pipelines.release import access, build
from pipelines.release import adverse_events as ae


@pytest.fixture(scope="module")
def ae_db(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("ae") / "clinic.duckdb"
    assert load_files(sorted((FIXTURES / "adverse_events").glob("*.csv")), db_path, today=TODAY).rows_rejected == 0
    return db_path


@pytest.fixture
def db(ae_db, tmp_path):
    """A private copy (each test has its own access log and report file beside it)."""
    target = tmp_path / "db"
    target.mkdir()
    shutil.copy(ae_db, target / "clinic.duckdb")
    return target / "clinic.duckdb"


def reactions(db_path, **kw) -> pd.DataFrame:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return ae.reactions(con, **kw)
    finally:
        con.close()


# Every reportable reaction of tests/fixtures/adverse_events, by hand (data's date 2024-05-20, F09):
# T01 (Botox, cosmetic: off-label) double vision at F01 (day 14), answered no at F02 (5 April): recovered then;
#     eyelid ptosis at F01 (day 14) and F02 (day 35 > 28: beyond the window), both ptosis columns no at F03
#     (20 April): recovered then; F03 leaves double_vision blank (no answer, changes nothing).
# T02 eyelid ptosis at day 14 and day 28 only: inside the window (28 is not after it): not listed.
# T03 (Botox, axillary hyperhidrosis: on-label) allergic reaction at F06 (day 1), no later contact: not recovered.
# T04 (Azzalure, glabella + crow's feet: on-label) infection at F07 (day 6); F08 leaves it blank: not recovered.
# T05 (Botox, migraine head and neck: on-label) double vision and brow ptosis first at F09, day 76: both listed.
# T06 nothing. T07 (a correction of T01, Botox cosmetic: off-label) infection at F11 (day 14).
EXPECTED = [
    # reaction, treatment_id, treated_on, onset_on, days_to_onset, outcome, outcome_on, is_off_label
    ("double_vision", "T01", "2024-03-01", "2024-03-15", 14, "recovered", "2024-04-05", True),
    ("ptosis_beyond_window", "T01", "2024-03-01", "2024-03-15", 14, "recovered", "2024-04-20", True),
    ("allergic_reaction", "T03", "2024-03-03", "2024-03-04", 1, "not_recovered", "2024-03-04", False),
    ("infection", "T04", "2024-03-04", "2024-03-10", 6, "not_recovered", "2024-03-10", False),
    ("double_vision", "T05", "2024-03-05", "2024-05-20", 76, "not_recovered", "2024-05-20", False),
    ("ptosis_beyond_window", "T05", "2024-03-05", "2024-05-20", 76, "not_recovered", "2024-05-20", False),
    ("infection", "T07", "2024-03-20", "2024-04-03", 14, "not_recovered", "2024-04-03", True),
]


def rows(frame):
    return [(r.reaction, r.treatment_id, r.treated_on.isoformat(), r.onset_on.isoformat(), int(r.days_to_onset),
             r.reaction_outcome, r.outcome_on.isoformat(), bool(r.is_off_label)) for r in frame.itertuples()]


def test_the_reportable_reactions_counted_by_hand(db):
    assert rows(reactions(db)) == EXPECTED


def test_as_of_leaves_out_later_contacts(db):
    # by 1 April: F02 (5 April) not yet seen, so T01's double vision is not recovered and its ptosis not beyond the
    # window yet; T05's and T07's contacts are later
    got = [(r.reaction, r.treatment_id, r.reaction_outcome, r.outcome_on.isoformat())
           for r in reactions(db, as_of=dt.date(2024, 4, 1)).itertuples()]
    assert got == [("double_vision", "T01", "not_recovered", "2024-03-15"),
                   ("allergic_reaction", "T03", "not_recovered", "2024-03-04"),
                   ("infection", "T04", "not_recovered", "2024-03-10")]


def test_the_ptosis_window_comes_from_the_registry():
    from pipelines.metrics import registry

    r = ae.REPORTABLE_BY_KEY["ptosis_beyond_window"]
    assert r.window_end_days == registry.get("ptosis").window_days[1] == 28
    assert r.columns == ("eyelid_ptosis", "brow_ptosis") and r.after_window


@pytest.mark.parametrize("product, indication, areas, expected", [
    ("Botox", "cosmetic", "glabella", True),  # cosmetic Botox is off-label in Norway (Vistabel is licensed)
    ("Vistabel", "cosmetic", "glabella|forehead", False),
    ("Vistabel", "cosmetic", "glabella|masseter", True),  # masseter is no approved area
    ("Bocouture", "cosmetic", "crows_feet", False),
    ("Letybo", "cosmetic", "crows_feet", True),
    ("Botox", "migraine", "head_neck", False),
    ("Botox", "hyperhidrosis", "axillae", False),
    ("Botox", "hyperhidrosis", "palms", True),
    ("Botox", "tension_headache", "head_neck", True),
    ("Xeomin", "cosmetic", "glabella", True),
])
def test_off_label_is_read_from_the_declared_table(product, indication, areas, expected):
    assert ae.off_label(product, indication, areas)[0] is expected


def test_the_off_label_table_covers_every_product_with_its_source():
    from pipelines import contract

    assert set(ae.APPROVED_USES) == set(contract.PRODUCT_NAMES)
    assert "felleskatalogen" in ae.APPROVED_USES_SOURCE and "felleskatalogen" in ae.APPROVED_USES_SOURCE_NB


# --------------------------------------------------------------------------------------------------------------
# The draft: de-identified, Norwegian by default
# --------------------------------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages) + "\n" + json.dumps(
        {k: str(v) for k, v in (reader.metadata or {}).items()})


def test_the_draft_holds_the_forms_fields_and_no_identifier(db):
    frame = reactions(db)
    row = frame.iloc[0]  # T01 double vision
    d = ae.draft(row)
    assert d.lang == "nb" and d.number == ae.draft_number("T01", "double_vision") and d.number.startswith("AE-")
    text = ae.draft_text(d)
    for expected in ("Aldersgruppe: 40-49", "Kjønn: kvinne", "Preparat: Botox", "Virkestoff: onabotulinumtoxinA",
                     "Batchnummer (parti): LOTA", "Dose: 20 E", "Enheter per område: sinnarynke 20 E",
                     "Fortynning: 2,5 ml per 100 E", "Indikasjon: kosmetisk (rynker)",
                     "Bruk utenfor godkjent indikasjon (off-label): ja", "01.03.2024", "Reaksjon: Dobbeltsyn",
                     "Først registrert: 15.03.2024 (dag 14", "Utfall: restituert", "05.04.2024",
                     "Melders rolle: lege", "Behandlingen ble gitt av: lege", d.number):
        assert expected in text, expected
    pdf = ae.draft_pdf(d)
    assert pdf.startswith(b"%PDF")
    read_back = pdf_text(pdf)
    assert "LOTA" in read_back and d.number in read_back and "40-49" in read_back
    for identifier in ("T01", "p01", "T07", "C01"):  # no treatment id, patient reference or clinician code
        assert identifier not in text and identifier not in read_back, identifier


def test_every_draft_of_the_fixture_is_de_identified_in_both_languages(db):
    frame = reactions(db)
    secrets = set(frame["treatment_id"]) | set(frame["patient_ref"]) | set(frame["clinician"])
    for lang in ("nb", "en"):
        for _, row in frame.iterrows():
            d = ae.draft(row, lang)
            text, read_back = ae.draft_text(d), pdf_text(ae.draft_pdf(d))
            assert not [s for s in secrets if s in text or s in read_back]
            # an age band, never an age or a birth date: the only digits besides dates, doses and numbers are it
            assert str(row["age_band"]) in text


def test_the_english_draft_of_ptosis_beyond_its_window(db):
    row = reactions(db).iloc[5]  # T05 brow ptosis at day 76, migraine, aminoglycosides recorded
    text = ae.draft_text(ae.draft(row, "en"))
    for expected in ("Reaction: Ptosis beyond its window", "more than 28 days after the session", "Age band: 60-69",
                     "Sex: male", "Batch (lot) number: not recorded", "Dose: 155 U", "Off-label use: no",
                     "Route: intramuscular", "Other medicines and conditions recorded: aminoglycoside antibiotics",
                     "First recorded: 2024-05-20 (day 76", "Outcome: not recovered at the last follow-up that asked "
                     "(2024-05-20)"):
        assert expected in text, expected


def test_speywood_units_and_the_intradermal_route(db):
    frame = reactions(db)
    assert "Dose: 75 Speywood units" in ae.draft_text(ae.draft(frame.iloc[3], "en"))  # T04 Azzalure
    assert "Route: intradermal" in ae.draft_text(ae.draft(frame.iloc[2], "en"))  # T03 hyperhidrosis


# --------------------------------------------------------------------------------------------------------------
# The report status file
# --------------------------------------------------------------------------------------------------------------


def record(db, row, reference, *, user="lege@klinikk.no", role="doctor", on=dt.date(2024, 6, 1), at=None):
    return ae.record_report(ae.status_path_for(db), row, reported_on=on, reference=reference, user=user, role=role,
                            access_log=access.log_path_for(db), today=dt.date(2024, 6, 30), at=at)


def statuses(db) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = ae.case_list(con, ae.status_path_for(db))
    finally:
        con.close()
    return [(r.reaction, r.treatment_id, r.report_status, r.reported_on, r.report_reference)
            for r in frame.itertuples()]


def test_a_report_is_recorded_superseded_and_survives_a_new_load(db, ae_db):
    row = reactions(db).iloc[2]  # T03 allergic reaction
    record(db, row, "DMP-2024-0001", at=dt.datetime(2024, 6, 1, 10))
    record(db, row, "DMP-2024-0002", on=dt.date(2024, 6, 2), at=dt.datetime(2024, 6, 2, 10))  # a correction
    got = statuses(db)
    assert got[2] == ("allergic_reaction", "T03", "reported", "2024-06-02", "DMP-2024-0002")
    assert [s[2] for i, s in enumerate(got) if i != 2] == ["not_reported"] * 6
    assert [r["reference"] for r in ae.history(ae.read_reports(ae.status_path_for(db)), "T03",
                                                "allergic_reaction")] == ["DMP-2024-0001", "DMP-2024-0002"]
    # the access log took each record first, as an edit, with no treatment id in it
    edits = [e for e in access.read_log(access.log_path_for(db)) if e["event"] == "edit"]
    number = ae.draft_number("T03", "allergic_reaction")
    assert [(e["user"], e["role"], e["what"]) for e in edits] == [
        ("lege@klinikk.no", "doctor", f"adverse-event report recorded: {number} allergic_reaction")] * 2
    assert all("T03" not in json.dumps(e) for e in edits)
    # a new load publishes a new database file: the statuses live beside it and stay
    load_files(sorted((FIXTURES / "adverse_events").glob("*.csv")), db, today=TODAY)
    assert statuses(db)[2][2:] == ("reported", "2024-06-02", "DMP-2024-0002")


def test_two_writers_both_land(db):
    frame = reactions(db)
    threads = [threading.Thread(target=record, args=(db, frame.iloc[i], f"REF-{i}")) for i in range(len(frame))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = ae.read_reports(ae.status_path_for(db))
    assert sorted(r["reference"] for r in found) == [f"REF-{i}" for i in range(len(frame))] and not found.bad_lines
    assert access.verify_log(access.log_path_for(db))[0]
    assert [s[2] for s in statuses(db)] == ["reported"] * len(frame)


@pytest.mark.parametrize("kwargs, message", [
    ({"reference": ""}, "give the reference melde.no gave the report"),
    ({"reference": "x" * 65}, "the reference has 65 characters; a melde.no reference is short: give at most 64"),
    ({"reference": "DMP-1\nDMP-2"}, "the reference must be one line of printable characters"),
    ({"reference": "DMP-1", "role": "manager"}, "only doctor may record an adverse-event report (signed in as "
                                                "manager)"),
    ({"reference": "DMP-1", "role": "auditor"}, "only doctor may record an adverse-event report"),
    ({"reference": "DMP-1", "on": dt.date(2024, 7, 1)}, "the date reported (2024-07-01) is in the future"),
    ({"reference": "DMP-1", "on": dt.date(2024, 3, 1)}, "the date reported (2024-03-01) is before the treatment "
                                                        "(2024-03-03)"),
])
def test_a_report_that_cannot_be_recorded_is_refused_and_nothing_is_written(db, kwargs, message):
    row = reactions(db).iloc[2]
    reference = kwargs.pop("reference")
    with pytest.raises(ae.AdverseEventError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        record(db, row, reference, **kwargs)
    assert not ae.status_path_for(db).exists() and not access.log_path_for(db).exists()


def test_a_report_the_access_log_refuses_is_not_saved(db, tmp_path, monkeypatch):
    row = reactions(db).iloc[2]
    record(db, row, "DMP-1")  # keys the log
    monkeypatch.setenv(access.KEY_FILE_ENV, str(tmp_path / "missing.key"))  # the key file is gone
    with pytest.raises(access.AccessLogError):
        record(db, row, "DMP-2")
    assert [r["reference"] for r in ae.read_reports(ae.status_path_for(db))] == ["DMP-1"]


def test_an_unreadable_line_shows_its_reaction_as_not_reported(db):
    row = reactions(db).iloc[0]
    record(db, row, "DMP-1")
    path = ae.status_path_for(db)
    with open(path, "ab") as fh:
        fh.write(b'{"key": "T03|allergic_reaction", "torn\n')
    found = ae.read_reports(path)
    assert len(found) == 1 and found.bad_lines == [2]
    assert [s[2] for s in statuses(db)][:3] == ["reported", "not_reported", "not_reported"]


# --------------------------------------------------------------------------------------------------------------
# export adverse-events: a case list, logged
# --------------------------------------------------------------------------------------------------------------


def test_the_export_lists_every_reaction_with_its_status_and_is_logged_as_a_case_list(db, tmp_path):
    record(db, reactions(db).iloc[2], "DMP-2024-0001")
    out = tmp_path / "adverse.csv"
    assert main(["export", "adverse-events", "-o", str(out), "--db", str(db)]) == 0
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["reaction", "treatment_id", "draft_number", "treated_on", "onset_on",
                                   "days_to_onset", "reaction_outcome", "outcome_on", "product", "lot_number",
                                   "clinician", "indication", "is_off_label", "report_status", "reported_on",
                                   "report_reference", "recorded_by"]
    assert [(r.reaction, r.treatment_id, r.treated_on, r.onset_on) for r in frame.itertuples()] == [
        (e[0], e[1], e[2], e[3]) for e in EXPECTED]
    assert list(frame["report_status"]) == ["not_reported"] * 2 + ["reported"] + ["not_reported"] * 4
    assert frame.loc[2, ["reported_on", "report_reference", "product", "lot_number", "clinician"]].tolist() == [
        "2024-06-01", "DMP-2024-0001", "Botox", "LOTA", "C01"]
    text = out.read_text()
    assert "# export: adverse-events" in text and "# as_of: 2024-05-20" in text and "# snapshot_version:" in text
    exports = [e for e in access.read_log(access.log_path_for(db)) if e["event"] == "export"]
    assert len(exports) == 1
    e = exports[0]
    assert (e["role"], e["what"], e["rows_n"]) == ("command line", "adverse-events (case list) -> adverse.csv", 7)
    assert e["file_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_the_norwegian_export(db, tmp_path):
    out = tmp_path / "adverse.csv"
    assert main(["export", "adverse-events", "--lang", "nb", "-o", str(out), "--db", str(db)]) == 0
    text = out.read_text()
    assert "# eksport: adverse-events" in text and "# utenfor_godkjent_bruk: preparatomtalene" in text
    header = pd.read_csv(out, comment="#", dtype=str).columns
    assert {"reaksjon", "meldestatus", "meldereferanse", "utenfor_godkjent_bruk"} <= set(header)


@pytest.mark.parametrize("args, message", [
    (["--release"], "an adverse-events list names sessions with a serious or unexpected reaction (a case list) and "
                    "cannot be released"),
    (["--clinician", "C01"], "export adverse-events lists every reportable reaction; it takes no --outcome"),
    (["--outcome", "ptosis"], "export adverse-events lists every reportable reaction"),
    (["--lot", "LOTA"], "export adverse-events takes no --lot"),
])
def test_export_refusals(db, tmp_path, capsys, args, message):
    out = tmp_path / "adverse.csv"
    assert main(["export", "adverse-events", *args, "-o", str(out), "--db", str(db)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists() and list(access.read_log(access.log_path_for(db))) == []


def test_the_export_never_overwrites_the_report_file(db, capsys):
    record(db, reactions(db).iloc[0], "DMP-1")
    path = ae.status_path_for(db)
    before = path.read_bytes()
    assert main(["export", "adverse-events", "-o", str(path), "--db", str(db)]) == 1
    assert "is the clinic's own file" in capsys.readouterr().err and path.read_bytes() == before


def test_only_the_doctor_may_export_open_or_record():
    assert access.may_export(["doctor"], "adverse-events")
    assert access.may(["doctor"], ae.REPORT_CAPABILITY) and access.may_open(["doctor"], "adverse_events")
    for role in ("manager", "auditor", "admin"):
        assert not access.may_export([role], "adverse-events"), role
        assert not access.may([role], ae.REPORT_CAPABILITY), role
        assert not access.may_open([role], "adverse_events") or role == "admin", role
    assert "adverse-events" in build.KINDS


# --------------------------------------------------------------------------------------------------------------
# The page (AppTest on the small demo database of tests/test_app_auth.py)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    import streamlit as st
    from test_app_auth import END

    from pipelines.demo.build import run_demo

    db = tmp_path / "demo" / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    monkeypatch.setenv("CLINIC_DB", str(db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    monkeypatch.setenv("CLINIC_DEMO", "0")
    monkeypatch.delenv(ae.STATUS_FILE_ENV, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def page_downloads(monkeypatch) -> dict:
    from streamlit.runtime.media_file_manager import MediaFileManager

    registered: dict = {}
    original = MediaFileManager.add_deferred

    def keep(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)
    return registered


def page_log(tmp_path):
    return list(access.read_log(tmp_path / "access.jsonl"))


def test_the_doctor_lists_opens_a_draft_downloads_it_and_records_the_report(app_env, tmp_path, page_downloads):
    from test_app_auth import EMAIL, app, click

    con = duckdb.connect(str(app_env), read_only=True)
    listed = ae.reactions(con)
    con.close()
    assert len(listed) > 0, "the demo has reportable reactions"
    at = app("doctor", "adverse_events")
    assert at.title[0].value == "Adverse events"
    table = at.dataframe[0].value
    assert len(table) == len(listed) and list(table["Treatment"]) == list(listed["treatment_id"])
    assert set(table["Status"]) == {"Not reported"}
    first = listed.iloc[0]
    draft = at.code[0].value
    assert first["draft_number"] in draft and "Adverse-event report draft" in draft
    assert first["treatment_id"] not in draft and first["patient_ref"] not in draft
    views = [(r["user"], r["what"], r["rows_n"]) for r in page_log(tmp_path) if r["event"] == "page_view"]
    assert views == [(EMAIL["doctor"], "adverse events: case list", len(listed)),
                     (EMAIL["doctor"], f"adverse events: draft {first['draft_number']}", 1)]
    body = click(at, page_downloads, "Download the draft (PDF)")
    read_back = pdf_text(body)
    assert first["draft_number"] in read_back and first["treatment_id"] not in read_back
    csv = click(at, page_downloads, "Download Adverse events")
    assert b"# export: adverse-events" in csv
    exports = [r for r in page_log(tmp_path) if r["event"] == "export"]
    assert [(r["what"], r["rows_n"], r["file_sha256"]) for r in exports] == [
        (f"adverse-event draft {first['draft_number']} (case): {first['draft_number']}.pdf", 1,
         hashlib.sha256(body).hexdigest()),
        ("adverse-events (case list): adverse_events.csv", len(listed), hashlib.sha256(csv).hexdigest())]
    # record it reported
    at.text_input(key="ae_reference").input("DMP-2026-42")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    found = ae.read_reports(ae.status_path_for(app_env))
    assert [(r["treatment_id"], r["reaction"], r["reference"], r["recorded_by"], r["reported_on"])
            for r in found] == [(first["treatment_id"], first["reaction"], "DMP-2026-42", EMAIL["doctor"],
                                 dt.date.today().isoformat())]  # the date field's default: today
    from dashboard import i18n

    assert at.dataframe[0].value["Status"].iloc[0] == f"Reported · {i18n.date(dt.date.today(), 'en')} · DMP-2026-42"
    assert [r["what"] for r in page_log(tmp_path) if r["event"] == "edit"] == [
        f"adverse-event report recorded: {first['draft_number']} {first['reaction']}"]


def test_a_bad_reference_is_refused_on_the_page(app_env, tmp_path):
    from test_app_auth import app

    at = app("doctor", "adverse_events")
    at.text_input(key="ae_reference").input("   ")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert any("give the reference melde.no gave the report" in e.value for e in at.error)
    assert not ae.status_path_for(app_env).exists()
    # the date is typed in the page's language: a day that does not exist, or none, saves nothing
    for typed, message in (("31.02.2026", "is not a date"), ("", "Type the date")):
        at.text_input(key="ae_reference").input("DMP-2026-42")
        at.text_input(key="ae_reported_on").input(typed)
        next(b for b in at.button if b.label == "Save").click()
        at.run()
        assert any(message in e.value for e in at.error), typed
        assert not ae.status_path_for(app_env).exists()


def test_the_admin_opens_the_page_but_sees_no_case(app_env, tmp_path):
    from test_app_auth import app

    at = app("admin", "adverse_events")
    assert at.title[0].value == "Adverse events"
    assert any(i.value == "Adverse-event reports are for the responsible doctor." for i in at.info)
    assert not at.dataframe and not at.code and not at.get("download_button")
    assert {t.key for t in at.text_input} <= {"w_from", "w_to"}  # the sidebar's date fields only: no form
    assert not [r for r in page_log(tmp_path) if r["event"] == "page_view"]


@pytest.mark.parametrize("role", ["manager", "auditor"])
def test_other_roles_are_refused_the_page(app_env, tmp_path, role):
    from test_app_auth import EMAIL, app

    at = app(role, "adverse_events")
    assert at.title[0].value == "Not available for your role"
    assert not at.dataframe and not at.code and not at.get("download_button")
    refused = [(r["user"], r["role"], r["what"]) for r in page_log(tmp_path) if r["event"] == "refused"]
    assert refused == [(EMAIL[role], role, "page adverse_events")]


def test_the_page_is_in_the_page_table():
    p = access.page("adverse_events")
    assert p.roles == ("doctor", "admin") and p.section_key == "nav_section_quality" and (ROOT / p.file).exists()


def test_a_reference_that_looks_like_a_formula_is_written_as_text(db, tmp_path):
    """The doctor types the melde.no reference: in the CSV a spreadsheet must show it, never run it."""
    record(db, reactions(db).iloc[0], "=HYPERLINK(\"http://x\")")
    out = tmp_path / "adverse.csv"
    assert main(["export", "adverse-events", "-o", str(out), "--db", str(db)]) == 0
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    assert frame.loc[0, "report_reference"] == "'=HYPERLINK(\"http://x\")"
