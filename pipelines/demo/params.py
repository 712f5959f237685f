"""Model parameters and code tables of the demo generator (rates per session: ``../shared/DOMAIN.md``).

Everything the generation steps draw from is here, so a rate can be found and changed in one place. The three
deliberate patterns have their parameters marked (pattern 1: ``PTOSIS_*``, pattern 2: ``SWITCH_*`` and
``P_INSUFFICIENT_SWITCH``, pattern 3: ``LAG_*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
class Chain:
    """How a patient with this indication comes back."""

    gap_lo: float  # the patient's usual interval is drawn from [gap_lo, gap_hi] days
    gap_hi: float
    jitter: float  # each interval is the usual one x U(1 - jitter, 1 + jitter)
    churn: float  # probability of not coming back after a session
    skip: float  # probability that an interval gets an extra delay of U(0, skip_max) days
    skip_max: float
    guess_sessions: float  # first guess of exported sessions per generated patient (only sizes the first batch)


CHAINS = {
    COS: Chain(90, 180, 0.12, 0.22, 0.10, 200, 2.0),
    MIG: Chain(82, 88, 0.05, 0.09, 0.05, 60, 4.0),
    TTH: Chain(84, 120, 0.10, 0.30, 0.10, 90, 1.5),
    HYP: Chain(120, 210, 0.12, 0.20, 0.12, 150, 1.5),
    BRUX: Chain(90, 180, 0.12, 0.25, 0.10, 120, 1.5),
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
