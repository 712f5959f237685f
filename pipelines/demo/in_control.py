"""In-control clinics for judging the signals: constant rates, nothing planted unless asked for.

The demo database (pipelines/demo/generate.py) carries planted problems for the dashboard to find. To know how often
the signals list raises a *false* alarm, and how fast it finds a real one, the product needs clinics where the
truth is known: every outcome happens at a constant rate for every clinician, except an optional `Excess` (one
clinician's rate of one outcome multiplied from a date on). The files go through the real loader.

    paths = write_in_control(folder, seed=1)                       # 10 clinicians, 36 months, ~20,000 sessions
    paths = write_in_control(folder, seed=1, excess=Excess("C03", "eyelid_ptosis", 3.0, dt.date(2025, 1, 1)))

What a session and its follow-up look like (the rates are DOMAIN.md's synthetic defaults):
- 85 % cosmetic (upper face: glabella always, forehead and crow's feet often), 8 % migraine, 7 % axillary
  hyperhidrosis; products Botox, Vistabel and Bocouture; clinicians equally busy.
- a review contact at 10-21 days for 80 % of sessions; every yes/no outcome is asked at it (so a missing review is
  the only loss to follow-up); headache days at 10-12 weeks for migraine, HDSS at 3-5 weeks for sweating.
- insufficient effect in 8 % of cosmetic sessions, 80 % of them corrected free at 14 days.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.demo.generate import DATA_DIR

# outcome column of follow_ups -> constant rate per assessed session (upper-face outcomes: per upper-face session)
FLAG_RATES = {
    "asymmetry": 0.03, "eyelid_ptosis": 0.02, "brow_ptosis": 0.01, "dry_eye": 0.01, "double_vision": 0.003,
    "bruising": 0.05, "bleeding": 0.02, "pain": 0.03, "itching": 0.01, "infection": 0.002,
    "allergic_reaction": 0.0005,
}
UPPER_FACE_ONLY = {"eyelid_ptosis", "brow_ptosis", "dry_eye", "double_vision"}
INSUFFICIENT_EFFECT = 0.08
CORRECTED_SHARE = 0.8
REVIEWED_SHARE = 0.8
UNSATISFIED = 0.05
MIGRAINE_RESPONDERS = 0.45
SWEATING_RESPONDERS = 0.90
CLINICIANS = ("C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10")
PRODUCTS = ("Botox", "Vistabel", "Bocouture")


@dataclass(frozen=True)
class Excess:
    """One clinician's rate of one follow-up outcome multiplied by `factor` for sessions from `start` on."""

    clinician: str
    column: str  # a yes/no column of follow_ups (see FLAG_RATES), or "insufficient_effect"
    factor: float
    start: dt.date


def write_in_control(folder: Path, *, seed: int = 1, sessions_n: int = 20_000, months: int = 36,
                     end: dt.date = dt.date(2025, 12, 31), clinicians: tuple[str, ...] = CLINICIANS,
                     excess: Excess | None = None) -> list[Path]:
    """Write clinicians.csv, product_prices.csv, treatments.csv and follow_ups.csv for an in-control clinic (plus
    the optional excess) into `folder`; returns the paths in load order."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    first = _months_back(end, months)
    days = (end - first).days + 1
    treated = np.sort(first.toordinal() + rng.integers(0, days, sessions_n))
    # no session whose review would fall after `end` is lost: the as-of date is `end`, reviews after it are unknown
    clinician = rng.choice(np.array(clinicians), sessions_n)
    indication = rng.choice(np.array(["cosmetic", "migraine", "hyperhidrosis"]), sessions_n, p=[0.85, 0.08, 0.07])
    product = rng.choice(np.array(PRODUCTS), sessions_n)
    forehead = rng.random(sessions_n) < 0.5
    crows = rng.random(sessions_n) < 0.4
    rows_t, rows_f = [], []
    for i in range(sessions_n):
        day = dt.date.fromordinal(int(treated[i]))
        tid = f"T{i + 1:06d}"
        ind = str(indication[i])
        if ind == "cosmetic":
            areas = "|".join(["glabella"] + ["forehead"] * bool(forehead[i]) + ["crows_feet"] * bool(crows[i]))
            units = 20 + 10 * int(forehead[i]) + 24 * int(crows[i])
        elif ind == "migraine":
            areas, units = "head_neck", 155
        else:
            areas, units = "axillae", 100
        baseline_days = int(rng.integers(12, 25)) if ind == "migraine" else ""
        baseline_hdss = int(rng.integers(3, 5)) if ind == "hyperhidrosis" else ""
        rows_t.append([tid, f"p{i + 1:06d}", day.isoformat(), clinician[i], ind, areas, product[i], units, 2900, "",
                       20, baseline_days, baseline_hdss])
        factor = {}
        if excess is not None and clinician[i] == excess.clinician and day >= excess.start:
            factor[excess.column] = excess.factor
        upper = ind == "cosmetic"
        insufficient = upper and rng.random() < INSUFFICIENT_EFFECT * factor.get("insufficient_effect", 1.0)
        if insufficient and rng.random() < CORRECTED_SHARE:
            cday = day + dt.timedelta(days=14)
            if cday <= end:
                rows_t.append([f"K{i + 1:06d}", f"p{i + 1:06d}", cday.isoformat(), clinician[i], ind, areas,
                               product[i], 8, 0, tid, 15, "", ""])
        flags = {}
        for c, rate in FLAG_RATES.items():
            asked = upper or c not in UPPER_FACE_ONLY  # eye outcomes are asked after upper-face sessions only
            flags[c] = ("ja" if rng.random() < rate * factor.get(c, 1.0) else "nei") if asked else ""
        reviewed = rng.random() < REVIEWED_SHARE
        seen = day + dt.timedelta(days=int(rng.integers(10, 22)))
        if reviewed and seen <= end:
            effect = ("partial" if rng.random() < 0.7 else "none") if insufficient else "full"
            satisfaction = 2 if rng.random() < UNSATISFIED else 4
            rows_f.append([f"F{i + 1:06d}a", tid, seen.isoformat(), effect, *flags.values(), "", "", satisfaction])
        if ind == "migraine":
            later = day + dt.timedelta(days=int(rng.integers(70, 85)))
            if reviewed and later <= end:
                responder = rng.random() < MIGRAINE_RESPONDERS
                value = int(baseline_days * (0.3 if responder else 0.8))
                rows_f.append([f"F{i + 1:06d}b", tid, later.isoformat(), "full", *([""] * len(FLAG_RATES)),
                               value, "", ""])
        if ind == "hyperhidrosis":
            later = day + dt.timedelta(days=int(rng.integers(21, 36)))
            if reviewed and later <= end:
                responder = rng.random() < SWEATING_RESPONDERS
                value = max(1, baseline_hdss - 2) if responder else baseline_hdss
                rows_f.append([f"F{i + 1:06d}b", tid, later.isoformat(), "full" if responder else "partial",
                               *([""] * len(FLAG_RATES)), "", value, ""])
    treatments = folder / "treatments.csv"
    follow_ups = folder / "follow_ups.csv"
    _write(treatments, ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product",
                        "units", "price_nok", "corrects_treatment_id", "minutes", "baseline_headache_days",
                        "baseline_hdss"], sorted(rows_t, key=lambda r: (r[2], r[0])))
    _write(follow_ups, ["follow_up_id", "treatment_id", "seen_on", "effect", *FLAG_RATES, "headache_days", "hdss",
                        "satisfaction"], rows_f)
    staff = folder / "clinicians.csv"
    _write(staff, ["clinician", "profession", "cost_per_minute_nok"], [[c, "lege", 30] for c in clinicians])
    prices = folder / "product_prices.csv"
    prices.write_bytes((DATA_DIR / "product_prices.csv").read_bytes())
    return [staff, prices, treatments, follow_ups]


def _months_back(end: dt.date, months: int) -> dt.date:
    """The first day of the month `months - 1` months before `end`'s month."""
    index = end.year * 12 + end.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


__all__ = ["Excess", "write_in_control", "FLAG_RATES", "CLINICIANS"]
