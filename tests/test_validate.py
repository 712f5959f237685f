"""Each row rule, with the exact message a clinic administrator reads."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import CLINICIANS_CSV, TODAY, query, write

from pipelines.ingest.load import load_files

T_COLS = ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product", "units",
          "corrects_treatment_id", "price_nok", "minutes", "baseline_headache_days", "prior_treatments",
          "neuromuscular_disease"]
T_GOOD = dict(treatment_id="T1", patient_ref="p1", treated_on="2024-03-05", clinician="C01", indication="cosmetic",
              areas="glabella", product="Botox", units="20", corrects_treatment_id="", price_nok="1900",
              minutes="20", baseline_headache_days="", prior_treatments="2", neuromuscular_disease="no")
F_COLS = ["follow_up_id", "treatment_id", "seen_on", "effect", "eyelid_ptosis", "headache_days", "satisfaction"]
F_GOOD = dict(follow_up_id="F1", treatment_id="T1", seen_on="2024-03-19", effect="full", eyelid_ptosis="no",
              headache_days="", satisfaction="4")


def csv_text(cols, rows):
    def cell(v):
        return f'"{v}"' if ("," in v or '"' in v) else v
    return ",".join(cols) + "\n" + "".join(",".join(cell(r[c]) for c in cols) + "\n" for r in rows)


def treatment_reason(tmp_path, db, **override):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", csv_text(T_COLS, [{**T_GOOD, **override}]))
    load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    rows = query(db, "SELECT column_name, reason FROM rejected_rows")
    return rows[0] if rows else None


@pytest.mark.parametrize("override, column, reason", [
    (dict(treatment_id=""), "treatment_id", "treatment_id: is empty (required)"),
    (dict(treatment_id="T" * 65), "treatment_id", "treatment_id: is longer than 64 characters"),
    (dict(treated_on="31.02.2024"), "treated_on",
     'treated_on: "31.02.2024" is not a real date (write 2024-03-05 or 05.03.2024)'),
    (dict(treated_on="2024-13-01"), "treated_on",
     'treated_on: "2024-13-01" is not a real date (write 2024-03-05 or 05.03.2024)'),
    (dict(treated_on="2025-02-01"), "treated_on", "treated_on: 2025-02-01 lies in the future"),
    (dict(treated_on="1899-12-31"), "treated_on", "treated_on: 1899-12-31 is before 1990-01-01"),
    (dict(clinician="C7"), "clinician",
     'clinician: unknown clinician code "C7" (not in the clinicians table; check for a typo or load the '
     'clinicians file first)'),
    (dict(clinician="C 01!"), "clinician",
     'clinician: "C 01!" is not a valid code (letters, digits, - or _, at most 16)'),
    (dict(indication="acne"), "indication",
     'indication: "acne" is not one of: cosmetic, migraine, tension_headache, hyperhidrosis, bruxism'),
    (dict(areas="glabella|chin"), "areas",
     'areas: "chin" is not a known area (glabella, forehead, crows_feet, other_face, masseter, axillae, palms, '
     'head_neck)'),
    (dict(product="Botax"), "product",
     'product: "Botax" is not one of: Botox, Vistabel, Bocouture, Xeomin, Letybo, Azzalure, Dysport, Alluzience, '
     'Relfydess'),
    (dict(units="0"), "units", 'units: "0" must be greater than 0'),
    (dict(units="-5"), "units", 'units: "-5" must be greater than 0'),
    (dict(units="twenty"), "units", 'units: "twenty" is not a number'),
    (dict(units="NaN"), "units", 'units: "NaN" is not a number'),
    (dict(units="5000"), "units", 'units: "5000" is more than the plausible maximum of 400 units of Botox for one '
                                  'session'),
    (dict(price_nok="-1"), "price_nok", 'price_nok: "-1" is below the minimum 0'),
    (dict(minutes="601"), "minutes", 'minutes: "601" is above the maximum 600'),
    (dict(baseline_headache_days="32"), "baseline_headache_days",
     'baseline_headache_days: "32" is above the maximum 31'),
    (dict(prior_treatments="2.5"), "prior_treatments", 'prior_treatments: "2.5" is not a whole number'),
    (dict(neuromuscular_disease="maybe"), "neuromuscular_disease",
     'neuromuscular_disease: "maybe" is not yes/no (write yes/no, ja/nei, true/false or 1/0)'),
    (dict(corrects_treatment_id="T1"), "corrects_treatment_id",
     "corrects_treatment_id: a session cannot correct itself"),
    (dict(corrects_treatment_id="T77"), "corrects_treatment_id",
     'corrects_treatment_id: corrects unknown treatment "T77" (load the session it corrects first; the row is '
     'kept and can be retried)'),
])
def test_treatment_rules(tmp_path, db, override, column, reason):
    assert treatment_reason(tmp_path, db, **override) == (column, reason)


@pytest.mark.parametrize("override, expected", [
    (dict(units="1 000", product="Dysport", price_nok="1.900,50"), (1000.0, 1900.5)),
    (dict(units="12,5", price_nok="1 900"), (12.5, 1900.0)),
    (dict(units="20.5", price_nok="1,900.50"), (20.5, 1900.5)),
    (dict(units=" 20 ", price_nok="1900"), (20.0, 1900.0)),
])
def test_number_spellings(tmp_path, db, override, expected):
    assert treatment_reason(tmp_path, db, **override) is None
    assert query(db, "SELECT units, price_nok FROM treatments") == [expected]


@pytest.mark.parametrize("value, expected", [("ja", True), ("NEI", False), ("True", True), ("0", False),
                                             ("yes", True), ("", None)])
def test_yes_no_spellings(tmp_path, db, value, expected):
    assert treatment_reason(tmp_path, db, neuromuscular_disease=value) is None
    assert query(db, "SELECT neuromuscular_disease FROM treatments") == [(expected,)]


@pytest.mark.parametrize("value, expected", [("05.03.2024", dt.date(2024, 3, 5)), ("5.3.2024", dt.date(2024, 3, 5)),
                                             ("2024-03-05 00:00:00", dt.date(2024, 3, 5)),
                                             ("2024-03-05", dt.date(2024, 3, 5))])
def test_date_spellings(tmp_path, db, value, expected):
    assert treatment_reason(tmp_path, db, treated_on=value) is None
    assert query(db, "SELECT treated_on FROM treatments") == [(expected,)]


def test_areas_are_normalised(tmp_path, db):
    assert treatment_reason(tmp_path, db, areas="Panne | Sinnarynke|glabella") is None
    assert query(db, "SELECT areas FROM treatments") == [("forehead|glabella",)]


def test_clinician_codes_are_case_insensitive(tmp_path, db):
    assert treatment_reason(tmp_path, db, clinician="c01") is None
    assert query(db, "SELECT clinician FROM treatments") == [("C01",)]


def test_correction_dated_before_the_session_it_corrects(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    rows = [T_GOOD, {**T_GOOD, "treatment_id": "T2", "treated_on": "2024-03-01", "corrects_treatment_id": "T1"}]
    write(tmp_path / "t.csv", csv_text(T_COLS, rows))
    load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    assert query(db, "SELECT record_id, reason FROM rejected_rows") == [
        ("T2", "treated_on: the correction is dated 2024-03-01, before the session it corrects (T1, 2024-03-05)")]


def test_duplicate_ids_in_one_load(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "a.csv", csv_text(T_COLS, [T_GOOD, {**T_GOOD, "treatment_id": "T2"}]))
    write(tmp_path / "b.csv", csv_text(T_COLS, [{**T_GOOD, "units": "30"}, {**T_GOOD, "treatment_id": "T2"}]))
    result = load_files([tmp_path / "c.csv", tmp_path / "a.csv", tmp_path / "b.csv"], db, today=TODAY)
    # T2 twice with identical content: loaded once; T1 with different content: every copy rejected
    assert query(db, "SELECT treatment_id FROM treatments") == [("T2",)]
    assert query(db, "SELECT file_name, row_number, reason FROM rejected_rows ORDER BY file_name") == [
        ("a.csv", 2, "treatment_id: T1 appears more than once in this load with different content (a.csv row 2, "
                     "b.csv row 2); keep one version"),
        ("b.csv", 2, "treatment_id: T1 appears more than once in this load with different content (a.csv row 2, "
                     "b.csv row 2); keep one version"),
    ]
    assert [(s.rows_read, s.rows_loaded, s.rows_rejected) for s in result.sources[1:]] == [(2, 1, 1), (2, 1, 1)]


FOLLOW_CASES = [
    (dict(treatment_id="T9"), "treatment_id",
     'treatment_id: follow-up for unknown treatment "T9" (load the treatments file first; the row is kept and can '
     'be retried)'),
    (dict(seen_on="2024-03-04"), "seen_on", "seen_on: 2024-03-04 is before the treatment date 2024-03-05 of T1"),
    (dict(effect="great"), "effect", 'effect: "great" is not one of: full, partial, none, not_assessed'),
    (dict(satisfaction="0"), "satisfaction", 'satisfaction: "0" is below the minimum 1'),
    (dict(headache_days="-2"), "headache_days", 'headache_days: "-2" is below the minimum 0'),
    (dict(eyelid_ptosis="x"), "eyelid_ptosis",
     'eyelid_ptosis: "x" is not yes/no (write yes/no, ja/nei, true/false or 1/0)'),
]


@pytest.mark.parametrize("override, column, reason", FOLLOW_CASES)
def test_follow_up_rules(tmp_path, db, override, column, reason):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", csv_text(T_COLS, [T_GOOD]))
    write(tmp_path / "f.csv", csv_text(F_COLS, [{**F_GOOD, **override}]))
    load_files([tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "f.csv"], db, today=TODAY)
    assert query(db, "SELECT column_name, reason FROM rejected_rows") == [(column, reason)]


def test_effect_accepts_norwegian(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", csv_text(T_COLS, [T_GOOD]))
    write(tmp_path / "f.csv", csv_text(F_COLS, [{**F_GOOD, "effect": "Delvis"}]))
    load_files([tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "f.csv"], db, today=TODAY)
    assert query(db, "SELECT effect FROM follow_ups") == [("partial",)]


def test_follow_up_loaded_in_a_later_load_finds_its_treatment(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", csv_text(T_COLS, [T_GOOD]))
    load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)
    write(tmp_path / "f.csv", csv_text(F_COLS, [F_GOOD]))
    load_files([tmp_path / "f.csv"], db, today=TODAY)
    assert query(db, "SELECT follow_up_id FROM follow_ups") == [("F1",)]


# --------------------------------------------------------------------------------------------------------------
# Slash dates are refused, never guessed (issue 17, item 9)
# --------------------------------------------------------------------------------------------------------------

SLASH_CASES = [
    ("01/02/2024", '"01/02/2024" uses slashes, which can mean 1 February or 2 January; write 2024-02-01 or '
                   '01.02.2024'),
    ("1/2/2024 10:00", '"1/2/2024 10:00" uses slashes, which can mean 1 February or 2 January; write 2024-02-01 or '
                       '01.02.2024'),
    # only one reading is a date: still refused (a file that writes 13/02 also writes 01/02), with that reading
    ("13/02/2024", '"13/02/2024" uses slashes, which are never read as a date (01/02/2024 can mean 1 February or '
                   '2 January); write 2024-02-13 or 13.02.2024'),
    ("02/13/2024", '"02/13/2024" uses slashes, which are never read as a date (01/02/2024 can mean 1 February or '
                   '2 January); write 2024-02-13 or 13.02.2024'),
    ("05/05/2024", '"05/05/2024" uses slashes, which are never read as a date (01/02/2024 can mean 1 February or '
                   '2 January); write 2024-05-05 or 05.05.2024'),
    ("31/31/2024", '"31/31/2024" uses slashes and is not a real date; write dates as 2024-03-05 or 05.03.2024'),
]


def test_a_file_with_slash_dates_has_those_rows_rejected_with_file_row_and_column(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    rows = [T_GOOD] + [{**T_GOOD, "treatment_id": f"T{i}", "treated_on": value}
                       for i, (value, _) in enumerate(SLASH_CASES, start=2)]
    write(tmp_path / "slashes.csv", csv_text(T_COLS, rows))
    result = load_files([tmp_path / "c.csv", tmp_path / "slashes.csv"], db, today=TODAY)
    assert (result.sources[1].rows_read, result.sources[1].rows_loaded, result.sources[1].rows_rejected) == (7, 1, 6)
    assert query(db, "SELECT treatment_id, treated_on FROM treatments") == [("T1", dt.date(2024, 3, 5))]
    assert query(db, "SELECT file_name, row_number, record_id, column_name, reason FROM rejected_rows "
                     "ORDER BY row_number") == [
        ("slashes.csv", i + 1, f"T{i}", "treated_on", f"treated_on: {reason}")  # header line 1, T1 line 2
        for i, (_, reason) in enumerate(SLASH_CASES, start=2)]
    # the load report names them too
    assert result.rejected_examples[0] == (
        'slashes.csv row 3: treated_on: "01/02/2024" uses slashes, which can mean 1 February or 2 January; '
        'write 2024-02-01 or 01.02.2024')


def test_slash_dates_are_refused_in_every_date_column(tmp_path, db):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "p.csv", "product,valid_from,cost_per_unit_nok\nBotox,01/02/2024,30\n")
    write(tmp_path / "t.csv", csv_text(T_COLS, [T_GOOD]))
    write(tmp_path / "f.csv", csv_text(F_COLS, [{**F_GOOD, "seen_on": "19/03/2024"}]))
    load_files([tmp_path / "c.csv", tmp_path / "p.csv", tmp_path / "t.csv", tmp_path / "f.csv"], db, today=TODAY)
    assert query(db, "SELECT file_name, row_number, column_name, reason FROM rejected_rows ORDER BY file_name") == [
        ("f.csv", 2, "seen_on", 'seen_on: "19/03/2024" uses slashes, which are never read as a date (01/02/2024 '
                                'can mean 1 February or 2 January); write 2024-03-19 or 19.03.2024'),
        ("p.csv", 2, "valid_from", 'valid_from: "01/02/2024" uses slashes, which can mean 1 February or 2 January; '
                                   'write 2024-02-01 or 01.02.2024'),
    ]
    assert query(db, "SELECT count(*) FROM product_prices") == [(0,)]
