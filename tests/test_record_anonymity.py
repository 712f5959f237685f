"""The record export is k-anonymous (security issue 10, part 6): 99.9 % of sessions were unique on date,
clinician, indication, areas, product, units, age band and sex, and two exports joined on those columns linked every
row. Now every row shares them with at least 4 others (k = 5), rows are shuffled, and the provenance says so."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd
import pytest
from release_data import make_release_db

from pipelines.__main__ import main
from pipelines.demo.build import run_demo
from pipelines.metrics import counting
from pipelines.metrics.counting import Filters
from pipelines.release import records

QI = ["treated_on", "clinician", "indication", "areas", "product", "units", "age_band", "sex"]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("records") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    return db


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory):
    return make_release_db(tmp_path_factory.mktemp("records_generated"))


def export(db, tmp_path, name, *args):
    out = tmp_path / name
    assert main(["export", "records", "-o", str(out), "--db", str(db), *args]) == 0
    text = out.read_text(encoding="utf-8")
    prov = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    return frame, prov


def session_count(db, *args) -> int:
    """Sessions with these filters before anonymisation."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        f = Filters(*args)
        return len(records._sessions(con, f, counting.default_as_of(con)))
    finally:
        con.close()


@pytest.mark.parametrize("which, args", [
    ("demo", []),
    ("demo", ["--clinician", "C01"]),
    ("demo", ["--from", "2025-01-01", "--to", "2025-06-30", "--indication", "cosmetic"]),
    ("generated", []),
])
def test_every_row_shares_its_quasi_identifiers_with_four_others(demo_db, generated_db, tmp_path, which, args):
    db = demo_db if which == "demo" else generated_db
    frame, prov = export(db, tmp_path, "records.csv", *args)
    assert len(frame) > 100
    sizes = frame.groupby(QI, dropna=False).size()
    assert sizes.min() >= 5, sizes[sizes < 5].head()
    # generalised: no treatment date, only a month (or coarser); units in bands, never a dose
    assert not frame.treated_on.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()
    assert frame.treated_on.str.fullmatch(r"\d{4}(-\d{2}|-Q[1-4])?|suppressed").all()
    assert frame.units.str.fullmatch(r"\d+-\d+|\d+\+|suppressed").all()
    # the provenance states k, what was generalised and what was suppressed or left out, and it adds up
    assert prov["k_anonymity"].startswith("k = 5: every row shares treated_on, clinician, indication, areas, "
                                          "product, units, age_band, sex with at least 4 other rows")
    assert "treated_on to " in prov["generalised"] and "units to " in prov["generalised"]
    left_out = re.fullmatch(r"(\d+) of (\d+) sessions .*", prov["rows_left_out"])
    assert int(left_out[2]) == session_count(db, *_filters(args))
    assert int(left_out[2]) - int(left_out[1]) == len(frame)
    stated = dict(re.findall(r"(\w+) (\d+) cells", prov["locally_suppressed"]))
    generalised_away = re.findall(r"(\w+) to suppressed in every row", prov["generalised"])
    for column in QI:
        if column not in generalised_away:
            assert int(stated.get(column, 0)) == int((frame[column] == "suppressed").sum()), column
    assert prov["row_order"].startswith("shuffled")


def _filters(args):
    """The Filters positional arguments of a CLI argument list (as parsed by pipelines/__main__.py)."""
    values = dict(zip(args[::2], args[1::2], strict=True))
    date = dt.date.fromisoformat
    return (date(values["--from"]) if "--from" in values else None,
            date(values["--to"]) if "--to" in values else None,
            (values["--clinician"],) if "--clinician" in values else (),
            (values["--indication"],) if "--indication" in values else ())


def test_two_exports_do_not_link(demo_db, tmp_path):
    """The old attack: join two exports on the quasi-identifiers. Every row now matches at least 5 rows of the
    other file (its own twin among them), so no row links to one; and the order of the rows differs."""
    first, _ = export(demo_db, tmp_path, "a.csv")
    second, _ = export(demo_db, tmp_path, "b.csv")
    matches = first[QI].merge(second[QI].value_counts().rename("n").reset_index(), on=QI, how="left")
    assert matches["n"].min() >= 5
    assert set(first.patient_key).isdisjoint(second.patient_key)
    flags = [c for c in first.columns if c.endswith("__in_numerator")]
    as_rows = lambda f: [tuple(r) for r in f[QI + flags].to_numpy()]  # noqa: E731
    assert as_rows(first) != as_rows(second), "rows are shuffled in every export"
    assert sorted(as_rows(first)) == sorted(as_rows(second)), "the same rows, in another order"


def test_rows_are_not_in_treatment_order(generated_db, tmp_path):
    frame, _ = export(generated_db, tmp_path, "records.csv")
    months = list(frame.treated_on)
    assert months != sorted(months)
