"""Mapping presets (issue 14, item 2): validation, versioned saving, recognition by header, and what applying one
does to the hand-made exports in tests/fixtures/presets (figures counted by hand from those files)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest

from pipelines import __main__ as cli
from pipelines.errors import UserError
from pipelines.ingest import presets
from pipelines.ingest.load import load_files
from pipelines.ingest.presets import PresetError
from tests.conftest import FIXTURES, ROOT, query, write

BOOKING_CSV = FIXTURES / "presets" / "booking_appointments.csv"
JOURNAL_CSV = FIXTURES / "presets" / "journal_treatments.csv"
REFERENCE = [ROOT / "data" / "clinicians.csv", ROOT / "data" / "product_prices.csv"]
TODAY = dt.date(2026, 6, 30)  # after every date of data/product_prices.csv and the fixtures
BOOKING_HEADER = "Timebestilling ID;Kunde-ID;Dato;Behandler;Tjeneste;Preparat;Enheter;Pris;Varighet (min);Merknad\n"


def shipped(name: str) -> dict:
    return json.loads((ROOT / "data" / "presets" / f"{name}.json").read_text(encoding="utf-8"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _problems(data: dict, source: str = "my_preset.json") -> str:
    with pytest.raises(PresetError) as info:
        presets.validate_preset(data, source)
    return str(info.value)


# ------------------------------------------------------------------------------------------------------------
# Validation against the data contract
# ------------------------------------------------------------------------------------------------------------


def test_the_shipped_presets_are_valid():
    for name in ("booking_appointments", "journal_treatments"):
        preset = presets.validate_preset(shipped(name), name)
        assert preset.table == "treatments" and preset.correction is not None and preset.services


@pytest.mark.parametrize("change, key, fix", [
    (lambda d: d["columns"].__setitem__("Enheter", "unitz"), "`columns.Enheter`", "use one of treatment_id"),
    (lambda d: d["values"]["product"].__setitem__("Botox 100E", "Botax"), "`values.product.Botox 100E`",
     "use one of Botox"),
    (lambda d: d["services"]["map"]["Migrene"].__setitem__("areas", ["head_neck", "neck"]),
     "`services.map.Migrene.areas`", "use glabella"),
    (lambda d: d["services"]["map"]["Migrene"].__setitem__("indication", "headache"),
     "`services.map.Migrene.indication`", "use one of cosmetic"),
    (lambda d: d.__setitem__("table", "bookings"), "`table`", "use one of clinicians"),
    (lambda d: d["columns"].__setitem__("Rom", "minutes"), "`columns.Rom`", "map only columns the export has"),
    (lambda d: d["columns"].pop("Enheter"), "`columns`", "`units`, which `treatments` requires"),
    (lambda d: d["corrections"].__setitem__("within_days", 0), "`corrections.within_days`", "from 1 to 365"),
    (lambda d: d["corrections"].__setitem__("column", "Notat"), "`corrections.column`", "not a column of `header`"),
    (lambda d: d["values"].__setitem__("units", {"ti": "10"}), "`values.units`", "are read as they are"),
    (lambda d: d.__setitem__("name", "../../etc"), "`name`", "lower-case letters"),
    (lambda d: d.__setitem__("colums", {}), "`colums`", "unknown key"),
])
def test_validation_names_the_file_and_key_and_says_how_to_fix(change, key, fix):
    data = copy.deepcopy(shipped("booking_appointments"))
    change(data)
    message = _problems(data, "data/presets/booking_appointments.json")
    assert message.startswith("preset data/presets/booking_appointments.json has ")
    assert key in message and fix in message


def test_every_problem_is_listed_at_once():
    data = copy.deepcopy(shipped("booking_appointments"))
    data["values"]["product"]["Botox 100E"] = "Botax"
    data["services"]["map"]["Migrene"]["areas"] = ["skull"]
    message = _problems(data)
    assert "has 2 problems" in message and "Botax" in message and "skull" in message


def test_two_spellings_that_differ_only_in_case_are_refused():
    data = copy.deepcopy(shipped("booking_appointments"))
    data["values"]["product"]["botox 100e "] = "Vistabel"
    assert "are the same spelling" in _problems(data)


def test_a_code_value_that_is_a_phone_number_is_refused():
    data = copy.deepcopy(shipped("booking_appointments"))
    data["values"]["clinician"] = {"Dr. Hansen": "91234567"}
    assert "`values.clinician.Dr. Hansen`" in _problems(data)


# ------------------------------------------------------------------------------------------------------------
# Saving: new versions beside the database, owner-only, never overwritten
# ------------------------------------------------------------------------------------------------------------


def _own_preset(**changes) -> presets.Preset:
    data = copy.deepcopy(shipped("booking_appointments"))
    data["name"] = "my_booking"
    data["header"] = data["header"] + ["Rom"]  # another header than the shipped preset's
    data.update(changes)
    return presets.validate_preset(data, "test")


def test_save_makes_v1_then_v2_owner_only_and_never_overwrites(db):
    first = presets.save_preset(_own_preset(description="first"), db)
    v1 = db.parent / "clinic.presets" / "my_booking" / "v1.json"
    assert first.version == 1 and first.path == v1
    v1_text = v1.read_text(encoding="utf-8")
    second = presets.save_preset(_own_preset(description="second"), db)
    v2 = v1.with_name("v2.json")
    assert second.version == 2 and second.path == v2
    assert v1.read_text(encoding="utf-8") == v1_text  # untouched
    assert (_mode(v1), _mode(v2), _mode(v1.parent), _mode(v1.parent.parent)) == (0o600, 0o600, 0o700, 0o700)
    assert presets.load_preset("my_booking", db).description == "second"
    assert presets.load_preset("my_booking", db, version=1).description == "first"
    info = {p.name: p for p in presets.list_presets(db)}
    assert info["my_booking"].version == 2 and info["my_booking"].versions == (1, 2)
    assert info["my_booking"].origin == "saved" and info["booking_appointments"].origin == "shipped"
    with pytest.raises(PresetError, match="has no version 3"):
        presets.load_preset("my_booking", db, version=3)


def test_saving_a_shipped_name_makes_version_2_beside_the_database(db):
    data = shipped("booking_appointments")
    data["description"] = "edited by the clinic"
    saved = presets.save_preset(presets.validate_preset(data, "page"), db)
    assert saved.version == 2 and saved.path == db.parent / "clinic.presets" / "booking_appointments" / "v2.json"
    assert presets.load_preset("booking_appointments", db).description == "edited by the clinic"
    assert presets.load_preset("booking_appointments", db, 1).origin == "shipped"


def test_a_second_preset_for_the_same_header_is_refused(db):
    data = shipped("booking_appointments")
    data["name"] = "copy_of_booking"
    with pytest.raises(PresetError, match="`booking_appointments` already recognises this header"):
        presets.save_preset(presets.validate_preset(data, "page"), db)


def test_a_tampered_saved_preset_is_an_error_not_a_silent_mapping(db):
    saved = presets.save_preset(_own_preset(), db)
    data = json.loads(saved.path.read_text(encoding="utf-8"))
    data["values"]["product"]["Botox 100E"] = "Botax"
    saved.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PresetError, match=r"v1\.json has 1 problem: `values.product.Botox 100E`"):
        presets.load_preset("my_booking", db)


@pytest.mark.parametrize("name", ["../clinic", "Booking", "", "a/b", "x'); DROP TABLE treatments; --"])
def test_a_preset_name_cannot_leave_the_presets_folder(db, name):
    with pytest.raises(PresetError, match="is not a preset name"):
        presets.load_preset(name, db)


# ------------------------------------------------------------------------------------------------------------
# Recognition by header
# ------------------------------------------------------------------------------------------------------------


def test_match_by_normalised_header(db):
    header = ["timebestilling id", "KUNDE-ID", "Dato", "Behandler", "Tjeneste", "Preparat", "Enheter", "Pris",
              "Varighet (min)", " Merknad "]
    assert presets.match_preset(header, db).name == "booking_appointments"
    assert presets.match_preset(header[:-1], db) is None  # one column fewer: another export
    assert presets.match_preset(presets.file_headers(JOURNAL_CSV)[0], db).name == "journal_treatments"


def test_a_saved_preset_applies_itself_when_its_header_comes_again(db, tmp_path):
    preset = presets.save_preset(_own_preset(), db)
    f = write(tmp_path / "uke12.csv", BOOKING_HEADER.rstrip("\n") + ";Rom\n"
              "X1;K1;04.03.2024;C01;Migrene;Botox 200E;155;4200;40;;Rom 2\n")
    result = load_files(REFERENCE + [f], db, today=TODAY)
    assert f"preset my_booking v{preset.version} applied to uke12.csv (recognised by its header)" in \
        result.notes[0]
    assert query(db, "SELECT indication, areas, product FROM treatments") == [("migraine", "head_neck", "Botox")]


# ------------------------------------------------------------------------------------------------------------
# The shipped presets on their fixture files (counted by hand)
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def loaded(db):
    result = load_files(REFERENCE + [BOOKING_CSV, JOURNAL_CSV], db, today=TODAY)
    return db, result


def test_both_exports_load_end_to_end_into_a_fresh_database(loaded):
    db, result = loaded
    by_file = {s.name: (s.rows_read, s.rows_loaded, s.rows_rejected) for s in result.sources}
    # booking: 12 rows; rejected rows 8 (REDO, no earlier session), 9 (unknown service), 10 ("Botoks"),
    # 12 (slash date), 13 (correction 56 days after the session). journal: 12 rows; rejected rows 9 ("Kanskje"),
    # 11 (correction without a session), 12 (clinician C99), 13 (service "Skjelving").
    assert by_file["clinicians.csv"] == (10, 10, 0) and by_file["product_prices.csv"] == (19, 19, 0)
    assert by_file["booking_appointments.csv"] == (12, 7, 5)
    assert by_file["journal_treatments.csv"] == (12, 8, 4)
    # the service and marker columns were read by the preset: not reported as ignored
    assert [s.ignored_columns for s in result.sources if s.table == "treatments"] == [[], []]
    assert query(db, "SELECT ignored_columns FROM load_log WHERE table_name = 'treatments'") == [("",), ("",)]
    assert result.notes[:2] == [
        ("preset booking_appointments v1 applied to booking_appointments.csv (recognised by its header): "
         "2 corrections linked to the session they correct, 3 rows rejected by the preset"),
        ("preset journal_treatments v1 applied to journal_treatments.csv (recognised by its header): "
         "2 corrections linked to the session they correct, 2 rows rejected by the preset"),
    ]


def test_services_give_indication_and_areas(loaded):
    db, _ = loaded
    counts = dict(query(db, "SELECT indication, count(*) FROM treatments GROUP BY 1"))
    # hyperhidrosis: B1002, B1005, J2002, J2003, J2009; migraine: B1003, J2001, J2007;
    # cosmetic: B1001, B1004, B1006, B1010, J2005, J2006; bruxism: J2004
    assert counts == {"hyperhidrosis": 5, "migraine": 3, "cosmetic": 6, "bruxism": 1}
    assert query(db, "SELECT areas FROM treatments WHERE treatment_id = 'B1001'") == [("crows_feet|forehead|glabella",)]
    assert query(db, "SELECT areas FROM treatments WHERE treatment_id = 'J2003'") == [("palms",)]
    assert query(db, "SELECT count(*) FROM treatments WHERE indication = 'migraine' AND areas = 'head_neck'") == [(3,)]


def test_values_are_mapped_before_validation(loaded):
    db, _ = loaded
    products = dict(query(db, "SELECT product, count(*) FROM treatments GROUP BY 1"))
    # Botox: B1001-3, B1006, J2001, J2002, J2007, J2009; Azzalure: B1004, B1010, J2004; Dysport: B1005;
    # Bocouture: J2003; Vistabel: J2005, J2006
    assert products == {"Botox": 8, "Azzalure": 3, "Dysport": 1, "Bocouture": 1, "Vistabel": 2}
    assert query(db, "SELECT age_band, sex, neuromuscular_disease, pregnant_or_breastfeeding FROM treatments "
                     "WHERE treatment_id IN ('J2003', 'J2007') ORDER BY treatment_id") == [
        ("18-29", "female", False, False), ("60-69", "female", True, False)]


def test_corrections_are_linked_to_the_same_patients_last_session(loaded):
    db, _ = loaded
    assert query(db, "SELECT treatment_id, corrects_treatment_id FROM treatments "
                     "WHERE corrects_treatment_id IS NOT NULL ORDER BY 1") == [
        ("B1006", "B1001"), ("B1010", "B1004"), ("J2006", "J2005"), ("J2009", "J2002")]


def test_unplaceable_rows_are_rejected_with_their_reason(loaded):
    db, _ = loaded
    rows = query(db, "SELECT file_name, row_number, reason FROM rejected_rows ORDER BY file_name, row_number")
    assert [(f, r) for f, r, _ in rows] == [
        ("booking_appointments.csv", 8), ("booking_appointments.csv", 9), ("booking_appointments.csv", 10),
        ("booking_appointments.csv", 12), ("booking_appointments.csv", 13),
        ("journal_treatments.csv", 9), ("journal_treatments.csv", 11), ("journal_treatments.csv", 12),
        ("journal_treatments.csv", 13)]
    reasons = {(f, r): why for f, r, why in rows}
    assert reasons[("booking_appointments.csv", 8)].startswith(
        "corrects_treatment_id: marked as a correction (Merknad: \"REDO\", preset booking_appointments v1) but the "
        "patient has no earlier session without a marker in the 28 days before 2024-03-19")
    assert "load the session it corrects first" in reasons[("booking_appointments.csv", 8)]
    assert "in the 28 days before 2024-04-30" in reasons[("booking_appointments.csv", 13)]
    assert reasons[("booking_appointments.csv", 9)].startswith(
        "Tjeneste: service \"Fillers lepper\" is not in preset booking_appointments v1's service map; add it")
    assert reasons[("booking_appointments.csv", 10)].startswith("product: \"Botoks\" is not one of")
    assert "uses slashes" in reasons[("booking_appointments.csv", 12)]
    assert "unknown clinician code \"C99\"" in reasons[("journal_treatments.csv", 12)]
    # kept as mapped, with the two columns the preset read; the export's other columns are never stored (one empty
    # field per optional contract column, the four lot columns of issue 13 included)
    line = ('{"line": "B1007;K506;19.03.2024;C02;cosmetic;glabella;Bocouture;20;;1900;15;;;;;;;;;;;;;Botox '
            'sinnarynke;REDO"}')
    assert query(db, "SELECT raw_values FROM rejected_rows WHERE row_number = 8 AND file_name LIKE 'booking%'") == [
        (line,)]
    # never loaded as a primary session
    assert query(db, "SELECT count(*) FROM treatments WHERE treatment_id IN ('B1007', 'B1012', 'J2010')") == [(0,)]


def test_a_correction_links_to_a_stored_session_within_the_window(loaded, tmp_path):
    db, _ = loaded
    # K505's session B1005 (08.03) is stored; K501 has B1001 (04.03, primary) and B1006 (18.03, a correction):
    # the most recent earlier session *without a marker* is B1001, 20 days before 24.03.
    f = write(tmp_path / "april.csv", BOOKING_HEADER
              + "B2001;K505;20.03.2024;C02;Svetteb. armhuler;Dysport 300E;50;0;15;redo\n"
              + "B2002;K501;24.03.2024;C01;Botox 3 områder;Botox 100E;4;0;10;korrigering\n"
              + "B2003;K503;06.04.2024;C01;Migrene;Botox 200E;10;0;10;REDO (ny dose)\n")
    result = load_files([f], db, today=TODAY)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    assert query(db, "SELECT treatment_id, corrects_treatment_id FROM treatments WHERE treatment_id LIKE 'B2%' "
                     "ORDER BY 1") == [("B2001", "B1005"), ("B2002", "B1001")]
    # B1003 (06.03) is 31 days before 06.04: outside the 28 days
    assert "in the 28 days before 2024-04-06" in query(
        db, "SELECT reason FROM rejected_rows WHERE file_name = 'april.csv'")[0][0]


def test_a_marker_must_be_a_word_of_its_own(db, tmp_path):
    f = write(tmp_path / "b.csv", BOOKING_HEADER
              + "B1;K1;04.03.2024;C01;Migrene;Botox 200E;155;4200;40;\n"
              + "B2;K1;10.03.2024;C01;Migrene;Botox 200E;155;4200;40;Predose-samtale\n")
    load_files(REFERENCE + [f], db, today=TODAY)
    assert query(db, "SELECT treatment_id, corrects_treatment_id FROM treatments ORDER BY 1") == [
        ("B1", None), ("B2", None)]


def test_a_named_preset_is_applied_and_every_file_still_validated(db, tmp_path):
    other = write(tmp_path / "eksport.csv", BOOKING_HEADER.replace("Merknad", "Kommentar").replace(";", ",")
                  + "B1,K1,04.03.2024,C01,Botox sinnarynke,Botox 100E,20,1900,15,\n")
    with pytest.raises(UserError, match="preset booking_appointments v1 needs the column `Merknad`, which this "
                       "file does not have; export it with that column, or choose the preset made for this export"):
        load_files(REFERENCE + [other], db, today=TODAY, preset="booking_appointments")
    assert not db.exists()  # nothing published


def test_a_named_preset_with_no_file_of_its_table_is_refused(db):
    with pytest.raises(PresetError, match="no file of this load was read as `treatments`; nothing was stored"):
        load_files(REFERENCE, db, today=TODAY, preset="journal_treatments")
    assert not db.exists()


def test_the_privacy_guard_still_refuses_the_file_first(db, tmp_path):
    f = write(tmp_path / "b.csv", BOOKING_HEADER
              + "B1;K1;04.03.2024;C01;Migrene;Botox 200E;155;4200;40;912 34 567\n")
    with pytest.raises(Exception, match="refused: row 2, column `merknad` holds what looks like a phone number"):
        load_files(REFERENCE + [f], db, today=TODAY)
    assert not db.exists()


# ------------------------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------------------------


def test_cli_preset_argument(db, tmp_path, capsys):
    f = write(tmp_path / "journal.csv", JOURNAL_CSV.read_text(encoding="utf-8"))
    code = cli.main(["load", *map(str, REFERENCE), str(f), "--db", str(db), "--preset", "journal_treatments",
                     "--no-alerts", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "note: preset journal_treatments v1 applied to journal.csv (named):" in out
    assert "journal.csv (treatments): 12 read, 8 loaded, 4 rejected" in out


def test_cli_names_an_older_version(db, tmp_path, capsys):
    data = shipped("journal_treatments")
    data["values"]["product"]["Botox (Allergan)"] = "Vistabel"  # v2 reads this spelling differently
    presets.save_preset(presets.validate_preset(data, "test"), db)
    code = cli.main(["load", *map(str, REFERENCE), str(JOURNAL_CSV), "--db", str(db), "--preset",
                     "journal_treatments:v1", "--no-alerts", "--no-progress"])
    assert code == 0 and "preset journal_treatments v1 applied" in capsys.readouterr().out
    assert query(db, "SELECT product FROM treatments WHERE treatment_id = 'J2001'") == [("Botox",)]
    load_files([JOURNAL_CSV], db, today=TODAY)  # newest version, recognised by the header
    assert query(db, "SELECT product FROM treatments WHERE treatment_id = 'J2001'") == [("Vistabel",)]


def test_cli_unknown_preset_is_one_line(db, capsys):
    code = cli.main(["load", str(BOOKING_CSV), "--db", str(db), "--preset", "bookings", "--no-alerts"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "no preset named `bookings` (known: booking_appointments, journal_treatments" in err


# ------------------------------------------------------------------------------------------------------------
# A preset's text is data, never SQL
# ------------------------------------------------------------------------------------------------------------


INJECTION = "x'); DROP TABLE treatments; --"


def test_sql_in_a_preset_is_data(db, tmp_path):
    data = shipped("booking_appointments")
    data["name"] = "sql_test"
    data["header"] = data["header"] + ["Rom"]
    data["values"]["product"][INJECTION] = "Vistabel"
    data["services"]["map"][INJECTION + " 2"] = {"indication": "cosmetic", "areas": ["forehead"]}
    data["corrections"]["markers"].append(INJECTION)
    presets.save_preset(presets.validate_preset(data, "test"), db)
    f = write(tmp_path / "b.csv", BOOKING_HEADER.rstrip("\n").replace(";", ",") + ",Rom\n"
              + f"B1,K1,04.03.2024,C01,{INJECTION} 2,{INJECTION},20,1900,15,,R1\n"
              + f"B2,K1,10.03.2024,C01,{INJECTION} 2,{INJECTION},4,0,10,{INJECTION},R1\n")
    result = load_files(REFERENCE + [f], db, today=TODAY)
    assert result.rows_rejected == 0
    assert query(db, "SELECT treatment_id, indication, areas, product, corrects_treatment_id FROM treatments "
                     "ORDER BY 1") == [("B1", "cosmetic", "forehead", "Vistabel", None),
                                       ("B2", "cosmetic", "forehead", "Vistabel", "B1")]


# ------------------------------------------------------------------------------------------------------------
# Excel and Parquet exports are recognised by their header too
# ------------------------------------------------------------------------------------------------------------


def _booking_frame():
    import pandas as pd

    return pd.read_csv(BOOKING_CSV, sep=";", dtype=str, keep_default_na=False)


def test_an_excel_export_gets_its_preset(db, tmp_path):
    import pandas as pd

    path = tmp_path / "timebok.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["cover page"]}).to_excel(xl, sheet_name="Info", index=False)
        _booking_frame().to_excel(xl, sheet_name="Timer", index=False)
    assert presets.file_headers(path)[1][:2] == ["Timebestilling ID", "Kunde-ID"]
    result = load_files(REFERENCE + [path], db, today=TODAY)
    assert result.notes[0].startswith("preset booking_appointments v1 applied to timebok.xlsx [Timer] "
                                      "(recognised by its header): 2 corrections linked")
    summary = {s.name: (s.rows_read, s.rows_loaded, s.rows_rejected) for s in result.sources}
    assert summary["timebok.xlsx [Timer]"] == (12, 7, 5)


def test_a_parquet_export_gets_its_preset(db, tmp_path):
    path = tmp_path / "timebok.parquet"
    _booking_frame().to_parquet(path)
    result = load_files(REFERENCE + [path], db, today=TODAY)
    assert result.notes[0].startswith("preset booking_appointments v1 applied to timebok.parquet")
    assert query(db, "SELECT count(*) FROM treatments WHERE indication = 'hyperhidrosis'") == [(2,)]


def test_two_presets_for_one_header_are_refused_not_guessed(db, tmp_path):
    folder = presets.presets_dir(db) / "twin"
    folder.mkdir(parents=True)
    data = shipped("booking_appointments")
    data["name"] = "twin"
    (folder / "v1.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PresetError, match="presets `booking_appointments`, `twin` all recognise this header; name "
                                          "the one to use"):
        load_files(REFERENCE + [BOOKING_CSV], db, today=TODAY)
    assert not db.exists()
