"""Realistic synthetic clinic exports for the demo and for load tests at scale.

``write_demo_exports(out_dir)`` writes what a Norwegian skin clinic's journal system might export over the three
years before ``end_date``: treatment sessions and follow-up contacts, split by calendar year into files in
different conventions, plus copies of the two editable reference files (``data/clinicians.csv`` and
``data/product_prices.csv``). The files are meant to go through the real loader::

    python -m pipelines load --map data/column_map_nb.csv <the returned files>

What the data holds (rates per session, see ``../shared/DOMAIN.md``):

- patients who come back (cosmetic every 3-6 months, migraine every ~12 weeks, hyperhidrosis every 4-7 months);
  ``prior_treatments`` counts earlier sessions, including those before the exported period;
- complication events at DOMAIN's "sensible synthetic default" rates. The review contact (10-21 days) records
  everything that happened since the session, injection-site problems included; an early contact (day 1-7,
  mostly patient-initiated) records the injection-site problems (and eye problems from day 3) present by then.
  Count an outcome once per session, whichever contact recorded it;
- insufficient effect (partial / none at the review) ~8 %, most followed by a free correction 12-20 days after
  the primary (``corrects_treatment_id``), which itself is rarely followed up;
- migraine / tension-headache cycles with headache-day diaries, hyperhidrosis with HDSS, a handful of patients
  with secondary non-response after years of full effect.

Deliberate patterns for the dashboard to find:

1. clinician ``C04`` has about three times the eyelid-ptosis rate of the rest of the clinic on upper-face sessions;
2. a product switch: for four months starting 14 months before ``end_date`` most cosmetic sessions used Letybo,
   and insufficient effect (and the corrections that follow) rose to ~16 %;
3. follow-up registration lags: contacts in the last ~5 weeks before ``end_date`` are missing with rising
   probability (on top of the contacts that have not happened yet), so follow-up completeness falls over the
   last ~6 weeks of sessions.

And a few deliberately bad rows (realistic clinic mistakes, at positions fixed by the seed) for the data-quality
page; ``expected_bad_rows()`` says how many of each kind a call writes.

Everything is vectorised with numpy (no per-session Python loops): 1,000,000 treatments take well under a minute.
The output is a pure function of ``(n_treatments, seed, end_date)`` and the reference files: byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines import contract as C

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
COLUMN_MAP_PATH = DATA_DIR / "column_map_nb.csv"
REFERENCE_FILES = ("clinicians.csv", "product_prices.csv")

WINDOW_DAYS = 3 * 365  # the exported period: ~3 years ending at end_date
MIN_TREATMENTS = 100

# --------------------------------------------------------------------------------------------------------------
# Model parameters
# --------------------------------------------------------------------------------------------------------------

IND = ("cosmetic", "migraine", "tension_headache", "hyperhidrosis", "bruxism")
COS, MIG, TTH, HYP, BRUX = range(len(IND))
IND_SHARE = (0.80, 0.08, 0.03, 0.06, 0.03)  # share of primary sessions


@dataclass(frozen=True)
class _Chain:
    """How a patient with this indication comes back."""

    gap_lo: float  # the patient's usual interval is drawn from [gap_lo, gap_hi] days
    gap_hi: float
    jitter: float  # each interval is the usual one x U(1 - jitter, 1 + jitter)
    churn: float  # probability of not coming back after a session
    skip: float  # probability that an interval gets an extra delay of U(0, skip_max) days
    skip_max: float
    guess_sessions: float  # first guess of exported sessions per generated patient (only sizes the first batch)


CHAINS = {
    COS: _Chain(90, 180, 0.12, 0.22, 0.10, 200, 2.0),
    MIG: _Chain(82, 88, 0.05, 0.09, 0.05, 60, 4.0),
    TTH: _Chain(84, 120, 0.10, 0.30, 0.10, 90, 1.5),
    HYP: _Chain(120, 210, 0.12, 0.20, 0.12, 150, 1.5),
    BRUX: _Chain(90, 180, 0.12, 0.25, 0.10, 120, 1.5),
}
PRE_DAYS = 3 * 365  # patients may have started up to this long before the exported period
ARRIVAL_RAMP = 1.0  # new-patient arrivals grow linearly: density 1 at the start, 1 + ramp at end_date

# Clinician volumes per indication group. Codes not listed get DEFAULT_VOLUME where their profession may treat
# the indication (so an edited clinicians.csv still works).
VOLUME = {
    COS: {"C01": 28, "C02": 14, "C03": 12, "C04": 13, "C05": 10, "C06": 8, "C07": 8, "C08": 3, "C09": 1, "ÅSH": 3},
    MIG: {"C01": 35, "C04": 15, "C06": 20, "ÅSH": 30},
    TTH: {"C01": 35, "C04": 15, "C06": 20, "ÅSH": 30},
    HYP: {"C01": 30, "C02": 20, "C03": 15, "C05": 15, "C06": 10, "C07": 10},
    BRUX: {"C09": 65, "C01": 20, "C06": 15},
}
DEFAULT_VOLUME = 5
ALLOWED_PROFESSIONS = {
    COS: ("lege", "sykepleier", "tannlege"),
    MIG: ("lege",),
    TTH: ("lege",),
    HYP: ("lege", "sykepleier"),
    BRUX: ("tannlege", "lege"),
}
LATE_STARTERS = {"C08": 270}  # code -> started this many days before end_date
PREFERRED_CLINICIAN = 0.85  # a returning patient sees their own clinician this often
PTOSIS_CLINICIAN = "C04"
PTOSIS_MULTIPLIER = 3.5  # eyelid-ptosis risk of PTOSIS_CLINICIAN vs everyone else (brow ptosis: half of it)

# Products: weights per indication; launch dates; the product switch (pattern 2).
PRODUCT_MIX = {
    COS: {"Botox": 26, "Vistabel": 30, "Bocouture": 14, "Xeomin": 3, "Letybo": 4, "Azzalure": 12, "Dysport": 3,
          "Alluzience": 6, "Relfydess": 2},
    MIG: {"Botox": 1},
    TTH: {"Botox": 85, "Dysport": 15},
    HYP: {"Botox": 65, "Dysport": 25, "Xeomin": 10},
    BRUX: {"Botox": 45, "Vistabel": 15, "Bocouture": 20, "Dysport": 20},
}
LAUNCH = {"Letybo": ("2023-01-01", "Vistabel"), "Alluzience": ("2022-06-01", "Azzalure"),
          "Relfydess": ("2025-06-01", "Azzalure")}  # product -> (first use, what was used before)
SWITCH_PRODUCT = "Letybo"
SWITCH_START_DAYS = 426  # ~14 months before end_date
SWITCH_LENGTH_DAYS = 122  # ~4 months
SWITCH_SHARE = 0.80  # share of cosmetic sessions switched in those months
SPEYWOOD_PER_BOTOX_UNIT = 2.5

# Areas as bit masks in contract.AREAS order.
AREA_NAMES = tuple(C.AREAS)
BIT = {a: 1 << i for i, a in enumerate(AREA_NAMES)}
G, FH, CF, OF = BIT["glabella"], BIT["forehead"], BIT["crows_feet"], BIT["other_face"]
MAS, AX, PA, HN = BIT["masseter"], BIT["axillae"], BIT["palms"], BIT["head_neck"]
UPPER = sum(BIT[a] for a in C.UPPER_FACE_AREAS)
COSMETIC_AREAS = {G: 22, FH: 4, CF: 7, G | FH: 26, G | CF: 8, FH | CF: 4, G | FH | CF: 22, G | FH | CF | OF: 3,
                  G | OF: 2, OF: 2}
MIGRAINE_AREAS = {HN: 65, HN | G | FH: 35}
HYPER_AREAS = {AX: 85, PA: 12, AX | PA: 3}
# Botox-equivalent units per area (drawn uniformly from the list).
DOSE = {G: (12, 16, 20, 20, 20, 20, 24, 25), FH: (6, 8, 10, 10, 12, 15, 20), CF: (12, 16, 18, 20, 24, 24, 24),
        OF: (2, 4, 6, 8, 10), MAS: (40, 50, 50, 50, 60, 60, 60, 70), AX: (80, 100, 100, 100, 100),
        PA: (100, 150, 200)}
MIGRAINE_DOSE = (155, 155, 155, 155, 165, 175, 195)
TENSION_DOSE = (50, 75, 100, 100, 125, 155)
CORRECTION_DOSE = (4, 4, 5, 6, 6, 8, 10)

# Per-session event probabilities (DOMAIN "sensible synthetic default").
P_EYELID_G_ONLY = 0.015  # glabella without forehead
P_EYELID_G_FH = 0.025  # glabella with forehead
P_EYELID_OTHER_UPPER = 0.008  # forehead or crow's feet without glabella
P_BROW_FH = 0.015
P_BROW_OTHER_UPPER = 0.004
P_BRUISING, P_PAIN, P_BLEEDING, P_ITCHING, P_INFECTION, P_ALLERGIC = 0.05, 0.03, 0.01, 0.01, 0.001, 0.0005
P_ASYMMETRY = 0.03  # face sessions
P_DRY_EYE_CF, P_DRY_EYE_OTHER_UPPER = 0.01, 0.002
P_DOUBLE_VISION = 0.003  # upper face
P_INSUFFICIENT = 0.08  # cosmetic: partial / none at the review
P_INSUFFICIENT_SWITCH = 0.19  # the switch product in the switch months
P_NONE_GIVEN_INSUFFICIENT = 0.25
CORRECTIONS_PER_PRIMARY = 0.06  # sets the number of primaries so that n_treatments comes out exactly
P_REVIEW_COSMETIC = 0.85
P_FU_MIGRAINE, P_FU_TENSION, P_FU_HYPER, P_FU_BRUX, P_FU_CORRECTION = 0.90, 0.85, 0.85, 0.70, 0.10
P_EARLY_INJECTION_SITE, P_EARLY_EYE_COSMETIC, P_EARLY_EYE_OTHER, P_EARLY_ROUTINE = 0.55, 0.60, 0.85, 0.04
SNR_SHARE = 0.002  # secondary non-response: share of patients treated over >= 3 years
LAG_FULL_DAYS = 35  # contacts this recent are registered with probability LAG_MIN .. 1 (pattern 3)
LAG_MIN = 0.35

# Bad rows: per kind, this share of n_treatments (at least one each).
BAD_ROW_SHARE = 0.0002
BAD_ROW_KINDS = {
    "unknown_clinician": "treatments",  # C7 for C07
    "invalid_date": "treatments",  # 31.02.2024 / 2024-02-31
    "nonpositive_units": "treatments",  # -5 or 0
    "orphan_follow_up": "follow_ups",  # treatment id that exists nowhere (a doubled zero)
    "follow_up_before_treatment": "follow_ups",  # seen_on a year too early (year typo)
}

# Norwegian spellings written in the legacy files (each must be an accepted spelling in the contract).
NB_INDICATION = {"cosmetic": "kosmetisk", "migraine": "migrene", "tension_headache": "spenningshodepine",
                 "hyperhidrosis": "hyperhidrose", "bruxism": "bruksisme"}
NB_AREA = {"glabella": "sinnarynke", "forehead": "panne", "crows_feet": "kråkeføtter", "other_face": "annet_ansikt",
           "masseter": "tyggemuskel", "axillae": "armhuler", "palms": "håndflater", "head_neck": "hode_nakke"}
NB_EFFECT = {"full": "god", "partial": "delvis", "none": "ingen", "not_assessed": "ikke_vurdert"}
NB_SEX = {"female": "kvinne", "male": "mann", "other": "annet"}
for _canon, _nb in [*NB_INDICATION.items(), *NB_AREA.items()]:
    assert _nb in (C.INDICATIONS.get(_canon, ()) + C.AREAS.get(_canon, ())), _nb
for _canon, _nb in NB_EFFECT.items():
    assert _nb in C.EFFECTS[_canon], _nb
for _canon, _nb in NB_SEX.items():
    assert _nb in C.SEXES[_canon], _nb
assert "ja" in C.TRUE_SPELLINGS and "nei" in C.FALSE_SPELLINGS

EFFECT_CODES = tuple(C.EFFECTS)  # full, partial, none, not_assessed
FULL, PARTIAL, NONE, NOT_ASSESSED = (EFFECT_CODES.index(e) for e in ("full", "partial", "none", "not_assessed"))
FLAGS = C.COMPLICATION_FLAGS
FL = {f: i for i, f in enumerate(FLAGS)}
INJECTION_SITE = [FL[f] for f in ("bruising", "pain", "bleeding", "itching", "infection", "allergic_reaction")]
EYE = [FL[f] for f in ("eyelid_ptosis", "brow_ptosis", "dry_eye", "double_vision")]
SEX_CODES = tuple(C.SEXES)  # female, male, other
AGE_BANDS = tuple(C.AGE_BANDS)
P_FEMALE = {COS: 0.88, MIG: 0.78, TTH: 0.68, HYP: 0.55, BRUX: 0.62}
AGE_MIX = {COS: (0.10, 0.24, 0.30, 0.22, 0.11, 0.03), MIG: (0.15, 0.30, 0.30, 0.17, 0.06, 0.02),
           TTH: (0.15, 0.28, 0.30, 0.18, 0.07, 0.02), HYP: (0.35, 0.30, 0.18, 0.10, 0.05, 0.02),
           BRUX: (0.20, 0.30, 0.25, 0.15, 0.07, 0.03)}

PRODUCTS = C.PRODUCT_NAMES
PRODUCT_INDEX = {p: i for i, p in enumerate(PRODUCTS)}
SPEYWOOD = np.array([p.unit_type == "speywood" for p in C.PRODUCTS])


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------

def expected_bad_rows(n_treatments: int = 20_000, seed: int = 42, end_date: dt.date | None = None) -> dict[str, int]:
    """How many deliberately bad rows of each kind ``write_demo_exports`` writes (table: ``BAD_ROW_KINDS``).

    Treatment rows with a bad value were chosen among sessions nothing else refers to (no follow-up, no
    correction), so refusing them refuses nothing else. The counts depend on ``n_treatments`` only.
    """
    k = max(1, round(n_treatments * BAD_ROW_SHARE))
    return {kind: k for kind in BAD_ROW_KINDS}


def write_demo_exports(
    out_dir: Path,
    *,
    n_treatments: int = 20_000,
    seed: int = 42,
    end_date: dt.date | None = None,
    reference_dir: Path = DATA_DIR,
) -> list[Path]:
    """Write synthetic exports into ``out_dir``; return the paths, the two reference files first.

    Files: ``clinicians.csv``, ``product_prices.csv``, then treatments per calendar year (the oldest years as
    ``behandlinger_<year>.csv``: Windows-1252, ``;``, ``dd.mm.yyyy``, decimal comma, ja/nei, Norwegian headers and
    values, CRLF; later years ``treatments_<year>.csv``: UTF-8, ``,``, ISO dates), then ``follow_ups_<year>.csv``
    (the legacy years in the legacy convention, the next year UTF-8 with ``;`` / ``dd.mm.yyyy`` / ja/nei and
    English headers, later years plain UTF-8 CSV). No date in any file is after ``end_date`` (default: today).
    """
    if n_treatments < MIN_TREATMENTS:
        raise ValueError(f"n_treatments must be at least {MIN_TREATMENTS}")
    end = end_date or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reference_dir = Path(reference_dir)

    written = [_copy_reference(reference_dir / name, out_dir / name, end) for name in REFERENCE_FILES]
    clinicians = pd.read_csv(reference_dir / "clinicians.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    data = _generate(n_treatments, seed, end, clinicians)
    written += _write_files(out_dir, data, data["end"])
    return written


# --------------------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------------------

def _day(d: dt.date | str) -> int:
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return (d - dt.date(1970, 1, 1)).days


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7  # Monday = 0 (1970-01-01 was a Thursday)


CLOSED_DAYS = ((1, 1), (5, 1), (5, 17), (12, 24), (12, 25), (12, 26), (12, 31))  # fixed Norwegian holidays


def _is_open(days: np.ndarray) -> np.ndarray:
    if len(days) == 0:
        return np.zeros(0, dtype=bool)
    lo, hi = int(days.min()), int(days.max())
    span = np.arange(lo, hi + 1)
    month, dom = _months_days(span)
    table = (_weekday(span) < 5) & ~np.isin(month * 100 + dom, [m * 100 + d for m, d in CLOSED_DAYS])
    return table[days - lo]


def _to_weekday(rng: np.random.Generator, days: np.ndarray, lo, hi) -> np.ndarray:
    """Move weekend / holiday dates to an open day within [lo, hi]: a random weekday of the same week if one is in
    range, else the nearest open day; a date with no open day in reach stays."""
    days = np.asarray(days, dtype=np.int64)
    out = days.copy()
    todo = ~_is_open(days)
    lo = np.broadcast_to(lo, days.shape)
    hi = np.broadcast_to(hi, days.shape)
    idx = np.flatnonzero(todo)
    for _ in range(3):
        if len(idx) == 0:
            break
        cand = days[idx] - _weekday(days[idx]) + rng.integers(0, 5, len(idx))
        ok = _is_open(cand) & (cand >= lo[idx]) & (cand <= hi[idx])
        out[idx[ok]] = cand[ok]
        todo[idx[ok]] = False
        idx = idx[~ok]
    for delta in (-1, 1, -2, 2, 3, -3, 4, -4, 5, -5):
        if not todo.any():
            break
        cand = days + delta
        ok = todo & _is_open(cand) & (cand >= lo) & (cand <= hi)
        out[ok] = cand[ok]
        todo &= ~ok
    return out


def _years(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _months_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return month, dom


def _choice(rng: np.random.Generator, weights: dict, n: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _popcount(mask: np.ndarray) -> np.ndarray:
    return sum(((mask >> i) & 1) for i in range(len(AREA_NAMES)))


def _chains(rng: np.random.Generator, ind: int, target: int, start: int, end: int):
    """Visit chains of new patients until exactly ``target`` sessions fall in [start, end].

    Returns (patient number within this indication, session day, visit number since the patient's first ever
    session) per session, grouped by patient in visit order, and each patient's first-ever day.
    """
    p = CHAINS[ind]
    t0 = start - PRE_DAYS
    span = end - t0
    max_visits = int(span // (p.gap_lo * (1 - p.jitter))) + 2
    pats, days, visits, firsts = [], [], [], []
    got, n_pat, rate = 0, 0, p.guess_sessions
    while got < target:
        need = target - got
        m = min(max(int(need / rate * 1.1) + 16, 64), 200_000)
        u = rng.random(m)
        r = ARRIVAL_RAMP
        x = (np.sqrt(1 + 2 * r * u * (1 + r / 2)) - 1) / r  # inverse CDF of density (1 + r x) on [0, 1]
        first = t0 + np.floor(x * span).astype(np.int64)
        usual = rng.uniform(p.gap_lo, p.gap_hi, m).astype(np.float32)
        n_vis = np.minimum(rng.geometric(p.churn, m), max_visits)
        gaps = rng.random((m, max_visits - 1), dtype=np.float32)
        gaps *= 2 * p.jitter
        gaps += 1 - p.jitter
        gaps *= usual[:, None]
        skip = rng.random((m, max_visits - 1), dtype=np.float32)
        gaps += np.where(skip < p.skip, skip / p.skip * p.skip_max, 0).astype(np.float32)
        del skip
        offs = np.zeros((m, max_visits), dtype=np.int32)
        np.cumsum(np.rint(gaps).astype(np.int32), axis=1, out=offs[:, 1:])
        del gaps
        when = first[:, None] + offs
        valid = (np.arange(max_visits)[None, :] < n_vis[:, None]) & (when >= start) & (when <= end)
        per = valid.sum(axis=1)
        rate = max(per.sum() / m, 0.05)
        csum = np.cumsum(per)
        if csum[-1] > need:  # cut: keep whole patients up to the one that crosses `need`, trim that one's visits
            last = int(np.searchsorted(csum, need))
            keep_prev = int(csum[last - 1]) if last > 0 else 0
            valid[last + 1:] = False
            row = valid[last]
            idx = np.flatnonzero(row)
            row[idx[need - keep_prev:]] = False
            valid[last] = row
        rr, cc = np.nonzero(valid)
        pats.append(rr + n_pat)
        days.append(when[rr, cc].astype(np.int64))
        visits.append(cc)
        firsts.append(first)
        n_pat += m
        got += len(rr)
    return np.concatenate(pats), np.concatenate(days), np.concatenate(visits), np.concatenate(firsts)


def _clinician_weights(codes: list[str], professions: list[str], ind: int) -> np.ndarray:
    vol = VOLUME[ind]
    allowed = ALLOWED_PROFESSIONS[ind]
    w = np.array([
        (vol.get(c, DEFAULT_VOLUME if c not in _KNOWN_CODES else 0) if p in allowed else 0)
        for c, p in zip(codes, professions)
    ], dtype=float)
    if w.sum() == 0:
        w = np.array([1.0 if p in allowed else 0.0 for p in professions])
    if w.sum() == 0:
        w = np.ones(len(codes))
    return w / w.sum()


_KNOWN_CODES = {c for v in VOLUME.values() for c in v}


def _lag_keep(rng: np.random.Generator, seen: np.ndarray, end: int) -> np.ndarray:
    """Registration lag: is a contact on ``seen`` already in the export at ``end``? (pattern 3)"""
    age = end - seen
    p = np.clip(LAG_MIN + (1 - LAG_MIN) * age / LAG_FULL_DAYS, 0, 1)
    return (rng.random(len(seen)) < p) & (seen <= end)


def _patient_ref(seed: int, n: int) -> np.ndarray:
    """``p_`` + 12 hex characters of HMAC-SHA256(key from the seed, internal patient number).

    A reference with a run of 8 or more digits (which a privacy scan could take for a phone number or a
    fødselsnummer) is re-derived with a counter, so none looks like one.
    """
    key = f"clinic-outcomes-demo/{seed}".encode()
    digits = re.compile(r"\d{8}")
    refs = []
    for i in range(n):
        ref, extra = hmac.new(key, str(i).encode(), hashlib.sha256).hexdigest()[:12], 0
        while digits.search(ref):
            extra += 1
            ref = hmac.new(key, f"{i}/{extra}".encode(), hashlib.sha256).hexdigest()[:12]
        refs.append("p_" + ref)
    if len(set(refs)) != n:  # 48-bit prefixes: practically never
        raise RuntimeError("patient_ref collision; use another seed")
    return np.array(refs, dtype=object)


def _generate(n_treatments: int, seed: int, end_date: dt.date, clinicians: pd.DataFrame) -> dict:
    rng = np.random.default_rng([seed, 20_240_229])
    E = _day(end_date)
    S = E - WINDOW_DAYS + 1
    codes = list(clinicians["clinician"])
    professions = [p.strip().lower() for p in clinicians["profession"]]
    n_clin = len(codes)

    # ---- primary sessions: patient chains per indication ------------------------------------------------------
    n_primary = round(n_treatments / (1 + CORRECTIONS_PER_PRIMARY))
    targets = [round(n_primary * s) for s in IND_SHARE]
    targets[COS] += n_primary - sum(targets)
    pid_parts, day_parts, visit_parts, ind_parts, first_parts, pind_parts = [], [], [], [], [], []
    n_patients = 0
    for ind in range(len(IND)):
        pats, days, visits, firsts = _chains(rng, ind, targets[ind], S, E)
        used, pats = np.unique(pats, return_inverse=True)  # renumber: only patients with exported sessions
        pid_parts.append(pats + n_patients)
        day_parts.append(days)
        visit_parts.append(visits)
        ind_parts.append(np.full(len(days), ind, dtype=np.int8))
        first_parts.append(firsts[used])
        pind_parts.append(np.full(len(used), ind, dtype=np.int8))
        n_patients += len(used)
    pid = np.concatenate(pid_parts)
    day = np.concatenate(day_parts)
    visit = np.concatenate(visit_parts).astype(np.int64)
    ind = np.concatenate(ind_parts)
    p_first = np.concatenate(first_parts)
    p_ind = np.concatenate(pind_parts)
    P = len(day)
    assert P == n_primary

    # Fewer sessions in the fellesferie (moved to August), none at weekends.
    month, dom = _months_days(day)
    holiday = (month == 7) & (dom >= 8) & (dom <= 28) & (rng.random(P) < 0.5) & (day + 21 <= E)
    day = np.where(holiday, day + 21, day)
    day = _to_weekday(rng, day, S, E)

    # ---- patients ----------------------------------------------------------------------------------------------
    p_sex = np.empty(n_patients, dtype=np.int8)
    p_age = np.empty(n_patients, dtype=np.int8)
    p_clin = np.empty(n_patients, dtype=np.int64)
    p_areas = np.zeros(n_patients, dtype=np.int64)
    p_resp = np.zeros(n_patients)  # headache response propensity
    clin_w = {i: _clinician_weights(codes, professions, i) for i in range(len(IND))}
    for i in range(len(IND)):
        m = p_ind == i
        k = int(m.sum())
        u = rng.random(k)
        p_sex[m] = np.where(u < P_FEMALE[i], 0, np.where(u < 1 - 0.005, 1, 2))
        p_age[m] = rng.choice(len(AGE_BANDS), size=k, p=np.array(AGE_MIX[i]) / sum(AGE_MIX[i]))
        p_clin[m] = rng.choice(n_clin, size=k, p=clin_w[i])
        if i == COS:
            p_areas[m] = _choice(rng, COSMETIC_AREAS, k)
        elif i == MIG:
            p_areas[m] = _choice(rng, MIGRAINE_AREAS, k)
        elif i == TTH:
            p_areas[m] = HN
        elif i == HYP:
            p_areas[m] = _choice(rng, HYPER_AREAS, k)
        else:
            p_areas[m] = MAS
        good = rng.random(k) < 0.5
        p_resp[m] = np.where(good, 0.75, 0.15) if i == MIG else np.where(good, 0.60, 0.10)
    p_neuro = rng.random(n_patients) < 0.0015

    # ---- session attributes ------------------------------------------------------------------------------------
    clin = np.where(rng.random(P) < PREFERRED_CLINICIAN, p_clin[pid], -1)
    for i in range(len(IND)):
        m = (clin < 0) & (ind == i)
        clin[m] = rng.choice(n_clin, size=int(m.sum()), p=clin_w[i])
    clin = _late_starters(rng, clin, day, ind, codes, professions, E)

    areas = p_areas[pid].copy()
    m = (ind == COS) & (rng.random(P) < 0.2)  # cosmetic patients sometimes try another combination
    areas[m] = _choice(rng, COSMETIC_AREAS, int(m.sum()))

    product = np.empty(P, dtype=np.int64)
    for i in range(len(IND)):
        m = ind == i
        product[m] = [PRODUCT_INDEX[x] for x in _choice(rng, PRODUCT_MIX[i], int(m.sum()))]
    sw_lo, sw_hi = E - SWITCH_START_DAYS, E - SWITCH_START_DAYS + SWITCH_LENGTH_DAYS
    in_switch = (day >= sw_lo) & (day < sw_hi)
    switched = in_switch & (ind == COS) & (rng.random(P) < SWITCH_SHARE)
    product[switched] = PRODUCT_INDEX[SWITCH_PRODUCT]
    for name, (launch, before) in LAUNCH.items():
        m = (product == PRODUCT_INDEX[name]) & (day < _day(launch))
        product[m] = PRODUCT_INDEX[before]

    eq = np.zeros(P)
    for bit in (G, FH, CF, OF, MAS, AX, PA):
        has = (areas & bit) != 0
        eq += np.where(has, rng.choice(np.array(DOSE[bit], dtype=float), size=P), 0)
    eq = np.where(ind == MIG, rng.choice(np.array(MIGRAINE_DOSE, dtype=float), size=P), eq)
    eq = np.where(ind == TTH, rng.choice(np.array(TENSION_DOSE, dtype=float), size=P), eq)
    units = _native_units(eq, product)

    n_face = _popcount(areas & (G | FH | CF | OF))
    year_back = _years(np.array([E]))[0] - _years(day)
    cos_price = np.choose(np.clip(n_face, 1, 4) - 1, [1900, 2900, 3900, 4500]) - 50 * year_back
    discount = rng.random(P) < 0.04
    cos_price = np.where(discount, np.round(cos_price * 0.9 / 50) * 50, cos_price)
    price = np.select(
        [ind == COS, ind == MIG, ind == TTH, ind == HYP],
        [cos_price,
         np.clip(2900 + (eq - 155) * 40, 2900, 4500),
         np.clip(np.round((2900 + (eq - 50) / 105 * 600) / 100) * 100, 2900, 3500),
         np.where(areas == AX, 4000 + (eq - 80) * 25,
                  np.where(areas == PA, np.round((5500 + (eq - 100) * 5) / 100) * 100, 6000))],
        np.clip(np.round((3500 + (eq - 40) * 17) / 100) * 100, 3500, 4000),
    ).astype(float)

    first_visit = visit == 0
    minutes = np.select(
        [ind == COS, ind == MIG, ind == TTH, ind == HYP],
        [10 + 5 * n_face + rng.integers(0, 6, P) + 10 * first_visit,
         rng.integers(30, 46, P), rng.integers(25, 41, P), rng.integers(30, 46, P)],
        rng.integers(20, 31, P),
    )
    minutes = np.clip(minutes, 15, 45).astype(float)

    headache = (ind == MIG) | (ind == TTH)
    baseline_hd = np.where(ind == MIG, rng.integers(15, 26, P), rng.integers(10, 21, P)).astype(float)
    baseline_hd[~headache | (rng.random(P) < 0.04)] = np.nan  # a few cycles without a diary
    baseline_hdss = np.where(ind == HYP, np.where(rng.random(P) < 0.55, 3.0, 4.0), np.nan)

    female = p_sex[pid] == 0
    young = p_age[pid] <= AGE_BANDS.index("40-49")
    risk = np.stack([
        p_neuro[pid],
        rng.random(P) < 0.001,
        female & young & (rng.random(P) < 0.0025),
    ], axis=1)

    # ---- events and effect -------------------------------------------------------------------------------------
    ev = _events(rng, areas, ind, clin, codes)
    cos = ind == COS
    p_insuff = np.where(in_switch & (product == PRODUCT_INDEX[SWITCH_PRODUCT]), P_INSUFFICIENT_SWITCH,
                        P_INSUFFICIENT)
    insufficient = cos & (rng.random(P) < p_insuff)
    effect = np.full(P, FULL, dtype=np.int8)
    effect[insufficient] = np.where(rng.random(int(insufficient.sum())) < P_NONE_GIVEN_INSUFFICIENT, NONE, PARTIAL)
    u = rng.random(P)
    brux = ind == BRUX
    effect[brux] = np.where(u[brux] < 0.85, FULL, np.where(u[brux] < 0.97, PARTIAL, NONE))

    # Secondary non-response: patients treated over >= 3 years; full effect before, none from an onset session on
    # (reviewed, never corrected).
    snr_none, snr_before = _secondary_non_response(rng, pid, day, ind, p_first, E)
    effect[snr_before] = FULL
    effect[snr_none] = NONE
    # after the first failure the clinician tries a toxin without complexing proteins
    switch_after = snr_none & (day > _first_day(pid, day, snr_none))
    product[switch_after] = PRODUCT_INDEX["Bocouture"]
    units[switch_after] = eq[switch_after]

    # ---- review of cosmetic primaries and the corrections ------------------------------------------------------
    candidate = cos & ((effect != FULL) | ev[:, FL["asymmetry"]]) & ~snr_none
    rev_off = np.where(candidate, rng.integers(10, 18, P), rng.integers(10, 22, P))
    rev_day = _to_weekday(rng, day + rev_off, day + 10, day + np.where(candidate, 17, 21))
    has_review = cos & ((rng.random(P) < P_REVIEW_COSMETIC) | snr_none) & _lag_keep(rng, rev_day, E)
    corr_off = np.maximum(rev_day - day + rng.choice([0, 0, 0, 1, 2, 3, 4], size=P), 12)
    corr_off = np.minimum(corr_off, 20)
    corr_day = _to_weekday(rng, day + corr_off, np.maximum(rev_day, day + 12), day + 20)
    corr_ok = (corr_day <= E) & (corr_day >= rev_day) & (corr_day - day >= 12) & (corr_day - day <= 20)
    pool = candidate & has_review & corr_ok
    prio = rng.random(P) * np.where(effect != FULL, 1.0, 2.0)  # asymmetry alone is corrected less often
    K = n_treatments - P
    pool_idx = np.flatnonzero(pool)
    pool_idx = pool_idx[np.argsort(prio[pool_idx], kind="stable")]
    if len(pool_idx) < K:  # small data sets: patient-requested touch-ups after a full effect
        extra = np.flatnonzero(cos & has_review & ~pool & ~snr_none & corr_ok)
        extra = extra[np.argsort(prio[extra], kind="stable")]
        pool_idx = np.concatenate([pool_idx, extra])
        if len(pool_idx) < K:
            raise ValueError("n_treatments too small for the correction model")
    corrected = np.sort(pool_idx[:K])

    # Correction sessions.
    c_src = corrected
    c_day = corr_day[c_src]
    c_clin = clin[c_src].copy()
    other = rng.random(K) < 0.10
    c_clin[other] = rng.choice(n_clin, size=int(other.sum()), p=clin_w[COS])
    c_clin = _late_starters(rng, c_clin, c_day, np.full(K, COS), codes, professions, E)
    c_areas = areas[c_src].copy()
    subset = rng.random(K) < 0.4
    c_areas[subset] = _random_bit(rng, c_areas[subset])
    c_product = product[c_src]
    c_units = _native_units(rng.choice(np.array(CORRECTION_DOSE, dtype=float), size=K), c_product)
    c_minutes = rng.integers(10, 21, K).astype(float)

    # ---- all treatments, sorted by date ------------------------------------------------------------------------
    T = P + K
    t_pid = np.concatenate([pid, pid[c_src]])
    t_day = np.concatenate([day, c_day])
    t_corr = np.concatenate([np.zeros(P, bool), np.ones(K, bool)])
    order = np.lexsort((np.arange(T), t_corr, t_day))
    pos = np.empty(T, dtype=np.int64)
    pos[order] = np.arange(T)  # combined index -> row in the sorted table
    # prior_treatments: earlier sessions before the export (visit number of the first exported one) + rank since
    by_pat = np.lexsort((t_corr, t_day, t_pid))
    grp_start = np.r_[True, t_pid[by_pat][1:] != t_pid[by_pat][:-1]]
    first_row = np.maximum.accumulate(np.where(grp_start, np.arange(T), 0))
    rank = np.empty(T, dtype=np.int64)
    rank[by_pat] = np.arange(T) - first_row
    first_visit_of = np.full(n_patients, np.iinfo(np.int64).max)
    np.minimum.at(first_visit_of, pid, visit)
    prior = first_visit_of[t_pid] + rank

    t_ind = np.concatenate([ind, np.full(K, COS, dtype=np.int8)])
    t_src = np.concatenate([np.full(P, -1), c_src])  # corrected primary (combined index)
    treatments = {
        "pid": t_pid[order],
        "day": t_day[order],
        "clin": np.concatenate([clin, c_clin])[order],
        "ind": t_ind[order],
        "areas": np.concatenate([areas, c_areas])[order],
        "product": np.concatenate([product, c_product])[order],
        "units": np.concatenate([units, c_units])[order],
        "corrects": np.where(t_src[order] >= 0, pos[np.maximum(t_src[order], 0)], -1),  # sorted row or -1
        "price": np.concatenate([price, np.zeros(K)])[order],
        "minutes": np.concatenate([minutes, c_minutes])[order],
        "baseline_hd": np.concatenate([baseline_hd, np.full(K, np.nan)])[order],
        "baseline_hdss": np.concatenate([baseline_hdss, np.full(K, np.nan)])[order],
        "age": p_age[t_pid][order],
        "sex": p_sex[t_pid][order],
        "prior": prior[order],
        "risk": np.concatenate([risk, risk[c_src]])[order],
    }

    # ---- follow-up contacts ------------------------------------------------------------------------------------
    fu = _FollowUps()
    # Review of cosmetic primaries.
    r = np.flatnonzero(has_review)
    sat = _satisfaction(rng, effect[r], ev[r])
    fu.add(pos[r], rev_day[r], effect[r], ev[r], sat=sat)
    # Headache cycles.
    for i, p_fu, lo, hi in ((MIG, P_FU_MIGRAINE, 70, 84), (TTH, P_FU_TENSION, 28, 84)):
        s = np.flatnonzero(ind == i)
        seen = _to_weekday(rng, day[s] + rng.integers(lo, hi + 1, len(s)), day[s] + lo, day[s] + hi)
        keep = (rng.random(len(s)) < p_fu) & _lag_keep(rng, seen, E)
        s, seen = s[keep], seen[keep]
        b = baseline_hd[s]
        b_known = np.where(np.isnan(b), rng.integers(10, 26, len(s)), b)  # the diary exists, it was not exported
        responder = rng.random(len(s)) < p_resp[pid[s]]
        red = np.where(responder, rng.uniform(0.5, 0.9, len(s)), rng.uniform(-0.1, 0.49, len(s)))
        hd = np.where(responder, np.floor(b_known * (1 - red)),
                      np.maximum(np.ceil(b_known * (1 - red)), np.floor(b_known / 2) + 1))
        hd = np.clip(hd, 0, 31)
        eff = np.where(responder, FULL, np.where(red >= 0.25, PARTIAL, NONE)).astype(np.int8)
        fu.add(pos[s], seen, eff, ev[s], headache_days=hd, sat=_satisfaction(rng, eff, ev[s]))
    # Hyperhidrosis.
    s = np.flatnonzero(ind == HYP)
    seen = _to_weekday(rng, day[s] + rng.integers(14, 43, len(s)), day[s] + 14, day[s] + 42)
    keep = (rng.random(len(s)) < P_FU_HYPER) & _lag_keep(rng, seen, E)
    s, seen = s[keep], seen[keep]
    drop = np.where(rng.random(len(s)) < 0.90, rng.integers(2, 4, len(s)), rng.integers(0, 2, len(s)))
    after = np.maximum(baseline_hdss[s] - drop, 1)
    eff = np.where(baseline_hdss[s] - after >= 2, FULL, np.where(baseline_hdss[s] - after == 1, PARTIAL, NONE))
    eff = eff.astype(np.int8)
    fu.add(pos[s], seen, eff, ev[s], hdss=after, sat=_satisfaction(rng, eff, ev[s]))
    # Bruxism.
    s = np.flatnonzero(brux)
    seen = _to_weekday(rng, day[s] + rng.integers(14, 43, len(s)), day[s] + 14, day[s] + 42)
    keep = (rng.random(len(s)) < P_FU_BRUX) & _lag_keep(rng, seen, E)
    s, seen = s[keep], seen[keep]
    fu.add(pos[s], seen, effect[s], ev[s], sat=_satisfaction(rng, effect[s], ev[s]))
    # Early contacts (mostly the patient calling about a problem).
    inj = ev[:, INJECTION_SITE].any(axis=1)
    eye = ev[:, EYE].any(axis=1)
    p_early = np.where(inj, P_EARLY_INJECTION_SITE, P_EARLY_ROUTINE)
    p_early = np.where(eye, np.maximum(p_early, np.where(cos, P_EARLY_EYE_COSMETIC, P_EARLY_EYE_OTHER)), p_early)
    allergic = ev[:, FL["allergic_reaction"]]
    lo = np.where(allergic, 1, np.where(eye & ~inj, 3, 1))
    hi = np.where(allergic, 3, 7)
    e_off = lo + np.floor(rng.random(P) * (hi - lo + 1)).astype(np.int64)
    e_day = _to_weekday(rng, day + e_off, day + lo, day + hi)
    keep = (rng.random(P) < p_early) & _lag_keep(rng, e_day, E)
    s = np.flatnonzero(keep)
    e_ev = np.zeros((len(s), len(FLAGS)), dtype=bool)
    e_ev[:, INJECTION_SITE] = ev[s][:, INJECTION_SITE]
    e_ev[:, EYE] = ev[s][:, EYE] & (e_day[s] - day[s] >= 3)[:, None]
    fu.add(pos[s], e_day[s], np.full(len(s), NOT_ASSESSED, dtype=np.int8), e_ev)
    # Reviews of a few corrections.
    cs = np.flatnonzero(rng.random(K) < P_FU_CORRECTION)
    seen = _to_weekday(rng, c_day[cs] + rng.integers(10, 22, len(cs)), c_day[cs] + 10, c_day[cs] + 21)
    keep = _lag_keep(rng, seen, E)
    cs, seen = cs[keep], seen[keep]
    eff = np.where(rng.random(len(cs)) < 0.9, FULL, PARTIAL).astype(np.int8)
    c_ev = np.zeros((len(cs), len(FLAGS)), dtype=bool)
    c_ev[:, FL["bruising"]] = rng.random(len(cs)) < 0.02
    fu.add(pos[P + cs], seen, eff, c_ev, sat=_satisfaction(rng, eff, c_ev))

    follow_ups = fu.build()
    assert (follow_ups["seen"] <= E).all()
    bad = _choose_bad_rows(rng, n_treatments, treatments, follow_ups, E, codes)
    return {
        "treatments": treatments,
        "follow_ups": follow_ups,
        "bad": bad,
        "codes": codes,
        "patient_ref": _patient_ref(seed, n_patients),
        "start": S,
        "end": E,
    }


def _first_day(pid: np.ndarray, day: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per session: the first day among the masked sessions of the same patient (max int where none)."""
    first = np.full(int(pid.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, pid[mask], day[mask])
    return first[pid]


def _late_starters(rng, clin, day, ind, codes, professions, end):
    for code, days_before in LATE_STARTERS.items():
        if code not in codes:
            continue
        ci = codes.index(code)
        bad = (clin == ci) & (day < end - days_before)
        for i in np.unique(ind[bad]):
            m = bad & (ind == i)
            w = _clinician_weights(codes, professions, int(i)).copy()
            w[ci] = 0
            w = w / w.sum() if w.sum() > 0 else np.full(len(codes), 1 / len(codes))
            clin[m] = rng.choice(len(codes), size=int(m.sum()), p=w)
    return clin


def _native_units(eq: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Botox-equivalent units -> native units of the product (Speywood products ~2.5x, in steps of 2.5)."""
    return np.where(SPEYWOOD[product], np.round(eq * SPEYWOOD_PER_BOTOX_UNIT / 2.5) * 2.5, eq)


def _random_bit(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One randomly chosen area of each mask."""
    pick = np.floor(rng.random(len(mask)) * _popcount(mask)).astype(np.int64)
    out = np.zeros_like(mask)
    seen = np.zeros(len(mask), dtype=np.int64)
    for i in range(len(AREA_NAMES)):
        has = ((mask >> i) & 1) == 1
        hit = has & (seen == pick) & (out == 0)
        out[hit] = 1 << i
        seen += has
    return out


def _events(rng, areas, ind, clin, codes) -> np.ndarray:
    """True complication events per session, in contract.COMPLICATION_FLAGS order."""
    n = len(areas)
    ev = np.zeros((n, len(FLAGS)), dtype=bool)
    upper = (areas & UPPER) != 0
    has_g, has_fh, has_cf = (areas & G) != 0, (areas & FH) != 0, (areas & CF) != 0
    p_eyelid = np.select([has_g & has_fh, has_g, upper], [P_EYELID_G_FH, P_EYELID_G_ONLY, P_EYELID_OTHER_UPPER], 0)
    p_brow = np.select([has_fh, upper], [P_BROW_FH, P_BROW_OTHER_UPPER], 0)
    if PTOSIS_CLINICIAN in codes:
        bad = clin == codes.index(PTOSIS_CLINICIAN)
        p_eyelid = np.where(bad, p_eyelid * PTOSIS_MULTIPLIER, p_eyelid)
        p_brow = np.where(bad, p_brow * (1 + PTOSIS_MULTIPLIER) / 2, p_brow)
    face = (ind == COS) | (ind == BRUX)
    probs = {
        "eyelid_ptosis": p_eyelid,
        "brow_ptosis": p_brow,
        "asymmetry": np.where(face, P_ASYMMETRY, 0),
        "dry_eye": np.select([has_cf, upper], [P_DRY_EYE_CF, P_DRY_EYE_OTHER_UPPER], 0),
        "double_vision": np.where(upper, P_DOUBLE_VISION, 0),
        "bruising": P_BRUISING, "pain": P_PAIN, "bleeding": P_BLEEDING, "itching": P_ITCHING,
        "infection": P_INFECTION, "allergic_reaction": P_ALLERGIC,
    }
    for flag in FLAGS:
        ev[:, FL[flag]] = rng.random(n) < probs[flag]
    return ev


def _satisfaction(rng, effect: np.ndarray, ev: np.ndarray) -> np.ndarray:
    n = len(effect)
    u = rng.random(n)
    sat = np.select(
        [effect == FULL, effect == PARTIAL],
        [np.where(u < 0.60, 5, np.where(u < 0.93, 4, 3)), np.where(u < 0.20, 4, np.where(u < 0.70, 3, 2))],
        np.where(u < 0.10, 3, np.where(u < 0.50, 2, 1)),
    )
    visible = ev[:, [FL["asymmetry"], FL["eyelid_ptosis"], FL["brow_ptosis"]]].any(axis=1)
    sat = np.clip(sat - visible * np.where(rng.random(n) < 0.5, 1, 2), 1, 5).astype(float)
    sat[rng.random(n) < 0.08] = np.nan  # not asked / not answered
    return sat


def _secondary_non_response(rng, pid, day, ind, p_first, end):
    """Secondary non-response (antibodies): a few patients treated over >= 3 years lose the effect.

    Returns (sessions with effect none: the onset, i.e. the patient's second-to-last cosmetic session at least 30
    days before end_date, and every later one; earlier sessions of the same patients, which had full effect).
    """
    P = len(pid)
    cos = ind == COS
    none = np.zeros(P, bool)
    before = np.zeros(P, bool)
    idx = np.flatnonzero(cos & (day <= end - 30))
    idx = idx[np.lexsort((day[idx], pid[idx]))]
    pp = pid[idx]
    if len(idx) == 0:
        return none, before
    new_group = np.r_[True, pp[1:] != pp[:-1]]
    first_pos = np.maximum.accumulate(np.where(new_group, np.arange(len(idx)), 0))
    rank = np.arange(len(idx)) - first_pos
    size = np.bincount(pp, minlength=len(p_first))[pp]
    is_onset = (size - 1 - rank == 1) & (rank >= 2) & (day[idx] - p_first[pp] >= 3 * 365)
    onset_of = np.full(len(p_first), np.iinfo(np.int64).max)
    onset_of[pp[is_onset]] = day[idx[is_onset]]
    eligible = np.flatnonzero(onset_of < np.iinfo(np.int64).max)
    if len(eligible) == 0:
        return none, before
    k = max(1, round(SNR_SHARE * len(eligible)))
    chosen = np.zeros(len(p_first), bool)
    chosen[rng.choice(eligible, size=k, replace=False)] = True
    sel = cos & chosen[pid]
    none = sel & (day >= onset_of[pid])
    before = sel & (day < onset_of[pid])
    return none, before


class _FollowUps:
    def __init__(self) -> None:
        self.parts: list[dict] = []

    def add(self, tpos, seen, effect, ev, *, headache_days=None, hdss=None, sat=None) -> None:
        n = len(tpos)
        nan = np.full(n, np.nan)
        self.parts.append({
            "tpos": np.asarray(tpos, dtype=np.int64),
            "seen": np.asarray(seen, dtype=np.int64),
            "effect": np.asarray(effect, dtype=np.int8),
            "flags": np.asarray(ev, dtype=bool),
            "headache_days": nan if headache_days is None else np.asarray(headache_days, dtype=float),
            "hdss": nan if hdss is None else np.asarray(hdss, dtype=float),
            "sat": nan if sat is None else np.asarray(sat, dtype=float),
        })

    def build(self) -> dict:
        out = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.lexsort((out["tpos"], out["seen"]))
        return {k: v[order] for k, v in out.items()}


def _choose_bad_rows(rng, n_treatments, t, f, end, codes) -> dict:
    """Rows to spoil, chosen among rows nothing else depends on. Returns kind -> sorted row numbers."""
    k = expected_bad_rows(n_treatments)["unknown_clinician"]
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

    month, _ = _months_days(t["day"])
    years, year_of = np.unique(_years(t["day"]), return_inverse=True)
    feb_in_window = np.array([_day(dt.date(int(y), 2, 28)) <= end for y in years])[year_of]
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


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Convention:
    sep: str
    encoding: str
    date: str  # "iso" or "nb"
    comma_decimal: bool
    yes_no: tuple[str, str]
    norwegian_headers: bool
    norwegian_values: bool
    eol: str


EN = _Convention(",", "utf-8", "iso", False, ("yes", "no"), False, False, "\n")
EN_SEMICOLON = _Convention(";", "utf-8", "nb", True, ("ja", "nei"), False, False, "\n")
NB_LEGACY = _Convention(";", "cp1252", "nb", True, ("ja", "nei"), True, True, "\r\n")


def _norwegian_headers() -> dict[str, str]:
    """Contract column -> the first Norwegian header that data/column_map_nb.csv maps to it."""
    out: dict[str, str] = {}
    with COLUMN_MAP_PATH.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["column"].strip(), row["source_column"].strip())
    return out


def _year_conventions(start: int, end: int) -> dict[int, tuple[_Convention, _Convention]]:
    """Calendar year -> (treatments convention, follow-ups convention).

    The old journal system (legacy Norwegian export) ran until the first year with at least half a year in the
    exported period; the year after it, follow-ups came from a spreadsheet in Norwegian locale; then plain CSV.
    """
    y0, y1 = int(_years(np.array([start]))[0]), int(_years(np.array([end]))[0])
    legacy_until = y0
    for y in range(y0, y1 + 1):
        first = max(start, _day(dt.date(y, 1, 1)))
        last = min(end, _day(dt.date(y, 12, 31)))
        legacy_until = y
        if last - first + 1 >= 182:
            break
    out = {}
    for y in range(y0, y1 + 1):
        if y <= legacy_until:
            out[y] = (NB_LEGACY, NB_LEGACY)
        elif y == legacy_until + 1:
            out[y] = (EN, EN_SEMICOLON)
        else:
            out[y] = (EN, EN)
    return out


def _dict(indices: np.ndarray, values) -> pa.DictionaryArray:
    """A column of strings as a dictionary array (cheap to build, written as its values)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), pa.array(list(values)))


def _fmt_dates(days: np.ndarray, style: str) -> pa.Array:
    d = pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())
    return pc.cast(d, pa.string()) if style == "iso" else pc.strftime(d, "%d.%m.%Y")


def _fmt_num(values: np.ndarray, comma: bool) -> pa.Array:
    """Numbers as text: ``20``, ``37.5`` (``37,5`` with a decimal comma); NaN -> empty."""
    out = pc.cast(pa.array(np.asarray(values, dtype=float), from_pandas=True), pa.string())
    return pc.replace_substring(out, ".", ",") if comma else out


def _fmt_bool(values: np.ndarray, conv: _Convention) -> pa.Array:
    return _dict(np.asarray(values, dtype=np.int8), (conv.yes_no[1], conv.yes_no[0]))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width=width,
                          padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _replace(arr: pa.Array, rows: np.ndarray, values: list[str]) -> pa.Array:
    if len(rows) == 0:
        return arr
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    order = np.argsort(rows, kind="stable")
    return pc.replace_with_mask(arr, pa.array(mask), pa.array([values[i] for i in order], type=arr.type))


def _area_names(norwegian: bool) -> list[str]:
    names = [NB_AREA[a] if norwegian else a for a in AREA_NAMES]
    return [C.AREA_SEPARATOR.join(n for i, n in enumerate(names) if mask >> i & 1)
            for mask in range(1 << len(AREA_NAMES))]


def _write_files(out_dir: Path, data: dict, end: int) -> list[Path]:
    t, f, bad = data["treatments"], data["follow_ups"], data["bad"]
    S = data["start"]
    codes = list(data["codes"])
    T, F = len(t["day"]), len(f["seen"])
    t_width, f_width = max(7, len(str(T))), max(7, len(str(F)))
    nb_headers = _norwegian_headers()
    conventions = _year_conventions(S, end)

    t_ids = _ids("T", np.arange(1, T + 1), t_width)
    t_year = _years(t["day"])
    f_year = _years(f["seen"])

    # The bad rows (they stay in the file of their original year).
    clin = t["clin"].copy()
    for r in bad["unknown_clinician"]:
        c = codes[clin[r]]
        typo = c[0] + c[1:].lstrip("0") if c[1:].lstrip("0") else c + "X"  # C07 -> C7
        if typo not in codes:
            codes.append(typo)
        clin[r] = codes.index(typo)
    units = t["units"].copy()
    units[bad["nonpositive_units"]] = np.where(np.arange(len(bad["nonpositive_units"])) % 2 == 0, -5.0, 0.0)
    f_tid = t_ids.take(pa.array(f["tpos"]))
    orphan = bad["orphan_follow_up"]
    f_tid = _replace(f_tid, orphan, [s[0] + "0" + s[1:] for s in f_tid.take(pa.array(orphan)).to_pylist()])
    f_seen = f["seen"].copy()
    for r in bad["follow_up_before_treatment"]:  # a year typo
        d = dt.date(1970, 1, 1) + dt.timedelta(days=int(f_seen[r]))
        f_seen[r] = _day(d.replace(year=d.year - 1, day=min(d.day, 28) if d.month == 2 else d.day))
    invalid_date = set(bad["invalid_date"].tolist())

    t_files, f_files = [], []
    for y in sorted(conventions):
        t_conv, f_conv = conventions[y]
        rows = np.flatnonzero(t_year == y)
        if len(rows):
            name = f"behandlinger_{y}.csv" if t_conv.norwegian_headers else f"treatments_{y}.csv"
            table = _treatment_table(t, rows, t_conv, t_ids, clin, codes, units, data["patient_ref"],
                                     invalid_date, nb_headers)
            t_files.append(_to_csv(table, out_dir / name, t_conv))
        rows = np.flatnonzero(f_year == y)
        if len(rows):
            table = _follow_up_table(f, rows, f_conv, f_tid, f_seen, f_width, nb_headers)
            f_files.append(_to_csv(table, out_dir / f"follow_ups_{y}.csv", f_conv))
    return t_files + f_files


def _header(name: str, conv: _Convention, nb_headers: dict[str, str]) -> str:
    return nb_headers.get(name, name) if conv.norwegian_headers else name


def _treatment_table(t, rows, conv, t_ids, clin, codes, units, refs, invalid_date, nb_headers) -> pa.Table:
    nbv, comma = conv.norwegian_values, conv.comma_decimal
    dates = _fmt_dates(t["day"][rows], conv.date)
    bad_at = [i for i, r in enumerate(rows.tolist()) if r in invalid_date]
    if bad_at:
        texts = []
        for j, i in enumerate(bad_at):
            y, day = int(_years(t["day"][rows[i:i + 1]])[0]), (31, 30)[j % 2]
            texts.append(f"{day:02d}.02.{y}" if conv.date == "nb" else f"{y}-02-{day:02d}")
        dates = _replace(dates, np.array(bad_at), texts)
    corr = t["corrects"][rows]
    corr_ids = t_ids.take(pa.array(np.maximum(corr, 0), mask=corr < 0))
    cols = {
        "treatment_id": t_ids.take(pa.array(rows)),
        "patient_ref": _dict(t["pid"][rows], refs),
        "treated_on": dates,
        "clinician": _dict(clin[rows], codes),
        "indication": _dict(t["ind"][rows], [NB_INDICATION[i] if nbv else i for i in IND]),
        "areas": _dict(t["areas"][rows], _area_names(nbv)),
        "product": _dict(t["product"][rows], PRODUCTS),
        "units": _fmt_num(units[rows], comma),
        "corrects_treatment_id": corr_ids,
        "price_nok": _fmt_num(t["price"][rows], comma),
        "minutes": _fmt_num(t["minutes"][rows], comma),
        "baseline_headache_days": _fmt_num(t["baseline_hd"][rows], comma),
        "baseline_hdss": _fmt_num(t["baseline_hdss"][rows], comma),
        "age_band": _dict(t["age"][rows], AGE_BANDS),
        "sex": _dict(t["sex"][rows], [NB_SEX[x] if nbv else x for x in SEX_CODES]),
        "prior_treatments": _fmt_num(t["prior"][rows], comma),
        "neuromuscular_disease": _fmt_bool(t["risk"][rows, 0], conv),
        "aminoglycoside_antibiotics": _fmt_bool(t["risk"][rows, 1], conv),
        "pregnant_or_breastfeeding": _fmt_bool(t["risk"][rows, 2], conv),
    }
    assert tuple(cols) == C.TREATMENTS.column_names
    return pa.table({_header(k, conv, nb_headers): v for k, v in cols.items()})


def _follow_up_table(f, rows, conv, f_tid, f_seen, f_width, nb_headers) -> pa.Table:
    comma = conv.comma_decimal
    cols = {
        "follow_up_id": _ids("F", rows + 1, f_width),
        "treatment_id": f_tid.take(pa.array(rows)),
        "seen_on": _fmt_dates(f_seen[rows], conv.date),
        "effect": _dict(f["effect"][rows], [NB_EFFECT[e] if conv.norwegian_values else e for e in EFFECT_CODES]),
    }
    for flag in FLAGS:
        cols[flag] = _fmt_bool(f["flags"][rows, FL[flag]], conv)
    cols["headache_days"] = _fmt_num(f["headache_days"][rows], comma)
    cols["hdss"] = _fmt_num(f["hdss"][rows], comma)
    cols["satisfaction"] = _fmt_num(f["sat"][rows], comma)
    assert tuple(cols) == C.FOLLOW_UPS.column_names
    return pa.table({_header(k, conv, nb_headers): v for k, v in cols.items()})


def _to_csv(table: pa.Table, path: Path, conv: _Convention) -> Path:
    buf = io.BytesIO()
    buf.write((conv.sep.join(table.column_names) + conv.eol).encode("utf-8"))
    options = pa_csv.WriteOptions(include_header=False, delimiter=conv.sep, quoting_style="none", eol=conv.eol)
    pa_csv.write_csv(table, buf, options)
    raw = buf.getvalue()
    if conv.encoding != "utf-8":
        raw = raw.decode("utf-8").encode(conv.encoding)
    path.write_bytes(raw)
    return path


def _copy_reference(src: Path, dst: Path, end: dt.date) -> Path:
    """Copy a reference file; drop price rows that start after end_date (no date in the exports is later)."""
    if src.resolve() == dst.resolve():
        return dst
    if src.name != "product_prices.csv":
        shutil.copyfile(src, dst)
        return dst
    text = src.read_bytes().decode("utf-8")
    lines = text.splitlines(keepends=True)
    header = [h.strip() for h in lines[0].strip().split(",")]
    at = header.index("valid_from")
    kept = [lines[0]]
    for line in lines[1:]:
        fields = line.strip().split(",")
        if len(fields) > at and fields[at] and fields[at] > end.isoformat():
            continue
        kept.append(line)
    dst.write_bytes("".join(kept).encode("utf-8"))
    return dst


# --------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.demo.generate", description="Write synthetic clinic exports.")
    ap.add_argument("--out", type=Path, default=DATA_DIR / "demo_exports")
    ap.add_argument("--n", type=int, default=20_000, help="number of treatment rows")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", type=dt.date.fromisoformat, default=None)
    args = ap.parse_args(argv)
    for p in write_demo_exports(args.out, n_treatments=args.n, seed=args.seed, end_date=args.end_date):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
