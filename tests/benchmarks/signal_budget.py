"""The false-alarm budget of the signals list, measured by simulation (issue 17), written to docs/signal-budget.md.

    .venv/bin/python tests/benchmarks/signal_budget.py [--seeds 12] [--report docs/signal-budget.md]

In-control clinics (pipelines/demo/in_control.py: 10 clinicians, 36 months, about 20,000 sessions, every rate
constant) go through the real loader; the overview's list is computed as of the last day (signals.episode_list
with the registry's watch levels) and its concerning episodes are counted, by source. The CUSUM is then computed
again at other in-control run lengths (ARL0) to show the trade-off: false alarms per year against how long a
doubled (and a tripled) eyelid-ptosis rate of one clinician takes to be listed. Detection runs use the same clinics
with one clinician's eyelid ptosis multiplied from month 19 on; a CUSUM crossing is listed once the session's
window has closed, so the time to detect is (crossing's treatment day + window) - start. The funnel is judged as of
6 months after the start and as of the end.

Not part of the normal suite (it takes minutes); tests/test_signal_budget.py checks the budget and the detection
on a few fixed seeds, and tests/test_benchmark_smoke.py-style smoke runs keep this script from rotting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from pipelines import stats  # noqa: E402
from pipelines.demo.in_control import Excess, write_in_control  # noqa: E402
from pipelines.ingest.load import load_files  # noqa: E402
from pipelines.metrics import analysis, episodes, registry, signals  # noqa: E402

END = dt.date(2025, 12, 31)
START = dt.date(2024, 7, 1)  # month 19 of 36: an excess starts here in the detection runs
BUDGET_PER_36_MONTHS = 12  # at most one concerning episode per quarter on average
ARL0_CHOICES = (5_000, 10_000, 20_000, 40_000, 80_000)
DETECT_CLINICIAN = "C03"
DETECT_OUTCOME = "eyelid_ptosis"


def build(folder: Path, seed: int, excess: Excess | None = None) -> Path:
    paths = write_in_control(folder, seed=seed, end=END, excess=excess)
    db = folder / "db" / "clinic.duckdb"
    load_files(paths, db, today=END + dt.timedelta(days=1), progress=False)
    return db


def cusum_rows(con, keys, arl0: float) -> pd.DataFrame:
    parts = []
    for key in keys:
        try:
            frame = analysis.cusum(con, key, as_of=END, arl0=arl0)
        except stats.CusumTooRare:
            continue
        parts.append(signals.cusum_signals({key: frame}))
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=signals.SIGNAL_COLUMNS)


def false_alarms(db: Path) -> dict:
    """Concerning episodes on the list as of END, by source, for the product's ARL0 and the alternatives."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        spc = signals.spc_frames(con, signals.watched("clinic"), as_of=END)
        funnels = signals.funnel_frames(con, signals.watched("clinician"), as_of=END)
        base = signals.collect(signals.spc_signals(spc), signals.funnel_signals(funnels, END))
        base_ep = signals.signal_episodes(base)
        out = {"spc": int((base_ep["concern"].astype(bool) & (base_ep["kind"] == "spc")).sum()),
               "funnel": int((base_ep["concern"].astype(bool) & (base_ep["kind"] == "funnel")).sum()),
               "cusum": {}}
        for arl0 in ARL0_CHOICES:
            ep = signals.signal_episodes(cusum_rows(con, signals.watched("clinician"), arl0))
            out["cusum"][arl0] = int(ep["concern"].astype(bool).sum())
        return out
    finally:
        con.close()


def detection(db: Path) -> dict:
    """Months from the start of the excess until it is listed (CUSUM), per ARL0; and the funnel's verdicts."""
    con = duckdb.connect(str(db), read_only=True)
    close = registry.get(DETECT_OUTCOME).close_days
    try:
        out = {"cusum_months": {}}
        for arl0 in ARL0_CHOICES:
            frame = analysis.cusum(con, DETECT_OUTCOME, as_of=END, arl0=arl0)
            hit = frame[(frame["clinician"] == DETECT_CLINICIAN) & frame["signal"].astype(bool)
                        & (pd.to_datetime(frame["treated_on"]).dt.date >= START)]
            if hit.empty:
                out["cusum_months"][arl0] = None
            else:
                seen = pd.Timestamp(hit["treated_on"].iloc[0]).date() + dt.timedelta(days=close)
                out["cusum_months"][arl0] = round((seen - START).days / 30.44, 1)
        for label, as_of in (("funnel_6_months", START + dt.timedelta(days=183)), ("funnel_end", END)):
            frame, _ = analysis.funnel(con, DETECT_OUTCOME, as_of=as_of)
            out[label] = str(frame.set_index("clinician").loc[DETECT_CLINICIAN, "flag"] or "")
        return out
    finally:
        con.close()


def run(seeds: int, workdir: Path) -> dict:
    results = {"in_control": [], "doubled": [], "tripled": []}
    for seed in range(1, seeds + 1):
        started = time.monotonic()
        folder = workdir / f"ic{seed}"
        results["in_control"].append(false_alarms(build(folder, seed)))
        shutil.rmtree(folder, ignore_errors=True)
        for label, factor in (("doubled", 2.0), ("tripled", 3.0)):
            folder = workdir / f"{label}{seed}"
            excess = Excess(DETECT_CLINICIAN, DETECT_OUTCOME, factor, START)
            results[label].append(detection(build(folder, seed, excess)))
            shutil.rmtree(folder, ignore_errors=True)
        print(f"seed {seed}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return results


def summarise(results: dict) -> dict:
    ic = results["in_control"]
    per_run = {a: [r["spc"] + r["funnel"] + r["cusum"][a] for r in ic] for a in ARL0_CHOICES}

    def months(label: str, arl0: int) -> tuple[float | None, float]:
        values = [r["cusum_months"][arl0] for r in results[label]]
        found = [v for v in values if v is not None]
        return (statistics.median(found) if found else None), len(found) / len(values)

    return {
        "runs": len(ic),
        "spc_mean": statistics.mean(r["spc"] for r in ic),
        "funnel_mean": statistics.mean(r["funnel"] for r in ic),
        "by_arl0": {a: {"episodes_mean": statistics.mean(per_run[a]), "episodes_max": max(per_run[a]),
                        "per_year": statistics.mean(per_run[a]) / 3,
                        "cusum_mean": statistics.mean(r["cusum"][a] for r in ic),
                        "doubled": months("doubled", a), "tripled": months("tripled", a),
                        "tripled_max": max((r["cusum_months"][a] for r in results["tripled"]
                                            if r["cusum_months"][a] is not None), default=float("nan")),
                        "tripled_within_6": sum(1 for r in results["tripled"]
                                                if r["cusum_months"][a] is not None and r["cusum_months"][a] <= 6)
                        / len(results["tripled"])}
                    for a in ARL0_CHOICES},
        "funnel_tripled_6": sum(r["funnel_6_months"] == "high" for r in results["tripled"]) / len(ic),
        "funnel_tripled_end": sum(r["funnel_end"] == "high" for r in results["tripled"]) / len(ic),
        "funnel_doubled_end": sum(r["funnel_end"] == "high" for r in results["doubled"]) / len(ic),
    }


def report(summary: dict, seconds: float) -> str:
    chosen = int(analysis.CUSUM_ARL0)
    rows = []
    for a, r in summary["by_arl0"].items():
        d_med, d_share = r["doubled"]
        t_med, t_share = r["tripled"]
        mark = " **(the product)**" if a == chosen else ""
        rows.append(f"| {a:,}{mark} | {r['cusum_mean']:.1f} | {r['episodes_mean']:.1f} ({r['episodes_max']}) | "
                    f"{r['per_year']:.1f} | {'–' if d_med is None else f'{d_med:.1f}'} ({d_share:.0%}) | "
                    f"{'–' if t_med is None else f'{t_med:.1f}'} ({t_share:.0%}) | {r['tripled_within_6']:.0%} |")
    c = summary["by_arl0"][chosen]
    return f"""# The false-alarm budget of the signals list

<!-- written by `python tests/benchmarks/signal_budget.py`; {summary['runs']} simulated clinics per row,
{seconds:.0f} seconds on this machine -->

**The budget:** on a clinic the size of the demo (10 clinicians, 36 months, about 20,000 sessions) where nothing is
wrong, the overview lists at most **{BUDGET_PER_36_MONTHS} concerning episodes in 36 months** on average (one a
quarter). Measured with the product's settings: **{c['episodes_mean']:.1f} in 36 months ({c['per_year']:.1f} a year)**,
of which {summary['spc_mean']:.1f} from the clinic's control charts, {summary['funnel_mean']:.1f} from the clinicians'
funnels and {c['cusum_mean']:.1f} from the clinicians' CUSUMs. The first version listed 28-59 in such a clinic, 88 %
of them CUSUM restarts.

**How it is met** (pipelines/metrics/signals.py `listed`, the registry's `watch`, pipelines/metrics/episodes.py):
- *Episodes, not points.* Consecutive flagged periods of one rule are one entry; a CUSUM that crosses again within
  {episodes.CUSUM_EPISODE_GAP_DAYS} days of its restart is the same episode; a funnel flag is one per clinician.
- *Which outcomes are watched per clinician.* Funnel positions and CUSUMs are listed for
  {', '.join(registry.WATCHED_PER_CLINICIAN)}: common enough for a doubling to show within months at one
  clinician's volume, and something a clinician's technique changes (correction is insufficient effect's cost side;
  ptosis is watched through eyelid ptosis, its common part). The other outcomes have the clinic's control chart on
  the list and their funnels and CUSUMs on the Clinicians page. {', '.join(registry.WATCHED_CASE_BY_CASE)} are
  reviewed case by case: no chart lists them.
- *Which rules feed the list.* Control charts: a period beyond the 3-sigma limits and Anhoej's run rules, on
  closed periods only, where the chart expects at least one event per period. The Making Data Count reading stays
  the overview's variation icon. Funnels: outside the 99.8 % limits (with fewer than 20 clinicians the target and
  overdispersion come from the clinicians a leave-one-out pass does not flag). CUSUM: odds ratio
  {analysis.CUSUM_ODDS_RATIO:g}, in-control average run length **{chosen:,} sessions** per clinician and outcome.

**Expected false alarms per year: {c['per_year']:.1f}** (in-control clinic of the demo's size; a busier clinic
watches more sessions and has proportionally more CUSUM false alarms).

## The trade-off: false alarms against time to detect

One clinician of ten has their eyelid-ptosis rate (2 % in the simulation) doubled or tripled from month 19. Months
to detect = from the start of the excess until the CUSUM's crossing is listed (its session's 28-day window closed),
median over the runs that found it within the remaining 18 months (share found in brackets).

| CUSUM ARL0 (sessions) | CUSUM false episodes / 36 months | all concerning episodes / 36 months (max) | per year | doubled: months to list (found) | tripled: months to list (found) | tripled listed within 6 months |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The funnel (whole period, {summary['runs']} runs): a tripled rate flagged high in {summary['funnel_tripled_6']:.0%} of
runs as of 6 months after the start and in {summary['funnel_tripled_end']:.0%} as of the end (a doubled one in
{summary['funnel_doubled_end']:.0%} as of the end).

**Why {chosen:,}:** the shortest run length in the table whose false alarms stay within the budget on average
({c['episodes_mean']:.1f} of {BUDGET_PER_36_MONTHS}, at most {c['episodes_max']} in one clinic). Shorter run lengths
find a doubled rate sooner but list more false alarms than the budget allows; longer ones buy few false alarms
with months of waiting. With it a tripled eyelid-ptosis rate is listed in a median {c['tripled'][0]:.1f} months
({c['tripled_within_6']:.0%} of the clinics within 6 months, the slowest in {c['tripled_max']:.1f}), a doubled one in
{'–' if c['doubled'][0] is None else f"{c['doubled'][0]:.1f}"} months.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "signal-budget.md")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="signal-budget-") as tmp:
        results = run(args.seeds, args.workdir or Path(tmp))
    summary = summarise(results)
    args.report.write_text(report(summary, time.monotonic() - started), encoding="utf-8")
    args.report.with_suffix(".json").write_text(json.dumps({"summary": summary, "results": results}, indent=1,
                                                           default=str), encoding="utf-8")
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
