"""The demo clinic's quality-meeting reference files: what changed in the clinic (`process_changes.csv`) and the
clinic's own targets (`targets.csv`). No random draws: written after every other file, from ``end_date`` only, so
the generated exports before them keep their bytes (tests/test_demo_steps.py pins them all).

Process changes: the product switch of pattern 2 (its start and its end, not re-based: the switch is the special
cause the charts should show, not a new process), and a new aftercare routine for bruising eight months before
``end_date`` that starts a new part of the bruising chart (`rebase = yes`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.demo.params import SWITCH_LENGTH_DAYS, SWITCH_PRODUCT, SWITCH_START_DAYS

QUALITY_FILES = ("process_changes.csv", "targets.csv")  # not seeded: the same for every seed
AFTERCARE_DAYS = 243  # ~8 months before end_date: the re-based bruising chart has 8 months after the change
TARGETS_PCT = {"insufficient_effect": 10, "correction": 8, "ptosis": 2, "bruising": 5}


def process_changes(end: dt.date) -> list[tuple[str, str, str, str, str, str]]:
    """(changed_on, description, outcome, product, clinician, rebase) rows, oldest first."""
    start = end - dt.timedelta(days=SWITCH_START_DAYS)
    back = start + dt.timedelta(days=SWITCH_LENGTH_DAYS)
    aftercare = end - dt.timedelta(days=AFTERCARE_DAYS)
    return [
        (start.isoformat(), f"Supplier shortage: most cosmetic sessions switched to {SWITCH_PRODUCT}",
         "insufficient_effect", SWITCH_PRODUCT, "", "no"),
        (back.isoformat(), "Usual products back for cosmetic sessions", "insufficient_effect", "", "", "no"),
        (aftercare.isoformat(), "New aftercare routine: cold pack and no massage leaflet for every patient",
         "bruising", "", "", "yes"),
    ]


def write_quality_files(out_dir: Path, end: dt.date) -> list[Path]:
    """Write process_changes.csv and targets.csv into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    changes = out_dir / "process_changes.csv"
    rows = ["changed_on,description,outcome,product,clinician,rebase",
            *(",".join(r) for r in process_changes(end))]
    changes.write_bytes(("\n".join(rows) + "\n").encode("utf-8"))
    targets = out_dir / "targets.csv"
    targets.write_bytes(("outcome,target_pct\n" + "".join(f"{k},{v}\n" for k, v in TARGETS_PCT.items()))
                        .encode("utf-8"))
    return [changes, targets]
