"""Follow-up contacts of the demo: reviews, headache diaries, HDSS, early calls about a problem.

``follow_up_contacts`` adds the kinds in a fixed order (each draws from the one random generator). Every contact
goes through ``planted.lag_keep``, so the newest ones are missing (pattern 3).
"""

from __future__ import annotations

import numpy as np

from pipelines.demo.dates import to_weekday
from pipelines.demo.params import (
    BRUX,
    COS,
    EYE,
    FL,
    FLAGS,
    FULL,
    HYP,
    INJECTION_SITE,
    MIG,
    NONE,
    NOT_ASSESSED,
    P_EARLY_EYE_COSMETIC,
    P_EARLY_EYE_OTHER,
    P_EARLY_INJECTION_SITE,
    P_EARLY_ROUTINE,
    P_FU_BRUX,
    P_FU_CORRECTION,
    P_FU_HYPER,
    P_FU_MIGRAINE,
    P_FU_TENSION,
    PARTIAL,
    TTH,
)
from pipelines.demo.planted import lag_keep
from pipelines.demo.sessions import Corrections, Reviews, Sessions


class FollowUps:
    """Collects follow-up contacts kind by kind; ``build`` sorts them by (seen, treatment row)."""

    def __init__(self) -> None:
        self.parts: list[dict] = []

    def add(self, tpos, seen, effect, ev, *, headache_days=None, hdss=None, sat=None) -> None:
        """Contacts for treatment rows ``tpos`` on days ``seen``; measures not given are NaN."""
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
        """All contacts: column -> array, sorted by (seen, treatment row), kinds in the order added on ties."""
        out = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.lexsort((out["tpos"], out["seen"]))
        return {k: v[order] for k, v in out.items()}


def follow_up_contacts(rng: np.random.Generator, s: Sessions, reviews: Reviews, c: Corrections, row_of: np.ndarray,
                       p_resp: np.ndarray, end: int) -> dict:
    """All follow-up contacts, sorted by day: column -> array (``tpos`` is the treatment's sorted row).

    ``row_of`` is ``sessions.assemble_treatments``'s sorted row per session (primaries, then corrections);
    ``p_resp`` the patients' headache response propensity.
    """
    fu = FollowUps()
    add_cosmetic_reviews(fu, rng, s, reviews, row_of)
    add_headache_diaries(fu, rng, s, row_of, p_resp, end, MIG, P_FU_MIGRAINE, 70, 84)
    add_headache_diaries(fu, rng, s, row_of, p_resp, end, TTH, P_FU_TENSION, 28, 84)
    add_hyperhidrosis(fu, rng, s, row_of, end)
    add_bruxism(fu, rng, s, row_of, end)
    add_early_contacts(fu, rng, s, row_of, end)
    add_correction_reviews(fu, rng, c, row_of[len(s.day):], end)
    follow_ups = fu.build()
    assert (follow_ups["seen"] <= end).all()
    return follow_ups


def contact_days(rng: np.random.Generator, day: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """A contact ``lo``-``hi`` days after each session day, moved to an open day within that range."""
    return to_weekday(rng, day + rng.integers(lo, hi + 1, len(day)), day + lo, day + hi)


def registered(rng: np.random.Generator, p, seen: np.ndarray, end: int) -> np.ndarray:
    """Did the contact happen (probability ``p``) and is it in the export already (pattern 3)?"""
    return (rng.random(len(seen)) < p) & lag_keep(rng, seen, end)


def satisfaction(rng: np.random.Generator, effect: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Patient satisfaction 1-5 by effect, 1-2 lower with a visible complication; NaN 8 % (not asked)."""
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


def add_cosmetic_reviews(fu: FollowUps, rng: np.random.Generator, s: Sessions, reviews: Reviews,
                         row_of: np.ndarray) -> None:
    """The registered reviews of cosmetic primaries (``sessions.cosmetic_reviews``): effect, every event since
    the session, satisfaction."""
    r = np.flatnonzero(reviews.is_registered)
    sat = satisfaction(rng, s.effect[r], s.ev[r])
    fu.add(row_of[r], reviews.day[r], s.effect[r], s.ev[r], sat=sat)


def add_headache_diaries(fu: FollowUps, rng: np.random.Generator, s: Sessions, row_of: np.ndarray,
                         p_resp: np.ndarray, end: int, ind: int, p_fu: float, lo: int, hi: int) -> None:
    """Migraine / tension-headache cycles: a contact ``lo``-``hi`` days on (probability ``p_fu``) with the
    headache days of the diary (``headache_outcome``); a missing baseline diary existed but was not exported."""
    idx = np.flatnonzero(s.ind == ind)
    seen = contact_days(rng, s.day[idx], lo, hi)
    keep = registered(rng, p_fu, seen, end)
    idx, seen = idx[keep], seen[keep]
    b = s.baseline_hd[idx]
    b_known = np.where(np.isnan(b), rng.integers(10, 26, len(idx)), b)  # the diary exists, it was not exported
    responder = rng.random(len(idx)) < p_resp[s.pid[idx]]
    red = np.where(responder, rng.uniform(0.5, 0.9, len(idx)), rng.uniform(-0.1, 0.49, len(idx)))
    hd, eff = headache_outcome(b_known, responder, red)
    fu.add(row_of[idx], seen, eff, s.ev[idx], headache_days=hd, sat=satisfaction(rng, eff, s.ev[idx]))


def headache_outcome(baseline, responder, reduction) -> tuple[np.ndarray, np.ndarray]:
    """(headache days after the cycle, effect) from the baseline days and the relative reduction (no draw).

    A responder: baseline x (1 - reduction) rounded down, full effect. A non-responder: rounded up and more than
    half the baseline; partial effect from a 25 % reduction, else none. Days within 0-31.
    """
    hd = np.where(responder, np.floor(baseline * (1 - reduction)),
                  np.maximum(np.ceil(baseline * (1 - reduction)), np.floor(baseline / 2) + 1))
    hd = np.clip(hd, 0, 31)
    eff = np.where(responder, FULL, np.where(reduction >= 0.25, PARTIAL, NONE)).astype(np.int8)
    return hd, eff


def add_hyperhidrosis(fu: FollowUps, rng: np.random.Generator, s: Sessions, row_of: np.ndarray, end: int) -> None:
    """Hyperhidrosis: a contact 14-42 days on with the HDSS after (down 2-3 points 90 % of the time, else 0-1;
    at least 1); full effect for a 2-point drop, partial for 1."""
    idx = np.flatnonzero(s.ind == HYP)
    seen = contact_days(rng, s.day[idx], 14, 42)
    keep = registered(rng, P_FU_HYPER, seen, end)
    idx, seen = idx[keep], seen[keep]
    drop = np.where(rng.random(len(idx)) < 0.90, rng.integers(2, 4, len(idx)), rng.integers(0, 2, len(idx)))
    before = s.baseline_hdss[idx]
    after = np.maximum(before - drop, 1)
    eff = np.where(before - after >= 2, FULL, np.where(before - after == 1, PARTIAL, NONE)).astype(np.int8)
    fu.add(row_of[idx], seen, eff, s.ev[idx], hdss=after, sat=satisfaction(rng, eff, s.ev[idx]))


def add_bruxism(fu: FollowUps, rng: np.random.Generator, s: Sessions, row_of: np.ndarray, end: int) -> None:
    """Bruxism: a contact 14-42 days on with the session's effect."""
    idx = np.flatnonzero(s.ind == BRUX)
    seen = contact_days(rng, s.day[idx], 14, 42)
    keep = registered(rng, P_FU_BRUX, seen, end)
    idx, seen = idx[keep], seen[keep]
    fu.add(row_of[idx], seen, s.effect[idx], s.ev[idx], sat=satisfaction(rng, s.effect[idx], s.ev[idx]))


def add_early_contacts(fu: FollowUps, rng: np.random.Generator, s: Sessions, row_of: np.ndarray, end: int) -> None:
    """Early contacts (mostly the patient calling about a problem), effect not assessed: day 1-7 (1-3 for an
    allergic reaction, from day 3 for eye problems alone), recording the injection-site problems and, from day 3,
    the eye problems."""
    P = len(s.day)
    day, ev = s.day, s.ev
    inj = ev[:, INJECTION_SITE].any(axis=1)
    eye = ev[:, EYE].any(axis=1)
    p_early = np.where(inj, P_EARLY_INJECTION_SITE, P_EARLY_ROUTINE)
    p_early = np.where(eye, np.maximum(p_early, np.where(s.ind == COS, P_EARLY_EYE_COSMETIC, P_EARLY_EYE_OTHER)),
                       p_early)
    allergic = ev[:, FL["allergic_reaction"]]
    lo = np.where(allergic, 1, np.where(eye & ~inj, 3, 1))
    hi = np.where(allergic, 3, 7)
    e_off = lo + np.floor(rng.random(P) * (hi - lo + 1)).astype(np.int64)
    e_day = to_weekday(rng, day + e_off, day + lo, day + hi)
    idx = np.flatnonzero(registered(rng, p_early, e_day, end))
    e_ev = np.zeros((len(idx), len(FLAGS)), dtype=bool)
    e_ev[:, INJECTION_SITE] = ev[idx][:, INJECTION_SITE]
    e_ev[:, EYE] = ev[idx][:, EYE] & (e_day[idx] - day[idx] >= 3)[:, None]
    fu.add(row_of[idx], e_day[idx], np.full(len(idx), NOT_ASSESSED, dtype=np.int8), e_ev)


def add_correction_reviews(fu: FollowUps, rng: np.random.Generator, c: Corrections, row_of_correction: np.ndarray,
                           end: int) -> None:
    """Reviews of a few corrections (``P_FU_CORRECTION``) 10-21 days on: 90 % full effect, bruising 2 %."""
    cs = np.flatnonzero(rng.random(len(c.day)) < P_FU_CORRECTION)
    seen = contact_days(rng, c.day[cs], 10, 21)
    keep = lag_keep(rng, seen, end)
    cs, seen = cs[keep], seen[keep]
    eff = np.where(rng.random(len(cs)) < 0.9, FULL, PARTIAL).astype(np.int8)
    c_ev = np.zeros((len(cs), len(FLAGS)), dtype=bool)
    c_ev[:, FL["bruising"]] = rng.random(len(cs)) < 0.02
    fu.add(row_of_correction[cs], seen, eff, c_ev, sat=satisfaction(rng, eff, c_ev))
