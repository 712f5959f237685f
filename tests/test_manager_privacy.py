"""A manager never receives a session (issue 10, part 4; docs/security.md "Views without case access").

The rule for roles without session-level access (no `case_review`, no `record_export`: the manager): nothing they
receive is finer than a calendar month.
- every period is widened to whole calendar months (a one-day period of one clinician would be that day's sessions);
- the CUSUM is drawn by month (the value at each month's end, the highest value that month, a signal marker), with
  no sessions, events or days in the data sent to the browser;
- signals and the clinician table name the month of a CUSUM crossing, never its day (a crossing's day is the day
  of a session with the event), one row per month;
- the control chart offers months and quarters, not weeks.
Counts per clinician per month or longer period stay visible to the manager (their job is to follow clinicians'
activity); releases that leave the clinic are the disclosure rule's business (pipelines/disclosure.py).

The app runs in sign-in mode as in tests/test_app_auth.py: `at.secrets["auth"]` and `at.user` with the role.
Everything the manager receives is collected: the JSON of every plotly figure (what the browser gets, hover data
included), every table, every markdown text and metric. A "day" is an ISO date that is not the first of a month
(period starts are the first of their month); the per-day CUSUM and weekly charts of the old code carry them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from dashboard import charts, i18n
from pipelines import analysis, signals
from pipelines.demo_load import run_demo
from pipelines.metrics import Filters

END = dt.date(2026, 6, 30)
TIMEOUT = 90
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test", "client_id": "dashboard",
        "client_secret": "test", "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}
EMAIL = {"doctor": "lege@klinikk.no", "manager": "leder@klinikk.no"}
# outcomes whose CUSUM is drawn on the demo database, and a clinician (with a signal, except on bruising)
CUSUM_CASES = [("insufficient_effect", "C02"), ("correction", "C02"), ("ptosis", "C04"), ("bruising", "C01")]
ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("manager") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_DB", str(demo_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv("CLINIC_ROLES_FILE", str(tmp_path / "roles.csv"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def con(demo_db):
    c = duckdb.connect(str(demo_db), read_only=True)
    yield c
    c.close()


def app(role: str, page: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": EMAIL[role], "roles": [role]}
    at.query_params["lang"] = "en"
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(f"dashboard/pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value != "Not available for your role"
    return at


def signals_done(at: AppTest, seconds: float = 90) -> AppTest:
    """The overview adds the CUSUM signals when its background check is done: rerun until then."""
    pending = set(i18n.TEXTS["signals_cusum_pending"])
    deadline = time.time() + seconds
    while any(i.value in pending for i in at.info) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert not any(i.value in pending for i in at.info)
    assert not at.exception, [e.message for e in at.exception]
    return at


# --------------------------------------------------------------------------------------------------------------
# what the manager receives
# --------------------------------------------------------------------------------------------------------------


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def strings(value) -> list[str]:
    """Every string inside a JSON value (trace data, hover text, custom data)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return []


def numbers(array) -> list[float]:
    """A numeric trace array as the browser gets it: a list, or packed ({"dtype", "bdata": base64})."""
    if isinstance(array, dict):
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).astype(float))
    return [float(v) for v in array]


def days_in(text: str) -> list[str]:
    """ISO dates in a text that name a day rather than a month (anything but the first of a month)."""
    return [m.group(0) for m in ISO_DATE.finditer(text) if m.group(3) != "01"]


def received(at: AppTest) -> dict[str, list[str]]:
    """What the page sent, by where it was found: figure data (trace by trace), tables (row by row), markdown
    and metrics. Figures: the traces' data and hover text, and the titles (layout text the browser shows)."""
    out: dict[str, list[str]] = {}
    for i, fig in enumerate(figures(at)):
        title = fig["layout"].get("title", {}).get("text", "")
        for j, trace in enumerate(fig["data"]):
            out[f"figure {i} ({title[:60]}) trace {j} {trace.get('name')}"] = strings(trace)
        out[f"figure {i} layout"] = strings({k: fig["layout"].get(k) for k in ("title", "annotations")})
    for i, frame in enumerate(at.dataframe):
        value = frame.value
        value = value.data if hasattr(value, "data") and not isinstance(value, pd.DataFrame) else value
        out[f"table {i} {list(value.columns)[:4]}"] = [" | ".join(map(str, row)) for row in value.itertuples()]
    out["markdown"] = [m.value for m in at.markdown]
    out["metrics"] = [f"{m.label}: {m.value} {m.proto.delta}" for m in at.metric]
    return out


def leaks(at: AppTest) -> list[str]:
    """Every day-level date, and any per-day CUSUM (its legend or per-day hover with sessions and events)."""
    found = []
    for where, texts in received(at).items():
        for text in texts:
            if days_in(text):
                found.append(f"{where}: {text[:160]}")
            if "highest per day" in text or re.search(r"Sessions: \d+, events: \d+", text):
                found.append(f"{where}: per-day CUSUM: {text[:160]}")
    return found


def showing(at: AppTest) -> tuple[int, int, int] | None:
    """(first, last, total) of a paginated list's "1-12 of 30" caption (None: one page only)."""
    for c in at.caption:
        m = re.fullmatch(r"(\d+)-(\d+) of (\d+)", c.value.strip())
        if m:
            return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return None


def cusum_figure(at: AppTest) -> dict:
    figs = [f for f in figures(at) if "risk-adjusted CUSUM" in f["layout"]["title"]["text"]]
    assert len(figs) == 1
    return figs[0]


# --------------------------------------------------------------------------------------------------------------
# the CUSUM tab
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome, clinician", CUSUM_CASES)
def test_the_manager_gets_the_cusum_by_month_with_no_session_in_it(outcome, clinician, con):
    """The CUSUM sent to a manager has one point per calendar month, the value at that month's end (the value
    of the clinician's last treatment day in it, from the per-day CUSUM), and no sessions, events or days."""
    daily = analysis.cusum(con, outcome)
    mine = daily[daily["clinician"] == clinician].sort_values("treated_on")
    assert len(mine) > 40 and (mine["sessions_n"] == 1).mean() > 0.5, "demo: most clinician-days are one session"
    months = pd.to_datetime(mine["treated_on"]).dt.to_period("M")
    month_end = mine.groupby(months.to_numpy())["cusum"].last()
    at = app("manager", "clinicians", outcome=outcome, clinician=clinician, tab="cusum")
    fig = cusum_figure(at)
    assert clinician in fig["layout"]["title"]["text"]
    line = next(tr for tr in fig["data"] if tr["name"] == "CUSUM (at month end)")
    assert [x[:10] for x in line["x"]] == [f"{p.year:04d}-{p.month:02d}-01" for p in month_end.index]
    assert len(line["x"]) < len(mine), "fewer points than treatment days"
    assert numbers(line["y"]) == pytest.approx(list(month_end))
    hover = "\n".join(strings(fig["data"]))
    assert "Sessions" not in hover and "events" not in hover.lower()
    assert not days_in(hover) and not leaks(at)
    crossed = {d.strftime("%Y-%m") for d in mine.loc[mine["signal"].astype(bool), "treated_on"]}
    marks = [x[:7] for tr in fig["data"] if tr["name"] == "Signal that month" for x in tr["x"]]
    assert sorted(marks) == sorted(crossed), "a month with a crossing is marked, at its month"


def test_the_doctor_still_gets_the_cusum_per_treatment_day(con):
    """The rule is the role's: the doctor (case review) keeps the per-day chart."""
    mine = analysis.cusum(con, "insufficient_effect")
    mine = mine[mine["clinician"] == "C02"]
    at = app("doctor", "clinicians", outcome="insufficient_effect", clinician="C02", tab="cusum")
    line = next(tr for tr in cusum_figure(at)["data"] if tr["name"] == "CUSUM (highest per day)")
    assert len(line["x"]) == len(mine)


def test_the_manager_sees_the_month_of_the_last_cusum_signal_not_its_day(con):
    last = max(d for d, s in zip(*[analysis.cusum(con, "insufficient_effect").query("clinician == 'C02'")[c]
                                   for c in ("treated_on", "signal")], strict=True) if s)
    at = app("manager", "clinicians", outcome="insufficient_effect")
    table = at.dataframe[-1].value
    row = table[table["Clinician"] == "C02"].iloc[0]
    assert row["CUSUM signals"].endswith(f"last {i18n.period_label(last, 'month', 'en')}")
    assert not any(days_in(str(v)) for v in table["CUSUM signals"])
    doctor = app("doctor", "clinicians", outcome="insufficient_effect").dataframe[-1].value
    assert doctor.loc[doctor["Clinician"] == "C02", "CUSUM signals"].iloc[0].endswith(f"last {last.isoformat()}")


# --------------------------------------------------------------------------------------------------------------
# every page a manager may open
# --------------------------------------------------------------------------------------------------------------


def test_nothing_on_the_overview_names_a_day_for_the_manager():
    """All signals, CUSUM crossings included, dated by month; every page of the list is checked."""
    at = signals_done(app("manager", "overview", kind="cusum"))
    cusum_rows = [m.value for m in at.markdown if "Risk-adjusted CUSUM reached" in m.value]
    assert cusum_rows, "the CUSUM signals are listed"
    assert leaks(at) == []
    at = signals_done(app("manager", "overview"))  # every kind of signal, page by page
    assert leaks(at) == []
    pages_n = 1
    while (shown := showing(at)) and shown[1] < shown[2]:
        pages_n += 1
        at.query_params["page_n"] = str(pages_n)
        at.run()
        assert not at.exception and showing(at)[0] == shown[1] + 1
        assert leaks(at) == []
    assert pages_n > 1, "the list has several pages on the demo database"


@pytest.mark.parametrize("page, query", [
    ("complications", {"outcome": "insufficient_effect"}),
    ("complications", {"outcome": "ptosis", "period": "quarter", "rules": "mdc"}),
    ("complications", {"outcome": "correction", "chart": "pprime", "clin": "C09"}),
    ("clinicians", {"outcome": "insufficient_effect", "clinician": "C02", "tab": "cusum"}),
    ("clinicians", {"outcome": "correction", "clinician": "C02", "method": "exact", "clin": ["C02", "C09"]}),
    ("clinicians", {"outcome": "ptosis", "clinician": "C04", "tab": "cusum", "from": "2025-03-14",
                    "to": "2025-03-14"}),
    ("clinicians", {"outcome": "asymmetry", "clinician": "C02", "tab": "cusum", "lang": "nb"}),
    ("responses", {}),
    ("costs", {}),
    ("costs", {"clin": "C09"}),
    ("about", {}),
])
def test_nothing_a_manager_receives_names_a_day(page, query):
    at = app("manager", page, **query)
    assert leaks(at) == []


def test_the_manager_gets_no_weekly_control_chart():
    """Weeks of one clinician are a handful of sessions: the manager's chart offers months and quarters, and a
    link asking for weeks gets months."""
    at = app("manager", "complications", outcome="insufficient_effect", period="week", clin="C09")
    assert at.segmented_control(key="w_period").options == ["Month", "Quarter"]
    spc = figures(at)[0]
    xs = [x for tr in spc["data"] if isinstance(tr.get("x"), list) for x in tr["x"] if isinstance(x, str)]
    assert xs and all(x[8:10] == "01" for x in xs)
    assert leaks(at) == []
    doctor = app("doctor", "complications", outcome="insufficient_effect", period="week", clin="C09")
    assert "Week" in doctor.segmented_control(key="w_period").options
    assert leaks(doctor), "the doctor's weekly chart names days (the detector sees them)"


def test_a_one_day_period_of_one_clinician_shows_the_manager_the_whole_month(con):
    """A period of one day and one clinician would be that day's session; the manager gets the month."""
    day, clinician = con.execute("""
        SELECT treated_on, clinician FROM treatments GROUP BY ALL HAVING count(*) = 1
        ORDER BY treated_on DESC, clinician LIMIT 1""").fetchall()[0]
    month_n = con.execute("""
        SELECT count(*) FROM treatments WHERE clinician = ?
        AND date_trunc('month', treated_on) = date_trunc('month', CAST(? AS DATE))""",
                          [clinician, day]).fetchall()[0][0]
    assert month_n >= 5, "the month has more sessions than the day"
    q = {"from": day.isoformat(), "to": day.isoformat(), "clin": clinician}
    at = app("manager", "overview", **q)
    assert {m.label: m.value for m in at.metric}["Sessions in the period"] == i18n.number(month_n, "en")
    first = day.replace(day=1)
    last = (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date()
    assert (f"For your role the period covers whole calendar months: {first.isoformat()} to {last.isoformat()}."
            in [c.value for c in at.sidebar.caption])
    doctor = app("doctor", "overview", **q)
    assert {m.label: m.value for m in doctor.metric}["Sessions in the period"] == "1"


# --------------------------------------------------------------------------------------------------------------
# the library functions behind it (hand-made frames)
# --------------------------------------------------------------------------------------------------------------


def test_cusum_monthly_keeps_month_end_peak_and_signal_and_no_counts():
    daily = pd.DataFrame({
        "clinician": ["A", "A", "A", "A", "B"],
        "treated_on": [dt.date(2026, 1, 5), dt.date(2026, 1, 20), dt.date(2026, 2, 3), dt.date(2026, 4, 30),
                       dt.date(2026, 1, 31)],
        "cusum": [0.6, 3.4, 0.0, 1.1, 0.2], "threshold": [3.2, 3.2, 3.2, 3.2, 2.9],
        "signal": [False, True, False, False, False], "sessions_n": [1, 1, 2, 1, 1], "events_n": [1, 1, 0, 1, 0]})
    out = signals.cusum_monthly(daily)
    assert list(out.columns) == ["clinician", "month", "cusum", "peak", "threshold", "signal"]
    assert [(r.clinician, r.month, r.cusum, r.peak, r.signal) for r in out.itertuples()] == [
        ("A", dt.date(2026, 1, 1), 3.4, 3.4, True), ("A", dt.date(2026, 2, 1), 0.0, 0.0, False),
        ("A", dt.date(2026, 4, 1), 1.1, 1.1, False), ("B", dt.date(2026, 1, 1), 0.2, 0.2, False)]
    fig = charts.cusum_monthly_chart(out, clinician="A", outcome_label="X", lang="en", arl0=1000)
    line = next(tr for tr in fig.data if tr.name == "CUSUM (at month end)")
    assert [pd.Timestamp(x).date() for x in line.x] == [dt.date(2026, 1, 1), dt.date(2026, 2, 1),
                                                         dt.date(2026, 4, 1)]
    assert "Jan 2026" in line.customdata[0][0] and not days_in(json.dumps(fig.to_plotly_json(), default=str))
    assert list(next(tr for tr in fig.data if tr.name == "Signal that month").y) == [3.4]
    assert signals.cusum_monthly(daily.iloc[0:0]).empty


def test_cusum_daily_counts_the_sessions_of_a_day_from_the_per_day_cusum():
    """analysis.cusum has one row per clinician-day with its sessions_n: the doctor's hover said "Sessions: 1"
    for every day (it counted rows), which is also why every day looked like a single session."""
    frame = pd.DataFrame({"clinician": ["A", "A"], "treated_on": [dt.date(2026, 1, 5), dt.date(2026, 1, 6)],
                          "outcome": [1.0, 0.0], "expected": [0.3, 0.2], "sessions_n": [3, 1], "cusum": [0.4, 0.3],
                          "threshold": 3.2, "signal": False})
    daily = signals.cusum_daily(frame)
    assert list(daily["sessions_n"]) == [3, 1] and list(daily["events_n"]) == [1, 0]


def test_signals_by_month_date_the_month_and_merge_the_month():
    sig = signals.collect(pd.DataFrame([
        dict.fromkeys(signals.SIGNAL_COLUMNS) | {"on": dt.date(2026, 3, 14), "kind": "cusum", "rule": "cusum",
                                                 "outcome": "ptosis", "clinician": "C04", "value": 3.9, "limit": 3.5},
        dict.fromkeys(signals.SIGNAL_COLUMNS) | {"on": dt.date(2026, 3, 28), "kind": "cusum", "rule": "cusum",
                                                 "outcome": "ptosis", "clinician": "C04", "value": 4.2, "limit": 3.5},
        dict.fromkeys(signals.SIGNAL_COLUMNS) | {"on": dt.date(2026, 4, 2), "kind": "cusum", "rule": "cusum",
                                                 "outcome": "ptosis", "clinician": "C01", "value": 3.6, "limit": 3.5},
    ]))
    out = signals.by_month(sig)
    assert [(r.on, r.clinician, r.value) for r in out.itertuples()] == [
        (dt.date(2026, 4, 1), "C01", 3.6), (dt.date(2026, 3, 1), "C04", 4.2)]


@pytest.mark.parametrize("start, end, want", [
    (dt.date(2025, 3, 14), dt.date(2025, 3, 14), (dt.date(2025, 3, 1), dt.date(2025, 3, 31))),
    (dt.date(2024, 2, 29), dt.date(2024, 2, 1), (dt.date(2024, 2, 1), dt.date(2024, 2, 29))),
    (dt.date(2025, 11, 30), dt.date(2025, 12, 1), (dt.date(2025, 11, 1), dt.date(2025, 12, 31))),
    (None, dt.date(2025, 6, 2), (None, dt.date(2025, 6, 30))),
    (dt.date(2025, 6, 2), None, (dt.date(2025, 6, 1), None)),
])
def test_whole_months_widens_the_period(start, end, want):
    f = analysis.whole_months(Filters(date_from=start, date_to=end, clinicians=("C01",)))
    assert (f.date_from, f.date_to) == want and f.clinicians == ("C01",)
