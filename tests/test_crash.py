"""Crash safety: `python -m pipelines load` killed with SIGKILL at many points of a large load loses nothing.

A generated export of 150,000 treatments is loaded in two steps: load A (reference files and the first year) and
load B (the other years, ~230,000 rows). B is then started again and again from the state after A and killed
after varying delays spread over its duration, and at the publish steps it can be seen doing (the working
database's write-ahead log gone after the checkpoint, the publish temp file, the new snapshot's hard link, the
published file replaced). After every kill:

- the published database opens and holds exactly the state after A or the state after B (a fingerprint of every
  table, never a mix), and the working database too, never behind the published one;
- the next load (a new clinician) completes, and publishes exactly what the working database held plus that row;
- no temp file is left behind.

Finally the killed load is simply run again and must give exactly the state after B. Runs in about a minute.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT
from corpus import report

from pipelines.contract import TABLES
from pipelines.demo.generate import write_demo_exports
from pipelines.ingest.load import load_files
from pipelines.ingest.store import DbPaths
from pipelines.metrics import counting

MAP = ROOT / "data" / "column_map_nb.csv"
N_TREATMENTS = 100_000
TIME_POINTS = 12
EVENTS = ("checkpoint done", "publish copying", "snapshot linked", "published replaced")
POINTS: list[dict] = []
FINAL: dict = {}

pytestmark = pytest.mark.slow


def fingerprint(db: Path, data_only: bool = False, without_clinician: str | None = None) -> tuple:
    """Row count and an order-independent hash of every table (timestamps and sequence ids left out).
    `data_only` leaves out the load log and snapshot info, which every load changes."""
    queries = [f"SELECT * FROM {t.name}" for t in TABLES]
    if without_clinician:
        queries[0] += f" WHERE clinician <> '{without_clinician}'"
    queries.append("SELECT * EXCLUDE (rejected_id, rejected_at, load_id, resolved_load_id) FROM rejected_rows")
    queries.append(f"SELECT * FROM {counting.MART}")  # the outcome mart, rebuilt by every load
    if not data_only:
        queries.append("SELECT * EXCLUDE (loaded_at) FROM load_log")
        queries.append("SELECT version, last_load_id FROM snapshot_info")
    con = duckdb.connect(str(db), read_only=True)
    try:
        return tuple(con.execute(f"SELECT count(*), coalesce(sum(hash(x)), 0) FROM ({q}) x").fetchall()[0]
                     for q in queries)
    finally:
        con.close()


def rows_apart(got: tuple, expected: tuple) -> int:
    """How many rows a state differs from another by (at least 1 when only contents differ)."""
    diff = sum(abs(g[0] - e[0]) for g, e in zip(got, expected))
    return diff or int(got != expected)


def start_load(files: list[Path], db: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", "load", *map(str, files), "--db", str(db), "--map", str(MAP),
         "--no-progress"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), start_new_session=True)


def wait_for(event: str, proc: subprocess.Popen, paths: DbPaths, version: int) -> bool:
    """Poll every 0.2 ms (the publish steps take milliseconds) until `event` is seen; False if the load ended first."""
    inode = os.stat(paths.published).st_ino
    snapshot = paths.snapshots / f"{paths.published.stem}-v{version:06d}.duckdb"
    wal = Path(str(paths.work) + ".wal")
    wal_seen = False
    prefix = f".{paths.published.name}."
    while proc.poll() is None:
        time.sleep(0.0002)  # the publish copy takes ~10 ms; leave the cores to the loader
        if event == "checkpoint done":
            exists = wal.exists()
            wal_seen |= exists
            if wal_seen and not exists:
                return True
        elif event == "publish copying":
            if any(n.startswith(prefix) and n.endswith(".tmp") for n in os.listdir(paths.published.parent)):
                return True
        elif event == "snapshot linked":
            if snapshot.exists():
                return True
        elif event == "published replaced":
            if os.stat(paths.published).st_ino != inode:
                return True
    return False


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    files = write_demo_exports(root / "exports", n_treatments=N_TREATMENTS, end_date=dt.date(2025, 1, 31))
    first = [f for f in files if f.name in ("clinicians.csv", "product_prices.csv") or "2022" in f.name]
    second = [f for f in files if f not in first]
    before = root / "before" / "clinic.duckdb"
    load_files(first, before, column_map=MAP)
    after = root / "after" / "clinic.duckdb"
    shutil.copytree(before.parent, after.parent)
    started = time.monotonic()
    proc = start_load(second, after, root / "reference.log")
    assert proc.wait() == 0, (root / "reference.log").read_text()
    duration = time.monotonic() - started
    extra = root / "extra_clinician.csv"
    extra.write_text("clinician,profession,cost_per_minute_nok\nX99,lege,40\n")
    fp_before, fp_after = fingerprint(before), fingerprint(after)
    assert fp_before != fp_after
    return {"root": root, "second": second, "before": before, "after": after, "duration": duration, "extra": extra,
            "fp": {"before": fp_before, "after": fp_after},
            "data": {"before": fingerprint(before, data_only=True), "after": fingerprint(after, data_only=True)},
            "rows_in_load": fp_after[2][0] + fp_after[3][0] - fp_before[2][0] - fp_before[3][0]}


def kill_points(duration: float) -> list[tuple[str, float | str]]:
    """Two thirds of the delays spread over reading, validating and writing; the rest over the last ~15 %
    (commit, checkpoint, publish), where a kill is most likely to do harm."""
    early, late = TIME_POINTS * 2 // 3, TIME_POINTS - TIME_POINTS * 2 // 3
    fractions = [0.1 + 0.75 * i / (early - 1) for i in range(early)]
    fractions += [0.88 + 0.14 * i / (late - 1) for i in range(late)]
    return [("after", round(duration * f, 3)) for f in fractions] + [("event", e) for e in EVENTS]


def _which(fp: tuple, states: dict) -> str | None:
    return next((name for name, value in states.items() if value == fp), None)


@pytest.mark.parametrize("index", range(TIME_POINTS + len(EVENTS)))
def test_kill_the_loader(scenario, index, tmp_path):
    kind, when = kill_points(scenario["duration"])[index]
    db = tmp_path / "db" / "clinic.duckdb"
    shutil.copytree(scenario["before"].parent, db.parent)
    paths = DbPaths(db)
    point = {"point": index + 1, "when": f"{when:.2f} s" if kind == "after" else str(when), "phase": "",
             "published": "", "work": "", "next_load": "", "rows_lost": None, "crashes": 0, "checked": False}
    POINTS.append(point)
    log = tmp_path / "load.log"
    started = time.monotonic()
    proc = start_load(scenario["second"], db, log)
    if kind == "after":
        while proc.poll() is None and time.monotonic() - started < when:
            time.sleep(0.005)
        seen = proc.poll() is None
    else:
        seen = wait_for(when, proc, paths, version=2)
    exited = proc.poll() is not None
    with contextlib.suppress(ProcessLookupError):  # it may have finished on its own
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    point["phase"] = (f"killed at {time.monotonic() - started:.2f} s" if seen and not exited
                      else "finished before the kill")
    if b"Traceback" in log.read_bytes():
        point["crashes"] += 1

    # the published database opens and is exactly the state before or after the load
    published = fingerprint(db)
    point["published"] = _which(published, scenario["fp"]) or "MIXED"
    work = fingerprint(paths.work)
    point["work"] = _which(work, scenario["fp"]) or "MIXED"
    point["rows_lost"] = min(rows_apart(published, fp) for fp in scenario["fp"].values())
    assert point["published"] != "MIXED" and point["work"] != "MIXED"
    assert not (point["published"] == "after" and point["work"] == "before")

    # the next load completes and continues from the working database
    try:
        load_files([scenario["extra"]], db)
    except Exception:
        point["crashes"] += 1
        point["next_load"] = "FAILED"
        raise
    point["next_load"] = "completed"
    assert fingerprint(db, data_only=True, without_clinician="X99") == scenario["data"][point["work"]]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM clinicians WHERE clinician = 'X99'").fetchall() == [(1,)]
    con.close()
    assert not [n for n in os.listdir(db.parent) if n.endswith(".tmp")]
    point["checked"] = True


def test_running_the_killed_load_again_gives_the_state_after_it(scenario, tmp_path):
    """Kill B in the middle, then do what a user would do: run it again. The result is exactly B."""
    db = tmp_path / "db" / "clinic.duckdb"
    shutil.copytree(scenario["before"].parent, db.parent)
    proc = start_load(scenario["second"], db, tmp_path / "killed.log")
    time.sleep(scenario["duration"] * 0.6)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = start_load(scenario["second"], db, tmp_path / "rerun.log")
    FINAL["rerun_exit"] = rerun.wait()
    assert FINAL["rerun_exit"] == 0, (tmp_path / "rerun.log").read_text()
    FINAL["rows_lost"] = rows_apart(fingerprint(db, data_only=True), scenario["data"]["after"])
    assert fingerprint(db, data_only=True) == scenario["data"]["after"]


def test_a_load_killed_while_copying_the_published_database_leaves_no_half_copy(scenario, tmp_path, monkeypatch):
    """Without a working database the load starts from a copy of the published one; a kill mid-copy (simulated:
    the copy writes part of the file and stops) must not leave a half-copied working database behind."""
    import pipelines.ingest.store as store

    db = tmp_path / "db" / "clinic.duckdb"
    shutil.copytree(scenario["before"].parent, db.parent)
    DbPaths(db).work.unlink()
    real_copy = shutil.copyfile

    def killed_mid_copy(src, dst, *args, **kwargs):
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 20])
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(store.shutil, "copyfile", killed_mid_copy)
    with pytest.raises(KeyboardInterrupt):
        load_files([scenario["extra"]], db)
    monkeypatch.setattr(store.shutil, "copyfile", real_copy)
    load_files([scenario["extra"]], db)  # the next load completes...
    # ...and continues from the published state
    assert fingerprint(db, data_only=True, without_clinician="X99") == scenario["data"]["before"]
    assert not [n for n in os.listdir(db.parent) if n.endswith(".tmp")]


def test_reliability_section(scenario):
    """Runs last in this file: writes the crash section of docs/reliability.md."""
    assert len(POINTS) == TIME_POINTS + len(EVENTS) and FINAL, "run the whole file to write the report"
    unchecked = [p["point"] for p in POINTS if not p.get("checked")]
    lost = sum(p["rows_lost"] or 0 for p in POINTS) + FINAL.get("rows_lost", 0)
    crashes = sum(p["crashes"] for p in POINTS) + int(FINAL.get("rerun_exit", 1) != 0)
    outcomes = {state: sum(p["published"] == state for p in POINTS) for state in ("before", "after")}
    committed_unpublished = sum(p["published"] == "before" and p["work"] == "after" for p in POINTS)
    body = (
        f"`python -m pipelines load` of a generated export ({N_TREATMENTS:,} treatments over three years; load B = "
        f"{scenario['rows_in_load']:,} treatment and follow-up rows, {scenario['duration']:.1f} s when not killed "
        f"on this machine) was killed with SIGKILL at {len(POINTS)} points: {TIME_POINTS} delays spread over the "
        f"load, and {len(EVENTS)} moments of the publish ({', '.join(EVENTS)}).\n\n"
        + report.table(["#", "kill at", "what happened", "published db", "working db", "next load", "rows lost",
                        "crashes"],
                       [[p["point"], p["when"], p["phase"], p["published"], p["work"], p["next_load"], p["rows_lost"],
                         p["crashes"]] for p in POINTS])
        + f"\n\nThe published database held the state before the load after {outcomes['before']} kills and the state "
          f"after it after {outcomes['after']}; never a mix. {committed_unpublished} kill(s) came after the working "
          "database had committed but before the publish: the next load then published the committed state with "
          "its own row. Running the killed load again gave exactly the state after it "
          f"({'yes' if FINAL.get('rows_lost') == 0 else 'NO'})."
        + (f"\n\n**Points whose checks failed: {unchecked}.**" if unchecked else "")
    )
    report.write_section("crash", body, {
        "tried": f"{len(POINTS)} SIGKILL points during a load of {scenario['rows_in_load']:,} rows",
        "rows_lost": lost, "crashes": crashes, **outcomes, "committed_unpublished": committed_unpublished})
    assert lost == 0 and crashes == 0 and not unchecked
