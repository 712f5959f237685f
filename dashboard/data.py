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
# CSV exports: the same frames, options and provenance as `python -m pipelines export` (pipelines/release/cli.py)
# --------------------------------------------------------------------------------------------------------------

EXPORT_KINDS = ("rates", "funnel", "spc", "costs", "cusum", "records")
RECORDS_NOTE = ("patient and session references re-keyed with HMAC-SHA256 under a one-off key that was not kept; "
                "no free text")  # as `python -m pipelines export records` writes it
INTERNAL_NOTE = "internal: small cells not suppressed; not for use outside the clinic"


def export_options(kind: str, *, by: str | None = None, period: str = "month", method: str = "arcsine",
                   overdispersion: str = "auto", chart: str = "p", rules: str = "anhoej",
                   consumables_nok: float | None = None) -> dict[str, object]:
    """The provenance options of an export, exactly as the CLI writes them."""
    from pipelines.metrics import analysis, costs

    if kind == "rates":
        return {"by": by or "", "period": period, "interval": "Wilson score 95 %"}
    if kind == "funnel":
        return {"method": method, "overdispersion": overdispersion, "flag": "outside the 99.8 % limits"}
    if kind == "spc":
        return {"chart": chart, "period": period, "rules": rules, "freeze": ""}
    if kind == "costs":
        return {"by": by or "month",
                "consumables_nok": costs.DEFAULT_CONSUMABLES_NOK if consumables_nok is None else consumables_nok}
    if kind == "cusum":
        return analysis.cusum_provenance()
    if kind == "records":
        return {"pseudonymisation": RECORDS_NOTE}
    raise ValueError(f"unknown export kind `{kind}`")


def release_frame(frame: pd.DataFrame, kind: str, rule, by: str | None = None, *, outcome_key: str | None = None,
                  method: str = "arcsine", overdispersion: str = "auto", chart: str = "p",
                  rules: str = "anhoej") -> pd.DataFrame:
    """An aggregate export as it may leave the clinic (pipelines.release.export.release), with the margins the CLI's
    `--release` uses: the period, the grouping and the clinician columns present in the frame."""
    from pipelines.release import export

    groups = [c for c in ("period_start", "month", by, "clinician") if c and c in frame.columns]
    return export.release(frame, kind, list(dict.fromkeys(groups)), rule, outcome_key=outcome_key, method=method,
                          overdispersion=overdispersion, chart=chart, rules=rules)


def release_as_of(con: duckdb.DuckDBPyConnection, kind: str, filters, *, period: str | None = None):
    """The as-of date of a release of `kind` with these filters (pipelines.release.export.check_release: NotForRelease
    with what is allowed when the period is not a whole calendar month, quarter or year)."""
    from pipelines.metrics import counting
    from pipelines.release import export

    return export.check_release(kind, filters, as_of=None, data_as_of=counting.default_as_of(con), period=period)


def export_csv(con: duckdb.DuckDBPyConnection, kind: str, outcome_key: str | None, *, filters, as_of,
               excel: bool = False, by: str | None = None, period: str = "month", method: str = "arcsine",
               overdispersion: str = "auto", chart: str = "p", rules: str = "anhoej",
               consumables_nok: float | None = None, db_path_text: str = "",
               generated_by: str | None = None, release=None, internal: bool = False) -> tuple[bytes, int]:
    """(file bytes, data rows) of one export kind, built by pipelines.release.export's frame, provenance and CSV writer
    (UTF-8; UTF-8 with BOM, semicolons and decimal commas when `excel`).

    `release` (a pipelines.release.disclosure.Rule): the CLI's `--release`: only for a whole calendar month, quarter or
    year in `filters` (else pipelines.release.export.NotForRelease saying what is allowed), counted as of the newest month
    end the data have reached (`as_of` is not used), small cells suppressed, counts rounded to 5; a per-session kind
    (cusum) raises NotForRelease. `internal`: an unsuppressed file, said so in its provenance.
    `records`: the pseudonymised record-level export (pipelines.release.records), re-keyed and k-anonymised."""
    from pipelines.metrics import counting
    from pipelines.release import export, records

    options = export_options(kind, by=by, period=period, method=method, overdispersion=overdispersion,
                             chart=chart, rules=rules, consumables_nok=consumables_nok)
    if release is not None:
        as_of = export.check_release(kind, filters, as_of=None, data_as_of=counting.default_as_of(con),
                                     period=period if kind in ("rates", "spc") else None)
    if kind == "rates":
        frame = export.rates_frame(con, outcome_key, by=by, period=period, filters=filters, as_of=as_of)
    elif kind == "funnel":
        frame = export.funnel_frame(con, outcome_key, method=method, overdispersion=overdispersion,
                                    filters=filters, as_of=as_of)
    elif kind == "spc":
        frame = export.spc_frame(con, outcome_key, chart=chart, period=period, rules=rules, filters=filters,
                                 as_of=as_of)
    elif kind == "costs":
        frame = export.costs_frame(con, by=options["by"], consumables_nok=options["consumables_nok"],
                                   filters=filters, as_of=as_of)
    elif kind == "cusum":
        frame = export.cusum_frame(con, outcome_key, filters=filters, as_of=as_of)
    else:
        frame, anonymisation = records.anonymised(con, filters=filters, as_of=as_of)
        options.update(anonymisation)
    if release is not None:
        frame = release_frame(frame, kind, release, by=options.get("by") or None, outcome_key=outcome_key,
                              method=method, overdispersion=overdispersion, chart=chart, rules=rules)
        options.update(export.release_provenance(release, filters))
    elif internal and kind != "records":
        options["release"] = INTERNAL_NOTE
    prov = export.provenance(con, kind, as_of=as_of, filters=filters, options=options,
                             outcome_key=None if kind in ("costs", "records") else outcome_key,
                             db_path=Path(db_path_text) if db_path_text else None, generated_by=generated_by)
    text = export.to_csv_text(frame, prov, excel=excel)
    return text.encode("utf-8-sig" if excel else "utf-8"), len(frame)
