"""Loads sized to the work: a first load writes straight from the validated batch, and the memory limit follows the
size of the files and the machine."""

from __future__ import annotations

import datetime as dt

import duckdb
from conftest import CLINICIANS_CSV, TREATMENT_HEADER, write

from pipelines.ingest import store
from pipelines.ingest.load import load_files

GIB = 1 << 30
TODAY = dt.date(2025, 1, 31)


def test_memory_limit_follows_the_files_and_the_machine():
    machine = 16 * GIB
    # a million treatments (180 MB of CSV) keeps the 1 GB floor, so its process stays under 1.5 GB
    assert store.memory_limit_bytes(180_000_000, machine) == GIB
    # ten million (1.8 GB of CSV): 2.5 bytes per byte read, 4.5 GB, instead of spilling to disk under 1 GB
    assert store.memory_limit_bytes(1_800_000_000, machine) == 4_500_000_000
    # never more than 40 % of the machine (6.4 GB of 16), nor less than the floor on a small machine
    assert store.memory_limit_bytes(10_000_000_000, machine) == int(0.4 * machine)
    assert store.memory_limit_bytes(10_000_000_000, 2 * GIB) == GIB


def test_a_load_sets_the_limit_on_its_connection(tmp_path, monkeypatch):
    seen = []
    real = store.size_memory

    def spy(con, input_bytes):
        limit = real(con, input_bytes)
        seen.append((input_bytes, limit, con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]))
        return limit

    monkeypatch.setattr(store, "size_memory", spy)
    files = [write(tmp_path / "in" / "clinicians.csv", CLINICIANS_CSV)]
    load_files(files, tmp_path / "db" / "clinic.duckdb", today=TODAY)
    assert seen[0][0] == len(CLINICIANS_CSV) and seen[0][1] == GIB
    assert seen[0][2] in ("1.0 GiB", "1024.0 MiB")


def test_a_first_load_counts_and_stores_as_an_upsert_does(tmp_path):
    """Into an empty table every accepted row is inserted; an identical copy in the same load is written once and
    counted loaded (not inserted); a rejected row is not stored. Loading the same file again: all unchanged."""
    rows = ("T1,p1,2024-01-10,C01,cosmetic,glabella,Botox,20,1900\n"
            "T2,p2,2024-01-11,C01,cosmetic,glabella,Botox,20,1900\n"
            "T2,p2,2024-01-11,C01,cosmetic,glabella,Botox,20,1900\n"
            "T3,p3,2024-01-12,C01,cosmetic,glabella,Botox,-5,1900\n")
    files = [write(tmp_path / "in" / "clinicians.csv", CLINICIANS_CSV),
             write(tmp_path / "in" / "treatments.csv", TREATMENT_HEADER + rows)]
    db = tmp_path / "db" / "clinic.duckdb"
    first = load_files(files, db, today=TODAY)
    t = next(s for s in first.sources if s.table == "treatments")
    assert (t.rows_read, t.rows_loaded, t.rows_rejected) == (4, 3, 1)
    assert (t.rows_inserted, t.rows_updated, t.rows_unchanged) == (2, 0, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute("SELECT treatment_id, source_row, load_id FROM treatments ORDER BY 1").fetchall()
    finally:
        con.close()
    assert stored == [("T1", 2, 1), ("T2", 3, 1)]
    again = load_files(files, db, today=TODAY)
    t = next(s for s in again.sources if s.table == "treatments")
    assert (t.rows_inserted, t.rows_updated, t.rows_unchanged) == (0, 0, 2)


def test_rows_are_stored_in_the_order_of_the_files(tmp_path):
    """Written without a sort when the validated rows already are in file order, with one when they are not."""
    first = "".join(f"A{i:03d},p{i % 7},2024-01-{1 + i % 28:02d},C01,cosmetic,glabella,Botox,20,1900\n"
                    for i in range(300))
    second = "".join(f"B{i:03d},p{i % 5},2024-02-{1 + i % 28:02d},C02,cosmetic,glabella,Botox,20,1900\n"
                     for i in range(300))
    files = [write(tmp_path / "in" / "clinicians.csv", CLINICIANS_CSV),
             write(tmp_path / "in" / "treatments_a.csv", TREATMENT_HEADER + first),
             write(tmp_path / "in" / "treatments_b.csv", TREATMENT_HEADER + second)]
    db = tmp_path / "db" / "clinic.duckdb"
    load_files(files, db, today=TODAY)
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute("SELECT source_file, source_row FROM treatments ORDER BY rowid").fetchall()
    finally:
        con.close()
    assert stored == [("treatments_a.csv", r) for r in range(2, 302)] + [("treatments_b.csv", r)
                                                                          for r in range(2, 302)]

    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE ordered AS SELECT 0 AS _src, range AS _row FROM range(2, 1000)").fetchall()
        con.execute("CREATE TABLE shuffled AS SELECT * FROM ordered ORDER BY hash(_row)").fetchall()
        assert store._file_order(con, "ordered", "true") == ""
        assert store._file_order(con, "shuffled", "true") == "ORDER BY _src, _row"
        # a second source after the first is in order; a second source's rows before the first's are not
        con.execute("INSERT INTO ordered SELECT 1, range FROM range(2, 5)").fetchall()
        assert store._file_order(con, "ordered", "true") == ""
        con.execute("INSERT INTO ordered VALUES (0, 7)").fetchall()
        assert store._file_order(con, "ordered", "true") == "ORDER BY _src, _row"
    finally:
        con.close()
