"""Reading files: formats, encodings, separators, headers and row numbers. Whole-file refusals name the file."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from conftest import write

from pipelines.ingest.read import InputError, normalise_header, read_column_map, read_sources

HEADER = "treatment_id;patient_ref;treated_on;clinician;indication;areas;product;units;price_nok"
ROW = "T1;p1;05.03.2024;C01;cosmetic;glabella;Botox;20,5;1900"


def read_one(path, **kw):
    con = duckdb.connect()
    sources = read_sources(con, path, **kw)
    assert len(sources) == 1
    s = sources[0]
    rows = con.execute(f"SELECT * EXCLUDE (_row), _row FROM {s.relation} ORDER BY _row").fetchall()
    cols = [d[0] for d in con.execute(f"SELECT * EXCLUDE (_row), _row FROM {s.relation}").description]
    return s, [dict(zip(cols, r)) for r in rows]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings_keep_norwegian_letters(tmp_path, encoding):
    text = "clinician;profession;cost_per_minute_nok\r\nÅSH;lege;30\r\nØÆå;sykepleier;20\r\n"
    s, rows = read_one(write(tmp_path / "c.csv", text, encoding))
    assert [r["clinician"] for r in rows] == ["ÅSH", "ØÆå"]
    assert s.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1252": "cp1252", "utf-16": "utf-16"}[encoding]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separators_are_recognised(tmp_path, sep):
    s, rows = read_one(write(tmp_path / "c.csv", f"clinician{sep}profession{sep}cost_per_minute_nok\nC01{sep}lege{sep}30\n"))
    assert rows == [{"clinician": "C01", "profession": "lege", "cost_per_minute_nok": "30", "_row": 2}]


def test_headers_are_matched_case_insensitively_and_mapped(tmp_path):
    mapping = write(tmp_path / "map.csv", "source_column,column\nBehandler,clinician\nYrke,profession\n")
    s, rows = read_one(write(tmp_path / "c.csv", "BEHANDLER,Yrke,Cost Per Minute NOK,Notat\nC01,lege,30,x\n"),
                       column_map=read_column_map(mapping))
    assert s.table.name == "clinicians"
    assert s.ignored_columns == ["notat"]
    assert rows[0]["clinician"] == "C01" and rows[0]["cost_per_minute_nok"] == "30"


def test_normalise_header():
    assert normalise_header("\ufeff Treatment ID ") == "treatment_id"
    assert normalise_header("Cost-per-minute NOK") == "cost_per_minute_nok"


def test_mapping_file_with_unknown_target_is_refused(tmp_path):
    mapping = write(tmp_path / "map.csv", "source_column,column\nBehandler,doctor\n")
    with pytest.raises(InputError, match=r"map.csv: row 2: `doctor` is not a column of the data contract"):
        read_column_map(mapping)


def test_row_numbers_follow_the_file_with_blank_lines_and_quoted_line_breaks(tmp_path):
    text = (HEADER + "\n" + ROW + "\n\n" + ROW.replace("T1", "T2") + "\n"
            + 'T3;p3;05.03.2024;C01;cosmetic;"glabella|\nforehead";Botox;20;1900\n' + ROW.replace("T1", "T4") + "\n")
    s, rows = read_one(write(tmp_path / "t.csv", text))
    assert [(r["treatment_id"], r["_row"]) for r in rows] == [("T1", 2), ("T2", 4), ("T3", 5), ("T4", 7)]
    assert rows[2]["areas"] == "glabella|\nforehead"


def test_rows_with_wrong_field_counts_are_kept_as_malformed(tmp_path):
    text = HEADER + "\r\n" + ROW + "\r\nT2;p2\r\n" + ROW.replace("T1", "T3") + ";extra\r\n" + ROW.replace("T1", "T4") + "\r\n"
    s, rows = read_one(write(tmp_path / "t.csv", text))
    assert [r["treatment_id"] for r in rows] == ["T1", "T4"]
    assert [(m.row_number, m.reason) for m in s.malformed] == [
        (3, "the row has fewer fields than the header"), (4, "the row has more fields than the header")]
    assert s.malformed[0].raw_line == "T2;p2"
    assert s.rows_read == 4


@pytest.mark.parametrize("content, message", [
    (b"", "empty.csv: the file is empty; export the data again"),
    (b"\n\r\n  \n", "empty.csv: the file is empty; export the data again"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "empty.csv: this is not a text file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "empty.csv: this is an old Excel .xls workbook"),
    (b"treatment_id:patient_ref:treated_on\nT1:p1:2024-01-01\n", "empty.csv: could not split the header"),
    (b"foo,bar\n1,2\n", "empty.csv: the header does not look like any known export"),
    (b"clinician,profession\nC01,lege\n", "empty.csv: missing required column(s) cost_per_minute_nok"),
    (b"clinician,profession,Clinician,cost_per_minute_nok\n", "empty.csv: column `clinician` appears twice"),
    ("clinician,profession,cost_per_minute_nok\nÅSH,lege,30\n".encode("utf-8")
     + "ÅSH2,lege,30\n".encode("cp1252"), "empty.csv: mixed text encodings: most of the file is UTF-8 but line 3"),
    (b"clinician;profession;cost_per_minute_nok\nC01,lege,30\nC02,lege,30\n",
     "empty.csv: no data row has the header's 3 columns"),
])
def test_whole_file_refusals(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_sources(duckdb.connect(), path)
    assert str(err.value).startswith(message)


def test_header_only_file_reads_zero_rows(tmp_path):
    s, rows = read_one(write(tmp_path / "c.csv", "clinician,profession,cost_per_minute_nok\n"))
    assert rows == [] and s.rows_read == 0


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        read_sources(duckdb.connect(), tmp_path / "nope.csv")


def test_excel_sheets_are_recognised_by_header(tmp_path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["this sheet is a cover page"]}).to_excel(xl, sheet_name="Info", index=False)
        pd.DataFrame({"clinician": ["C01", "ÅSH"], "profession": ["lege", "sykepleier"],
                      "cost_per_minute_nok": [30, 22.5]}).to_excel(xl, sheet_name="Behandlere", index=False)
        pd.DataFrame({"treatment_id": [101, 102], "patient_ref": ["p1", "p2"],
                      "treated_on": [dt.datetime(2024, 3, 5), dt.datetime(2024, 3, 6)], "clinician": ["C01", "ÅSH"],
                      "indication": ["cosmetic"] * 2, "areas": ["glabella"] * 2, "product": ["Botox"] * 2,
                      "units": [20, 20.5], "price_nok": [1900, 1900]}).to_excel(xl, sheet_name="Behandlinger",
                                                                                  index=False)
    con = duckdb.connect()
    sources = read_sources(con, path)
    assert [(s.sheet, s.table.name, s.rows_read) for s in sources] == [
        ("Behandlere", "clinicians", 2), ("Behandlinger", "treatments", 2)]
    rows = con.execute(f"SELECT _row, treatment_id, treated_on, units FROM {sources[1].relation}").fetchall()
    assert rows == [(2, "101", "2024-03-05", "20"), (3, "102", "2024-03-06", "20.5")]


def test_excel_formula_cells_load_their_cached_value(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "f.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["clinician", "profession", "cost_per_minute_nok"])
    ws.append(["C01", "lege", "=10*3"])
    wb.save(path)  # openpyxl writes no cached value: the cell reads as empty, and validation will say so
    con = duckdb.connect()
    s = read_sources(con, path)[0]
    assert con.execute(f"SELECT cost_per_minute_nok FROM {s.relation}").fetchall() in ([(None,)], [("30",)])


def test_parquet_with_typed_columns_is_read_as_text(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"follow_up_id": ["F1", "F2"], "treatment_id": ["T1", "T2"],
                  "seen_on": pd.to_datetime(["2024-03-19", "2024-03-20"]).date, "effect": ["full", "none"],
                  "bruising": [True, False], "headache_days": [4.5, None]}).to_parquet(path)
    s, rows = read_one(path)
    assert s.table.name == "follow_ups" and s.source_format == "parquet"
    assert [(r["_row"], r["seen_on"], r["bruising"], r["headache_days"]) for r in rows] == [
        (1, "2024-03-19", "true", "4.5"), (2, "2024-03-20", "false", None)]


def test_damaged_parquet_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1" + b"garbage" * 10)
    with pytest.raises(InputError, match="t.parquet: cannot be read as Parquet"):
        read_sources(duckdb.connect(), path)
