"""`python -m pipelines demo`: generate realistic exports (pipelines/demo/generate.py) and load them through the real loader,
exactly as a clinic's own files would be loaded (same validation, same rejected rows, same publish).

The database it makes is marked as a demo database: a `clinic_meta` table with `generated_by = demo` and the load
the demo made (`demo_load_id`), published as one more snapshot right after the load. The dashboard's demo mode
(`CLINIC_DEMO=1`, everyone admin) serves only a database that `demo_status` finds marked and with nothing loaded
after the demo (a later load of real exports, or a retry, ends demo mode for that database). The demo never writes
into a database that holds data it did not make.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

import duckdb

from pipelines.errors import UserError
from pipelines.ingest import load, store

ROOT = Path(__file__).resolve().parents[2]
COLUMN_MAP = ROOT / "data" / "column_map_nb.csv"
META_TABLE = "clinic_meta"
GENERATED_BY_DEMO = "demo"


class NotADemoDatabase(UserError, ValueError):
    """The demo generator refuses to write into a database that holds data it did not make."""


@dataclasses.dataclass(frozen=True)
class DemoStatus:
    is_demo: bool
    reason: str  # "demo", "not_marked" (not made by the demo generator), "loaded_after" (data loaded since)
    load_id: int | None = None  # loaded_after: the first load after the demo


def mark_as_demo(con: duckdb.DuckDBPyConnection, demo_load_id: int) -> None:
    """Write the demo marker: this database was made by the demo generator, up to and including `demo_load_id`."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR, value VARCHAR)").fetchall()
    con.execute(f"DELETE FROM {META_TABLE} WHERE key IN ('generated_by', 'demo_load_id', 'demo_marked_at')"
                ).fetchall()
    con.executemany(f"INSERT INTO {META_TABLE} VALUES (?, ?)",
                    [("generated_by", GENERATED_BY_DEMO), ("demo_load_id", str(int(demo_load_id))),
                     ("demo_marked_at", dt.datetime.now().replace(microsecond=0).isoformat())])


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                       "AND table_name = ?", [name]).fetchall()[0][0] > 0


def demo_status(con: duckdb.DuckDBPyConnection, *, ignore_load_id: int | None = None) -> DemoStatus:
    """Is this a database the demo generator made, with nothing loaded after it? Loads that only republished a
    kept snapshot (`restore`) do not count: they bring back what the snapshot held, marker included."""
    marker: dict[str, str] = {}
    if _has_table(con, META_TABLE):
        marker = dict(con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
    if marker.get("generated_by") != GENERATED_BY_DEMO:
        return DemoStatus(False, "not_marked")
    try:
        demo_load_id = int(marker.get("demo_load_id", ""))
    except ValueError:
        return DemoStatus(False, "not_marked")
    later = [i for i in _loads(con, ignore_load_id) if i is None or i > demo_load_id]
    if later:
        return DemoStatus(False, "loaded_after", later[0])
    return DemoStatus(True, "demo")


def _loads(con: duckdb.DuckDBPyConnection, ignore_load_id: int | None = None) -> list[int]:
    if not _has_table(con, "load_log"):
        return []
    return [r[0] for r in con.execute(
        "SELECT DISTINCT load_id FROM load_log WHERE coalesce(source_format, '') <> 'snapshot' "
        "AND load_id IS DISTINCT FROM ? ORDER BY load_id", [ignore_load_id]).fetchall()]


def _holds_only_demo_data(con: duckdb.DuckDBPyConnection, ignore_load_id: int | None = None) -> bool:
    """Nothing loaded yet (apart from `ignore_load_id`), or only what the demo generator made."""
    return not _loads(con, ignore_load_id) or demo_status(con, ignore_load_id=ignore_load_id).is_demo


def _check_target(paths: store.DbPaths) -> None:
    """Refuse a target database that holds data the demo generator did not make."""
    existing = paths.work if paths.work.exists() else paths.published
    if not existing.exists():
        return
    con = duckdb.connect(str(existing), read_only=True)
    try:
        only_demo = _holds_only_demo_data(con)
    finally:
        con.close()
    if not only_demo:
        raise NotADemoDatabase(
            f"{paths.published} already holds data the demo generator did not make; the demo writes only into a "
            "new database or one it made itself: choose another --db (or $CLINIC_DB)")


def _mark(paths: store.DbPaths, demo_load_id: int) -> int:
    """Mark the database the demo load just published, and publish that as a new snapshot (its version)."""
    with store.load_lock(paths):
        con = store.open_work(paths)
        try:
            con.execute("BEGIN TRANSACTION").fetchall()
            if not _holds_only_demo_data(con, ignore_load_id=demo_load_id):
                raise NotADemoDatabase(
                    f"other data was loaded into {paths.published} while the demo loaded, so it is not marked as a "
                    "demo database; generate the demo into a new --db")
            mark_as_demo(con, demo_load_id)
            version = store.bump_snapshot(con, None)
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            con.close()
            raise
        con.execute("CHECKPOINT").fetchall()
        con.close()
        store.publish(paths, version)
    return version


def run_demo(
    db: Path | None = None,
    *,
    n_treatments: int = 20_000,
    seed: int = 42,
    end_date: str | dt.date | None = None,
    exports_dir: Path | None = None,
    progress: bool | None = None,
) -> load.LoadResult:
    from pipelines.demo.generate import write_demo_exports

    if isinstance(end_date, str):
        end_date = dt.date.fromisoformat(end_date)
    end_date = end_date or dt.date.today()
    db = Path(db) if db else store.default_db_path()
    paths = store.DbPaths(db)
    _check_target(paths)
    with tempfile.TemporaryDirectory(prefix="clinic-demo-") as tmp:
        folder = Path(exports_dir) if exports_dir else Path(tmp)
        files = write_demo_exports(folder, n_treatments=n_treatments, seed=seed, end_date=end_date)
        result = load.load_files(files, db, column_map=COLUMN_MAP, today=end_date, progress=progress)
    version = _mark(paths, result.load_id)
    return dataclasses.replace(result, version=version)
