"""The benchmark runs end to end at a small size and writes a sane report (so `make bench` cannot rot)."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    import bench

    report = tmp_path / "benchmarks.md"
    results = bench.main(["--sizes", "1000,2000", "--pages", "1000", "--repeat", "1", "--report", str(report),
                          "--workdir", str(tmp_path / "work")])
    text = report.read_text()
    for heading in ("## Machine", "## Results", "## Targets", "### Dashboard pages", "## Time against size"):
        assert heading in text
    assert (tmp_path / "benchmarks.svg").read_text().startswith("<svg")
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    for size in ("1000", "2000"):
        r = data["by_size"][size]
        # sane figures: positive times, the loader read every generated row, a sensible memory peak
        assert r["load_s"] > 0 and r["duckdb_read_s"] > 0 and r["metrics_s"] > 0 and r["plain_s"] > 0
        assert r["load_ratio"] == pytest.approx(r["load_s"] / r["duckdb_read_s"])
        assert 50 < r["load_peak_mb"] < 4000
        assert r["rows_read"] > int(size)  # treatments plus follow-ups plus reference rows
    pages = data["by_size"]["1000"]["page_s"]
    assert set(pages) >= {"overview", "complications", "clinicians"} and all(v > 0 for v in pages.values())
    assert data["by_size"]["1000"]["page_errors"] == {}
    assert results["incremental"]["increment_rows"] > 0
    # the month goes through the incremental mart, and the report holds every target of issue 15
    assert results["incremental"]["increment_mart"] == "incremental"
    assert re.search(r"\| a month into the database of 2,000 \| <= 15% of the full load \| \d+% \|", text)
    assert "| load 10,000,000 treatments + follow-ups, with validation | <= 3.0x DuckDB's read | not run here" in text
    assert "| peak memory, load of 2,000 | < 1536 MB |" in text
    assert re.search(r"\| load 2,000 treatments \+ follow-ups, with validation \| <= 2.0x", text)
