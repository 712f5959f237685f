"""The patterns planted in the demo data for the dashboard to find (numbered as in ``generate.py``'s docstring).

1. ``raise_ptosis_risk``: clinician ``PTOSIS_CLINICIAN`` has ``PTOSIS_MULTIPLIER`` times the eyelid-ptosis risk;
2. ``switch_products`` and ``insufficient_effect_probability``: four months of mostly Letybo in cosmetic
   sessions, with insufficient effect rising to ``P_INSUFFICIENT_SWITCH``;
3. ``registration_probability`` / ``lag_keep``: the newest follow-up contacts are not registered yet;

and, not numbered there, ``secondary_non_response``: a few long-treated cosmetic patients lose the effect.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo.params import (
    COS,
    FULL,
    LAG_FULL_DAYS,
    LAG_MIN,
    NONE,
    P_INSUFFICIENT,
    P_INSUFFICIENT_SWITCH,
    PRODUCT_INDEX,
    PTOSIS_CLINICIAN,
    PTOSIS_MULTIPLIER,
    SNR_SHARE,
    SWITCH_LENGTH_DAYS,
    SWITCH_PRODUCT,
    SWITCH_SHARE,
    SWITCH_START_DAYS,
)

# ---- pattern 1: the clinician with raised ptosis risk -------------------------------------------------------

def raise_ptosis_risk(p_eyelid: np.ndarray, p_brow: np.ndarray, clin: np.ndarray, codes) -> tuple[np.ndarray, ...]:
    """Per-session (eyelid, brow) ptosis probabilities with ``PTOSIS_CLINICIAN``'s sessions raised (pattern 1).

    Eyelid ptosis x ``PTOSIS_MULTIPLIER``, brow ptosis x half as much above 1 (``(1 + multiplier) / 2``). A
    clinicians.csv without that code changes nothing.
    """
    if PTOSIS_CLINICIAN not in codes:
        return p_eyelid, p_brow
    bad = clin == codes.index(PTOSIS_CLINICIAN)
    p_eyelid = np.where(bad, p_eyelid * PTOSIS_MULTIPLIER, p_eyelid)
    p_brow = np.where(bad, p_brow * (1 + PTOSIS_MULTIPLIER) / 2, p_brow)
    return p_eyelid, p_brow


# ---- pattern 2: the product switch ---------------------------------------------------------------------------

def switch_products(rng: np.random.Generator, product: np.ndarray, day: np.ndarray, ind: np.ndarray,
                    end: int) -> np.ndarray:
    """Switch ``SWITCH_SHARE`` of the cosmetic sessions in the switch months to ``SWITCH_PRODUCT`` (pattern 2).

    Changes ``product`` in place; returns whether each session falls in the switch months
    (``SWITCH_START_DAYS`` before ``end``, for ``SWITCH_LENGTH_DAYS``). Draws one number per session.
    """
    sw_lo, sw_hi = end - SWITCH_START_DAYS, end - SWITCH_START_DAYS + SWITCH_LENGTH_DAYS
    in_switch = (day >= sw_lo) & (day < sw_hi)
    switched = in_switch & (ind == COS) & (rng.random(len(day)) < SWITCH_SHARE)
    product[switched] = PRODUCT_INDEX[SWITCH_PRODUCT]
    return in_switch


def insufficient_effect_probability(in_switch: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Per session: probability of partial / no effect at the review if cosmetic (pattern 2's rise)."""
    return np.where(in_switch & (product == PRODUCT_INDEX[SWITCH_PRODUCT]), P_INSUFFICIENT_SWITCH, P_INSUFFICIENT)


# ---- pattern 3: registration lag of the newest follow-up contacts ----------------------------------------------

def registration_probability(age_days: np.ndarray) -> np.ndarray:
    """Probability that a contact ``age_days`` before end_date is in the export: ``LAG_MIN`` on the day itself,
    rising linearly to 1 at ``LAG_FULL_DAYS`` (pattern 3). Contacts after end_date are handled by ``lag_keep``."""
    return np.clip(LAG_MIN + (1 - LAG_MIN) * age_days / LAG_FULL_DAYS, 0, 1)


def lag_keep(rng: np.random.Generator, seen: np.ndarray, end: int) -> np.ndarray:
    """Registration lag: is a contact on ``seen`` already in the export at ``end``? (pattern 3)

    Never for a contact after ``end`` (it has not happened yet). Draws one number per contact.
    """
    p = registration_probability(end - seen)
    return (rng.random(len(seen)) < p) & (seen <= end)


# ---- secondary non-response --------------------------------------------------------------------------------

def secondary_non_response(rng: np.random.Generator, pid: np.ndarray, day: np.ndarray, ind: np.ndarray,
                           p_first: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Secondary non-response (antibodies): a few patients treated over >= 3 years lose the effect.

    Returns (sessions with effect none: the onset, i.e. the patient's second-to-last cosmetic session at least 30
    days before end_date, and every later one; earlier sessions of the same patients, which had full effect).
    ``SNR_SHARE`` of the eligible patients are chosen (at least one if any is eligible).
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


def plant_secondary_non_response(rng: np.random.Generator, s, p_first: np.ndarray, end: int) -> np.ndarray:
    """Give the secondary non-responders of ``secondary_non_response`` their effects; return the "none" sessions.

    Sets ``s.effect`` (full before the onset, none from it on) and, after the first failure, the clinician tries
    a toxin without complexing proteins: ``s.product`` Bocouture with ``s.units`` = the Botox-equivalent dose.
    """
    snr_none, snr_before = secondary_non_response(rng, s.pid, s.day, s.ind, p_first, end)
    s.effect[snr_before] = FULL
    s.effect[snr_none] = NONE
    switch_after = snr_none & (s.day > first_day(s.pid, s.day, snr_none))
    s.product[switch_after] = PRODUCT_INDEX["Bocouture"]
    s.units[switch_after] = s.eq[switch_after]
    return snr_none


def first_day(pid: np.ndarray, day: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per session: the first day among the masked sessions of the same patient (max int where none)."""
    first = np.full(int(pid.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, pid[mask], day[mask])
    return first[pid]
