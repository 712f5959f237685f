"""Small-cell suppression for releases, worked by hand, including complementary suppression."""

from __future__ import annotations

import pandas as pd

from pipelines.disclosure import MARK, Rule, suppress


def frame(rows):
    return pd.DataFrame(rows, columns=["clinician", "numerator_n", "denominator_n", "rate"])


def test_primary_suppression_and_its_derived_cells():
    out = suppress(frame([("A", 3, 50, 0.06), ("B", 0, 40, 0.0), ("C", 12, 8, 1.5), ("D", 20, 100, 0.2)]),
                   numerator="numerator_n", denominator="denominator_n", derived=["rate"], groups=["clinician"])
    got = out.set_index("clinician")
    assert list(got.loc["A"]) == [MARK, 50, MARK, "numerator 1-4"]
    assert list(got.loc["C"]) == [MARK, MARK, MARK, "denominator < 10"]
    # C's denominator is the only hidden one: with the total known it could be recomputed, so the smallest visible
    # denominator (B, 40) goes too, and with it B's row (its rate would give the denominator back)
    assert list(got.loc["B"]) == [MARK, MARK, MARK, "complementary"]
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
    assert got.loc["A", "numerator_n"] == MARK and got.loc["A", "suppression"] == "numerator 1-4"
    assert got.loc["B", "numerator_n"] == MARK and got.loc["B", "suppression"] == "complementary"  # smallest left
    assert got.loc["C", "numerator_n"] == 12


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
        assert r.suppression in ("numerator 1-4", "complementary")


def test_thresholds_are_configurable():
    out = suppress(frame([("A", 3, 50, 0.06), ("B", 7, 40, 0.175), ("C", 12, 80, 0.15)]),
                   numerator="numerator_n", denominator="denominator_n", derived=["rate"], groups=["clinician"],
                   rule=Rule(min_numerator=3, min_denominator=45))
    got = out.set_index("clinician")
    assert got.loc["B", "denominator_n"] == MARK and got.loc["B", "suppression"] == "denominator < 45"
    # 3 is allowed now, but A has the smallest visible denominator and goes with B, so B cannot be recomputed
    assert got.loc["A", "denominator_n"] == MARK and got.loc["A", "suppression"] == "complementary"
    assert list(got.loc["C"]) == [12, 80, 0.15, ""]
