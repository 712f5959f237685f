"""The signal review log (issue 12, item 1): a review per signal episode (conclusion, note, action owner, due date),
never lost (not by a load, a restore, or two people reviewing at once), every change in the access log, open and
reviewed told apart in `export signals` and on the overview, and a new episode after a review open again."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import CLINICIANS_CSV, write

from pipelines.ingest.load import load_files
from pipelines.release import access, reviews

TODAY = dt.date(2025, 1, 31)
CUSUM = {"kind": "cusum", "rule": "cusum", "outcome": "eyelid_ptosis", "clinician": "C03", "direction": "high",
         "first_date": dt.date(2024, 9, 12)}
SPC = {"kind": "spc", "rule": "sigma", "outcome": "insufficient_effect", "clinician": None, "direction": "high",
       "first_date": dt.date(2024, 5, 1)}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.delenv(reviews.REVIEWS_FILE_ENV, raising=False)
    monkeypatch.delenv("CLINIC_ACCESS_LOG", raising=False)
    monkeypatch.delenv(access.KEY_FILE_ENV, raising=False)
    db = tmp_path / "data" / "clinic.duckdb"
    return db, reviews.reviews_path_for(db), access.log_path_for(db)


def review(path, log, episode=CUSUM, conclusion="investigating", user="kari@klinikk.no", role="doctor", at=None,
           **kw):
    return reviews.record_review(path, episode, reviews.Review(conclusion, **kw), user=user, role=role,
                                 access_log=log, at=at)


def test_the_review_file_sits_beside_the_database(files, monkeypatch, tmp_path):
    db, path, _ = files
    assert path == db.with_name("clinic.reviews.jsonl")
    monkeypatch.setenv(reviews.REVIEWS_FILE_ENV, str(tmp_path / "elsewhere.jsonl"))
    assert reviews.reviews_path_for(db) == tmp_path / "elsewhere.jsonl"


def test_a_review_is_one_line_in_the_file_and_one_entry_in_the_access_log(files):
    _, path, log = files
    record = review(path, log, note="Looked at 14 sessions.\nTechnique discussed.", action_owner="Dr. Berg",
                    due_on=dt.date(2025, 3, 1), at=dt.datetime(2025, 1, 20, 10, 15, 30, 999))
    assert path.read_bytes().count(b"\n") == 1  # the note's line break stays inside the JSON string
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert reviews.read_reviews(path) == [record]
    assert record == {"key": "cusum|cusum|eyelid_ptosis|C03|high|2024-09-12", "kind": "cusum", "rule": "cusum",
                      "outcome": "eyelid_ptosis", "clinician": "C03", "direction": "high",
                      "first_date": "2024-09-12", "conclusion": "investigating",
                      "note": "Looked at 14 sessions.\nTechnique discussed.", "action_owner": "Dr. Berg",
                      "due_on": "2025-03-01", "reviewed_by": "kari@klinikk.no", "role": "doctor",
                      "reviewed_at": "2025-01-20T10:15:30"}
    entries = access.read_log(log)
    assert [(e["user"], e["role"], e["event"], e["what"], e["filters"]) for e in entries] == [
        ("kari@klinikk.no", "doctor", "edit", "signal review: cusum|cusum|eyelid_ptosis|C03|high|2024-09-12",
         "conclusion investigating")]
    assert access.verify_log(log) == (True, "intact")


def test_the_latest_review_wins_and_the_history_is_kept(files):
    _, path, log = files
    review(path, log, conclusion="investigating", user="kari@klinikk.no")
    review(path, log, episode=SPC, conclusion="common_cause", user="ola@klinikk.no")
    review(path, log, conclusion="action_taken", user="ola@klinikk.no", action_owner="Kari")
    found = reviews.read_reviews(path)
    assert [r["conclusion"] for r in reviews.history(found, CUSUM)] == ["investigating", "action_taken"]
    latest = reviews.latest(found)
    assert latest[reviews.episode_key(CUSUM)]["conclusion"] == "action_taken"
    assert latest[reviews.episode_key(SPC)]["reviewed_by"] == "ola@klinikk.no"
    assert len(access.read_log(log)) == 3


def episodes_frame(*rows) -> pd.DataFrame:
    base = {"on": None, "period": None, "concern": True, "value": 0.1, "numerator_n": 1, "denominator_n": 10,
            "limit": 0.05, "detail_a": None, "detail_b": None, "run_start": None, "last_date": None, "signals_n": 1}
    return pd.DataFrame([{**base, **r, "last_date": r["first_date"]} for r in rows])


def test_a_new_episode_of_the_same_rule_outcome_and_clinician_is_open_again(files):
    _, path, log = files
    review(path, log, conclusion="common_cause")
    later = {**CUSUM, "first_date": dt.date(2025, 6, 2)}  # the CUSUM crossed again after a long quiet spell
    other_side = {**SPC, "direction": "low"}
    frame = reviews.with_reviews(episodes_frame(CUSUM, later, SPC, other_side), reviews.read_reviews(path))
    assert list(frame["review_status"]) == ["reviewed", "open", "open", "open"]
    assert list(frame["conclusion"]) == ["common_cause", "", "", ""]
    assert list(frame["reviewed_by"]) == ["kari@klinikk.no", "", "", ""]
    assert reviews.review_counts(frame) == {"open": 3, "reviewed": 1, "investigating": 0}


def test_a_funnel_flag_is_reviewed_for_its_month():
    """A funnel flag is dated at the end of the period analysed, which moves with every load: its review holds
    for that calendar month, so a persisting flag is confirmed once a month."""
    funnel = {"kind": "funnel", "rule": "funnel_998", "outcome": "ptosis", "clinician": "c04", "direction": "high"}
    assert (reviews.episode_key({**funnel, "first_date": dt.date(2025, 1, 9)})
            == reviews.episode_key({**funnel, "first_date": "2025-01-30"})
            == "funnel|funnel_998|ptosis|C04|high|2025-01-01")
    assert reviews.episode_key({**funnel, "first_date": dt.date(2025, 2, 1)}).endswith("2025-02-01")
    # other kinds keep the day
    assert reviews.episode_key(CUSUM).endswith("2024-09-12")


def test_a_list_dated_by_month_matches_reviews_by_month(files):
    _, path, log = files
    review(path, log)
    by_month = {**CUSUM, "first_date": dt.date(2024, 9, 1)}  # signals.by_month for a viewer without case access
    assert reviews.summary(episodes_frame(by_month), path)["reviewed"] == 0
    assert reviews.summary(episodes_frame(by_month), path, by_month=True)["reviewed"] == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"conclusion": "fine"}, "conclusion must be one of common_cause, cause_found, action_taken, investigating"),
    ({"note": "x" * 2001}, "shorten it to at most 2000"),
    ({"action_owner": "Kari\nBerg"}, "one line of at most 100"),
    ({"role": "manager"}, "only doctor or admin may do this"),
    ({"role": "auditor"}, "only doctor or admin"),
    ({"user": " "}, "needs the signed-in user"),
    ({"episode": {**CUSUM, "kind": "rates"}}, "kind must be one of spc, funnel, cusum"),
    ({"episode": {**CUSUM, "outcome": "nonsense"}}, "unknown outcome `nonsense`"),
    ({"episode": {**CUSUM, "rule": "x; DROP"}}, "is not a signal rule"),
    ({"episode": {**CUSUM, "first_date": None}}, "needs its first date"),
])
def test_a_bad_review_is_refused_and_nothing_is_written(files, change, message):
    _, path, log = files
    kw = {"conclusion": "common_cause", **change}
    with pytest.raises(reviews.ReviewError, match=message):
        review(path, log, **kw)
    assert not path.exists() or path.read_bytes() == b""
    assert not log.exists() or access.read_log(log) == []


def test_an_access_log_that_cannot_be_written_refuses_the_review(files, monkeypatch, tmp_path):
    _, path, log = files
    review(path, log)  # the log is keyed now
    monkeypatch.setenv(access.KEY_FILE_ENV, str(tmp_path / "gone.key"))
    with pytest.raises(access.AccessLogError):
        review(path, log, conclusion="action_taken")
    assert [r["conclusion"] for r in reviews.read_reviews(path)] == ["investigating"]


def test_a_torn_last_line_is_skipped_and_the_next_review_lands_on_its_own_line(files):
    _, path, log = files
    review(path, log)
    with path.open("ab") as fh:
        fh.write(b'{"key": "half a rev')  # a crash mid-write
    review(path, log, episode=SPC, conclusion="cause_found")
    found = reviews.read_reviews(path)
    assert [r["conclusion"] for r in found] == ["investigating", "cause_found"]
    assert found.bad_lines == [2]
    # a line that parses but is not a review (or names no known conclusion) is skipped as well
    with path.open("ab") as fh:
        fh.write(json.dumps({**found[0], "conclusion": "whatever"}).encode() + b"\n[1, 2]\n")
    assert len(reviews.read_reviews(path)) == 2 and reviews.read_reviews(path).bad_lines == [2, 4, 5]


def _review_many(args) -> None:
    path, log, user, n = args
    for i in range(n):
        episode = {**CUSUM, "first_date": dt.date(2024, 1, 1) + dt.timedelta(days=i)}
        reviews.record_review(Path(path), episode, reviews.Review("common_cause", note=f"{user} {i}"), user=user,
                              role="doctor", access_log=Path(log))


def test_two_people_reviewing_at_once_both_land(files):
    """Two processes append 40 reviews each at the same time: all 80 are in the file, each on its own line, and
    the access log holds 80 entries with its chain intact."""
    _, path, log = files
    path.parent.mkdir(parents=True, exist_ok=True)
    review(path, log)  # create the log's key first, as the running app would have
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.map(_review_many, [(str(path), str(log), "kari", 40), (str(path), str(log), "ola", 40)])
    found = reviews.read_reviews(path)
    assert found.bad_lines == [] and len(found) == 81
    assert sorted(r["note"] for r in found[1:]) == sorted([f"kari {i}" for i in range(40)]
                                                          + [f"ola {i}" for i in range(40)])
    assert len(access.read_log(log)) == 81 and access.verify_log(log) == (True, "intact")


def test_a_load_and_a_restore_leave_the_reviews_alone(files, tmp_path):
    from pipelines.ingest import recovery

    db, path, log = files
    load_files([write(tmp_path / "clinicians.csv", CLINICIANS_CSV)], db, today=TODAY, progress=False)
    review(path, log)
    before = path.read_bytes()
    load_files([write(tmp_path / "more.csv", "clinician,profession,cost_per_minute_nok\nC03,lege,31\n")], db,
               today=TODAY, progress=False)
    recovery.restore(1, db)
    assert path.read_bytes() == before
    assert len(reviews.read_reviews(path)) == 1


def test_an_export_never_overwrites_the_review_file(files, tmp_path):
    from pipelines.__main__ import main

    db, path, log = files
    load_files([write(tmp_path / "clinicians.csv", CLINICIANS_CSV)], db, today=TODAY, progress=False)
    review(path, log)
    before = path.read_bytes()
    assert main(["export", "costs", "-o", str(path), "--db", str(db)]) != 0
    assert path.read_bytes() == before


# --------------------------------------------------------------------------------------------------------------
# `export signals` on a clinic with a planted excess
# --------------------------------------------------------------------------------------------------------------

END = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def signal_clinic(tmp_path_factory) -> Path:
    from pipelines.demo.in_control import Excess, write_in_control

    folder = tmp_path_factory.mktemp("reviews")
    db = folder / "db" / "clinic.duckdb"
    load_files(write_in_control(folder / "files", seed=1, months=24, end=END,
                                excess=Excess("C03", "eyelid_ptosis", 3.0, dt.date(2024, 7, 1))),
               db, today=END + dt.timedelta(days=1), progress=False)
    return db


def test_export_signals_tells_open_and_reviewed_apart(signal_clinic, tmp_path, monkeypatch):
    from pipelines.__main__ import main

    monkeypatch.delenv(reviews.REVIEWS_FILE_ENV, raising=False)
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv(access.KEY_FILE_ENV, str(tmp_path / "access.key"))
    db = tmp_path / "copy" / "clinic.duckdb"
    db.parent.mkdir()
    db.write_bytes(signal_clinic.read_bytes())
    out = tmp_path / "before.csv"
    assert main(["export", "signals", "-o", str(out), "--db", str(db), "--as-of", END.isoformat()]) == 0
    before = pd.read_csv(out, comment="#", keep_default_na=False, dtype=str)
    assert list(before.columns[-4:]) == ["review_status", "reviewed_by", "reviewed_at", "conclusion"]
    assert set(before["review_status"]) == {"open"} and set(before["reviewed_by"]) == {""}
    planted = before[(before["clinician"] == "C03") & (before["outcome"] == "eyelid_ptosis")
                     & (before["kind"] == "cusum")].iloc[0]
    episode = {k: planted[k] for k in ("kind", "rule", "outcome", "clinician", "direction", "first_date")}
    reviews.record_review(reviews.reviews_path_for(db), episode,
                          reviews.Review("action_taken", "Technique reviewed with C03", "Dr. Berg"),
                          user="kari@klinikk.no", role="doctor", access_log=access.log_path_for(db),
                          at=dt.datetime(2025, 7, 2, 9, 30))
    out = tmp_path / "after.csv"
    assert main(["export", "signals", "-o", str(out), "--db", str(db), "--as-of", END.isoformat()]) == 0
    after = pd.read_csv(out, comment="#", keep_default_na=False, dtype=str)
    done = after[after["review_status"] == "reviewed"]
    assert len(done) == 1 and len(after) == len(before)
    row = done.iloc[0]
    assert (row["kind"], row["clinician"], row["outcome"], row["first_date"]) == (
        "cusum", "C03", "eyelid_ptosis", planted["first_date"])
    assert (row["reviewed_by"], row["reviewed_at"], row["conclusion"]) == ("kari@klinikk.no",
                                                                           "2025-07-02T09:30:00", "action_taken")
    assert "Technique reviewed" not in out.read_text(encoding="utf-8")  # the note stays on the dashboard
    assert "# reviews: the latest review of each episode" in out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------
# the dashboard's page
# --------------------------------------------------------------------------------------------------------------


def test_the_quality_meeting_page_saves_a_review(signal_clinic, tmp_path, monkeypatch):
    import streamlit as st
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    import duckdb

    from dashboard import i18n
    from pipelines.demo.build import mark_as_demo

    db = tmp_path / "clinic.duckdb"
    db.write_bytes(signal_clinic.read_bytes())
    con = duckdb.connect(str(db))
    mark_as_demo(con, 1)
    con.close()
    monkeypatch.setenv("CLINIC_DB", str(db))
    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.delenv(reviews.REVIEWS_FILE_ENV, raising=False)
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    monkeypatch.setenv(access.KEY_FILE_ENV, str(tmp_path / "access.key"))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.secrets["tests"] = {"note": "no auth"}
    at.query_params["lang"] = "en"
    at.switch_page(access.page("signals").file)
    at.run()
    pending = set(i18n.TEXTS["signals_review_pending"])
    deadline = time.time() + 60
    while any(i.value in pending for i in at.info) and time.time() < deadline:  # computed in the background
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.expander, "no episode listed"
    first = at.expander[0]
    first.selectbox[0].set_value("cause_found")
    first.text_area[0].input("Checked the sessions")
    # the due date is typed (not Streamlit's calendar, whose words follow the browser's language): a day that does
    # not exist is refused in the page's language and nothing is saved
    first.text_input[1].input("31.02.2027")
    first.button[0].click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("“31.02.2027” is not a date" in e.value for e in at.error)
    assert reviews.read_reviews(reviews.reviews_path_for(db)) == []
    first = at.expander[0]
    first.text_input[1].input("1.3.2027")  # day.month.year, as the clinic writes it
    first.button[0].click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    found = reviews.read_reviews(reviews.reviews_path_for(db))
    assert [(r["conclusion"], r["note"], r["due_on"]) for r in found] == [("cause_found", "Checked the sessions",
                                                                           "2027-03-01")]
    assert [e["event"] for e in access.read_log(tmp_path / "access.jsonl") if e["event"] == "edit"] == ["edit"]
    # the page lists it as reviewed now, and the overview counts it
    assert sum("Reviewed · Cause found" in e.label for e in at.expander) == 0  # open ones shown by default
    overview = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    overview.secrets["tests"] = {"note": "no auth"}
    overview.query_params["lang"] = "en"
    overview.run()
    pending = set(i18n.TEXTS["signals_cusum_pending"])
    deadline = time.time() + 60  # the overview's CUSUM check runs in the background too
    while any(i.value in pending for i in overview.info) and time.time() < deadline:
        time.sleep(0.5)
        overview.run()
    assert not overview.exception, [e.message for e in overview.exception]
    counts = [c.value for c in overview.caption if c.value.startswith("Quality meeting, every signal episode")]
    assert len(counts) == 1 and re.search(r": 1 reviewed, \d+ open\.$", counts[0]), counts


def test_an_unreadable_review_file_is_an_error_not_a_list_of_open_episodes(files):
    _, path, log = files
    review(path, log)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: make the path a folder instead
            path.chmod(0o600)
            path.unlink()
            path.mkdir()
        with pytest.raises(reviews.ReviewError, match="cannot be read"):
            reviews.read_reviews(path)
    finally:
        if path.is_dir():
            path.rmdir()
        else:
            path.chmod(0o600)
