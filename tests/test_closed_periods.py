"""Only closed periods are judged, and low follow-up completeness is marked (issue 17, counting items 3 and 4).

The fixture is made by hand and loaded through the real loader. Outcome: bruising (window 0-7 days, reported up
to day 28, so a session's window closes 28 days after treatment). Ten sessions a month from January to June 2024
on days 1-10 (A01 days 1-5, B02 days 6-10), each followed up on day 5 with the bruising question answered; one
bruise a month (the day-1 session). Exceptions:

- March: B02's five sessions (days 6-10) have no follow-up: 5 of 10 followed up (50 %);
- April: only B02's day-6 session is followed up: 6 of 10 (60 %);
- July: five sessions on 1-2 July (A01), all followed up, all bruised: 5 of 5.

As of 31 July 2024 the July sessions' windows have closed (2 July + 28 = 30 July), so they count, but July is
not closed: 31 July + 28 days is after the as-of date. Judged, it would fire (5 of 5 against a clinic rate of
about 12 %); it must not be.

Hand counts for the closed months: events 1 + 1 + 1 + 1 + 1 + 1 = 6 among 10 + 10 + 5 + 6 + 10 + 10 = 51
followed-up sessions, so the centre line is 6 / 51.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, ROOT, write
from pipelines.metrics import analysis, counting, signals
from pipelines.metrics.counting import Filters
from pipelines.release import build, disclosure, export

AS_OF = dt.date(2024, 7, 31)
CL = 6 / 51
RULE_COLUMNS = ["sigma_signal", "runs_signal", "astronomical", "shift", "trend", "two_of_three", "signal"]
MONTHS = [dt.date(2024, m, 1) for m in range(1, 8)]


def _rows() -> tuple[list[str], list[str]]:
    treatments, follow_ups = [], []
    for month in range(1, 7):
        for day in range(1, 11):
            tid = f"T{month:02d}{day:02d}"
            clinician = "A01" if day <= 5 else "B02"
            treated = dt.date(2024, month, day)
            treatments.append(f"{tid},p{month:02d}{day:02d},{treated},{clinician},cosmetic,glabella,Botox,20,,1900,20")
            if month == 3 and day >= 6:
                continue  # March: 5 of 10 followed up
            if month == 4 and day >= 7:
                continue  # April: 6 of 10 followed up
            bruised = "yes" if day == 1 else "no"
            follow_ups.append(f"F{tid},{tid},{treated + dt.timedelta(days=5)},full,{bruised}")
    for k, day in enumerate((1, 1, 1, 2, 2), start=1):
        tid = f"T07{k:02d}"
        treated = dt.date(2024, 7, day)
        treatments.append(f"{tid},p07{k:02d},{treated},A01,cosmetic,glabella,Botox,20,,1900,20")
        follow_ups.append(f"F{tid},{tid},{treated + dt.timedelta(days=5)},full,yes")
    return treatments, follow_ups


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    from pipelines.ingest.load import load_files

    folder = tmp_path_factory.mktemp("closed_periods")
    treatments, follow_ups = _rows()
    files = [
        write(folder / "clinicians.csv", (FIXTURES / "metrics" / "clinicians.csv").read_text()),
        write(folder / "product_prices.csv", (FIXTURES / "metrics" / "product_prices.csv").read_text()),
        write(folder / "treatments.csv", "treatment_id,patient_ref,treated_on,clinician,indication,areas,product,"
              "units,corrects_treatment_id,price_nok,minutes\n" + "\n".join(treatments) + "\n"),
        write(folder / "follow_ups.csv", "follow_up_id,treatment_id,seen_on,effect,bruising\n"
              + "\n".join(follow_ups) + "\n"),
    ]
    db_path = folder / "clinic.duckdb"
    result = load_files(files, db_path, today=dt.date(2024, 8, 15))
    assert result.rows_rejected == 0
    return db_path


@pytest.fixture
def con(fixture_db):
    c = duckdb.connect(str(fixture_db), read_only=True)
    yield c
    c.close()


# --------------------------------------------------------------------------------------------------------------
# 3. Only closed periods are judged
# --------------------------------------------------------------------------------------------------------------


def test_the_part_closed_month_is_drawn_but_not_judged(con):
    frame = analysis.spc(con, "bruising", as_of=AS_OF)
    assert list(frame.period_start) == MONTHS
    assert list(frame.numerator_n) == [1, 1, 1, 1, 1, 1, 5]
    assert list(frame.denominator_n) == [10, 10, 5, 6, 10, 10, 5]
    assert frame.period_closed.tolist() == [True] * 6 + [False]
    # the centre line is the closed months' mean, by hand: 6 / 51 (with July it would be 11 / 56)
    assert frame.cl.tolist() == pytest.approx([CL] * 7)
    # July keeps its rate (drawn apart) but has no limits and no rule fires on it
    july = frame.iloc[-1]
    assert july.rate == 1.0
    assert math.isnan(july.ucl) and math.isnan(july.lcl)
    assert not frame.loc[~frame.period_closed, RULE_COLUMNS].to_numpy(dtype=bool).any()
    assert july.signal_rules == "" and july.mdc_rule == ""
    # the closed months' limits, by hand: cl + 3 sqrt(cl (1 - cl) / n)
    for n, ucl in zip([10, 10, 5, 6, 10, 10], frame.ucl.iloc[:6], strict=True):
        assert ucl == pytest.approx(CL + 3 * math.sqrt(CL * (1 - CL) / n))


def test_judged_the_same_month_would_fire(con):
    """The counterfactual: the same counts with July taken as closed fire a 3-sigma signal and a concerning
    reading, so the test above shows a rule kept off July, not a July that is unremarkable."""
    frame = analysis.spc(con, "bruising", as_of=AS_OF)
    judged = analysis.spc_from_counts(frame.assign(period_closed=True))
    assert judged.cl.iloc[0] == pytest.approx(11 / 56)
    assert bool(judged.sigma_signal.iloc[-1]) and bool(judged.signal.iloc[-1])
    assert analysis.variation_reading(judged) == "special_cause_concerning"
    assert analysis.variation_reading(frame) == "common_cause"


@pytest.mark.parametrize("rules", ["anhoej", "mdc"])
@pytest.mark.parametrize("chart", ["p", "pp"])
def test_the_open_month_adds_nothing_to_centre_line_limits_runs_or_laney_sigma(con, chart, rules):
    """The closed months' chart is the chart of the closed months alone (p and Laney p', both rule sets)."""
    frame = analysis.spc(con, "bruising", as_of=AS_OF, chart=chart, rules=rules)
    counts = analysis.full_periods(counting.counts(con, "bruising", period="month", as_of=AS_OF), "month")
    alone = analysis.spc_from_counts(counts.iloc[:6], chart=chart, rules=rules)
    for c in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):
        assert frame[c].iloc[:6].tolist() == pytest.approx(alone[c].tolist(), nan_ok=True)
    for c in ("longest_run", "crossings", *RULE_COLUMNS):
        assert frame[c].iloc[:6].tolist() == alone[c].tolist()
    assert not frame.loc[~frame.period_closed, RULE_COLUMNS].to_numpy(dtype=bool).any()


def test_a_period_is_closed_by_its_last_day_plus_the_longest_window(con):
    # July closes on 31 July + 28 days = 28 August
    assert analysis.periods_closed(MONTHS[-1:], "bruising", "month", dt.date(2024, 8, 27)).tolist() == [False]
    assert analysis.periods_closed(MONTHS[-1:], "bruising", "month", dt.date(2024, 8, 28)).tolist() == [True]
    # a date filter that ends the counted sessions on 2 July closes July on 30 July
    assert analysis.periods_closed(MONTHS[-1:], "bruising", "month", AS_OF, dt.date(2024, 7, 2)).tolist() == [True]
    # weeks: the week of Monday 22 July ends on Sunday 28 July, closed on 25 August
    assert analysis.periods_closed([dt.date(2024, 7, 22)], "bruising", "week", dt.date(2024, 8, 25)).tolist() == [True]
    assert analysis.periods_closed([dt.date(2024, 7, 22)], "bruising", "week", dt.date(2024, 8, 24)).tolist() == [False]
    # headache response: the longest window by indication (84 days) decides, not the shorter default one
    assert analysis.longest_close_days("headache_non_response") == 84
    assert analysis.periods_closed([dt.date(2024, 1, 1)], "headache_non_response", "month",
                                   dt.date(2024, 4, 23)).tolist() == [False]  # 31 Jan + 84 = 24 Apr
    assert analysis.periods_closed([dt.date(2024, 1, 1)], "headache_non_response", "month",
                                   dt.date(2024, 4, 24)).tolist() == [True]
    # once July has closed it is judged, and fires
    later = analysis.spc(con, "bruising", as_of=dt.date(2024, 8, 28))
    assert later.period_closed.all() and bool(later.sigma_signal.iloc[-1])


def test_the_signals_list_never_names_a_part_closed_period(con):
    frames = signals.spc_frames(con, ["bruising"], as_of=AS_OF)
    assert frames["bruising"].equals(analysis.spc(con, "bruising", as_of=AS_OF))
    for rules in ("anhoej", "mdc"):
        listed = signals.spc_signals(signals.spc_frames(con, ["bruising"], as_of=AS_OF, rules=rules))
        assert dt.date(2024, 7, 1) not in set(listed["period"])
    # judged, July would be listed: the sigma rule and the Making Data Count reading
    judged = {"bruising": analysis.spc_from_counts(frames["bruising"].assign(period_closed=True))}
    assert {"sigma", "mdc_astronomical"} <= set(signals.spc_signals(judged).query("period == @MONTHS[-1]").rule)
    everything = signals.signals(con, ["bruising"], as_of=AS_OF, include_cusum=False)
    assert dt.date(2024, 7, 1) not in set(everything.loc[everything.kind == "spc", "period"])


def test_a_hidden_small_cell_view_judges_only_closed_periods_too(con):
    frame = analysis.spc(con, "bruising", as_of=AS_OF, min_sessions=6)
    # March (5) and July (5) are hidden; the centre line comes from Jan, Feb, Apr, May, Jun: 5 / 46
    assert frame.period_closed.tolist() == [True] * 6 + [False]
    assert frame.cl.iloc[0] == pytest.approx(5 / 46)
    assert not frame.loc[~frame.period_closed, RULE_COLUMNS].to_numpy(dtype=bool).any()


def _cli(db, tmp_path, *args, name="out.csv"):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "pipelines", "export", *args, "--db", str(db), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    return proc, out


def test_export_spc_has_period_closed_and_no_rule_on_an_open_period(fixture_db, tmp_path):
    proc, out = _cli(fixture_db, tmp_path, "spc", "--outcome", "bruising", "--as-of", AS_OF.isoformat())
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "# judged: closed periods only" in text
    frame = pd.read_csv(out, comment="#")
    assert frame.period_closed.tolist() == [True] * 6 + [False]
    assert not frame.loc[~frame.period_closed, RULE_COLUMNS].to_numpy(dtype=bool).any()
    assert frame.cl.tolist() == pytest.approx([CL] * 7)
    assert frame.is_low_completeness.tolist() == [False, False, True, False, False, False, False]


def test_a_release_keeps_the_open_period_unjudged(con):
    frame = export.spc_frame(con, "bruising", as_of=AS_OF)
    released = export.release(frame, "spc", ["period_start"], disclosure.Rule(1, 1), outcome_key="bruising")
    assert released.period_closed.tolist() == [True] * 6 + [False]
    july = released.iloc[-1]
    assert not any(bool(july[c]) for c in ("sigma_signal", "runs_signal", "signal"))
    assert july.signal_rules == ""


# --------------------------------------------------------------------------------------------------------------
# 4. Low follow-up completeness is marked
# --------------------------------------------------------------------------------------------------------------


def test_five_of_ten_followed_up_is_low_six_of_ten_is_not(con):
    frame = analysis.spc(con, "bruising", as_of=AS_OF)
    assert frame.eligible_n.tolist() == [10, 10, 10, 10, 10, 10, 5]
    assert frame.followed_up_n.tolist() == [10, 10, 5, 6, 10, 10, 5]
    assert frame.is_low_completeness.tolist() == [False, False, True, False, False, False, False]
    # the threshold is configurable: at 0.7 April's 6 of 10 is low too
    stricter = analysis.spc(con, "bruising", as_of=AS_OF, low_completeness_below=0.7)
    assert stricter.is_low_completeness.tolist() == [False, False, True, True, False, False, False]
    # the pure rule on the boundary
    marked = analysis.mark_low_completeness(pd.DataFrame({"eligible_n": [10, 10, 0], "followed_up_n": [5, 6, 0]}))
    assert marked.is_low_completeness.tolist() == [True, False, False]


def test_clinicians_with_low_completeness_are_marked_in_the_funnel(con):
    # March and April: A01 10 of 10 followed up; B02 1 of 10 (only 6 April)
    spring = Filters(date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 4, 30))
    frame, _ = analysis.funnel(con, "bruising", filters=spring, as_of=AS_OF)
    by = frame.set_index("clinician")
    assert by.loc["A01", "followup_completeness"] == 1.0 and by.loc["B02", "followup_completeness"] == 0.1
    assert by.is_low_completeness.to_dict() == {"A01": False, "B02": True}
    batched, _ = signals.funnel(con, "bruising", filters=spring, as_of=AS_OF)
    assert batched.is_low_completeness.tolist() == frame.is_low_completeness.tolist()
    # boundary on a clinician: 5 of 10 is low, 6 of 10 is not
    counted = pd.DataFrame({"clinician": ["X", "Y"], "eligible_n": [10, 10], "followed_up_n": [5, 6],
                            "event_n": [1, 2], "awaiting_n": [0, 0], "numerator_n": [1, 2], "denominator_n": [5, 6]})
    funnel, _ = analysis.funnel_from_counts(counted)
    assert funnel.set_index("clinician").is_low_completeness.to_dict() == {"X": True, "Y": False}


def test_exports_mark_low_completeness_with_the_chosen_threshold(fixture_db, tmp_path):
    proc, out = _cli(fixture_db, tmp_path, "rates", "--outcome", "bruising", "--as-of", AS_OF.isoformat())
    assert proc.returncode == 0, proc.stderr
    rates = pd.read_csv(out, comment="#")
    assert rates.is_low_completeness.tolist() == [False, False, True, False, False, False, False]
    assert "# low_completeness: is_low_completeness = follow-up completeness below 0.6" in out.read_text()
    proc, out = _cli(fixture_db, tmp_path, "rates", "--outcome", "bruising", "--as-of", AS_OF.isoformat(),
                     "--min-completeness", "0.7", name="strict.csv")
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(out, comment="#").is_low_completeness.tolist() == [False, False, True, True, False, False,
                                                                         False]
    proc, out = _cli(fixture_db, tmp_path, "funnel", "--outcome", "bruising", "--as-of", AS_OF.isoformat(),
                     "--from", "2024-03-01", "--to", "2024-04-30", name="funnel.csv")
    assert proc.returncode == 0, proc.stderr
    funnel = pd.read_csv(out, comment="#")
    assert dict(zip(funnel.clinician, funnel.is_low_completeness, strict=True)) == {"A01": False, "B02": True}


@pytest.mark.parametrize("value", ["60", "-0.1", "nan"])
def test_a_threshold_outside_0_to_1_is_refused_with_a_fix(fixture_db, tmp_path, value):
    proc, out = _cli(fixture_db, tmp_path, "rates", "--outcome", "bruising", "--min-completeness", value)
    assert proc.returncode != 0 and not out.exists()
    assert "--min-completeness must be a share from 0 to 1, e.g. 0.6" in proc.stderr
    if value == "60":
        assert "0.6 for 60 %?" in proc.stderr
    with pytest.raises(build.ExportOptionError, match="share from 0 to 1"):
        build.check("spc", build.ExportOptions(outcome="bruising", min_completeness=float(value)))


def test_a_release_carries_completeness_but_not_the_mark(con):
    """A release (for outside the clinic) keeps its fixed columns: followup_completeness recomputed from the
    rounded counts is there, is_low_completeness (an internal reading aid) is not."""
    frame = export.rates_frame(con, "bruising", as_of=AS_OF)
    assert "is_low_completeness" in frame
    released = export.release(frame, "rates", ["period_start"], disclosure.Rule(1, 1), outcome_key="bruising")
    assert "followup_completeness" in released and "is_low_completeness" not in released


def test_the_dashboard_threshold_comes_from_the_secrets_and_a_bad_one_is_refused(monkeypatch):
    from dashboard import auth

    monkeypatch.setattr(auth, "_read_secrets", lambda: ({"clinic": {"min_completeness": 0.7}}, ""))
    assert auth.min_completeness() == 0.7
    assert auth.sign_in_setup().mode != "misconfigured"
    monkeypatch.setattr(auth, "_read_secrets", lambda: ({}, ""))
    assert auth.min_completeness() == analysis.LOW_COMPLETENESS_BELOW == 0.6
    for bad in (60, "0.6", True, -1):
        monkeypatch.setattr(auth, "_read_secrets", lambda bad=bad: ({"clinic": {"min_completeness": bad}}, ""))
        setup = auth.sign_in_setup()
        assert setup.mode == "misconfigured"
        assert any("[clinic] min_completeness must be a share from 0 to 1" in p for p in setup.problems)


def test_no_low_mark_for_an_outcome_that_needs_no_follow_up(con):
    frame = analysis.spc(con, "correction", as_of=AS_OF)
    assert not frame.is_low_completeness.any()
    assert np.isfinite(frame.cl.iloc[0])


# --------------------------------------------------------------------------------------------------------------
# The pages (AppTest on a small demo database, demo mode)
# --------------------------------------------------------------------------------------------------------------

DEMO_END = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from pipelines.demo.build import run_demo

    db = tmp_path_factory.mktemp("closed_periods_app") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=DEMO_END, progress=False)
    return db


def _app(monkeypatch, db, page, clinic=None, **query):
    import json

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from pipelines.release import access

    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    if clinic is not None:
        at.secrets["clinic"] = clinic
    for k, v in {"lang": "en", **query}.items():
        at.query_params[k] = v
    if page != "overview":
        at.switch_page(access.page(page).file)
    at.run()
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return at, figures


def test_the_complications_page_draws_the_newest_month_apart_and_names_it(monkeypatch, demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        frame = analysis.spc(con, "bruising")
    finally:
        con.close()
    open_months = list(frame.loc[~frame.period_closed & (frame.denominator_n > 0), "period_start"])
    assert open_months == [dt.date(2026, 6, 1)]  # the demo ends on 30 June: June's windows close in July
    at, figures = _app(monkeypatch, demo_db, "complications", outcome="bruising")
    assert not at.exception, [e.message for e in at.exception]
    spc = next(f for f in figures if "p-chart by" in f["layout"]["title"]["text"])
    apart = [tr for tr in spc["data"] if tr.get("name") == "Incomplete period (not judged)"]
    assert len(apart) == 1 and [x[:10] for x in apart[0]["x"]] == ["2026-06-01"]
    from dashboard import i18n

    june = i18n.period_label(dt.date(2026, 6, 1), "month", "en")
    assert any(f"Incomplete, drawn hollow apart from the line and not judged: {june}." in c.value
               for c in at.caption)


def test_the_clinicians_page_marks_low_completeness_at_the_clinics_threshold(monkeypatch, demo_db):
    at, figures = _app(monkeypatch, demo_db, "clinicians", clinic={"min_completeness": 1.0}, outcome="bruising")
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    table = table.data if hasattr(table, "data") and not isinstance(table, pd.DataFrame) else table
    # at 100 % every clinician missing a single follow-up is marked
    assert table["Followed up"].str.endswith("⚠").any()
    funnel = next(f for f in figures if any(tr.get("name") == "Clinic rate" for tr in f["data"]))
    assert any(tr.get("name") == f"Follow-up below 100{chr(0xA0)}%: least reliable" for tr in funnel["data"])
    at, _ = _app(monkeypatch, demo_db, "clinicians", clinic={"min_completeness": 0.0}, outcome="bruising")
    table = at.dataframe[0].value
    table = table.data if hasattr(table, "data") and not isinstance(table, pd.DataFrame) else table
    assert not table["Followed up"].str.endswith("⚠").any()


def test_a_bad_threshold_in_the_secrets_shows_an_error_and_no_data(monkeypatch, demo_db):
    at, figures = _app(monkeypatch, demo_db, "overview", clinic={"min_completeness": 60})
    assert not figures and not at.dataframe
    text = " ".join(e.value for e in (*at.markdown, *at.error, *at.code) if isinstance(e.value, str))
    assert "[clinic] min_completeness must be a share from 0 to 1" in text
