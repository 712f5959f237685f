"""End-to-end loads: the golden fixture, the nothing-lost invariant, idempotency, all-or-nothing, publishing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import duckdb
import pytest
from conftest import CLINICIANS_CSV, ROOT, TODAY, TREATMENT_HEADER, query, write

from pipelines.ingest.load import load_files
from pipelines.ingest.read import InputError
from pipelines.ingest.store import DbPaths

MAP = ROOT / "data" / "column_map_nb.csv"


def load_golden(golden, db, **kw):
    files = [golden / "follow_ups.csv", golden / "behandlinger.csv", golden / "clinicians.csv",
             golden / "product_prices.csv"]
    return load_files(files, db, column_map=MAP, today=TODAY, **kw)


def test_golden_load_counts_per_file(golden, db):
    result = load_golden(golden, db)
    by_name = {s.name: s for s in result.sources}
    # applied in dependency order whatever order the files were named in
    assert [s.table for s in result.sources] == ["clinicians", "product_prices", "treatments", "follow_ups"]
    assert (by_name["clinicians.csv"].rows_read, by_name["clinicians.csv"].rows_loaded) == (3, 3)
    assert (by_name["behandlinger.csv"].rows_read, by_name["behandlinger.csv"].rows_loaded,
            by_name["behandlinger.csv"].rows_rejected) == (5, 4, 1)
    assert (by_name["follow_ups.csv"].rows_read, by_name["follow_ups.csv"].rows_loaded,
            by_name["follow_ups.csv"].rows_rejected) == (6, 3, 3)
    assert result.rows_read == result.rows_loaded + result.rows_rejected == 18


def test_golden_load_typed_values(golden, db):
    load_golden(golden, db)
    rows = query(db, "SELECT treatment_id, patient_ref, treated_on, clinician, indication, areas, product, units, "
                     "corrects_treatment_id, price_nok, minutes, baseline_headache_days, source_row "
                     "FROM treatments ORDER BY treatment_id")
    assert rows == [
        ("T001", "p_a1", dt.date(2024, 3, 5), "C01", "cosmetic", "forehead|glabella", "Botox", 40.0, None, 2900.0,
         20.0, None, 2),
        ("T002", "p_b2", dt.date(2024, 3, 6), "ÅSH", "cosmetic", "crows_feet", "Azzalure", 60.5, None, 1900.0,
         15.0, None, 3),
        ("T003", "p_a1", dt.date(2024, 3, 19), "C01", "cosmetic", "glabella", "Botox", 6.0, "T001", 0.0, 10.0,
         None, 4),
        ("T004", "p_c3", dt.date(2024, 3, 7), "C02", "migraine", "head_neck", "Botox", 155.0, None, 3900.0, 30.0,
         18.0, 5),
    ]
    follow = query(db, "SELECT follow_up_id, effect, asymmetry, eyelid_ptosis, bruising, headache_days, "
                       "satisfaction FROM follow_ups ORDER BY 1")
    assert follow == [("F001", "partial", False, True, False, None, 3),
                      ("F002", "full", True, False, True, None, 4),
                      ("F003", "full", False, False, False, 8.5, 5)]
    assert query(db, "SELECT clinician, cost_per_minute_nok FROM clinicians ORDER BY 1") == [
        ("C01", 30.0), ("C02", 20.0), ("ÅSH", 22.5)]


def test_golden_rejected_rows_name_file_row_column_and_reason(golden, db):
    load_golden(golden, db)
    rows = query(db, "SELECT file_name, row_number, record_id, column_name, reason, status FROM rejected_rows "
                     "ORDER BY file_name, row_number")
    assert [r[:4] for r in rows] == [
        ("behandlinger.csv", 6, "T005", "treated_on"),
        ("follow_ups.csv", 5, "F004", "treatment_id"),
        ("follow_ups.csv", 6, "F005", "seen_on"),
        ("follow_ups.csv", 7, "F006", "asymmetry"),
    ]
    reasons = {r[2]: r[4] for r in rows}
    assert reasons["T005"] == (
        'treated_on: "31.02.2024" is not a real date (write 2024-03-05 or 05.03.2024); '
        'areas: "chin" is not a known area (glabella, forehead, crows_feet, other_face, masseter, axillae, palms, '
        'head_neck); product: "Botax" is not one of: Botox, Vistabel, Bocouture, Xeomin, Letybo, Azzalure, '
        'Dysport, Alluzience, Relfydess; units: "-5" must be greater than 0; minutes: "abc" is not a number; '
        'clinician: unknown clinician code "C7" (not in the clinicians table; check for a typo or load the '
        'clinicians file first)')
    assert reasons["F004"] == ('treatment_id: follow-up for unknown treatment "T999" (load the treatments file '
                               'first; the row is kept and can be retried)')
    assert reasons["F005"] == "seen_on: 2024-03-01 is before the treatment date 2024-03-06 of T002"
    assert reasons["F006"] == ('asymmetry: "maybe" is not yes/no (write yes/no, ja/nei, true/false or 1/0); '
                               'satisfaction: "9" is above the maximum 5')
    assert {r[5] for r in rows} == {"pending"}
    # the raw values are kept so the row can be corrected and retried
    raw = query(db, "SELECT raw_values FROM rejected_rows WHERE record_id = 'T005'")[0][0]
    assert '"treated_on":"31.02.2024"' in raw and '"clinician":"C7"' in raw


def test_load_log_records_each_file(golden, db):
    load_golden(golden, db)
    log = query(db, "SELECT file_name, table_name, rows_read, rows_loaded, rows_rejected, encoding, delimiter, "
                    "length(file_sha256) FROM load_log ORDER BY table_name")
    assert log == [
        ("clinicians.csv", "clinicians", 3, 3, 0, "utf-8", ",", 64),
        ("follow_ups.csv", "follow_ups", 6, 3, 3, "utf-8", ",", 64),
        ("product_prices.csv", "product_prices", 4, 4, 0, "utf-8", ",", 64),
        ("behandlinger.csv", "treatments", 5, 4, 1, "cp1252", ";", 64),
    ]


def _data_state(db):
    tables = ["clinicians", "product_prices", "treatments", "follow_ups"]
    state = {t: query(db, f"SELECT * EXCLUDE (load_id) FROM {t} ORDER BY ALL") for t in tables}
    state["rejected"] = query(db, "SELECT file_name, row_number, reason, status FROM rejected_rows ORDER BY ALL")
    return state


def test_loading_twice_changes_nothing(golden, db):
    load_golden(golden, db)
    before = _data_state(db)
    second = load_golden(golden, db)
    assert _data_state(db) == before
    assert sum(s.rows_inserted + s.rows_updated for s in second.sources) == 0
    assert sum(s.rows_unchanged for s in second.sources) == 3 + 4 + 4 + 3


def test_reexport_with_corrected_rows_updates_them(golden, db, tmp_path):
    load_golden(golden, db)
    fixed = write(tmp_path / "fix.csv", "follow_up_id,treatment_id,seen_on,effect,asymmetry,satisfaction\n"
                                        "F002,T002,2024-03-20,partial,no,2\n"
                                        "F006,T002,2024-03-21,full,no,4\n")
    result = load_files([fixed], db, today=TODAY)
    s = result.sources[0]
    assert (s.rows_inserted, s.rows_updated, s.rows_unchanged) == (1, 1, 0)
    assert query(db, "SELECT effect, asymmetry, satisfaction FROM follow_ups WHERE follow_up_id = 'F002'") == [
        ("partial", False, 2)]
    # the earlier rejected version of F006 is no longer pending
    assert query(db, "SELECT status, resolved_load_id FROM rejected_rows WHERE record_id = 'F006'") == [
        ("superseded", result.load_id)]


def test_messy_file_loaded_plus_rejected_equals_read(db, tmp_path):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    lines = [TREATMENT_HEADER.strip()]
    expected_bad = 0
    for i in range(200):
        bad = i % 7 == 3
        expected_bad += bad
        units = "-1" if bad else str(10 + i % 30)
        lines.append(f"T{i},p{i % 50},2024-0{1 + i % 9}-1{i % 10},C0{1 + i % 2},cosmetic,glabella,Botox,{units},1900")
    lines.insert(50, "T900,too,few")  # malformed: fewer fields, on line 51 (the header is line 1)
    lines.insert(120, "")  # blank line: not a row
    write(tmp_path / "t.csv", "\n".join(lines) + "\n")
    result = load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    t = [s for s in result.sources if s.table == "treatments"][0]
    assert t.rows_read == 201
    assert t.rows_rejected == expected_bad + 1
    assert t.rows_loaded + t.rows_rejected == t.rows_read
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 200 - expected_bad
    assert query(db, "SELECT count(*) FROM rejected_rows")[0][0] == expected_bad + 1
    assert query(db, "SELECT row_number, reason FROM rejected_rows WHERE record_id IS NULL") == [
        (51, "the row has fewer fields than the header")]


def test_a_refused_file_leaves_the_database_unchanged(golden, db, tmp_path):
    load_golden(golden, db)
    before = _data_state(db)
    version = query(db, "SELECT version FROM snapshot_info")[0][0]
    good = write(tmp_path / "good.csv", CLINICIANS_CSV.replace("C02,sykepleier,20", "C03,lege,40"))
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        load_files([good, empty], db, today=TODAY)
    assert _data_state(db) == before
    assert query(db, "SELECT version FROM snapshot_info")[0][0] == version
    # the working database rolled back too: the next load does not carry C03 along
    load_files([golden / "product_prices.csv"], db, today=TODAY)
    assert query(db, "SELECT count(*) FROM clinicians WHERE clinician = 'C03'")[0][0] == 0


def test_error_midway_rolls_back_everything(golden, db, monkeypatch):
    load_golden(golden, db)
    before = _data_state(db)
    import pipelines.ingest.store as store

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "bump_snapshot", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        load_files([golden / "clinicians.csv"], db, today=TODAY)
    monkeypatch.undo()
    assert _data_state(db) == before
    work = DbPaths(db).work
    con = duckdb.connect(str(work), read_only=True)
    assert con.execute("SELECT count(*) FROM load_log").fetchall()[0][0] == 4
    con.close()


def test_publish_while_a_reader_holds_the_published_file_open(golden, db, tmp_path):
    load_golden(golden, db)
    reader = duckdb.connect(str(db), read_only=True)
    assert reader.execute("SELECT count(*) FROM treatments").fetchall()[0][0] == 4
    inode_before = os.stat(db).st_ino
    extra = write(tmp_path / "more.csv", TREATMENT_HEADER + "T100,p9,2024-04-01,C01,cosmetic,glabella,Botox,20,1900\n")
    load_files([extra], db, today=TODAY)  # must not block on, or be blocked by, the open reader
    assert reader.execute("SELECT count(*) FROM treatments").fetchall()[0][0] == 4  # old snapshot, consistent
    reader.close()
    assert os.stat(db).st_ino != inode_before
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 5


def test_readers_during_repeated_publishes_always_see_a_whole_snapshot(golden, db, tmp_path):
    load_golden(golden, db)
    errors: list[str] = []
    seen: set[tuple[int, int]] = set()
    stop = threading.Event()

    def read_loop():
        while not stop.is_set():
            try:
                con = duckdb.connect(str(db), read_only=True)
                version, = con.execute("SELECT version FROM snapshot_info").fetchall()[0]
                n = con.execute("SELECT count(*) FROM treatments").fetchall()[0][0]
                con.close()
                seen.add((version, n))
            except Exception as exc:  # any failure to open or read is a bug
                errors.append(repr(exc))

    thread = threading.Thread(target=read_loop)
    thread.start()
    for i in range(5):
        extra = write(tmp_path / f"more{i}.csv",
                      TREATMENT_HEADER + f"T2{i:02d},p9,2024-04-01,C01,cosmetic,glabella,Botox,20,1900\n")
        load_files([extra], db, today=TODAY)
    stop.set()
    thread.join()
    assert errors == []
    # version v (1 = golden) always comes with exactly 4 + (v - 1) treatments
    assert all(n == 4 + (v - 1) for v, n in seen)


def test_snapshots_are_kept_and_pruned(golden, db, tmp_path):
    for i in range(7):
        write(tmp_path / f"c{i}.csv", CLINICIANS_CSV + f"X{i},lege,10\n")
        load_files([tmp_path / f"c{i}.csv"], db, today=TODAY)
    snaps = sorted(p.name for p in DbPaths(db).snapshots.iterdir())
    assert snaps == [f"clinic-v{v:06d}.duckdb" for v in range(3, 8)]


def test_cli_load_prints_counts_and_exit_codes(golden, db):
    env = {**os.environ, "CLINIC_DB": str(db)}
    ok = subprocess.run([sys.executable, "-m", "pipelines", "load", str(golden / "clinicians.csv"),
                         str(golden / "behandlinger.csv"), "--map", str(MAP)],
                        cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "behandlinger.csv (treatments): 5 read, 4 loaded, 1 rejected" in ok.stdout
    assert "total: 8 read, 7 loaded, 1 rejected" in ok.stdout
    assert "rejected: behandlinger.csv row 6: treated_on:" in ok.stdout
    assert db.exists()

    bad = golden / "binary.csv"
    bad.write_bytes(b"\x00\x01\x02junk\x00" * 20)
    fail = subprocess.run([sys.executable, "-m", "pipelines", "load", str(bad)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert fail.returncode == 1
    assert fail.stderr.strip() == ("error: binary.csv: this is not a text file (it contains binary data); export "
                                   "the data as CSV, Excel .xlsx or Parquet")
    assert "Traceback" not in fail.stderr


def test_progress_bar_is_drawn_for_slow_loads(golden, db, monkeypatch):
    import io

    import pipelines.ingest.load as load_module

    stream = io.StringIO()
    clock = iter(range(0, 1000, 2))  # every step looks 2 s after the previous one
    monkeypatch.setattr(load_module.time, "monotonic", lambda: next(clock))
    bar = load_module.Progress(4, enabled=True, stream=stream)
    for label in ("reading", "validating", "writing", "publishing"):
        bar.step(label)
    bar.close()
    out = stream.getvalue()
    assert "[###############---------------]  50% validating" in out
    assert "[##############################] 100% publishing" in out


def test_the_load_reports_where_its_time_went(golden, db):
    result = load_golden(golden, db)
    assert list(result.stage_seconds) == ["read", "validate", "write", "mart", "commit", "checkpoint", "publish"]
    assert all(v >= 0 for v in result.stage_seconds.values())
