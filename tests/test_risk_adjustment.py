"""Risk adjustment that a filter can't fool (issue 17): observed / expected and the risk-adjusted CUSUM compare a
clinician with the rest of the clinic, on small clinics built by hand and loaded through the real loader.

- the reference is the whole clinic in the date range: a clinician's O/E and CUSUM are the same filtered or not;
- leave-one-out: a clinician's expected risks come from the other clinicians only (two clinicians, two strata,
  expected counts worked out by hand below);
- a stratum a clinician has to themself is shrunk towards the others' rate (never E = O);
- an outlier is left out of its colleagues' reference (they stay at 1, it is flagged);
- the CUSUM updates per session in treatment order (ties on a day by treatment_id), from risks known on the
  treatment day: adding later sessions never changes the path drawn so far;
- its threshold's in-control run length, in sessions, is the one stated (analysis.CUSUM_ARL0);
- the demo's planted clinician (3.5 x eyelid ptosis) is flagged filtered or not, colleagues near 1.

The outcome used is bruising (every session eligible, a yes/no answer on a follow-up 0-7 days after, window closed
28 days after treatment); every session has one follow-up on day 3 with an explicit yes or no.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines import stats
from pipelines.demo import params as demo_params
from pipelines.demo.build import run_demo
from pipelines.metrics import analysis, counting, signals
from pipelines.metrics.counting import Filters

TODAY = dt.date(2025, 1, 31)
AS_OF = dt.date(2024, 12, 31)
KEY = "bruising"


def session(treatment_id: str, clinician: str, treated_on: dt.date | str, areas: str, bruised: bool) -> dict:
    return {"id": treatment_id, "clinician": clinician, "on": dt.date.fromisoformat(str(treated_on)),
            "areas": areas, "bruised": bruised}


def block(prefix: str, clinician: str, areas: str, n: int, events: int,
          start: dt.date = dt.date(2024, 1, 8)) -> list[dict]:
    """n sessions of one clinician in one stratum, the first `events` of them bruised, one a day from `start`."""
    return [session(f"{prefix}{i:03d}", clinician, start + dt.timedelta(days=i), areas, i < events)
            for i in range(n)]


def make_clinic(folder: Path, sessions: list[dict]) -> Path:
    """Load the sessions (cosmetic, Botox, each a new patient: every one a first treatment) and one follow-up each
    on day 3 through the real loader; returns the published database."""
    from pipelines.ingest.load import load_files

    folder.mkdir(parents=True, exist_ok=True)
    clinicians = sorted({s["clinician"] for s in sessions})
    treatments = ["treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,"
                  "corrects_treatment_id,price_nok,minutes"]
    follow_ups = ["follow_up_id,treatment_id,seen_on,effect,asymmetry,eyelid_ptosis,brow_ptosis,bruising,dry_eye,"
                  "headache_days,hdss,satisfaction"]
    for s in sessions:
        treatments.append(f"{s['id']},p{s['id']},{s['on']},{s['clinician']},cosmetic,{s['areas']},Botox,20,,1900,20")
        follow_ups.append(f"F{s['id']},{s['id']},{s['on'] + dt.timedelta(days=3)},full,no,no,no,"
                          f"{'yes' if s['bruised'] else 'no'},no,,,")
    files = {
        "clinicians.csv": "clinician,profession,cost_per_minute_nok\n" + "".join(f"{c},lege,30\n" for c in clinicians),
        "product_prices.csv": "product,valid_from,cost_per_unit_nok\nBotox,2023-01-01,30\n",
        "treatments.csv": "\n".join(treatments) + "\n",
        "follow_ups.csv": "\n".join(follow_ups) + "\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    db = folder / "db" / "clinic.duckdb"
    result = load_files([folder / name for name in files], db, today=TODAY)
    assert result.rows_rejected == 0, result.rejected_examples
    return db


def connect(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def generated_clinic(folder: Path, *, until: dt.date = dt.date(2024, 12, 31), seed: int = 17) -> Path:
    """A year of sessions for three clinicians (about 1-2 a day each, bruising about 10 %, two strata), drawn from
    one seed: cut at `until`, the sessions are the same ones up to that day."""
    rng = np.random.default_rng(seed)
    rows = []
    day = dt.date(2024, 1, 1)
    n = 0
    while day <= dt.date(2024, 12, 31):
        for clinician, rate in (("A01", 0.10), ("B02", 0.10), ("C03", 0.12)):
            for _ in range(int(rng.integers(1, 3))):
                n += 1
                areas = "glabella" if rng.random() < 0.6 else "crows_feet"
                bruised = bool(rng.random() < rate)
                if day <= until:
                    rows.append(session(f"T{n:05d}", clinician, day, areas, bruised))
        day += dt.timedelta(days=1)
    return make_clinic(folder, rows)


# --------------------------------------------------------------------------------------------------------------
# O/E: leave-one-out, by hand
# --------------------------------------------------------------------------------------------------------------

# A: glabella 10 sessions (4 bruised), crows' feet 5 (0); B: glabella 10 (3), crows' feet 20 (1)
TWO_BY_TWO = (block("AG", "A", "glabella", 10, 4) + block("AC", "A", "crows_feet", 5, 0)
              + block("BG", "B", "glabella", 10, 3) + block("BC", "B", "crows_feet", 20, 1))


@pytest.fixture(scope="module")
def two_by_two(tmp_path_factory) -> Path:
    return make_clinic(tmp_path_factory.mktemp("two_by_two"), TWO_BY_TWO)


def test_leave_one_out_two_clinicians_two_strata_by_hand(two_by_two):
    con = connect(two_by_two)
    # pure leave-one-out (no shrinking): A's sessions at B's stratum rates, B's at A's
    #   A: 10 x 3/10 + 5 x 1/20 = 3.25;  B: 10 x 4/10 + 20 x 0/5 = 4
    # (the old reference, both clinicians together, gave A 10 x 7/20 + 5 x 1/25 = 3.7 and B 4.3)
    plain = counting.expected_by_clinician(con, KEY, shrink_sessions=0, as_of=AS_OF).set_index("clinician")
    assert plain.loc["A", "expected_n"] == pytest.approx(3.25, rel=1e-12)
    assert plain.loc["B", "expected_n"] == pytest.approx(4.0, rel=1e-12)
    assert (plain.loc["A", "numerator_n"], plain.loc["B", "numerator_n"]) == (4, 4)
    assert (plain.loc["A", "denominator_n"], plain.loc["B", "denominator_n"]) == (15, 30)
    # shrunk by 20 pseudo-sessions towards the other clinician's overall rate (B: 4/30, A: 4/15):
    #   A: 10 (3 + 20 x 4/30) / (10 + 20) + 5 (1 + 20 x 4/30) / (20 + 20) = 17/9 + 11/24 = 169/72
    #   B: 10 (4 + 20 x 4/15) / (10 + 20) + 20 (0 + 20 x 4/15) / (5 + 20) = 28/9 + 64/15 = 332/45
    shrunk = counting.expected_by_clinician(con, KEY, shrink_sessions=20, as_of=AS_OF).set_index("clinician")
    assert shrunk.loc["A", "expected_n"] == pytest.approx(169 / 72, rel=1e-12)
    assert shrunk.loc["B", "expected_n"] == pytest.approx(332 / 45, rel=1e-12)
    # the dashboard's frame: the same counts (analysis.CASE_MIX_SHRINK_SESSIONS = 20), nobody left out
    frame, info = analysis.case_mix(con, KEY, as_of=AS_OF)
    frame = frame.set_index("clinician")
    assert analysis.CASE_MIX_SHRINK_SESSIONS == 20 and info["excluded"] == ()
    assert frame.loc["A", "oe_ratio"] == pytest.approx(4 / (169 / 72), rel=1e-12)
    assert frame.loc["B", "oe_ratio"] == pytest.approx(4 / (332 / 45), rel=1e-12)
    # per session: the risks that add up to the expected counts
    risks = counting.session_risks(con, KEY, shrink_sessions=20, as_of=AS_OF)
    a = risks[risks.clinician == "A"]
    assert sorted(set(a.expected.round(12))) == [round(11 / 120, 12), round(17 / 90, 12)]
    assert a.expected.sum() == pytest.approx(169 / 72, rel=1e-12)
    con.close()


# A alone treats the forehead: 5 sessions, 3 bruised; glabella A 10 (1), B 20 (2), C 20 (2)
# (A's sessions from March: B's and C's January windows have closed by then, so A's CUSUM has a reference)
MARCH = dt.date(2024, 3, 1)
ALONE = (block("AF", "A", "forehead", 5, 3, MARCH) + block("AG", "A", "glabella", 10, 1, MARCH)
         + block("BG", "B", "glabella", 20, 2) + block("CG", "C", "glabella", 20, 2))


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> Path:
    return make_clinic(tmp_path_factory.mktemp("alone"), ALONE)


def test_a_clinician_alone_in_a_stratum_is_not_explained_away(alone):
    con = connect(alone)
    frame, info = analysis.case_mix(con, KEY, as_of=AS_OF)
    a = frame.set_index("clinician").loc["A"]
    # the old reference made A's forehead stratum explain itself (3 of 5 -> 3 expected) and A's O/E 4 / 4 = 1.
    # Now: B and C have 40 sessions, 4 bruised (rate 1/10); forehead, none of theirs: (0 + 20/10) / (0 + 20) = 1/10;
    # glabella (4 + 20/10) / (40 + 20) = 1/10: A expects 15 / 10 = 1.5 and has 4
    assert (a.observed_n, a.denominator_n) == (4, 15)
    assert a.expected_n == pytest.approx(1.5, rel=1e-12)
    assert a.oe_ratio == pytest.approx(4 / 1.5, rel=1e-12)
    assert info["excluded"] == ()
    con.close()


@pytest.mark.parametrize("chosen", [Filters(clinicians=("A",)), Filters(clinicians=("A", "C")),
                                    Filters(clinicians=("A",), indications=("cosmetic",), products=("Botox",))])
def test_oe_and_cusum_are_the_same_filtered_or_not(alone, chosen):
    con = connect(alone)
    whole, info = analysis.case_mix(con, KEY, as_of=AS_OF)
    filtered, info_filtered = analysis.case_mix(con, KEY, filters=chosen, as_of=AS_OF)
    # the old code took the reference from the filtered sessions: A alone gave O/E 4 / 4 = 1.0
    assert list(filtered.clinician) == list(chosen.clinicians)
    pd.testing.assert_frame_equal(filtered.reset_index(drop=True),
                                  whole[whole.clinician.isin(chosen.clinicians)].reset_index(drop=True))
    assert filtered.set_index("clinician").loc["A", "oe_ratio"] == pytest.approx(4 / 1.5, rel=1e-12)
    assert info_filtered == info
    # the CUSUM of a clinician is the same chart whoever else is filtered in
    chart = analysis.cusum(con, KEY, as_of=AS_OF, min_reference_events=2)
    chart_filtered = analysis.cusum(con, KEY, filters=chosen, as_of=AS_OF, min_reference_events=2)
    assert not chart[chart.clinician == "A"].empty
    pd.testing.assert_frame_equal(chart_filtered.reset_index(drop=True),
                                  chart[chart.clinician.isin(chosen.clinicians)].reset_index(drop=True))
    con.close()


def test_an_area_filter_chooses_the_sessions_reported_not_the_reference(alone):
    con = connect(alone)
    frame, _ = analysis.case_mix(con, KEY, filters=Filters(areas=("glabella",)), as_of=AS_OF)
    a = frame.set_index("clinician").loc["A"]
    # A's glabella sessions only (10, 1 bruised), each at B and C's glabella rate (4 + 20/10) / (40 + 20) = 1/10;
    # the reference still holds A's forehead sessions for B and C (B: others A + C, 35 sessions, 6 bruised)
    assert (a.observed_n, a.denominator_n, a.expected_n) == (1, 10, pytest.approx(1.0, rel=1e-12))
    b = frame.set_index("clinician").loc["B"]
    # B's glabella: others' glabella A 10 (1) + C 20 (2) = 3 of 30, overall 6 of 35: 20 (3 + 20 x 6/35) / 50
    assert b.expected_n == pytest.approx(20 * (3 + 20 * 6 / 35) / 50, rel=1e-12)
    con.close()


# A at ten times the others' rate: 40 glabella sessions each for A..E; A 20 bruised, the others 2 each
OUTLIER = (block("AG", "A", "glabella", 40, 20) + block("BG", "B", "glabella", 40, 2)
           + block("CG", "C", "glabella", 40, 2) + block("DG", "D", "glabella", 40, 2)
           + block("EG", "E", "glabella", 40, 2))


def test_an_outlier_is_left_out_of_its_colleagues_reference(tmp_path):
    con = connect(make_clinic(tmp_path, OUTLIER))
    # first pass, leave-one-out only: A expects 40 x 8/160 = 2 (O/E 10); B expects 40 x 26/160 = 6.5 (O/E 0.31):
    # A lies above the exact Poisson 99.8 % limit for E = 2, B inside the one for E = 6.5
    assert analysis.reference_outliers(con, KEY, as_of=AS_OF) == ("A",)
    frame, info = analysis.case_mix(con, KEY, filters=Filters(clinicians=("A", "B")), as_of=AS_OF)
    frame = frame.set_index("clinician")
    # with A out of every reference: B expects 40 x 6/120 = 2 and has 2 (the old reference, A included, gave B
    # 40 x 28/200 = 5.6 and O/E 0.36); A expects 40 x 8/160 = 2 and has 20, flagged high
    assert info["excluded"] == ("A",)
    assert frame.loc["B", "expected_n"] == pytest.approx(2.0, rel=1e-12) and frame.loc["B", "oe_ratio"] == 1.0
    assert frame.loc["A", "expected_n"] == pytest.approx(2.0, rel=1e-12)
    assert frame.loc["A", "oe_ratio"] == pytest.approx(10.0) and frame.loc["A", "flag"] == "high"
    assert frame.loc["B", "flag"] == ""
    con.close()


def test_with_only_outliers_left_a_clinician_falls_back_to_everyone_else(two_by_two):
    con = connect(two_by_two)
    # both clinicians excluded by hand: neither has a reference left, so each keeps the other (leave-one-out)
    both = counting.expected_by_clinician(con, KEY, shrink_sessions=0, as_of=AS_OF, exclude=("A", "B"))
    assert list(both.expected_n) == pytest.approx([3.25, 4.0], rel=1e-12)
    con.close()


# --------------------------------------------------------------------------------------------------------------
# CUSUM: per session, from risks known on the day
# --------------------------------------------------------------------------------------------------------------

# B: 10 glabella sessions on 2 January 2024, 2 bruised (windows closed 30 January). A: on 1 February A2 (bruised)
# and A1 (not), on 2 February A3 (bruised); listed out of order in the file
TIES = ([session(f"B{i:02d}", "B", "2024-01-02", "glabella", i < 2) for i in range(10)]
        + [session("A2", "A", "2024-02-01", "glabella", True), session("A3", "A", "2024-02-02", "glabella", True),
           session("A1", "A", "2024-02-01", "glabella", False)])


def test_cusum_updates_per_session_in_treatment_order_by_hand(tmp_path):
    con = connect(make_clinic(tmp_path, TIES))
    chart = analysis.cusum(con, KEY, as_of=AS_OF, min_reference_events=2)
    # B's sessions have no reference on their day (nothing of A's had closed): not charted. A's reference on 1 and
    # 2 February: B's 10 sessions, 2 bruised (rate 0.2); their stratum too: p = (2 + 20 x 0.2) / (10 + 20) = 0.2.
    # Order A1, A2 (same day, by treatment_id), A3. W = y ln 2 - ln(1 + 0.2).
    w0, w1 = -math.log(1.2), math.log(2) - math.log(1.2)
    assert list(chart.clinician) == ["A"] * 3
    assert list(chart.outcome) == [0, 1, 1]
    assert list(chart.expected) == pytest.approx([0.2] * 3, rel=1e-12)
    assert list(chart.weight) == pytest.approx([w0, w1, w1], rel=1e-12)
    assert list(chart.cusum) == pytest.approx([0.0, w1, 2 * w1], rel=1e-12)  # a daily update: w0 + w1, then 2 w1 more
    assert list(chart.sessions_n) == [1, 1, 1]
    assert list(chart.threshold) == pytest.approx([analysis.threshold_for(0.2)] * 3)
    assert not chart.signal.any()
    # the chart's point is a day: the highest value its sessions reached
    daily = signals.cusum_daily(chart)
    assert list(daily.sessions_n) == [2, 1] and list(daily.events_n) == [1, 1]
    assert list(daily.cusum) == pytest.approx([w1, 2 * w1]) and list(daily.cusum_end) == pytest.approx([w1, 2 * w1])
    con.close()


def test_a_cusum_needs_a_reference_before_it_starts(tmp_path):
    con = connect(make_clinic(tmp_path, TIES))
    # B's 2 events are fewer than the default minimum of 20: no session has a usable expectation yet
    assert analysis.CUSUM_MIN_REFERENCE_EVENTS == 20
    frame, reason = signals.cusum(con, KEY, as_of=AS_OF)
    assert frame.empty and reason == "no_events"
    con.close()


def test_later_sessions_never_change_the_path_drawn_so_far(tmp_path):
    cut = dt.date(2024, 8, 31)
    early = connect(generated_clinic(tmp_path / "early", until=cut))
    later = connect(generated_clinic(tmp_path / "later"))
    before = analysis.cusum(early, KEY)  # as of the early data's own newest date
    after = analysis.cusum(later, KEY)
    assert len(before) > 300 and len(after) > len(before) + 300
    assert before.signal.any() or before.cusum.max() > 0
    for clinician, rows in before.groupby("clinician"):
        same = after[after.clinician == clinician].head(len(rows))
        # expected risks, weights, the path, thresholds and signals of every session charted before are unchanged
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), same.reset_index(drop=True))
    early.close()
    later.close()


def test_running_counts_dense_and_sorted_agree(tmp_path, monkeypatch):
    con = connect(generated_clinic(tmp_path))
    dense = counting.cusum_risks(con, KEY, shrink_sessions=20, min_reference_events=20)
    monkeypatch.setattr(counting, "DENSE_CELLS", 0)  # every group table too big: sorted keys and binary search
    pd.testing.assert_frame_equal(counting.cusum_risks(con, KEY, shrink_sessions=20, min_reference_events=20), dense)
    # and both equal counting by brute force for a few sessions: the other clinicians' sessions closed by the day
    prefix, params = counting._reference_sql(con, counting.registry.get(KEY), Filters(), counting.default_as_of(con))
    ref = con.execute(f"{prefix} SELECT * FROM ref", params).df()
    for i in (0, len(dense) // 2, len(dense) - 1):
        row = dense.iloc[i]
        others = ref[(ref.clinician != row.clinician) & (pd.to_datetime(ref.closes_on).dt.date <= row.treated_on)]
        assert (row.others_n, row.others_e) == (len(others), others.y.sum())
    con.close()


def test_the_per_session_threshold_holds_the_stated_in_control_run_length():
    # one clinician, 2,000,000 in-control sessions at risk 0.05 (what the chart expects): sessions per signal
    rng = np.random.default_rng(2024)
    n = 2_000_000
    risks = pd.DataFrame({"clinician": "A", "treated_on": dt.date(2024, 1, 1), "expected": 0.05,
                          "y": (rng.random(n) < 0.05).astype(int)})
    chart = analysis.cusum_from_risks(risks)
    signals_n = int(chart.signal.sum())
    arl = n / signals_n
    # about 400 signals: the mean run length is known to about 5 %; the stated one is analysis.CUSUM_ARL0 sessions
    assert analysis.CUSUM_ARL0 * 0.85 < arl < analysis.CUSUM_ARL0 * 1.15, (arl, signals_n)
    assert chart.threshold.iloc[-1] == pytest.approx(stats.cusum_threshold(0.05, 2.0, analysis.CUSUM_ARL0), rel=2e-3)


def test_thresholds_follow_the_mean_risk_so_far():
    # the threshold at a session depends on the risks up to it, never on later ones
    risks = pd.DataFrame({"clinician": "A", "treated_on": dt.date(2024, 1, 1), "y": 0,
                          "expected": [0.02] * 50 + [0.2] * 50})
    chart = analysis.cusum_from_risks(risks)
    head = analysis.cusum_from_risks(risks.head(50))
    pd.testing.assert_frame_equal(chart.head(50), head)
    assert chart.threshold.iloc[0] == pytest.approx(analysis.threshold_for(0.02))
    assert chart.threshold.iloc[-1] == pytest.approx(analysis.threshold_for(0.11))


# --------------------------------------------------------------------------------------------------------------
# the demo: the planted clinician
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("risk_demo") / "clinic.duckdb"
    run_demo(db, n_treatments=20_000, end_date=dt.date(2026, 6, 30), progress=False)
    con = connect(db)
    yield con
    con.close()


@pytest.mark.parametrize("key", ["eyelid_ptosis", "ptosis"])
def test_the_planted_clinician_is_flagged_filtered_or_not_and_colleagues_stay_near_one(demo, key):
    planted = demo_params.PTOSIS_CLINICIAN
    whole, info = analysis.case_mix(demo, key)
    alone, _ = analysis.case_mix(demo, key, filters=Filters(clinicians=(planted,)))
    row = whole.set_index("clinician").loc[planted]
    assert planted in info["excluded"]
    assert row.oe_ratio > 2 and row.flag == "high"  # planted at 3.5 x (brow ptosis at half of it)
    pd.testing.assert_frame_equal(alone, whole[whole.clinician == planted].reset_index(drop=True))
    # the busiest colleague, at the clinic's own risk: near 1 (it read 0.65-0.74 with the outlier in its reference)
    c01 = whole.set_index("clinician").loc["C01"]
    assert 0.8 < c01.oe_ratio < 1.2 and c01.oe_low < 1 < c01.oe_high and c01.flag == ""
    # the CUSUM signals for the planted clinician, the same chart filtered or not
    chart = analysis.cusum(demo, key)
    mine = analysis.cusum(demo, key, filters=Filters(clinicians=(planted,)))
    assert mine.signal.sum() >= 5
    pd.testing.assert_frame_equal(mine, chart[chart.clinician == planted].reset_index(drop=True))
