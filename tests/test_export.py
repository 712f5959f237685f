"""`python -m pipelines export`: the public columns, values on the hand-made fixture, provenance, safety, Excel."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.__main__ import main
from pipelines.metrics import analysis
from pipelines.release.export import neutralise, to_csv_text

AS_OF = ["--as-of", "2024-06-30"]


def run(metrics_db, tmp_path, *args, name="out.csv"):
    out = tmp_path / name
    code = main(["export", *args, "-o", str(out), "--db", str(metrics_db)])
    return code, out


def read(path, **kw):
    return pd.read_csv(path, comment="#", **kw)


def test_rates_columns_and_values(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "ptosis", "--by", "clinician", *AS_OF)
    assert code == 0
    frame = read(out)
    assert list(frame.columns[:8]) == ["clinician", "period_start", "numerator_n", "denominator_n", "rate", "ci_low",
                                       "ci_high", "followup_completeness"]
    march = frame[(frame.clinician == "A01") & (frame.period_start == "2024-03-01")].iloc[0]
    # A01 upper-face sessions in March: S01 S02 S03; followed up S01 S02; eyelid ptosis at S01
    assert (march.numerator_n, march.denominator_n, march.rate) == (1, 2, 0.5)
    assert march.followup_completeness == pytest.approx(2 / 3)


def test_rates_whole_period_and_date_range(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "insufficient_effect", "--period", "all",
                    "--from", "2024-03-01", "--to", "2024-04-30", *AS_OF)
    frame = read(out)
    assert len(frame) == 1
    # primary cosmetic S01 S02 S04 S05 S15 S16 (March-April); followed up S01 S02 S15 S16; event S02
    assert (frame.period_start[0], frame.numerator_n[0], frame.denominator_n[0]) == ("2024-03-01", 1, 4)


def test_funnel_columns(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "funnel", "--outcome", "ptosis", "--method", "exact", *AS_OF)
    frame = read(out, keep_default_na=False)
    assert list(frame.columns[:12]) == ["clinician", "numerator_n", "denominator_n", "rate", "target", "lcl_95",
                                        "ucl_95", "lcl_998", "ucl_998", "flag", "phi", "tau2"]
    assert list(frame.clinician) == ["A01", "B02"] and set(frame.flag) <= {"high", "low", ""}
    assert set(frame.method) == {"exact"}
    assert list(frame.columns[-3:]) == ["followup_completeness", "is_low_completeness", "flag_funnelplotr"]


def test_spc_columns(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "spc", "--outcome", "correction", "--chart", "pp", "--rules", "mdc",
                    *AS_OF)
    frame = read(out)
    assert list(frame.columns[:13]) == ["period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl",
                                        "sigma_signal", "runs_signal", "longest_run", "longest_run_max", "crossings",
                                        "crossings_min"]
    assert frame.denominator_n.tolist() == [1, 0, 0, 4, 3, 4, 2]
    # issue 17: which periods were judged, and which have low follow-up, at the end
    assert list(frame.columns[-7:-4]) == ["followup_completeness", "period_closed", "is_low_completeness"]
    # issue 12: the process changes dated in the period, the clinic's target and the two readings, at the very end
    assert list(frame.columns[-4:]) == ["process_change", "target", "variation", "assurance"]
    # as of 30 June every month up to April is closed (30 April + 28 days = 28 May); correction needs no follow-up
    assert frame.period_closed.all() and not frame.is_low_completeness.any()


def test_costs_columns_and_values(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "costs", "--by", "month", *AS_OF)
    frame = read(out)
    assert list(frame.columns[:7]) == ["month", "correction_n", "correction_cost_nok", "primary_n",
                                       "cost_per_100_primary_nok", "revenue_nok", "cost_share"]
    march = frame[frame.month == "2024-03-01"].iloc[0]
    assert (march.correction_n, march.correction_cost_nok, march.primary_n) == (1, 592, 4)
    code, out = run(metrics_db, tmp_path, "costs", "--by", "clinician", "--consumables-nok", "0", *AS_OF,
                    name="c2.csv")
    frame = read(out)
    assert frame.set_index("clinician").loc["A01", "correction_cost_nok"] == 492


@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory) -> Path:
    """A generated year of three clinicians (tests/test_risk_adjustment.py): enough events for a CUSUM."""
    from test_risk_adjustment import generated_clinic

    return generated_clinic(tmp_path_factory.mktemp("export_clinic"))


def test_cusum_columns(clinic_db, tmp_path):
    code, out = run(clinic_db, tmp_path, "cusum", "--outcome", "bruising")
    assert code == 0
    frame = read(out)
    assert list(frame.columns) == ["clinician", "treated_on", "cusum", "threshold", "signal", "outcome", "expected",
                                   "sessions_n", "weight"]
    # one row per session (a point is a session), in chart order: clinician, then treatment day
    assert set(frame.sessions_n) == {1}
    assert list(frame.clinician) == sorted(frame.clinician)
    assert frame.groupby("clinician").treated_on.apply(lambda d: d.is_monotonic_increasing).all()
    lines = out.read_text().splitlines()
    prov = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert prov["updated"].startswith("once per session, in treatment order")


def test_the_cusum_chart_can_be_recomputed_from_the_file(clinic_db, tmp_path):
    code, out = run(clinic_db, tmp_path, "cusum", "--outcome", "bruising")
    frame = read(out)
    assert frame.signal.any()
    for _, rows in frame.groupby("clinician", sort=False):
        s, path, signal = 0.0, [], []
        for weight, threshold in zip(rows.weight, rows.threshold, strict=True):
            s = max(0.0, s + weight)
            path.append(s)
            signal.append(s >= threshold)
            if s >= threshold:  # the chart restarts from 0 after a signal
                s = 0.0
        assert path == pytest.approx(list(rows.cusum), rel=1e-9, abs=1e-12)
        assert signal == list(rows.signal)
        # and the weight is the session's: y ln 2 - ln(1 - p + 2 p)
        assert list(rows.weight) == pytest.approx(list(rows.outcome * np.log(2) - np.log(1 + rows.expected)),
                                                  rel=1e-9)


def test_oe_columns_and_values(clinic_db, tmp_path):
    code, out = run(clinic_db, tmp_path, "oe", "--outcome", "bruising")
    assert code == 0
    frame = read(out, keep_default_na=False)
    assert list(frame.columns[:7]) == ["clinician", "observed_n", "expected_n", "oe_ratio", "ci_low", "ci_high",
                                       "flag"]
    assert list(frame.clinician) == ["A01", "B02", "C03"] and set(frame.flag) <= {"high", "low", ""}
    con = duckdb.connect(str(clinic_db), read_only=True)
    cm, _ = analysis.case_mix(con, "bruising")
    con.close()
    assert list(frame.observed_n) == list(cm.observed_n)
    assert list(frame.expected_n) == pytest.approx(list(cm.expected_n), rel=1e-12)
    assert list(frame.ci_low) == pytest.approx(list(cm.oe_low), rel=1e-12)
    # filtered to one clinician: that clinician's row, unchanged
    code, out = run(clinic_db, tmp_path, "oe", "--outcome", "bruising", "--clinician", "b02", name="b.csv")
    one = read(out, keep_default_na=False)
    pd.testing.assert_frame_equal(one, frame[frame.clinician == "B02"].reset_index(drop=True))
    prov = dict(line[2:].split(": ", 1) for line in out.read_text().splitlines() if line.startswith("# "))
    assert prov["export"] == "oe" and "leave-one-out" in prov["expected"]
    assert prov["left_out_of_reference"].startswith("none")


def test_oe_is_never_a_release(clinic_db, tmp_path, capsys):
    code, out = run(clinic_db, tmp_path, "oe", "--outcome", "bruising", "--release", "--from", "2024-01-01",
                    "--to", "2024-12-31")
    assert code != 0 and not out.exists()
    assert "an oe export cannot be released" in capsys.readouterr().err


def test_provenance_lines(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "funnel", "--outcome", "ptosis", "--clinician", "a01", *AS_OF)
    lines = out.read_text().splitlines()
    prov = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert prov["export"] == "funnel"
    assert prov["outcome"] == "ptosis (Ptosis (eyelid or brow))"
    assert prov["as_of"] == "2024-06-30"
    assert prov["filters"] == "clinicians = A01"
    assert prov["method"] == "arcsine" and prov["overdispersion"] == "auto"
    assert prov["snapshot_version"] == "1"
    assert {"generated_at", "generated_by", "eligible", "window"} <= set(prov)
    assert "database" not in prov and str(metrics_db.parent) not in "\n".join(lines)  # no path: the version
    header = [line for line in lines if not line.startswith("#")][0]
    assert header.startswith("clinician,numerator_n")


def test_excel_dialect(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "insufficient_effect", "--period", "all", "--excel",
                    *AS_OF)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header = [line for line in text.splitlines() if not line.startswith("#")][0]
    # --excel writes Norwegian headers unless --lang en (pipelines/release/cli.py export_lang)
    assert header.startswith("periodestart;teller;nevner;andel;")
    frame = pd.read_csv(io.StringIO(text), comment="#", sep=";", decimal=",")
    assert frame.andel[0] == pytest.approx(round(2 / 6, 6))
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "insufficient_effect", "--period", "all", "--excel",
                    "--lang", "en", *AS_OF)
    text = out.read_bytes().decode("utf-8-sig")
    header = [line for line in text.splitlines() if not line.startswith("#")][0]
    assert header.startswith("period_start;numerator_n;denominator_n;rate;")


@pytest.mark.parametrize("value, expected", [("=1+2", "'=1+2"), ("+47", "'+47"), ("-cmd", "'-cmd"),
                                             ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                                             ("C01", "C01"), (-5, -5), (0.5, 0.5)])
def test_formula_cells_are_neutralised(value, expected):
    assert neutralise(value) == expected


def test_text_cells_in_a_csv_are_neutralised_but_numbers_are_not():
    text = to_csv_text(pd.DataFrame({"clinician": ["=HYPERLINK(\"x\")", "C01"], "rate": [-0.5, 0.25]}), {})
    assert text.splitlines() == ["clinician,rate", "\"'=HYPERLINK(\"\"x\"\")\",-0.5", "C01,0.25"]


@pytest.mark.parametrize("args, message", [
    (["rates"], "export rates needs --outcome KEY"),
    (["rates", "--outcome", "nope"], "unknown outcome `nope`"),
    (["rates", "--outcome", "ptosis", "--by", "month"], "--by for rates must be one of: clinician, indication"),
    (["costs", "--by", "area"], "--by for costs must be one of: month, clinician, product"),
    (["funnel", "--outcome", "ptosis", "--by", "area"], "--by for funnel must be one of: clinician, lot, product"),
    (["spc", "--outcome", "ptosis", "--by", "lot"], "export spc takes no --by"),
    (["costs", "--outcome", "ptosis"], "export costs takes no --outcome"),
])
def test_option_errors_are_one_line(metrics_db, tmp_path, capsys, args, message):
    code, _ = run(metrics_db, tmp_path, *args)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_missing_database(tmp_path, capsys):
    code = main(["export", "costs", "-o", str(tmp_path / "x.csv"), "--db", str(tmp_path / "none.duckdb")])
    assert code == 1
    assert "no database at" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# security issue 10, part 9: formula starts, provenance lines, -o
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["  =1+1", " +47", "   -cmd", " @SUM(A1)", "\n=1", "\r\n=1", "\n\n+1", "\n",
                                   "\u3000=1", "\u00a0=1", "＝1+1", "＋47", "－1", "＠SUM(A1)", " ＝1", "\u2212 1",
                                   "\x0b=1", "\x0c=1"])
def test_formula_starts_behind_blanks_line_breaks_and_full_width_signs_are_neutralised(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["C01", "a = b", "glabella|forehead", "1+1", "", " text", "x\n=1"])
def test_text_that_is_no_formula_is_left_alone(value):
    assert neutralise(value) == value


HOSTILE = ['C01,=HYPERLINK("http://evil.example")', "C02;=1+1", 'C03"x', "C04\n=cmd", "C05\r\n@SUM(A1)",
           "C06\u2028+1", "C07 / from 1900-01-01", "C08|C09"]


def _provenance_cells(text: str, sep: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    return [r for r in rows if r and r[0].startswith("#")]


@pytest.mark.parametrize("excel", [False, True])
def test_provenance_lines_stay_one_cell_whatever_a_filter_or_user_name_holds(metrics_con, excel):
    """A filter value or a user name with `,` `;` `"` or a line break opened a new spreadsheet cell (or line) in
    the provenance: `# generated_by: x,=HYPERLINK(...)` put a live formula in the second cell."""
    import datetime as dt

    from pipelines.metrics.counting import Filters
    from pipelines.release import export

    filters = Filters(clinicians=tuple(HOSTILE), indications=("cosmetic;=2+2",), areas=('"glabella"',))
    prov = export.provenance(metrics_con, "rates", as_of=dt.date(2024, 6, 30), filters=filters, options={},
                             generated_by='mallory@evil.example,=HYPERLINK("x");"\n=2')
    text = to_csv_text(pd.DataFrame({"clinician": ["C01"], "numerator_n": [1]}), prov, excel=excel)
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith("#")) == len(prov), "no value opened a new line"
    for sep in (",", ";"):
        for cells in _provenance_cells(text, sep):
            key = cells[0][2:].split(":", 1)[0]
            if key in ("filters", "generated_by"):
                assert len(cells) == 1, cells  # one cell, starting with "#": nothing a spreadsheet would run
    got = {line[2:].split(": ", 1)[0]: line[2:].split(": ", 1)[1] for line in lines if line.startswith("# ")}
    assert got["generated_by"] == "mallory@evil.example%2C=HYPERLINK(%22x%22)%3B%22%0A=2"
    assert got["filters"].startswith("clinicians = C01%2C=HYPERLINK(%22http:%2F%2Fevil.example%22)|C02%3B=1+1|C03%22x|"
                                     "C04%0A=cmd|C05%0D%0A@SUM(A1)|C06%E2%80%A8+1|C07 %2F from 1900-01-01|C08%7CC09")
    assert got["filters"].endswith(" / indications = cosmetic%3B=2+2 / areas = %22glabella%22")
    # the data still read back under the provenance lines
    frame = pd.read_csv(io.StringIO(text), comment="#", sep=";" if excel else ",")
    assert list(frame.columns) == ["clinician", "numerator_n"] and len(frame) == 1


def test_the_cli_escapes_a_hostile_clinician_filter(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "costs", "--clinician", 'a01,=HYPERLINK("x")', *AS_OF)
    assert code == 0
    text = out.read_text()
    [line] = [line for line in text.splitlines() if line.startswith("# filters:")]
    assert line == "# filters: clinicians = A01%2C=HYPERLINK(%22X%22)"
    assert [len(r) for r in _provenance_cells(text, ",") if r[0].startswith("# filters")] == [1]


def _clinic_copy(metrics_db, tmp_path) -> Path:
    """A private copy of the fixture database with a kept snapshot, a working file and an access log."""
    target = tmp_path / "data"
    target.mkdir()
    for f in metrics_db.parent.iterdir():
        if f.is_dir():
            shutil.copytree(f, target / f.name)
        else:
            shutil.copy2(f, target / f.name)
    from pipelines.release import access

    access.append(target / "clinic.access.jsonl", access.Entry("admin@klinikk.no", "admin", "sign_in", "dashboard"))
    return target / "clinic.duckdb"


def _fingerprints(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", ["clinic.duckdb", "clinic.work.duckdb", "clinic.snapshots/clinic-v000001.duckdb",
                                    "clinic.access.jsonl", "clinic.access.jsonl.key", "clinic.snapshots/new.csv",
                                    "sub/../clinic.duckdb", "link-to-db.csv", "link-to-log.csv", "hardlink.csv",
                                    "clinic.snapshots"])
def test_output_never_overwrites_the_clinics_own_files(metrics_db, tmp_path, capsys, monkeypatch, target):
    monkeypatch.delenv("CLINIC_ACCESS_LOG", raising=False)
    db = _clinic_copy(metrics_db, tmp_path)
    folder = db.parent
    (folder / "sub").mkdir()
    (folder / "link-to-db.csv").symlink_to(db)
    (folder / "link-to-log.csv").symlink_to(folder / "clinic.access.jsonl")
    os.link(folder / "clinic.work.duckdb", folder / "hardlink.csv")
    before = _fingerprints(folder)
    code = main(["export", "costs", "-o", str(folder / target), "--db", str(db), *AS_OF])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: -o ") and "write the export somewhere else" in err, err
    assert _fingerprints(folder) == before, "nothing was written"


def test_output_elsewhere_is_written(metrics_db, tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_ACCESS_LOG", raising=False)
    db = _clinic_copy(metrics_db, tmp_path)
    out = tmp_path / "exports" / "clinic.costs.csv"
    assert main(["export", "costs", "-o", str(out), "--db", str(db), *AS_OF]) == 0
    assert out.read_text().startswith("# export: costs")


def test_signals_export_lists_episodes_with_the_issues_columns(tmp_path):
    """`export signals`: one row per episode of the overview's list (issue 17), on an in-control clinic with a
    tripled eyelid-ptosis rate planted for one clinician."""
    import datetime as dt

    from pipelines.demo.in_control import Excess, write_in_control
    from pipelines.ingest.load import load_files

    end = dt.date(2025, 6, 30)
    db = tmp_path / "db" / "clinic.duckdb"
    load_files(write_in_control(tmp_path / "files", seed=1, months=24, end=end,
                                excess=Excess("C03", "eyelid_ptosis", 3.0, dt.date(2024, 7, 1))),
               db, today=end + dt.timedelta(days=1), progress=False)
    code, out = run(db, tmp_path, "signals", "--as-of", end.isoformat())
    assert code == 0
    frame = read(out, keep_default_na=False, dtype=str)
    assert list(frame.columns[:8]) == ["kind", "rule", "outcome", "clinician", "direction", "concern", "first_date",
                                       "last_date"]
    assert set(frame["kind"]) <= {"spc", "funnel", "cusum"} and set(frame["direction"]) <= {"high", "low", ""}
    assert set(frame["concern"]) <= {"true", "false"}
    assert all(dt.date.fromisoformat(a) <= dt.date.fromisoformat(b)
               for a, b in zip(frame["first_date"], frame["last_date"]))
    assert (frame["clinician"] == "").equals(frame["kind"] == "spc")  # the clinic as a whole: no clinician
    planted = frame[(frame["clinician"] == "C03") & (frame["outcome"] == "eyelid_ptosis")]
    assert "cusum" in set(planted["kind"]) and set(planted["concern"]) == {"true"}
    text = out.read_text(encoding="utf-8")
    assert "# budget: at most 12 concerning episodes in 36 months" in text


def test_signals_export_is_never_a_release(metrics_db, tmp_path):
    code, _ = run(metrics_db, tmp_path, "signals", "--release", "--from", "2024-01-01", "--to", "2024-03-31")
    assert code == 1
