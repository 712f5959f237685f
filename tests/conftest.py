"""Shared fixtures: a temporary published-database path, small file writers, and a read-only query helper."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TODAY = dt.date(2025, 1, 31)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "db" / "clinic.duckdb"


@pytest.fixture
def golden(tmp_path) -> Path:
    """A copy of the golden fixture files, safe to modify."""
    target = tmp_path / "golden"
    shutil.copytree(FIXTURES / "golden", target)
    return target


def query(db_path: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


CLINICIANS_CSV = "clinician,profession,cost_per_minute_nok\nC01,lege,30\nC02,sykepleier,20\n"
TREATMENT_HEADER = "treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,price_nok\n"


@pytest.fixture(scope="session")
def metrics_db(tmp_path_factory) -> Path:
    """The hand-made metrics fixture (tests/fixtures/metrics), loaded once through the real loader."""
    from pipelines.ingest.load import load_files

    db_path = tmp_path_factory.mktemp("metrics") / "clinic.duckdb"
    result = load_files(sorted((FIXTURES / "metrics").glob("*.csv")), db_path, today=TODAY)
    assert result.rows_rejected == 0
    return db_path


@pytest.fixture
def metrics_con(metrics_db):
    con = duckdb.connect(str(metrics_db), read_only=True)
    yield con
    con.close()
