"""Traceability in the demo (issue 13): each session's lot and its expiry, the dilution and the units per area.

Drawn from a random stream of its own (``LOTS_SALT``), after every other step, so adding these columns changes no
other value in the files. What the columns hold:

- **lots**: each product is used from one lot at a time, ``LOT_DAYS`` per lot (each product's lots change on days of
  their own); the expiry date lies 2-13 months after the lot's last day of use. About ``LOT_RECORDED`` of the
  sessions have the lot (and its expiry) recorded; the others leave both blank;
- pattern 4, **a lot with excess insufficient effect**: for ``PLANTED_LOT_DAYS`` days from ``PLANTED_LOT_START_DAYS``
  before the end, a second lot of ``PLANTED_LOT_PRODUCT`` (``PLANTED_LOT_NUMBER``) is in use beside the regular
  one for about ``PLANTED_LOT_SHARE`` of its cosmetic primaries, and ``PLANTED_LOT_WEAK`` of its sessions judged to
  have full effect at a review 10-28 days after treatment are written as partial instead (``weaken``; a weak lot,
  its rate several times the clinic's; only those review contacts change, nothing else);
- pattern 5, **an expired lot in use**: the ``EXPIRED_LOT_PRODUCT`` lot in use ``EXPIRED_LOT_DAYS`` before the end
  expired ``EXPIRED_LOT_OVERRUN_DAYS`` days before it was used up, so its last few sessions count as
  ``expired_lot``;
- **dilution**: each clinician's usual saline per 100 native units (1.25, 2 or 2.5 ml for Botox-type products,
  0.5 ml for Speywood products in the face), 2 ml for migraine and 4 ml for sweating;
- **units per area**: the session's units split over its areas in proportion to their label doses
  (``contract.LABEL_DOSE_BOTOX_UNITS``), the last area taking what is left, so the parts add up to ``units``.

The old journal system's files (the oldest years) have none of these columns: it did not record lots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines import contract as C
from pipelines.demo.params import AREA_NAMES, COS, FULL, HYP, MIG, PARTIAL, PRODUCTS

LOTS_SALT = 20_261_130  # the lots' own random stream: np.random.default_rng([seed, RNG_SALT, LOTS_SALT])
LOT_DAYS = 90
LOT_RECORDED = 0.97
PLANTED_LOT_PRODUCT = "Vistabel"
PLANTED_LOT_NUMBER = "V7311B2"
PLANTED_LOT_START_DAYS = 240
PLANTED_LOT_DAYS = 90
PLANTED_LOT_SHARE = 0.3
PLANTED_LOT_WEAK = 0.4
EXPIRED_LOT_PRODUCT = "Bocouture"
EXPIRED_LOT_DAYS = 150
EXPIRED_LOT_OVERRUN_DAYS = 4
LOT_LETTERS = {"Botox": "C", "Vistabel": "V", "Bocouture": "B", "Xeomin": "X", "Letybo": "L", "Azzalure": "A",
               "Dysport": "D", "Alluzience": "Z", "Relfydess": "R"}
BOTOX_TYPE_DILUTIONS = (2.5, 2.0, 1.25)
BOTOX_TYPE_DILUTION_P = (0.6, 0.25, 0.15)


@dataclass(frozen=True)
class Traceability:
    """Per treatment row (the sorted table of ``assemble_treatments``)."""

    lot: np.ndarray  # lot number, "" when not recorded
    expiry: np.ndarray  # days since 1970-01-01, -1 when not recorded
    dilution: np.ndarray  # ml per 100 native units, NaN when not recorded
    units_by_area: np.ndarray  # `area:units|...`, "" when not recorded
    is_planted: np.ndarray  # the session used PLANTED_LOT_NUMBER (pattern 4)


def lot_number(product: int, k: int) -> str:
    """The regular lot ``k`` of product ``product`` (index into PRODUCTS): e.g. ``V5059C2``."""
    return f"{LOT_LETTERS[PRODUCTS[product]]}{5000 + 37 * k + 11 * product}C{product + 1}"


def assign(rng: np.random.Generator, t: dict, primary_row: np.ndarray, start: int, end: int,
           n_clinicians: int) -> Traceability:
    """Lots, expiry dates, dilutions and units per area for the treatments ``t`` (``primary_row``: the rows of the
    primary sessions)."""
    T = len(t["day"])
    day, product = t["day"].astype(np.int64), t["product"].astype(np.int64)
    phase = 17 * product  # each product's lots change on days of their own
    k = (day - start + phase) // LOT_DAYS
    lot_end = start - phase + (k + 1) * LOT_DAYS - 1  # the lot's last day of use
    shelf = rng.integers(60, 400, size=(len(PRODUCTS), int(k.max()) + 2))  # days after its last day of use
    expiry = lot_end + shelf[product, k]
    keys, inverse = np.unique(product * 100_000 + k, return_inverse=True)  # a few dozen lots: named once each
    names = np.array([lot_number(int(x // 100_000), int(x % 100_000)) for x in keys], dtype=object)
    lots = names[np.asarray(inverse).reshape(-1)] if T else np.array([], dtype=object)

    # pattern 5: one lot used past its expiry date
    expired_p = PRODUCTS.index(EXPIRED_LOT_PRODUCT)
    day_x = end - EXPIRED_LOT_DAYS
    k_x = (day_x - start + 17 * expired_p) // LOT_DAYS
    in_x = (product == expired_p) & (k == k_x)
    expiry[in_x] = lot_end[in_x] - EXPIRED_LOT_OVERRUN_DAYS

    # pattern 4: a weak lot beside the regular one (its effect: weaken)
    planted_p = PRODUCTS.index(PLANTED_LOT_PRODUCT)
    first = end - PLANTED_LOT_START_DAYS
    is_primary = np.zeros(T, dtype=bool)
    is_primary[primary_row] = True
    pool = is_primary & (t["ind"] == COS) & (product == planted_p) & (day >= first) & (day < first + PLANTED_LOT_DAYS)
    planted = pool & (rng.random(T) < PLANTED_LOT_SHARE)
    lots[planted] = PLANTED_LOT_NUMBER
    expiry[planted] = first + PLANTED_LOT_DAYS + 200

    # dilution: the clinician's usual one for the product type and indication
    usual = rng.choice(BOTOX_TYPE_DILUTIONS, size=n_clinicians, p=BOTOX_TYPE_DILUTION_P)
    speywood = np.array([C.PRODUCTS[i].unit_type == "speywood" for i in range(len(PRODUCTS))])[product]
    dilution = np.where(speywood, 0.5, usual[t["clin"].astype(np.int64)])
    dilution = np.where(t["ind"] == MIG, 2.0, np.where(t["ind"] == HYP, 4.0, dilution))

    recorded = rng.random(T) < LOT_RECORDED
    return Traceability(
        lot=np.where(recorded, lots, ""),
        expiry=np.where(recorded, expiry, -1),
        dilution=np.where(recorded, dilution, np.nan),
        units_by_area=np.where(recorded, units_by_area(t["areas"], t["units"]), ""),
        is_planted=planted & recorded,
    )


def weaken(rng: np.random.Generator, follow_ups: dict, trace: Traceability, t_day: np.ndarray) -> dict:
    """Pattern 4's effect: ``PLANTED_LOT_WEAK`` of the planted lot's review contacts (10-28 days) that judged the
    effect full judge it partial instead. Returns the contacts with only those effects changed."""
    tpos = follow_ups["tpos"]
    days_after = follow_ups["seen"] - t_day[tpos]
    review = trace.is_planted[tpos] & (follow_ups["effect"] == FULL) & (days_after >= 10) & (days_after <= 28)
    flip = review & (rng.random(len(tpos)) < PLANTED_LOT_WEAK)
    return {**follow_ups, "effect": np.where(flip, PARTIAL, follow_ups["effect"]).astype(follow_ups["effect"].dtype)}


def units_by_area(areas: np.ndarray, units: np.ndarray) -> np.ndarray:
    """`area:units|...` per session: units split over the areas of the mask by their label doses (whole units,
    the last area taking the rest, so the parts add up to the units). Computed once per distinct (areas, units)."""
    pairs, inverse = np.unique(np.stack([areas.astype(np.float64), units.astype(np.float64)], axis=1), axis=0,
                               return_inverse=True)
    texts = []
    for mask, total in pairs:
        names = [a for i, a in enumerate(AREA_NAMES) if int(mask) >> i & 1]
        if not names or not total > 0:
            texts.append("")
            continue
        weights = np.array([C.LABEL_DOSE_BOTOX_UNITS[a] for a in names], dtype=float)
        parts = np.floor(total * weights / weights.sum())
        parts[-1] = total - parts[:-1].sum()
        if (parts <= 0).any():  # too few units to give each area one: all on the first, the rest by one each
            parts = np.zeros(len(names))
            parts[: int(min(total, len(names)))] = 1
            parts[0] += total - parts.sum()
            keep = parts > 0
            names, parts = [n for n, kept in zip(names, keep, strict=True) if kept], parts[keep]
        texts.append("|".join(f"{a}:{p:g}" for a, p in sorted(zip(names, parts, strict=True))))
    return np.asarray(texts, dtype=object)[np.asarray(inverse).reshape(-1)]
