"""One export builder (issue 11, part 2): `pipelines.release.build.build(con, kind, options) -> (frame, provenance)`
is used by `python -m pipelines export` and by the Export page.

- The command line's file and the page's download are the same bytes for the same options: every kind, internal
  files and releases, Norwegian Excel's dialect, filters and the kinds' own options. The page is driven through
  AppTest (its widgets set from the URL, the download buttons clicked), the CLI through `main()`; the clock, the OS
  account and the record export's one-off key are held fixed, so the files can be compared byte for byte.
- build() refuses an unknown kind and a missing or unknown outcome with a message that says what to give, before it
  touches the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from app_session import AUTH
from conftest import ROOT
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from pipelines.__main__ import build_parser, main
from pipelines.demo.build import run_demo
from pipelines.metrics import registry
from pipelines.release import build, export, records
from pipelines.release.build import ExportOptionError, ExportOptions

TIMEOUT = 90
EMAIL = {"auditor": "revisor@klinikk.no", "admin": "admin@klinikk.no"}
NOW = dt.datetime(2026, 7, 1, 9, 30, 0)
INTERNAL_LINE = {"en": "# release: internal: small cells not suppressed; not for use outside the clinic",
                 "nb": "# utlevering: intern: små celler er ikke skjult; ikke til bruk utenfor klinikken"}
KINDS_OFFERED = ("rates", "funnel", "oe", "spc", "costs", "cusum", "records")


def labels(lang: str) -> dict[str, str]:
    """kind -> its download button's label on the page in `lang`."""
    from dashboard import i18n

    return {kind: i18n.t("export_download", lang, name=i18n.t(f"export_{kind}", lang)) for kind in KINDS_OFFERED}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("export_build") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    return db


class _FixedSecrets:
    """The record export's one-off key and row order, held fixed so two files can be compared byte for byte."""

    @staticmethod
    def token_bytes(n: int) -> bytes:
        return bytes(range(n))

    @staticmethod
    def randbits(k: int) -> int:
        return 20260701


@pytest.fixture
def held(demo_db, tmp_path, monkeypatch):
    """The page and the CLI on the same database, with the clock, the user and the record key held fixed."""
    monkeypatch.setenv("CLINIC_DB", str(demo_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    monkeypatch.setattr(export, "_now", lambda: NOW)
    monkeypatch.setattr(records, "secrets", _FixedSecrets)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file_id -> the callable a download button registered (what the server runs on a click)."""
    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return registered


def page_files(role: str, downloads: dict, query: dict) -> dict[str, bytes]:
    """kind -> the bytes the Export page hands over when its download button is clicked."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": EMAIL[role], "roles": [role]}
    at.query_params["lang"] = "en"
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page("dashboard/pages/export.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]
    buttons = {b.label: b for b in at.get("download_button")}
    return {kind: downloads[buttons[label].proto.deferred_file_id]()
            for kind, label in labels(query.get("lang", "en")).items() if label in buttons}


def cli_file(demo_db: Path, tmp_path: Path, kind: str, args: list[str], user: str, monkeypatch) -> bytes:
    monkeypatch.setattr(export, "_user", lambda: user)
    out = tmp_path / f"cli_{kind}.csv"
    assert main(["export", kind, *args, "--db", str(demo_db), "-o", str(out)]) == 0
    return out.read_bytes()


# (role, the page's URL, kind -> the same options on the command line)
CASES = {
    "internal, every kind, Excel, filtered, every option away from its default": (
        "admin",
        {"outcome": "bruising", "mode": "internal", "excel": "True", "clin": ["C01", "C02"], "from": "2025-02-01",
         "to": "2026-03-31", "rates_by": "clinician", "rates_period": "quarter", "method": "exact", "chart": "pp",
         "rules": "mdc", "spc_period": "week", "costs_by": "product", "consumables": "150"},
        {"rates": ["--outcome", "bruising", "--by", "clinician", "--period", "quarter"],
         "funnel": ["--outcome", "bruising", "--method", "exact"],
         "spc": ["--outcome", "bruising", "--chart", "pp", "--rules", "mdc", "--period", "week"],
         "costs": ["--by", "product", "--consumables-nok", "150"],
         "cusum": ["--outcome", "bruising"],
         "oe": ["--outcome", "bruising"],
         "records": []},
        ["--excel", "--lang", "en", "--clinician", "C01", "--clinician", "C02", "--from", "2025-02-01", "--to",
         "2026-03-31"]),
    "internal, the defaults": (
        "admin",
        {"outcome": "correction", "mode": "internal"},
        {"rates": ["--outcome", "correction"], "funnel": ["--outcome", "correction"],
         "spc": ["--outcome", "correction"], "costs": [], "cusum": ["--outcome", "correction"],
         "oe": ["--outcome", "correction"], "records": []},
        []),
    "internal, the g-chart of a rare outcome": (
        "admin",
        {"outcome": "double_vision", "mode": "internal", "chart": "g"},
        {"rates": ["--outcome", "double_vision"], "funnel": ["--outcome", "double_vision"],
         "spc": ["--outcome", "double_vision", "--chart", "g"], "costs": [],
         "cusum": ["--outcome", "double_vision"], "oe": ["--outcome", "double_vision"], "records": []},
        []),
    "release of a quarter, a stricter rule, the whole period per row": (
        "auditor",
        {"outcome": "insufficient_effect", "release_period": "2025-Q2", "hide_num": "9", "hide_den": "30",
         "rates_period": "all", "costs_by": "clinician", "method": "normal"},
        {"rates": ["--outcome", "insufficient_effect", "--period", "all"],
         "funnel": ["--outcome", "insufficient_effect", "--method", "normal"],
         "spc": ["--outcome", "insufficient_effect"], "costs": ["--by", "clinician"]},
        ["--release", "--from", "2025-04-01", "--to", "2025-06-30", "--min-numerator", "10",
         "--min-denominator", "30"]),
    "release of a year in Excel, by indication, quarterly control chart, one clinician": (
        "admin",
        {"outcome": "ptosis", "release_period": "2025", "excel": "True", "clin": ["C03"], "rates_by": "indication",
         "spc_period": "quarter", "chart": "pp"},
        {"rates": ["--outcome", "ptosis", "--by", "indication"], "funnel": ["--outcome", "ptosis"],
         "spc": ["--outcome", "ptosis", "--period", "quarter", "--chart", "pp"], "costs": []},
        ["--release", "--excel", "--lang", "en", "--clinician", "C03", "--from", "2025-01-01", "--to",
         "2025-12-31"]),
    # the page in Norwegian writes a Norwegian Excel file: the CLI's --excel without --lang (Norwegian by default)
    "Norwegian page, internal, Excel": (
        "admin",
        {"lang": "nb", "outcome": "bruising", "mode": "internal", "excel": "True", "costs_by": "clinician"},
        {"rates": ["--outcome", "bruising"], "funnel": ["--outcome", "bruising"],
         "spc": ["--outcome", "bruising"], "costs": ["--by", "clinician"], "cusum": ["--outcome", "bruising"],
         "oe": ["--outcome", "bruising"], "records": []},
        ["--excel"]),
    "Norwegian page, release of a quarter in Excel": (
        "auditor",
        {"lang": "nb", "outcome": "ptosis", "release_period": "2025-Q2", "excel": "True"},
        {"rates": ["--outcome", "ptosis"], "funnel": ["--outcome", "ptosis"], "spc": ["--outcome", "ptosis"],
         "costs": []},
        ["--release", "--excel", "--from", "2025-04-01", "--to", "2025-06-30"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_pages_download_is_the_cli_file_byte_for_byte(case, demo_db, tmp_path, held, downloads, monkeypatch):
    role, query, kinds, common = CASES[case]
    page = page_files(role, downloads, query)
    released = "--release" in common
    # the page offers these kinds (a release never holds the per-session CUSUM or the O/E; records are offered in
    # both modes)
    assert set(page) == set(kinds) | {"records"}
    for kind, args in kinds.items():
        cli = cli_file(demo_db, tmp_path, kind, [*args, *common], EMAIL[role], monkeypatch)
        ours = page[kind]
        assert len(cli) > 400, kind  # provenance lines and at least a header
        if released or kind == "records":
            assert ours == cli, f"{case}: {kind} differs"
        else:  # an internal file says so in one more provenance line, after the kind's own options
            lines = ours.decode("utf-8-sig" if "--excel" in common else "utf-8").split("\n")
            lang = query.get("lang", "en")
            internal = INTERNAL_LINE[lang]
            version = "# datasett_versjon: " if lang == "nb" else "# snapshot_version: "
            assert lines.count(internal) == 1, kind
            assert lines.index(internal) == next(i for i, line in enumerate(lines) if line.startswith(version)) - 1
            lines.remove(internal)
            without = "\n".join(lines).encode("utf-8-sig" if "--excel" in common else "utf-8")
            assert without == cli, f"{case}: {kind} differs"
    if "records" not in kinds:  # the page's records file is never a release: the sidebar's filters, as the CLI
        clinicians = [a for c in query.get("clin", []) for a in ("--clinician", c)]
        dialect = [a for a in common if a in ("--excel", "--lang", "en")]
        cli = cli_file(demo_db, tmp_path, "records", [*clinicians, *dialect], EMAIL[role], monkeypatch)
        assert page["records"] == cli


# --------------------------------------------------------------------------------------------------------------
# the builder's own checks
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def closed_con():
    """A connection that fails on any query: the checks must refuse before the database is touched."""
    con = duckdb.connect()
    con.close()
    return con


def test_an_unknown_kind_is_refused_with_the_kinds_there_are(closed_con):
    with pytest.raises(ExportOptionError) as info:
        build.build(closed_con, "histogram", ExportOptions(outcome="ptosis"))
    assert str(info.value) == ("unknown export kind `histogram`; choose one of: rates, funnel, oe, spc, costs, "
                               "cusum, signals, records, recall, adverse-events")
    with pytest.raises(ExportOptionError, match="unknown export kind `histogram`"):
        build.provenance_options("histogram", ExportOptions())


@pytest.mark.parametrize("kind", ["rates", "funnel", "oe", "spc", "cusum"])
def test_a_missing_outcome_is_refused_with_the_outcomes_there_are(closed_con, kind):
    with pytest.raises(ExportOptionError) as info:
        build.build(closed_con, kind, ExportOptions())
    assert str(info.value) == f"export {kind} needs --outcome KEY (one of: {', '.join(registry.OUTCOMES_BY_KEY)})"
    assert "ptosis" in str(info.value) and "bruising" in str(info.value)


def test_an_unknown_outcome_is_refused(closed_con):
    with pytest.raises(ValueError, match="unknown outcome `ptosiss`; choose one of: .*ptosis"):
        build.build(closed_con, "rates", ExportOptions(outcome="ptosiss"))


@pytest.mark.parametrize("kind, options, message", [
    ("costs", ExportOptions(outcome="ptosis"), "export costs takes no --outcome"),
    ("funnel", ExportOptions(outcome="ptosis", by="area"), "--by for funnel must be one of: clinician, lot, product"),
    ("recall", ExportOptions(lot="LOTB", release=build.disclosure.Rule()),
     "a recall list names every session and patient reference with the lot (a case list) and cannot be released; "
     "keep it inside the clinic"),
    ("rates", ExportOptions(outcome="ptosis", period="week"), "--period for rates must be one of: month, quarter, "
                                                               "year, all"),
    ("records", ExportOptions(release=build.disclosure.Rule()), "export records is pseudonymised per export "
                                                                 "already; --release is for aggregate exports"),
    ("rates", ExportOptions(outcome="ptosis", release=build.disclosure.Rule(), internal=True),
     "an export is either a release or an internal file, not both"),
])
def test_options_that_do_not_fit_the_kind_are_refused_by_the_builder(closed_con, kind, options, message):
    with pytest.raises(ExportOptionError) as info:
        build.build(closed_con, kind, options)
    assert str(info.value) == message


def test_every_kind_of_the_command_line_has_one_builder():
    choices = next(a for a in build_parser()._subparsers._group_actions[0].choices["export"]._actions
                   if a.dest == "kind").choices
    assert tuple(build.KINDS) == export.KINDS == tuple(choices)


def test_the_dashboard_has_no_export_ladder_of_its_own():
    """The frames, the release and the provenance options are reached only through the builder."""
    for path in (ROOT / "dashboard" / "data.py", ROOT / "dashboard" / "pages" / "export.py"):
        text = path.read_text()
        for name in ("rates_frame(", "funnel_frame(", "oe_frame(", "spc_frame(", "costs_frame(", "cusum_frame(",
                     "anonymised(", "export.release(", "check_release(", "cusum_provenance(", "release_provenance(", "kept in step"):
            assert name not in text, f"{path.name} calls {name} itself"
