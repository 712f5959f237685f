"""Targets: the clinic's own target rate per outcome (the `targets` reference table of the data contract), drawn
on the time charts and read against the process limits (NHS "Making Data Count" assurance,
pipelines.stats.assurance_reading): consistently meets, consistently fails, or hit and miss.

An adverse outcome meets its target at or below it; an outcome where higher is better (registry
`higher_is_better`) at or above it. A database published before the table existed has no targets.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipelines import stats
from pipelines.metrics import analysis, registry
from pipelines.metrics.changes import has_table

READINGS = stats.ASSURANCE_READINGS


def targets(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """{outcome key: target as a proportion (0-1)} for the outcomes the clinic set a target for."""
    if not has_table(con, "targets"):
        return {}
    return {k: float(v) / 100.0 for k, v in con.execute(
        "SELECT outcome, target_pct FROM targets WHERE target_pct IS NOT NULL ORDER BY outcome").fetchall()}


def target_for(con: duckdb.DuckDBPyConnection, outcome_key: str) -> float | None:
    """One outcome's target (a proportion), None when the clinic set none."""
    return targets(con).get(registry.get(outcome_key).key)


def assurance(frame: pd.DataFrame, outcome_key: str, target: float | None) -> str:
    """The assurance reading of an spc frame (analysis.spc) against a target: 'consistently_meets',
    'consistently_fails', 'hit_and_miss', or '' (no target, or fewer than analysis.MIN_POINTS_FOR_READING closed
    periods with a rate, as the variation reading). Only closed periods of the latest part are read."""
    if target is None or not np.isfinite(target):
        return ""
    if "period_closed" in frame:
        frame = frame[frame["period_closed"].astype(bool)]
    if frame.empty or frame["rate"].notna().sum() < analysis.MIN_POINTS_FOR_READING:
        return ""
    return stats.assurance_reading(frame, target, higher_is_worse=not registry.get(outcome_key).higher_is_better)


def readings(con: duckdb.DuckDBPyConnection, spc: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per outcome of `spc` ({outcome key: spc frame}, e.g. signals.spc_frames): outcome, target (a
    proportion, nan without one), variation (analysis.variation_reading) and assurance (`assurance`)."""
    found = targets(con)
    rows = []
    for key, frame in spc.items():
        o = registry.get(key)
        target = found.get(key)
        rows.append({"outcome": key, "target": np.nan if target is None else target,
                     "variation": analysis.variation_reading(frame, higher_is_better=o.higher_is_better),
                     "assurance": assurance(frame, key, target)})
    return pd.DataFrame(rows, columns=["outcome", "target", "variation", "assurance"])


__all__ = ["targets", "target_for", "assurance", "readings", "READINGS"]
