"""Recovery: list the kept snapshots and put an earlier one back.

    python -m pipelines snapshots [--db PATH]
    python -m pipelines restore VERSION [--db PATH]

Every publish leaves a hard link of the published file in ``data/clinic.snapshots/`` (the last
``store.SNAPSHOTS_KEPT``). ``restore`` takes the load lock, so it never interleaves with a load, and then:

1. copies the snapshot to a temp file beside the working database, gives it the next snapshot version (versions
   only ever grow, so the dashboard's caches and ``snapshot_info.version`` never mean two different things) and
   records the restore in ``load_log`` (status ``restored vN``, with a load id above every earlier one);
2. replaces the working database with it (``os.replace``; a crash before this step leaves the old working database
   untouched), so the next load continues from the restored state;
3. publishes it like a load does: atomic replace of the published file, and a new snapshot in the folder.

The snapshot itself is never modified: restoring it again, or restoring a later one, stays possible.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.errors import UserError
from pipelines.ingest import store


class RecoveryError(UserError, ValueError):
    """A restore cannot be done (unknown version, unreadable snapshot). The message says what to do."""


@dataclass
class SnapshotEntry:
    version: int
    published_at: dt.datetime | None
    path: Path
    rows: dict[str, int]  # contract table -> rows
    pending_rejected: int
    last_load_id: int | None
    is_published: bool


def _paths(db: Path | None) -> store.DbPaths:
    return store.DbPaths(Path(db) if db else store.default_db_path())


def _version_of(path: Path) -> int | None:
    match = re.search(r"-v(\d+)\.duckdb$", path.name)
    return int(match.group(1)) if match else None


def _describe(path: Path, is_published: bool) -> SnapshotEntry:
    con = duckdb.connect(str(path), read_only=True)
    try:
        version, published_at, last_load_id = con.execute(
            "SELECT version, published_at, last_load_id FROM snapshot_info").fetchall()[0]
        present = {r[0] for r in con.execute(  # a snapshot from before a table was added to the contract lacks it
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        counts = con.execute(" UNION ALL ".join(
            f"SELECT '{t.name}', count(*) FROM {t.name}" for t in contract.TABLES if t.name in present)).fetchall()
        pending = con.execute("SELECT count(*) FROM rejected_rows WHERE status = 'pending'").fetchall()[0][0]
    finally:
        con.close()
    return SnapshotEntry(version, published_at, path, dict(counts), pending, last_load_id, is_published)


def list_versions(db: Path | None = None) -> list[SnapshotEntry]:
    """The kept snapshots, oldest first; `is_published` marks the one the dashboard reads now."""
    paths = _paths(db)
    try:
        published_inode = os.stat(paths.published).st_ino
    except FileNotFoundError:
        published_inode = None
    entries = []
    for path in store.list_snapshots(paths):
        try:
            inode = os.stat(path).st_ino
            entries.append(_describe(path, inode == published_inode))
        except (FileNotFoundError, duckdb.Error):
            continue  # pruned by a load while listing, or not a readable database: not restorable anyway
    return entries


def restore(version: int, db: Path | None = None, *, wait_seconds: float = 600.0) -> SnapshotEntry:
    """Republish snapshot `version` as a new version and make the working database match it."""
    paths = _paths(db)
    with store.load_lock(paths, wait_seconds):
        store.clean_stale_temp_files(paths)
        snapshot = paths.snapshots / f"{paths.published.stem}-v{version:06d}.duckdb"
        if not snapshot.exists():
            kept = ", ".join(str(_version_of(p)) for p in store.list_snapshots(paths)) or "none"
            raise RecoveryError(f"there is no snapshot {version} in {paths.snapshots} (kept: {kept}); "
                                "list them with `python -m pipelines snapshots`")
        try:
            source = _describe(snapshot, False)
        except duckdb.Error as exc:
            raise RecoveryError(f"snapshot {version} ({snapshot.name}) cannot be opened "
                                f"({str(exc).splitlines()[0]}); restore another one") from None
        new_version = max(_known_versions(paths) + [source.version]) + 1
        restore_load_id = max(_known_load_ids(paths, snapshot)) + 1

        tmp = paths.work.with_name(f".{paths.work.name}.restore.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            shutil.copyfile(snapshot, tmp)
            con = duckdb.connect(str(tmp))
            try:
                now = dt.datetime.now().replace(microsecond=0)
                con.execute("UPDATE snapshot_info SET version = ?, published_at = ?, last_load_id = ?",
                            [new_version, now, restore_load_id]).fetchall()
                con.execute(
                    "INSERT INTO load_log (load_id, loaded_at, file_name, file_bytes, source_format, rows_read, "
                    "rows_loaded, rows_rejected, rows_inserted, rows_updated, rows_unchanged, status) "
                    "VALUES (?, ?, ?, ?, 'snapshot', 0, 0, 0, 0, 0, 0, ?)",
                    [restore_load_id, now, snapshot.name, snapshot.stat().st_size, f"restored v{version}"],
                ).fetchall()
                con.execute("CHECKPOINT").fetchall()
            finally:
                con.close()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            # A write-ahead log left by a killed load belongs to the old working file: drop it first, so it can
            # never be replayed onto the restored one.
            with contextlib.suppress(FileNotFoundError):
                Path(str(paths.work) + ".wal").unlink()
            os.replace(tmp, paths.work)
            store._fsync_dir(paths.work.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        store.publish(paths, new_version)
    return _describe(paths.published, True)


def _known_versions(paths: store.DbPaths) -> list[int]:
    versions = [v for v in (_version_of(p) for p in store.list_snapshots(paths)) if v is not None]
    for path in (paths.published, paths.work):
        with contextlib.suppress(FileNotFoundError, duckdb.Error, IndexError):
            versions.append(_read_one(path, "SELECT version FROM snapshot_info"))
    return versions or [0]


def _known_load_ids(paths: store.DbPaths, snapshot: Path) -> list[int]:
    ids = [0]
    for path in (paths.published, paths.work, snapshot):
        with contextlib.suppress(FileNotFoundError, duckdb.Error, IndexError):
            ids.append(_read_one(path, "SELECT coalesce(max(load_id), 0) FROM load_log"))
    return ids


def _read_one(path: Path, sql: str):
    if not path.exists():
        raise FileNotFoundError(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


__all__ = ["list_versions", "restore", "RecoveryError", "SnapshotEntry"]
