"""Process changes are data (issue 12, item 2): the `process_changes` reference table, loaded like `clinicians`
(validated, fix-it errors, rejected rows), added from the dashboard through the same validated path, drawn on the
time charts, and `rebase = yes` starting a new chart part (qicharts2's `part`: limits recomputed per part) in the
dashboard's chart, the signals and `export spc`."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import CLINICIANS_CSV, query, write

from pipelines import contract
from pipelines.ingest.load import load_files
from pipelines.metrics import analysis, changes, registry, signals
from pipelines.metrics.counting import Filters
from pipelines.release import access, reviews

TODAY = dt.date(2025, 1, 31)
HEADER = "changed_on,description,outcome,product,clinician,rebase\n"


def test_the_contract_names_exactly_the_registry_outcomes():
    """contract.py imports nothing of the project, so it lists the outcome keys itself: the same as the registry."""
    assert contract.OUTCOME_KEYS == tuple(o.key for o in registry.OUTCOMES)
    assert contract.TABLES_BY_NAME["process_changes"].required_columns == ("changed_on", "description")


def test_process_changes_load_like_a_reference_table(tmp_path, db):
    clin = write(tmp_path / "clinicians.csv", CLINICIANS_CSV)
    f = write(tmp_path / "endringer.csv", HEADER +
              "2024-03-01,Switched glabella product,ptosis,bocouture,,ja\n"
              "05.04.2024,Training day,,,c01,\n"
              "2024-04-02,Unknown clinician,,,ZZ9,no\n"
              "2024-04-03,Unknown outcome,nonsense,,,no\n"
              "01/05/2024,Slash date,,,,no\n"
              ",No date,,,,no\n"
              "2024-06-01,,,,,no\n"
              "2024-07-01,Bad flag,,,,maybe\n")
    result = load_files([clin, f], db, today=TODAY, progress=False)
    summary = {s.table: (s.rows_read, s.rows_loaded, s.rows_rejected) for s in result.sources}
    assert summary["process_changes"] == (8, 2, 6)
    reasons = "\n".join(r for (r,) in query(db, "SELECT reason FROM rejected_rows ORDER BY row_number"))
    assert 'unknown clinician code "ZZ9" (not in the clinicians table' in reasons
    assert '"nonsense" is not one of: insufficient_effect' in reasons
    assert "uses slashes" in reasons and "write 2024-05-01 or 01.05.2024" in reasons
    assert "changed_on: is empty (required)" in reasons and "description: is empty (required)" in reasons
    assert '"maybe" is not yes/no' in reasons
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = changes.process_changes(con)
    finally:
        con.close()
    assert found.to_dict("records") == [
        {"changed_on": dt.date(2024, 3, 1), "description": "Switched glabella product", "outcome": "ptosis",
         "product": "Bocouture", "clinician": "", "rebase": True},
        {"changed_on": dt.date(2024, 4, 5), "description": "Training day", "outcome": "", "product": "",
         "clinician": "C01", "rebase": False},  # an empty rebase is no
    ]


def test_which_changes_concern_a_chart():
    frame = pd.DataFrame([
        (dt.date(2024, 1, 10), "all outcomes", "", "", "", True),
        (dt.date(2024, 2, 10), "ptosis only", "ptosis", "", "", True),
        (dt.date(2024, 3, 10), "C01 only", "", "", "C01", True),
        (dt.date(2024, 4, 10), "Letybo only", "", "Letybo", "", False),
    ], columns=changes.COLUMNS)
    names = lambda f: list(f["description"])  # noqa: E731
    assert names(changes.concerning(frame, "ptosis")) == ["all outcomes", "ptosis only", "C01 only", "Letybo only"]
    assert names(changes.concerning(frame, "bruising")) == ["all outcomes", "C01 only", "Letybo only"]
    assert names(changes.concerning(frame, "bruising", Filters(clinicians=("C02",)))) == ["all outcomes",
                                                                                        "Letybo only"]
    assert names(changes.concerning(frame, "bruising", Filters(products=("Botox",)))) == ["all outcomes", "C01 only"]
    assert names(changes.concerning(frame, None, Filters(date_from=dt.date(2024, 2, 1),
                                                         date_to=dt.date(2024, 3, 31)))) == ["ptosis only",
                                                                                             "C01 only"]
    # the first period starting on or after each date; the first period never starts a part
    months = [dt.date(2024, m, 1) for m in range(1, 7)]
    assert changes.period_of_part_starts(months, [dt.date(2024, 1, 1), dt.date(2024, 3, 15),
                                                  dt.date(2024, 3, 20), dt.date(2025, 1, 1)]) == [3]


def test_a_two_part_p_chart_by_hand():
    """Events 2, 3, 1 then 6, 7, 5 of 20 sessions a month; a re-basing change on 15 March starts part 2 in April.
    Part 1: cl = 6/60 = 0.1, ucl = 0.1 + 3 sqrt(0.1 x 0.9 / 20) = 0.301246; part 2: cl = 18/60 = 0.3,
    ucl = 0.3 + 3 sqrt(0.3 x 0.7 / 20) = 0.607409, lcl = max(0, 0.3 - 0.307409) = 0. Without the change: one
    centre line 24/120 = 0.2."""
    months = [dt.date(2024, m, 1) for m in range(1, 7)]
    counted = pd.DataFrame({"period_start": months, "numerator_n": [2, 3, 1, 6, 7, 5], "denominator_n": [20] * 6,
                            "eligible_n": [20] * 6, "followed_up_n": [20] * 6, "event_n": [2, 3, 1, 6, 7, 5],
                            "awaiting_n": [0] * 6})
    parts = changes.period_of_part_starts(months, [dt.date(2024, 3, 15)])
    out = analysis.spc_from_counts(counted, parts=parts)
    assert list(out["part"]) == [1, 1, 1, 2, 2, 2]
    assert list(out["cl"]) == pytest.approx([0.1] * 3 + [0.3] * 3)
    assert list(out["ucl"]) == pytest.approx([0.301246] * 3 + [0.607409] * 3, abs=1e-6)
    assert list(out["lcl"]) == pytest.approx([0.0] * 6)
    one = analysis.spc_from_counts(counted)
    assert list(one["cl"]) == pytest.approx([0.2] * 6) and set(one["part"]) == {1}


# --------------------------------------------------------------------------------------------------------------
# a clinic with a re-basing change: the dashboard's chart, the signals and `export spc`
# --------------------------------------------------------------------------------------------------------------

END = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Path:
    from pipelines.demo.in_control import write_in_control

    folder = tmp_path_factory.mktemp("changes")
    files = write_in_control(folder / "files", seed=5, sessions_n=6000, months=18, end=END)
    files.append(write(folder / "files" / "process_changes.csv", HEADER +
                       "2024-09-10,New aftercare leaflet,bruising,,,yes\n"
                       "2024-11-02,Review call moved to day 14,,,,no\n"
                       "2024-12-01,Only C02's technique,bruising,,C02,yes\n"))
    db = folder / "db" / "clinic.duckdb"
    result = load_files(files, db, today=END + dt.timedelta(days=1), progress=False)
    assert [(s.rows_read, s.rows_rejected) for s in result.sources if s.table == "process_changes"] == [(3, 0)]
    return db


def test_a_rebasing_change_starts_a_part_in_the_chart_and_the_signals(clinic):
    con = duckdb.connect(str(clinic), read_only=True)
    try:
        frame = analysis.spc(con, "bruising", as_of=END)
        months = list(frame["period_start"])
        # parts from October 2024 (the first month on or after 10 September) and December (C02's change: the
        # clinic's chart shows it, C02 is one of its clinicians)
        starts = [months[i] for i in range(1, len(months)) if frame["part"].iloc[i] != frame["part"].iloc[i - 1]]
        assert starts == [dt.date(2024, 10, 1), dt.date(2024, 12, 1)]
        for _part, sub in frame[frame["period_closed"]].groupby("part"):
            assert sub["cl"].nunique() == 1
            assert sub["cl"].iloc[0] == pytest.approx(sub["numerator_n"].sum() / sub["denominator_n"].sum())
        # another outcome is not re-based, nor bruising for a clinician the C02 change does not concern
        assert set(analysis.spc(con, "pain", as_of=END)["part"]) == {1}
        c01 = analysis.spc(con, "bruising", as_of=END, filters=Filters(clinicians=("C01",)))
        assert c01["part"].max() == 2
        # the overview's batched frames re-base the same way (the signals come from them)
        batched = signals.spc_frames(con, ["bruising", "pain"], as_of=END)
        assert list(batched["bruising"]["part"]) == list(frame["part"])
        assert list(batched["bruising"]["cl"]) == pytest.approx(list(frame["cl"]), nan_ok=True)
        assert set(batched["pain"]["part"]) == {1}
        # an explicit empty list draws the chart without parts
        assert set(analysis.spc(con, "bruising", as_of=END, part_starts=[])["part"]) == {1}
    finally:
        con.close()


def test_export_spc_has_the_part_and_the_changes_of_each_period(clinic, tmp_path):
    from pipelines.__main__ import main

    out = tmp_path / "spc.csv"
    assert main(["export", "spc", "--outcome", "bruising", "-o", str(out), "--db", str(clinic),
                 "--as-of", END.isoformat()]) == 0
    frame = pd.read_csv(out, comment="#", keep_default_na=False)
    by_month = dict(zip(frame["period_start"], frame["part"], strict=True))
    assert by_month["2024-09-01"] == 1 and by_month["2024-10-01"] == 2 and by_month["2024-12-01"] == 3
    notes = dict(zip(frame["period_start"], frame["process_change"], strict=True))
    assert notes["2024-09-01"] == "New aftercare leaflet"  # dated 10 September: in September's row
    assert notes["2024-11-01"] == "Review call moved to day 14"
    assert notes["2024-12-01"] == "Only C02's technique"
    assert sum(v != "" for v in notes.values()) == 3
    text = out.read_text(encoding="utf-8")
    assert "# parts: a process change with rebase = yes starts a new part" in text
    # a release keeps the parts: its centre line is recomputed per part from the shown counts
    rel = tmp_path / "release.csv"
    assert main(["export", "spc", "--outcome", "bruising", "-o", str(rel), "--db", str(clinic), "--release",
                 "--from", "2024-01-01", "--to", "2024-12-31"]) == 0
    released = pd.read_csv(rel, comment="#", keep_default_na=False)
    assert list(released["part"]) == [1] * 9 + [2] * 2 + [3]
    assert released.groupby("part")["cl"].nunique().max() == 1
    assert released["cl"].nunique() == 3


def test_the_release_recomputes_each_part_by_hand():
    from pipelines.release import disclosure, export

    months = [dt.date(2024, m, 1) for m in range(1, 7)]
    counted = pd.DataFrame({"period_start": months, "numerator_n": [10, 12, 11, 30, 31, 29],
                            "denominator_n": [100] * 6})
    for c in ("eligible_n", "followed_up_n", "event_n", "awaiting_n"):
        counted[c] = 0
    internal = analysis.spc_from_counts(counted, parts=[3]).reindex(columns=export.SPC_COLUMNS)
    out = export.release(internal, "spc", ["period_start"], disclosure.Rule(), outcome_key="bruising")
    # counts rounded to 5 (10, 10, 10 | 30, 30, 30): part 1 cl = 30/300, part 2 cl = 90/300
    assert list(out["part"]) == [1, 1, 1, 2, 2, 2]
    assert list(out["cl"]) == pytest.approx([0.1] * 3 + [0.3] * 3)


# --------------------------------------------------------------------------------------------------------------
# from the dashboard: the loader's validation, then a load; every change in the access log
# --------------------------------------------------------------------------------------------------------------


def loaded_clinic(tmp_path, db) -> Path:
    load_files([write(tmp_path / "clinicians.csv", CLINICIANS_CSV)], db, today=TODAY, progress=False)
    return access.log_path_for(db)


def test_a_process_change_from_the_dashboard_is_validated_then_loaded_and_logged(tmp_path, db):
    log = loaded_clinic(tmp_path, db)
    result = reviews.add_process_change(db, {"changed_on": dt.date(2024, 5, 1),
                                             "description": "Bocouture\nfor glabella", "outcome": "ptosis",
                                             "product": "Bocouture", "clinician": "c01", "rebase": True},
                                        user="kari@klinikk.no", role="doctor", today=TODAY)
    assert result.rows_loaded == 1
    assert query(db, "SELECT changed_on, description, outcome, product, clinician, rebase, source_file "
                     "FROM process_changes") == [(dt.date(2024, 5, 1), "Bocouture for glabella", "ptosis",
                                                  "Bocouture", "C01", True, "process_changes-dashboard.csv")]
    entries = access.read_log(log)
    assert [(e["user"], e["event"], e["what"], e["filters"]) for e in entries] == [
        ("kari@klinikk.no", "edit", "process change: 2024-05-01 Bocouture for glabella", "rebase yes")]
    assert access.verify_log(log)[0]


def test_a_bad_process_change_is_refused_with_the_loaders_messages_and_nothing_is_stored(tmp_path, db):
    log = loaded_clinic(tmp_path, db)
    loads_before = query(db, "SELECT count(*) FROM load_log")
    with pytest.raises(reviews.ReviewError) as err:
        reviews.add_process_change(db, {"changed_on": "01/05/2024", "description": "", "outcome": "nonsense",
                                        "clinician": "ZZ9"}, user="kari@klinikk.no", role="doctor", today=TODAY)
    message = str(err.value)
    assert "uses slashes" in message and "description: is empty (required)" in message
    assert '"nonsense" is not one of' in message and 'unknown clinician code "ZZ9"' in message
    with pytest.raises(reviews.ReviewError, match="lies in the future"):
        reviews.add_process_change(db, {"changed_on": TODAY + dt.timedelta(days=1), "description": "x"},
                                   user="kari@klinikk.no", role="doctor", today=TODAY)
    assert query(db, "SELECT count(*) FROM load_log") == loads_before
    assert query(db, "SELECT count(*) FROM rejected_rows") == [(0,)]  # no reject left behind
    assert query(db, "SELECT count(*) FROM process_changes") == [(0,)]
    assert not log.exists() or access.read_log(log) == []


@pytest.mark.parametrize("role", ["manager", "auditor", ""])
def test_only_a_doctor_or_an_admin_adds_a_process_change(tmp_path, db, role):
    loaded_clinic(tmp_path, db)
    with pytest.raises(reviews.ReviewError, match="only doctor or admin"):
        reviews.add_process_change(db, {"changed_on": "2024-05-01", "description": "x"}, user="m@klinikk.no",
                                   role=role, today=TODAY)
    assert query(db, "SELECT count(*) FROM process_changes") == [(0,)]


def test_an_access_log_that_cannot_be_written_refuses_the_change(tmp_path, db, monkeypatch):
    log = loaded_clinic(tmp_path, db)
    access.append(log, access.Entry("a@b", "admin", "sign_in", "dashboard"))
    monkeypatch.setenv(access.KEY_FILE_ENV, str(tmp_path / "missing.key"))  # a keyed log whose key is gone
    with pytest.raises(access.AccessLogError):
        reviews.add_process_change(db, {"changed_on": "2024-05-01", "description": "x"}, user="kari@klinikk.no",
                                   role="doctor", today=TODAY)
    assert query(db, "SELECT count(*) FROM process_changes") == [(0,)]


# --------------------------------------------------------------------------------------------------------------
# drawn on the chart
# --------------------------------------------------------------------------------------------------------------


def test_the_chart_draws_each_change_at_its_date_and_never_as_markup():
    from dashboard import charts

    n = 6
    frame = pd.DataFrame({
        "period_start": [dt.date(2024, m + 1, 1) for m in range(n)], "numerator_n": [3] * n,
        "denominator_n": [60] * n, "rate": [0.05] * n, "cl": [0.05] * n, "lcl": [0.0] * n, "ucl": [0.134] * n,
        "lcl_95": [0.0] * n, "ucl_95": [0.106] * n, "sigma_signal": [False] * n, "runs_signal": [False] * n,
        "longest_run": [0] * n, "longest_run_max": [6] * n, "crossings": [0] * n, "crossings_min": [2] * n,
        "part": [1, 1, 1, 2, 2, 2], "signal": [False] * n, "signal_rules": [""] * n, "direction": [""] * n,
        "period_closed": [True] * n, "eligible_n": [60] * n, "followed_up_n": [60] * n, "awaiting_n": [0] * n,
        "followup_completeness": [1.0] * n, "is_low_completeness": [False] * n})
    found = pd.DataFrame([(dt.date(2024, 3, 15), "New leaflet <a href='https://evil.example'>click</a>", "", "", "",
                           True),
                          (dt.date(2024, 5, 2), "Training", "", "", "", False)], columns=changes.COLUMNS)
    fig = charts.spc_chart(frame, outcome_label="Bruising", lang="en", changes=found)
    lines = [s for s in fig.layout.shapes if s.type == "line" and s.yref == "paper"]
    assert [pd.Timestamp(s.x0).date() for s in lines] == [dt.date(2024, 3, 15), dt.date(2024, 5, 2)]
    assert [s.line.dash for s in lines] == ["dash", "dot"]  # the re-basing one dashed
    notes = [a for a in fig.layout.annotations if a.hovertext]
    assert len(notes) == 2
    assert "<a" not in notes[0].text and "&lt;a href=" in notes[0].hovertext
    assert "new chart part from here" in notes[0].hovertext and "15" in notes[0].hovertext
    assert notes[1].text == "▸ Training"
    # a viewer who sees no day (a manager) gets the change at its month, named by the month
    monthly = charts.spc_chart(frame, outcome_label="Bruising", lang="en", changes=found, changes_by_month=True)
    lines = [s for s in monthly.layout.shapes if s.type == "line" and s.yref == "paper"]
    assert [pd.Timestamp(s.x0).date() for s in lines] == [dt.date(2024, 3, 1), dt.date(2024, 5, 1)]
    hovers = [a.hovertext for a in monthly.layout.annotations if a.hovertext]
    assert hovers[1] == "May 2024: Training" and "15" not in hovers[0]
    # centre line per part: two centre-line traces
    assert sum(1 for tr in fig.data if tr.legendgroup == "cl") == 2
    assert math.isclose(len(charts.spc_chart(frame, outcome_label="B", lang="en").layout.shapes or ()), 0)
    assert np.isfinite(fig.layout.yaxis.range[1])


def test_the_changes_of_one_month_for_the_report(clinic):
    con = duckdb.connect(str(clinic), read_only=True)
    try:
        assert list(changes.in_month(con, "2024-11")["description"]) == ["Review call moved to day 14"]
        assert list(changes.in_month(con, dt.date(2024, 9, 30))["description"]) == ["New aftercare leaflet"]
        assert changes.in_month(con, "2024-10").empty
        dec = changes.in_month(con, "2024-12").to_dict("records")
        assert dec == [{"changed_on": dt.date(2024, 12, 1), "description": "Only C02's technique",
                        "outcome": "bruising", "product": "", "clinician": "C02", "rebase": True}]
    finally:
        con.close()


def test_a_database_published_before_the_new_tables_still_reads(tmp_path, db):
    """A snapshot from before issue 12 has no process_changes or targets table: its charts have no parts, its
    table counts say 0, and the kept snapshot is listed."""
    from pipelines.ingest import history, recovery

    load_files([write(tmp_path / "clinicians.csv", CLINICIANS_CSV)], db, today=TODAY, progress=False)
    from pipelines.ingest import store

    for path in [db, *store.list_snapshots(store.DbPaths(db))]:
        con = duckdb.connect(str(path))
        con.execute("DROP TABLE IF EXISTS process_changes").fetchall()
        con.execute("DROP TABLE IF EXISTS targets").fetchall()
        con.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = dict(zip(*history.table_counts(con)[["table_name", "rows_n"]].to_dict("list").values(),
                          strict=True))
        assert counts["process_changes"] == 0 and counts["targets"] == 0 and counts["clinicians"] == 2
        assert changes.process_changes(con).empty and changes.part_starts(con, "ptosis") == []
    finally:
        con.close()
    entries = recovery.list_versions(db)
    assert entries and "process_changes" not in entries[-1].rows and entries[-1].rows["clinicians"] == 2
