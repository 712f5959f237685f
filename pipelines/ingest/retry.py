"""Rejected rows are not a dead end: retry the pending ones once the data they were missing has been loaded.

    result = retry_pending(db=Path("data/clinic.duckdb"))

A row is often rejected only because something it refers to was not there yet: a new clinician not yet in the
clinicians file, a follow-up whose treatments file comes next month, a correction of a session from another file.
Its raw values are kept in `rejected_rows.raw_values` (JSON), so once the missing reference data has been loaded the
row can be judged again without the original file:

- every pending row is rebuilt as text columns under its original file name and row number and goes through the
  same validation (`validate.validate_batch`), the same write path (`store.upsert`), the same outcome mart rebuild
  (`counting.build_mart`) and the same all-or-nothing transaction and atomic publish as `python -m pipelines load`;
- a row that passes now is loaded (its provenance is the original file and row) and its rejected row becomes
  `resolved` with `resolved_load_id` set; a row that still fails stays `pending` with its reason brought up to date;
- when a record (the same key) was rejected in several loads, only the rows of its latest load are retried: an
  older version never overrides a newer export. The older rows are superseded as soon as the record loads;
- malformed rows (the line could not be split into the header's columns; `raw_values` is `{"line": ...}`) cannot be
  retried: the file has to be corrected and loaded again.

A retry that changes nothing (no row passes and every reason is the same) publishes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.errors import NoDatabaseError
from pipelines.ingest import load, store, validate
from pipelines.ingest.read import Source
from pipelines.metrics import counting

_MALFORMED = "json_exists(raw_values, '$.line')"


@dataclass
class RetrySummary:
    name: str
    table: str
    rows_retried: int
    rows_loaded: int
    rows_still_pending: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int


@dataclass
class RetryResult:
    load_id: int | None  # None when nothing changed and nothing was published
    version: int | None
    published: Path
    sources: list[RetrySummary]
    still_pending_examples: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # "file row N" of malformed rows that cannot be retried
    waiting_behind_newer: int = 0  # older versions of a record whose newer version is still rejected

    @property
    def rows_retried(self) -> int:
        return sum(s.rows_retried for s in self.sources)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sources)

    @property
    def rows_still_pending(self) -> int:
        return sum(s.rows_still_pending for s in self.sources)


def retry_pending(
    db: Path | None = None, *, today: dt.date | None = None, wait_seconds: float = 600.0
) -> RetryResult:
    """Re-validate pending rejected rows against the current database; load those that pass, then publish."""
    db_paths = store.DbPaths(Path(db) if db else store.default_db_path())
    today = today or dt.date.today()
    with store.load_lock(db_paths, wait_seconds):
        if not db_paths.work.exists() and not db_paths.published.exists():
            raise NoDatabaseError(f"no database at {db_paths.published}; load the exports first with "
                                    "`python -m pipelines load FILE...`")
        store.clean_stale_temp_files(db_paths)
        con = store.open_work(db_paths)
        try:
            con.execute("BEGIN TRANSACTION").fetchall()
            changes = store.start_session_changes(con)
            result, changed = _retry(con, db_paths, today)
            if not changed:
                con.execute("ROLLBACK").fetchall()
                con.close()
                return result
            counting.build_mart(con, changes)  # as load_files does before it publishes: the metrics count the new rows
            result.version = store.bump_snapshot(con, result.load_id)
            con.execute("COMMIT").fetchall()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK").fetchall()
            con.close()
            raise
        con.execute("CHECKPOINT").fetchall()
        con.close()
        store.publish(db_paths, result.version)
    return result


def _retry(con: duckdb.DuckDBPyConnection, db_paths: store.DbPaths, today: dt.date) -> tuple[RetryResult, bool]:
    malformed = [
        f"{name} row {row}" for name, row in con.execute(
            f"""SELECT coalesce(file_name || ' [' || sheet || ']', file_name), row_number FROM rejected_rows
                WHERE status = 'pending' AND {_MALFORMED} ORDER BY file_name, row_number""").fetchall()
    ]
    # The rows to retry: pending, not malformed, and from the latest load that rejected their record.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE retry_candidates AS
            SELECT * FROM (
              SELECT rejected_id, load_id, table_name, file_name, sheet, file_sha256, row_number, raw_values,
                     max(load_id) OVER (PARTITION BY table_name, coalesce(record_id, 'row ' || rejected_id))
                       AS newest_load_id
              FROM rejected_rows WHERE status = 'pending' AND NOT {_MALFORMED})
            WHERE load_id = newest_load_id"""
    ).fetchall()
    waiting = con.execute(
        f"SELECT count(*) FROM rejected_rows WHERE status = 'pending' AND NOT {_MALFORMED}"
    ).fetchall()[0][0] - con.execute("SELECT count(*) FROM retry_candidates").fetchall()[0][0]
    groups = con.execute(
        """SELECT table_name, file_name, sheet, file_sha256, count(DISTINCT row_number)
           FROM retry_candidates GROUP BY ALL ORDER BY min(rejected_id)"""
    ).fetchall()
    result = RetryResult(None, None, db_paths.published, [], [], malformed, waiting)
    if not groups:
        return result, False

    sources: list[Source] = []
    for i, (table_name, file_name, sheet, sha, n) in enumerate(groups):
        table = contract.TABLES_BY_NAME[table_name]
        relation = f"retry_{i}_rows"
        columns = ", ".join(f"json_extract_string(raw_values, '$.\"{c}\"') AS \"{c}\"" for c in table.column_names)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {relation} AS
                SELECT row_number AS _row, {columns} FROM retry_candidates
                WHERE table_name = ? AND file_name = ? AND sheet IS NOT DISTINCT FROM ?
                  AND file_sha256 IS NOT DISTINCT FROM ?
                QUALIFY row_number() OVER (PARTITION BY row_number ORDER BY rejected_id DESC) = 1
                ORDER BY row_number""",
            [table_name, file_name, sheet, sha],
        ).fetchall()
        sources.append(Source(Path(file_name), sheet, table, relation, n, sha or "", 0, "retry"))
    sources.sort(key=lambda s: s.table.load_order)
    names = [s.path.name for s in sources]
    batch = validate.validate_batch(con, sources, today, [s.display_name for s in sources])
    load_id = store.next_load_id(con)
    counts: dict[int, store.SourceCounts] = {}
    reasons_changed = 0
    for table_name in batch.tables:
        table = contract.TABLES_BY_NAME[table_name]
        rel = batch.relation(table_name)
        counts.update(store.upsert(con, table, rel, load_id, names))
        for i, source in enumerate(sources):
            if source.table.name == table_name:
                reasons_changed += _update_rejected(con, rel, i, source, load_id)
        load._supersede(con, table, rel, load_id)  # older versions of records that have loaded now

    now = dt.datetime.now().replace(microsecond=0)
    for i, source in enumerate(sources):
        c = counts.get(i, store.SourceCounts())
        if c.rows_loaded + c.rows_rejected != source.rows_read:
            raise RuntimeError(f"{source.display_name}: {source.rows_read} rows retried but {c.rows_loaded} loaded "
                               f"+ {c.rows_rejected} still pending; nothing was stored")
        result.sources.append(RetrySummary(source.display_name, source.table.name, source.rows_read, c.rows_loaded,
                                           c.rows_rejected, c.rows_inserted, c.rows_updated, c.rows_unchanged))
        con.execute(
            "INSERT INTO load_log VALUES (?, ?, ?, ?, ?, NULL, ?, 'retry', NULL, NULL, ?, ?, ?, ?, ?, ?, '', 'retry')",
            [load_id, now, source.path.name, source.sheet, source.sha256 or None, source.table.name,
             source.rows_read, c.rows_loaded, c.rows_rejected, c.rows_inserted, c.rows_updated, c.rows_unchanged],
        ).fetchall()
    result.still_pending_examples = [
        f"{name} row {row}: {reason}"
        for name, row, reason in con.execute(
            f"""SELECT coalesce(file_name || ' [' || sheet || ']', file_name), row_number, reason FROM rejected_rows
                WHERE status = 'pending' AND NOT {_MALFORMED}
                  AND rejected_id IN (SELECT rejected_id FROM retry_candidates)
                ORDER BY file_name, row_number LIMIT 10""").fetchall()
    ]
    result.load_id = load_id
    return result, result.rows_loaded > 0 or reasons_changed > 0


def _update_rejected(con, rel: str, index: int, source: Source, load_id: int) -> int:
    """Mark the rows of one retried source resolved or give them their new reason; returns reasons changed."""
    match = """rejected_rows.rejected_id = c.rejected_id AND c.table_name = ? AND c.file_name = ?
               AND c.sheet IS NOT DISTINCT FROM ? AND c.file_sha256 IS NOT DISTINCT FROM ?"""
    key = [source.table.name, source.path.name, source.sheet, source.sha256 or None]
    con.execute(
        f"""UPDATE rejected_rows SET status = 'resolved', resolved_load_id = ?
            FROM retry_candidates c, (SELECT _row FROM {rel} WHERE _src = ? AND len(_issues) = 0) b
            WHERE {match} AND c.row_number = b._row""",
        [load_id, index, *key],
    ).fetchall()
    failing = (f"""(SELECT _row, _issues[1].column AS column_name,
                     array_to_string(list_transform(_issues, lambda x: x.column || ': ' || x.message), '; ') AS reason
                   FROM {rel} WHERE _src = ? AND len(_issues) > 0) b""")
    changed = con.execute(
        f"""SELECT count(*) FROM rejected_rows, retry_candidates c, {failing}
            WHERE {match} AND c.row_number = b._row AND rejected_rows.reason IS DISTINCT FROM b.reason""",
        [index, *key],
    ).fetchall()[0][0]
    con.execute(
        f"""UPDATE rejected_rows SET column_name = b.column_name, reason = b.reason
            FROM retry_candidates c, {failing}
            WHERE {match} AND c.row_number = b._row""",
        [index, *key],
    ).fetchall()
    return changed


__all__ = ["retry_pending", "RetryResult", "RetrySummary"]
