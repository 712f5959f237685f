"""The corpus of bad inputs (tests/corpus/cases.py), each loaded through the command line onto the same small database.

A refused file must print one line naming the file and what to fix, exit 1, and leave the published database (byte
for byte), its snapshots and the working database as they were. A file loaded row by row must print the exact
per-file counts (read = loaded + rejected), keep exactly the expected rejected rows with file, row, column and reason,
and add exactly the new rows it reports. No case may end in a traceback. The figures go to docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, query
from corpus import report
from corpus.cases import CASES, Case
from corpus.generated import GENERATED

from pipelines.__main__ import main
from pipelines.contract import TABLES
from pipelines.ingest.load import load_files
from pipelines.ingest.store import DbPaths

CORPUS = Path(__file__).resolve().parent / "corpus"
RESULTS: dict[str, dict] = {}
SUMMARY_LINE = re.compile(r"^(?P<name>.+) \((?P<table>\w+)\): (?P<read>\d+) read, (?P<loaded>\d+) loaded, "
                          r"(?P<rejected>\d+) rejected \[new (?P<new>\d+), updated \d+, unchanged \d+\]")


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("corpus-base") / "clinic.duckdb"
    result = load_files(sorted((CORPUS / "base").glob("*.csv")), db)
    assert (result.rows_read, result.rows_rejected) == (6, 0)
    return db


@pytest.fixture
def case_db(base_db, tmp_path) -> Path:
    """A private copy of the base database (published file, working file, snapshots)."""
    shutil.copytree(base_db.parent, tmp_path / "db")
    return tmp_path / "db" / base_db.name


def materialise(case: Case, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in case.files:
        if name in GENERATED:
            GENERATED[name](folder / name)
        else:
            shutil.copyfile(CORPUS / "files" / name, folder / name)
        paths.append(folder / name)
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def full_state(db: Path) -> dict:
    """Every row of every table, read through one connection."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t.name for t in TABLES] + ["load_log", "rejected_rows", "snapshot_info"]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


def table_counts(db: Path) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t.name}', count(*) FROM {t.name}" for t in TABLES)
    return dict(query(db, sql))


def _sorted(rows):
    return sorted(rows, key=lambda r: (r[0], r[1], r[2] or "", r[3]))


PARAMS = [pytest.param(case, id=case.name,
                       marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [])
          for case in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_corpus_case(case: Case, case_db: Path, tmp_path, capsys):
    files = materialise(case, tmp_path / "in")
    paths = DbPaths(case_db)
    if case.error:
        before_sha = sha256(case_db)
        before, before_work = full_state(case_db), full_state(paths.work)
        before_snapshots = sorted(p.name for p in paths.snapshots.iterdir())
    else:
        before_counts = table_counts(case_db)
    args = [str(ROOT / a) if a.startswith("data/") else a for a in case.args]
    record = RESULTS[case.name] = {"case": case.name, "problem": case.problem, "files": len(files),
                                   "expected": "refused" if case.error else "row by row", "crashes": 1,
                                   "rows_lost": None, "outcome": "", "known_bug": bool(case.xfail)}
    rc = main(["load", *map(str, files), "--db", str(case_db), "--no-progress", *args])  # a traceback fails here
    out, err = capsys.readouterr()
    record["crashes"] = 0 if "Traceback" not in out + err else 1

    if case.error:
        unchanged = (sha256(case_db) == before_sha and full_state(case_db) == before
                     and full_state(paths.work) == before_work
                     and sorted(p.name for p in paths.snapshots.iterdir()) == before_snapshots)
        record["rows_lost"] = 0 if unchanged else "database changed"
        record["outcome"] = (f"refused: {err.strip().removeprefix('error: ')[:90]}..." if rc == 1
                             else f"exit {rc}, not refused")
        assert rc == 1, out
        assert err.startswith("error: " + case.error), err
        assert err.count("\n") == 1 and out == ""  # one line, nothing else
        assert unchanged
        return

    lines = [line for line in out.splitlines() if SUMMARY_LINE.match(line)]
    parsed = [SUMMARY_LINE.match(line).groupdict() for line in lines]
    record["rows_lost"] = sum(int(p["read"]) - int(p["loaded"]) - int(p["rejected"]) for p in parsed)
    record["outcome"] = "; ".join(f"{p['name']}: {p['read']} read, {p['loaded']} loaded, {p['rejected']} rejected"
                                  for p in parsed) or f"exit {rc}: {err.strip()[:90]}"
    assert rc == 0, err
    assert lines == list(case.sources)
    assert record["rows_lost"] == 0
    rejected = query(case_db, "SELECT coalesce(file_name || ' [' || sheet || ']', file_name), row_number, "
                              "column_name, reason, status FROM rejected_rows "
                              "WHERE load_id = (SELECT max(load_id) FROM load_log)")
    assert _sorted(r[:4] for r in rejected) == _sorted(case.rejected)
    assert {r[4] for r in rejected} <= {"pending"}
    assert len(rejected) == sum(int(p["rejected"]) for p in parsed)
    # the rows reported as new are exactly the rows added to each table
    after_counts = table_counts(case_db)
    for t in TABLES:
        new = sum(int(p["new"]) for p in parsed if p["table"] == t.name)
        assert after_counts[t.name] - before_counts[t.name] == new, t.name
    if case.check:
        sql, expected = case.check
        assert query(case_db, sql) == expected


def test_a_million_rows_with_one_bad_row_in_the_middle(tmp_path, capsys):
    """Generated here (not committed): a clinicians file of 1,000,000 rows, row 500,002 with a negative cost."""
    n, bad = 1_000_000, 500_000
    path = tmp_path / "clinicians_1m.csv"
    with open(path, "w") as fh:
        fh.write("clinician,profession,cost_per_minute_nok\n")
        fh.write("".join(f"K{i:07d},lege,{'-5' if i == bad else '30'}\n" for i in range(n)))
    db = tmp_path / "db" / "clinic.duckdb"
    record = RESULTS["million_rows"] = {
        "case": "million_rows", "problem": "1,000,000 rows with one negative cost in the middle (generated)",
        "files": 1, "expected": "row by row", "crashes": 1, "rows_lost": None, "outcome": "", "known_bug": False}
    rc = main(["load", str(path), "--db", str(db), "--no-progress"])
    out, err = capsys.readouterr()
    record["crashes"] = 0
    line = out.splitlines()[0]
    p = SUMMARY_LINE.match(line).groupdict()
    record["rows_lost"] = int(p["read"]) - int(p["loaded"]) - int(p["rejected"])
    record["outcome"] = f"{p['name']}: {p['read']} read, {p['loaded']} loaded, {p['rejected']} rejected"
    assert rc == 0, err
    assert line == ("clinicians_1m.csv (clinicians): 1000000 read, 999999 loaded, 1 rejected "
                    "[new 999999, updated 0, unchanged 0]")
    assert query(db, "SELECT file_name, row_number, column_name, reason FROM rejected_rows") == [
        ("clinicians_1m.csv", 500_002, "cost_per_minute_nok", 'cost_per_minute_nok: "-5" is below the minimum 0')]
    assert query(db, "SELECT count(*), count(DISTINCT clinician), min(clinician), max(clinician) FROM clinicians") == [
        (999_999, 999_999, "K0000000", "K0999999")]
    assert query(db, "SELECT clinician, source_row FROM clinicians WHERE clinician IN ('K0499999', 'K0500000', "
                     "'K0500001') ORDER BY 1") == [("K0499999", 500_001), ("K0500001", 500_003)]


def test_reliability_section():
    """Runs last in this file: writes the corpus section of docs/reliability.md from what the tests above did."""
    expected = {c.name for c in CASES} | {"million_rows"}
    assert set(RESULTS) == expected, f"run the whole file to write the report; missing: {expected - set(RESULTS)}"
    rows = [RESULTS[c.name] for c in CASES] + [RESULTS["million_rows"]]
    refused = [r for r in rows if r["expected"] == "refused"]
    lost = sum(r["rows_lost"] if isinstance(r["rows_lost"], int) else 1 for r in rows if not r["known_bug"])
    crashes = sum(r["crashes"] for r in rows)
    known = [r for r in rows if r["known_bug"]]
    body = (
        f"{len(rows)} bad inputs ({len(refused)} to be refused as a whole, {len(rows) - len(refused)} to be loaded "
        f"row by row), each loaded through `python -m pipelines load` (in-process) onto the same small database; "
        "the manifest with the exact expected messages, counts and rejected (file, row, column, reason) is "
        "`tests/corpus/cases.py`. Refused files are checked to leave the published database byte for byte, its "
        "snapshots and the working database unchanged.\n\n"
        + report.table(["case", "problem", "expected", "outcome", "rows lost", "crashes"],
                       [[r["case"] + (" (known bug, xfail)" if r["known_bug"] else ""), r["problem"], r["expected"],
                         r["outcome"], r["rows_lost"], r["crashes"]] for r in rows])
        + (f"\n\n{len(known)} case(s) show a loader bug not fixed yet (marked `xfail(strict=True)`; the expectation "
           "is the correct behaviour): " + "; ".join(f"`{r['case']}`" for r in known) + "." if known else "")
    )
    report.write_section("corpus", body, {
        "tried": f"{len(rows)} files ({len(refused)} refused, 1 of a million rows)", "rows_lost": lost,
        "crashes": crashes, "known_bugs": [r["case"] for r in known]})
    assert lost == 0 and crashes == 0
