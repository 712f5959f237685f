"""Targets (issue 12, item 5): the clinic's target per outcome (the `targets` reference table), drawn on the control
chart and read against the process limits: the NHS "Making Data Count" assurance (consistently meets / consistently
fails / hit and miss, as NHSRplotthedots' ptd_calculate_assurance_type), in `export spc` beside the variation."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import write

from pipelines import stats
from pipelines.ingest.load import load_files
from pipelines.metrics import targets

TODAY = dt.date(2025, 1, 31)


def chart(lcl, ucl, part=None) -> pd.DataFrame:
    frame = pd.DataFrame({"lcl": lcl, "ucl": ucl})
    if part is not None:
        frame["part"] = part
    return frame


# --------------------------------------------------------------------------------------------------------------
# the reading, on hand-built limits
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "worse_high", "better_high"), [
    (0.10, "consistently_meets", "consistently_fails"),  # above the upper limit 0.08
    (0.01, "consistently_fails", "consistently_meets"),  # below the lower limit 0.02
    (0.05, "hit_and_miss", "hit_and_miss"),  # between the limits
    (0.08, "hit_and_miss", "hit_and_miss"),  # on the upper limit: not strictly beyond it
    (0.02, "hit_and_miss", "hit_and_miss"),  # on the lower limit
])
def test_assurance_from_the_target_against_the_limits(target, worse_high, better_high):
    frame = chart([0.02] * 4, [0.08] * 4)
    assert stats.assurance_reading(frame, target, higher_is_worse=True) == worse_high
    assert stats.assurance_reading(frame, target, higher_is_worse=False) == better_high


def test_assurance_reads_the_latest_part_and_its_latest_limits():
    # part 1 ran between 10 % and 30 %, part 2 (after a re-basing change) runs between 1 % and 4 %; a target of 5 %
    # is failed every time by the process of part 1 but met every time by the current process
    frame = chart([0.10, 0.10, 0.01, 0.01], [0.30, 0.30, 0.04, 0.04], part=[1, 1, 2, 2])
    assert stats.assurance_reading(frame, 0.05) == "consistently_meets"
    assert stats.assurance_reading(frame.iloc[:2], 0.05) == "consistently_fails"  # before the change
    assert stats.assurance_reading(frame.iloc[:2], 0.20) == "hit_and_miss"
    assert stats.assurance_reading(frame.drop(columns="part"), 0.05) == "consistently_meets"  # latest point
    # a p-chart's limits vary with n: the latest period with limits counts (the last row has none)
    varying = chart([0.0, 0.03, np.nan], [0.12, 0.06, np.nan])
    assert stats.assurance_reading(varying, 0.07) == "consistently_meets"  # above 0.06, under the old 0.12


def test_no_target_or_no_limits_gives_no_reading():
    frame = chart([0.02] * 3, [0.08] * 3)
    assert stats.assurance_reading(frame, None) == ""
    assert stats.assurance_reading(frame, float("nan")) == ""
    assert stats.assurance_reading(chart([np.nan], [np.nan]), 0.05) == ""
    assert set(stats.ASSURANCE_READINGS) == {"consistently_meets", "consistently_fails", "hit_and_miss"}


def spc_frame(rates, closed=None) -> pd.DataFrame:
    n = len(rates)
    return pd.DataFrame({"period_start": [dt.date(2024, m + 1, 1) for m in range(n)], "rate": rates,
                         "lcl": [0.02] * n, "ucl": [0.08] * n, "cl": [0.05] * n, "part": [1] * n,
                         "period_closed": closed if closed is not None else [True] * n})


def test_the_outcome_reading_needs_six_closed_periods_and_knows_the_better_side():
    # insufficient_effect is adverse (higher is worse); headache_non_response too: the registry decides
    assert targets.assurance(spc_frame([0.05] * 6), "insufficient_effect", 0.10) == "consistently_meets"
    assert targets.assurance(spc_frame([0.05] * 5), "insufficient_effect", 0.10) == ""  # too few periods
    assert targets.assurance(spc_frame([0.05] * 7, closed=[True] * 5 + [False] * 2), "insufficient_effect",
                             0.10) == ""  # two periods not closed: five judged, too few
    assert targets.assurance(spc_frame([0.05] * 6), "insufficient_effect", None) == ""


# --------------------------------------------------------------------------------------------------------------
# the reference table
# --------------------------------------------------------------------------------------------------------------


def test_targets_load_like_a_reference_table_with_fix_it_errors(tmp_path, db):
    # a Norwegian Excel file: semicolons and a decimal comma
    f = write(tmp_path / "targets.csv", "outcome;target_pct\nptosis;2\nbruising;5,5\nnonsense;3\ncorrection;150\n"
                                        "correction;8\n")
    result = load_files([f], db, today=TODAY, progress=False)
    assert result.rows_read == 5 and result.rows_loaded == 3 and result.rows_rejected == 2
    reasons = "\n".join(result.rejected_examples)
    assert '"nonsense" is not one of: insufficient_effect' in reasons
    assert '"150" is above the maximum 100' in reasons
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert targets.targets(con) == pytest.approx({"bruising": 0.055, "correction": 0.08, "ptosis": 0.02})
        assert targets.target_for(con, "ptosis") == pytest.approx(0.02)
        assert targets.target_for(con, "pain") is None
    finally:
        con.close()


def test_a_database_without_the_table_has_no_targets(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    try:
        con.execute("CREATE TABLE treatments (treatment_id VARCHAR)").fetchall()
        assert targets.targets(con) == {}
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------------------
# on the chart and in `export spc`
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory) -> Path:
    from pipelines.demo.in_control import write_in_control

    folder = tmp_path_factory.mktemp("targets")
    end = dt.date(2025, 6, 30)
    files = write_in_control(folder / "files", seed=3, sessions_n=6000, months=18, end=end)
    files.append(write(folder / "files" / "targets.csv",
                       "outcome,target_pct\nbruising,50\ninsufficient_effect,0.5\nptosis,2.5\n"))
    db = folder / "db" / "clinic.duckdb"
    result = load_files(files, db, today=end + dt.timedelta(days=1), progress=False)
    assert [(s.rows_read, s.rows_rejected) for s in result.sources if s.table == "targets"] == [(3, 0)]
    return db


def test_export_spc_carries_the_target_variation_and_assurance(clinic_db, tmp_path):
    from pipelines.__main__ import main

    rows = {}
    for outcome in ("bruising", "insufficient_effect", "ptosis", "pain"):
        out = tmp_path / f"{outcome}.csv"
        assert main(["export", "spc", "--outcome", outcome, "-o", str(out), "--db", str(clinic_db),
                     "--as-of", "2025-06-30"]) == 0
        frame = pd.read_csv(out, comment="#", keep_default_na=False)
        assert list(frame.columns[-4:]) == ["process_change", "target", "variation", "assurance"]
        assert frame["target"].nunique() <= 1 and frame["assurance"].nunique() == 1
        rows[outcome] = frame
    # bruising at 50 %: far above any limit of a clinic's bruising rate, met every month
    assert float(rows["bruising"]["target"][0]) == pytest.approx(0.5)
    assert rows["bruising"]["assurance"][0] == "consistently_meets"
    # insufficient effect at 0.5 %: below the lower limit of a ~8 % rate, failed every month
    assert rows["insufficient_effect"]["assurance"][0] == "consistently_fails"
    # ptosis at 2.5 %: the reading follows from the latest closed period's limits in the file itself
    p = rows["ptosis"]
    closed = p[p["period_closed"].astype(str) == "True"]
    last = closed.iloc[-1]
    lcl, ucl = float(last["lcl"]), float(last["ucl"])
    expected = ("consistently_meets" if 0.025 > ucl else "consistently_fails" if 0.025 < lcl else "hit_and_miss")
    assert p["assurance"][0] == expected
    assert set(p["variation"]) <= {"common_cause", "special_cause_concerning", "special_cause_improving"}
    # no target: empty target and no assurance
    assert rows["pain"]["target"][0] == "" and rows["pain"]["assurance"][0] == ""


def test_the_chart_draws_the_target_line_with_its_reading():
    from dashboard import charts

    n = 8
    frame = pd.DataFrame({
        "period_start": [dt.date(2024, m + 1, 1) for m in range(n)], "numerator_n": [3] * n,
        "denominator_n": [60] * n, "rate": [0.05] * n, "cl": [0.05] * n, "lcl": [0.0] * n, "ucl": [0.134] * n,
        "lcl_95": [0.0] * n, "ucl_95": [0.106] * n, "sigma_signal": [False] * n, "runs_signal": [False] * n,
        "longest_run": [0] * n, "longest_run_max": [6] * n, "crossings": [0] * n, "crossings_min": [2] * n,
        "part": [1] * n, "signal": [False] * n, "signal_rules": [""] * n, "direction": [""] * n,
        "period_closed": [True] * n, "eligible_n": [60] * n, "followed_up_n": [60] * n, "awaiting_n": [0] * n,
        "followup_completeness": [1.0] * n, "is_low_completeness": [False] * n})
    fig = charts.spc_chart(frame, outcome_label="Ptosis", lang="en", target=0.2, assurance="consistently_meets")
    line = [tr for tr in fig.data if tr.name and tr.name.startswith("Target")]
    assert len(line) == 1 and list(line[0].y) == [20.0, 20.0]
    assert line[0].name == "Target 20.0\u00a0% · Consistently meets the target"
    assert fig.layout.yaxis.range[1] >= 20.0  # the target is inside the drawn range
    plain = charts.spc_chart(frame, outcome_label="Ptosis", lang="en")
    assert not [tr for tr in plain.data if tr.name and tr.name.startswith("Target")]
    assert math.isclose(plain.layout.yaxis.range[1], 100 * 0.134 * 1.12)
