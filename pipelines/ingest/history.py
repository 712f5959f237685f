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
    """Rows per contract table; a table the database does not have yet (published before the table was added to
    the contract) counts 0."""
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
               .fetchall()}
    parts = " UNION ALL ".join(f"SELECT '{t.name}' AS table_name, count(*) AS rows_n FROM {t.name}"
                               if t.name in present else f"SELECT '{t.name}' AS table_name, 0 AS rows_n"
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


# The kind of a rejection, from the first problem named in its reason (see validate.py and read.py for the wording).
_REASON_KINDS = (
    ("malformed", "json_exists(raw_values, '$.line')"),
    ("unknown reference", "regexp_matches(reason, '^[a-z_]+: (unknown clinician code|follow-up for unknown treatment"
                          "|corrects unknown treatment)')"),
    ("duplicate in load", "regexp_matches(reason, '^[a-z_]+: .* appears more than once in this load')"),
    ("conflicts with stored rows", "regexp_matches(reason, '^treated_on: [0-9-]+ would put session ')"),
    ("date order",
     "regexp_matches(reason, '^[a-z_]+: (the correction is dated|[0-9-]+ is before the treatment date)')"),
    ("empty required value", "regexp_matches(reason, '^[a-z_]+: is empty \\(required\\)')"),
)


def pending_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pending rejected rows counted by table and kind of reason (what still needs a fix, and what a retry may fix).

    Kinds: `unknown reference` (fixed by loading the missing clinician or treatment, then
    `python -m pipelines retry`), `malformed` (the line must be corrected in the file), `duplicate in load`,
    `conflicts with stored rows` (a re-exported session moved after its stored correction or follow-up; the stored
    version is kept: see `stored_conflicts`), `date order`, `empty required value`, and `invalid value` for
    everything else.
    """
    kind = "CASE " + " ".join(f"WHEN {sql} THEN '{name}'" for name, sql in _REASON_KINDS) + " ELSE 'invalid value' END"
    return con.execute(
        f"""SELECT table_name, {kind} AS reason_kind, count(*) AS rows_n, count(DISTINCT file_name) AS files_n,
                   min(rejected_at) AS first_rejected_at
            FROM rejected_rows WHERE status = 'pending' GROUP BY ALL ORDER BY table_name, rows_n DESC, reason_kind"""
    ).df()


def _kind_sql(name: str) -> str:
    return dict(_REASON_KINDS)[name]


def stored_conflicts(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> pd.DataFrame:
    """Pending re-exported sessions rejected because their new date conflicts with stored rows (pipelines/ingest/
    validate.py `_check_stored_dependents`): the date the export holds (`rejected_value`) beside the one kept in the
    database (`stored_value`, ISO text), with the reason naming the stored row it conflicts with."""
    return con.execute(
        f"""SELECT r.file_name, r.row_number, r.record_id,
                   json_extract_string(r.raw_values, '$.treated_on') AS rejected_value,
                   strftime(t.treated_on, '%Y-%m-%d') AS stored_value, r.reason, r.rejected_at
            FROM rejected_rows r LEFT JOIN treatments t ON t.treatment_id = r.record_id
            WHERE r.status = 'pending' AND r.table_name = 'treatments' AND {_kind_sql('conflicts with stored rows')}
            ORDER BY r.rejected_at DESC, r.file_name, r.row_number LIMIT ?""", [limit]).df()


def rejected_rows_of_load(con: duckdb.DuckDBPyConnection, load_id: int) -> pd.DataFrame:
    """The rows one load rejected, with their reasons (the Load data page's list and download)."""
    return con.execute(
        """SELECT file_name, sheet, table_name, row_number, record_id, column_name, reason
           FROM rejected_rows WHERE load_id = ? ORDER BY file_name, sheet, row_number""", [load_id]).df()
