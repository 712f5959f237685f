"""Properties of the loader over generated exports (Hypothesis): mixes of valid rows and rows with one known defect.

- every row read is loaded or rejected, and exactly the defective rows are rejected (with the expected column);
- loading the same files twice gives the same database as loading them once;
- splitting an export into several files and loading them one by one in any order, then `retry`, gives the same
  database as loading everything at once.

A small model decides which rows must be rejected: a row with a defect, a follow-up or correction whose session is
rejected, a follow-up dated before its session. Examples are few (each load opens a DuckDB file) but each holds up
to ~25 rows with defects spread over every rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from conftest import CLINICIANS_CSV, TODAY
from corpus import report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.contract import TABLES
from pipelines.ingest.load import load_files
from pipelines.ingest.retry import retry_pending
from pipelines.metrics import counting

STATS = {"examples": 0, "loads": 0, "rows_read": 0, "rows_loaded": 0, "rows_rejected": 0, "rows_lost": 0,
         "retries": 0, "crashes": 0}
PROPERTIES = {"read_equals_loaded_plus_rejected": 0, "loading_twice_equals_once": 0, "split_any_order": 0}
FAILED = dict.fromkeys(PROPERTIES, 0)  # failing examples (Hypothesis replays and shrinks a failure several times)

T_COLUMNS = ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product", "units",
             "corrects_treatment_id", "price_nok", "neuromuscular_disease"]
F_COLUMNS = ["follow_up_id", "treatment_id", "seen_on", "effect", "asymmetry", "satisfaction"]
START = dt.date(2024, 1, 1)

# (column, bad value); "malformed" writes a row with too few fields
T_DEFECTS = [("treated_on", "31.02.2024"), ("treated_on", "2099-01-01"), ("treated_on", ""), ("units", "-5"),
             ("units", "0"), ("units", "5000"), ("units", "abc"), ("clinician", "C99"), ("product", "Botax"),
             ("indication", "acne"), ("price_nok", "-1"), ("neuromuscular_disease", "maybe"), ("malformed", "")]
F_DEFECTS = [("seen_on", "before"), ("effect", "great"), ("satisfaction", "9"), ("treatment_id", "T999"),
             ("asymmetry", "kanskje"), ("malformed", "")]


@dataclass
class TRow:
    day: int
    iso: bool
    clinician: str
    indication: str
    units: str
    defect: tuple[str, str] | None
    corrects: bool
    blank_before: bool
    part: int


@dataclass
class FRow:
    target: int  # index into the treatments
    days_after: int
    effect: str
    defect: tuple[str, str] | None
    blank_before: bool
    part: int


@dataclass
class Export:
    treatments: list[TRow]
    follow_ups: list[FRow]
    delimiter: str
    parts: int  # files per table when split
    valid_t: set[str] = field(default_factory=set)
    valid_f: set[str] = field(default_factory=set)


defect_t = st.one_of(st.none(), st.none(), st.sampled_from(T_DEFECTS))
defect_f = st.one_of(st.none(), st.none(), st.sampled_from(F_DEFECTS))
t_rows = st.builds(TRow, day=st.integers(0, 150), iso=st.booleans(), clinician=st.sampled_from(["C01", "c01", "C02"]),
                   indication=st.sampled_from(["cosmetic", "Kosmetisk", "migrene", "Svette"]),
                   units=st.sampled_from(["20", "12,5", "1 00", "4"]), defect=defect_t, corrects=st.booleans(),
                   blank_before=st.booleans(), part=st.integers(0, 2))
f_rows = st.builds(FRow, target=st.integers(0, 1000), days_after=st.integers(0, 30),
                   effect=st.sampled_from(["full", "Delvis", "ingen", "not_assessed"]), defect=defect_f,
                   blank_before=st.booleans(), part=st.integers(0, 2))
exports = st.builds(Export, treatments=st.lists(t_rows, max_size=14), follow_ups=st.lists(f_rows, max_size=10),
                    delimiter=st.sampled_from([";", ","]), parts=st.integers(1, 3))


def _date(day: int, iso: bool) -> str:
    d = START + dt.timedelta(days=day)
    return d.isoformat() if iso else d.strftime("%d.%m.%Y")


def write_export(export: Export, folder: Path, split: bool) -> tuple[list[Path], set[tuple[str, int, str | None]]]:
    """Write clinicians + treatments + follow-ups (one file per table, or `parts` files per table when split).
    Returns the files and the model's rejected rows as (file, row, column)."""
    folder.mkdir(parents=True, exist_ok=True)
    sep = export.delimiter
    files: dict[str, list[str]] = {}
    rows_seen: dict[str, int] = {}
    rejected: set[tuple[str, int, str | None]] = set()

    def well_formed_first(name: str, defect: tuple[str, str] | None) -> tuple[str, str] | None:
        # A file whose every data row has the wrong number of fields is refused as a whole (wrong separator), so
        # the first row of each file is never the malformed one.
        return None if defect and defect[0] == "malformed" and not rows_seen.get(name) else defect

    def emit(name: str, header: list[str], values: list[str] | None, blank: bool) -> int:
        lines = files.setdefault(name, [sep.join(header)])
        if blank:
            lines.append("")
        lines.append(sep.join(values) if values is not None else sep.join(["X", "too", "few"]))
        rows_seen[name] = rows_seen.get(name, 0) + 1
        return len(lines)  # the line number (header = 1), blank lines included

    valid_t: dict[str, dt.date | None] = {}  # treatment id -> date, for those that must load
    dates: dict[str, int] = {}
    for i, t in enumerate(export.treatments):
        tid = f"T{i}"
        day = t.day
        corrects = ""
        if t.corrects:
            earlier = [(k, d) for k, d in dates.items() if k in valid_t]
            if earlier:
                corrects, ref_day = earlier[-1]
                day = max(day, ref_day)
        dates[tid] = day
        units = t.units if sep == ";" else t.units.replace(",", ".")
        values = {"treatment_id": tid, "patient_ref": f"p{i % 5}", "treated_on": _date(day, t.iso),
                  "clinician": t.clinician, "indication": t.indication, "areas": "glabella|Panne", "product": "Botox",
                  "units": units, "corrects_treatment_id": corrects, "price_nok": "1900" if not corrects else "0",
                  "neuromuscular_disease": "nei"}
        name = f"t{t.part % export.parts + 1}.csv" if split else "treatments.csv"
        defect = well_formed_first(name, t.defect)
        column = None
        if defect and defect[0] != "malformed":
            column, bad = defect
            values[column] = bad
        row = emit(name, T_COLUMNS, None if defect and defect[0] == "malformed" else
                   [values[c] for c in T_COLUMNS], t.blank_before)
        if defect:
            rejected.add((name, row, column))
        else:
            valid_t[tid] = START + dt.timedelta(days=day)
    for j, f in enumerate(export.follow_ups):
        fid = f"F{j}"
        if not export.treatments:
            break
        target = f.target % len(export.treatments)
        tid = f"T{target}"
        seen = dates[tid] + f.days_after
        values = {"follow_up_id": fid, "treatment_id": tid, "seen_on": _date(seen, True), "effect": f.effect,
                  "asymmetry": "nei", "satisfaction": "4"}
        name = f"f{f.part % export.parts + 1}.csv" if split else "follow_ups.csv"
        defect = well_formed_first(name, f.defect)
        kind = defect[0] if defect else None
        if kind == "seen_on":
            values["seen_on"] = _date(dates[tid] - 1, False)
        elif kind and kind != "malformed":
            values[kind] = defect[1]
        row = emit(name, F_COLUMNS, None if kind == "malformed" else [values[c] for c in F_COLUMNS], f.blank_before)
        if kind in ("effect", "satisfaction", "asymmetry"):
            rejected.add((name, row, kind))
        elif kind == "malformed":
            rejected.add((name, row, None))
        elif kind == "treatment_id" or tid not in valid_t:
            rejected.add((name, row, "treatment_id"))
        elif kind == "seen_on":
            rejected.add((name, row, "seen_on"))
    (folder / "clinicians.csv").write_text(CLINICIANS_CSV)
    paths = [folder / "clinicians.csv"]
    for name, lines in sorted(files.items()):
        (folder / name).write_text("\n".join(lines) + "\n")
        paths.append(folder / name)
    export.valid_t = set(valid_t)
    return paths, rejected


def state(db: Path) -> dict:
    """Everything a user sees: every data table without load ids, the outcome mart the metrics read, and the
    rejected rows still pending."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {t.name: con.execute(f"SELECT * EXCLUDE (load_id) FROM {t.name} ORDER BY ALL").fetchall()
               for t in TABLES}
        out["outcome mart"] = con.execute(f"SELECT * FROM {counting.MART} ORDER BY ALL").fetchall()
        out["pending"] = con.execute(
            "SELECT file_name, row_number, column_name, reason FROM rejected_rows WHERE status = 'pending' "
            "ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def load(paths: list[Path], db: Path):
    result = load_files(paths, db, today=TODAY)
    STATS["loads"] += 1
    STATS["rows_read"] += result.rows_read
    STATS["rows_loaded"] += result.rows_loaded
    STATS["rows_rejected"] += result.rows_rejected
    STATS["rows_lost"] += sum(s.rows_read - s.rows_loaded - s.rows_rejected for s in result.sources)
    return result


@contextlib.contextmanager
def example(prop: str):
    """Count one example of a property; an exception other than a failed assertion counts as a crash."""
    try:
        yield
    except AssertionError:
        FAILED[prop] += 1
        raise
    except Exception:
        FAILED[prop] += 1
        STATS["crashes"] += 1
        raise
    STATS["examples"] += 1
    PROPERTIES[prop] += 1


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(export=exports)
def test_every_row_read_is_loaded_or_rejected_with_the_expected_column(export):
    with example("read_equals_loaded_plus_rejected"), tempfile.TemporaryDirectory(prefix="prop-") as tmp:
        paths, expected = write_export(export, Path(tmp) / "in", split=False)
        db = Path(tmp) / "db" / "clinic.duckdb"
        result = load(paths, db)
        for s in result.sources:
            assert s.rows_loaded + s.rows_rejected == s.rows_read, s
        n_t, n_f = len(export.treatments), len(export.follow_ups) if export.treatments else 0
        assert [(s.table, s.rows_read) for s in result.sources] == [("clinicians", 2)] + \
            ([("treatments", n_t)] if n_t else []) + ([("follow_ups", n_f)] if n_f else [])
        con = duckdb.connect(str(db), read_only=True)
        got = set(con.execute("SELECT file_name, row_number, column_name FROM rejected_rows").fetchall())
        loaded_t = {r[0] for r in con.execute("SELECT treatment_id FROM treatments").fetchall()}
        n_follow_ups = con.execute("SELECT count(*) FROM follow_ups").fetchall()[0][0]
        con.close()
        assert got == expected
        assert loaded_t == export.valid_t
        assert n_follow_ups == n_f - sum(1 for r in expected if r[0] == "follow_ups.csv")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=exports)
def test_loading_the_same_files_twice_equals_loading_them_once(export):
    with example("loading_twice_equals_once"), tempfile.TemporaryDirectory(prefix="prop-") as tmp:
        paths, _ = write_export(export, Path(tmp) / "in", split=export.parts > 1)
        db = Path(tmp) / "db" / "clinic.duckdb"
        load(paths, db)
        once = state(db)
        second = load(paths, db)
        assert state(db) == once
        assert sum(s.rows_inserted + s.rows_updated for s in second.sources) == 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=exports.filter(lambda e: e.parts > 1), order=st.randoms(use_true_random=False))
def test_split_files_loaded_in_any_order_then_retried_equal_one_load(export, order):
    with example("split_any_order"), tempfile.TemporaryDirectory(prefix="prop-") as tmp:
        paths, expected = write_export(export, Path(tmp) / "in", split=True)
        all_at_once = Path(tmp) / "a" / "clinic.duckdb"
        load(paths, all_at_once)
        nothing = retry_pending(all_at_once, today=TODAY)  # nothing was waiting for reference data
        STATS["retries"] += 1
        assert nothing.rows_loaded == 0 and nothing.version is None

        one_by_one = Path(tmp) / "b" / "clinic.duckdb"
        shuffled = list(paths)
        order.shuffle(shuffled)
        for path in shuffled:
            load([path], one_by_one)
        retry_pending(one_by_one, today=TODAY)
        STATS["retries"] += 1
        assert state(one_by_one) == state(all_at_once)
        pending = {(f, r, c) for f, r, c, _ in state(one_by_one)["pending"]}
        assert pending == expected


def _result(prop: str) -> str:
    return "held" if not FAILED[prop] else f"FAILED ({FAILED[prop]} failing runs while shrinking)"


def test_reliability_section():
    """Runs last in this file: writes the properties section of docs/reliability.md."""
    assert all(PROPERTIES.values()), f"run the whole file to write the report: {PROPERTIES}"
    body = (
        f"Hypothesis generated {STATS['examples']} exports (up to 14 treatments and 10 follow-ups each, about a third "
        "of the rows with one defect: impossible, future or empty date; negative, zero, absurd or non-numeric "
        "units; unknown clinician or product; bad indication, price or yes/no; too few fields; follow-ups before "
        "their session, of unknown or rejected sessions, with bad effect or satisfaction; blank lines; corrections "
        "of earlier sessions; comma or semicolon files) and ran "
        f"{STATS['loads']} loads and {STATS['retries']} retries on them.\n\n"
        + report.table(["property", "examples", "result"], [
            ["every row read is loaded or rejected; exactly the defective rows are rejected, with the expected "
             "column", PROPERTIES["read_equals_loaded_plus_rejected"], _result("read_equals_loaded_plus_rejected")],
            ["loading the same files twice gives the same database as loading them once",
             PROPERTIES["loading_twice_equals_once"], _result("loading_twice_equals_once")],
            ["2-3 files per table loaded one by one in a random order, then `retry`, give the same database (and the "
             "same pending rejected rows) as one load of all files", PROPERTIES["split_any_order"],
             _result("split_any_order")],
        ])
        + f"\n\nRows read {STATS['rows_read']}, loaded {STATS['rows_loaded']}, rejected {STATS['rows_rejected']}, "
          f"lost {STATS['rows_lost']}."
    )
    report.write_section("properties", body, {
        "tried": f"{STATS['examples']} generated exports, {STATS['loads']} loads, {STATS['retries']} retries",
        "rows_lost": STATS["rows_lost"], "crashes": STATS["crashes"], **PROPERTIES})
    assert STATS["rows_lost"] == 0 and STATS["crashes"] == 0 and not any(FAILED.values())
