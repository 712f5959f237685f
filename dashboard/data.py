"""The only place the dashboard touches DuckDB: the published snapshot, opened read-only, cached per version.

The loader replaces the published file atomically (a new inode). Every read opens the file read-only, runs one unit
of work and closes it, so a new load appears on the next rerun without a restart and a reader never blocks the
loader. Cached results are keyed on the snapshot's identity (inode, size, mtime), so they go stale exactly when a new
snapshot is published.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from pipelines.store import default_db_path


class NoDatabase(Exception):
    """No published database yet (or it is being replaced right now)."""


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
            return duckdb.connect(str(path), read_only=True)
        except (duckdb.IOException, FileNotFoundError) as exc:
            last = exc
            time.sleep(0.05)
    raise NoDatabase(str(last))


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call fn(con, *args, **kwargs) on a fresh read-only connection to the published snapshot."""
    path = db_path()
    if not path.exists():
        raise NoDatabase(f"no database at {path}")
    con = _open(path)
    try:
        return fn(con, *args, **kwargs)
    finally:
        con.close()


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(_fn: Callable[..., Any], fn_name: str, snapshot: tuple, args: tuple, kwargs: tuple) -> Any:
    return run(_fn, *args, **dict(kwargs))


def cached(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """run(), cached per snapshot version and arguments (arguments must be hashable)."""
    key = snapshot_key()
    if key is None:
        raise NoDatabase(f"no database at {db_path()}")
    return _cached(fn, f"{fn.__module__}.{fn.__qualname__}", key, args, tuple(sorted(kwargs.items())))


def sql_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | tuple = ()) -> pd.DataFrame:
    return con.execute(sql, list(params)).df()
