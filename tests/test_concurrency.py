"""Concurrent use: the dashboard keeps serving while loads publish, and never shows half of one.

Two reader processes run against the published database while this process loads eight monthly files one after
another (each load publishes a new snapshot):

- a page reader renders the dashboard's data-quality page again and again with Streamlit's AppTest (cache cleared
  before every request, so every request reads the database);
- a query reader opens the published file read-only through `dashboard.data.run` and reads, on one connection, the
  snapshot version, the row counts and `pipelines.metrics.counting.rates(con)`.

No request may fail. Every query result must be exactly what its snapshot holds: row counts as expected for its
version, and the rates equal to the rates computed from that snapshot right after it was published. Every page must
show a published version, and one page view shows one snapshot (dashboard/data.py pins the snapshot per script run):
the page reader checks it on every request, and a deterministic test publishes in the middle of a page view.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from app_session import AUTH
from conftest import CLINICIANS_CSV, ROOT
from corpus import report

from pipelines.ingest.load import load_files
from pipelines.metrics import counting

LOADS = 8
TREATMENTS_PER_LOAD = 1500
BAD_PER_LOAD = 5
RATE_COLUMNS = ["metric", "eligible_n", "followed_up_n", "event_n", "numerator_n", "denominator_n"]
RESULTS: dict = {}

PAGE_READER = r"""
import json, sys
from pathlib import Path
import streamlit as st
from streamlit.testing.v1 import AppTest
root, stop = Path(sys.argv[1]), Path(sys.argv[2])
while not stop.exists():
    st.cache_data.clear()
    record = {"ok": False}
    try:
        at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=60)
        at.secrets["auth"] = json.loads(sys.argv[3])  # signed in as an admin: demo mode serves only demo databases
        at.user = {"is_logged_in": True, "email": "admin@klinikk.no", "roles": ["admin"]}
        at.switch_page("dashboard/pages/data_quality.py").run()
        record["exceptions"] = [str(e.value)[:300] for e in at.exception]
        record["version"] = next((int(m.value[1:]) for m in at.metric if str(m.value).startswith("v")), None)
        record["load_log_rows"] = len(at.dataframe[0].value) if at.dataframe else None
        record["ok"] = not record["exceptions"] and record["version"] is not None
    except Exception as exc:
        record["exceptions"] = [repr(exc)[:300]]
    print(json.dumps(record), flush=True)
"""

QUERY_READER = r"""
import json, sys
from pathlib import Path
from dashboard import data
from pipelines.metrics import counting
from pipelines.ingest import history
stop = Path(sys.argv[1])
columns = ["metric", "eligible_n", "followed_up_n", "event_n", "numerator_n", "denominator_n"]

def look(con):
    counts = dict(con.execute(
        "SELECT 'treatments', count(*) FROM treatments UNION ALL SELECT 'follow_ups', count(*) FROM follow_ups "
        "UNION ALL SELECT 'pending', count(*) FROM rejected_rows WHERE status = 'pending'").fetchall())
    rates = counting.rates(con)[columns].astype({c: "int64" for c in columns[1:]}).values.tolist()
    return {"version": history.snapshot_info(con)["version"], **counts, "rates": rates}

while not stop.exists():
    try:
        record = {"ok": True, **data.run(look)}
    except Exception as exc:
        record = {"ok": False, "exceptions": [repr(exc)[:300]]}
    print(json.dumps(record), flush=True)
"""


def month_files(folder: Path, i: int, rng: random.Random) -> list[Path]:
    """Load i (1-based): TREATMENTS_PER_LOAD sessions in month i of 2024, BAD_PER_LOAD of them with negative
    units, and a follow-up for every other session (some with complications)."""
    t_lines = ["treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,price_nok"]
    f_lines = ["follow_up_id,treatment_id,seen_on,effect,asymmetry,eyelid_ptosis,bruising,satisfaction"]
    for k in range(TREATMENTS_PER_LOAD):
        day = dt.date(2024, i, 1 + k % 28)
        units = "-1" if k < BAD_PER_LOAD else str(rng.choice([10, 20, 24, 30]))
        t_lines.append(f"T{i}_{k},p{k % 400},{day},C0{1 + k % 2},cosmetic,glabella,Botox,{units},1900")
        if k % 2:
            seen = day + dt.timedelta(days=14)
            effect = rng.choice(["full"] * 8 + ["partial", "none"])
            flags = ",".join(rng.choice(["nei"] * 19 + ["ja"]) for _ in range(3))
            f_lines.append(f"F{i}_{k},T{i}_{k},{seen},{effect},{flags},{rng.randint(3, 5)}")
    t = folder / f"behandlinger_2024_{i:02d}.csv"
    f = folder / f"kontroller_2024_{i:02d}.csv"
    t.write_text("\n".join(t_lines) + "\n")
    f.write_text("\n".join(f_lines) + "\n")
    return [t, f]


def expected_counts(version: int) -> dict[str, int]:
    loads = version - 1  # version 1 holds the clinicians only
    orphans = len(range(1, BAD_PER_LOAD, 2))  # follow-ups of the rejected sessions are rejected too
    return {"treatments": loads * (TREATMENTS_PER_LOAD - BAD_PER_LOAD),
            "follow_ups": loads * (TREATMENTS_PER_LOAD // 2 - orphans), "pending": loads * (BAD_PER_LOAD + orphans)}


def reference_rates(db: Path) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = counting.rates(con)[RATE_COLUMNS]
        return frame.astype({c: "int64" for c in RATE_COLUMNS[1:]}).values.tolist()
    finally:
        con.close()


class Reader:
    """A reader process; a thread collects its one-JSON-line-per-request output as it comes (a full pipe would
    stall the reader)."""

    def __init__(self, code: str, args: list[str], db: Path, log: Path):
        env = {**os.environ, "CLINIC_DB": str(db), "PYTHONPATH": str(ROOT)}
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=open(log, "wb"), text=True)
        self.records: list[dict] = []
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        for line in self.proc.stdout:
            if line.strip():
                self.records.append(json.loads(line))

    def wait_for_first_request(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.records:
            assert self.proc.poll() is None, f"reader died: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "reader served no request"
            time.sleep(0.05)

    def finish(self) -> list[dict]:
        self.proc.wait(timeout=120)
        self.thread.join(timeout=30)
        return self.records


@pytest.mark.slow
def test_pages_and_queries_during_loads_always_show_one_whole_snapshot(tmp_path):
    db = tmp_path / "db" / "clinic.duckdb"
    clinicians = tmp_path / "clinicians.csv"
    clinicians.write_text(CLINICIANS_CSV)
    load_files([clinicians], db)
    references = {1: reference_rates(db)}
    stop = tmp_path / "stop"
    page = Reader(PAGE_READER, [str(ROOT), str(stop), json.dumps(AUTH)], db, tmp_path / "page.log")
    query = Reader(QUERY_READER, [str(stop)], db, tmp_path / "query.log")
    try:
        page.wait_for_first_request()
        query.wait_for_first_request()
    except AssertionError:
        stop.touch()
        raise

    rng = random.Random(7)
    published: list[int] = [1]
    started = time.monotonic()
    try:
        for i in range(1, LOADS + 1):
            result = load_files(month_files(tmp_path, i, rng), db)
            assert result.rows_read == result.rows_loaded + result.rows_rejected
            published.append(result.version)
            references[result.version] = reference_rates(db)
            time.sleep(0.3)  # let the readers serve a few requests from this snapshot
        load_seconds = time.monotonic() - started
        time.sleep(1.0)
    finally:
        stop.touch()
    pages, queries = page.finish(), query.finish()
    assert published == list(range(1, LOADS + 2))

    failed = [r for r in pages + queries if not r["ok"]]
    wrong_queries = [r for r in queries if r["ok"] and (
        {k: r[k] for k in ("treatments", "follow_ups", "pending")} != expected_counts(r["version"])
        or r["rates"] != references[r["version"]])]
    pages_ok = [r for r in pages if r["ok"]]
    unknown_versions = [r for r in pages_ok if r["version"] not in published]
    # version v has 1 + 2 (v - 1) load-log rows; the table is queried after the version, so it may be newer
    straddled = [r for r in pages_ok if r["load_log_rows"] != 2 * r["version"] - 1]
    impossible = [r for r in straddled if r["load_log_rows"] not in {2 * v - 1 for v in published if v >= r["version"]}]
    RESULTS.update({
        "loads": LOADS, "load_seconds": round(load_seconds, 1), "pages": len(pages), "queries": len(queries),
        "versions_seen_by_pages": sorted({r["version"] for r in pages_ok}),
        "versions_seen_by_queries": sorted({r["version"] for r in queries if r["ok"]}),
        "failed": len(failed), "failed_pages": sum(not x["ok"] for x in pages),
        "failed_queries": sum(not x["ok"] for x in queries), "wrong_queries": len(wrong_queries),
        "unknown_versions": len(unknown_versions),
        "straddled_pages": len(straddled), "impossible_pages": len(impossible)})
    assert failed == [], failed[:3]
    assert wrong_queries == [], wrong_queries[:1]
    assert unknown_versions == [] and impossible == [] and straddled == []
    # the readers really read while the loads published: they saw more than the first and last snapshot
    assert len(RESULTS["versions_seen_by_queries"]) >= 3 and len(RESULTS["versions_seen_by_pages"]) >= 2


def test_one_page_view_shows_one_snapshot_when_a_load_publishes_during_it(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboard import data
    from pipelines.ingest import history

    db = tmp_path / "db" / "clinic.duckdb"
    clinicians = tmp_path / "clinicians.csv"
    clinicians.write_text(CLINICIANS_CSV)
    load_files([clinicians], db)
    monkeypatch.setenv("CLINIC_DB", str(db))
    real_run = data.run
    published: list[int] = []

    def run_with_a_publish_before_the_load_list(fn, *args, **kwargs):
        # the page has shown the snapshot version; before it reads the load list, a load publishes snapshot 2
        if fn is history.load_history and not published:
            published.append(load_files(month_files(tmp_path, 1, random.Random(1)), db).version)
        return real_run(fn, *args, **kwargs)

    monkeypatch.setattr(data, "run", run_with_a_publish_before_the_load_list)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH  # signed in as an admin: demo mode serves only demo databases
    at.user = {"is_logged_in": True, "email": "admin@klinikk.no", "roles": ["admin"]}
    at.switch_page("dashboard/pages/data_quality.py").run()
    st.cache_data.clear()
    assert not at.exception
    assert published == [2], "the page no longer reads the load list: update this test"
    version = next(int(m.value[1:]) for m in at.metric if str(m.value).startswith("v"))
    assert len(at.dataframe[0].value) == 2 * version - 1  # the load list belongs to the version shown


def test_reliability_section():
    """Runs last in this file: writes the concurrency section of docs/reliability.md."""
    assert RESULTS, "run the whole file to write the report"
    r = RESULTS
    body = (
        f"{r['loads']} loads ({TREATMENTS_PER_LOAD:,} treatments and {TREATMENTS_PER_LOAD // 2:,} follow-ups each) "
        f"published one after another in {r['load_seconds']} s while two other processes kept reading the published "
        "database: a page reader rendering the data-quality page with Streamlit's AppTest (cache cleared before every "
        "request) and a query reader running `dashboard.data.run` with the snapshot version, row counts and "
        "`counting.rates(con)` on one connection.\n\n"
        + report.table(["", "page requests", "queries"], [
            ["served", r["pages"], r["queries"]],
            ["failed (error, exception, traceback)", r["failed_pages"], r["failed_queries"]],
            ["snapshot versions seen", ", ".join(map(str, r["versions_seen_by_pages"])),
             ", ".join(map(str, r["versions_seen_by_queries"]))],
            ["results not matching their snapshot", r["impossible_pages"] + r["unknown_versions"],
             r["wrong_queries"]],
        ])
        + ("\n\nEvery query result was exactly its snapshot: row counts as expected for its version and the rates "
           "identical to the rates computed from that snapshot when it was published. " if not r["wrong_queries"] else
           f"\n\n**{r['wrong_queries']} query result(s) did not match their snapshot.** ")
        + f"{r['straddled_pages']} page view(s) showed parts of two snapshots: every page pins one snapshot for its "
          "whole run (dashboard/data.py), also when a load publishes in the middle of it (a deterministic test)."
    )
    report.write_section("concurrency", body, {
        "tried": f"{r['loads']} loads published under {r['pages']} page requests and {r['queries']} queries",
        "rows_lost": r["wrong_queries"] + r["impossible_pages"] + r["unknown_versions"], "crashes": r["failed"],
        "straddled_pages": r["straddled_pages"]})
    assert r["failed"] == 0 and r["wrong_queries"] == 0


def test_a_new_page_view_sees_the_new_snapshot_while_another_holds_the_old_one(tmp_path, monkeypatch):
    """DuckDB hands every `connect` of a file name the database instance already open under that name: while one
    session kept the old snapshot pinned, every other page view in the server process was given the old snapshot
    too, although the file had been replaced. The dashboard opens the snapshot under its version's own name."""
    from dashboard import data
    from pipelines.ingest import history

    db = tmp_path / "db" / "clinic.duckdb"
    clinicians = tmp_path / "clinicians.csv"
    clinicians.write_text(CLINICIANS_CSV)
    load_files([clinicians], db)
    monkeypatch.setenv("CLINIC_DB", str(db))
    old, _ = data._open_identified(db)  # another session's pinned snapshot, still open
    try:
        assert history.snapshot_info(old)["version"] == 1
        load_files(month_files(tmp_path, 1, random.Random(1)), db)
        new, _ = data._open_identified(db)
        try:
            assert history.snapshot_info(new)["version"] == 2
            assert new.execute("SELECT count(*) FROM treatments").fetchall()[0][0] > 0
        finally:
            new.close()
        assert history.snapshot_info(old)["version"] == 1  # the pinned view still reads its own snapshot
    finally:
        old.close()
