"""Small-cell suppression for releases, worked by hand, including complementary suppression and rounding to 5."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.release import disclosure
from pipelines.release.disclosure import MARK, Rule, suppress


def frame(rows):
    return pd.DataFrame(rows, columns=["clinician", "numerator_n", "denominator_n", "rate"])


def test_primary_suppression_and_its_derived_cells():
    out = suppress(frame([("A", 3, 50, 0.06), ("B", 0, 40, 0.0), ("C", 12, 8, 1.5), ("D", 20, 100, 0.2)]),
                   numerator="numerator_n", denominator="denominator_n", derived=["rate"], groups=["clinician"])
    got = out.set_index("clinician")
    assert list(got.loc["A"]) == [MARK, 50, MARK, MARK]
    assert list(got.loc["C"]) == [MARK, MARK, MARK, MARK]
    # C's denominator is the only hidden one: with the total known it could be recomputed, so the smallest visible
    # denominator (B, 40) goes too, and with it B's row (its rate would give the denominator back)
    assert list(got.loc["B"]) == [MARK, MARK, MARK, MARK]
    # shown counts are rounded (20 and 100 are multiples of 5 already); the rate is recomputed by the caller
    assert list(got.loc["D"]) == [20, 100, 0.2, ""]


def test_zero_is_not_disclosive():
    out = suppress(frame([("A", 0, 50, 0.0), ("B", 20, 40, 0.5)]), numerator="numerator_n",
                   denominator="denominator_n", derived=["rate"], groups=["clinician"])
    assert list(out.suppression) == ["", ""] and list(out.numerator_n) == [0, 20]


def test_complementary_suppression_when_one_cell_alone_is_hidden():
    # one dimension: the margin (clinic total) is known, so a single hidden numerator could be recomputed
    out = suppress(frame([("A", 3, 50, 0.06), ("B", 7, 40, 0.175), ("C", 12, 80, 0.15)]),
                   numerator="numerator_n", denominator="denominator_n", derived=["rate"], groups=["clinician"])
    got = out.set_index("clinician")
    assert got.loc["A", "numerator_n"] == MARK and got.loc["A", "suppression"] == MARK
    assert got.loc["B", "numerator_n"] == MARK and got.loc["B", "suppression"] == MARK  # smallest left
    assert got.loc["C", "numerator_n"] == 10  # 12 rounded to the nearest 5


def test_two_dimensions_protect_rows_and_columns():
    rows = [("A", "2024-01", 3, 50), ("B", "2024-01", 9, 60), ("C", "2024-01", 10, 70),
            ("A", "2024-02", 8, 50), ("B", "2024-02", 9, 60), ("C", "2024-02", 10, 70)]
    f = pd.DataFrame(rows, columns=["clinician", "period_start", "numerator_n", "denominator_n"])
    out = suppress(f, numerator="numerator_n", denominator="denominator_n", derived=[],
                   groups=["clinician", "period_start"])
    hidden = {(r.clinician, r.period_start) for r in out.itertuples() if r.numerator_n == MARK}
    # A/Jan is primary; January then has one hidden cell -> B/Jan (9, the smallest visible); clinician A then has
    # one hidden cell -> A/Feb (8); February then has one -> B/Feb (9, smaller than C's 10); B then has two. Done.
    assert hidden == {("A", "2024-01"), ("B", "2024-01"), ("A", "2024-02"), ("B", "2024-02")}
    for key in [("A", "2024-01"), ("B", "2024-01"), ("A", "2024-02"), ("B", "2024-02")]:
        r = out[(out.clinician == key[0]) & (out.period_start == key[1])].iloc[0]
        assert r.suppression == MARK


def test_thresholds_are_configurable():
    out = suppress(frame([("A", 3, 50, 0.06), ("B", 7, 40, 0.175), ("C", 12, 80, 0.15)]),
                   numerator="numerator_n", denominator="denominator_n", derived=["rate"], groups=["clinician"],
                   rule=Rule(min_numerator=3, min_denominator=45))
    got = out.set_index("clinician")
    assert got.loc["B", "denominator_n"] == MARK and got.loc["B", "suppression"] == MARK
    # 3 is allowed now, but A has the smallest visible denominator and goes with B, so B cannot be recomputed
    assert got.loc["A", "denominator_n"] == MARK and got.loc["A", "suppression"] == MARK
    assert list(got.loc["C"]) == [10, 80, 0.15, ""]


@pytest.mark.parametrize("count, shown", [(0, 0), (5, 5), (6, 5), (7, 5), (8, 10), (9, 10), (10, 10), (12, 10),
                                          (13, 15), (14, 15), (102, 100), (103, 105)])
def test_counts_are_rounded_to_the_nearest_five(count, shown):
    assert disclosure.round_count(count) == shown
    out = suppress(frame([("A", count, 1000, 0.0), ("B", 0, 1000, 0.0)]), numerator="numerator_n",
                   denominator="denominator_n", derived=[], groups=[], rule=Rule(min_numerator=1))
    assert out.numerator_n[0] == shown


def test_the_marker_does_not_say_which_threshold_was_hit():
    """Attack (c): a release for one clinician and one day told by its reason ("numerator 1-4; denominator < 10"
    against "denominator < 10") whether the one patient had the event. Both rows must read the same."""
    with_event = suppress(frame([("A", 1, 1, 1.0)]), numerator="numerator_n", denominator="denominator_n",
                          derived=["rate"], groups=["clinician"])
    without = suppress(frame([("A", 0, 1, 0.0)]), numerator="numerator_n", denominator="denominator_n",
                       derived=["rate"], groups=["clinician"])
    assert with_event.to_dict("records") == without.to_dict("records") == [
        {"clinician": "A", "numerator_n": MARK, "denominator_n": MARK, "rate": MARK, "suppression": MARK}]


def test_release_periods_are_whole_calendar_periods():
    assert disclosure.release_period(dt.date(2024, 2, 1), dt.date(2024, 2, 29)) == ("month", "2024-02")
    assert disclosure.release_period(dt.date(2024, 7, 1), dt.date(2024, 9, 30)) == ("quarter", "2024-Q3")
    assert disclosure.release_period(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == ("year", "2024")
    assert disclosure.period_bounds("2024-Q4") == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert disclosure.period_bounds("2023-02") == (dt.date(2023, 2, 1), dt.date(2023, 2, 28))
    for label in ("2024-Q5", "2024-13", "24", "2024-1", "abc"):
        with pytest.raises(ValueError, match="is not a release period"):
            disclosure.period_bounds(label)
    # data from 2023-11-15 to 2024-04-10: the whole periods that have ended by 2024-03-31
    assert disclosure.release_periods(dt.date(2023, 11, 15), dt.date(2024, 3, 31)) == [
        "2023", "2024-Q1", "2023-Q4", "2024-03", "2024-02", "2024-01", "2023-12", "2023-11"]


@pytest.mark.parametrize("as_of, data_as_of, expected", [
    (None, dt.date(2024, 6, 30), dt.date(2024, 6, 30)),
    (None, dt.date(2024, 7, 14), dt.date(2024, 6, 30)),  # the newest month end the data have reached
    (dt.date(2024, 9, 30), dt.date(2024, 7, 14), dt.date(2024, 9, 30)),
])
def test_release_as_of_is_a_month_end(as_of, data_as_of, expected):
    assert disclosure.release_as_of(as_of, data_as_of, dt.date(2024, 6, 30)) == expected


@pytest.mark.parametrize("as_of, data_as_of, message", [
    (dt.date(2024, 7, 14), dt.date(2024, 7, 14), "must be the last day of a month"),
    (dt.date(2024, 5, 31), dt.date(2024, 7, 14), "must be on or after the end of the release period"),
    (None, dt.date(2024, 6, 29), "the data reach 2024-06-29"),
])
def test_other_as_of_dates_are_refused(as_of, data_as_of, message):
    with pytest.raises(disclosure.NotForRelease, match=message):
        disclosure.release_as_of(as_of, data_as_of, dt.date(2024, 6, 30))
