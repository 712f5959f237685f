"""`python -m pipelines demo`: generate realistic exports (pipelines/demo.py) and load them through the real loader,
exactly as a clinic's own files would be loaded (same validation, same rejected rows, same publish)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from pipelines import load, store

ROOT = Path(__file__).resolve().parents[1]
COLUMN_MAP = ROOT / "data" / "column_map_nb.csv"


def run_demo(
    db: Path | None = None,
    *,
    n_treatments: int = 20_000,
    seed: int = 42,
    end_date: str | dt.date | None = None,
    exports_dir: Path | None = None,
    progress: bool | None = None,
) -> load.LoadResult:
    from pipelines.demo import write_demo_exports

    if isinstance(end_date, str):
        end_date = dt.date.fromisoformat(end_date)
    end_date = end_date or dt.date.today()
    db = Path(db) if db else store.default_db_path()
    with tempfile.TemporaryDirectory(prefix="clinic-demo-") as tmp:
        folder = Path(exports_dir) if exports_dir else Path(tmp)
        files = write_demo_exports(folder, n_treatments=n_treatments, seed=seed, end_date=end_date)
        return load.load_files(files, db, column_map=COLUMN_MAP, today=end_date, progress=progress)
