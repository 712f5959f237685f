"""The deliberately bad rows of the demo exports (``BAD_ROW_KINDS``): realistic clinic mistakes for the
data-quality page, at rows fixed by the seed.

``choose_bad_rows`` picks the rows while generating (it draws from the random generator, after everything else);
the other functions spoil the values when the files are written.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipelines.demo.dates import months_days, to_day, years
from pipelines.demo.params import BAD_ROW_SHARE, NOT_ASSESSED


def rows_per_kind(n_treatments: int) -> int:
    """How many bad rows of each kind a generation of ``n_treatments`` writes: ``BAD_ROW_SHARE``, at least 1."""
    return max(1, round(n_treatments * BAD_ROW_SHARE))


def choose_bad_rows(rng: np.random.Generator, n_treatments: int, t: dict, f: dict, end: int, codes) -> dict:
    """Rows to spoil, chosen among rows nothing else depends on. Returns kind -> sorted row numbers.

    Treatment rows: sessions without a follow-up or a correction that are no correction themselves (an invalid
    date preferably in February, where 30/31 February is a believable typo; a typo'd clinician among ``C0x``
    codes). Follow-up rows: any row for an orphan, an assessed contact for a date a year too early.
    """
    k = rows_per_kind(n_treatments)
    T = len(t["day"])
    referenced = np.zeros(T, bool)
    referenced[f["tpos"]] = True
    referenced[t["corrects"][t["corrects"] >= 0]] = True
    free = ~referenced & (t["corrects"] < 0)
    taken = np.zeros(T, bool)

    def pick(mask, fallback):
        idx = np.flatnonzero(mask & ~taken)
        if len(idx) < k:
            idx = np.flatnonzero(fallback & ~taken)
        rows = np.sort(rng.choice(idx, size=k, replace=False))
        taken[rows] = True
        return rows

    month, _ = months_days(t["day"])
    year_list, year_of = np.unique(years(t["day"]), return_inverse=True)
    feb_in_window = np.array([to_day(dt.date(int(y), 2, 28)) <= end for y in year_list])[year_of]
    typo_able = np.array([c[:2] == "C0" and len(c) > 2 for c in codes])
    bad = {
        "unknown_clinician": pick(free & typo_able[t["clin"]], free),
        "invalid_date": pick(free & (month == 2), free & feb_in_window),
        "nonpositive_units": pick(free, free),
    }
    F = len(f["seen"])
    orphan = np.sort(rng.choice(F, size=k, replace=False))
    rest = np.setdiff1d(np.flatnonzero(f["effect"] != NOT_ASSESSED), orphan)
    before = np.sort(rng.choice(rest, size=k, replace=False))
    bad["orphan_follow_up"] = orphan
    bad["follow_up_before_treatment"] = before
    return bad


def misspelled_code(code: str) -> str:
    """The clinician code as typed without its leading zeros (``C07`` -> ``C7``), or with an ``X`` appended."""
    return code[0] + code[1:].lstrip("0") if code[1:].lstrip("0") else code + "X"


def misspell_clinicians(clin: np.ndarray, codes: list[str], rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(clinician per row with ``rows`` misspelled, codes with the misspellings appended); inputs unchanged."""
    clin, codes = clin.copy(), list(codes)
    for r in rows:
        typo = misspelled_code(codes[clin[r]])
        if typo not in codes:
            codes.append(typo)
        clin[r] = codes.index(typo)
    return clin, codes


def nonpositive_units(units: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Units with ``rows`` set to -5, 0, -5, 0, ... (a copy)."""
    units = units.copy()
    units[rows] = np.where(np.arange(len(rows)) % 2 == 0, -5.0, 0.0)
    return units


def orphan_id(treatment_id: str) -> str:
    """A treatment id that exists nowhere: a doubled zero after the prefix (``T0000042`` -> ``T00000042``)."""
    return treatment_id[0] + "0" + treatment_id[1:]


def year_too_early(seen: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Contact days with ``rows`` moved a year back (a year typo; 29 February becomes the 28th). A copy."""
    seen = seen.copy()
    for r in rows:
        d = dt.date(1970, 1, 1) + dt.timedelta(days=int(seen[r]))
        seen[r] = to_day(d.replace(year=d.year - 1, day=min(d.day, 28) if d.month == 2 else d.day))
    return seen


def invalid_february_dates(year_per_row: list[int], style: str) -> list[str]:
    """Date texts that do not exist: 31, 30, 31, ... February of each row's year, ``dd.mm.yyyy`` (``nb``) or ISO."""
    texts = []
    for j, y in enumerate(year_per_row):
        day = (31, 30)[j % 2]
        texts.append(f"{day:02d}.02.{y}" if style == "nb" else f"{y}-02-{day:02d}")
    return texts
