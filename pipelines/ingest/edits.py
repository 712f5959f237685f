"""Reference rows typed on the dashboard (a process change, a target), checked and loaded by the loader itself.

The dashboard never writes the database directly: a row from a form becomes a one-row CSV in a private temporary
folder, which is read, screened for identifiers and validated exactly as a file from the clinic would be
(read_sources, privacy.guard, validate.validate_batch: the contract's types, allowed values and cross-row rules,
e.g. a known clinician), first against the published database without storing anything (`check_rows`, so a row
with a problem leaves no rejected row behind), then loaded by `load.load_files` (`load_rows`), which publishes a new
snapshot like any load.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import shutil
import tempfile
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.errors import UserError
from pipelines.ingest import privacy, store, validate
from pipelines.ingest.read import InputError, read_sources

EDITABLE = ("process_changes", "targets")  # the reference tables the dashboard may add rows to


class EditError(UserError, ValueError):
    """A row from the dashboard that cannot be loaded (the message says why)."""


def _table(table_name: str) -> contract.Table:
    if table_name not in EDITABLE:
        raise EditError(f"the dashboard may add rows to {', '.join(EDITABLE)} only, not `{table_name}`")
    return contract.TABLES_BY_NAME[table_name]


def csv_text(table: contract.Table, rows: list[dict]) -> str:
    """The rows as the loader's CSV input (the table's columns, quoted where needed; a missing field is empty)."""
    unknown = {k for r in rows for k in r} - set(table.column_names)
    if unknown:
        raise EditError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else str(r.get(c)) for c in table.column_names])
    return buf.getvalue()


@contextlib.contextmanager
def _csv_file(table: contract.Table, rows: list[dict]):
    folder = Path(tempfile.mkdtemp(prefix="clinic-edit-"))  # 0700
    try:
        path = folder / f"{table.name}-dashboard.csv"
        with store.private_umask():
            path.write_text(csv_text(table, rows), encoding="utf-8")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_rows(db_path: Path, table_name: str, rows: list[dict], *, today: dt.date | None = None) -> list[str]:
    """The problems the loader would find in these rows ("row 1: column: message", in file order; [] = they would
    load), judged against the published database's clinicians. Nothing is stored anywhere."""
    table = _table(table_name)
    today = today or dt.date.today()
    con = duckdb.connect(":memory:")
    try:
        store.init_schema(con)
        published = store.DbPaths(Path(db_path)).published
        if published.exists():
            src = duckdb.connect(str(published), read_only=True)
            try:
                codes = src.execute("SELECT clinician FROM clinicians").fetchall()
            finally:
                src.close()
            con.executemany("INSERT INTO clinicians (clinician) VALUES (?)", codes)
        with _csv_file(table, rows) as path:
            try:
                sources = read_sources(con, path, table_name=table.name)
                for source in sources:
                    privacy.guard(con, source)
            except (InputError, privacy.PrivacyError) as exc:
                return [str(exc)]
            batch = validate.validate_batch(con, sources, today, [path.name])
            problems = [f"row {m.row_number - 1}: {m.reason}" for s in sources for m in s.malformed]
            if table.name in batch.tables:
                for row_n, issues in con.execute(
                        f"SELECT _row, _issues FROM {batch.relation(table.name)} WHERE len(_issues) > 0 "
                        "ORDER BY _row").fetchall():
                    problems += [f"row {row_n - 1}: {i['column']}: {i['message']}" for i in issues]
        return problems
    finally:
        con.close()


def load_rows(db_path: Path, table_name: str, rows: list[dict], *, today: dt.date | None = None):
    """Check the rows (check_rows; EditError with the problems, nothing stored) and load them with the loader
    (load.load_files; a new snapshot is published). Returns the LoadResult."""
    from pipelines.ingest import load

    table = _table(table_name)
    problems = check_rows(db_path, table_name, rows, today=today)
    if problems:
        raise EditError("; ".join(problems))
    with _csv_file(table, rows) as path:
        result = load.load_files([path], db_path, table=table.name, today=today, progress=False)
    if result.rows_rejected:
        raise EditError(f"the row was refused by the load ({'; '.join(result.rejected_examples)}); the data "
                        "changed while it was checked: correct it and save again")
    return result


__all__ = ["check_rows", "load_rows", "csv_text", "EditError", "EDITABLE"]
