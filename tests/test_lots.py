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


# --------------------------------------------------------------------------------------------------------------
# The hand-made lots fixture (tests/fixtures/lots): two lots of Botox (LOTA, LOTB), LOTB also an Azzalure lot
# ("lotb", stored upper case), two sessions without a lot; counted by hand as of 2024-12-31
# --------------------------------------------------------------------------------------------------------------

AS_OF = dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def lots_db(tmp_path_factory):
    from conftest import FIXTURES

    db_path = tmp_path_factory.mktemp("lots") / "clinic.duckdb"
    result = load_files(sorted((FIXTURES / "lots").glob("*.csv")), db_path, today=TODAY)
    assert result.rows_rejected == 0
    return db_path


@pytest.fixture
def lots_con(lots_db):
    import duckdb

    con = duckdb.connect(str(lots_db), read_only=True)
    yield con
    con.close()


def _by(frame, column):
    import pandas as pd

    return {(None if pd.isna(v) else v): tuple(int(x) for x in r)
            for v, r in zip(frame[column], frame[["eligible_n", "followed_up_n", "numerator_n"]].to_numpy(),
                            strict=True)}


def test_insufficient_effect_by_lot_counted_by_hand(lots_con):
    """LOTA: T01-T06 eligible, T06 never followed up, T03 partial and T05 none: 2 of 5. LOTB: T07, T08 partial,
    T13 none, T09 and T10 full: 3 of 5 (T14 is a correction, T15 a migraine session: not eligible). No lot: T11
    full, T12 partial: 1 of 2."""
    from pipelines.metrics import counting

    frame = counting.rates(lots_con, "insufficient_effect", by="lot", as_of=AS_OF)
    assert _by(frame, "lot") == {"LOTA": (6, 5, 2), "LOTB": (5, 5, 3), None: (2, 2, 1)}
    rates = dict(zip(frame["lot"], frame["rate"], strict=True))
    assert rates["LOTA"] == pytest.approx(0.4) and rates["LOTB"] == pytest.approx(0.6)


def test_insufficient_effect_by_dilution_counted_by_hand(lots_con):
    """1.25 ml: T05 (none), T06 (no follow-up); 2.5 ml: T01-T04, T07-T10 with T03, T07, T08 insufficient; 4 ml:
    T13 (none); none recorded: T11, T12."""
    from pipelines.metrics import counting

    frame = counting.rates(lots_con, "insufficient_effect", by="dilution", as_of=AS_OF)
    assert _by(frame, "dilution") == {1.25: (2, 1, 1), 2.5: (8, 8, 3), 4.0: (1, 1, 1), None: (2, 2, 1)}


def test_dose_bands_counted_by_hand(lots_con):
    """Glabella's label dose is 20 Botox units: T04 (10 U, 0.5) is below, T08 (30 U, 1.5) above; T02 (15 U, 0.75)
    and T10 (25 U, 1.25) sit on the edges of the label band and count in it, as does T12 (50 Dysport units x 0.37
    = 18.5, 0.925)."""
    from pipelines.metrics import counting

    frame = counting.rates(lots_con, "insufficient_effect", by="dose_band", as_of=AS_OF)
    assert _by(frame, "dose_band") == {"below_label": (1, 1, 0), "above_label": (1, 1, 1),
                                       "at_label": (11, 10, 5)}
    bands = dict(lots_con.execute(
        f"WITH s AS ({counting.model_sql('sessions')}) SELECT treatment_id, {counting.dose_band_sql('s')} FROM s",
        {"as_of": AS_OF}).fetchall())
    assert bands["T02"] == bands["T10"] == bands["T12"] == bands["T15"] == "at_label"  # T15: 400 x 0.37 / 155


def test_expired_lot_counted_by_hand(lots_con):
    """Assessed: the 12 sessions with a lot expiry (T11, T12 and T13 have none: not assessed, never 'not
    expired'); expired: T09 and T10, treated in April with LOTB of Botox that expired on 31 March."""
    from pipelines.metrics import counting, registry

    o = registry.get("expired_lot")
    assert o.watch == "case" and o.group == "safety"
    r = counting.rates(lots_con, "expired_lot", as_of=AS_OF).iloc[0]
    assert (r["eligible_n"], r["followed_up_n"], r["numerator_n"], r["denominator_n"]) == (15, 12, 2, 12)
    listed = counting.session_outcomes(lots_con, "expired_lot", as_of=AS_OF)
    assert sorted(listed.loc[listed["in_numerator"], "treatment_id"]) == ["T09", "T10"]
    # the page's list asks SQL for the expired sessions only (not every session with a lot)
    expired = counting.session_outcomes(lots_con, "expired_lot", as_of=AS_OF, only_numerator=True)
    assert expired["treatment_id"].tolist() == ["T09", "T10"] and expired["in_numerator"].all()


# --------------------------------------------------------------------------------------------------------------
# The exports: rates --by lot | dilution | dose_band, funnel --by clinician | lot | product, and their releases
# --------------------------------------------------------------------------------------------------------------


def _export(db, tmp_path, *args):
    import pandas as pd

    from pipelines.__main__ import main

    out = tmp_path / "out.csv"
    assert main(["export", *args, "-o", str(out), "--db", str(db)]) == 0
    return pd.read_csv(out, comment="#"), out.read_text()


@pytest.mark.parametrize("by, expected", [
    ("lot", {"LOTA": (5, 2), "LOTB": (5, 3), None: (2, 1)}),
    ("dilution", {1.25: (1, 1), 2.5: (8, 3), 4.0: (1, 1), None: (2, 1)}),
    ("dose_band", {"above_label": (1, 1), "at_label": (10, 5), "below_label": (1, 0)}),
])
def test_export_rates_by_lot_dilution_and_dose_band(lots_db, tmp_path, by, expected):
    import pandas as pd

    frame, _ = _export(lots_db, tmp_path, "rates", "--outcome", "insufficient_effect", "--by", by, "--period", "all",
                       "--as-of", AS_OF.isoformat())
    assert frame.columns[0] == by  # the group column is named after --by
    got = {(None if pd.isna(v) else v): (int(d), int(n)) for v, d, n in
           zip(frame[by], frame["denominator_n"], frame["numerator_n"], strict=True)}
    assert got == expected


@pytest.mark.parametrize("by, units", [("lot", ["LOTA", "LOTB"]), ("product", ["Botox", "Dysport"]),
                                       ("clinician", ["C01", "C02"])])
def test_export_funnel_by_lot_product_or_clinician(lots_db, tmp_path, by, units):
    """Sessions without a lot are no unit of the funnel by lot; the counts per unit are the hand counts above."""
    frame, text = _export(lots_db, tmp_path, "funnel", "--outcome", "insufficient_effect", "--by", by,
                          "--as-of", AS_OF.isoformat())
    assert frame.columns[0] == by and sorted(frame[by]) == units
    if by == "lot":
        assert dict(zip(frame["lot"], zip(frame["numerator_n"], frame["denominator_n"], strict=True),
                        strict=True)) == {"LOTA": (2, 5), "LOTB": (3, 5)}
        assert "# by: lot" in text


def test_the_default_funnel_is_by_clinician_as_before(lots_db, tmp_path):
    frame, text = _export(lots_db, tmp_path, "funnel", "--outcome", "insufficient_effect", "--as-of",
                          AS_OF.isoformat())
    from pipelines.release.export import FUNNEL_COLUMNS

    assert list(frame.columns) == FUNNEL_COLUMNS and "# by:" not in text


def test_releases_by_lot_are_suppressed_and_rounded(lots_db, tmp_path):
    """A release by lot goes through the same disclosure control: every cell here has fewer than 10 sessions, so
    every count is hidden and marked; nothing of a hidden cell is shown."""
    for args in (["rates", "--outcome", "insufficient_effect", "--by", "lot", "--period", "month"],
                 ["funnel", "--outcome", "insufficient_effect", "--by", "lot"]):
        frame, text = _export(lots_db, tmp_path, *args, "--from", "2024-03-01", "--to", "2024-03-31", "--release")
        assert "lot" in frame.columns and "# suppression:" in text and "patient_ref" not in frame.columns
        from pipelines.release.disclosure import MARK

        assert (frame["suppression"] == MARK).all() and (frame["numerator_n"].astype(str) == MARK).all()


def test_release_rounds_a_lot_with_enough_sessions(tmp_path):
    """Twelve sessions of one lot in March, seven with insufficient effect: shown rounded to base 5 (10 and 5)."""
    import pandas as pd

    write(tmp_path / "c.csv", CLINICIANS_CSV)
    rows = [{**T_GOOD, "treatment_id": f"T{i:02d}", "patient_ref": f"p{i:02d}", "treated_on": f"2024-03-{i:02d}",
             "lot_number": "BIG1", "units_by_area": ""} for i in range(1, 13)]
    write(tmp_path / "t.csv", csv_text(T_COLS, rows))
    write(tmp_path / "f.csv", "follow_up_id,treatment_id,seen_on,effect\n" + "".join(
        f"F{i:02d},T{i:02d},2024-03-{i + 14:02d},{'partial' if i <= 7 else 'full'}\n" for i in range(1, 13)))
    db = tmp_path / "db" / "clinic.duckdb"
    assert load_files([tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "f.csv"], db, today=TODAY).rows_rejected == 0
    frame, _ = _export(db, tmp_path, "rates", "--outcome", "insufficient_effect", "--by", "lot", "--period", "month",
                       "--from", "2024-03-01", "--to", "2024-03-31", "--release", "--as-of", "2024-04-30")
    r = frame.iloc[0]
    assert (r["lot"], str(r["numerator_n"]), str(r["denominator_n"]), r["suppression"] if
            isinstance(r["suppression"], str) else "") == ("BIG1", "5", "10", "")
    assert float(r["rate"]) == pytest.approx(0.5)  # recomputed from the rounded counts, never 7/12
    assert isinstance(pd.Timestamp(r["period_start"]), pd.Timestamp)


# --------------------------------------------------------------------------------------------------------------
# The demo: the planted weak lot is flagged by the funnel by lot; the expired lot is counted
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(tmp_path_factory):
    import duckdb

    from pipelines.demo.build import run_demo

    db = tmp_path_factory.mktemp("lots_demo") / "clinic.duckdb"
    run_demo(db, n_treatments=20_000, end_date=dt.date(2025, 10, 31), progress=False)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_the_funnel_by_lot_flags_the_planted_lot_in_the_demo(demo_con):
    from pipelines.demo import lots
    from pipelines.metrics import analysis

    frame, _ = analysis.funnel(demo_con, "insufficient_effect", by="lot")
    planted = frame[frame["lot"] == lots.PLANTED_LOT_NUMBER].iloc[0]
    assert planted["flag"] == "high" and planted["denominator_n"] >= 50
    # no other Vistabel lot is flagged high
    others = frame[frame["lot"].str.startswith("V") & (frame["lot"] != lots.PLANTED_LOT_NUMBER)]
    assert not (others["flag"] == "high").any()


def test_the_demo_has_a_few_sessions_after_their_lots_expiry(demo_con):
    from pipelines.demo import lots
    from pipelines.metrics import counting

    r = counting.rates(demo_con, "expired_lot").iloc[0]
    assert 1 <= r["numerator_n"] <= 30 and r["followed_up_n"] < r["eligible_n"]  # some lots not recorded
    rows = demo_con.execute("SELECT DISTINCT product FROM treatments WHERE treated_on > lot_expiry").fetchall()
    assert rows == [(lots.EXPIRED_LOT_PRODUCT,)]
    assert demo_con.execute("SELECT count(*) FROM rejected_rows WHERE column_name IN ('lot_number', 'lot_expiry', "
                            "'dilution_ml_per_100u', 'units_by_area')").fetchall()[0][0] == 0


def test_a_database_from_before_the_lot_columns_gets_them_at_the_next_load(tmp_path, db):
    """A clinic's database created before issue 13 has treatments without the four columns; the next load adds
    them (store.init_schema) instead of failing on the upsert."""
    import duckdb

    write(tmp_path / "c.csv", CLINICIANS_CSV)
    write(tmp_path / "old.csv", "treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,"
                                "price_nok\nT2,p2,2024-03-06,C01,cosmetic,glabella,Botox,20,1900\n")
    assert load_files([tmp_path / "c.csv", tmp_path / "old.csv"], db, today=TODAY).rows_rejected == 0
    from pipelines.ingest import store

    for path in (db, store.DbPaths(db).work):  # the published database and the loader's working copy
        con = duckdb.connect(str(path))
        for c in ("lot_number", "lot_expiry", "dilution_ml_per_100u", "units_by_area"):
            con.execute(f"ALTER TABLE treatments DROP COLUMN {c}")
        con.close()
    write(tmp_path / "t.csv", csv_text(T_COLS, [T_GOOD]))
    assert load_files([tmp_path / "t.csv"], db, today=TODAY).rows_rejected == 0
    assert query(db, "SELECT treatment_id, lot_number FROM treatments ORDER BY 1") == [("T1", "C5487C3"), ("T2", None)]
