"""The counting principles of the registry (pipelines/metrics/registry.py docstring), each on a tiny hand-made
fixture whose every count is worked out by hand in the comments:

1. being followed up never depends on having the event (a correction is not a review);
2. a blank answer is not "no" (and a follow-up file without an outcome's column makes the load say so and the rate
   read "not recorded");
5. several contacts in the window: the latest one decides a response (headache, sweating); the HDSS rule applies
   only from a baseline of 3 or 4;
6. "earlier" treatments are those on an earlier day: two areas treated the same day are one visit.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import pytest
from conftest import CLINICIANS_CSV, ROOT, write

from pipelines.ingest.load import load_files
from pipelines.metrics import counting, responses

TREATMENTS = ("treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,corrects_treatment_id,"
              "price_nok,baseline_headache_days,baseline_hdss\n")
TODAY = dt.date(2024, 12, 31)


def load(tmp_path: Path, treatments: list[str], follow_ups: str) -> tuple[Path, object]:
    files = [write(tmp_path / "in" / "clinicians.csv", CLINICIANS_CSV),
             write(tmp_path / "in" / "treatments.csv", TREATMENTS + "".join(r + "\n" for r in treatments)),
             write(tmp_path / "in" / "follow_ups.csv", follow_ups)]
    db = tmp_path / "db" / "clinic.duckdb"
    result = load_files(files, db, today=TODAY)
    assert result.rows_rejected == 0, result.rejected_examples
    return db, result


def counts_by(db: Path, key: str, **kwargs) -> list[tuple]:
    """(period_start or None, eligible, awaiting, followed up, events, numerator, denominator, crude events)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = counting.counts(con, key, **kwargs)
    finally:
        con.close()
    return [(getattr(r, "period_start", None), r.eligible_n, r.awaiting_n, r.followed_up_n, r.event_n, r.numerator_n,
             r.denominator_n, r.crude_event_n) for r in frame.itertuples()]


def rates(db: Path, key: str, **kwargs):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return counting.rates(con, key, **kwargs)
    finally:
        con.close()


def sessions(db: Path, key: str, **kwargs):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return counting.session_outcomes(con, key, **kwargs).set_index("treatment_id")
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------------------
# 1. Being followed up never depends on having the event
# --------------------------------------------------------------------------------------------------------------

JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)


@pytest.fixture(scope="module")
def correction_db(tmp_path_factory) -> Path:
    """January: 10 primary cosmetic sessions (5 Jan), all reviewed on day 14 with full effect, and one correction
    (of J03, day 14). February: 10 primary sessions (5 Feb), no registered review, and one correction (of F07,
    day 14). The data's date is 19 Feb; counted as of 30 April, every 28-day window has closed."""
    rows = [f"J{i:02d},pj{i:02d},2024-01-05,C01,cosmetic,glabella,Botox,20,,1900,," for i in range(1, 11)]
    rows += ["JC1,pj03,2024-01-19,C01,cosmetic,glabella,Botox,6,J03,0,,"]
    rows += [f"F{i:02d},pf{i:02d},2024-02-05,C01,cosmetic,glabella,Botox,20,,1900,," for i in range(1, 11)]
    rows += ["FC1,pf07,2024-02-19,C01,cosmetic,glabella,Botox,6,F07,0,,"]
    reviews = "follow_up_id,treatment_id,seen_on,effect\n" + "".join(
        f"R{i:02d},J{i:02d},2024-01-19,full\n" for i in range(1, 11))
    db, _ = load(tmp_path_factory.mktemp("correction"), rows, reviews)
    return db


AS_OF = dt.date(2024, 4, 30)


def test_a_correction_is_an_event_but_never_a_follow_up(correction_db):
    # (period, eligible, awaiting, followed up, events, numerator, denominator, crude events)
    # January: 10 reviewed, J03 corrected -> 1/10; February: nobody reviewed -> no rate; F07's correction counts
    # only in the crude rate (1 of 10 eligible). Before: February read 1/1 = 100 % (the correction "followed up").
    assert counts_by(correction_db, "insufficient_effect", period="month", as_of=AS_OF) == [
        (JAN, 10, 0, 10, 1, 1, 10, 1),
        (FEB, 10, 0, 0, 0, 0, 0, 1),
    ]
    # the correction rate is 1/10 in both months (it needs no follow-up); the correction sessions are not primary
    assert counts_by(correction_db, "correction", period="month", as_of=AS_OF) == [
        (JAN, 10, 0, 10, 1, 1, 10, 1),
        (FEB, 10, 0, 10, 1, 1, 10, 1),
    ]


def test_the_issues_example_as_rates(correction_db):
    frame = rates(correction_db, ["insufficient_effect", "correction"], period="month", as_of=AS_OF)
    got = {(r.metric, r.period_start): r for r in frame.itertuples()}
    jan, feb = got["insufficient_effect", JAN], got["insufficient_effect", FEB]
    assert (jan.rate, jan.crude_rate, jan.followup_completeness) == (0.1, 0.1, 1.0)
    assert math.isnan(feb.rate) and math.isnan(feb.ci_low) and math.isnan(feb.ci_high)  # missing, never 0 %
    assert (feb.crude_rate, feb.followup_completeness) == (0.1, 0.0)
    assert got["correction", JAN].rate == got["correction", FEB].rate == 0.1
    # the whole period: 10 followed up (January), 1 event among them, 2 events in all 20 eligible
    assert counts_by(correction_db, "insufficient_effect", as_of=AS_OF) == [(None, 20, 0, 10, 1, 1, 10, 2)]


def test_the_sessions_behind_the_rate_are_the_reviewed_ones(correction_db):
    rows = sessions(correction_db, "insufficient_effect", as_of=AS_OF)
    assert sorted(rows.index) == [f"J{i:02d}" for i in range(1, 11)]  # F07 is not in the denominator
    assert list(rows.index[rows["in_numerator"]]) == ["J03"]


# --------------------------------------------------------------------------------------------------------------
# 2. A blank answer is not "no"; a file without the column is "not recorded"
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blank_db(tmp_path_factory):
    """Four sessions (1 March), one call each on day 3: bruising `yes` at B1, blank at B2-B4. The follow-up file
    has no `pain` column (nor any other complication column). B5 (30 June, no contact) only moves the data's own
    date (the dashboard's as-of date) past the others' windows; as of 30 April it is not yet known."""
    rows = [f"B{i},pb{i},2024-03-01,C01,cosmetic,glabella,Botox,20,,1900,," for i in range(1, 5)]
    rows += ["B5,pb5,2024-06-30,C01,cosmetic,glabella,Botox,20,,1900,,"]
    calls = ("follow_up_id,treatment_id,seen_on,effect,bruising\n"
             "K1,B1,2024-03-04,not_assessed,yes\nK2,B2,2024-03-04,not_assessed,\n"
             "K3,B3,2024-03-04,not_assessed,\nK4,B4,2024-03-04,not_assessed,\n")
    return load(tmp_path_factory.mktemp("blank"), rows, calls)


def test_one_yes_and_three_blanks_is_one_of_one(blank_db):
    db, _ = blank_db
    # eligible 4 (every session; window closed on 29 March), followed up 1 (B1: bruising answered), event 1
    assert counts_by(db, "bruising", as_of=AS_OF) == [(None, 4, 0, 1, 1, 1, 1, 1)]
    r = rates(db, "bruising", as_of=AS_OF).iloc[0]
    assert (r.rate, r.followup_completeness, r.crude_rate) == (1.0, 0.25, 0.25)


def test_a_missing_column_is_not_recorded_not_zero(blank_db):
    db, result = blank_db
    # no pain column: no contact assessed pain, no session followed up, no rate
    assert counts_by(db, "pain", as_of=AS_OF) == [(None, 4, 0, 0, 0, 0, 0, 0)]
    r = rates(db, "pain", as_of=AS_OF).iloc[0]
    assert math.isnan(r.rate) and r.followup_completeness == 0.0
    note = ("follow_ups file follow_ups.csv has no `pain` answers (no such column, or blank in every row): "
            "Pain at the injection site is not recorded for its 4 contacts")
    assert note in result.notes
    assert not any("`bruising`" in n for n in result.notes)  # answered on one contact: recorded
    ptosis = next(n for n in result.notes if "`eyelid_ptosis`" in n)
    assert "Ptosis (eyelid or brow), Eyelid ptosis are not recorded" in ptosis
    hdss = next(n for n in result.notes if "`hdss`" in n)
    assert "Sweating non-response is judged without it for its 4 contacts" in hdss  # the effect judgement remains


def test_the_load_command_prints_the_notes(tmp_path, capsys):
    from pipelines import __main__ as cli

    rows = "B1,pb1,2024-03-01,C01,cosmetic,glabella,Botox,20,,1900,,\n"
    files = [write(tmp_path / "clinicians.csv", CLINICIANS_CSV), write(tmp_path / "treatments.csv", TREATMENTS + rows),
             write(tmp_path / "kontroller.csv", "follow_up_id,treatment_id,seen_on,effect\nK1,B1,2024-03-04,full\n")]
    assert cli.main(["load", *map(str, files), "--db", str(tmp_path / "db" / "clinic.duckdb")]) == 0
    out = capsys.readouterr().out
    assert ("  note: follow_ups file kontroller.csv has no `bruising` answers (no such column, or blank in every "
            "row): Bruising is not recorded for its 1 contact\n") in out


def test_the_dashboard_reads_not_recorded(blank_db, tmp_path, monkeypatch):
    """Overview and the outcome page show "not recorded" where nothing assessed the outcome, not 0 % or a dash."""
    import shutil

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from pipelines.demo.build import mark_as_demo
    from pipelines.release import access

    source, result = blank_db
    db = tmp_path / "clinic.duckdb"
    shutil.copyfile(source, db)
    con = duckdb.connect(str(db))
    mark_as_demo(con, result.load_id)
    con.close()
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.secrets["tests"] = {"note": "secrets without an [auth] section"}
        at.query_params["lang"] = "en"
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        table = at.dataframe[0].value.set_index("Outcome")
        assert table.loc["Pain at the injection site"].iloc[0].startswith("not recorded")
        assert table.loc["Bruising"].iloc[0].startswith("100")
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.secrets["tests"] = {"note": "secrets without an [auth] section"}
        at.query_params["lang"] = "en"
        at.query_params["outcome"] = "pain"
        at.switch_page(access.page("complications").file)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.metric[0].value == "not recorded"
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()


# --------------------------------------------------------------------------------------------------------------
# 5. The latest contact decides a response; HDSS only from a baseline of 3 or 4
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def response_db(tmp_path_factory) -> Path:
    """Migraine (window 70-84 days; 1 Jan + 70 = 11 March, + 84 = 25 March), baseline 10 headache days:
    H1: day 72 -> 4 (responder), day 80 -> 8 (not): the latest says non-response.
    H2: day 72 -> 8 (not), day 80 -> 3 (responder): responder.
    H3: day 75 effect only (no headache days), day 78 -> 5 (exactly half: responder), day 82 effect only: responder
        (contacts without a headache-days count do not decide).
    Hyperhidrosis (window 14-42 days from 1 March):
    X1: baseline 4; day 20 HDSS 2 (2 better), day 35 HDSS 4: the latest says non-response.
    X2: baseline 2 (a 2-point drop is impossible); day 21 HDSS 1 with full effect: the effect decides, responder.
    X3: baseline 3; day 20 no HDSS, effect not assessed: nothing judged, not followed up.
    X4: baseline 3; day 30 no HDSS, full effect: responder by the effect.
    X5: no baseline; day 25 HDSS 1, partial effect: the effect decides, non-response."""
    rows = [f"H{i},ph{i},2024-01-01,C01,migraine,head_neck,Botox,155,,3900,10," for i in (1, 2, 3)]
    rows += ["X1,px1,2024-03-01,C01,hyperhidrosis,axillae,Botox,100,,5000,,4",
             "X2,px2,2024-03-01,C01,hyperhidrosis,axillae,Botox,100,,5000,,2",
             "X3,px3,2024-03-01,C01,hyperhidrosis,axillae,Botox,100,,5000,,3",
             "X4,px4,2024-03-01,C01,hyperhidrosis,axillae,Botox,100,,5000,,3",
             "X5,px5,2024-03-01,C01,hyperhidrosis,axillae,Botox,100,,5000,,"]
    contacts = ("follow_up_id,treatment_id,seen_on,effect,headache_days,hdss\n"
                "A1,H1,2024-03-13,full,4,\nA2,H1,2024-03-21,partial,8,\n"
                "B1,H2,2024-03-13,partial,8,\nB2,H2,2024-03-21,full,3,\n"
                "C1,H3,2024-03-16,full,,\nC2,H3,2024-03-19,full,5,\nC3,H3,2024-03-23,partial,,\n"
                "D1,X1,2024-03-21,full,,2\nD2,X1,2024-04-05,none,,4\n"
                "E1,X2,2024-03-22,full,,1\n"
                "G1,X3,2024-03-21,not_assessed,,\n"
                "I1,X4,2024-03-31,full,,\n"
                "J1,X5,2024-03-26,partial,,1\n")
    db, _ = load(tmp_path_factory.mktemp("responses"), rows, contacts)
    return db


def test_headache_latest_contact_decides(response_db):
    # eligible 3, followed up 3, non-response only H1 (before: none, the best contact decided)
    assert counts_by(response_db, "headache_non_response", as_of=AS_OF) == [(None, 3, 0, 3, 1, 1, 3, 1)]
    rows = sessions(response_db, "headache_non_response", as_of=AS_OF)
    assert rows["is_event"].to_dict() == {"H1": True, "H2": False, "H3": False}
    con = duckdb.connect(str(response_db), read_only=True)
    try:
        change = responses.headache_change(con, period=None, as_of=AS_OF).iloc[0]
    finally:
        con.close()
    # the deciding values are 8 (H1), 3 (H2), 5 (H3): mean 16/3, change from 10
    assert (change.eligible_n, change.measured_n, change.lost_n, change.responders_n) == (3, 3, 0, 2)
    assert change.follow_up_mean == pytest.approx(16 / 3) and change.change_mean == pytest.approx(16 / 3 - 10)


def test_hyperhidrosis_hdss_from_baseline_3_or_4_latest_decides(response_db):
    # eligible 5, followed up 4 (X3 had nothing judged), non-response X1 (latest HDSS 4 -> 4) and X5 (partial)
    assert counts_by(response_db, "hyperhidrosis_non_response", as_of=AS_OF) == [(None, 5, 0, 4, 2, 2, 4, 2)]
    rows = sessions(response_db, "hyperhidrosis_non_response", as_of=AS_OF)
    # before: X1 responded (its best HDSS) and X2 did not (HDSS 2 -> 1 is not 2 points): both the other way now
    assert rows["is_event"].to_dict() == {"X1": True, "X2": False, "X4": False, "X5": True}
    con = duckdb.connect(str(response_db), read_only=True)
    try:
        hdss = responses.hdss_change(con, as_of=AS_OF)
    finally:
        con.close()
    # only X1 was judged by HDSS (drop 4 - 4 = 0); X2 (baseline 2), X4 and X5 by the effect, X3 not followed up
    assert {(None if v is None or v is __import__("pandas").NA else int(v)): n
            for v, n in zip(hdss["hdss_drop"].astype(object), hdss["sessions_n"], strict=True)} == {0: 1, None: 4}


# --------------------------------------------------------------------------------------------------------------
# 6. Earlier means an earlier day: two areas treated the same day are one visit
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def same_day_db(tmp_path_factory) -> Path:
    """Patient p1 treated on 10 January in two sessions (D1 glabella, D2 crow's feet: one visit); reviewed on day
    14: D1 full effect, D2 none. Treated again on 1 May (D3), no effect at day 14.
    D2 is not a repeat treatment and not a case of secondary non-response (D1 is the same visit, not earlier);
    D3 is both."""
    rows = ["D1,p1,2024-01-10,C01,cosmetic,glabella,Botox,20,,1900,,",
            "D2,p1,2024-01-10,C01,cosmetic,crows_feet,Botox,24,,1900,,",
            "D3,p1,2024-05-01,C01,cosmetic,glabella,Botox,20,,1900,,"]
    contacts = ("follow_up_id,treatment_id,seen_on,effect\n"
                "R1,D1,2024-01-24,full\nR2,D2,2024-01-24,none\nR3,D3,2024-05-15,none\n")
    db, _ = load(tmp_path_factory.mktemp("same_day"), rows, contacts)
    return db


def test_same_day_sessions_are_not_each_others_history(same_day_db):
    as_of = dt.date(2024, 6, 30)
    # eligible: D3 only (before: D2 too, as D1 sorted before it); no effect at D3 -> 1/1
    assert counts_by(same_day_db, "secondary_non_response", as_of=as_of) == [(None, 1, 0, 1, 1, 1, 1, 1)]
    rows = sessions(same_day_db, "correction", as_of=as_of, only_denominator=False)
    assert rows["is_repeat"].to_dict() == {"D1": False, "D2": False, "D3": True}
