"""Treatment sessions of the demo: what each primary session was, what happened, and the corrections.

The steps, in the order ``generate._generate`` calls them (each draws from the one random generator, so the order
is part of the output):

- ``describe_sessions``: clinician, areas, product (the switch, pattern 2), units, price, minutes, baselines,
  risk factors of each primary session from ``patients.primary_visits``;
- ``complications`` (pattern 1) and ``review_effects`` (pattern 2's rise), then
  ``planted.plant_secondary_non_response``;
- ``cosmetic_reviews``, ``choose_corrected`` and ``correction_sessions``: the review of cosmetic primaries and
  the free corrections that follow insufficient effect;
- ``assemble_treatments``: primaries and corrections as one table sorted by date, with ``prior_treatments``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.demo.dates import to_day, to_weekday, years
from pipelines.demo.params import (
    AGE_BANDS,
    AREA_NAMES,
    AX,
    BRUX,
    CF,
    CORRECTION_DOSE,
    COS,
    COSMETIC_AREAS,
    DOSE,
    FH,
    FL,
    FLAGS,
    FULL,
    HYP,
    IND,
    LAUNCH,
    MAS,
    MIG,
    MIGRAINE_DOSE,
    NONE,
    OF,
    P_ALLERGIC,
    P_ASYMMETRY,
    P_BLEEDING,
    P_BROW_FH,
    P_BROW_OTHER_UPPER,
    P_BRUISING,
    P_DOUBLE_VISION,
    P_DRY_EYE_CF,
    P_DRY_EYE_OTHER_UPPER,
    P_EYELID_G_FH,
    P_EYELID_G_ONLY,
    P_EYELID_OTHER_UPPER,
    P_INFECTION,
    P_ITCHING,
    P_NONE_GIVEN_INSUFFICIENT,
    P_PAIN,
    P_REVIEW_COSMETIC,
    PA,
    PARTIAL,
    PREFERRED_CLINICIAN,
    PRODUCT_INDEX,
    PRODUCT_MIX,
    SPEYWOOD,
    SPEYWOOD_PER_BOTOX_UNIT,
    TENSION_DOSE,
    TTH,
    UPPER,
    G,
)
from pipelines.demo.patients import Clinic, Patients, Visits, Window, late_starters, weighted_choice
from pipelines.demo.planted import (
    insufficient_effect_probability,
    lag_keep,
    raise_ptosis_risk,
    switch_products,
)

# ==============================================================================================================
# What the steps pass on
# ==============================================================================================================

@dataclass
class Sessions:
    """Per primary session (``Visits`` order). ``describe_sessions`` fills the attributes; ``complications``,
    ``review_effects`` and ``planted.plant_secondary_non_response`` then set ``ev``, ``effect`` and ``snr_none``
    (the last one also changes ``product`` and ``units`` of the non-responders' later sessions)."""

    pid: np.ndarray
    day: np.ndarray
    visit: np.ndarray
    ind: np.ndarray
    clin: np.ndarray
    areas: np.ndarray
    product: np.ndarray  # index into PRODUCTS
    in_switch: np.ndarray  # in the switch months of pattern 2
    eq: np.ndarray  # Botox-equivalent units
    units: np.ndarray  # native units of the product
    price: np.ndarray
    minutes: np.ndarray
    baseline_hd: np.ndarray  # headache days per month before the cycle (NaN: no diary / not a headache cycle)
    baseline_hdss: np.ndarray
    risk: np.ndarray  # (sessions, 3): neuromuscular, aminoglycosides, pregnant or breastfeeding
    ev: np.ndarray | None = None  # (sessions, flags): true complication events
    effect: np.ndarray | None = None  # effect at the review (EFFECT_CODES index)
    snr_none: np.ndarray | None = None  # secondary non-response: effect none from the onset on


@dataclass(frozen=True)
class Reviews:
    """Per primary session, from ``cosmetic_reviews``: the review contact of a cosmetic primary and the day a
    correction would fall on."""

    day: np.ndarray  # review day (defined for every session; meaningful where is_registered)
    is_registered: np.ndarray  # a cosmetic review that happened and is in the export (pattern 3)
    is_candidate: np.ndarray  # cosmetic, insufficient effect or asymmetry, not a secondary non-responder
    correction_day: np.ndarray
    is_correction_possible: np.ndarray  # correction day within 12-20 days, not before the review nor after end


@dataclass(frozen=True)
class Corrections:
    """Per correction session, from ``correction_sessions``."""

    src: np.ndarray  # the corrected primary session (Sessions index), sorted
    day: np.ndarray
    clin: np.ndarray
    areas: np.ndarray
    product: np.ndarray
    units: np.ndarray
    minutes: np.ndarray


# ==============================================================================================================
# Small helpers
# ==============================================================================================================
def popcount(mask: np.ndarray) -> np.ndarray:
    """Number of areas in each area bit mask."""
    return sum(((mask >> i) & 1) for i in range(len(AREA_NAMES)))


def random_bit(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One randomly chosen area of each mask."""
    pick = np.floor(rng.random(len(mask)) * popcount(mask)).astype(np.int64)
    out = np.zeros_like(mask)
    seen = np.zeros(len(mask), dtype=np.int64)
    for i in range(len(AREA_NAMES)):
        has = ((mask >> i) & 1) == 1
        hit = has & (seen == pick) & (out == 0)
        out[hit] = 1 << i
        seen += has
    return out


def native_units(eq: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Botox-equivalent units -> native units of the product (Speywood products ~2.5x, in steps of 2.5)."""
    return np.where(SPEYWOOD[product], np.round(eq * SPEYWOOD_PER_BOTOX_UNIT / 2.5) * 2.5, eq)


# ==============================================================================================================
# What each primary session was
# ==============================================================================================================

def describe_sessions(rng: np.random.Generator, visits: Visits, patients: Patients, clinic: Clinic,
                      window: Window) -> Sessions:
    """Clinician, areas, product and units, price, minutes, baselines and risk factors of each primary session."""
    pid, day, ind = visits.pid, visits.day, visits.ind
    clin = session_clinicians(rng, pid, day, ind, patients.clin, clinic, window.end)
    areas = session_areas(rng, pid, ind, patients.areas)
    product, in_switch = session_products(rng, day, ind, window.end)
    eq = botox_equivalent_doses(rng, areas, ind)
    units = native_units(eq, product)
    price = session_prices(rng, ind, areas, eq, day, window.end)
    minutes = session_minutes(rng, ind, areas, visits.visit)
    baseline_hd, baseline_hdss = baselines(rng, ind)
    risk = risk_factors(rng, pid, patients)
    return Sessions(pid=pid, day=day, visit=visits.visit, ind=ind, clin=clin, areas=areas, product=product,
                    in_switch=in_switch, eq=eq, units=units, price=price, minutes=minutes, baseline_hd=baseline_hd,
                    baseline_hdss=baseline_hdss, risk=risk)


def session_clinicians(rng: np.random.Generator, pid, day, ind, p_clin, clinic: Clinic, end: int) -> np.ndarray:
    """The patient's own clinician ``PREFERRED_CLINICIAN`` of the time, else one by ``Clinic.weights``; never a
    ``LATE_STARTERS`` clinician before their start."""
    clin = np.where(rng.random(len(pid)) < PREFERRED_CLINICIAN, p_clin[pid], -1)
    for i in range(len(IND)):
        m = (clin < 0) & (ind == i)
        clin[m] = rng.choice(clinic.n, size=int(m.sum()), p=clinic.weights[i])
    return late_starters(rng, clin, day, ind, clinic, end)


def session_areas(rng: np.random.Generator, pid, ind, p_areas) -> np.ndarray:
    """The patient's usual areas; a cosmetic patient tries another combination one time in five."""
    areas = p_areas[pid].copy()
    m = (ind == COS) & (rng.random(len(pid)) < 0.2)
    areas[m] = weighted_choice(rng, COSMETIC_AREAS, int(m.sum()))
    return areas


def session_products(rng: np.random.Generator, day, ind, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Product by ``PRODUCT_MIX``, then the switch months (pattern 2, ``planted.switch_products``), then no
    product before its ``LAUNCH`` (the one used before instead). Returns (product, in the switch months)."""
    product = np.empty(len(day), dtype=np.int64)
    for i in range(len(IND)):
        m = ind == i
        product[m] = [PRODUCT_INDEX[x] for x in weighted_choice(rng, PRODUCT_MIX[i], int(m.sum()))]
    in_switch = switch_products(rng, product, day, ind, end)
    for name, (launch, before) in LAUNCH.items():
        m = (product == PRODUCT_INDEX[name]) & (day < to_day(launch))
        product[m] = PRODUCT_INDEX[before]
    return product, in_switch


def botox_equivalent_doses(rng: np.random.Generator, areas, ind) -> np.ndarray:
    """Botox-equivalent units: a ``DOSE`` per treated area summed; migraine / tension headache a whole-protocol
    dose instead."""
    n = len(areas)
    eq = np.zeros(n)
    for bit in (G, FH, CF, OF, MAS, AX, PA):
        has = (areas & bit) != 0
        eq += np.where(has, rng.choice(np.array(DOSE[bit], dtype=float), size=n), 0)
    eq = np.where(ind == MIG, rng.choice(np.array(MIGRAINE_DOSE, dtype=float), size=n), eq)
    eq = np.where(ind == TTH, rng.choice(np.array(TENSION_DOSE, dtype=float), size=n), eq)
    return eq


def session_prices(rng: np.random.Generator, ind, areas, eq, day, end: int) -> np.ndarray:
    """``list_prices`` with a 10 % discount on 4 % of the sessions."""
    year_back = years(np.array([end]))[0] - years(day)
    discount = rng.random(len(day)) < 0.04
    return list_prices(ind, areas, eq, year_back, discount)


def list_prices(ind, areas, eq, year_back, discount) -> np.ndarray:
    """Price in NOK of each session (no draw).

    Cosmetic: 1900 / 2900 / 3900 / 4500 for 1 / 2 / 3 / 4 face areas, 50 less per calendar year before end_date's,
    a discount 10 % off rounded to 50. Migraine: 2900 + 40 per unit over 155, at most 4500. Tension headache:
    2900 .. 3500 by dose, to 100. Hyperhidrosis: axillae 4000 + 25 per unit over 80, palms 5500 + 5 per unit over
    100 (to 100), both 6000. Bruxism: 3500 + 17 per unit over 40, to 100, at most 4000.
    """
    n_face = popcount(areas & (G | FH | CF | OF))
    cos_price = np.choose(np.clip(n_face, 1, 4) - 1, [1900, 2900, 3900, 4500]) - 50 * year_back
    cos_price = np.where(discount, np.round(cos_price * 0.9 / 50) * 50, cos_price)
    return np.select(
        [ind == COS, ind == MIG, ind == TTH, ind == HYP],
        [cos_price,
         np.clip(2900 + (eq - 155) * 40, 2900, 4500),
         np.clip(np.round((2900 + (eq - 50) / 105 * 600) / 100) * 100, 2900, 3500),
         np.where(areas == AX, 4000 + (eq - 80) * 25,
                  np.where(areas == PA, np.round((5500 + (eq - 100) * 5) / 100) * 100, 6000))],
        np.clip(np.round((3500 + (eq - 40) * 17) / 100) * 100, 3500, 4000),
    ).astype(float)


def session_minutes(rng: np.random.Generator, ind, areas, visit) -> np.ndarray:
    """Chair time: cosmetic 10 + 5 per face area + 0-5, 10 more at a patient's first-ever visit; the other
    indications a range each; all within 15-45."""
    n = len(ind)
    n_face = popcount(areas & (G | FH | CF | OF))
    first_visit = visit == 0
    minutes = np.select(
        [ind == COS, ind == MIG, ind == TTH, ind == HYP],
        [10 + 5 * n_face + rng.integers(0, 6, n) + 10 * first_visit,
         rng.integers(30, 46, n), rng.integers(25, 41, n), rng.integers(30, 46, n)],
        rng.integers(20, 31, n),
    )
    return np.clip(minutes, 15, 45).astype(float)


def baselines(rng: np.random.Generator, ind) -> tuple[np.ndarray, np.ndarray]:
    """(headache days per month before a migraine / tension-headache cycle, NaN for 4 % without a diary; HDSS
    before a hyperhidrosis session, 3 or 4). NaN where the indication has none."""
    n = len(ind)
    headache = (ind == MIG) | (ind == TTH)
    baseline_hd = np.where(ind == MIG, rng.integers(15, 26, n), rng.integers(10, 21, n)).astype(float)
    baseline_hd[~headache | (rng.random(n) < 0.04)] = np.nan  # a few cycles without a diary
    baseline_hdss = np.where(ind == HYP, np.where(rng.random(n) < 0.55, 3.0, 4.0), np.nan)
    return baseline_hd, baseline_hdss


def risk_factors(rng: np.random.Generator, pid, patients: Patients) -> np.ndarray:
    """(sessions, 3) booleans: the patient's neuromuscular disease, aminoglycoside antibiotics (0.1 %), pregnant
    or breastfeeding (0.25 % of women up to 49)."""
    n = len(pid)
    female = patients.sex[pid] == 0
    young = patients.age[pid] <= AGE_BANDS.index("40-49")
    return np.stack([
        patients.neuro[pid],
        rng.random(n) < 0.001,
        female & young & (rng.random(n) < 0.0025),
    ], axis=1)


# ==============================================================================================================
# What happened
# ==============================================================================================================

def complications(rng: np.random.Generator, areas, ind, clin, codes) -> np.ndarray:
    """True complication events per session, in contract.COMPLICATION_FLAGS order, at DOMAIN's default rates;
    eye events by the areas treated, raised for ``PTOSIS_CLINICIAN`` (pattern 1, ``planted.raise_ptosis_risk``)."""
    n = len(areas)
    ev = np.zeros((n, len(FLAGS)), dtype=bool)
    upper = (areas & UPPER) != 0
    has_g, has_fh, has_cf = (areas & G) != 0, (areas & FH) != 0, (areas & CF) != 0
    p_eyelid = np.select([has_g & has_fh, has_g, upper], [P_EYELID_G_FH, P_EYELID_G_ONLY, P_EYELID_OTHER_UPPER], 0)
    p_brow = np.select([has_fh, upper], [P_BROW_FH, P_BROW_OTHER_UPPER], 0)
    p_eyelid, p_brow = raise_ptosis_risk(p_eyelid, p_brow, clin, codes)
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


def review_effects(rng: np.random.Generator, ind, in_switch, product) -> np.ndarray:
    """Effect at the review: cosmetic insufficient (partial, or none a quarter of those) at
    ``planted.insufficient_effect_probability`` (pattern 2's rise); bruxism 85 % full, 12 % partial; else full
    (headache and hyperhidrosis effects come from their diaries / HDSS in the follow-ups)."""
    n = len(ind)
    cos = ind == COS
    insufficient = cos & (rng.random(n) < insufficient_effect_probability(in_switch, product))
    effect = np.full(n, FULL, dtype=np.int8)
    effect[insufficient] = np.where(rng.random(int(insufficient.sum())) < P_NONE_GIVEN_INSUFFICIENT, NONE, PARTIAL)
    u = rng.random(n)
    brux = ind == BRUX
    effect[brux] = np.where(u[brux] < 0.85, FULL, np.where(u[brux] < 0.97, PARTIAL, NONE))
    return effect


# ==============================================================================================================
# Reviews of cosmetic primaries and the corrections
# ==============================================================================================================

def cosmetic_reviews(rng: np.random.Generator, s: Sessions, end: int) -> Reviews:
    """The review 10-21 days after a cosmetic primary (10-17 where a correction may follow), registered
    ``P_REVIEW_COSMETIC`` of the time (always for a secondary non-responder) if the lag allows (pattern 3); and
    the day a correction would be: after the review, 12-20 days after the primary."""
    P = len(s.day)
    day = s.day
    cos = s.ind == COS
    candidate = cos & ((s.effect != FULL) | s.ev[:, FL["asymmetry"]]) & ~s.snr_none
    rev_off = np.where(candidate, rng.integers(10, 18, P), rng.integers(10, 22, P))
    rev_day = to_weekday(rng, day + rev_off, day + 10, day + np.where(candidate, 17, 21))
    has_review = cos & ((rng.random(P) < P_REVIEW_COSMETIC) | s.snr_none) & lag_keep(rng, rev_day, end)
    corr_off = np.maximum(rev_day - day + rng.choice([0, 0, 0, 1, 2, 3, 4], size=P), 12)
    corr_off = np.minimum(corr_off, 20)
    corr_day = to_weekday(rng, day + corr_off, np.maximum(rev_day, day + 12), day + 20)
    corr_ok = (corr_day <= end) & (corr_day >= rev_day) & (corr_day - day >= 12) & (corr_day - day <= 20)
    return Reviews(day=rev_day, is_registered=has_review, is_candidate=candidate, correction_day=corr_day,
                   is_correction_possible=corr_ok)


def choose_corrected(rng: np.random.Generator, s: Sessions, reviews: Reviews, k: int) -> np.ndarray:
    """The ``k`` primaries that get a correction (sorted): candidates with a registered review and a possible
    correction day in random order, insufficient effect before asymmetry alone; if too few (small data sets),
    patient-requested touch-ups after a full effect."""
    cos = s.ind == COS
    pool = reviews.is_candidate & reviews.is_registered & reviews.is_correction_possible
    prio = rng.random(len(s.day)) * np.where(s.effect != FULL, 1.0, 2.0)  # asymmetry alone is corrected less often
    pool_idx = np.flatnonzero(pool)
    pool_idx = pool_idx[np.argsort(prio[pool_idx], kind="stable")]
    if len(pool_idx) < k:
        extra = np.flatnonzero(cos & reviews.is_registered & ~pool & ~s.snr_none & reviews.is_correction_possible)
        extra = extra[np.argsort(prio[extra], kind="stable")]
        pool_idx = np.concatenate([pool_idx, extra])
        if len(pool_idx) < k:
            raise ValueError("n_treatments too small for the correction model")
    return np.sort(pool_idx[:k])


def correction_sessions(rng: np.random.Generator, s: Sessions, corrected: np.ndarray, reviews: Reviews,
                        clinic: Clinic, end: int) -> Corrections:
    """A free correction of each corrected primary: same clinician (another cosmetic one 10 % of the time), the
    same areas or (40 %) one of them, the same product, a small ``CORRECTION_DOSE``, 10-20 minutes, no price."""
    k = len(corrected)
    c_day = reviews.correction_day[corrected]
    c_clin = s.clin[corrected].copy()
    other = rng.random(k) < 0.10
    c_clin[other] = rng.choice(clinic.n, size=int(other.sum()), p=clinic.weights[COS])
    c_clin = late_starters(rng, c_clin, c_day, np.full(k, COS), clinic, end)
    c_areas = s.areas[corrected].copy()
    subset = rng.random(k) < 0.4
    c_areas[subset] = random_bit(rng, c_areas[subset])
    c_product = s.product[corrected]
    c_units = native_units(rng.choice(np.array(CORRECTION_DOSE, dtype=float), size=k), c_product)
    c_minutes = rng.integers(10, 21, k).astype(float)
    return Corrections(src=corrected, day=c_day, clin=c_clin, areas=c_areas, product=c_product, units=c_units,
                       minutes=c_minutes)


# ==============================================================================================================
# All treatments as one table
# ==============================================================================================================

def assemble_treatments(s: Sessions, c: Corrections, patients: Patients) -> tuple[dict, np.ndarray]:
    """Primaries and corrections as one table sorted by date (a primary before its same-day corrections).

    Returns (column -> array, sorted row of each session: primaries first, then corrections). ``corrects`` is the
    sorted row of the corrected primary or -1; ``prior`` is ``prior_treatments``.
    """
    P, K = len(s.day), len(c.day)
    T = P + K
    t_pid = np.concatenate([s.pid, s.pid[c.src]])
    t_day = np.concatenate([s.day, c.day])
    t_corr = np.concatenate([np.zeros(P, bool), np.ones(K, bool)])
    order = np.lexsort((np.arange(T), t_corr, t_day))
    pos = np.empty(T, dtype=np.int64)
    pos[order] = np.arange(T)  # combined index -> row in the sorted table
    prior = prior_treatments(t_pid, t_day, t_corr, s.pid, s.visit, len(patients.ind))
    t_ind = np.concatenate([s.ind, np.full(K, COS, dtype=np.int8)])
    t_src = np.concatenate([np.full(P, -1), c.src])  # corrected primary (combined index)
    treatments = {
        "pid": t_pid[order],
        "day": t_day[order],
        "clin": np.concatenate([s.clin, c.clin])[order],
        "ind": t_ind[order],
        "areas": np.concatenate([s.areas, c.areas])[order],
        "product": np.concatenate([s.product, c.product])[order],
        "units": np.concatenate([s.units, c.units])[order],
        "corrects": np.where(t_src[order] >= 0, pos[np.maximum(t_src[order], 0)], -1),  # sorted row or -1
        "price": np.concatenate([s.price, np.zeros(K)])[order],
        "minutes": np.concatenate([s.minutes, c.minutes])[order],
        "baseline_hd": np.concatenate([s.baseline_hd, np.full(K, np.nan)])[order],
        "baseline_hdss": np.concatenate([s.baseline_hdss, np.full(K, np.nan)])[order],
        "age": patients.age[t_pid][order],
        "sex": patients.sex[t_pid][order],
        "prior": prior[order],
        "risk": np.concatenate([s.risk, s.risk[c.src]])[order],
    }
    return treatments, pos


def prior_treatments(t_pid, t_day, t_corr, pid, visit, n_patients: int) -> np.ndarray:
    """Per session (primaries then corrections): earlier sessions of the patient, those before the export (the
    visit number of the patient's first exported primary) plus the exported ones before it (a correction after
    the same-day primary)."""
    T = len(t_pid)
    by_pat = np.lexsort((t_corr, t_day, t_pid))
    grp_start = np.r_[True, t_pid[by_pat][1:] != t_pid[by_pat][:-1]]
    first_row = np.maximum.accumulate(np.where(grp_start, np.arange(T), 0))
    rank = np.empty(T, dtype=np.int64)
    rank[by_pat] = np.arange(T) - first_row
    first_visit_of = np.full(n_patients, np.iinfo(np.int64).max)
    np.minimum.at(first_visit_of, pid, visit)
    return first_visit_of[t_pid] + rank
