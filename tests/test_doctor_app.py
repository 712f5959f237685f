"""Issue 16, the doctor's tasks through Streamlit's AppTest on a demo database: the reporting month (the charts keep
the whole history), Norwegian date fields, one signal count marked provisional while the CUSUM check runs, the list
new since the last meeting, one click from a signal or a clinician to the cases with why each counts, the review list
as a logged download, and the previewed role kept in the URL."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
import time
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from conftest import ROOT
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dashboard import filters, i18n
from pipelines.demo.build import run_demo
from pipelines.metrics import signals
from pipelines.release import access

END = dt.date(2026, 6, 30)
TIMEOUT = 90


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("doctor_app") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(demo_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def app(page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    for k, v in query.items():
        at.query_params[k] = v
    if page and page != "overview":
        at.switch_page(access.page(page).file)
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def cusum_done(at: AppTest, seconds: float = 60) -> AppTest:
    pending = set(i18n.TEXTS["signals_cusum_pending"])
    deadline = time.time() + seconds
    while any(i.value in pending for i in at.info) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert not any(i.value in pending for i in at.info)
    return at


def kpis(at: AppTest) -> dict:
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def case_links(at: AppTest) -> list:
    return [p for p in at.get("page_link") if p.proto.page == "complications" and "point=all" in p.proto.query_string]


def sql(db: Path, text: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(text, params or []).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------------------
# 1. the reporting month; Norwegian date fields
# --------------------------------------------------------------------------------------------------------------


def test_reporting_month_keeps_the_history_and_counts_the_month(demo_db):
    at = ok(app("complications", outcome="insufficient_effect", rep="2026-03"))
    assert at.selectbox(key=filters.widget_key("rep")).value == "2026-03"
    spc = at.get("plotly_chart")[0]
    import json

    fig = json.loads(spc.proto.spec)
    xs = [x for tr in fig["data"] if tr.get("name") in ("Andel",) for x in tr["x"]]
    assert min(xs)[:7] == "2023-07" and max(xs)[:7] == "2026-06", "the chart keeps the whole history"
    assert "Rapporteringsmåned: mars 2026" in {tr.get("name") for tr in fig["data"]}
    assert at.selectbox(key=filters.widget_key("point")).value == "2026-03-01", "the case review opens on it"
    # the overview counts the month: sessions treated in March 2026, counted by hand in SQL
    at = ok(app(rep="2026-03", clin=["C01", "C02"]))
    [(n,)] = sql(demo_db, "SELECT count(*) FROM treatments WHERE treated_on BETWEEN '2026-03-01' AND '2026-03-31' "
                          "AND clinician IN ('C01', 'C02')")
    value, delta = kpis(at)["Behandlinger i perioden"]
    assert delta == f"{i18n.number(n, 'nb')} i mars 2026"
    assert any("Rapporteringsmåned: mars 2026" in c.value for c in at.caption)
    # the sidebar's dates still span the whole data
    assert at.text_input(key="w_from").value == "03.07.2023" and at.text_input(key="w_to").value == "30.06.2026"


def test_reporting_month_defaults_to_the_last_closed_month_and_offers_presets():
    at = ok(app(lang="en", clin=["C01", "C02"]))
    box = at.selectbox(key=filters.widget_key("rep"))
    # data up to 30 June 2026: May's windows (28 days) closed on 28 June, June's not yet
    assert box.value == "last" and box.options[:4] == ["Last month (May 2026)", "Quarter (Apr–May 2026)",
                                                      "This year (Jan–May 2026)", "May 2026"]
    box.set_value("quarter").run()
    ok(at)
    assert at.query_params["rep"] == "quarter"


def test_date_fields_take_norwegian_dates():
    """Typed fields, not Streamlit's calendar (whose month names follow the browser's language, not the page's:
    tests/test_browser_datepicker.py): 30.11.2026 in Norwegian, applied on Enter/Tab; a date that cannot be, lies
    outside the data or after the end date is refused with a Norwegian message and the period stays."""
    at = ok(app(clin=["C01", "C02"]))
    assert not at.date_input, "no date field opens the browser's calendar"
    assert at.text_input(key="w_from").value == "03.07.2023" and at.text_input(key="w_to").value == "30.06.2026"
    assert at.text_input(key=filters.widget_key("since")).value == "30.05.2026"
    at.text_input(key="w_from").set_value("01.10.2025").run()
    at.text_input(key="w_to").set_value("30.11.2025").run()
    ok(at)
    assert (at.query_params["from"], at.query_params["to"]) == ("2025-10-01", "2025-11-30")
    assert at.text_input(key="w_from").value == "01.10.2025"
    at.text_input(key="w_from").set_value("31.02.2025").run()
    assert [e.value for e in at.error] == ["«31.02.2025» er ikke en dato: skriv den som 30.06.2026."]
    assert at.text_input(key="w_from").value == "01.10.2025" and at.query_params["from"] == "2025-10-01"
    at.run()  # a rerun (the background CUSUM check ends with one) keeps the message
    assert [e.value for e in at.error] == ["«31.02.2025» er ikke en dato: skriv den som 30.06.2026."]
    at.text_input(key="w_from").set_value("1.12.2025").run()
    assert [e.value for e in at.error] == ["01.12.2025 er etter sluttdatoen 30.11.2025: endre sluttdatoen først, "
                                           "eller skriv en tidligere dato."]
    at.text_input(key="w_to").set_value("01.07.2026").run()
    assert [e.value for e in at.error] == ["01.07.2026 er utenfor dataene: skriv en dato fra 03.07.2023 til "
                                           "30.06.2026."]
    assert at.query_params["to"] == "2025-11-30"
    at.text_input(key="w_to").set_value("").run()  # emptied: up to the data's last day
    ok(at)
    assert "to" not in at.query_params and at.text_input(key="w_to").value == "30.06.2026"
    at = ok(app(lang="en", clin=["C01", "C02"]))
    assert at.text_input(key="w_from").value == "2023-07-03"
    at.text_input(key="w_to").set_value("2025-11-30").run()
    assert ok(at).query_params["to"] == "2025-11-30"


# --------------------------------------------------------------------------------------------------------------
# 2. one signal count, provisional while the CUSUM check runs; new since the last meeting
# --------------------------------------------------------------------------------------------------------------


def test_signal_count_is_provisional_until_the_cusum_check_is_done_and_matches_the_list(monkeypatch):
    gate = threading.Event()
    original = signals.cusum_signal_rows

    @functools.wraps(original)
    def held(*args, **kwargs):
        gate.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(signals, "cusum_signal_rows", held)
    at = ok(app(clin=["C01", "C02"], scope="all"))
    value, delta = kpis(at)["Signaler å gjennomgå"]
    assert delta == "foreløpig (CUSUM sjekkes)"
    assert int(value) == len(case_links(at)), "the KPI counts the rows the list shows"
    gate.set()
    cusum_done(ok(at))
    value, delta = kpis(at)["Signaler å gjennomgå"]
    assert delta == "i listen: Alle"
    assert int(value) == len(case_links(at)) > 0


def test_the_list_defaults_to_new_since_the_last_meeting():
    at = cusum_done(ok(app(clin=["C01", "C02"], scope="all")))
    every = int(kpis(at)["Signaler å gjennomgå"][0])
    at = cusum_done(ok(app(clin=["C01", "C02"], since="2026-06-29")))
    scope = at.get("button_group")
    assert at.text_input(key=filters.widget_key("since")).value == "29.06.2026"
    assert kpis(at)["Signaler å gjennomgå"][1] == "i listen: Nye siden 29.06.2026"
    # nothing becomes known after the data's last day but a day: fewer rows than the whole list
    assert int(kpis(at)["Signaler å gjennomgå"][0]) <= every
    assert scope
    # a day before the data's first (from a link) is its first day: everything is new
    at = cusum_done(ok(app(clin=["C01", "C02"], since="2023-07-01")))
    assert at.text_input(key=filters.widget_key("since")).value == "03.07.2023"
    assert int(kpis(at)["Signaler å gjennomgå"][0]) == every


# --------------------------------------------------------------------------------------------------------------
# 3. one click to the cases, why each counts, the review list logged
# --------------------------------------------------------------------------------------------------------------


def test_clinician_views_link_to_the_clinicians_cases_over_the_whole_period():
    at = ok(app("clinicians", outcome="insufficient_effect", clinician="C02"))
    links = case_links(at)
    assert len(links) == 3, "funnel, O/E and CUSUM tabs each link to the cases"
    assert all("review_clin=C02" in p.proto.query_string and "outcome=insufficient_effect" in p.proto.query_string
               for p in links)
    table = at.dataframe[-1].value
    assert all("point=all" in v and "review_clin=" in v for v in table["Saker"])


def test_cases_of_a_clinician_over_the_whole_period_say_why_they_count(demo_db):
    at = ok(app("complications", outcome="correction", point="all", review_clin="C02", which="numerator"))
    assert at.selectbox(key=filters.widget_key("point")).value == "all"
    assert at.selectbox(key=filters.widget_key("review_clin")).value == "C02"
    review = at.dataframe[-1].value
    assert set(review["Behandler"]) == {"C02"}
    # counted by hand in SQL: C02's corrected sessions with a correction within 28 days, over the whole period
    rows = sql(demo_db, """
        SELECT t.treatment_id, min(c.treated_on - t.treated_on) AS d FROM treatments t
        JOIN treatments c ON c.corrects_treatment_id = t.treatment_id
        WHERE t.clinician = 'C02' AND t.corrects_treatment_id IS NULL GROUP BY 1 HAVING d <= 28""")
    days = dict(rows)
    shown = dict(zip(review["Behandling"], review["Hvorfor den telles"], strict=True))
    assert shown and all(why == f"korrigert dag {days[t]}" for t, why in shown.items())
    assert f"1-{min(25, len(days))} av {i18n.number(len(days), 'nb')}" in [c.value for c in at.caption]
    months = {d[3:] for d in review["Behandlet"]}  # 'dd.mm.yyyy'
    assert len(months) > 1, "the whole period, not one month"


def test_the_review_list_downloads_every_page_and_is_logged(monkeypatch, tmp_path):
    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    at = ok(app("complications", outcome="insufficient_effect", point="all", which="denominator"))
    button = next(b for b in at.get("download_button") if "gjennomgangslisten" in b.proto.label)
    file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
    make = next(v for k, v in registered.items() if file_id.startswith(k) or k.startswith(file_id))
    body = make()
    lines = body.decode("utf-8-sig").splitlines()
    header = lines[0].split(";")
    assert "Hvorfor den telles" in header and "Pasient (pseudonym)" in header
    entries = access.read_log(tmp_path / "access.jsonl")
    exports = [e for e in entries if e["event"] == "export"]
    assert len(exports) == 1 and exports[0]["rows_n"] == len(lines) - 1 > 25, "every page, not the first 25"
    assert exports[0]["file_sha256"] == hashlib.sha256(body).hexdigest()
    assert exports[0]["what"] == "complications: review list insufficient_effect"


# --------------------------------------------------------------------------------------------------------------
# 9. the previewed role survives a reload and a shared link (demo mode)
# --------------------------------------------------------------------------------------------------------------


def test_previewed_role_is_kept_in_the_url():
    at = ok(app("about", lang="en"))
    assert at.selectbox(key="w_preview_role").value == "admin" and "role" not in at.query_params
    at.selectbox(key="w_preview_role").set_value("manager").run()
    ok(at)
    assert at.query_params["role"] == "manager"
    shared = ok(app("about", lang="en", role="manager"))  # a reload, or the link opened by someone else
    assert shared.selectbox(key="w_preview_role").value == "manager"
    refused = ok(app("export", lang="en", role="manager"))
    assert refused.title[0].value == "Not available for your role"
    assert ok(app("about", lang="en", role="superuser")).selectbox(key="w_preview_role").value == "admin"


def test_url_values_from_a_link_fall_back_safely():
    at = ok(app(clin=["C01", "C02"], since="30.11.2026", rep="<script>", scope="everything"))
    assert at.selectbox(key=filters.widget_key("rep")).value == "last"
    assert at.text_input(key=filters.widget_key("since")).value == filters.date_text(filters.default_since(END), "nb")
    at = ok(app("complications", outcome="correction", point="all", review_clin="'; DROP TABLE treatments; --"))
    assert at.selectbox(key=filters.widget_key("review_clin")).value == ""  # all clinicians


def test_case_links_only_for_roles_that_may_see_case_lists():
    at = cusum_done(ok(app(clin=["C01", "C02"], scope="all", role="manager")))
    assert int(kpis(at)["Signaler å gjennomgå"][0]) > 0 and not case_links(at)
    at = ok(app("clinicians", outcome="insufficient_effect", clinician="C02", role="manager"))
    assert not case_links(at) and "Saker" not in at.dataframe[-1].value.columns
    at = ok(app("clinicians", outcome="insufficient_effect", clinician="C02", role="doctor"))
    assert len(case_links(at)) == 3


def test_a_role_that_sees_months_picks_the_last_meeting_by_month_and_gets_no_small_month_count(demo_db):
    # C01 with Botox: a month of 1 to 9 sessions, counted by hand in SQL
    months = sql(demo_db, """
        SELECT strftime(date_trunc('month', treated_on), '%Y-%m') AS m, count(*) FROM treatments
        WHERE clinician = 'C01' AND product = 'Botox' AND treated_on < '2026-06-01' GROUP BY 1 ORDER BY 1""")
    small = [m for m, n in months if 1 <= n < 10]
    assert small, "the demo has such a month"
    query = {"lang": "en", "clin": "C01", "prod": "Botox", "rep": small[-1], "since": "2026-05-30"}
    manager = cusum_done(ok(app(role="manager", **query)))
    assert manager.selectbox(key=filters.widget_key("since")).value == dt.date(2026, 5, 1)
    assert kpis(manager)["Signals to review"][1] == "list: New since May 2026"
    hidden = i18n.t("cell_hidden", "en")
    assert kpis(manager)["Sessions in the period"][1].startswith(f"{hidden} in ")
    n = dict(months)[small[-1]]
    doctor = cusum_done(ok(app(role="doctor", **query)))
    assert kpis(doctor)["Sessions in the period"][1].startswith(f"{n} in ")
    assert doctor.text_input(key=filters.widget_key("since")).value == "2026-05-30"
