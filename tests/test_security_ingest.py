"""Hostile files (issue 10, parts 1, 7 and 9): text from a file never becomes SQL, and no national id is stored.

Every attack here is one a tester carried out against the first version: a header that ran `COPY ... TO` and wrote
a role file making an outside address admin, a Parquet column name that wrote a `.pth` file, national ids hidden
by a no-break space, a lost leading zero, a longer value, spaces or dots, and ids in headers and file names.
The loader runs under a recorder that sees every SQL text it executes: none may contain text from the file, and
each must be exactly one statement.
"""

from __future__ import annotations

import csv
import io

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import CLINICIANS_CSV, TODAY, TREATMENT_HEADER, query, write

from pipelines.ingest import store
from pipelines.ingest.load import load_files
from pipelines.ingest.privacy import PrivacyError
from pipelines.ingest.read import InputError

MARK = "zqxv"  # in every payload; SQL text must never contain it

# The tester's payload (CSV header), its Parquet twin (writes a .pth that Python would run), and the characters the
# issue names: `"`, `;`, `--`, `/*`, `'`, newlines.
PAYLOADS = [
    f"""x"from"f0_raw";copy(select(e'mallory@evil\\x2eexample')as"email",'admin'as"role")to(e'data\\x2froles\\x2ecsv')(header);select(1)as"y{MARK}""",
    f"""x"from"f0_raw_pq";copy(select('import os')as"a")to('evil_{MARK}.pth')(header false);select(1)as"y""",
    f'{MARK}"quote',
    f"{MARK};select 1",
    f"{MARK} -- comment",
    f"{MARK} /* open comment",
    f"{MARK}'single",
    f"{MARK}\nnew line",
    f'"; DROP TABLE treatments; --{MARK}',
]
ROW = ["T1", "p1", "2024-03-05", "C01", "cosmetic", "glabella", "Botox", "20", "1900"]
HEADER = TREATMENT_HEADER.strip().split(",")


class Recorder:
    """A DuckDB connection that records the SQL text it is given (and refuses more than one statement)."""

    def __init__(self, con, log: list[str]):
        self._con = con
        self._log = log

    def _seen(self, sql: str) -> None:
        self._log.append(sql)

    def execute(self, sql, *args, **kwargs):
        self._seen(sql)
        self._con.execute(sql, *args, **kwargs)
        return self

    def executemany(self, sql, *args, **kwargs):
        self._seen(sql)
        self._con.executemany(sql, *args, **kwargs)
        return self

    def sql(self, sql, *args, **kwargs):
        self._seen(sql)
        return self._con.sql(sql, *args, **kwargs)

    query = sql

    def cursor(self):
        return Recorder(self._con.cursor(), self._log)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Loads run in an empty working folder (a relative COPY target would land here) under the SQL recorder."""
    log: list[str] = []
    real = store.open_work
    monkeypatch.setattr(store, "open_work", lambda paths: Recorder(real(paths), log))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return log


def assert_clean(log: list[str], tmp_path) -> None:
    assert log, "the recorder saw no SQL: the test would prove nothing"
    for sql in log:
        assert MARK not in sql.lower(), f"text from the file became SQL: {sql[:300]}"
        assert len(duckdb.extract_statements(sql)) == 1, f"more than one statement: {sql[:300]}"
    written = [p for p in (tmp_path / "cwd").rglob("*")]
    assert written == [], f"the load wrote outside the database: {written}"


def load_clinicians(tmp_path, db):
    load_files([write(tmp_path / "c.csv", CLINICIANS_CSV)], db, today=TODAY)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_csv_header_is_data_not_sql(tmp_path, db, recorded, payload):
    load_clinicians(tmp_path, db)
    path = write(tmp_path / "t.csv", csv_text(HEADER + [payload], [ROW + ["z"]]))
    result = load_files([path], db, today=TODAY)
    assert (result.rows_read, result.rows_loaded) == (1, 1)
    assert len(result.sources[0].ignored_columns) == 1  # the odd column is ignored, and said so
    assert_clean(recorded, tmp_path)
    assert not (tmp_path / "cwd" / "data" / "roles.csv").exists()
    assert query(db, "SELECT treatment_id FROM treatments") == [("T1",)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_parquet_column_name_is_data_not_sql(tmp_path, db, recorded, payload):
    load_clinicians(tmp_path, db)
    columns = {name: [value] for name, value in zip(HEADER, ROW)}
    columns[payload] = ["z"]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    result = load_files([path], db, today=TODAY)
    assert (result.rows_read, result.rows_loaded) == (1, 1)
    assert_clean(recorded, tmp_path)
    assert list((tmp_path / "cwd").rglob("*.pth")) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_xlsx_header_and_sheet_name_are_data_not_sql(tmp_path, db, recorded, payload):
    from openpyxl import Workbook

    load_clinicians(tmp_path, db)
    wb = Workbook()
    ws = wb.active
    # a sheet name may not hold []:*?/\ and is at most 31 characters; keep the rest of the payload
    ws.title = "".join(c for c in payload if c not in "[]:*?/\\\n")[:31]
    ws.append(HEADER + [payload])
    ws.append(ROW[:7] + [20, 1900, "z"])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    result = load_files([path], db, today=TODAY)
    assert (result.rows_read, result.rows_loaded) == (1, 1)
    assert_clean(recorded, tmp_path)


@pytest.mark.parametrize("name", [f"{MARK}';select 1;--.csv", f'{MARK}"x".csv', f"{MARK} *--x.csv"])
def test_hostile_file_name_is_bound_not_pasted(tmp_path, db, recorded, name):
    load_clinicians(tmp_path, db)
    # T1 twice with different content: both copies are rejected, and the reason names the file and rows
    path = write(tmp_path / name, csv_text(HEADER, [ROW, ROW[:1] + ["p2"] + ROW[2:], ["T2"] + ROW[1:]]))
    result = load_files([path], db, today=TODAY)
    assert (result.rows_loaded, result.rows_rejected) == (1, 2)
    assert_clean(recorded, tmp_path)
    assert query(db, "SELECT DISTINCT source_file FROM treatments") == [(name,)]
    assert name in query(db, "SELECT reason FROM rejected_rows")[0][0]


def test_hostile_values_are_bound(tmp_path, db, recorded):
    load_clinicians(tmp_path, db)
    payload = f"p'); DROP TABLE treatments; --{MARK}"
    path = write(tmp_path / "t.csv", csv_text(HEADER, [ROW[:1] + [payload] + ROW[2:]]))
    load_files([path], db, today=TODAY)
    assert_clean(recorded, tmp_path)
    assert query(db, "SELECT patient_ref FROM treatments") == [(payload,)]


def test_hostile_column_map_source_names_are_data(tmp_path, db, recorded):
    load_clinicians(tmp_path, db)
    mapping = write(tmp_path / "map.csv", csv_text(["source_column", "column"], [[PAYLOADS[0], "patient_ref"]]))
    header = HEADER[:1] + [PAYLOADS[0]] + HEADER[2:]
    path = write(tmp_path / "t.csv", csv_text(header, [ROW]))
    result = load_files([path], db, today=TODAY, column_map=mapping)
    assert result.rows_loaded == 1
    assert_clean(recorded, tmp_path)


def test_file_names_are_taken_literally(tmp_path, db):
    """DuckDB's readers expand glob patterns: `beh [kopi].csv` once loaded `beh k.csv`."""
    load_clinicians(tmp_path, db)
    write(tmp_path / "beh k.csv", csv_text(HEADER, [ROW]))
    other = ROW[:1] + ["p-kopi"] + ROW[2:]
    literal = write(tmp_path / "beh [kopi].csv", csv_text(HEADER, [other]))
    load_files([literal], db, today=TODAY)
    assert query(db, "SELECT patient_ref, source_file FROM treatments") == [("p-kopi", "beh [kopi].csv")]
    pq.write_table(pa.table({n: [v] for n, v in zip(HEADER, ROW)}), tmp_path / "p k.parquet")
    pq.write_table(pa.table({n: [v] for n, v in zip(HEADER, other)}), tmp_path / "p [kopi].parquet")
    load_files([tmp_path / "p [kopi].parquet"], db, today=TODAY)
    assert query(db, "SELECT DISTINCT patient_ref FROM treatments") == [("p-kopi",)]


def test_a_missing_file_with_a_pattern_in_its_name_is_not_found(tmp_path, db):
    write(tmp_path / "beh k.csv", csv_text(HEADER, [ROW]))
    with pytest.raises(InputError, match="file not found"):
        load_files([tmp_path / "beh [kopi].csv"], db, today=TODAY)


# --------------------------------------------------------------------------------------------------------------
# Part 7: national ids, as they will be stored, in numbers, inside values, in headers and in file names
# --------------------------------------------------------------------------------------------------------------

FNR = "01019010046"  # born 1 January: a spreadsheet number loses its leading zero


def fnr_digits_valid(d: str) -> bool:
    """Skatteetaten's mod-11 check, written out independently of pipelines.ingest.privacy."""
    w1, w2 = [3, 7, 6, 1, 8, 9, 4, 5, 2], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    k1 = (11 - sum(a * int(b) for a, b in zip(w1, d)) % 11) % 11
    k2 = (11 - sum(a * int(b) for a, b in zip(w2, d)) % 11) % 11
    return k1 == int(d[9]) and k2 == int(d[10])


def test_the_fixture_id_is_valid():
    assert fnr_digits_valid(FNR) and FNR.startswith("0")


def stored_anywhere(db, text: str) -> list[str]:
    """Every table.column of the published database whose text holds `text` (and the raw file bytes)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        hits = []
        for table, column in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall():
            q = f'SELECT count(*) FROM "{table}" WHERE contains("{column}", ?)'  # test-only; names from the catalog
            if con.execute(q, [text]).fetchall()[0][0]:
                hits.append(f"{table}.{column}")
    finally:
        con.close()
    return hits


def refused(tmp_path, db, path, column: str | None = None):
    with pytest.raises(PrivacyError) as err:
        load_files([path], db, today=TODAY)
    assert "national identity number" in str(err.value)
    if column:
        assert f"column `{column}`" in str(err.value)
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 0
    assert query(db, "SELECT count(*) FROM rejected_rows")[0][0] == 0
    return err.value


@pytest.mark.parametrize("ref", [
    "\u00a0" + FNR, FNR + "\t", "\t" + FNR + "\u00a0",          # whitespace validation trims away
    "P" + FNR, "0" + FNR, FNR + "x",                            # inside a longer value
    "01 01 90 100 46", "01.01.90.100.46", "010190 10046",       # spaced or dotted
    FNR[1:],                                                    # a number that lost its leading zero
])
def test_national_id_in_any_disguise_is_refused(tmp_path, db, ref):
    load_clinicians(tmp_path, db)
    path = write(tmp_path / "t.csv", csv_text(HEADER, [ROW[:1] + [ref] + ROW[2:]]))
    refused(tmp_path, db, path, "patient_ref")


def test_excel_number_that_lost_its_leading_zero_is_refused(tmp_path, db):
    from openpyxl import Workbook

    load_clinicians(tmp_path, db)
    wb = Workbook()
    wb.active.append(HEADER)
    wb.active.append(["T1", int(FNR), "2024-03-05", "C01", "cosmetic", "glabella", "Botox", 20, 1900])
    wb.save(tmp_path / "t.xlsx")
    refused(tmp_path, db, tmp_path / "t.xlsx", "patient_ref")


def test_parquet_number_that_lost_its_leading_zero_is_refused(tmp_path, db):
    load_clinicians(tmp_path, db)
    columns = {n: [v] for n, v in zip(HEADER, ROW)}
    columns["patient_ref"] = pa.array([int(FNR)], pa.int64())
    pq.write_table(pa.table(columns), tmp_path / "t.parquet")
    refused(tmp_path, db, tmp_path / "t.parquet", "patient_ref")


def test_national_id_in_a_number_column_is_refused(tmp_path, db):
    """A number too large for `units` is rejected and would be stored as read: it is checked first."""
    load_clinicians(tmp_path, db)
    path = write(tmp_path / "t.csv", csv_text(HEADER, [ROW[:7] + [FNR[1:]] + ROW[8:]]))
    refused(tmp_path, db, path, "units")


def test_malformed_line_with_a_name_and_an_id_is_refused(tmp_path, db):
    load_clinicians(tmp_path, db)
    text = csv_text(HEADER, [ROW]) + f"Kari Nordmann {FNR},ring meg\n"
    refused(tmp_path, db, write(tmp_path / "t.csv", text))


def test_national_id_as_a_header_is_not_stored(tmp_path, db):
    load_clinicians(tmp_path, db)
    for i, header in enumerate([FNR, "01 01 90 100 46"]):
        path = write(tmp_path / f"t{i}.csv", csv_text(HEADER + [header], [ROW + ["z"]]))
        result = load_files([path], db, today=TODAY)
        assert result.rows_loaded == 1
        assert result.sources[0].ignored_columns == [
            "(column 10: header withheld, it looks like a national identity number)"]
    assert stored_anywhere(db, FNR) == [] and stored_anywhere(db, "01_01_90_100_46") == []


def test_national_id_as_a_file_or_sheet_name_is_not_stored(tmp_path, db):
    from openpyxl import Workbook

    load_clinicians(tmp_path, db)
    bad = ROW[:3] + ["C99"] + ROW[4:]  # an unknown clinician: a rejected row names its file too
    path = write(tmp_path / f"{FNR}.csv", csv_text(HEADER, [ROW, ["T2"] + bad[1:]]))
    result = load_files([path], db, today=TODAY)
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    wb = Workbook()
    wb.active.title = FNR
    wb.active.append(HEADER)
    wb.active.append(["T3", "p3", "2024-03-05", "C01", "cosmetic", "glabella", "Botox", 20, 1900])
    wb.save(tmp_path / f"kari {FNR[:6]} {FNR[6:]}.xlsx")
    load_files([tmp_path / f"kari {FNR[:6]} {FNR[6:]}.xlsx"], db, today=TODAY)
    assert stored_anywhere(db, FNR) == [] and stored_anywhere(db, FNR[6:]) == []
    names = [r[0] for r in query(db, "SELECT file_name FROM load_log WHERE table_name = 'treatments'")]
    assert all(n.startswith("(name withheld: it looks like a national identity number)") for n in names)
    assert query(db, "SELECT sheet FROM load_log WHERE file_name LIKE '%.xlsx'")[0][0].startswith("(name withheld")
    assert query(db, "SELECT count(*) FROM treatments WHERE source_file LIKE '(name withheld%'")[0][0] == 2
    assert query(db, "SELECT file_name FROM rejected_rows")[0][0] == names[0]


@pytest.mark.parametrize("value", ["T-2024-000123", "2024-03-05", "05.03.2024", "p_5f1c9a0b7e21", "1900",
                                   "12345678901", "Botox 20 U", "lot 2024 1103 77"])
def test_ordinary_values_are_not_national_ids(value):
    from pipelines.ingest.privacy import national_id_in

    assert not national_id_in(value)
