"""The privacy guard refuses files with direct identifiers as a whole, and stores none of their values."""

from __future__ import annotations

import pytest
from conftest import CLINICIANS_CSV, TODAY, TREATMENT_HEADER, query, write

from pipelines.ingest.load import load_files
from pipelines.ingest.privacy import PrivacyError, identifier_header


def fnr_with_check_digits(first9: str) -> str:
    """Skatteetaten's mod-11 check digits, computed independently of the SQL under test."""
    w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
    w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    d = [int(c) for c in first9]
    k1 = 11 - sum(a * b for a, b in zip(w1, d)) % 11
    k1 = 0 if k1 == 11 else k1
    assert k1 != 10, "pick other digits"
    d.append(k1)
    k2 = 11 - sum(a * b for a, b in zip(w2, d)) % 11
    k2 = 0 if k2 == 11 else k2
    assert k2 != 10, "pick other digits"
    return first9 + str(k1) + str(k2)


VALID_FNR = fnr_with_check_digits("150385123")      # 15.03.85
D_NUMBER = fnr_with_check_digits("550385123")       # D-number: day + 40


def test_fixture_numbers_are_what_they_claim():
    assert VALID_FNR.startswith("150385123") and len(VALID_FNR) == 11
    assert D_NUMBER.startswith("550385123") and len(D_NUMBER) == 11


def treatments_with(tmp_path, patient_ref="p1", extra_header="", extra_value=""):
    header = TREATMENT_HEADER.strip() + extra_header
    row = f"T1,{patient_ref},2024-03-05,C01,cosmetic,glabella,Botox,20,1900{extra_value}"
    row2 = "T2,p2,2024-03-05,C01,cosmetic,glabella,Botox,20,1900" + ("," if extra_header else "")
    return write(tmp_path / "t.csv", f"{header}\n{row2}\n{row}\n")


def assert_refused_and_nothing_stored(tmp_path, db, path, message):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    load_files([tmp_path / "c.csv"], db, today=TODAY)
    with pytest.raises(PrivacyError) as err:
        load_files([path], db, today=TODAY)
    assert str(err.value) == message
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 0
    assert query(db, "SELECT count(*) FROM rejected_rows")[0][0] == 0
    assert query(db, "SELECT count(*) FROM load_log WHERE file_name = ?", [path.name])[0][0] == 0
    # and no value of the file is anywhere in the database files
    for f in db.parent.rglob("*.duckdb"):
        assert b"p2" not in f.read_bytes()


@pytest.mark.parametrize("ref, what", [
    (VALID_FNR, "a Norwegian national identity number (fødselsnummer)"),
    (VALID_FNR[:6] + " " + VALID_FNR[6:], "a Norwegian national identity number (fødselsnummer)"),
    (D_NUMBER, "a Norwegian national identity number (fødselsnummer)"),
    ("kari.nordmann@example.no", "an e-mail address"),
    ("+47 912 34 567", "a phone number"),
    ("91234567", "a phone number"),
])
def test_identifier_values_refuse_the_file(tmp_path, db, ref, what):
    path = treatments_with(tmp_path, patient_ref=ref)
    assert_refused_and_nothing_stored(
        tmp_path, db, path,
        f"t.csv: refused: row 3, column `patient_ref` holds what looks like {what}. Exports must carry "
        "pseudonymous references only; remove direct identifiers and export again. Nothing from this file was "
        "stored")


def test_identifier_in_an_extra_column_refuses_the_file(tmp_path, db):
    path = treatments_with(tmp_path, extra_header=",kommentar", extra_value=",912 34 567")
    assert_refused_and_nothing_stored(
        tmp_path, db, path,
        "t.csv: refused: row 3, column `kommentar` holds what looks like a phone number. Exports must carry "
        "pseudonymous references only; remove direct identifiers and export again. Nothing from this file was "
        "stored")


@pytest.mark.parametrize("header", ["Pasient navn", "E-post", "Telefon", "fødselsnummer", "patient_name",
                                    "Adresse"])
def test_identifier_headers_refuse_the_file(tmp_path, db, header):
    path = treatments_with(tmp_path, extra_header="," + header, extra_value=",x")
    with pytest.raises(PrivacyError, match=r"t.csv: refused: column `.+` looks like a direct identifier"):
        load_files([path], db, today=TODAY)


@pytest.mark.parametrize("ref", [
    VALID_FNR[:10] + str((int(VALID_FNR[10]) + 1) % 10),  # wrong second check digit
    VALID_FNR[:9] + str((int(VALID_FNR[9]) + 1) % 10) + VALID_FNR[10],  # wrong first check digit
    "2024-0001",          # an id that is not a phone number
    "p_5f1c9a0b7e21",     # a keyed-hash pseudonym
    "12345678901",        # 11 digits, invalid
    "T-2024-000123",
])
def test_pseudonyms_and_near_misses_pass(tmp_path, db, ref):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    path = treatments_with(tmp_path, patient_ref=ref)
    load_files([tmp_path / "c.csv", path], db, today=TODAY)
    assert query(db, "SELECT count(*) FROM treatments")[0][0] == 2


def test_identifier_header_words():
    assert identifier_header("pasient_navn") and identifier_header("e_post") and identifier_header("tlf")
    assert not identifier_header("patient_ref") and not identifier_header("areas")
    assert not identifier_header("treatment_id")


def test_identifier_in_a_typed_column_of_a_rejected_row_refuses_the_file(tmp_path, db):
    # units must be a number: the row would be rejected and kept as read, so its values are checked too
    header = TREATMENT_HEADER.strip()
    text = (f"{header}\nT1,p1,2024-03-05,C01,cosmetic,glabella,Botox,20,1900\n"
            f"T2,p2,2024-03-05,C01,cosmetic,glabella,Botox,{VALID_FNR},1900\n")
    path = write(tmp_path / "t.csv", text)
    assert_refused_and_nothing_stored(
        tmp_path, db, path,
        "t.csv: refused: row 3, column `units` holds what looks like a Norwegian national identity number "
        "(fødselsnummer). Exports must carry pseudonymous references only; remove direct identifiers and export "
        "again. Nothing from this file was stored")


def test_identifier_in_an_unsplittable_line_refuses_the_file(tmp_path, db):
    text = (TREATMENT_HEADER + "T1,p1,2024-03-05,C01,cosmetic,glabella,Botox,20,1900\n"
            "kari.nordmann@example.no,ring meg\n")
    path = write(tmp_path / "t.csv", text)
    assert_refused_and_nothing_stored(
        tmp_path, db, path,
        "t.csv: refused: row 3, column `(unsplittable row)` holds what looks like an e-mail address. Exports must "
        "carry pseudonymous references only; remove direct identifiers and export again. Nothing from this file "
        "was stored")


@pytest.mark.parametrize("value", [VALID_FNR, D_NUMBER, VALID_FNR[:6] + " " + VALID_FNR[6:], "15038512338",
                                   "a@b.no", "x@y", "+47 912 34 567", "0047 91234567", "912 34 567",
                                   "91 23 45 67", "91234567", "21234567", "p_5f1c9a0b7e21", "2024-0001", "",
                                   "P" + VALID_FNR, "0" + VALID_FNR, VALID_FNR[1:], "\u00a0" + VALID_FNR + "\t"])
def test_python_and_sql_checks_agree(value):
    """The SQL scan finds what the Python check finds: e-mail and phones exactly; for national ids the SQL is a
    pre-filter whose candidates Python judges by check digits, so it must let every real one through."""
    import duckdb

    from pipelines.ingest.privacy import (
        EMAIL_SQL,
        NATIONAL_ID_CANDIDATE_SQL,
        PHONE_FORMATTED_SQL,
        PHONE_PLAIN_SQL,
        identifier_kind,
        national_id_in,
    )

    con = duckdb.connect()
    candidate, other = con.execute(
        f"SELECT {NATIONAL_ID_CANDIDATE_SQL.format(v='$v')}, {EMAIL_SQL.format(v='$v')} "
        f"OR {PHONE_FORMATTED_SQL.format(v='trim($v)')} OR {PHONE_PLAIN_SQL.format(v='trim($v)')}",
        {"v": value}).fetchall()[0]
    if national_id_in(value):
        assert candidate
    assert bool(candidate and national_id_in(value) or other) == (identifier_kind(value) is not None)
