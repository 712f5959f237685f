"""A generated clinic for the release tests: one year (2024) of sessions for three clinicians, big enough for some
cells to be shown and others hidden (C03 treats only 1-5 patients a month), loaded through the real loader.

Seeded, so every run builds the same database. Events (bruising, eyelid ptosis, partial effect) and corrections
are drawn at rates near the domain defaults; follow-up is missing for about 15 % of sessions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

TODAY = dt.date(2025, 1, 31)
CLINICIANS = {"A01": (30, 50), "B02": (15, 30), "C03": (1, 6)}  # sessions per month: low, high (exclusive)
AREAS = ("glabella", "forehead|glabella", "crows_feet", "forehead", "crows_feet|forehead|glabella")


def make_release_db(folder: Path, seed: int = 2024) -> Path:
    from pipelines.ingest.load import load_files

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    treatments = ["treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,"
                  "corrects_treatment_id,price_nok,minutes"]
    follow_ups = ["follow_up_id,treatment_id,seen_on,effect,asymmetry,eyelid_ptosis,brow_ptosis,bruising,dry_eye,"
                  "headache_days,hdss,satisfaction"]
    n = 0
    for month in range(1, 13):
        for clinician, (low, high) in CLINICIANS.items():
            for _ in range(int(rng.integers(low, high))):
                n += 1
                day = dt.date(2024, month, int(rng.integers(1, 29)))
                speywood = rng.random() < 0.2
                product, units = ("Azzalure", 60) if speywood else ("Botox", int(rng.choice([20, 24, 40])))
                area = AREAS[int(rng.integers(len(AREAS)))]
                treatments.append(f"S{n:04d},p{n:04d},{day},{clinician},cosmetic,{area},{product},{units},,"
                                  f"{2900 if '|' in area else 1900},20")
                if rng.random() < 0.85:
                    partial = rng.random() < 0.12
                    follow_ups.append(
                        f"F{n:04d},S{n:04d},{day + dt.timedelta(days=int(rng.integers(8, 15)))},"
                        f"{'partial' if partial else 'full'},no,{'yes' if rng.random() < 0.04 else 'no'},no,"
                        f"{'yes' if rng.random() < 0.15 else 'no'},no,,,")
                    if partial and rng.random() < 0.7:
                        fix = day + dt.timedelta(days=int(rng.integers(14, 21)))
                        treatments.append(f"S{n:04d}c,p{n:04d},{fix},{clinician},cosmetic,{area},{product},6,"
                                          f"S{n:04d},0,10")
    files = {
        "clinicians.csv": "clinician,profession,cost_per_minute_nok\nA01,lege,30\nB02,sykepleier,20\nC03,lege,25\n",
        "product_prices.csv": "product,valid_from,cost_per_unit_nok\nBotox,2023-01-01,30\nAzzalure,2023-01-01,11\n",
        "treatments.csv": "\n".join(treatments) + "\n",
        "follow_ups.csv": "\n".join(follow_ups) + "\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    db = folder / "db" / "clinic.duckdb"
    result = load_files([folder / name for name in files], db, today=TODAY)
    assert result.rows_rejected == 0, result.rejected_examples
    return db
