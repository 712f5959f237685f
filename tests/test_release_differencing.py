"""Differencing attacks on releases (security issue 10, part 5b): whatever allowed releases an outsider collects,
no sum or difference of the counts they show can come out at 1-4, the counts that suppression hides.

Many allowed releases are made of one generated clinic (tests/release_data.py): every whole month, quarter and year
of 2024, for every clinician subset and area filter below, of several export kinds. Then every difference an
outsider can form from them is checked: a total minus any selection of its shown parts (a year minus its quarters or
months, a quarter minus its months, all clinicians minus some of them, no area filter minus the forehead sessions, a
clinic-wide row minus the clinicians' rows), and the same cell read from two files. A derived count of 1-4 is a
hidden small cell given back. On the old code (ranges of any length, exact counts) such differences exist. (The
funnel and the control chart release the same counts through the same suppression and rounding:
tests/test_release.py.)"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import itertools
from collections import defaultdict

import duckdb
import numpy as np
import pandas as pd
import pytest
from release_data import make_release_db

from pipelines.metrics.counting import Filters
from pipelines.release import disclosure

YEAR = 2024
AS_OF = dt.date(2024, 12, 31)  # a release is counted as of a month end after its period (the newest in the data)
COUNT_COLUMNS = ("numerator_n", "denominator_n", "correction_n", "primary_n")
# export kind, outcome, options, the column naming a row (None: one row for the whole release)
KINDS = [
    ("rates", "bruising", {"period": "month"}, "period_start"),
    ("rates", "bruising", {"period": "all", "by": "clinician"}, "clinician"),
    ("rates", "bruising", {"period": "all"}, None),
    ("costs", None, {"by": "clinician"}, "clinician"),
]
# (clinicians, areas) filters: every clinician alone and a pair, and the sessions treating the forehead
FILTER_SETS = [((), ()), (("A01",), ()), (("B02",), ()), (("C03",), ()), (("A01", "B02"), ()), ((), ("forehead",))]


def periods() -> dict[str, tuple[dt.date, dt.date]]:
    """The whole calendar year, its quarters and its months: label -> (first day, last day)."""
    def last(month: int) -> dt.date:
        return dt.date(YEAR, month, calendar.monthrange(YEAR, month)[1])

    out = {str(YEAR): (dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))}
    out.update({f"{YEAR}-Q{q}": (dt.date(YEAR, 3 * q - 2, 1), last(3 * q)) for q in range(1, 5)})
    out.update({f"{YEAR}-{m:02d}": (dt.date(YEAR, m, 1), last(m)) for m in range(1, 13)})
    return out


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """(kind index, period label, clinicians, areas) -> the released frame, for every allowed combination."""
    from dashboard import data

    db = make_release_db(tmp_path_factory.mktemp("differencing"))
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    try:
        for (ki, (kind, outcome, options, _)), (label, (start, end)), (clinicians, areas) in itertools.product(
                enumerate(KINDS), periods().items(), FILTER_SETS):
            f = Filters(date_from=start, date_to=end, clinicians=clinicians, areas=areas)
            body, _ = data.export_csv(con, kind, outcome, filters=f, as_of=AS_OF, release=disclosure.Rule(),
                                      **options)
            out[(ki, label, clinicians, areas)] = pd.read_csv(io.StringIO(body.decode("utf-8")), comment="#",
                                                              dtype=str, keep_default_na=False)
    finally:
        con.close()
    return out


def cells(frame: pd.DataFrame, row_column: str | None) -> dict[tuple[str, str], int]:
    """(row, count column) -> the count shown (hidden cells left out: an outsider cannot use them)."""
    found = {}
    for _, r in frame.iterrows():
        row = r[row_column] if row_column else ""
        for c in COUNT_COLUMNS:
            if c in frame.columns and r[c] not in (disclosure.MARK, ""):
                found[(row, c)] = int(float(r[c]))
    return found


def subset_differences(total: int, parts: list[int]) -> np.ndarray:
    """total minus every selection of the parts (the empty selection included)."""
    sums = np.array([0])
    for p in parts:
        sums = np.concatenate([sums, sums + p])
    return total - sums


def small(values) -> list[int]:
    return sorted({int(v) for v in np.atleast_1d(values) if 1 <= abs(int(v)) <= 4})


def test_no_pair_of_allowed_releases_differences_to_a_small_count(releases):
    found: dict[str, list] = defaultdict(list)
    shown = {key: cells(frame, KINDS[key[0]][3]) for key, frame in releases.items()}
    labels = periods()
    quarters = {f"{YEAR}-Q{q}": [f"{YEAR}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)] for q in range(1, 5)}
    nestings = {str(YEAR): [list(quarters), [f"{YEAR}-{m:02d}" for m in range(1, 13)]],
                **{q: [months] for q, months in quarters.items()}}
    compared = 0

    def check(what: str, total: int, parts: list[int]) -> None:
        nonlocal compared
        compared += 1
        bad = small(subset_differences(total, parts))
        if bad:
            found[what].append(bad)

    for (ki, label, clinicians, areas), cell in shown.items():
        # a longer period minus any of the shorter ones inside it (same kind, filters, row and count)
        for part_labels in nestings.get(label, []):
            for key, total in cell.items():
                parts = [shown[(ki, p, clinicians, areas)].get(key) for p in part_labels]
                check(f"period {label} - {part_labels}", total, [p for p in parts if p is not None])
        # all clinicians minus any of the clinician subsets, and a pair minus one of its members
        if clinicians == () and areas == ():
            for key, total in cell.items():
                parts = [shown[(ki, label, (c,), areas)].get(key) for c in ("A01", "B02", "C03")]
                check(f"all - clinicians {label}", total, [p for p in parts if p is not None])
                if (ki, label, ("A01", "B02"), areas) in shown:
                    parts = [shown[(ki, label, ("A01", "B02"), areas)].get(key),
                             shown[(ki, label, ("C03",), areas)].get(key)]
                    check(f"all - A01 and B02 {label}", total, [p for p in parts if p is not None])
        if len(clinicians) == 2:
            for key, total in cell.items():
                parts = [shown[(ki, label, (c,), areas)].get(key) for c in clinicians]
                check(f"{clinicians} - one {label}", total, [p for p in parts if p is not None])
        # no area filter minus the forehead sessions
        if (clinicians, areas) == ((), ()):
            for key, total in cell.items():
                part = shown[(ki, label, clinicians, ("forehead",))].get(key)
                check(f"all areas - forehead {label}", total, [part] if part is not None else [])
        # within a file and across files: the clinic-wide row minus the clinicians' rows
        if KINDS[ki][3] is None:
            by_clinician = shown[(1, label, clinicians, areas)]
            for (_, column), total in cell.items():
                parts = [v for (row, c), v in by_clinician.items() if c == column]
                check(f"clinic - clinician rows {label}", total, parts)
        # the same cell in two files (a month's row in the year, quarter and month files)
        if KINDS[ki][3] == "period_start" and label in nestings:
            for (row, column), value in cell.items():
                month = row[:7]
                if month in labels:
                    other = shown[(ki, month, clinicians, areas)].get((row, column))
                    if other is not None:
                        check(f"row {row} in {label} and {month}", value - other, [])
    assert compared > 1000, "the enumeration covers many derivable differences"
    assert not found, {k: v[:3] for k, v in list(found.items())[:10]}


def test_every_released_count_is_a_multiple_of_five(releases):
    """Why no other combination can do better: a sum or difference of multiples of 5 is a multiple of 5, 0 or at
    least 5 (and the releases show real counts: some cells are shown, some hidden)."""
    values = [v for key, frame in releases.items() for v in cells(frame, KINDS[key[0]][3]).values()]
    hidden = sum(int((frame[c] == disclosure.MARK).sum()) for frame in releases.values()
                 for c in COUNT_COLUMNS if c in frame.columns)
    assert len(values) > 500 and hidden > 300 and max(values) >= 100
    assert [v for v in values if v % 5] == []


def test_every_allowed_period_is_whole_and_others_are_refused():
    for label, (start, end) in periods().items():
        assert disclosure.release_period(start, end)[1] == label
    refused = [(dt.date(2024, 1, 1), dt.date(2024, 4, 30)),  # Jan-Apr: one month more than Q1
               (dt.date(2024, 1, 1), dt.date(2024, 2, 29)),  # two months
               (dt.date(2024, 3, 1), dt.date(2024, 3, 1)),  # one day
               (dt.date(2024, 3, 2), dt.date(2024, 3, 31)),  # a month less a day
               (dt.date(2024, 2, 1), dt.date(2024, 4, 30)),  # three months, not a quarter
               (dt.date(2024, 1, 1), dt.date(2025, 12, 31)),  # two years
               (None, dt.date(2024, 3, 31)), (dt.date(2024, 3, 1), None), (None, None)]
    for start, end in refused:
        with pytest.raises(disclosure.NotForRelease, match="one whole calendar month, quarter or year"):
            disclosure.release_period(start, end)
