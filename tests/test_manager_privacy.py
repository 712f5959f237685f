"""A manager never receives a session (issue 10, part 4; docs/security.md "Views without case access").

The rule for roles without session-level access (no `case_review`, no `record_export`: the manager): nothing they
receive is finer than a calendar month.
- every period is widened to whole calendar months (a one-day period of one clinician would be that day's sessions);
- the CUSUM is drawn by month (the value at each month's end, the highest value that month, a signal marker), with
  no sessions, events or days in the data sent to the browser;
- signals and the clinician table name the month of a CUSUM crossing, never its day (a crossing's day is the day
  of a session with the event), one row per month;
- the control chart offers months and quarters, not weeks;
- no figure covers fewer than 10 sessions (pipelines/metrics/small_cells.py, the release rule's minimum denominator):
  a month, quarter, clinician, indication, product or cost row of 1-9 sessions shows no rate, numerator or
  denominator and is not drawn, with complementary rows so that a total minus the rows shown gives nothing back;
  the CUSUM is drawn per span of months holding at least 10 of the clinician's sessions; a filter of fewer than 10
  sessions shows a message and no figure. Event counts of 1-4 among 10 or more sessions stay visible (the clinic's
  own quality figures); releases that leave the clinic are the disclosure rule's business (pipelines/release/disclosure.py).

The app runs in sign-in mode as in tests/test_app_auth.py: `at.secrets["auth"]` and `at.user` with the role.
Everything the manager receives is collected: the JSON of every plotly figure (what the browser gets, hover data
included), every table, every markdown text and metric. A "day" is an ISO date that is not the first of a month
(period starts are the first of their month); the per-day CUSUM and weekly charts of the old code carry them.
`small_counts` finds every session count of 1-9 the page sent (the denominator of "2 of 7", "2 / 7", "Sessions:
7", primary treatments, session columns of tables); the small cells of the old code carry them.
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
from app_session import AUTH, isolated_app
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from dashboard import charts, i18n
from pipelines.demo.build import run_demo
from pipelines.metrics import analysis, counting, registry, signals, small_cells
from pipelines.metrics.counting import Filters
from pipelines.release import access

END = dt.date(2026, 6, 30)
MIN = 10  # the release rule's minimum denominator (pipelines/release/disclosure.py Rule), counted here by hand
TIMEOUT = 90
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
    yield from isolated_app(demo_db, tmp_path, monkeypatch)


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
    at.switch_page(access.page(page).file)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.title or at.title[0].value != "Not available for your role"  # no title: a page that stopped
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
    """ISO dates in a text that name a day rather than a month: anything but the first of a month, and but the
    last day of a month given as the end of the period in a link (`to=`: the manager's period is whole months)."""
    def month_end(m: re.Match) -> bool:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return text[max(0, m.start() - 3):m.start()] == "to=" and (day + dt.timedelta(days=1)).day == 1

    return [m.group(0) for m in ISO_DATE.finditer(text) if m.group(3) != "01" and not month_end(m)]


def received(at: AppTest, captions: bool = True) -> dict[str, list[str]]:
    """What the page sent, by where it was found: figure data (trace by trace), tables (row by row), markdown,
    captions and metrics (with their help). Figures: the traces' data and hover text, and the titles (layout
    text the browser shows). `captions=False` leaves the captions out (the snapshot caption names the data's as-of
    day, the newest activity of the whole clinic, and the day it was published)."""
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
    if captions:
        out["captions"] = [c.value for c in at.caption]
    out["metrics"] = [f"{m.label}: {m.value} {m.proto.delta} {m.proto.help}" for m in at.metric]
    return out


def leaks(at: AppTest) -> list[str]:
    """Every day-level date, and any per-day CUSUM (its legend or per-day hover with sessions and events)."""
    found = []
    for where, texts in received(at, captions=False).items():
        for text in texts:
            if days_in(text):
                found.append(f"{where}: {text[:160]}")
            if "highest per day" in text or re.search(r"Sessions: \d+, events: \d+", text):
                found.append(f"{where}: per-day CUSUM: {text[:160]}")
    return found


# Where the pages write how many sessions a figure covers (its denominator): the second number of "2 of 7"
# (rates, responders, completeness, funnel signals; not "Page 1 of 3" or "1-12 of 30"), of "2 / 7" (events /
# sessions, corrections / primary treatments; not a decimal such as an O/E "3 / 2.5" or a CUSUM "1.2 / 4.6"), the
# O/E hover's "Sessions: 7", the cost hovers' primary treatments, the headache change's "With a count: 7" and the
# sessions KPI. English texts (the walk sets lang=en).
COUNT_PATTERNS = (
    re.compile(r"(?<!Page )(?<![\d.,\-–])\d[\d,]* of (\d[\d,]*)"),
    re.compile(r"(?<![\d.,])\d[\d,]* / (\d[\d,]*)(?![.,]?\d)"),
    re.compile(r"Sessions: (\d[\d,]*)"),
    re.compile(r"\((\d[\d,]*) primary treatments\)"),
    re.compile(r"primary treatments: (\d[\d,]*)"),
    re.compile(r"With a count: (\d[\d,]*)"),
    re.compile(r"Sessions in the period: (\d[\d,]*)"),
)
SESSION_COLUMNS = ("Sessions", "Primary treatments", "With a count")  # table columns that count sessions


def small_counts(at: AppTest) -> list[str]:
    """Every figure the page sent that covers 1 to 9 sessions: a session count (denominator) of 1-9 in any text
    (hover and custom data of every trace, markdown, metrics, table rows) or in a session column of a table.
    Everything a page shows is tied to its period, so any such count ties a handful of sessions to a date."""
    found = []
    for where, texts in received(at).items():
        for text in texts:
            for pattern in COUNT_PATTERNS:
                for m in pattern.finditer(text):
                    if 1 <= int(m.group(1).replace(",", "")) < MIN:
                        found.append(f"{where}: {m.group(0)!r} in {text[:160]!r}")
    for i, frame in enumerate(at.dataframe):
        value = frame.value
        value = value.data if hasattr(value, "data") and not isinstance(value, pd.DataFrame) else value
        for col in SESSION_COLUMNS:
            if col in value:
                for v in value[col]:
                    text = str(v).replace(",", "").strip()
                    if text.isdigit() and 1 <= int(text) < MIN:
                        found.append(f"table {i} column {col}: {v}")
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


def spans_by_hand(sessions_by_month: pd.Series, least: int = MIN) -> list[list]:
    """A clinician's months (in order) grouped as the manager's CUSUM groups them: a span closes at the first month
    that brings it to `least` sessions; months left at the end join the last span."""
    spans, current, n = [], [], 0
    for month, k in sessions_by_month.items():
        current.append(month)
        n += int(k)
        if n >= least:
            spans.append(current)
            current, n = [], 0
    if current and spans:
        spans[-1] += current
    return spans


@pytest.mark.parametrize("outcome, clinician", CUSUM_CASES)
def test_the_manager_gets_the_cusum_by_month_with_no_session_in_it(outcome, clinician, con):
    """The CUSUM sent to a manager has one point per span of calendar months holding at least 10 of the
    clinician's sessions (a month of 10 or more is its own span), at the span's last month: the value at that
    month's end (the value after the clinician's last session in it: the CUSUM updates per session); no
    sessions, events or days."""
    chart = analysis.cusum(con, outcome)  # one row per session, in chart order
    mine = chart[chart["clinician"] == clinician]
    per_day = mine.groupby("treated_on")["sessions_n"].sum()
    assert len(per_day) > 40 and (per_day == 1).mean() > 0.5, "demo: most clinician-days are one session"
    months = pd.to_datetime(mine["treated_on"]).dt.to_period("M").to_numpy()
    month_end = mine.groupby(months)["cusum"].last()
    sessions = mine.groupby(months)["sessions_n"].sum()
    spans = spans_by_hand(sessions)
    assert any(len(sp) > 1 for sp in spans), "demo: some months of this clinician have fewer than 10 sessions"
    assert all(sessions[sp].sum() >= MIN for sp in spans)
    at = app("manager", "clinicians", outcome=outcome, clinician=clinician, tab="cusum")
    fig = cusum_figure(at)
    assert clinician in fig["layout"]["title"]["text"]
    line = next(tr for tr in fig["data"] if tr["name"] == "CUSUM (at month end)")
    assert [x[:10] for x in line["x"]] == [f"{sp[-1].year:04d}-{sp[-1].month:02d}-01" for sp in spans]
    assert len(line["x"]) < len(sessions), "fewer points than months with sessions"
    assert numbers(line["y"]) == pytest.approx([month_end[sp[-1]] for sp in spans])
    hover = "\n".join(strings(fig["data"]))
    assert "Sessions" not in hover and "events" not in hover.lower()
    assert not days_in(hover) and not leaks(at) and not small_counts(at)
    crossed = {d.strftime("%Y-%m") for d in mine.loc[mine["signal"].astype(bool), "treated_on"]}
    want = sorted(f"{sp[-1].year:04d}-{sp[-1].month:02d}" for sp in spans
                  if any(f"{m.year:04d}-{m.month:02d}" in crossed for m in sp))
    marks = [x[:7] for tr in fig["data"] if tr["name"] == "Signal in the month(s) shown" for x in tr["x"]]
    assert sorted(marks) == want, "a span with a crossing is marked, at its last month"


def test_the_doctor_still_gets_the_cusum_per_treatment_day(con):
    """The rule is the role's: the doctor (case review) keeps the per-day chart."""
    mine = analysis.cusum(con, "insufficient_effect")
    mine = mine[mine["clinician"] == "C02"]
    at = app("doctor", "clinicians", outcome="insufficient_effect", clinician="C02", tab="cusum")
    line = next(tr for tr in cusum_figure(at)["data"] if tr["name"] == i18n.t("legend_cusum", "en"))
    assert len(line["x"]) == mine["treated_on"].nunique()  # a point per treatment day


def test_the_manager_sees_the_month_of_the_last_cusum_signal_not_its_day(con):
    last = max(d for d, s in zip(*[analysis.cusum(con, "insufficient_effect").query("clinician == 'C02'")[c]
                                   for c in ("treated_on", "signal")], strict=True) if s)
    at = app("manager", "clinicians", outcome="insufficient_effect")
    table = at.dataframe[-1].value
    row = table[table["Clinician"] == "C02"].iloc[0]
    # issue 16: the CUSUM status names its signals beside it ("in control · 1, last Mar 2026")
    assert row["CUSUM status"].endswith(f"last {i18n.period_label(last, 'month', 'en')}")
    assert not any(days_in(str(v)) for v in table["CUSUM status"])
    doctor = app("doctor", "clinicians", outcome="insufficient_effect").dataframe[-1].value
    assert doctor.loc[doctor["Clinician"] == "C02", "CUSUM status"].iloc[0].endswith(f"last {last.isoformat()}")


# --------------------------------------------------------------------------------------------------------------
# every page a manager may open
# --------------------------------------------------------------------------------------------------------------


def test_nothing_on_the_overview_names_a_day_for_the_manager():
    """All signals, CUSUM crossings included, dated by month; every page of the list is checked."""
    at = signals_done(app("manager", "overview", scope="all", improving="true"))  # every row (issue 16)
    cusum_rows = [m.value for m in at.markdown if "Risk-adjusted CUSUM reached" in m.value]
    assert cusum_rows, "the CUSUM signals are listed"
    assert leaks(at) == []
    at = signals_done(app("manager", "overview", scope="all", improving="true"))  # every row, page by page
    assert leaks(at) == []
    pages_n = 1
    while (shown := showing(at)) and shown[1] < shown[2]:
        pages_n += 1
        at.query_params["page_n"] = str(pages_n)
        at.run()
        assert not at.exception and showing(at)[0] == shown[1] + 1
        assert leaks(at) == []
    # (with episodes the list may fit on one page; every page there is has been checked above)


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
    at = app("manager", "complications", outcome="insufficient_effect", period="week", clin="C01")
    assert at.segmented_control(key="w_period").options == ["Month", "Quarter"]
    spc = figures(at)[0]
    xs = [x for tr in spc["data"] if isinstance(tr.get("x"), list) for x in tr["x"] if isinstance(x, str)]
    assert xs and all(x[8:10] == "01" for x in xs)
    assert leaks(at) == []
    doctor = app("doctor", "complications", outcome="insufficient_effect", period="week", clin="C01")
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
    assert list(out.columns) == ["clinician", "month", "span_start", "cusum", "peak", "threshold", "signal"]
    assert (out["span_start"] == out["month"]).all(), "without a minimum every month is its own span"
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
    # at least 3 sessions a span: A's January (2) joins February (2); April (1) is left over and joins that span;
    # B (1 session in all) has no span, so no row
    spans = signals.cusum_monthly(daily, min_sessions=3)
    assert [(r.clinician, r.span_start, r.month, r.cusum, r.peak, r.signal) for r in spans.itertuples()] == [
        ("A", dt.date(2026, 1, 1), dt.date(2026, 4, 1), 1.1, 3.4, True)]
    fig = charts.cusum_monthly_chart(spans, clinician="A", outcome_label="X", lang="en", arl0=1000, min_sessions=3)
    assert "Jan 2026 – Apr 2026" in fig.data[0].customdata[0][0]
    assert "fewer than 3" in json.dumps(charts.cusum_monthly_chart(
        spans, clinician="B", outcome_label="X", lang="en", arl0=1000, min_sessions=3).to_plotly_json()).lower()


def test_cusum_signals_are_dated_by_their_span():
    """A crossing in a small month is dated by the last month of its span (the overview's signals and the
    clinician table name that month); months left at the end join the last span; a clinician without a span
    (fewer than 10 sessions) has no signal for the manager."""
    frame = pd.DataFrame({
        "clinician": ["A", "A", "A", "A", "A", "B"],
        "treated_on": [dt.date(2026, 1, 5), dt.date(2026, 2, 3), dt.date(2026, 3, 9), dt.date(2026, 4, 7),
                       dt.date(2026, 5, 2), dt.date(2026, 1, 9)],
        "sessions_n": [4, 3, 12, 10, 2, 5], "cusum": [1.0, 3.6, 0.2, 0.3, 0.4, 4.0], "threshold": 3.5,
        "signal": [False, True, False, False, False, True], "outcome": 1.0, "expected": 0.1})
    spans = signals.cusum_spans(frame, MIN)
    jan, mar, apr, may = (dt.date(2026, m, 1) for m in (1, 3, 4, 5))
    assert [(r.clinician, r.month, r.span_start, r.span_end) for r in spans.itertuples()] == [
        ("A", jan, jan, mar), ("A", dt.date(2026, 2, 1), jan, mar), ("A", mar, jan, mar),
        ("A", apr, apr, may), ("A", may, apr, may)]
    sig = signals.cusum_signals_by_span(signals.cusum_signals({"ptosis": frame}), frame, MIN)
    assert [(r.clinician, r.on) for r in sig.itertuples()] == [("A", mar)]
    assert list(signals.cusum_spans(frame, 0)["span_end"]) == [jan, dt.date(2026, 2, 1), mar, apr, may, jan]


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


# --------------------------------------------------------------------------------------------------------------
# cells of fewer than 10 sessions (pipelines/metrics/small_cells.py)
# --------------------------------------------------------------------------------------------------------------

SMALL_CASE = {"clin": "C01", "prod": "Botox"}  # one clinician and one product: months of 1-9 and of 10+ sessions
SMALL_FILTERS = Filters(clinicians=("C01",), products=("Botox",))


@pytest.mark.parametrize("page, query", [
    ("overview", {}),
    ("complications", {"outcome": "correction"}),
    ("complications", {"outcome": "insufficient_effect", "rules": "mdc"}),
    ("complications", {"outcome": "ptosis", "period": "quarter", "from": "2025-01-01", "to": "2025-06-30"}),
    ("clinicians", {"outcome": "correction", "clin": ["C01", "C08", "C09"], "from": "2026-01-01"}),
    ("clinicians", {"outcome": "insufficient_effect", "tab": "cusum", "clinician": "C01"}),
    ("responses", {}),
    ("costs", {}),
    ("overview", {"clin": ["C05", "C08"], "prod": [], "from": "2026-01-01", "to": "2026-03-31"}),
    ("costs", {"clin": ["C05", "C08"], "prod": [], "from": "2026-01-01", "to": "2026-03-31"}),
    ("responses", {"clin": ["C05", "C08"], "prod": [], "from": "2025-01-01", "to": "2025-12-31"}),
])
def test_no_figure_a_manager_receives_covers_fewer_than_10_sessions(page, query):
    """The page walk of issue 10 part 4: with one clinician and one product (or a few clinicians over a few
    months), months, quarters, clinicians, indications and cost rows of 1-9 sessions exist; the manager
    receives no count of 1-9 sessions anywhere (charts' data and hover, tables, metrics, texts), and no day."""
    at = app("manager", page, **(SMALL_CASE | query))
    assert small_counts(at) == []
    assert leaks(at) == []


@pytest.mark.parametrize("page, query", [
    ("complications", {"outcome": "correction"}),
    ("clinicians", {"outcome": "correction", "clin": ["C01", "C08", "C09"], "from": "2026-01-01"}),
    ("responses", {}),
    ("costs", {}),
])
def test_the_doctor_still_sees_the_small_cells(page, query):
    """The rule is the role's: the doctor gets the same pages with every cell (and the detector sees them)."""
    assert small_counts(app("doctor", page, **(SMALL_CASE | query)))


def test_months_of_fewer_than_10_sessions_are_blank_on_the_managers_control_chart(con):
    """Ground truth from the counts: every month of C01 with Botox whose correction rate covers 1-9 sessions is a
    point without a rate for the manager (its hover names the month and says it is hidden); the doctor's chart has
    its rate. The months shown have the doctor's rate, the hidden months together cover 0 or at least 10
    sessions, and the manager's centre line is the rate of the months shown."""
    counted = counting.counts(con, "correction", period="month", filters=SMALL_FILTERS)
    den = {r.period_start.isoformat(): int(r.denominator_n) for r in counted.itertuples()}
    num = {r.period_start.isoformat(): int(r.numerator_n) for r in counted.itertuples()}
    small = {m for m, n in den.items() if 1 <= n < MIN}
    assert len(small) >= 5 and len([m for m, n in den.items() if n >= MIN]) >= 5, "demo: both kinds of month"

    def points(at: AppTest) -> dict[str, tuple[float | None, str]]:
        fig = next(f for f in figures(at) if "p-chart by" in f["layout"]["title"]["text"])
        out = {}
        # the rate line, then the newest month drawn apart when its windows are not all closed (issue 17)
        for name in ("Rate", "Incomplete period (not judged)"):
            for trace in (tr for tr in fig["data"] if tr.get("name") == name):
                ys = numbers(trace["y"]) if isinstance(trace["y"], dict) else [None if v is None else float(v)
                                                                                for v in trace["y"]]
                out |= {x[:10]: (None if y is None or np.isnan(y) else y, c[0])
                        for x, y, c in zip(trace["x"], ys, trace["customdata"], strict=True)
                        if name == "Rate" or y is not None}
        return out, fig

    manager, manager_fig = points(app("manager", "complications", outcome="correction", **SMALL_CASE))
    # one clinician's corrections with one product are rare (under one a month): the doctor's page would draw the
    # g-chart by itself (tests/test_g_chart.py); the monthly chart is asked for, to compare it with the manager's
    doctor, doctor_fig = points(app("doctor", "complications", outcome="correction", chart="p", **SMALL_CASE))
    # months not closed on the as-of date are drawn apart and never judged: not in the centre line or sparkline
    open_months = {x[:10] for tr in doctor_fig["data"] if tr.get("name") == "Incomplete period (not judged)"
                   for x in tr["x"]}
    for month in small:
        assert manager[month][0] is None, f"{month}: {den[month]} sessions, drawn for the manager"
        assert manager[month][1].startswith(f"<b>{i18n.period_label(dt.date.fromisoformat(month), 'month', 'en')}")
        assert "Hidden for your role" in manager[month][1] and " of " not in manager[month][1]
        assert doctor[month][0] == pytest.approx(100 * num[month] / den[month])
        assert f"({num[month]} of {den[month]})" in doctor[month][1]
    shown = {m for m, (y, _) in manager.items() if y is not None}
    hidden = set(manager) - shown
    assert shown and small <= hidden
    assert all(den[m] >= MIN and manager[m][0] == pytest.approx(doctor[m][0]) for m in shown)
    hidden_n = sum(den[m] for m in hidden)
    assert hidden_n == 0 or hidden_n >= MIN, "the hidden months cannot be worked out from the period's total"
    centre = next(tr for tr in manager_fig["data"] if tr.get("name") == "Centre line")
    judged = shown - open_months
    assert numbers(centre["y"])[0] == pytest.approx(100 * sum(num[m] for m in judged) / sum(den[m] for m in judged))

    # the overview's sparkline of the same outcome: the same months are gaps for the manager
    def trend(at: AppTest) -> dict[str, float]:
        table = at.dataframe[0].value
        table = table.data if hasattr(table, "data") and not isinstance(table, pd.DataFrame) else table
        values = table.loc[table["Outcome"] == registry.get("correction").label("en"), "Trend"].iloc[0]
        return dict(zip(sorted(set(doctor) - open_months), values, strict=True))  # the chart's closed months

    manager_trend, doctor_trend = trend(app("manager", "overview", **SMALL_CASE)), trend(
        app("doctor", "overview", **SMALL_CASE))
    assert all(pd.isna(manager_trend[m]) and pd.notna(doctor_trend[m]) for m in small - open_months)
    assert {m for m, v in manager_trend.items() if pd.notna(v)} == judged


def test_months_of_fewer_than_10_primary_treatments_are_not_in_the_managers_cost_chart(con):
    """Ground truth counted in SQL: C01's primary Botox treatments per month. A month of 1-9 is not in the
    manager's cost-per-month chart at all (no bar, no hover); the doctor's chart has it with its count."""
    rows = con.execute("""
        SELECT CAST(date_trunc('month', treated_on) AS DATE) AS month,
               count(*) FILTER (WHERE corrects_treatment_id IS NULL) AS primary_n
        FROM treatments WHERE clinician = ? AND product = ? AND treated_on <= ?
        GROUP BY ALL ORDER BY ALL""", ["C01", "Botox", END]).fetchall()
    primary = {m.isoformat(): int(n) for m, n in rows}
    small = {m for m, n in primary.items() if 1 <= n < MIN}
    assert small and any(n >= MIN for n in primary.values())

    def months(at: AppTest) -> dict[str, str]:
        fig = next(f for f in figures(at) if "Correction cost by month" in f["layout"]["title"]["text"])
        trace = fig["data"][0]
        return {x[:10]: c[0] for x, c in zip(trace["x"], trace["customdata"], strict=True)}

    manager = months(app("manager", "costs", **SMALL_CASE))
    doctor = months(app("doctor", "costs", **SMALL_CASE))
    assert not small & set(manager), "no month of 1-9 primary treatments reaches the manager"
    for month in small:
        assert f"({primary[month]} primary treatments)" in doctor[month]
    assert manager and all(manager[m] == doctor[m] for m in manager), "the months shown are the doctor's figures"
    hidden_n = sum(n for m, n in primary.items() if m not in manager)
    assert hidden_n == 0 or hidden_n >= MIN


def test_a_filter_of_fewer_than_10_sessions_shows_the_manager_no_figure(con):
    """The whole-period figures (sessions, KPIs, funnel and O/E points) of a population under 10 sessions: the
    manager gets a message and nothing else; the doctor gets the figures."""
    n = con.execute("SELECT count(*) FROM treatments WHERE clinician = 'C08' AND product = 'Letybo'").fetchall()[0][0]
    assert 1 <= n < MIN
    for page in ("overview", "complications", "clinicians", "responses", "costs"):
        at = app("manager", page, clin="C08", prod="Letybo")
        assert [w.value for w in at.warning] == [
            "Fewer than 10 sessions match the filters. For your role every figure must cover at least 10 sessions: "
            "choose a longer period or fewer filters."]
        assert not at.metric and not figures(at) and not at.dataframe
    doctor = app("doctor", "overview", clin="C08", prod="Letybo")
    assert {m.label: m.value for m in doctor.metric}["Sessions in the period"] == str(n)


# --------------------------------------------------------------------------------------------------------------
# the rule itself (hand-made frames)
# --------------------------------------------------------------------------------------------------------------


def test_small_cells_and_their_complement_are_hidden():
    """A cell under 10 sessions is hidden; while the hidden cells of a series add up to 1-9 sessions (in the
    rate's sessions, or in all sessions closed or still open) the smallest visible cell is hidden too."""
    frame = pd.DataFrame({
        "metric": ["a"] * 5 + ["b"] * 3,
        "denominator_n": [3, 12, 15, 20, 0, 30, 40, 0],
        "eligible_n": [3, 12, 15, 20, 0, 30, 40, 0],
        "awaiting_n": [0, 0, 0, 0, 0, 0, 0, 5],
    })
    hidden = small_cells.hidden_cells(frame, small_cells.RATE_SESSIONS, series=["metric"])
    # a: 3 is small, 0 is empty; 3 hidden alone would be total minus the rest, so 12 goes too (3 + 12 = 15)
    # b: the empty month still has 5 open sessions, so 30 goes too
    assert list(hidden) == [True, True, False, False, True, True, False, True]
    assert not small_cells.hidden_cells(frame, small_cells.RATE_SESSIONS, series=["metric"],
                                           min_sessions=0).any()
    rates = counting.add_rates(frame.assign(numerator_n=[1, 2, 0, 4, 0, 3, 1, 0], followed_up_n=frame["eligible_n"],
                                           event_n=[1, 2, 0, 4, 0, 3, 1, 0], crude_event_n=[1, 2, 0, 4, 0, 3, 1, 0]))
    out = small_cells.hide_rates(rates)
    assert list(out["is_hidden"]) == list(hidden)
    assert out.loc[hidden.to_numpy(), list(small_cells.RATE_VALUES)].isna().all().all()
    assert list(out.loc[~hidden.to_numpy(), "numerator_n"]) == [0, 4, 1], "numerators 1-4 among 10+ stay"


def test_the_control_chart_of_the_visible_months_is_computed_without_the_hidden_ones():
    counts = pd.DataFrame({"period_start": [dt.date(2026, m, 1) for m in (1, 2, 3, 4)],
                           "numerator_n": [1, 2, 1, 3], "denominator_n": [3, 20, 25, 30],
                           "eligible_n": [3, 20, 25, 30], "followed_up_n": [3, 20, 25, 30], "event_n": [1, 2, 1, 3],
                           "awaiting_n": [0, 0, 0, 0]})
    manager = analysis.spc_hiding_small(counts, MIN)
    doctor = analysis.spc_hiding_small(counts, 0)
    assert list(manager["is_hidden"]) == [True, True, False, False]  # 3 sessions, and 20 so 3 can't be recovered
    assert manager["cl"].iloc[0] == pytest.approx(4 / 55) and doctor["cl"].iloc[0] == pytest.approx(7 / 78)
    assert manager.loc[:1, ["numerator_n", "denominator_n", "rate", "ucl", "lcl"]].isna().all().all()
    assert not manager.loc[:1, "signal"].any()
    assert "is_hidden" not in doctor, "the exports' frame is unchanged for roles that see sessions"
