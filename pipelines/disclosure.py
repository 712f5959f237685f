"""Statistical disclosure control for aggregate exports that leave the clinic.

Primary suppression: a numerator of 1 to `min_numerator - 1` (default 1-4), or a denominator under
`min_denominator` (default 10), is hidden, and so is everything computed from it (rate, interval, crude rate,
completeness, ...).
Complementary suppression: the margins of an export are assumed known (the clinic total, or another export
without the breakdown), so a hidden cell could be recomputed as total minus the others. Wherever a group of cells
adding up to a margin has exactly one hidden cell, the smallest visible cell of that group is hidden too, and this
repeats until no group has exactly one. Groups: the rows sharing every other stratum value (e.g. all clinicians in
a month), and each stratum value across the other dimension (e.g. one clinician across months).

Hidden cells are marked: the value becomes the text "suppressed" and the row's `suppression` column says why
("numerator 1-4", "denominator < 10", "complementary"), never a silent blank.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MARK = "suppressed"


@dataclass(frozen=True)
class Rule:
    min_numerator: int = 5  # numerators 1 .. min_numerator - 1 are hidden (0 is not disclosive)
    min_denominator: int = 10  # denominators below this are hidden

    def describe(self) -> str:
        return (f"numerators 1-{self.min_numerator - 1} and denominators under {self.min_denominator} hidden, "
                "with complementary suppression")


def suppress(
    frame: pd.DataFrame,
    *,
    numerator: str,
    denominator: str | None,
    derived: list[str],
    groups: list[str],
    rule: Rule = Rule(),
) -> pd.DataFrame:
    """Return a copy with small cells hidden. `derived` columns are hidden with the row's numerator or
    denominator; `groups` are the stratum columns that define the margins."""
    out = frame.copy().reset_index(drop=True)
    num = out[numerator].astype(float)
    den = out[denominator].astype(float) if denominator else pd.Series(float("inf"), index=out.index)
    hide_num = (num >= 1) & (num < rule.min_numerator)
    hide_den = den < rule.min_denominator
    reasons = pd.Series("", index=out.index, dtype=object)
    reasons[hide_num] = f"numerator 1-{rule.min_numerator - 1}"
    reasons[hide_den] = reasons[hide_den].where(reasons[hide_den] == "", reasons[hide_den] + "; ") + \
        f"denominator < {rule.min_denominator}"
    hidden_num = hide_num | hide_den
    hidden_den = hide_den.copy()
    hidden_num, comp_num = _complementary(out, num, hidden_num, groups)
    if denominator:
        hidden_den, comp_den = _complementary(out, den, hidden_den, groups)
    else:
        comp_den = pd.Series(False, index=out.index)
    comp = (comp_num | comp_den) & (reasons == "")
    reasons[comp] = "complementary"
    hidden_row = hidden_num | hidden_den
    for c in [numerator, *derived]:
        if c in out:
            out[c] = out[c].astype(object).where(~hidden_row, MARK)
    if denominator:
        out[denominator] = out[denominator].astype(object).where(~hidden_den, MARK)
    out["suppression"] = reasons
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
