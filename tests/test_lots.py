"""Issue 13, items 1-3: lot, expiry, dilution and units per area in the contract (validated row by row, with the
column named), outcomes by lot / dilution / dose band and the funnel by lot or product, and `expired_lot`."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import CLINICIANS_CSV, TODAY, query, write

from pipelines import contract
from pipelines.ingest.load import load_files

T_COLS = ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product", "units",
          "price_nok", "lot_number", "lot_expiry", "dilution_ml_per_100u", "units_by_area"]
T_GOOD = dict(treatment_id="T1", patient_ref="p1", treated_on="2024-03-05", clinician="C01", indication="cosmetic",
              areas="glabella|forehead", product="Botox", units="30", price_nok="2900", lot_number="c5487c3",
              lot_expiry="2026-06-30", dilution_ml_per_100u="2,5", units_by_area="Glabella:20 | panne:10")


def csv_text(cols, rows):
    def cell(v):
        return f'"{v}"' if ("," in v or '"' in v) else v
    return ",".join(cols) + "\n" + "".join(",".join(cell(r[c]) for c in cols) + "\n" for r in rows)


def load_treatments(tmp_path, db, rows):
    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "t.csv", csv_text(T_COLS, rows))
    return load_files([tmp_path / "c.csv", tmp_path / "t.csv"], db, today=TODAY)


def test_the_four_columns_are_optional_treatment_columns_of_the_contract():
    t = contract.TREATMENTS
    assert [t.column(c).kind for c in ("lot_number", "lot_expiry", "dilution_ml_per_100u", "units_by_area")] == \
        ["code", "date", "number", "area_units"]
    assert not any(t.column(c).required for c in ("lot_number", "lot_expiry", "dilution_ml_per_100u",
                                                  "units_by_area"))


def test_a_good_row_loads_typed_and_normalised(tmp_path, db):
    """The lot is a code (upper case), an expiry after the load date is fine, the dilution takes a decimal comma,
    units_by_area is written in the contract's areas, in order, whatever the spelling."""
    result = load_treatments(tmp_path, db, [T_GOOD])
    assert result.rows_rejected == 0
    assert query(db, "SELECT lot_number, lot_expiry, dilution_ml_per_100u, units_by_area FROM treatments") == [
        ("C5487C3", dt.date(2026, 6, 30), 2.5, "forehead:10|glabella:20")]


def test_the_columns_may_be_left_out_or_blank(tmp_path, db):
    row = {**T_GOOD, "lot_number": "", "lot_expiry": "", "dilution_ml_per_100u": "", "units_by_area": ""}
    assert load_treatments(tmp_path, db, [row]).rows_rejected == 0
    write(tmp_path / "old.csv", "treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,"
                                "price_nok\nT2,p2,2024-03-06,C01,cosmetic,glabella,Botox,20,1900\n")
    assert load_files([tmp_path / "old.csv"], db, today=TODAY).rows_rejected == 0
    assert query(db, "SELECT treatment_id, lot_number, units_by_area FROM treatments ORDER BY 1") == [
        ("T1", None, None), ("T2", None, None)]


@pytest.mark.parametrize("override, column, reason", [
    (dict(lot_number="LOT 7!"), "lot_number",
     'lot_number: "LOT 7!" is not a valid code (letters, digits, - or _, at most 16)'),
    (dict(lot_expiry="31.02.2026"), "lot_expiry",
     'lot_expiry: "31.02.2026" is not a real date (write 2024-03-05 or 05.03.2024)'),
    (dict(lot_expiry="06/30/2026"), "lot_expiry",
     'lot_expiry: "06/30/2026" uses slashes, which are never read as a date (01/02/2024 can mean 1 February or '
     '2 January); write 2026-06-30 or 30.06.2026'),
    (dict(dilution_ml_per_100u="0"), "dilution_ml_per_100u", 'dilution_ml_per_100u: "0" must be greater than 0'),
    (dict(dilution_ml_per_100u="25"), "dilution_ml_per_100u",
     'dilution_ml_per_100u: "25" is above the maximum 10'),
    (dict(dilution_ml_per_100u="2.5ml"), "dilution_ml_per_100u", 'dilution_ml_per_100u: "2.5ml" is not a number'),
    (dict(units_by_area="glabella=20|forehead:10"), "units_by_area",
     'units_by_area: "glabella=20" is not area:units; write e.g. glabella:20|forehead:10'),
    (dict(units_by_area="glabella:20|nose:10"), "units_by_area",
     'units_by_area: "nose" is not a known area (glabella, forehead, crows_feet, other_face, masseter, axillae, '
     'palms, head_neck)'),
    (dict(units_by_area="glabella:30|forehead:0"), "units_by_area",
     'units_by_area: "forehead:0": the units must be greater than 0'),
    (dict(units_by_area="glabella:20|sinnarynke:10"), "units_by_area",
     "units_by_area: names an area more than once; give each area once, e.g. glabella:20|forehead:10"),
    (dict(units_by_area="glabella:20|crows_feet:10"), "units_by_area",
     "units_by_area: names crows_feet, not among the session's areas (forehead, glabella); correct units_by_area "
     "or areas"),
    (dict(units_by_area="glabella:20|forehead:5"), "units_by_area",
     "units_by_area: adds up to 25 units, but units is 30; make the parts add up to units"),
    (dict(units="30,5", units_by_area="glabella:20|forehead:10"), "units_by_area",
     "units_by_area: adds up to 30 units, but units is 30,5; make the parts add up to units"),
])
def test_each_rule_names_row_column_and_fix(tmp_path, db, override, column, reason):
    result = load_treatments(tmp_path, db, [{**T_GOOD, "treatment_id": "T0", "patient_ref": "p0"},
                                            {**T_GOOD, **override}])
    assert result.rows_rejected == 1
    rows = query(db, "SELECT row_number, column_name, reason FROM rejected_rows")
    assert rows == [(3, column, reason)]  # the file's third line: the second data row


def test_decimal_units_by_area_add_up(tmp_path, db):
    row = {**T_GOOD, "units": "37,5", "units_by_area": "glabella:17,5|forehead:20"}
    assert load_treatments(tmp_path, db, [row]).rows_rejected == 0
    assert query(db, "SELECT units_by_area FROM treatments") == [("forehead:20|glabella:17.5",)]
