"""`python -m pipelines demo`: the generated exports go through the real loader, and the metrics find the
patterns the generator planted (C04's ptosis, the product-switch months, the incomplete newest weeks)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.demo.build import run_demo
from pipelines.demo.generate import expected_bad_rows
from pipelines.metrics import analysis, counting

END = dt.date(2026, 6, 30)
N = 20_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "clinic.duckdb"
    result = run_demo(db, n_treatments=N, seed=7, end_date=END)
    con = duckdb.connect(str(db), read_only=True)
    yield result, con
    con.close()


def test_demo_loads_through_the_loader_and_only_the_planted_bad_rows_are_rejected(demo):
    result, con = demo
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert result.rows_rejected == sum(expected_bad_rows(N, seed=7, end_date=END).values())
    assert con.execute("SELECT count(*) FROM treatments").fetchall()[0][0] == N - 3 * expected_bad_rows(N)[
        "invalid_date"]
    formats = {r[0] for r in con.execute("SELECT DISTINCT encoding || ' ' || delimiter FROM load_log").fetchall()}
    assert {"cp1252 ;", "utf-8 ,"} <= formats  # Norwegian Excel exports and plain CSV


def test_the_raised_ptosis_clinician_is_flagged_on_the_funnel(demo):
    _, con = demo
    frame, _ = analysis.funnel(con, "eyelid_ptosis")
    flagged = dict(zip(frame.clinician, frame.flag))
    assert flagged["C04"] == "high"
    assert [c for c, f in flagged.items() if f == "high"] == ["C04"]


def test_the_product_switch_months_signal_on_the_control_chart(demo):
    _, con = demo
    chart = analysis.spc(con, "insufficient_effect", rules="mdc")
    signalled = chart[chart.signal & (chart.direction == "high")].period_start
    # the switch started about 14 months before the end date and lasted about 4 months
    assert any(dt.date(2025, 3, 1) <= d <= dt.date(2025, 9, 1) for d in signalled)


def test_follow_up_is_less_complete_in_the_newest_weeks(demo):
    _, con = demo
    weekly = counting.rates(con, "bruising", period="week")
    weekly = weekly[weekly.eligible_n > 0]
    newest = weekly.tail(3).followup_completeness.mean()
    older = weekly.iloc[-30:-10].followup_completeness.mean()
    assert newest < older - 0.1
