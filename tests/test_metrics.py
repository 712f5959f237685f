"""Every outcome's eligibility, window, closure and counting on a hand-made fixture (tests/fixtures/metrics).

The expected numbers below were worked out by hand from the fixture files; the comments say which sessions
count. As-of date 2024-06-30: S06 (2024-06-20) is the only session whose 28-day window is still open.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.metrics import counting
from pipelines.metrics.counting import Filters

AS_OF = dt.date(2024, 6, 30)


@pytest.fixture
def con(metrics_con):
    return metrics_con


def row(frame, **where):
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    r = sel.iloc[0]
    return (int(r.eligible_n), int(r.awaiting_n), int(r.followed_up_n), int(r.event_n), int(r.numerator_n),
            int(r.denominator_n))


def counted(frame, **where):
    """row() and crude_event_n."""
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    return row(frame, **where) + (int(sel.iloc[0].crude_event_n),)


# (eligible closed, awaiting, followed up, events, numerator, denominator, crude events)
# Followed up = a contact in the window on which the outcome was assessed (its column answered; effect not
# `not_assessed`); never the event. The fixture's follow_ups file has no columns bleeding, pain, itching, infection,
# allergic_reaction, double_vision: nothing assessed them, so no session is followed up for them ("not recorded").
EXPECTED = {
    # primary cosmetic S01 S02 S04 S05 S13 S14 S15 S16 (+S06 open); effect judged 10-28 d: all but S04 (only seen
    # at day 30) and S05 (never seen); events S02 (partial + corrected by S03) and S14 (none)
    "insufficient_effect": (8, 1, 6, 2, 2, 6, 2),
    # primary sessions of every indication (15, S06 open); only S02 was corrected (S03, 16 days later)
    "correction": (14, 1, 14, 1, 1, 14, 1),
    # face sessions incl. the correction S03; asymmetry answered 10-28 d: S01 S02 S13 S14 S15 S16; asymmetry at S16
    "asymmetry": (9, 1, 6, 1, 1, 6, 1),
    # upper face S01 S02 S03 S04 S13 S14 S15 S16 (+S06); eyelid and brow answered 0-28 d: all but S03 (no contact),
    # S04 (day 30 only); eyelid ptosis at S01
    "ptosis": (8, 1, 6, 1, 1, 6, 1),
    "eyelid_ptosis": (8, 1, 6, 1, 1, 6, 1),
    "brow_ptosis": (8, 1, 6, 0, 0, 6, 0),
    "dry_eye": (8, 1, 6, 0, 0, 6, 0),  # S04's dry eye was reported at day 30, outside the window: not even crude
    "double_vision": (8, 1, 0, 0, 0, 0, 0),  # no double_vision column: not recorded
    # every session (15 closed); bruising answered 0-28 d: S01 S02 S13 S14 S15 S16 (the day-21 HDSS contacts of S11
    # and S12 left bruising blank: not asked, not "no"); the day-5 call at S02
    "bruising": (15, 1, 6, 1, 1, 6, 1),
    "bleeding": (15, 1, 0, 0, 0, 0, 0),
    "pain": (15, 1, 0, 0, 0, 0, 0),
    "itching": (15, 1, 0, 0, 0, 0, 0),
    "infection": (15, 1, 0, 0, 0, 0, 0),
    "allergic_reaction": (15, 1, 0, 0, 0, 0, 0),
    # primary sessions with a satisfaction score 7-42 d: S01 (5) and S02 (2)
    "unsatisfactory_result": (14, 1, 2, 1, 1, 2, 1),
    # S07 (20 -> 8, responder), S08 (16 -> 10, not), S09 (lost: counted as non-response), S10 (12 -> 6, exactly
    # 50 %: responder); crude: the one observed non-response (S08)
    "headache_non_response": (4, 0, 3, 1, 2, 4, 1),
    # S11 (HDSS 4 -> 2, responder), S12 (3 -> 2, not)
    "hyperhidrosis_non_response": (2, 0, 2, 1, 1, 2, 1),
    # only S14: patient p13 had full effect from S13 (an earlier day); no effect at S14
    "secondary_non_response": (1, 0, 1, 1, 1, 1, 1),
    # all 16 sessions; all three risk questions answered at S15 and S16; S15 has a neuromuscular disease
    "treated_despite_risk": (16, 0, 2, 1, 1, 2, 1),
    # all 16 sessions; the fixture has no lot_expiry column: no session assessed, the rate not recorded (never 0 %)
    "expired_lot": (16, 0, 0, 0, 0, 0, 0),
}


def test_every_outcome_is_in_the_expectations():
    from pipelines.metrics.registry import OUTCOMES

    assert sorted(EXPECTED) == sorted(o.key for o in OUTCOMES)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_outcome_counts_by_hand(con, key):
    frame = counting.counts(con, key, as_of=AS_OF)
    assert counted(frame, metric=key) == EXPECTED[key]


def test_all_outcomes_in_one_call_agree_with_one_by_one(con):
    frame = counting.counts(con, as_of=AS_OF)
    assert {k: counted(frame, metric=k) for k in EXPECTED} == EXPECTED


def test_rates_crude_rate_and_completeness(con):
    frame = counting.rates(con, ["insufficient_effect", "headache_non_response"], as_of=AS_OF)
    ie = frame[frame.metric == "insufficient_effect"].iloc[0]
    assert ie.rate == pytest.approx(2 / 6) and ie.crude_rate == pytest.approx(2 / 8)
    assert ie.followup_completeness == pytest.approx(6 / 8)
    # Wilson 95 % for 2/6 by hand: (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2)), z = 1.959964
    z = 1.959963984540054
    lo = (4 + z * z - z * (z * z + 8 * (1 - 2 / 6)) ** 0.5) / (2 * (6 + z * z))
    hi = (4 + z * z + z * (z * z + 8 * (1 - 2 / 6)) ** 0.5) / (2 * (6 + z * z))
    assert (ie.ci_low, ie.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    headache = frame[frame.metric == "headache_non_response"].iloc[0]
    assert headache.rate == pytest.approx(2 / 4)  # lost to follow-up counted as non-response
    assert headache.crude_rate == pytest.approx(1 / 4)


def test_closed_window_moves_with_the_as_of_date(con):
    # on 2024-03-20 only sessions up to 2024-02-21 have a closed 28-day window
    early = counting.counts(con, "ptosis", as_of=dt.date(2024, 3, 20))
    # upper-face sessions on or before 03-20: S01 S02 S03 S04 S13 S14; closed: S13, S14 (and nothing else)
    assert row(early, metric="ptosis") == (2, 4, 2, 0, 0, 2)
    # on 2024-03-16: sessions so far S01 S02 S04 S05 S07-S14; closed (on or before 02-17): S07-S14; contacts
    # 0-28 d known by then that answered bruising: S13 S14 (S11's and S12's left it blank); S01 S02 S04 S05 are
    # awaiting
    mid = counting.counts(con, "bruising", as_of=dt.date(2024, 3, 16))
    assert row(mid, metric="bruising") == (8, 4, 2, 0, 0, 2)


def test_by_clinician(con):
    frame = counting.counts(con, "ptosis", by="clinician", as_of=AS_OF)
    # A01: S01 S02 S03 S13 S14, followed all but S03, event S01; B02: S04 S15 S16 closed, S06 open
    assert row(frame, clinician="A01") == (5, 0, 4, 1, 1, 4)
    assert row(frame, clinician="B02") == (3, 1, 2, 0, 0, 2)


def test_by_area_counts_a_session_once_per_area(con):
    frame = counting.counts(con, "ptosis", by="area", as_of=AS_OF)
    # forehead: only S02; glabella: S01 S02 S03 S13 S14 S15 S16 (+S06 open); crows_feet: S04
    assert row(frame, area="forehead") == (1, 0, 1, 0, 0, 1)
    assert row(frame, area="glabella") == (7, 1, 6, 1, 1, 6)
    assert row(frame, area="crows_feet") == (1, 0, 0, 0, 0, 0)


def test_by_month(con):
    frame = counting.counts(con, "correction", period="month", as_of=AS_OF)
    months = {r.period_start: (r.eligible_n, r.numerator_n) for r in frame.itertuples()}
    # March: S01 S02 S04 S05 primary, S02 corrected; June: S06 open (awaiting)
    assert months[dt.date(2024, 3, 1)] == (4, 1)
    assert months[dt.date(2024, 6, 1)] == (0, 0)


def test_filters_are_bound_parameters(con):
    f = Filters(clinicians=("B02",), date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 4, 30))
    frame = counting.counts(con, "bruising", filters=f, as_of=AS_OF)
    # B02 sessions in March-April: S04 S05 S15 S16; contacts 0-28 d at S15 and S16
    assert row(frame, metric="bruising") == (4, 0, 2, 0, 0, 2)
    hostile = Filters(clinicians=("B02'); DROP TABLE treatments; --",))
    assert row(counting.counts(con, "bruising", filters=hostile, as_of=AS_OF), metric="bruising") == (0,) * 6
    areas = counting.counts(con, "ptosis", filters=Filters(areas=("forehead",)), as_of=AS_OF)
    assert row(areas, metric="ptosis") == (1, 0, 1, 0, 0, 1)


def test_session_outcomes_lists_the_sessions_behind_a_rate(con):
    rows = counting.session_outcomes(con, "insufficient_effect", as_of=AS_OF)
    assert list(rows.treatment_id) == ["S13", "S14", "S01", "S02", "S15", "S16"]
    assert list(rows[rows.in_numerator].treatment_id) == ["S14", "S02"]
    assert set(rows.columns) >= {"patient_ref", "clinician", "treated_on", "is_event"}


def test_expected_by_clinician_indirect_standardisation(con):
    # strata (indication, areas, product, first/repeat) among followed-up sessions: glabella/Botox/first: A01 S01
    # S13, B02 S15 S16 (0 events); forehead|glabella/Botox/first: A01 S02 (1); glabella/Botox/repeat: A01 S14 (1).
    # Leave-one-out: each clinician at the OTHER clinician's rates. A01 at B02's (0 of 2 everywhere) expects 0;
    # B02 at A01's glabella/first rate (0 of 2) expects 0 unshrunk, and shrunk by 20 pseudo-sessions towards
    # A01's overall rate 2/4: 2 x (0 + 20 x 1/2) / (2 + 20) = 10/11
    plain = counting.expected_by_clinician(con, "insufficient_effect", shrink_sessions=0, as_of=AS_OF)
    got = {r.clinician: (r.numerator_n, r.expected_n, r.denominator_n) for r in plain.itertuples()}
    assert got == {"A01": (2, 0.0, 4), "B02": (0, 0.0, 2)}
    shrunk = counting.expected_by_clinician(con, "insufficient_effect", shrink_sessions=20, as_of=AS_OF)
    got = {r.clinician: (r.numerator_n, r.expected_n, r.denominator_n) for r in shrunk.itertuples()}
    assert got == {"A01": (2, 0.0, 4), "B02": (0, pytest.approx(10 / 11, rel=1e-12), 2)}


def test_default_as_of_is_the_newest_data_date(con):
    assert counting.default_as_of(con) == dt.date(2024, 6, 20)


def test_unknown_names_are_refused(con):
    with pytest.raises(ValueError, match="unknown outcome `nope`"):
        counting.counts(con, "nope")
    with pytest.raises(ValueError, match="unknown stratum `shoe_size`"):
        counting.counts(con, "ptosis", by="shoe_size")
    with pytest.raises(ValueError, match="unknown period `decade`"):
        counting.counts(con, "ptosis", period="decade")


def test_the_published_mart_is_used_and_agrees_with_the_live_definitions(con):
    assert counting.mart_usable(con, AS_OF)  # built by the loader, as of the data's date 2024-06-20
    assert not counting.mart_usable(con, dt.date(2024, 3, 16))  # an earlier as-of date is computed live
    for by, period in [((), None), (("clinician",), "month"), (("area",), None), (("indication", "product"), "quarter")]:
        from_mart = counting.counts(con, by=by, period=period, as_of=AS_OF)
        prefix = f"WITH per_session AS ({counting.per_session_sql(list(counting.registry.OUTCOMES))})"
        original = counting.per_session_source
        try:
            counting.per_session_source = lambda c, o, a: (f"WITH per_session AS ({counting.per_session_sql(o)})", "per_session")
            live = counting.counts(con, by=by, period=period, as_of=AS_OF)
        finally:
            counting.per_session_source = original
        assert prefix  # the live path is the mart's own definition
        assert from_mart.equals(live), (by, period)
