"""A re-exported row that conflicts with stored rows is rejected, and the stored row kept (issue 17, item 7).

The stored database after the first load (hand-made):
    T1  primary     2024-03-05, corrected by T9 on 2024-03-15, followed up by F1 on 2024-03-19
    T9  correction  2024-03-15 of T1
    T2  primary     2024-03-06, followed up by F2 on 2024-03-20
A correction must come after what it corrects, and a contact is never before its session. Re-exporting T1 with
`treated_on` 2024-03-20 would put it after T9 (03-15) and F1 (03-19), both stored and not re-exported: T1's update
is rejected, the reason naming the earliest of the two, T9, plus "1 more" for F1.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from conftest import CLINICIANS_CSV, ROOT, TODAY, query, write

from pipelines.ingest import history
from pipelines.ingest.load import load_files
from pipelines.ingest.retry import retry_pending

T_HEADER = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
            "price_nok\n")
F_HEADER = "follow_up_id,treatment_id,seen_on,effect\n"


def t_row(tid: str, on: str, corrects: str = "", units: str = "20") -> str:
    return f"{tid},p1,{on},C01,cosmetic,glabella,Botox,{units},{corrects},{'0' if corrects else '1900'}\n"


T1, T9, T2 = t_row("T1", "2024-03-05"), t_row("T9", "2024-03-15", "T1", "4"), t_row("T2", "2024-03-06")
F1, F2 = "F1,T1,2024-03-19,full\n", "F2,T2,2024-03-20,full\n"


@pytest.fixture
def stored(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", T_HEADER + T1 + T9 + T2)
    write(tmp_path / "f.csv", F_HEADER + F1 + F2)
    result = load_files([tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "f.csv"], db, today=TODAY)
    assert result.rows_rejected == 0
    return tmp_path


def treated_on(db) -> dict[str, dt.date]:
    return dict(query(db, "SELECT treatment_id, treated_on FROM treatments"))


def rejected(db) -> list[tuple]:
    return query(db, "SELECT file_name, row_number, record_id, column_name, reason FROM rejected_rows "
                     "WHERE status = 'pending' ORDER BY file_name, row_number")


def test_a_primary_moved_after_its_stored_correction_and_follow_up_is_rejected_and_kept(stored, db):
    # T1 moved after T9 and F1 (conflict); T2 moved a day, still before F2, and given 25 units (no conflict)
    write(stored / "again.csv", T_HEADER + t_row("T1", "2024-03-20") + t_row("T2", "2024-03-07", units="25"))
    result = load_files([stored / "again.csv"], db, today=TODAY)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert rejected(db) == [("again.csv", 2, "T1", "treated_on",
                             "treated_on: 2024-03-20 would put session T1 after its correction T9 (2024-03-15) "
                             "already stored (and 1 more); correct the date or re-export both")]
    assert treated_on(db)["T1"] == dt.date(2024, 3, 5), "the stored version stays"
    # the non-conflicting update still updates
    assert query(db, "SELECT treated_on, units FROM treatments WHERE treatment_id = 'T2'") == [
        (dt.date(2024, 3, 7), 25.0)]
    assert (result.sources[0].rows_updated, result.sources[0].rows_inserted) == (1, 0)


def test_a_primary_moved_after_its_stored_follow_up_only(stored, db):
    write(stored / "again.csv", T_HEADER + t_row("T2", "2024-03-21"))
    load_files([stored / "again.csv"], db, today=TODAY)
    assert rejected(db) == [("again.csv", 2, "T2", "treated_on",
                             "treated_on: 2024-03-21 would put session T2 after its follow-up F2 (2024-03-20) "
                             "already stored; correct the date or re-export both")]
    assert treated_on(db)["T2"] == dt.date(2024, 3, 6)


def test_moving_a_session_to_the_day_of_its_follow_up_or_earlier_is_no_conflict(stored, db):
    # same day as F2 (a contact on the day of the session is allowed), and T1 earlier than it was
    write(stored / "again.csv", T_HEADER + t_row("T2", "2024-03-20") + t_row("T1", "2024-03-01"))
    result = load_files([stored / "again.csv"], db, today=TODAY)
    assert result.rows_rejected == 0 and rejected(db) == []
    assert (treated_on(db)["T1"], treated_on(db)["T2"]) == (dt.date(2024, 3, 1), dt.date(2024, 3, 20))


def test_re_exporting_the_dependents_too_resolves_the_conflict(stored, db):
    write(stored / "t2.csv", T_HEADER + t_row("T1", "2024-03-20") + t_row("T9", "2024-03-27", "T1", "4"))
    write(stored / "f2.csv", F_HEADER + "F1,T1,2024-03-28,full\n")
    result = load_files([stored / "t2.csv", stored / "f2.csv"], db, today=TODAY)
    assert result.rows_rejected == 0
    assert (treated_on(db)["T1"], treated_on(db)["T9"]) == (dt.date(2024, 3, 20), dt.date(2024, 3, 27))
    assert query(db, "SELECT seen_on FROM follow_ups WHERE follow_up_id = 'F1'") == [(dt.date(2024, 3, 28),)]


def test_a_re_exported_dependent_that_is_itself_rejected_keeps_the_stored_one_in_force(stored, db):
    # T9 comes along with a later date but an impossible unit count: rejected, so the stored T9 (03-15) stays, and
    # T1 at 03-20 would be after it
    write(stored / "t2.csv", T_HEADER + t_row("T1", "2024-03-20") + t_row("T9", "2024-03-27", "T1", "0"))
    write(stored / "f2.csv", F_HEADER + "F1,T1,2024-03-28,full\n")
    load_files([stored / "t2.csv", stored / "f2.csv"], db, today=TODAY)
    assert rejected(db) == [
        ("t2.csv", 2, "T1", "treated_on", "treated_on: 2024-03-20 would put session T1 after its correction T9 "
                                          "(2024-03-15) already stored; correct the date or re-export both"),
        ("t2.csv", 3, "T9", "units", 'units: "0" must be greater than 0'),
    ]
    assert treated_on(db) == {"T1": dt.date(2024, 3, 5), "T9": dt.date(2024, 3, 15), "T2": dt.date(2024, 3, 6)}
    # F1's new version was judged against T1's new date, which is rejected; against the stored T1 it is in order
    assert query(db, "SELECT seen_on FROM follow_ups WHERE follow_up_id = 'F1'") == [(dt.date(2024, 3, 28),)]


def test_a_dependent_rejected_for_its_order_keeps_the_stored_one_and_so_rejects_the_session(stored, db):
    # T1 -> 03-20 and T9 -> 03-18: T9 is before the new T1 (rejected by the correction rule); the stored T9 (03-15)
    # then stays, and T1 at 03-20 would be after it: both rejected, nothing stored changes
    write(stored / "t2.csv", T_HEADER + t_row("T1", "2024-03-20") + t_row("T9", "2024-03-18", "T1", "4"))
    load_files([stored / "t2.csv"], db, today=TODAY)
    reasons = {r[2]: r[4] for r in rejected(db)}
    assert reasons == {
        "T9": "treated_on: the correction is dated 2024-03-18, before the session it corrects (T1, 2024-03-20)",
        "T1": "treated_on: 2024-03-20 would put session T1 after its correction T9 (2024-03-15) already stored "
              "(and 1 more); correct the date or re-export both",
    }
    assert treated_on(db) == {"T1": dt.date(2024, 3, 5), "T9": dt.date(2024, 3, 15), "T2": dt.date(2024, 3, 6)}


def test_the_symmetric_cases_are_still_judged_against_the_stored_session(stored, db):
    write(stored / "t2.csv", T_HEADER + t_row("T9", "2024-03-04", "T1", "4"))
    write(stored / "f2.csv", F_HEADER + "F2,T2,2024-03-05,full\n")
    load_files([stored / "t2.csv", stored / "f2.csv"], db, today=TODAY)
    assert [r[4] for r in rejected(db)] == [
        "seen_on: 2024-03-05 is before the treatment date 2024-03-06 of T2",
        "treated_on: the correction is dated 2024-03-04, before the session it corrects (T1, 2024-03-05)",
    ]


def test_a_retry_loads_the_session_once_its_dependents_have_moved(stored, db):
    write(stored / "again.csv", T_HEADER + t_row("T2", "2024-03-21"))
    load_files([stored / "again.csv"], db, today=TODAY)
    assert treated_on(db)["T2"] == dt.date(2024, 3, 6)
    write(stored / "f2.csv", F_HEADER + "F2,T2,2024-03-25,full\n")
    load_files([stored / "f2.csv"], db, today=TODAY)
    result = retry_pending(db, today=TODAY)
    assert result.rows_loaded == 1 and rejected(db) == []
    assert treated_on(db)["T2"] == dt.date(2024, 3, 21)


def test_the_data_quality_queries_list_the_conflicts(stored, db):
    write(stored / "again.csv", T_HEADER + t_row("T1", "2024-03-20") + t_row("T2", "2024-03-21")
          + "T3,p1,2024-03-05,C99,cosmetic,glabella,Botox,20,,1900\n")
    load_files([stored / "again.csv"], db, today=TODAY)
    con = duckdb.connect(str(db), read_only=True)
    try:
        summary = history.pending_summary(con)
        conflicts = history.stored_conflicts(con)
    finally:
        con.close()
    assert sorted(zip(summary.reason_kind, summary.rows_n, strict=True)) == [
        ("conflicts with stored rows", 2), ("unknown reference", 1)]
    assert list(conflicts.columns) == ["file_name", "row_number", "record_id", "rejected_value", "stored_value",
                                       "reason", "rejected_at"]
    assert [tuple(r) for r in conflicts[["file_name", "row_number", "record_id", "rejected_value",
                                         "stored_value"]].itertuples(index=False)] == [
        ("again.csv", 2, "T1", "2024-03-20", "2024-03-05"), ("again.csv", 3, "T2", "2024-03-21", "2024-03-06")]


def test_the_data_quality_page_lists_the_conflicts(stored, db, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from pipelines.demo.build import mark_as_demo

    write(stored / "again.csv", T_HEADER + t_row("T1", "2024-03-20"))
    result = load_files([stored / "again.csv"], db, today=TODAY)
    page_db = stored / "page" / "clinic.duckdb"
    page_db.parent.mkdir()
    page_db.write_bytes(db.read_bytes())
    con = duckdb.connect(str(page_db))
    mark_as_demo(con, result.load_id)  # demo mode serves only databases the demo made
    con.close()
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(page_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    at.query_params["lang"] = "en"
    at.switch_page("dashboard/pages/data_quality.py")
    at.run()
    st.cache_data.clear()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Re-exported rows that conflict with stored rows" in m.value for m in at.markdown)
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "Stored value (kept)" in f.columns)
    assert list(table["Record"]) == ["T1"]
    assert list(table["Stored value (kept)"]) == ["2024-03-05"] and list(table["Re-exported value"]) == ["2024-03-20"]
    summary = next(f for f in frames if "Kind of problem" in f.columns)
    assert list(summary["Kind of problem"]) == ["conflicts with stored rows (the stored version is kept)"]
