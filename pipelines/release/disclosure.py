"""Statistical disclosure control for aggregate exports that leave the clinic (releases).

A release is protected four ways, as NHS Digital / ONS small-number guidance does it:

1. Whole calendar periods only (`release_period`, `release_as_of`): a release covers exactly one calendar month,
   quarter or year, counted as of the last day of a month on or after the period's end. Two releases for ranges
   that differ by a day or a month (or two as-of dates a day apart) cannot be subtracted to isolate a few sessions.
2. Primary suppression: a numerator of 1 to `min_numerator - 1` (default 1-4), or a denominator under
   `min_denominator` (default 10), is hidden, and so is everything computed from it.
3. Complementary suppression: the margins of an export are assumed known (the clinic total, or another export
   without the breakdown), so a hidden cell could be recomputed as total minus the others. Wherever a group of cells
   adding up to a margin has exactly one hidden cell, the smallest visible cell of that group is hidden too, and this
   repeats until no group has exactly one. Groups: the rows sharing every other stratum value (e.g. all clinicians in
   a month), and each stratum value across the other dimension (e.g. one clinician across months).
4. Rounding: every count still shown is rounded to the nearest multiple of `rounding_base` (5). Any sum or
   difference of released counts - from one file or from any number of files - is then a multiple of 5, so it is
   0 or at least 5, never the 1-4 that suppression hides. Rates, intervals, limits and centre lines in a release are
   computed afterwards from the rounded counts shown (pipelines/release/export.py `release`), never from a hidden cell.

Hidden cells are marked with one neutral marker: the value becomes the text "suppressed" and the row's
`suppression` column says "suppressed". It never says which threshold was hit: "numerator 1-4" next to a
denominator of 1 would tell whether the one patient had the event.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.errors import UserError
from pipelines.metrics import small_cells

MARK = "suppressed"


class NotForRelease(UserError, ValueError):
    """The export cannot leave the clinic in this form (the message says what is allowed)."""


@dataclass(frozen=True)
class Rule:
    min_numerator: int = small_cells.MIN_EVENTS  # numerators 1 .. min_numerator - 1 are hidden (0 is not disclosive)
    min_denominator: int = small_cells.MIN_SESSIONS  # denominators below this are hidden
    rounding_base: int = 5  # counts shown are rounded to the nearest multiple of this

    def describe(self) -> str:
        return (f"numerators 1-{self.min_numerator - 1} and denominators under {self.min_denominator} hidden, "
                "with complementary suppression")

    def rounding_text(self) -> str:
        return (f"counts shown rounded to the nearest {self.rounding_base} (NHS Digital / ONS convention); rates, "
                "intervals, limits and centre lines computed from the rounded counts shown, never from a hidden "
                f"cell; every hidden cell marked `{MARK}` whatever the reason")


def round_count(value: float, base: int = 5) -> int:
    """The nearest multiple of `base` (halves up; with base 5 an integer is never halfway)."""
    return int(base * np.floor(float(value) / base + 0.5))


def suppress(
    frame: pd.DataFrame,
    *,
    numerator: str,
    denominator: str | None,
    derived: list[str],
    groups: list[str],
    rule: Rule = Rule(),
    counts: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return a copy with small cells hidden and the counts still shown rounded.

    `derived` columns are hidden with the row's numerator or denominator (the caller recomputes the shown ones from
    the rounded counts); `groups` are the stratum columns that define the margins; `counts` are further count
    columns that are hidden with the row and rounded like the numerator."""
    out = frame.copy().reset_index(drop=True)
    num = out[numerator].astype(float)
    den = out[denominator].astype(float) if denominator else pd.Series(float("inf"), index=out.index)
    hide_num = (num >= 1) & (num < rule.min_numerator)
    hide_den = den < rule.min_denominator
    hidden_num = hide_num | hide_den
    hidden_den = hide_den.copy()
    hidden_num, _ = _complementary(out, num, hidden_num, groups)
    if denominator:
        hidden_den, _ = _complementary(out, den, hidden_den, groups)
    hidden_row = hidden_num | hidden_den
    base = rule.rounding_base

    def rounded(column: str, hidden: pd.Series) -> pd.Series:
        values = out[column].astype(object)
        shown = [round_count(v, base) if not h and pd.notna(v) else (MARK if h else v)
                 for v, h in zip(values, hidden, strict=True)]
        return pd.Series(shown, index=out.index, dtype=object)

    out[numerator] = rounded(numerator, hidden_row)
    for c in counts:
        if c in out:
            out[c] = rounded(c, hidden_row)
    for c in derived:
        if c in out:
            out[c] = out[c].astype(object).where(~hidden_row, MARK)
    if denominator:
        out[denominator] = rounded(denominator, hidden_den)
    out["suppression"] = np.where(hidden_row, MARK, "")
    return out


def _complementary(frame: pd.DataFrame, values: pd.Series, hidden: pd.Series, groups: list[str]):
    """Hide more cells until no margin group has exactly one hidden cell. Returns (hidden, added)."""
    hidden = hidden.copy()
    added = pd.Series(False, index=frame.index)
    if not groups:
        margin_sets = [[frame.index]]
    else:
        margin_sets = []
        for g in groups:
            others = [x for x in groups if x != g]
            if others:
                margin_sets.append(list(frame.groupby(others if len(others) > 1 else others[0], dropna=False,
                                                      sort=False).groups.values()))
            else:
                margin_sets.append([frame.index])
    changed = True
    while changed:
        changed = False
        for groups_of_rows in margin_sets:
            for idx in groups_of_rows:
                idx = list(idx)
                if len(idx) < 2:
                    continue
                h = hidden[idx]
                if int(h.sum()) == 1:
                    visible = [i for i in idx if not hidden[i]]
                    smallest = min(visible, key=lambda i: (values[i], i))
                    hidden[smallest] = True
                    added[smallest] = True
                    changed = True
    return hidden, added


# --------------------------------------------------------------------------------------------------------------
# Which periods may be released
# --------------------------------------------------------------------------------------------------------------

PERIOD_RANK = {"month": 1, "quarter": 2, "year": 3}
ALLOWED_TEXT = ("a release covers one whole calendar month, quarter or year, from its first to its last day "
                "(e.g. 2024-03-01 to 2024-03-31, 2024-01-01 to 2024-03-31 for the first quarter, or 2024-01-01 to "
                "2024-12-31)")


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def release_period(date_from: dt.date | None, date_to: dt.date | None) -> tuple[str, str]:
    """(kind, label) of a whole calendar month / quarter / year, e.g. ("quarter", "2024-Q1"); NotForRelease with
    what is allowed for any other range (including an open one)."""
    if date_from is None or date_to is None:
        raise NotForRelease(f"{ALLOWED_TEXT}; give both the first and the last day (--from and --to on the command "
                            "line; ranges that differ by a few days or months could be subtracted from each other to "
                            "recover hidden counts)")
    if date_from.day == 1 and date_to == month_end(date_from):
        return "month", f"{date_from:%Y-%m}"
    if date_from.day == 1 and date_from.month in (1, 4, 7, 10) and date_to.year == date_from.year \
            and date_to.month == date_from.month + 2 and date_to == month_end(date_to):
        return "quarter", f"{date_from.year}-Q{(date_from.month - 1) // 3 + 1}"
    if (date_from.month, date_from.day) == (1, 1) and date_to == dt.date(date_from.year, 12, 31):
        return "year", str(date_from.year)
    raise NotForRelease(f"{ALLOWED_TEXT}; {date_from.isoformat()} to {date_to.isoformat()} is not one (ranges "
                        "that differ by a few days or months could be subtracted from each other to recover hidden "
                        "counts)")


def release_as_of(as_of: dt.date | None, data_as_of: dt.date, date_to: dt.date) -> dt.date:
    """The as-of date of a release: the last day of a month, on or after the end of the release period.
    Not given: the newest month end the data have reached (`data_as_of` is the newest date in the data)."""
    if as_of is None:
        as_of = month_end(data_as_of)
        if as_of > data_as_of:
            as_of = data_as_of.replace(day=1) - dt.timedelta(days=1)
        if as_of < date_to:
            raise NotForRelease(f"the data reach {data_as_of.isoformat()}, so the newest month end a release can be "
                                f"counted as of is {as_of.isoformat()}, before the end of the release period "
                                f"({date_to.isoformat()}); release an earlier period")
        return as_of
    if as_of != month_end(as_of):
        raise NotForRelease(f"the as-of date of a release must be the last day of a month (e.g. "
                            f"{month_end(as_of).isoformat()}), not {as_of.isoformat()}: as-of dates a few days "
                            "apart could be subtracted from each other to recover hidden counts")
    if as_of < date_to:
        raise NotForRelease(f"the as-of date of a release ({as_of.isoformat()}) must be on or after the end of the "
                            f"release period ({date_to.isoformat()})")
    return as_of


def check_row_period(kind: str, period: str | None, release_kind: str) -> None:
    """Rows of a release are whole calendar months, quarters or years no longer than the release itself."""
    if period in (None, "all"):
        return
    if period not in PERIOD_RANK:
        raise NotForRelease(f"a {kind} release has rows by month, quarter or year (or one row for the whole "
                            f"period), not by {period}: weeks cross month boundaries and could be subtracted")
    if PERIOD_RANK[period] > PERIOD_RANK[release_kind]:
        raise NotForRelease(f"rows by {period} are longer than the release period (one {release_kind}); choose "
                            f"rows by {release_kind} or shorter")


def period_bounds(label: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a release period label ("2024", "2024-Q1", "2024-03"); ValueError otherwise."""
    text = str(label).strip()
    try:
        if len(text) == 4 and text.isdigit():
            year = int(text)
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if len(text) == 7 and text[4:6] == "-Q" and text[:4].isdigit() and text[6] in "1234":
            year, quarter = int(text[:4]), int(text[6])
            first = dt.date(year, 3 * quarter - 2, 1)
            return first, month_end(dt.date(year, 3 * quarter, 1))
        if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
            first = dt.date(int(text[:4]), int(text[5:]), 1)
            return first, month_end(first)
    except ValueError:
        pass
    raise NotForRelease(f"`{label}` is not a release period; write a year (2024), a quarter (2024-Q1) or a month "
                     "(2024-03)")


def release_periods(first_date: dt.date, last_month_end: dt.date) -> list[str]:
    """Every whole calendar year, quarter and month that has data (from `first_date`) and has ended by
    `last_month_end`: years newest first, then quarters, then months."""
    years, quarters, months = [], [], []
    for year in range(last_month_end.year, first_date.year - 1, -1):
        if dt.date(year, 12, 31) <= last_month_end:
            years.append(str(year))
        for quarter in range(4, 0, -1):
            _, end = period_bounds(f"{year}-Q{quarter}")
            if end <= last_month_end and end >= first_date:
                quarters.append(f"{year}-Q{quarter}")
        for month in range(12, 0, -1):
            _, end = period_bounds(f"{year}-{month:02d}")
            if end <= last_month_end and end >= first_date:
                months.append(f"{year}-{month:02d}")
    return years + quarters + months
