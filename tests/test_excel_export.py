"""Norwegian Excel files open as numbers, in Norwegian, and name no path (issue 16, item 7).

Before: `--excel` wrote `125,0` for a count, `0,034818941504178275` for a rate, `False` / `True`, a point instead of
the comma in every column where a release had marked a cell `suppressed` (pandas writes such a column as text), the
English headers on a Norwegian page, and `# database: /some/path` (where the server keeps its data) in every file.
Now every file is read back here as Excel would: the bytes with Python's csv module (`;`), every cell checked.

- every numeric cell has a decimal comma (never a point), a count has no decimals, nothing has more than 6;
  a column mixing numbers and the suppression marker keeps its numbers as numbers;
- no True / False (ja / nei, yes / no); headers, provenance and the marker in Norwegian for `lang="nb"` (the CLI's
  `--excel` default; `--lang en` keeps the English column names);
- no export holds the database's path: the snapshot version names the data;
- the Export page says before the download how many cells a release suppresses (counted by hand below) and its
  preview holds exactly the file's provenance lines and rows."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from app_session import AUTH
from conftest import ROOT
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dashboard import i18n
from pipelines.__main__ import main
from pipelines.demo.build import run_demo
from pipelines.metrics.counting import Filters
from pipelines.release import build, disclosure, export, norwegian
from pipelines.release.build import ExportOptions

NUMBER = re.compile(r"-?[0-9]+(,[0-9]{1,6})?")  # what Norwegian Excel reads as a number
POINT_NUMBER = re.compile(r"-?[0-9]+\.[0-9]+")  # what it reads as text (or a date) instead
Q2 = Filters(date_from=dt.date(2025, 4, 1), date_to=dt.date(2025, 6, 30))
YEAR = Filters(date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 12, 31))
# every kind, internal and released (a release of a quarter for one small clinician: many suppressed cells)
FILES = {
    "rates": ExportOptions(outcome="bruising", by="clinician"),
    "rates_release": ExportOptions(outcome="bruising", by="clinician", filters=Q2, release=disclosure.Rule()),
    "funnel": ExportOptions(outcome="ptosis"),
    "funnel_release": ExportOptions(outcome="ptosis", filters=Q2, release=disclosure.Rule()),
    "oe": ExportOptions(outcome="ptosis"),
    "spc": ExportOptions(outcome="correction"),
    "spc_release": ExportOptions(outcome="correction", filters=YEAR, release=disclosure.Rule()),
    "costs": ExportOptions(by="clinician"),
    "costs_release": ExportOptions(by="clinician", filters=Q2, release=disclosure.Rule()),
    "cusum": ExportOptions(outcome="bruising"),
    "signals": ExportOptions(),
    "records": ExportOptions(),
}
# a count column: a whole number in every cell it has a number in (in both languages' headers)
COUNTS = {c for c in (*export.RATES_COLUMNS, *export.FUNNEL_COLUMNS, *export.OE_COLUMNS, *export.SPC_COLUMNS,
                      *export.CUSUM_COLUMNS, *export.SIGNALS_COLUMNS, "correction_n", "primary_n", "unpriced_n",
                      "unknown_chair_time_n", "late_correction_n")
          if (c.endswith("_n") and c != "expected_n")  # the expected count is a sum of risks, not a count
          or c in ("longest_run", "longest_run_max", "crossings", "crossings_min", "part")}
COUNT_HEADERS = COUNTS | {norwegian.column(c, "nb") for c in COUNTS}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("excel") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    return db


@pytest.fixture(scope="module")
def con(demo_db):
    import duckdb

    c = duckdb.connect(str(demo_db), read_only=True)
    yield c
    c.close()


def kind_of(name: str) -> str:
    return name.removesuffix("_release")


def read_back(raw: bytes) -> tuple[list[str], list[str], list[list[str]]]:
    """(provenance lines, header, rows) of an Excel-dialect file, read as Excel reads it: UTF-8 with BOM, `;`."""
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    lines = text.split("\n")
    prov = [line for line in lines if line.startswith("#")]
    assert lines[:len(prov)] == prov, "the provenance lines come first"
    rows = list(csv.reader(io.StringIO("\n".join(lines[len(prov):])), delimiter=";"))
    return prov, rows[0], [r for r in rows[1:] if r]


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("name", list(FILES))
def test_every_numeric_cell_of_an_excel_file_is_a_number_with_a_decimal_comma(con, demo_db, name, lang):
    raw, rows_n = build.csv_bytes(con, kind_of(name), dataclasses.replace(FILES[name], excel=True, lang=lang))
    prov, header, rows = read_back(raw)
    assert len(rows) == rows_n > 0
    marker = norwegian.SUPPRESSED[lang]
    yes, no = norwegian.YES_NO[lang]
    numeric_columns = 0
    for i, col in enumerate(header):
        cells = [r[i] for r in rows]
        assert len(cells) == len(rows), "every row has every column"
        for cell in cells:
            assert cell not in ("True", "False", "true", "false"), (col, cell)
            assert not POINT_NUMBER.fullmatch(cell), f"{name} {col}: {cell} has a decimal point"
        values = [c for c in cells if c not in ("", marker)]
        if values and any(NUMBER.fullmatch(c) for c in values):
            numeric_columns += 1
            # a numeric column holds numbers only (besides empty cells and the marker)
            assert all(NUMBER.fullmatch(c) for c in values), (name, col, [c for c in values
                                                                           if not NUMBER.fullmatch(c)][:5])
            if col in COUNT_HEADERS:
                assert all("," not in c for c in values), f"{name} {col}: a count with decimals"
        if values and set(values) <= {yes, no}:
            assert col not in COUNT_HEADERS
    assert numeric_columns >= 1 or name == "records"  # records: every value generalised into a band or a code
    if name in ("rates_release", "costs_release"):  # a released column mixing numbers and the marker
        mixed = [col for i, col in enumerate(header) if {r[i] for r in rows} & {marker}
                 and any(NUMBER.fullmatch(r[i]) and "," in r[i] for r in rows)]
        assert mixed, f"{name}: no column mixes suppressed cells and decimal numbers"
    # no path on the server: not the database's, not its folder; the snapshot version names the data instead
    text = raw.decode("utf-8-sig")
    assert str(demo_db.parent) not in text and "/tmp/" not in text and "database" not in text
    version = "datasett_versjon" if lang == "nb" else "snapshot_version"
    assert any(re.fullmatch(rf"# {version}: [0-9]+", line) for line in prov)


def test_the_norwegian_file_speaks_norwegian(con):
    raw, _ = build.csv_bytes(con, "costs", ExportOptions(by="clinician", filters=Q2, release=disclosure.Rule(),
                                                         excel=True, lang="nb"))
    prov, header, rows = read_back(raw)
    assert header[:5] == ["behandler", "korrigeringer", "korrigeringskostnad_kr", "første_behandlinger",
                          "kostnad_per_100_første_behandlinger_kr"]
    assert header[-1] == "skjuling"
    labels = [line[2:].split(": ", 1)[0] for line in prov]
    assert labels == ["eksport", "telt_per", "filtre", "etter", "forbruksmateriell_kr", "korrigeringer",
                      "ukjente_deler", "utleveringsperiode", "skjuling", "avrunding", "datasett_versjon",
                      "datasett_publisert", "laget", "laget_av"]
    values = dict(line[2:].split(": ", 1) for line in prov)
    assert values["filtre"] == "fra 2025-04-01 / til 2025-06-30"
    assert values["etter"] == "behandler"
    assert values["skjuling"] == "tellere 1-4 og nevnere under 10 skjult, med komplementær skjuling"
    assert "hver skjult celle er merket `skjult`" in values["avrunding"]
    assert not any(cell == "suppressed" for r in rows for cell in r)
    # the funnel's booleans and flags
    raw, _ = build.csv_bytes(con, "funnel", ExportOptions(outcome="ptosis", excel=True, lang="nb"))
    _, header, rows = read_back(raw)
    applied = header.index("overspredning_brukt")
    assert {r[applied] for r in rows} <= {"ja", "nei"}
    assert {r[header.index("flagg")] for r in rows} <= {"", "høy", "lav"}


def test_excel_cells_by_hand():
    """Each rule on a frame whose cells are known: counts stored as floats (NaN beside them), a rate, money, a
    mixed released column, booleans as values and as text, a date, a negative number, a formula-like text."""
    frame = pd.DataFrame({
        "numerator_n": [125.0, float("nan"), "suppressed"],
        "rate": [0.034818941504178275, 1.0, "suppressed"],
        "correction_cost_nok": [38500.0, 6936.936936936937, -0.004],
        "z": [-0.0344552900798, 1e-9, 12.549629713378144],
        "overdispersion_applied": [False, True, None],
        "concern": ["true", "false", ""],
        "period_start": [dt.date(2025, 4, 1), dt.date(2025, 5, 1), dt.date(2025, 6, 1)],
        "clinician": ["C01", "=cmd", "ÅSH"],
    }, dtype=object)
    out = export.excel_cells(frame, lang="nb")
    assert list(out.columns) == ["teller", "andel", "korrigeringskostnad_kr", "z", "overspredning_brukt", "bekymring",
                                 "periodestart", "behandler"]
    assert out.to_dict("records") == [
        {"teller": "125", "andel": "0,034819", "korrigeringskostnad_kr": "38500", "z": "-0,034455",
         "overspredning_brukt": "nei", "bekymring": "ja", "periodestart": "2025-04-01", "behandler": "C01"},
        {"teller": "", "andel": "1", "korrigeringskostnad_kr": "6936,94", "z": "0",
         "overspredning_brukt": "ja", "bekymring": "nei", "periodestart": "2025-05-01", "behandler": "'=cmd"},
        {"teller": "skjult", "andel": "skjult", "korrigeringskostnad_kr": "0", "z": "12,54963",
         "overspredning_brukt": "", "bekymring": "", "periodestart": "2025-06-01", "behandler": "ÅSH"}]
    english = export.excel_cells(frame, lang="en")
    assert list(english.columns) == list(frame.columns)
    assert english["numerator_n"].tolist() == ["125", "", "suppressed"]
    assert english["overdispersion_applied"].tolist() == ["no", "yes", ""]


def test_the_cli_excel_file_is_norwegian_unless_lang_en(demo_db, tmp_path):
    out = tmp_path / "costs.csv"
    assert main(["export", "costs", "--by", "clinician", "--excel", "--db", str(demo_db), "-o", str(out)]) == 0
    prov, header, _ = read_back(out.read_bytes())
    assert header[0] == "behandler" and prov[0] == "# eksport: costs"
    assert main(["export", "costs", "--by", "clinician", "--excel", "--lang", "en", "--db", str(demo_db),
                 "-o", str(out)]) == 0
    prov, header, rows = read_back(out.read_bytes())
    assert header[0] == "clinician" and prov[0] == "# export: costs"
    assert all(NUMBER.fullmatch(r[1]) for r in rows)  # English words, Norwegian Excel's numbers
    # a plain CSV keeps the English column names and the path stays out of it too
    assert main(["export", "costs", "--db", str(demo_db), "-o", str(out)]) == 0
    text = out.read_text()
    assert "\nmonth,correction_n," in text and str(demo_db) not in text and "# database" not in text


def test_suppressed_cells_counted_by_hand():
    """Three marked cells outside the `suppression` column, in two rows (the column itself is not counted)."""
    frame = pd.DataFrame({"clinician": ["C01", "C02", "C03"], "numerator_n": [5, "suppressed", "suppressed"],
                          "rate": [0.5, "suppressed", 0.25], "suppression": ["", "suppressed", ""]}, dtype=object)
    assert build.suppressed(frame) == (3, 2)
    assert build.suppressed(frame.iloc[:1]) == (0, 0)


def test_the_preview_is_the_file(con):
    """The preview's provenance lines, header and rows are the downloaded file's, but for the time it is made."""
    options = ExportOptions(outcome="bruising", by="clinician", filters=Q2, release=disclosure.Rule(), excel=True,
                            lang="nb", user="revisor@klinikk.no")
    shown = build.preview(con, "rates", options, rows=1000)
    prov, header, rows = read_back(build.csv_bytes(con, "rates", options)[0])
    laget = [i for i, line in enumerate(prov) if line.startswith("# laget: ")]
    assert len(laget) == 1 and shown.provenance_lines[laget[0]] == "# laget: (tidspunktet for nedlastingen)"
    assert [line for i, line in enumerate(shown.provenance_lines) if i != laget[0]] == \
        [line for i, line in enumerate(prov) if i != laget[0]]
    assert list(shown.header) == header and [list(r) for r in shown.rows] == rows
    marked = sum(cell == "skjult" for r in rows for cell in r[:-1])  # the file's marked cells, by counting them
    assert shown.suppressed_cells_n == marked > 0
    assert shown.suppressed_rows_n == sum(any(cell == "skjult" for cell in r[:-1]) for r in rows)


# --------------------------------------------------------------------------------------------------------------
# the Export page
# --------------------------------------------------------------------------------------------------------------



@pytest.fixture
def page_env(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_DB", str(demo_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    st.cache_data.clear()
    st.cache_resource.clear()
    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    yield registered
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_export_page_says_what_a_release_suppresses_and_previews_the_file(page_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "revisor@klinikk.no", "roles": ["auditor"]}
    for k, v in {"lang": "nb", "outcome": "bruising", "release_period": "2025-Q2", "excel": "True",
                 "rates_by": "clinician"}.items():
        at.query_params[k] = v
    at.switch_page("dashboard/pages/export.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    label = i18n.t("export_download", "nb", name=i18n.t("export_rates", "nb"))
    button = next(b for b in at.get("download_button") if b.label == label)
    raw = page_env[button.proto.deferred_file_id]()
    prov, header, rows = read_back(raw)
    marked = sum(cell == "skjult" for r in rows for cell in r[:-1])
    marked_rows = sum(any(cell == "skjult" for cell in r[:-1]) for r in rows)
    assert marked > 0
    said = i18n.tn("export_suppresses_cells", marked, "nb") + " " + i18n.tn("export_suppresses_rows", marked_rows,
                                                                          "nb")
    captions = [c.value for c in at.caption]
    assert any(said in c and i18n.tn("export_rows", len(rows), "nb") in c for c in captions), captions
    # the preview: the file's provenance lines (the time of the download aside) and its rows, cell for cell
    code = next(c.value for c in at.code if c.value.startswith("# eksport: rates"))
    assert [line for line in code.split("\n") if not line.startswith("# laget: ")] == \
        [line for line in prov if not line.startswith("# laget: ")]
    table = next(t.value for t in at.dataframe if list(t.value.columns) == header)
    assert table.astype(str).values.tolist() == rows


def test_the_access_log_export_names_no_folder_on_the_server(tmp_path):
    """The access log download (admin) names its file, not where the server keeps it (issue 16, item 7)."""
    from dashboard import auth
    from pipelines.release import access

    path = tmp_path / "secret-folder" / "clinic.access.jsonl"
    path.parent.mkdir()
    access.append(path, access.Entry("lege@klinikk.no", "doctor", "sign_in", "dashboard"))
    body, rows = auth.log_csv(path, auth.Viewer("admin@klinikk.no", ("admin",)))
    text = body.decode("utf-8")
    assert rows == 1 and "# file: clinic.access.jsonl" in text.splitlines()
    assert "secret-folder" not in text and str(tmp_path) not in text


def test_the_release_caption_names_the_marker_and_filters_as_the_file_writes_them(page_env):
    """A Norwegian Excel file marks a hidden cell `skjult` and writes its filters in Norwegian; the page says so
    (a plain CSV: `suppressed`, English filters)."""
    said = {}
    for excel in ("True", "False"):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": "revisor@klinikk.no", "roles": ["auditor"]}
        for k, v in {"lang": "nb", "outcome": "bruising", "release_period": "2025-Q2", "excel": excel,
                     "clin": "C01"}.items():
            at.query_params[k] = v
        at.switch_page("dashboard/pages/export.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        said[excel] = [c.value for c in at.caption]
    assert any("Skjulte celler har teksten «skjult»" in c for c in said["True"])
    assert any(c.startswith("Filtre i filene: behandlere = C01 · ") for c in said["True"])
    assert any("Skjulte celler har teksten «suppressed»" in c for c in said["False"])
    assert any(c.startswith("Filtre i filene: clinicians = C01 · ") for c in said["False"])
