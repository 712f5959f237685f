"""The Load data page's library side (issue 14): uploads held in a private in-memory folder and removed however the
page ends, hostile upload names reduced to plain file names, the preview of what a file was recognised as, a
mapping chosen on the page loaded by the command line's own loader, the progress callback, and a second load
refused while one runs."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import query, write
from test_privacy import fnr_with_check_digits

from pipelines.ingest import store, uploads
from pipelines.ingest.load import load_files

CLINICIANS = "clinician,profession,cost_per_minute_nok\nC01,lege,30\n"
TREATMENTS = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,price_nok,notat\n"
              "T1,p1,2024-02-01,C01,cosmetic,glabella,Botox,20,1900,ok\n"
              "T2,p2,2024-02-02,C01,cosmetic,forehead,Botox,10,1500,\n"
              "T3,p3,2024-02-30,C01,cosmetic,glabella,Botox,20,1900,\n")
NORWEGIAN = ("behandling;pasient;dato;lege;indikasjon;område;preparat;enheter;pris\n"
             "T1;p1;01.02.2024;C01;cosmetic;glabella;Botox;20;1900\n")


@pytest.mark.parametrize("name, expected", [
    ("behandlinger 2024.csv", "behandlinger 2024.csv"),
    ("../../etc/cron.d/x.csv", "x.csv"),
    ("C:\\Users\\klinikk\\eksport.xlsx", "eksport.xlsx"),
    ("bad\x00name\r\n.csv", "badname.csv"),
    ("..", "upload-3"),
    ("", "upload-3"),
    (".hidden.csv", "hidden.csv"),
    ("a" * 300 + ".parquet", "a" * (uploads.MAX_NAME_CHARS - 8) + ".parquet"),
])
def test_an_upload_name_is_a_plain_file_name(name, expected):
    assert uploads.safe_name(name, 3) == expected


def test_uploads_live_in_a_private_folder_that_is_removed_however_the_page_ends():
    with pytest.raises(RuntimeError):
        with uploads.upload_dir() as folder:
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            if uploads.MEMORY_DIR.is_dir():
                assert folder.parent == uploads.MEMORY_DIR  # in memory: never written to a disk
            paths = uploads.save(folder, [("a.csv", b"x"), ("a.csv", b"y"), ("A.CSV", b"z")])
            assert [p.name for p in paths] == ["a.csv", "a (2).csv", "A (3).CSV"]
            assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
            raise RuntimeError("the page failed")
    assert not folder.exists()


def test_preview_says_what_a_file_is_what_is_used_ignored_and_missing(tmp_path):
    path = write(tmp_path / "t.csv", TREATMENTS)
    [p] = uploads.preview(path)
    assert (p.table, p.rows_n, p.loadable, p.refused, p.problem) == ("treatments", 3, True, False, "")
    assert p.matched == ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product",
                         "units", "price_nok"]
    assert p.ignored == ["notat"]
    assert p.missing_required == []
    assert "corrects_treatment_id" in p.missing_optional


def test_preview_of_a_file_with_unknown_headers_gives_its_header_for_mapping(tmp_path):
    path = write(tmp_path / "eksport.csv", NORWEGIAN)
    [p] = uploads.preview(path)
    assert p.table is None and not p.loadable and "does not look like any known export" in p.problem
    assert p.header == ["behandling", "pasient", "dato", "lege", "indikasjon", "område", "preparat", "enheter", "pris"]
    mapping = dict(zip(p.header, ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas",
                                  "product", "units", "price_nok"], strict=True))
    [mapped] = uploads.preview(path, mapping)
    assert mapped.loadable and mapped.table == "treatments" and mapped.rows_n == 1
    # a recognised table with a required column missing: named
    [partial] = uploads.preview(path, {k: v for k, v in mapping.items() if v != "price_nok"})
    assert partial.table == "treatments" and not partial.loadable and partial.missing_required == ["price_nok"]


def test_preview_refuses_a_file_with_a_national_id_in_a_header_or_a_value(tmp_path):
    header = write(tmp_path / "h.csv", TREATMENTS.replace("notat", "fodselsnummer"))
    [p] = uploads.preview(header)
    assert p.refused and not p.loadable and "fodselsnummer" in p.problem
    fnr = fnr_with_check_digits("150385123")
    value = write(tmp_path / "v.csv", TREATMENTS.replace(",ok\n", f",pasient {fnr}\n"))
    [p] = uploads.preview(value)
    assert p.refused and "national identity number" in p.problem
    assert fnr not in p.problem  # the refusal never repeats the identifier


def test_a_mapping_chosen_on_the_page_is_loaded_by_the_loader_with_progress(tmp_path):
    db = tmp_path / "db" / "clinic.duckdb"
    folder = tmp_path / "up"
    folder.mkdir()
    data = write(folder / "eksport.csv", NORWEGIAN.replace("01.02.2024", "2024-02-01"))
    clinicians = write(folder / "clinicians.csv", CLINICIANS)
    [p] = uploads.preview(data)
    mapping = dict(zip(p.header, ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas",
                                  "product", "units", "price_nok"], strict=True))
    column_map = write(folder / "map.csv", uploads.column_map_csv(mapping))
    steps: list[tuple[float, str]] = []
    result = load_files([clinicians, data], db, column_map=column_map, progress=lambda s, t: steps.append((s, t)),
                        wait_seconds=0)
    assert result.rows_loaded == 2 and result.rows_rejected == 0
    assert query(db, "SELECT treatment_id, units, price_nok FROM treatments") == [("T1", 20, 1900)]
    shares = [s for s, _ in steps]
    assert shares == sorted(shares) and shares[-1] == 1.0 and len(steps) >= 5
    assert [t for _, t in steps][-2:] == ["publishing", "done"]


def test_a_second_load_while_one_runs_is_refused_at_once(tmp_path):
    db = tmp_path / "db" / "clinic.duckdb"
    clinicians = write(tmp_path / "clinicians.csv", CLINICIANS)
    paths = store.DbPaths(db)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.load_lock(paths):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(store.LoadBusyError, match="another load is still running"):
            load_files([clinicians], db, wait_seconds=0)
    finally:
        release.set()
        t.join()
    assert load_files([clinicians], db, wait_seconds=0).rows_loaded == 1


def test_the_rejected_rows_of_a_load_are_listed_with_their_reasons(tmp_path):
    import duckdb

    from pipelines.ingest import history

    db = tmp_path / "db" / "clinic.duckdb"
    result = load_files([write(tmp_path / "c.csv", CLINICIANS), write(tmp_path / "t.csv", TREATMENTS)], db)
    assert result.rows_rejected == 1
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = history.rejected_rows_of_load(con, result.load_id)
    finally:
        con.close()
    assert rows[["file_name", "row_number", "column_name"]].values.tolist() == [["t.csv", 4, "treated_on"]]
    assert "2024-02-30" in rows["reason"].iloc[0]


def test_nothing_of_a_refused_upload_is_left_anywhere(tmp_path):
    fnr = fnr_with_check_digits("150385123")
    with uploads.upload_dir() as folder:
        [path] = uploads.save(folder, [("eksport.csv", TREATMENTS.replace(",ok\n", f",{fnr}\n").encode())])
        [p] = uploads.preview(path)
        assert p.refused
        uploads.forget(path)
        assert not path.exists() and os.listdir(folder) == []
    assert not folder.exists()


def test_a_mapping_and_values_chosen_on_the_page_become_a_preset_that_applies_itself(tmp_path):
    from pipelines.ingest import presets

    db = tmp_path / "db" / "clinic.duckdb"
    load_files([write(tmp_path / "c.csv", CLINICIANS)], db)
    export = ("Beh.nr;Pasient;Dato;Lege;Indikasjon;Område;Preparat;Enheter;Pris\n"
              "T1;p1;01.02.2024;C01;cosmetic;glabella;botox 100E;20;1900\n"
              "T2;p2;02.02.2024;C01;cosmetic;forehead;Botox;10;1500\n")
    path = write(tmp_path / "eksport.csv", export)
    [before] = uploads.preview(path, db=db)
    assert before.table is None and before.preset == ""
    assert before.raw_header[:2] == ["Beh.nr", "Pasient"]
    mapping = dict(zip(before.header, ["treatment_id", "patient_ref", "treated_on", "clinician", "indication",
                                       "areas", "product", "units", "price_nok"], strict=True))
    # the one spelling the contract does not know, offered for mapping
    assert uploads.unknown_values(path, mapping, "treatments") == {"product": ["botox 100E"]}
    draft = uploads.preset_draft("min_eksport", "the journal's export", "treatments", before.raw_header, mapping,
                                 {"product": {"botox 100E": "Botox"}})
    saved = presets.save_preset(presets.validate_preset(draft, "the page"), db)
    assert saved.label == "min_eksport v1"
    # the next export with the same header: recognised, mapped, loaded with the value mapped
    nxt = write(tmp_path / "eksport-mars.csv", export.replace("T1;", "T3;").replace("T2;", "T4;"))
    [after] = uploads.preview(nxt, db=db)
    assert after.loadable and after.preset == "min_eksport v1"
    result = load_files([nxt], db)
    assert result.rows_loaded == 2 and result.rows_rejected == 0
    assert query(db, "SELECT treatment_id, product FROM treatments ORDER BY 1") == [("T3", "Botox"), ("T4", "Botox")]
