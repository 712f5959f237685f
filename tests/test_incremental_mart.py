"""The incremental outcome mart: a load recomputes only the sessions it touched (and the later sessions of the same
patients), and the mart it leaves is exactly the one a whole rebuild gives.

Each case loads data in two parts into one database and in one load into another, and compares every row and
column of `session_outcomes`. A small hand-made case also checks the flags the second part changes, by hand.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import CLINICIANS_CSV, ROOT, write

from pipelines.ingest.load import load_files
from pipelines.metrics import counting

TREATMENTS = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
              "price_nok,baseline_headache_days,baseline_hdss\n")
FOLLOW_UPS = "follow_up_id,treatment_id,seen_on,effect\n"
TODAY = dt.date(2024, 12, 31)


def mart_rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {counting.MART} ORDER BY treatment_id").fetchall()
    finally:
        con.close()


def mart_columns(db: Path, *columns: str) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = ", ".join(columns)
        return {r[0]: r[1:] for r in con.execute(
            f"SELECT treatment_id, {cols} FROM {counting.MART} ORDER BY treatment_id").fetchall()}
    finally:
        con.close()


def event_ids(db: Path, key: str, as_of: dt.date) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = counting.session_outcomes(con, key, as_of=as_of, only_denominator=False)
    finally:
        con.close()
    return sorted(frame.loc[frame["is_event"], "treatment_id"])


# --------------------------------------------------------------------------------------------------------------
# A small case, checked by hand
# --------------------------------------------------------------------------------------------------------------

# Part 1: patients pa, pb, px; pa and pb reviewed on day 14, with no effect; pb comes back on 1 April (B3).
PART1_TREATMENTS = [
    "A1,pa,2024-01-10,C01,cosmetic,glabella,Botox,20,,1900,,",
    "B1,pb,2024-01-12,C01,cosmetic,glabella,Botox,20,,1900,,",
    "X1,px,2024-01-15,C02,cosmetic,forehead,Botox,10,,1500,,",
    "B3,pb,2024-04-01,C01,cosmetic,glabella,Botox,20,,1900,,",
]
PART1_FOLLOW_UPS = ["RA1,A1,2024-01-24,none", "RB1,B1,2024-01-26,none"]
# Part 2: pa comes back (A2) and has A1 corrected (AC); the reviews RA1 and RB1 are corrected to full effect
# (replaced rows); pb comes back on 5 March (B2); A2 is reviewed with no effect; px turns out to have been treated
# before, in December (X0): X1, loaded in part 1 and not in this file, becomes a repeat treatment.
PART2_TREATMENTS = [
    "AC,pa,2024-01-24,C01,cosmetic,glabella,Botox,6,A1,0,,",
    "A2,pa,2024-03-01,C01,cosmetic,glabella,Botox,20,,1900,,",
    "B2,pb,2024-03-05,C02,cosmetic,glabella,Botox,20,,1900,,",
    "X0,px,2023-12-01,C02,cosmetic,forehead,Botox,10,,1500,,",
]
PART2_FOLLOW_UPS = ["RA1,A1,2024-01-24,full", "RB1,B1,2024-01-26,full", "RA2,A2,2024-03-15,none"]


def _files(folder: Path, treatments: list[str], follow_ups: list[str]) -> list[Path]:
    return [write(folder / "clinicians.csv", CLINICIANS_CSV),
            write(folder / "treatments.csv", TREATMENTS + "".join(r + "\n" for r in treatments)),
            write(folder / "follow_ups.csv", FOLLOW_UPS + "".join(r + "\n" for r in follow_ups))]


@pytest.fixture
def always_incremental(monkeypatch):
    """Take the incremental path however large a share of the sessions a load touches (the small cases touch
    most of theirs)."""
    monkeypatch.setattr(counting, "INCREMENTAL_MAX_SHARE", 1.0)


def test_two_parts_give_the_mart_of_one_load_small_case(tmp_path, always_incremental):
    two = tmp_path / "two" / "clinic.duckdb"
    first = load_files(_files(tmp_path / "p1", PART1_TREATMENTS, PART1_FOLLOW_UPS), two, today=TODAY)
    assert first.mart_build == "full" and first.rows_rejected == 0
    # before part 2, by hand: only B3 is a repeat (B1 is earlier); nobody responded, so none is eligible for
    # secondary non-response
    assert mart_columns(two, "is_repeat") == {"A1": (False,), "B1": (False,), "B3": (True,), "X1": (False,)}
    second = load_files(_files(tmp_path / "p2", PART2_TREATMENTS, PART2_FOLLOW_UPS), two, today=TODAY)
    assert second.mart_build == "incremental" and second.rows_rejected == 0

    # one load of everything: RA1 and RB1 in their corrected versions (full effect)
    one = tmp_path / "one" / "clinic.duckdb"
    whole = load_files(_files(tmp_path / "all", PART1_TREATMENTS + PART2_TREATMENTS, PART2_FOLLOW_UPS), one,
                       today=TODAY)
    assert whole.mart_build == "full" and whole.rows_rejected == 0
    assert mart_rows(two) == mart_rows(one)

    # by hand, after part 2: A2, B2, B3, X1 and the correction AC follow an earlier primary session of their
    # patient (repeats); AC is not primary. X1 changed only because an earlier session of its patient arrived.
    assert mart_columns(two, "is_repeat", "is_primary") == {
        "A1": (False, True), "A2": (True, True), "AC": (True, False), "B1": (False, True), "B2": (True, True),
        "B3": (True, True), "X0": (False, True), "X1": (True, True)}
    as_of = dt.date(2024, 6, 30)
    # A1 was corrected (AC, in part 2): a correction event on a part-1 session
    assert event_ids(two, "correction", as_of) == ["A1"]
    # secondary non-response: A2 is eligible only because RA1 was changed to full effect in part 2 (A1 responded),
    # and RA2 found no effect -> an event; B2 and B3 are eligible (B1 responded; B3 was loaded in part 1 and
    # changed only through RB1) but have no review; X1 is not (X0 was never reviewed)
    con = duckdb.connect(str(two), read_only=True)
    try:
        frame = counting.session_outcomes(con, "secondary_non_response", as_of=as_of, only_denominator=False)
    finally:
        con.close()
    assert sorted(frame["treatment_id"]) == ["A2", "B2", "B3"]
    assert frame.set_index("treatment_id")["is_event"].to_dict() == {"A2": True, "B2": False, "B3": False}


def test_only_the_touched_patients_are_recomputed(tmp_path, always_incremental):
    """The sessions recomputed: those written, those whose contacts or corrections were written, and the later
    sessions of the same patients; never another patient's."""
    db = tmp_path / "db" / "clinic.duckdb"
    load_files(_files(tmp_path / "p1", PART1_TREATMENTS, PART1_FOLLOW_UPS), db, today=TODAY)
    con = duckdb.connect(str(db))
    try:
        before = con.execute(f"SELECT treatment_id FROM {counting.MART} ORDER BY 1").fetchall()
        assert before == [("A1",), ("B1",), ("B3",), ("X1",)]
        # a follow-up of B1 replaced: B1 and pb's later session B3 are affected, A1 and X1 are not
        con.execute("CREATE TEMP TABLE changes (treatment_id VARCHAR, patient_ref VARCHAR, treated_on DATE, "
                    "corrects_treatment_id VARCHAR)").fetchall()
        con.execute("INSERT INTO changes (treatment_id) VALUES ('B1')").fetchall()
        assert counting._affected_sessions(con, "temp.main.changes") == 2
        assert sorted(con.execute("SELECT treatment_id FROM mart_affected").fetchall()) == [("B1",), ("B3",)]
        # a new correction of A1 by patient pa, dated 2024-01-24: A1 (corrected) and pa's sessions from 10 Jan on
        con.execute("DELETE FROM changes").fetchall()
        con.execute("INSERT INTO changes VALUES ('AC', 'pa', DATE '2024-01-24', 'A1')").fetchall()
        assert counting._affected_sessions(con, "temp.main.changes") == 2
        assert sorted(con.execute("SELECT treatment_id FROM mart_affected").fetchall()) == [("A1",), ("AC",)]
        assert counting.build_mart(con, "temp.main.changes") == "incremental"
        con.execute("DELETE FROM changes").fetchall()
        assert counting.build_mart(con, "temp.main.changes") == "unchanged"
        # the shadow tables are gone: the loader's own tables are what `treatments` names again
        assert con.execute("SELECT count(*) FROM treatments").fetchall() == [(4,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name IN "
                           "('treatments', 'follow_ups')").fetchall() == [(0,)]
    finally:
        con.close()


def test_a_changed_definition_or_product_rebuilds_whole(tmp_path, always_incremental, monkeypatch):
    db = tmp_path / "db" / "clinic.duckdb"
    load_files(_files(tmp_path / "p1", PART1_TREATMENTS, PART1_FOLLOW_UPS), db, today=TODAY)
    con = duckdb.connect(str(db))
    try:
        con.execute("CREATE TEMP TABLE changes (treatment_id VARCHAR, patient_ref VARCHAR, treated_on DATE, "
                    "corrects_treatment_id VARCHAR)").fetchall()
        assert counting.build_mart(con, "temp.main.changes") == "unchanged"
        con.execute("UPDATE products SET botox_equivalent_factor = botox_equivalent_factor * 2").fetchall()
        assert counting.build_mart(con, "temp.main.changes") == "full"
        monkeypatch.setattr(counting, "_fingerprint_cached", lambda: "another definition")
        assert counting.build_mart(con, "temp.main.changes") == "full"
        assert counting.build_mart(con, None) == "full"
    finally:
        con.close()


def test_a_patient_moved_to_another_patient_recomputes_both(tmp_path, always_incremental):
    """A replaced session that names another patient: the old patient's later sessions lose it from their history,
    the new patient's gain it."""
    rows = ["M1,pm,2024-01-10,C01,cosmetic,glabella,Botox,20,,1900,,",
            "M2,pm,2024-03-10,C01,cosmetic,glabella,Botox,20,,1900,,",
            "N2,pn,2024-03-12,C01,cosmetic,glabella,Botox,20,,1900,,"]
    two = tmp_path / "two" / "clinic.duckdb"
    load_files(_files(tmp_path / "p1", rows, ["RM1,M1,2024-01-24,full"]), two, today=TODAY)
    assert mart_columns(two, "is_repeat") == {"M1": (False,), "M2": (True,), "N2": (False,)}
    moved = ["M1,pn,2024-01-10,C01,cosmetic,glabella,Botox,20,,1900,,"]
    second = load_files(_files(tmp_path / "p2", moved, []), two, today=TODAY)
    assert second.mart_build == "incremental"
    # by hand: M1 is now pn's, so M2 has no earlier session and N2 has one
    assert mart_columns(two, "is_repeat") == {"M1": (False,), "M2": (False,), "N2": (True,)}
    one = tmp_path / "one" / "clinic.duckdb"
    load_files(_files(tmp_path / "all", moved + rows[1:], ["RM1,M1,2024-01-24,full"]), one, today=TODAY)
    assert mart_rows(two) == mart_rows(one)


# --------------------------------------------------------------------------------------------------------------
# A generated demo case: three years, then the newest year's files (with late reviews and corrections of
# sessions loaded before) as a second load
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_exports(tmp_path_factory) -> Path:
    from pipelines.demo.generate import write_demo_exports

    folder = tmp_path_factory.mktemp("demo-exports")
    write_demo_exports(folder, n_treatments=3000, seed=11, end_date=dt.date(2026, 6, 30))
    return folder


@pytest.mark.parametrize("share", [1.0, counting.INCREMENTAL_MAX_SHARE])
def test_two_parts_give_the_mart_of_one_load_demo(demo_exports, tmp_path, monkeypatch, share):
    monkeypatch.setattr(counting, "INCREMENTAL_MAX_SHARE", share)
    files = sorted(demo_exports.glob("*.csv"))
    newest = [p for p in files if p.stem.endswith("2026")]
    assert len(newest) == 2 and len(files) > 4
    part1 = [p for p in files if p not in newest]
    two = tmp_path / "two" / "clinic.duckdb"
    column_map = ROOT / "data" / "column_map_nb.csv"  # the Norwegian headers of the oldest files
    load_files(part1, two, column_map=column_map, today=dt.date(2026, 7, 1))
    # the second part: the newest year, and an earlier year's follow-ups again (identical rows: nothing to do)
    second = load_files(newest + [p for p in part1 if p.stem == "follow_ups_2025"], two, column_map=column_map,
                        today=dt.date(2026, 7, 1))
    assert second.mart_build == "incremental"
    con = duckdb.connect(str(two), read_only=True)
    try:
        # the newest year reaches back: reviews and corrections of sessions loaded in the first part
        reaching_back = con.execute(
            """SELECT count(*) FROM follow_ups f JOIN treatments t USING (treatment_id)
               WHERE f.seen_on >= DATE '2026-01-01' AND t.treated_on < DATE '2026-01-01'""").fetchall()[0][0]
        repeats = con.execute("SELECT count(*) FROM session_outcomes WHERE treated_on >= DATE '2026-01-01' "
                              "AND is_repeat").fetchall()[0][0]
    finally:
        con.close()
    assert reaching_back > 0 and repeats > 0
    one = tmp_path / "one" / "clinic.duckdb"
    whole = load_files(files, one, column_map=column_map, today=dt.date(2026, 7, 1))
    assert whole.mart_build == "full"
    assert len(mart_rows(one)) > 2500
    assert mart_rows(two) == mart_rows(one)


def test_retry_keeps_the_mart_whole_rebuild_equal(tmp_path, always_incremental):
    """retry_pending goes through the same upsert and so the same incremental mart."""
    from pipelines.ingest.retry import retry_pending

    db = tmp_path / "db" / "clinic.duckdb"
    # B2 names an unknown clinician C09 and is rejected; once C09 is loaded, retry loads it
    rows = PART1_TREATMENTS + ["B2,pb,2024-03-05,C09,cosmetic,glabella,Botox,20,,1900,,"]
    first = load_files(_files(tmp_path / "p1", rows, PART1_FOLLOW_UPS), db, today=TODAY)
    assert first.rows_rejected == 1
    load_files([write(tmp_path / "p2" / "clinicians.csv", "clinician,profession,cost_per_minute_nok\n"
                      "C09,lege,30\n")], db, today=TODAY)
    retried = retry_pending(db, today=TODAY)
    assert retried.rows_loaded == 1
    assert mart_columns(db, "is_repeat")["B2"] == (True,)
    one = tmp_path / "one" / "clinic.duckdb"
    load_files([write(tmp_path / "all" / "clinicians.csv", CLINICIANS_CSV + "C09,lege,30\n"),
                *_files(tmp_path / "all2", rows, PART1_FOLLOW_UPS)[1:]], one, today=TODAY)
    assert mart_rows(db) == mart_rows(one)
    shutil.rmtree(tmp_path / "all", ignore_errors=True)
