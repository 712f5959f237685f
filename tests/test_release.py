"""Exports that leave the clinic: --release suppresses small cells; the record export is re-keyed per export."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from pipelines import record_export
from pipelines.__main__ import main
from pipelines.metrics import Filters

AS_OF = ["--as-of", "2024-06-30"]


def run(metrics_db, tmp_path, *args, name="out.csv"):
    out = tmp_path / name
    code = main(["export", *args, "-o", str(out), "--db", str(metrics_db)])
    return code, out


def test_release_of_rates_suppresses_and_marks(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "correction", "--period", "quarter", "--release",
                    *AS_OF)
    assert code == 0
    prov = [line for line in out.read_text().splitlines() if line.startswith("# suppression")]
    assert prov == ["# suppression: numerators 1-4 and denominators under 10 hidden, with complementary suppression"]
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    assert "eligible_n" not in frame.columns and "suppression" in frame.columns
    # primary sessions by quarter: Q4-2023 1, Q1-2024 11 (1 corrected), Q2-2024 2 closed
    assert list(frame.period_start) == ["2023-10-01", "2024-01-01", "2024-04-01"]
    assert list(frame.denominator_n) == ["suppressed", "11", "suppressed"]
    assert list(frame.numerator_n) == ["suppressed"] * 3 and list(frame.rate) == ["suppressed"] * 3
    assert list(frame.suppression) == ["denominator < 10", "numerator 1-4", "denominator < 10"]


def test_release_keeps_large_cells(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "bruising", "--period", "all", "--release",
                    "--min-denominator", "5", "--min-numerator", "1", *AS_OF)
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    assert list(frame.numerator_n) == ["1"] and list(frame.denominator_n) == ["8"]


def test_session_level_exports_cannot_be_released(metrics_db, tmp_path, capsys):
    code, _ = run(metrics_db, tmp_path, "cusum", "--outcome", "ptosis", "--release", *AS_OF)
    assert code == 1
    assert "a cusum export holds one row per session and cannot be released" in capsys.readouterr().err


def test_record_export_rekeys_per_export(metrics_db, tmp_path):
    code, first = run(metrics_db, tmp_path, "records", *AS_OF, name="a.csv")
    code, second = run(metrics_db, tmp_path, "records", *AS_OF, name="b.csv")
    a = pd.read_csv(first, comment="#")
    b = pd.read_csv(second, comment="#")
    assert len(a) == len(b) == 16
    text = first.read_text()
    cells = set(a.astype(str).to_numpy().ravel())
    assert cells.isdisjoint({"p01", "p13", "S01", "S14"})  # no clinic reference leaves
    assert set(a.patient_key).isdisjoint(set(b.patient_key))  # two exports cannot be linked
    assert a.patient_key.str.fullmatch(r"P[0-9a-f]{16}").all() and a.session_key.str.fullmatch(r"S[0-9a-f]{16}").all()
    # within one export the same patient keeps one key: p02 had S02 and S03, p13 had S13 and S14
    assert a.patient_key.nunique() == 14
    assert "# pseudonymisation: patient and session references re-keyed with HMAC-SHA256" in text
    row = a[a.treated_on == "2024-02-01"]
    assert set(row.columns) >= {"clinician", "indication", "insufficient_effect__in_numerator"}


def test_rekey_is_hmac_sha256():
    import hashlib
    import hmac

    key = b"k" * 32
    out = record_export.rekey(pd.Series(["p01", "p01", "p02"]), key, "P")
    assert out[0] == out[1] != out[2]
    assert out[0] == "P" + hmac.new(key, b"p01", hashlib.sha256).hexdigest()[:16]


def test_records_counts_match_the_rates(metrics_con):
    frame = record_export.records(metrics_con, as_of=dt.date(2024, 6, 30))
    assert frame["insufficient_effect__in_denominator"].sum() == 6
    assert frame["insufficient_effect__in_numerator"].sum() == 2


@pytest.mark.parametrize("args, message", [
    (["records", "--outcome", "ptosis"], "export records takes no --outcome"),
    (["records", "--release"], "export records is pseudonymised per export already"),
])
def test_records_option_errors(metrics_db, tmp_path, capsys, args, message):
    code, _ = run(metrics_db, tmp_path, *args)
    assert code == 1 and message in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# the dashboard's release and record files are the CLI's
# --------------------------------------------------------------------------------------------------------------


def _data_lines(body: bytes) -> list[str]:
    return [line for line in body.decode("utf-8").splitlines()
            if not line.startswith(("# generated_at", "# generated_by", "# database"))]


@pytest.mark.parametrize("kind, args, kwargs, rule", [
    ("rates", ["--outcome", "correction", "--period", "quarter"], {"period": "quarter"}, (5, 10)),
    ("rates", ["--outcome", "bruising", "--by", "clinician", "--period", "quarter"],
     {"by": "clinician", "period": "quarter"}, (2, 3)),
    ("funnel", ["--outcome", "insufficient_effect"], {}, (5, 10)),
    ("spc", ["--outcome", "correction", "--period", "month"], {"period": "month"}, (3, 4)),
    ("costs", ["--by", "clinician"], {"by": "clinician"}, (5, 10)),
])
def test_dashboard_release_equals_cli_release(metrics_db, metrics_con, tmp_path, kind, args, kwargs, rule):
    from dashboard import data
    from pipelines import disclosure

    code, out = run(metrics_db, tmp_path, kind, *args, "--release", "--min-numerator", str(rule[0]),
                    "--min-denominator", str(rule[1]), *AS_OF)
    assert code == 0
    body, rows = data.export_csv(metrics_con, kind, None if kind == "costs" else args[1], filters=Filters(),
                                 as_of=dt.date(2024, 6, 30), release=disclosure.Rule(*rule),
                                 generated_by="revisor@klinikk.no", **kwargs)
    assert _data_lines(body) == _data_lines(out.read_bytes())
    assert "# generated_by: revisor@klinikk.no" in body.decode("utf-8").splitlines()
    assert rows == len(pd.read_csv(out, comment="#"))


def test_dashboard_cusum_is_never_a_release(metrics_con):
    from dashboard import data
    from pipelines import disclosure, export

    with pytest.raises(export.NotForRelease, match="one row per session"):
        data.export_csv(metrics_con, "cusum", "ptosis", filters=Filters(), as_of=dt.date(2024, 6, 30),
                        release=disclosure.Rule())


def test_dashboard_internal_files_say_so(metrics_con):
    from dashboard import data

    body, _ = data.export_csv(metrics_con, "rates", "ptosis", filters=Filters(), as_of=dt.date(2024, 6, 30),
                              internal=True)
    assert "# release: internal: small cells not suppressed; not for use outside the clinic" in body.decode().splitlines()


def test_dashboard_records_equal_the_cli_but_for_the_keys(metrics_db, metrics_con, tmp_path):
    from dashboard import data

    code, out = run(metrics_db, tmp_path, "records", *AS_OF)
    body, rows = data.export_csv(metrics_con, "records", None, filters=Filters(), as_of=dt.date(2024, 6, 30),
                                 generated_by="revisor@klinikk.no")
    assert [line for line in _data_lines(body) if line.startswith("#")] == \
        [line for line in _data_lines(out.read_bytes()) if line.startswith("#")]
    ours = pd.read_csv(io.StringIO(body.decode("utf-8")), comment="#")
    cli = pd.read_csv(out, comment="#")
    assert rows == len(ours) == len(cli) == 16
    assert ours.drop(columns=["patient_key", "session_key"]).equals(cli.drop(columns=["patient_key", "session_key"]))
    assert set(ours.patient_key).isdisjoint(cli.patient_key)


def test_record_count_equals_the_records(metrics_con):
    from pipelines.metrics import Filters

    for f in (Filters(), Filters(clinicians=("B02",)), Filters(areas=("forehead",))):
        assert record_export.record_count(metrics_con, filters=f, as_of=dt.date(2024, 6, 30)) == len(
            record_export.records(metrics_con, filters=f, as_of=dt.date(2024, 6, 30)))
