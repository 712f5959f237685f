"""The clinic, its patients and their chains of visits: who comes back, when, and to whom.

The steps, in the order ``generate._generate`` calls them (each draws from the one random generator, so the order
is part of the output): ``primary_visits`` (new patients per indication and their chains of return visits, on
open days), then ``patient_traits`` (sex, age band, own clinician, usual areas, headache response).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.demo.dates import months_days, to_day, to_weekday
from pipelines.demo.params import (
    AGE_BANDS,
    AGE_MIX,
    ALLOWED_PROFESSIONS,
    ARRIVAL_RAMP,
    BRUX,
    CHAINS,
    COS,
    COSMETIC_AREAS,
    DEFAULT_VOLUME,
    HN,
    HYP,
    HYPER_AREAS,
    IND,
    IND_SHARE,
    LATE_STARTERS,
    MAS,
    MIG,
    MIGRAINE_AREAS,
    P_FEMALE,
    PRE_DAYS,
    TTH,
    VOLUME,
    WINDOW_DAYS,
    Chain,
)

# ==============================================================================================================
# What the steps pass on
# ==============================================================================================================

@dataclass(frozen=True)
class Window:
    """The exported period, as days since 1970-01-01, both ends included."""

    start: int
    end: int

    @classmethod
    def ending(cls, end_date) -> Window:
        """The ``WINDOW_DAYS`` ending at ``end_date``."""
        end = to_day(end_date)
        return cls(end - WINDOW_DAYS + 1, end)


@dataclass(frozen=True)
class Clinic:
    """The clinicians of clinicians.csv and, per indication, the probability that each one treats a patient."""

    codes: tuple[str, ...]
    professions: tuple[str, ...]  # stripped, lower case
    weights: dict[int, np.ndarray]  # indication -> probability per clinician (``clinician_weights``)

    @classmethod
    def from_frame(cls, clinicians: pd.DataFrame) -> Clinic:
        """From the rows of clinicians.csv (columns ``clinician``, ``profession``)."""
        codes = tuple(clinicians["clinician"])
        professions = tuple(p.strip().lower() for p in clinicians["profession"])
        return cls(codes, professions, {i: clinician_weights(codes, professions, i) for i in range(len(IND))})

    @property
    def n(self) -> int:
        """Number of clinicians."""
        return len(self.codes)


@dataclass(frozen=True)
class Visits:
    """Primary sessions (no corrections) from ``primary_visits``: grouped by indication, then patient, in visit
    order; patients numbered 0.. over all indications (only those with a session in the window)."""

    pid: np.ndarray  # per session: patient number
    day: np.ndarray  # per session: day, on an open day
    visit: np.ndarray  # per session: visit number since the patient's first-ever session (0 = that session)
    ind: np.ndarray  # per session: indication (index into IND)
    p_first: np.ndarray  # per patient: day of the first-ever session (may be before the window)
    p_ind: np.ndarray  # per patient: indication


@dataclass(frozen=True)
class Patients:
    """Per patient (``Visits`` numbering), from ``patient_traits``."""

    ind: np.ndarray
    first: np.ndarray  # first-ever session day
    sex: np.ndarray  # index into SEX_CODES
    age: np.ndarray  # index into AGE_BANDS
    clin: np.ndarray  # own clinician (index into Clinic.codes)
    areas: np.ndarray  # usual areas (bit mask)
    resp: np.ndarray  # headache response propensity
    neuro: np.ndarray  # neuromuscular disease


# ==============================================================================================================
# Small helpers
# ==============================================================================================================
def weighted_choice(rng: np.random.Generator, weights: dict, n: int) -> np.ndarray:
    """``n`` keys of ``weights`` drawn with probability proportional to their values."""
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


_KNOWN_CODES = {c for v in VOLUME.values() for c in v}


def clinician_weights(codes, professions, ind: int) -> np.ndarray:
    """Probability that each clinician treats a patient with indication ``ind``: ``VOLUME``, or
    ``DEFAULT_VOLUME`` for a code not in it (an edited clinicians.csv), where the profession may treat it."""
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


def late_starters(rng: np.random.Generator, clin: np.ndarray, day: np.ndarray, ind: np.ndarray, clinic: Clinic,
                  end: int) -> np.ndarray:
    """Give sessions before a ``LATE_STARTERS`` clinician's first day to someone else (changes ``clin``)."""
    codes = clinic.codes
    for code, days_before in LATE_STARTERS.items():
        if code not in codes:
            continue
        ci = codes.index(code)
        bad = (clin == ci) & (day < end - days_before)
        for i in np.unique(ind[bad]):
            m = bad & (ind == i)
            w = clinic.weights[int(i)].copy()
            w[ci] = 0
            w = w / w.sum() if w.sum() > 0 else np.full(len(codes), 1 / len(codes))
            clin[m] = rng.choice(len(codes), size=int(m.sum()), p=w)
    return clin


# ==============================================================================================================
# Patients and their chains of visits
# ==============================================================================================================

def primary_visits(rng: np.random.Generator, n_primary: int, window: Window) -> Visits:
    """Exactly ``n_primary`` primary sessions in the window, ``IND_SHARE`` of them per indication (the rounding
    rest to cosmetic), from chains of return visits; July sessions partly moved to August (fellesferie), all
    moved off weekends and holidays."""
    targets = [round(n_primary * s) for s in IND_SHARE]
    targets[COS] += n_primary - sum(targets)
    pid_parts, day_parts, visit_parts, ind_parts, first_parts, pind_parts = [], [], [], [], [], []
    n_patients = 0
    for ind in range(len(IND)):
        pats, days, visits, firsts = chains(rng, ind, targets[ind], window.start, window.end)
        used, pats = np.unique(pats, return_inverse=True)  # renumber: only patients with exported sessions
        pid_parts.append(pats + n_patients)
        day_parts.append(days)
        visit_parts.append(visits)
        ind_parts.append(np.full(len(days), ind, dtype=np.int8))
        first_parts.append(firsts[used])
        pind_parts.append(np.full(len(used), ind, dtype=np.int8))
        n_patients += len(used)
    day = np.concatenate(day_parts)
    assert len(day) == n_primary
    return Visits(
        pid=np.concatenate(pid_parts),
        day=on_open_days(rng, day, window),
        visit=np.concatenate(visit_parts).astype(np.int64),
        ind=np.concatenate(ind_parts),
        p_first=np.concatenate(first_parts),
        p_ind=np.concatenate(pind_parts),
    )


def on_open_days(rng: np.random.Generator, day: np.ndarray, window: Window) -> np.ndarray:
    """Fewer sessions in the fellesferie (half of those on 8-28 July moved three weeks on), none at weekends."""
    month, dom = months_days(day)
    holiday = (month == 7) & (dom >= 8) & (dom <= 28) & (rng.random(len(day)) < 0.5) & (day + 21 <= window.end)
    day = np.where(holiday, day + 21, day)
    return to_weekday(rng, day, window.start, window.end)


def chains(rng: np.random.Generator, ind: int, target: int, start: int, end: int):
    """Visit chains of new patients until exactly ``target`` sessions fall in [start, end].

    Returns (patient number within this indication, session day, visit number since the patient's first ever
    session) per session, grouped by patient in visit order, and each patient's first-ever day.
    """
    p = CHAINS[ind]
    t0 = start - PRE_DAYS
    max_visits = int((end - t0) // (p.gap_lo * (1 - p.jitter))) + 2
    pats, days, visits, firsts = [], [], [], []
    got, n_pat, rate = 0, 0, p.guess_sessions
    while got < target:
        need = target - got
        m = min(max(int(need / rate * 1.1) + 16, 64), 200_000)
        first, when, valid = new_patients(rng, p, m, max_visits, start, end)
        per = valid.sum(axis=1)
        rate = max(per.sum() / m, 0.05)
        keep_first_sessions(valid, per, need)
        rr, cc = np.nonzero(valid)
        pats.append(rr + n_pat)
        days.append(when[rr, cc].astype(np.int64))
        visits.append(cc)
        firsts.append(first)
        n_pat += m
        got += len(rr)
    return np.concatenate(pats), np.concatenate(days), np.concatenate(visits), np.concatenate(firsts)


def new_patients(rng: np.random.Generator, p: Chain, m: int, max_visits: int, start: int, end: int):
    """A batch of ``m`` new patients: first-ever day (arrivals rising by ``ARRIVAL_RAMP`` from ``PRE_DAYS``
    before ``start`` to ``end``), every potential visit day, and which of those visits happen inside the window.

    Returns (first day per patient, visit days (m, max_visits), is-exported-visit (m, max_visits)).
    """
    t0 = start - PRE_DAYS
    span = end - t0
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
    return first, when, valid


def keep_first_sessions(valid: np.ndarray, per: np.ndarray, need: int) -> None:
    """Trim ``valid`` (patients x visits, ``per`` = its row sums) in place to the first ``need`` sessions: whole
    patients up to the one that crosses ``need``, that one's first visits, nobody after it."""
    csum = np.cumsum(per)
    if csum[-1] <= need:
        return
    last = int(np.searchsorted(csum, need))
    keep_prev = int(csum[last - 1]) if last > 0 else 0
    valid[last + 1:] = False
    row = valid[last]
    idx = np.flatnonzero(row)
    row[idx[need - keep_prev:]] = False
    valid[last] = row


def patient_traits(rng: np.random.Generator, visits: Visits, clinic: Clinic) -> Patients:
    """Per patient: sex (``P_FEMALE``), age band (``AGE_MIX``), own clinician (``Clinic.weights``), usual areas,
    headache response propensity (good or poor responders, half each) and a rare neuromuscular disease."""
    p_ind = visits.p_ind
    n_patients = len(p_ind)
    p_sex = np.empty(n_patients, dtype=np.int8)
    p_age = np.empty(n_patients, dtype=np.int8)
    p_clin = np.empty(n_patients, dtype=np.int64)
    p_areas = np.zeros(n_patients, dtype=np.int64)
    p_resp = np.zeros(n_patients)
    for i in range(len(IND)):
        m = p_ind == i
        k = int(m.sum())
        u = rng.random(k)
        p_sex[m] = np.where(u < P_FEMALE[i], 0, np.where(u < 1 - 0.005, 1, 2))
        p_age[m] = rng.choice(len(AGE_BANDS), size=k, p=np.array(AGE_MIX[i]) / sum(AGE_MIX[i]))
        p_clin[m] = rng.choice(clinic.n, size=k, p=clinic.weights[i])
        p_areas[m] = usual_areas(rng, i, k)
        good = rng.random(k) < 0.5
        p_resp[m] = np.where(good, 0.75, 0.15) if i == MIG else np.where(good, 0.60, 0.10)
    p_neuro = rng.random(n_patients) < 0.0015
    return Patients(ind=p_ind, first=visits.p_first, sex=p_sex, age=p_age, clin=p_clin, areas=p_areas,
                    resp=p_resp, neuro=p_neuro)


_USUAL_AREAS = {COS: COSMETIC_AREAS, MIG: MIGRAINE_AREAS, HYP: HYPER_AREAS}
_FIXED_AREAS = {TTH: HN, BRUX: MAS}


def usual_areas(rng: np.random.Generator, ind: int, k: int):
    """The areas ``k`` patients with indication ``ind`` are usually treated in (tension headache: head/neck,
    bruxism: masseter, without a draw)."""
    if ind in _FIXED_AREAS:
        return _FIXED_AREAS[ind]
    return weighted_choice(rng, _USUAL_AREAS[ind], k)


def patient_refs(seed: int, n: int) -> np.ndarray:
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
