"""Data-quality queries over the published snapshot: what was loaded, what was rejected, how fresh it is."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines import contract


def snapshot_info(con: duckdb.DuckDBPyConnection) -> dict:
    row = con.execute("SELECT version, published_at, last_load_id FROM snapshot_info").fetchall()
    version, published_at, last_load_id = row[0] if row else (0, None, 0)
    return {"version": version, "published_at": published_at, "last_load_id": last_load_id}


def table_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    parts = " UNION ALL ".join(f"SELECT '{t.name}' AS table_name, count(*) AS rows_n FROM {t.name}"
                               for t in contract.TABLES)
    return con.execute(parts).df()


def load_history(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    return con.execute(
        """SELECT load_id, loaded_at, file_name, sheet, table_name, rows_read, rows_loaded, rows_rejected,
                  rows_inserted, rows_updated, rows_unchanged, ignored_columns
           FROM load_log ORDER BY load_id DESC, file_name LIMIT ?""", [limit]).df()


def rejected_rows(con: duckdb.DuckDBPyConnection, status: str = "pending", limit: int = 1000) -> pd.DataFrame:
    return con.execute(
        """SELECT rejected_at, file_name, sheet, table_name, row_number, record_id, column_name, reason, status
           FROM rejected_rows WHERE status = ? ORDER BY rejected_at DESC, file_name, row_number LIMIT ?""",
        [status, limit]).df()


def data_freshness(con: duckdb.DuckDBPyConnection) -> dict:
    row = con.execute(
        """SELECT (SELECT max(treated_on) FROM treatments), (SELECT max(seen_on) FROM follow_ups),
                  (SELECT max(loaded_at) FROM load_log)""").fetchall()[0]
    return {"last_treatment_on": row[0], "last_follow_up_on": row[1], "last_load_at": row[2]}
