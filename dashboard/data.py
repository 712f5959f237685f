"""The only place the dashboard touches DuckDB: the published snapshot, opened read-only, cached per version.

The loader replaces the published file atomically (a new inode). At the start of every script run the app pins the
snapshot (`pin_snapshot`): it opens the published file read-only once and every query of that page view runs on
that connection, so one page always shows one snapshot even if a load publishes while it renders; the next rerun
pins the new file, so a new load appears without a restart, and a reader never blocks the loader. Cached results
are keyed on the snapshot's identity (inode, size, mtime), so they go stale exactly when a new snapshot is
published. Outside a script run (background jobs, plain Python) each call opens the file for itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from pipelines.ingest import store
from pipelines.ingest.store import default_db_path


class NoDatabase(Exception):
    """No published database yet (or it is being replaced right now)."""


class BadDatabase(Exception):
    """The published file is not a database this dashboard can read (e.g. a table is missing)."""


def db_path() -> Path:
    return default_db_path()


def snapshot_key(path: Path | None = None) -> tuple[int, int, int] | None:
    try:
        st_ = os.stat(path or db_path())
    except FileNotFoundError:
        return None
    return (st_.st_ino, st_.st_size, st_.st_mtime_ns)


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    last: Exception | None = None
    for _ in range(5):  # the file may be swapped between stat and open: try again on the new one
        try:
            con = duckdb.connect(str(_version_path(path)), read_only=True)
            con.execute("SET enable_progress_bar = false").fetchall()  # no terminal bars from the server
            return con
        except (duckdb.IOException, FileNotFoundError) as exc:
            last = exc
            time.sleep(0.05)
    raise NoDatabase(str(last))


def _version_path(path: Path) -> Path:
    """A name of the published file that belongs to this snapshot alone: the kept snapshot it was published as.

    DuckDB keeps one database instance per file *name* in a process while any connection to it is open, and hands
    it to every later `connect` of that name: after a publish replaced the file, a page view would be given the old
    snapshot as long as another session still had it pinned. Every publish hard-links the new file into
    `<db>.snapshots/` under its version's name (pipelines/store.publish), so opening that name opens exactly the
    file now published. Without a kept copy of it (a database copied by hand), the published name is used."""
    try:
        published = os.stat(path)
        snapshots = store.DbPaths(Path(path)).snapshots
        for candidate in sorted(snapshots.glob(f"{Path(path).stem}-v*.duckdb"), reverse=True):
            found = os.stat(candidate)
            if (found.st_dev, found.st_ino) == (published.st_dev, published.st_ino):
                return candidate
    except OSError:
        pass
    return Path(path)


_PIN = "_clinic_snapshot_pin"


def _session_state():
    """st.session_state inside a script run; None elsewhere (background threads, plain Python)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return st.session_state if get_script_run_ctx(suppress_warning=True) is not None else None


def _open_identified(path: Path) -> tuple[duckdb.DuckDBPyConnection, tuple[int, int, int]]:
    """Open the published file read-only and say which snapshot was opened: the identity is taken before and after
    the open, and only an open between two equal identities counts (the file is only ever replaced whole)."""
    for _ in range(10):
        before = snapshot_key(path)
        if before is None:
            raise NoDatabase(f"no database at {path}")
        con = _open(path)
        if snapshot_key(path) == before:
            return con, before
        con.close()
        time.sleep(0.02)
    raise NoDatabase(f"{path} is being republished; try again in a moment")


def pin_snapshot() -> None:
    """Pin the published snapshot for this script run (called by streamlit_app.py before the page runs)."""
    state = _session_state()
    if state is None:
        return
    old = state.get(_PIN)
    state[_PIN] = None
    if old is not None:
        old[0].close()
    path = db_path()
    if not path.exists():
        return
    try:
        state[_PIN] = _open_identified(path)
    except NoDatabase:
        state[_PIN] = None


def _pinned() -> tuple[duckdb.DuckDBPyConnection, tuple[int, int, int]] | None:
    state = _session_state()
    return state.get(_PIN) if state is not None else None


def _call(con: duckdb.DuckDBPyConnection, fn: Callable[..., Any], args, kwargs) -> Any:
    try:
        return fn(con, *args, **kwargs)
    except duckdb.CatalogException as exc:
        raise BadDatabase(str(exc)) from exc
    except duckdb.IOException as exc:
        raise NoDatabase(str(exc)) from exc


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call fn(con, *args, **kwargs) on this page view's pinned snapshot (else a fresh read-only connection)."""
    pinned = _pinned()
    if pinned is not None:
        return _call(pinned[0], fn, args, kwargs)
    path = db_path()
    if not path.exists():
        raise NoDatabase(f"no database at {path}")
    con = _open(path)
    try:
        return _call(con, fn, args, kwargs)
    finally:
        con.close()


def current_key() -> tuple[int, int, int] | None:
    """The identity of the snapshot this page view reads."""
    pinned = _pinned()
    return pinned[1] if pinned is not None else snapshot_key()


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(_fn: Callable[..., Any], fn_name: str, snapshot: tuple, args: tuple, kwargs: tuple) -> Any:
    return run(_fn, *args, **dict(kwargs))


def cached(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """run(), cached per snapshot version and arguments (arguments must be hashable)."""
    key = current_key()
    if key is None:
        raise NoDatabase(f"no database at {db_path()}")
    return _cached(fn, f"{fn.__module__}.{fn.__qualname__}", key, args, tuple(sorted(kwargs.items())))


# One worker for slow, optional work (the overview's CUSUM check of every outcome): a page shows what is ready
# and picks the rest up when it is done, instead of waiting for it. Jobs are keyed on the snapshot like the cache.
_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinic-background")


@st.cache_resource(show_spinner=False)
def _jobs() -> dict:
    return {}


def background(fn: Callable[..., Any], *args: Any, wait: float = 0.0, **kwargs: Any) -> tuple[bool, Any]:
    """Run fn(con, *args, **kwargs) once per snapshot and arguments on the background worker.

    Returns (True, result) when it has finished (waiting up to `wait` seconds for it), else (False, None).
    A failed job raises its exception here (NoDatabase and friends included) and is forgotten, so a later call
    retries it."""
    key = current_key()
    if key is None:
        raise NoDatabase(f"no database at {db_path()}")
    jobs = _jobs()
    job_key = (key, f"{fn.__module__}.{fn.__qualname__}", args, tuple(sorted(kwargs.items())))
    future = jobs.get(job_key)
    if future is None:
        for old, job in list(jobs.items()):
            if old[0] != key:  # results of a replaced snapshot are never read again
                jobs.pop(old, None)
            elif old[1] == job_key[1] and job.cancel():  # not started yet: the filters have changed since
                jobs.pop(old, None)
        future = jobs[job_key] = _BACKGROUND.submit(run_at, key, fn, *args, **kwargs)
    try:
        result = future.result(timeout=wait) if wait else (future.result() if future.done() else None)
    except FutureTimeout:
        return False, None
    except BaseException:
        jobs.pop(job_key, None)
        raise
    return future.done(), result


def run_at(key: tuple[int, int, int], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """run() on the snapshot with this identity; NoDatabase if it has been replaced meanwhile (the job is retried
    on the next rerun, under the new snapshot's key), so a result is never filed under the wrong snapshot."""
    con, opened = _open_identified(db_path())
    try:
        if opened != key:
            raise NoDatabase("a newer snapshot was published while the job waited")
        return _call(con, fn, args, kwargs)
    finally:
        con.close()


def sql_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()) -> pd.DataFrame:
    return con.execute(sql, list(params)).df()


# --------------------------------------------------------------------------------------------------------------
# CSV exports: the library's one builder (pipelines/release/build.py), as `python -m pipelines export` uses it
# --------------------------------------------------------------------------------------------------------------


def export_frame(con: duckdb.DuckDBPyConnection, kind: str, options) -> pd.DataFrame:
    """The frame of an export (pipelines.release.build.build) with these ExportOptions: a release as released."""
    from pipelines.release import build

    return build.build(con, kind, options)[0]


def export_file(con: duckdb.DuckDBPyConnection, kind: str, options) -> tuple[bytes, int]:
    """(file bytes, data rows) of an export with these ExportOptions: the bytes `python -m pipelines export` writes
    for the same options (pipelines.release.build.csv_bytes)."""
    from pipelines.release import build

    return build.csv_bytes(con, kind, options)


def export_csv(con: duckdb.DuckDBPyConnection, kind: str, outcome_key: str | None, *, filters, as_of,
               excel: bool = False, by: str | None = None, period: str = "month", method: str = "arcsine",
               overdispersion: str = "auto", chart: str = "p", rules: str = "anhoej",
               consumables_nok: float | None = None, db_path_text: str = "",
               generated_by: str | None = None, release=None, internal: bool = False) -> tuple[bytes, int]:
    """export_file() with the options as keywords (`period` applies to rates and spc only).

    `release` (a pipelines.release.disclosure.Rule): the CLI's `--release`: only for a whole calendar month, quarter
    or year in `filters` (else pipelines.release.export.NotForRelease saying what is allowed), counted as of the
    newest month end the data have reached (`as_of` is not used), small cells suppressed, counts rounded to 5; a
    per-session kind (cusum) raises NotForRelease. `internal`: an unsuppressed file, said so in its provenance.
    `records`: the pseudonymised record-level export (pipelines.release.records), re-keyed and k-anonymised."""
    from pipelines.release import build

    options = build.ExportOptions(
        outcome=outcome_key, by=by, period=period if kind in build.PERIOD_CHOICES else None, method=method,
        overdispersion=overdispersion, chart=chart, rules=rules, consumables_nok=consumables_nok, filters=filters,
        as_of=None if release is not None else as_of, release=release, internal=internal, excel=excel,
        user=generated_by, database=Path(db_path_text) if db_path_text else None)
    return export_file(con, kind, options)
