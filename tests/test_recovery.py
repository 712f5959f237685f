"""Recovery: `retry` gives rejected rows another chance; `snapshots` and `restore` put an earlier snapshot back.

The figures (scenarios run, rows retried / resolved, restores) go to docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import duckdb
import pytest
from conftest import CLINICIANS_CSV, ROOT, TODAY, TREATMENT_HEADER, query, write
from corpus import report

from pipelines.__main__ import main
from pipelines.ingest import history
from pipelines.ingest.load import load_files
from pipelines.ingest.recovery import list_versions, restore
from pipelines.ingest.retry import retry_pending
from pipelines.ingest.store import DbPaths, LoadBusyError, load_lock
from pipelines.metrics import counting, registry

STATS = {"scenarios": 0, "retried": 0, "resolved": 0, "restores": 0, "rows_lost": 0, "crashes": 0}

T_FILE = (TREATMENT_HEADER.strip() + ",corrects_treatment_id\n"
          "T1,p1,2024-03-05,C01,cosmetic,glabella,Botox,20,1900,\n"
          "T2,p2,2024-03-06,C03,cosmetic,glabella,Botox,20,1900,\n"   # unknown clinician C03 (for now)
          "T3,p3,2024-03-06,C03,cosmetic,glabella,Botox,-1,1900,\n"   # bad units, and C03
          "T4,p4,2024-03-20,C01,cosmetic,glabella,Botox,4,0,T2\n"     # corrects T2, rejected for now
          "T5,too,few\n")                                             # malformed
F_FILE = ("follow_up_id,treatment_id,seen_on,effect\n"
          "F1,T1,2024-03-19,full\n"
          "F2,T2,2024-03-19,partial\n"   # T2 not loaded yet
          "F3,T2,2024-03-01,partial\n")  # T2 not loaded yet, and (once it is) dated before it
C03 = "clinician,profession,cost_per_minute_nok\nC03,tannlege,25\n"


@pytest.fixture
def rejected_db(tmp_path, db):
    """Clinicians C01, C02 loaded with a treatments file naming C03, which is not in the clinicians file yet."""
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", T_FILE)
    write(tmp_path / "f.csv", F_FILE)
    load_files([tmp_path / "f.csv", tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    write(tmp_path / "c3.csv", C03)
    return db


def statuses(db):
    return query(db, "SELECT file_name, row_number, record_id, status, resolved_load_id, reason FROM rejected_rows "
                     "ORDER BY file_name, row_number")


def mart_is_current(db) -> bool:
    """The published outcome mart (built by every publish) equals its definition computed live on the same data."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        as_of = con.execute("SELECT as_of FROM mart_info").fetchall()[0][0]
        live = con.execute(f"SELECT * FROM ({counting.per_session_sql(list(registry.OUTCOMES))}) ORDER BY ALL",
                           {"as_of": as_of}).fetchall()
        return live == con.execute(f"SELECT * FROM {counting.MART} ORDER BY ALL").fetchall() and len(live) > 0
    finally:
        con.close()


def counted(result) -> None:
    STATS["scenarios"] += 1
    STATS["retried"] += result.rows_retried
    STATS["resolved"] += result.rows_loaded
    STATS["rows_lost"] += result.rows_retried - result.rows_loaded - result.rows_still_pending


def test_retry_loads_rows_once_the_missing_clinician_is_loaded(rejected_db, tmp_path, capsys):
    db = rejected_db
    load_files([tmp_path / "c3.csv"], db, today=TODAY)
    version_before = query(db, "SELECT version FROM snapshot_info")[0][0]
    result = retry_pending(db, today=TODAY)
    counted(result)
    assert [(s.name, s.table, s.rows_retried, s.rows_loaded, s.rows_still_pending) for s in result.sources] == [
        ("t.csv", "treatments", 3, 2, 1), ("f.csv", "follow_ups", 2, 1, 1)]
    assert result.version == version_before + 1
    assert query(db, "SELECT treatment_id, clinician, corrects_treatment_id, source_file, source_row, load_id "
                     "FROM treatments ORDER BY 1") == [
        ("T1", "C01", None, "t.csv", 2, 1), ("T2", "C03", None, "t.csv", 3, result.load_id),
        ("T4", "C01", "T2", "t.csv", 5, result.load_id)]
    assert query(db, "SELECT follow_up_id FROM follow_ups ORDER BY 1") == [("F1",), ("F2",)]
    assert mart_is_current(db)  # the retried sessions count in the published metrics
    assert statuses(db) == [
        ("f.csv", 3, "F2", "resolved", result.load_id,
         'treatment_id: follow-up for unknown treatment "T2" (load the treatments file first; the row is kept and '
         'can be retried)'),
        # still pending, with the reason brought up to date: T2 is known now, but F3 is dated before it
        ("f.csv", 4, "F3", "pending", None, "seen_on: 2024-03-01 is before the treatment date 2024-03-06 of T2"),
        ("t.csv", 3, "T2", "resolved", result.load_id,
         'clinician: unknown clinician code "C03" (not in the clinicians table; check for a typo or load the '
         'clinicians file first)'),
        ("t.csv", 4, "T3", "pending", None, 'units: "-1" must be greater than 0'),
        ("t.csv", 5, "T4", "resolved", result.load_id,
         'corrects_treatment_id: corrects unknown treatment "T2" (load the session it corrects first; the row is '
         'kept and can be retried)'),
        ("t.csv", 6, None, "pending", None, "the row has fewer fields than the header"),
    ]
    assert query(db, "SELECT load_id, file_name, table_name, source_format, rows_read, rows_loaded, rows_rejected, "
                     "status FROM load_log WHERE status = 'retry' ORDER BY file_name DESC") == [
        (result.load_id, "t.csv", "treatments", "retry", 3, 2, 1, "retry"),
        (result.load_id, "f.csv", "follow_ups", "retry", 2, 1, 1, "retry")]


def test_retry_cli_output_and_malformed_rows(rejected_db, tmp_path, capsys):
    db = rejected_db
    load_files([tmp_path / "c3.csv"], db, today=TODAY)
    rc = main(["retry", "--db", str(db)])
    out, err = capsys.readouterr()
    STATS["scenarios"] += 1
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[:5] == [
        "t.csv (treatments): 3 retried, 2 loaded, 1 still pending [new 2, updated 0, unchanged 0]",
        "f.csv (follow_ups): 2 retried, 1 loaded, 1 still pending [new 1, updated 0, unchanged 0]",
        "  still pending: f.csv row 4: seen_on: 2024-03-01 is before the treatment date 2024-03-06 of T2",
        '  still pending: t.csv row 4: units: "-1" must be greater than 0',
        "1 malformed row(s) cannot be retried (the line could not be split into the header's columns); correct them "
        "in the file and load it again: t.csv row 6",
    ]
    assert lines[5] == "total: 5 retried, 3 loaded, 2 still pending"
    assert lines[6].startswith(f"published {db} (snapshot ")
    # again: nothing can change now, so nothing is published
    published = hashlib.sha256(db.read_bytes()).hexdigest()
    assert main(["retry", "--db", str(db)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-2:] == ["total: 2 retried, 0 loaded, 2 still pending",
                                     "nothing changed; nothing was published"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == published


def test_retry_before_the_reference_data_arrives_changes_nothing(rejected_db):
    before = statuses(rejected_db), query(rejected_db, "SELECT version FROM snapshot_info")
    result = retry_pending(rejected_db, today=TODAY)
    counted(result)
    assert (result.rows_retried, result.rows_loaded, result.version) == (5, 0, None)
    assert (statuses(rejected_db), query(rejected_db, "SELECT version FROM snapshot_info")) == before


def test_retry_is_all_or_nothing(rejected_db, tmp_path, monkeypatch):
    import pipelines.ingest.store as store

    load_files([tmp_path / "c3.csv"], rejected_db, today=TODAY)
    before = statuses(rejected_db), query(rejected_db, "SELECT * FROM treatments ORDER BY ALL")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "bump_snapshot", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        retry_pending(rejected_db, today=TODAY)
    monkeypatch.undo()
    assert (statuses(rejected_db), query(rejected_db, "SELECT * FROM treatments ORDER BY ALL")) == before
    counted(retry_pending(rejected_db, today=TODAY))  # the working database rolled back too: a retry still works
    assert query(rejected_db, "SELECT count(*) FROM treatments")[0][0] == 3


def test_an_older_rejected_version_never_overrides_a_newer_one(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "jan.csv", TREATMENT_HEADER + "T7,p7,2024-03-05,C03,cosmetic,glabella,Botox,20,1900\n")
    write(tmp_path / "feb.csv", TREATMENT_HEADER + "T7,p7,31.02.2024,C03,cosmetic,glabella,Botox,25,1900\n")
    load_files([tmp_path / "c.csv", tmp_path / "jan.csv"], db, today=TODAY)
    load_files([tmp_path / "feb.csv"], db, today=TODAY)
    write(tmp_path / "c3.csv", C03)
    load_files([tmp_path / "c3.csv"], db, today=TODAY)
    result = retry_pending(db, today=TODAY)
    counted(result)
    # only February's (newer) T7 is retried; it still fails, and January's never loads over it
    assert (result.rows_retried, result.rows_loaded, result.waiting_behind_newer) == (1, 0, 1)
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 0
    # a corrected export loads and supersedes both
    write(tmp_path / "mar.csv", TREATMENT_HEADER + "T7,p7,2024-02-28,C03,cosmetic,glabella,Botox,25,1900\n")
    load_files([tmp_path / "mar.csv"], db, today=TODAY)
    assert query(db, "SELECT file_name, status FROM rejected_rows ORDER BY 1") == [
        ("feb.csv", "superseded"), ("jan.csv", "superseded")]


def test_conflicting_copies_stay_pending_when_retried(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", TREATMENT_HEADER + "T8,p8,2024-03-05,C03,cosmetic,glabella,Botox,20,1900\n"
                                                 "T8,p8,2024-03-05,C03,cosmetic,glabella,Botox,30,1900\n")
    load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    write(tmp_path / "c3.csv", C03)
    load_files([tmp_path / "c3.csv"], db, today=TODAY)
    result = retry_pending(db, today=TODAY)
    counted(result)
    assert (result.rows_retried, result.rows_loaded) == (2, 0)
    assert {r[0] for r in query(db, "SELECT reason FROM rejected_rows")} == {
        "treatment_id: T8 appears more than once in this load with different content (t.csv row 2, t.csv row 3); "
        "keep one version"}


def test_pending_summary_counts_by_table_and_kind(rejected_db):
    con = duckdb.connect(str(rejected_db), read_only=True)
    frame = history.pending_summary(con)
    con.close()
    assert frame[["table_name", "reason_kind", "rows_n", "files_n"]].values.tolist() == [
        ["follow_ups", "unknown reference", 2, 1],
        ["treatments", "unknown reference", 2, 1],
        ["treatments", "invalid value", 1, 1],
        ["treatments", "malformed", 1, 1],
    ]


def test_retry_without_a_database(tmp_path, capsys):
    assert main(["retry", "--db", str(tmp_path / "none" / "clinic.duckdb")]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: no database at {tmp_path / 'none' / 'clinic.duckdb'}; load the exports first with "
                   "`python -m pipelines load FILE...`\n")


# --------------------------------------------------------------------------------------------------------------
# snapshots and restore
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def three_versions(tmp_path, db):
    """v1: clinicians; v2: + 2 treatments; v3: + 1 treatment."""
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t1.csv", TREATMENT_HEADER + "T1,p1,2024-03-05,C01,cosmetic,glabella,Botox,20,1900\n"
                                                  "T2,p2,2024-03-06,C02,cosmetic,glabella,Botox,20,1900\n")
    write(tmp_path / "t2.csv", TREATMENT_HEADER + "T3,p3,2024-03-07,C01,cosmetic,glabella,Botox,20,1900\n")
    for f in ("c.csv", "t1.csv", "t2.csv"):
        load_files([tmp_path / f], db, today=TODAY)
    return db


def data_state(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("clinicians", "product_prices", "treatments", "follow_ups", "rejected_rows")}
    finally:
        con.close()


def test_snapshots_lists_versions_with_row_counts(three_versions, capsys):
    assert [(e.version, e.rows["treatments"], e.is_published) for e in list_versions(three_versions)] == [
        (1, 0, False), (2, 2, False), (3, 3, True)]
    assert main(["snapshots", "--db", str(three_versions)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # issue 12: the process_changes and targets tables have their columns too
    assert lines[0] == ("version  published at             clinicians  product_prices      treatments      "
                        "follow_ups  process_changes         targets  pending rejected")
    assert [line[:7].strip() for line in lines[1:]] == ["3", "2", "1"]
    assert lines[1].endswith("  (published)") and lines[1].split()[3:10] == ["2", "0", "3", "0", "0", "0", "0"]
    assert lines[3].split()[3:10] == ["2", "0", "0", "0", "0", "0", "0"]


def test_restore_republishes_an_old_snapshot_and_the_next_load_continues_from_it(three_versions, tmp_path, capsys):
    db = three_versions
    paths = DbPaths(db)
    v2 = data_state(paths.snapshots / "clinic-v000002.duckdb")
    snapshot_bytes = hashlib.sha256((paths.snapshots / "clinic-v000002.duckdb").read_bytes()).hexdigest()
    assert main(["restore", "2", "--db", str(db)]) == 0
    STATS["restores"] += 1
    assert capsys.readouterr().out.splitlines() == [
        "restored snapshot 2 as snapshot 4: clinicians 2, product_prices 0, treatments 2, follow_ups 0, "
        "process_changes 0, targets 0",
        f"published {db}; the next load continues from it"]
    assert data_state(db) == v2 and mart_is_current(db)
    assert query(db, "SELECT version, last_load_id FROM snapshot_info") == [(4, 4)]
    assert query(db, "SELECT load_id, file_name, status FROM load_log WHERE load_id = 4") == [
        (4, "clinic-v000002.duckdb", "restored v2")]
    # the snapshot restored from is untouched, and the restore is itself a kept snapshot
    assert hashlib.sha256((paths.snapshots / "clinic-v000002.duckdb").read_bytes()).hexdigest() == snapshot_bytes
    assert [e.version for e in list_versions(db)] == [1, 2, 3, 4]
    # the working database matches: the next load continues from v2, not from v3
    write(tmp_path / "t4.csv", TREATMENT_HEADER + "T4,p4,2024-03-08,C01,cosmetic,glabella,Botox,20,1900\n")
    result = load_files([tmp_path / "t4.csv"], db, today=TODAY)
    assert (result.version, result.load_id) == (5, 5)
    assert query(db, "SELECT treatment_id FROM treatments ORDER BY 1") == [("T1",), ("T2",), ("T4",)]


def test_restore_of_an_unknown_version(three_versions, capsys):
    before = hashlib.sha256(three_versions.read_bytes()).hexdigest()
    assert main(["restore", "9", "--db", str(three_versions)]) == 1
    assert capsys.readouterr().err == (
        f"error: there is no snapshot 9 in {DbPaths(three_versions).snapshots} (kept: 1, 2, 3); list them with "
        "`python -m pipelines snapshots`\n")
    assert hashlib.sha256(three_versions.read_bytes()).hexdigest() == before


def test_restore_waits_for_a_running_load(three_versions):
    with load_lock(DbPaths(three_versions)):
        with pytest.raises(LoadBusyError, match="another load is still running"):
            restore(1, three_versions, wait_seconds=0.2)
    assert query(three_versions, "SELECT version FROM snapshot_info") == [(3,)]


def test_restore_drops_a_write_ahead_log_left_by_a_killed_load(three_versions, tmp_path):
    """A WAL of the old working database must never be replayed onto the restored one."""
    paths = DbPaths(three_versions)
    wal = paths.work.with_name(paths.work.name + ".wal")
    # a killed load's log: make one by writing a row and dying without a checkpoint
    code = ("import duckdb, os; con = duckdb.connect(os.environ['WORK']); con.execute('SET checkpoint_threshold = "
            "\"1GB\"'); con.execute(\"INSERT INTO clinicians VALUES ('Z99', 'lege', 1, 99, 'x', 1)\"); os._exit(9)")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "WORK": str(paths.work)})
    assert proc.returncode == 9 and wal.exists()
    restore(1, three_versions)
    STATS["restores"] += 1
    assert not wal.exists()
    assert query(three_versions, "SELECT clinician FROM clinicians ORDER BY 1") == [("C01",), ("C02",)]
    write(tmp_path / "c4.csv", "clinician,profession,cost_per_minute_nok\nC04,lege,30\n")
    load_files([tmp_path / "c4.csv"], three_versions, today=TODAY)
    assert query(three_versions, "SELECT clinician FROM clinicians ORDER BY 1") == [("C01",), ("C02",), ("C04",)]


def test_a_restore_that_dies_before_the_swap_changes_nothing(three_versions, tmp_path, monkeypatch):
    import pipelines.ingest.recovery as recovery

    before = data_state(three_versions), data_state(DbPaths(three_versions).work)

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(recovery.os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        restore(1, three_versions)
    monkeypatch.undo()
    assert (data_state(three_versions), data_state(DbPaths(three_versions).work)) == before
    assert not [p for p in three_versions.parent.iterdir() if p.name.endswith(".tmp")]
    write(tmp_path / "c4.csv", "clinician,profession,cost_per_minute_nok\nC04,lege,30\n")
    assert load_files([tmp_path / "c4.csv"], three_versions, today=TODAY).version == 4


def test_a_damaged_working_database_is_reported_in_one_line_and_restore_repairs_it(three_versions, tmp_path,
                                                                                   capsys):
    work = DbPaths(three_versions).work
    work.write_bytes(work.read_bytes()[:5000])  # e.g. a disk that filled up
    write(tmp_path / "c4.csv", "clinician,profession,cost_per_minute_nok\nC04,lege,30\n")
    assert main(["load", str(tmp_path / "c4.csv"), "--db", str(three_versions)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: database error (IO Error: ") and err.count("\n") == 1
    assert err.endswith("nothing was published. If the working database is damaged, put a kept snapshot back "
                        "with `python -m pipelines restore VERSION` (list them with `python -m pipelines snapshots`)\n")
    assert main(["restore", "3", "--db", str(three_versions)]) == 0
    STATS["restores"] += 1
    assert main(["load", str(tmp_path / "c4.csv"), "--db", str(three_versions)]) == 0
    assert query(three_versions, "SELECT count(*) FROM treatments")[0][0] == 3
    assert query(three_versions, "SELECT clinician FROM clinicians ORDER BY 1") == [("C01",), ("C02",), ("C04",)]


def test_cli_subprocess_has_no_traceback(three_versions):
    env = {**os.environ, "CLINIC_DB": str(three_versions)}
    for args in (["snapshots"], ["restore", "1"], ["retry"], ["restore", "77"]):
        run = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True)
        STATS["crashes"] += "Traceback" in run.stderr
        assert "Traceback" not in run.stderr and run.returncode == (1 if args == ["restore", "77"] else 0), run.stderr
    STATS["restores"] += 1


def test_reliability_section():
    """Runs last in this file: writes the recovery section of docs/reliability.md."""
    assert STATS["scenarios"] >= 6 and STATS["restores"] >= 3, "run the whole file to write the report"
    body = (
        "`python -m pipelines retry` re-validates pending rejected rows once the reference data they lacked has been "
        "loaded; `snapshots` lists the kept snapshots; `restore VERSION` republishes one as a new version and makes "
        "the working database match it.\n\n"
        + report.table(["", "count"], [
            ["retry scenarios (missing clinician, missing session, older vs newer version, conflicting copies, "
             "failure midway, nothing to do)", STATS["scenarios"]],
            ["rejected rows retried", STATS["retried"]],
            ["of which loaded now (resolved)", STATS["resolved"]],
            ["retried rows neither loaded nor still pending (lost)", STATS["rows_lost"]],
            ["restores (incl. over a killed load's write-ahead log, and via the CLI)", STATS["restores"]],
            ["tracebacks from the CLI", STATS["crashes"]],
        ])
    )
    report.write_section("recovery", body, {
        "tried": f"{STATS['scenarios']} retry scenarios ({STATS['retried']} rows), {STATS['restores']} restores",
        "rows_lost": STATS["rows_lost"], "crashes": STATS["crashes"], **STATS})
    assert STATS["rows_lost"] == 0 and STATS["crashes"] == 0
