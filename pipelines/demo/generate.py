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
   last ~6 weeks of sessions;
4. a weak lot: for three months from eight months before ``end_date`` a second Vistabel lot
   (``lots.PLANTED_LOT_NUMBER``) was in use, with several times the clinic's rate of insufficient effect (the
   funnel by lot flags it);
5. an expired lot: a Bocouture lot was used for a few days past its expiry date (``expired_lot``).
   Lots, their expiry, dilution and units per area are in the files from the first year after the old journal
   system (``pipelines/demo/lots.py``), drawn from a random stream of their own.

And a few deliberately bad rows (realistic clinic mistakes, at positions fixed by the seed) for the data-quality
page; ``expected_bad_rows()`` says how many of each kind a call writes.

Everything is vectorised with numpy (no per-session Python loops): 1,000,000 treatments take well under a minute.
The output is a pure function of ``(n_treatments, seed, end_date)`` and the reference files: byte-identical files.
All steps draw from one random generator, so the order of the steps in ``_generate`` (and of the draws inside
each) is part of the output; ``tests/test_demo_steps.py`` pins the files' hashes.

Where things are (modules of ``pipelines/demo/``): ``params`` (every rate and code table), ``dates`` (day
arithmetic, open days), ``patients`` (the clinic, patients and their chains of visits), ``sessions`` (what each
session was and what happened, the corrections), ``planted`` (the patterns above and secondary non-response),
``follow_ups`` (the contacts), ``bad_rows`` (the bad rows), ``files`` (the CSV conventions and writing).
``_generate`` below is the sequence of steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.demo.bad_rows import choose_bad_rows, rows_per_kind
from pipelines.demo.files import Generated, copy_reference, write_files
from pipelines.demo import lots
from pipelines.demo.follow_ups import follow_up_contacts
from pipelines.demo.params import (  # re-exported: the tests and the docs refer to them here
    BAD_ROW_KINDS,
    COLUMN_MAP_PATH,
    CORRECTIONS_PER_PRIMARY,
    DATA_DIR,
    IND,
    IND_SHARE,
    LAG_FULL_DAYS,
    LAG_MIN,
    MIN_TREATMENTS,
    PTOSIS_CLINICIAN,
    PTOSIS_MULTIPLIER,
    REFERENCE_FILES,
    SWITCH_LENGTH_DAYS,
    SWITCH_PRODUCT,
    SWITCH_SHARE,
    SWITCH_START_DAYS,
    WINDOW_DAYS,
)
from pipelines.demo.patients import Clinic, Window, patient_refs, patient_traits, primary_visits
from pipelines.demo.planted import plant_secondary_non_response
from pipelines.demo.quality import QUALITY_FILES, write_quality_files  # noqa: F401 (QUALITY_FILES: re-exported)
from pipelines.demo.sessions import (
    assemble_treatments,
    choose_corrected,
    complications,
    correction_sessions,
    cosmetic_reviews,
    describe_sessions,
    review_effects,
)
from pipelines.errors import UserError

__all__ = [
    "BAD_ROW_KINDS", "COLUMN_MAP_PATH", "DATA_DIR", "IND", "IND_SHARE", "LAG_FULL_DAYS", "LAG_MIN",
    "MIN_TREATMENTS", "PTOSIS_CLINICIAN", "PTOSIS_MULTIPLIER", "REFERENCE_FILES", "SWITCH_LENGTH_DAYS",
    "SWITCH_PRODUCT", "SWITCH_SHARE", "SWITCH_START_DAYS", "WINDOW_DAYS", "expected_bad_rows", "main",
    "write_demo_exports",
]

RNG_SALT = 20_240_229  # mixed into the seed: the generator is np.random.default_rng([seed, RNG_SALT])


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------

def expected_bad_rows(n_treatments: int = 20_000, seed: int = 42, end_date: dt.date | None = None) -> dict[str, int]:
    """How many deliberately bad rows of each kind ``write_demo_exports`` writes (table: ``BAD_ROW_KINDS``).

    Treatment rows with a bad value were chosen among sessions nothing else refers to (no follow-up, no
    correction), so refusing them refuses nothing else. The counts depend on ``n_treatments`` only.
    """
    k = rows_per_kind(n_treatments)
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
    English headers, later years plain UTF-8 CSV), then ``process_changes.csv`` and ``targets.csv``
    (pipelines/demo/quality.py). No date in any file is after ``end_date`` (default: today).
    """
    if n_treatments < MIN_TREATMENTS:
        raise UserError(f"--treatments must be at least {MIN_TREATMENTS}")
    end = end_date or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reference_dir = Path(reference_dir)

    written = [copy_reference(reference_dir / name, out_dir / name, end) for name in REFERENCE_FILES]
    clinicians = pd.read_csv(reference_dir / "clinicians.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    data = _generate(n_treatments, seed, end, clinicians)
    written += write_files(out_dir, data)
    written += write_quality_files(out_dir, end)  # no random draws: the files above keep their bytes
    return written


# --------------------------------------------------------------------------------------------------------------
# Generation: the steps in order (each draws from ``rng``; do not reorder them)
# --------------------------------------------------------------------------------------------------------------

def _generate(n_treatments: int, seed: int, end_date: dt.date, clinicians: pd.DataFrame) -> Generated:
    """Everything the files hold, for ``clinicians`` (the rows of clinicians.csv); exactly ``n_treatments``
    treatments (primaries plus ``CORRECTIONS_PER_PRIMARY`` corrections per primary) in the window ending at
    ``end_date``."""
    rng = np.random.default_rng([seed, RNG_SALT])
    window = Window.ending(end_date)
    clinic = Clinic.from_frame(clinicians)
    n_primary = round(n_treatments / (1 + CORRECTIONS_PER_PRIMARY))

    # Patients and their primary sessions.
    visits = primary_visits(rng, n_primary, window)  # chains of visits per indication, on open days
    patients = patient_traits(rng, visits, clinic)  # sex, age, own clinician, usual areas
    s = describe_sessions(rng, visits, patients, clinic, window)  # clinician, areas, product (pattern 2), ...
    s.ev = complications(rng, s.areas, s.ind, s.clin, clinic.codes)  # pattern 1: PTOSIS_CLINICIAN
    s.effect = review_effects(rng, s.ind, s.in_switch, s.product)  # pattern 2: insufficient effect rises
    s.snr_none = plant_secondary_non_response(rng, s, patients.first, window.end)

    # Reviews of cosmetic primaries and the free corrections after insufficient effect.
    reviews = cosmetic_reviews(rng, s, window.end)
    corrected = choose_corrected(rng, s, reviews, n_treatments - n_primary)
    corrections = correction_sessions(rng, s, corrected, reviews, clinic, window.end)
    treatments, row_of = assemble_treatments(s, corrections, patients)

    # Follow-up contacts (pattern 3: the newest are missing) and the bad rows.
    follow_ups = follow_up_contacts(rng, s, reviews, corrections, row_of, patients.resp, window.end)
    bad = choose_bad_rows(rng, n_treatments, treatments, follow_ups, window.end, clinic.codes)

    # Lots, expiry, dilution and units per area (patterns 4 and 5), from a random stream of their own.
    lot_rng = np.random.default_rng([seed, RNG_SALT, lots.LOTS_SALT])
    treatments["trace"] = lots.assign(lot_rng, treatments, row_of[:len(s.day)], window.start, window.end,
                                      len(clinic.codes))
    follow_ups = lots.weaken(lot_rng, follow_ups, treatments["trace"], treatments["day"])
    return Generated(treatments=treatments, follow_ups=follow_ups, bad=bad, codes=clinic.codes,
                     patient_ref=patient_refs(seed, len(patients.ind)), start=window.start, end=window.end)


# --------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.demo.generate``: write the exports (default into data/demo_exports) and list them."""
    ap = argparse.ArgumentParser(prog="python -m pipelines.demo.generate",
                                 description="Write synthetic clinic exports.")
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
