"""The DuckDB side of loading: schema, upserts, rejected rows, load log, and publishing a read-only snapshot.

Files (for the published database ``data/clinic.duckdb``):
- ``data/clinic.work.duckdb``: the pipeline's private working database. Only the loader opens it (read-write).
- ``data/clinic.duckdb``: the published snapshot the dashboard opens read-only. A load never writes it in place: it
  copies the checkpointed working file to a temp file beside it and ``os.replace``-s it over the published one,
  so a reader sees the old or the new database, never half of one.
- ``data/clinic.snapshots/``: the last few published snapshots (hard links, no extra space), for ``restore``.
- ``data/clinic.work.lock``: held while a load runs, so two loads never interleave.

All of them hold health data: every file is created owner-only (0600) and every folder the pipeline creates is
owner-only (0700); a load runs under umask 077, so DuckDB's own files (write-ahead log, spill files) are too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.contract import Table
from pipelines.errors import UserError

DEFAULT_DB = Path("data/clinic.duckdb")
SNAPSHOTS_KEPT = 5
SCHEMA_VERSION = 1
PRIVATE_FILE_MODE = 0o600  # health data: the owner reads and writes, nobody else
PRIVATE_DIR_MODE = 0o700


def default_db_path() -> Path:
    return Path(os.environ.get("CLINIC_DB") or DEFAULT_DB)


@dataclass(frozen=True)
class DbPaths:
    published: Path

    @property
    def work(self) -> Path:
        return self.published.with_name(self.published.stem + ".work.duckdb")

    @property
    def lock(self) -> Path:
        return self.published.with_name(self.published.stem + ".work.lock")

    @property
    def snapshots(self) -> Path:
        return self.published.with_name(self.published.stem + ".snapshots")


class LoadBusyError(UserError):
    """Another load (or restore) holds the working database; the message says how long it waited."""


# --------------------------------------------------------------------------------------------------------------
# Owner-only files and folders
# --------------------------------------------------------------------------------------------------------------


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents owner-only (0700). Folders that already exist are left alone."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(p, PRIVATE_DIR_MODE)
    return path


def tighten(target: int | Path, mode: int = PRIVATE_FILE_MODE) -> None:
    """Make a file (path or open descriptor) we own exactly `mode`: owner-only, whatever it was created with."""
    st_ = os.fstat(target) if isinstance(target, int) else os.stat(target)
    if st_.st_uid == os.getuid() and stat.S_IMODE(st_.st_mode) != mode:
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode)


def create_private(path: Path) -> Path:
    """Create (or truncate) `path` as an empty owner-only file, so that whatever is copied into it never sits in a
    file others can read, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        tighten(fd)
    finally:
        os.close(fd)
    return Path(path)


def copy_private(src: Path, dst: Path) -> Path:
    """shutil.copyfile into an owner-only file (copyfile keeps the mode of a file that exists)."""
    create_private(dst)
    shutil.copyfile(src, dst)
    return Path(dst)


@contextlib.contextmanager
def private_umask():
    """Files created meanwhile (DuckDB's database, write-ahead log and spill files included) are owner-only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------------

PROVENANCE_COLUMNS = ("load_id INTEGER", "source_file VARCHAR", "source_row INTEGER")


def table_ddl(table: Table) -> str:
    cols = [f'"{c.name}" {c.sql_type}' for c in table.columns] + list(PROVENANCE_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)})"


SCHEMA_SQL = [
    *(table_ddl(t) for t in contract.TABLES),
    """CREATE TABLE IF NOT EXISTS load_log (
        load_id INTEGER, loaded_at TIMESTAMP, file_name VARCHAR, sheet VARCHAR, file_sha256 VARCHAR,
        file_bytes BIGINT, table_name VARCHAR, source_format VARCHAR, encoding VARCHAR, delimiter VARCHAR,
        rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, rows_inserted BIGINT, rows_updated BIGINT,
        rows_unchanged BIGINT, ignored_columns VARCHAR, status VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS rejected_rows_seq",
    """CREATE TABLE IF NOT EXISTS rejected_rows (
        rejected_id BIGINT, load_id INTEGER, rejected_at TIMESTAMP, file_name VARCHAR, sheet VARCHAR,
        file_sha256 VARCHAR, table_name VARCHAR, row_number INTEGER, record_id VARCHAR, column_name VARCHAR,
        reason VARCHAR, raw_values VARCHAR, status VARCHAR, resolved_load_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS snapshot_info (
        version INTEGER, published_at TIMESTAMP, last_load_id INTEGER, schema_version INTEGER)""",
]


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in SCHEMA_SQL:
        con.execute(statement).fetchall()
    for table in contract.TABLES:  # a database from before an optional column was added to the contract gets it
        for c in table.columns:
            con.execute(f'ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS "{c.name}" {c.sql_type}').fetchall()
    con.execute("CREATE OR REPLACE TABLE products (product VARCHAR, unit_type VARCHAR, "
                "botox_equivalent_factor DOUBLE, max_units_per_session DOUBLE)").fetchall()
    con.executemany("INSERT INTO products VALUES (?, ?, ?, ?)",
                    [(p.name, p.unit_type, p.botox_equivalent_factor, p.max_units_per_session)
                     for p in contract.PRODUCTS])
    if con.execute("SELECT count(*) FROM snapshot_info").fetchall()[0][0] == 0:
        con.execute("INSERT INTO snapshot_info VALUES (0, NULL, 0, ?)", [SCHEMA_VERSION]).fetchall()


# --------------------------------------------------------------------------------------------------------------
# The working database and its lock
# --------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def load_lock(paths: DbPaths, wait_seconds: float = 600.0):
    """Hold the load lock (waiting up to `wait_seconds`); everything created meanwhile is owner-only."""
    with private_umask():
        private_dir(paths.lock.parent)
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "a+") as fh:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LoadBusyError(
                            f"another load is still running on {paths.published}; try again when it has finished"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def open_work(paths: DbPaths) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the working database. Call only while holding the load lock."""
    private_dir(paths.published.parent)
    if not paths.work.exists() and paths.published.exists():
        # Continue from what was last published. Copy beside and rename: a load killed mid-copy must not leave a
        # half-copied working database that every later load would fail to open.
        tmp = paths.work.with_name(f".{paths.work.name}.{os.getpid()}.tmp")
        copy_private(paths.published, tmp)
        os.replace(tmp, paths.work)
    con = duckdb.connect(str(paths.work), config={"threads": 2, "memory_limit": "1GB",
                                                  "preserve_insertion_order": True})
    tighten(paths.work)  # a working file from before files were created owner-only
    con.execute("SET enable_progress_bar = false").fetchall()
    init_schema(con)
    return con


GIB = 1 << 30
MEMORY_FLOOR_BYTES = GIB  # a load of a million treatments stays well under 1.5 GB of process memory with it
MEMORY_PER_INPUT_BYTE = 2.5  # what a large first load needs to sort and join without spilling to disk
MEMORY_SHARE_OF_MACHINE = 0.4  # never more than this share of the machine's memory


def memory_limit_bytes(input_bytes: int, machine_bytes: int | None = None) -> int:
    """DuckDB's memory limit for a load of `input_bytes` of files: 1 GB, more for very large loads (about 2.5 times
    the files' size, so ten million treatments sort and join in memory instead of spilling to disk), and never
    more than 40 % of the machine's memory (nor less than the 1 GB floor)."""
    if machine_bytes is None:
        machine_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    ceiling = max(MEMORY_FLOOR_BYTES, int(machine_bytes * MEMORY_SHARE_OF_MACHINE))
    return max(MEMORY_FLOOR_BYTES, min(int(input_bytes * MEMORY_PER_INPUT_BYTE), ceiling))


def size_memory(con: duckdb.DuckDBPyConnection, input_bytes: int) -> int:
    """Set the working connection's memory limit for a load of `input_bytes` (see memory_limit_bytes)."""
    limit = memory_limit_bytes(input_bytes)
    con.execute(f"SET memory_limit = '{limit // (1 << 20)}MiB'").fetchall()
    return limit


# --------------------------------------------------------------------------------------------------------------
# Writing a validated batch
# --------------------------------------------------------------------------------------------------------------


@dataclass
class SourceCounts:
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0


def upsert(con: duckdb.DuckDBPyConnection, table: Table, batch_rel: str, load_id: int,
           source_names: list[str]) -> dict[int, SourceCounts]:
    """Insert new keys, replace changed rows, leave identical ones alone. Returns counts per source index."""
    cols = table.column_names
    key = list(table.key)
    if _is_empty(con, table.name):
        return _insert_all(con, table, batch_rel, load_id, source_names)
    join = " AND ".join(f'i."{k}" = t."{k}"' for k in key)
    same = " AND ".join(f'i."{c}" IS NOT DISTINCT FROM t."{c}"' for c in cols)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT i.*, CASE WHEN t."{key[0]}" IS NULL THEN 'insert' WHEN {same} THEN 'unchanged'
                             ELSE 'update' END AS _action
            FROM (SELECT * FROM {batch_rel} WHERE len(_issues) = 0 AND NOT _dup) i
            LEFT JOIN main.{table.name} t ON {join}"""
    ).fetchall()
    key_list = ", ".join(f'"{k}"' for k in key)
    _log_session_changes(con, table)
    con.execute(
        f"""DELETE FROM main.{table.name} WHERE ({key_list}) IN
            (SELECT ({key_list}) FROM incoming WHERE _action = 'update')"""
    ).fetchall()
    col_list = ", ".join(f'"{c}"' for c in cols)
    con.execute(
        f"""INSERT INTO main.{table.name} ({col_list}, load_id, source_file, source_row)
            SELECT {col_list}, ?, list_extract(?::VARCHAR[], _src + 1), _row FROM incoming
            WHERE _action IN ('insert', 'update') {_file_order(con, "incoming", "_action IN ('insert', 'update')")}""",
        [load_id, list(source_names)],
    ).fetchall()
    counts: dict[int, SourceCounts] = {}
    for src, action, n in con.execute("SELECT _src, _action, count(*) FROM incoming GROUP BY ALL").fetchall():
        field = {"insert": "rows_inserted", "update": "rows_updated", "unchanged": "rows_unchanged"}[action]
        c = counts.setdefault(src, SourceCounts())
        setattr(c, field, getattr(c, field) + n)
    for src, loaded, rejected in con.execute(
        f"SELECT _src, count(*) FILTER (len(_issues) = 0), count(*) FILTER (len(_issues) > 0) "
        f"FROM {batch_rel} GROUP BY _src"
    ).fetchall():
        c = counts.setdefault(src, SourceCounts())
        c.rows_loaded, c.rows_rejected = loaded, rejected
    con.execute("DROP TABLE incoming").fetchall()
    return counts


def _file_order(con: duckdb.DuckDBPyConnection, relation: str, where: str) -> str:
    """The ORDER BY that stores rows in the order of the files (source, then row), or nothing when `relation`'s
    rows (those matching `where`) already are in that order: sorting a million rows costs more than checking.
    The check reads the rows in their stored order (a filter and a window with an empty OVER keep it; DuckDB
    guarantees both), and an insert from one table through a filter keeps that order too."""
    out_of_order = con.execute(
        f"""SELECT count(*) FILTER (WHERE k < previous) FROM (
              SELECT k, lag(k) OVER () AS previous
              FROM (SELECT (CAST(_src AS BIGINT) << 32) + _row AS k FROM {relation} WHERE {where}))"""
    ).fetchall()[0][0]
    return "ORDER BY _src, _row" if out_of_order else ""


def _is_empty(con: duckdb.DuckDBPyConnection, table_name: str) -> bool:
    return not con.execute(f"SELECT EXISTS (SELECT 1 FROM main.{table_name})").fetchall()[0][0]


def _insert_all(con: duckdb.DuckDBPyConnection, table: Table, batch_rel: str, load_id: int,
                source_names: list[str]) -> dict[int, SourceCounts]:
    """`upsert` into an empty table (a first load): every accepted row is new, so the typed rows go from the
    validated batch straight into the table, without the intermediate table that compares them with stored rows.
    The counts and the rows written are the same as upsert's."""
    cols = table.column_names
    col_list = ", ".join(f'"{c}"' for c in cols)
    accepted = f"SELECT * FROM {batch_rel} WHERE len(_issues) = 0 AND NOT _dup"
    if _changes_logged(con) and table.name in ("treatments", "follow_ups"):
        columns = ("treatment_id, patient_ref, treated_on, corrects_treatment_id" if table.name == "treatments"
                   else "treatment_id")
        con.execute(f"INSERT INTO {SESSION_CHANGES} ({columns}) SELECT {columns} FROM ({accepted})").fetchall()
    con.execute(
        f"""INSERT INTO main.{table.name} ({col_list}, load_id, source_file, source_row)
            SELECT {col_list}, ?, list_extract(?::VARCHAR[], _src + 1), _row FROM ({accepted})
            {_file_order(con, batch_rel, "len(_issues) = 0 AND NOT _dup")}""",
        [load_id, list(source_names)],
    ).fetchall()
    counts: dict[int, SourceCounts] = {}
    for src, loaded, rejected, inserted in con.execute(
        f"SELECT _src, count(*) FILTER (len(_issues) = 0), count(*) FILTER (len(_issues) > 0), "
        f"count(*) FILTER (len(_issues) = 0 AND NOT _dup) FROM {batch_rel} GROUP BY _src"
    ).fetchall():
        counts[src] = SourceCounts(rows_loaded=loaded, rows_rejected=rejected, rows_inserted=inserted)
    return counts


# The sessions a load wrote, for the incremental outcome mart (counting.build_mart): one row per treatments row
# inserted or replaced (its new and its old version) and per follow-up contact inserted or replaced (the session it
# belongs to, new and old). Lives in the load's connection only (a temp table).
SESSION_CHANGES = "temp.main.session_changes"


def start_session_changes(con: duckdb.DuckDBPyConnection) -> str:
    """Start an empty log of the sessions this load writes (call once per load, before the first upsert)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE session_changes (treatment_id VARCHAR, patient_ref VARCHAR, treated_on DATE, "
        "corrects_treatment_id VARCHAR)"
    ).fetchall()
    return SESSION_CHANGES


def _changes_logged(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this load keeps the log (a catalog look-up: a failed query would abort the load's transaction)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'session_changes'"
                            ).fetchall()[0][0])


def _log_session_changes(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Log the sessions an upsert of `incoming` into `table` is about to write, as new and old versions (the old
    ones read before they are deleted). Only treatments and follow_ups feed the mart."""
    if not _changes_logged(con):
        return  # nobody asked for the log
    if table.name == "treatments":
        columns = "treatment_id, patient_ref, treated_on, corrects_treatment_id"
        con.execute(
            f"""INSERT INTO {SESSION_CHANGES}
                SELECT {columns} FROM incoming WHERE _action IN ('insert', 'update')
                UNION ALL
                SELECT t.treatment_id, t.patient_ref, t.treated_on, t.corrects_treatment_id
                FROM main.treatments t SEMI JOIN incoming i
                  ON i.treatment_id = t.treatment_id AND i._action = 'update'"""
        ).fetchall()
    elif table.name == "follow_ups":
        con.execute(
            f"""INSERT INTO {SESSION_CHANGES} (treatment_id)
                SELECT DISTINCT treatment_id FROM (
                  SELECT treatment_id FROM incoming WHERE _action IN ('insert', 'update')
                  UNION ALL
                  SELECT f.treatment_id FROM main.follow_ups f SEMI JOIN incoming i
                    ON i.follow_up_id = f.follow_up_id AND i._action = 'update')"""
        ).fetchall()


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM load_log").fetchall()[0][0]


def bump_snapshot(con: duckdb.DuckDBPyConnection, load_id: int | None) -> int:
    con.execute(
        "UPDATE snapshot_info SET version = version + 1, published_at = ?, "
        "last_load_id = coalesce(?, last_load_id)",
        [dt.datetime.now().replace(microsecond=0), load_id],
    ).fetchall()
    return con.execute("SELECT version FROM snapshot_info").fetchall()[0][0]


# --------------------------------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(paths: DbPaths, version: int, keep: int = SNAPSHOTS_KEPT) -> Path:
    """Atomically replace the published database with the (closed, checkpointed) working one."""
    target = paths.published
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        copy_private(paths.work, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        private_dir(paths.snapshots)
        tighten(paths.snapshots, PRIVATE_DIR_MODE)
        snapshot = paths.snapshots / f"{target.stem}-v{version:06d}.duckdb"
        with contextlib.suppress(FileNotFoundError):
            snapshot.unlink()
        os.link(tmp, snapshot)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    prune_snapshots(paths, keep)
    return target


def prune_snapshots(paths: DbPaths, keep: int) -> None:
    snapshots = sorted(paths.snapshots.glob(f"{paths.published.stem}-v*.duckdb"))
    for old in snapshots[:-keep] if keep > 0 else snapshots:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


def list_snapshots(paths: DbPaths) -> list[Path]:
    return sorted(paths.snapshots.glob(f"{paths.published.stem}-v*.duckdb"))


def clean_stale_temp_files(paths: DbPaths) -> None:
    """Remove temp files left by a loader that was killed mid-copy (publish, or a copy of the working database)."""
    for pattern in (f".{paths.published.name}.*.tmp", f".{paths.work.name}.*.tmp"):
        for stale in paths.published.parent.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
