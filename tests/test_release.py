"""Exports that leave the clinic: --release suppresses small cells; the record export is re-keyed per export."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from pipelines.__main__ import main
from pipelines.metrics.counting import Filters
from pipelines.release import records

AS_OF = ["--as-of", "2024-06-30"]
Q1 = ["--from", "2024-01-01", "--to", "2024-03-31"]  # a whole quarter; the data reach 2024-06-20


def run(metrics_db, tmp_path, *args, name="out.csv"):
    out = tmp_path / name
    code = main(["export", *args, "-o", str(out), "--db", str(metrics_db)])
    return code, out


def test_release_of_rates_suppresses_rounds_and_marks(metrics_db, tmp_path):
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "correction", "--period", "quarter", "--release",
                    *Q1, *AS_OF)
    assert code == 0
    lines = out.read_text().splitlines()
    assert "# suppression: numerators 1-4 and denominators under 10 hidden, with complementary suppression" in lines
    assert "# release_period: 2024-Q1" in lines and "# as_of: 2024-06-30" in lines
    assert any(line.startswith("# rounding: counts shown rounded to the nearest 5") for line in lines)
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    assert "eligible_n" not in frame.columns and "suppression" in frame.columns
    # primary sessions in Q1 2024: January S07-S10, February S11 S12 S14, March S01 S02 S04 S05 = 11, of which one
    # (S02) was corrected (S03): 1 is hidden, 11 is shown rounded to 10, the rate goes with the numerator
    assert frame.to_dict("records") == [{
        "period_start": "2024-01-01", "numerator_n": "suppressed", "denominator_n": "10", "rate": "suppressed",
        "ci_low": "suppressed", "ci_high": "suppressed", "followup_completeness": "suppressed",
        "metric": "correction", "suppression": "suppressed"}]


def test_rates_in_a_release_come_from_the_rounded_counts(metrics_db, tmp_path):
    # nothing hidden (an administrator's rule), but the counts are still rounded: 1 of 11 is shown as 0 of 10
    code, out = run(metrics_db, tmp_path, "rates", "--outcome", "correction", "--period", "all", "--release",
                    "--min-denominator", "1", "--min-numerator", "1", *Q1, *AS_OF)
    frame = pd.read_csv(out, comment="#", dtype=str, keep_default_na=False)
    r = frame.iloc[0]
    assert (r.numerator_n, r.denominator_n, float(r.rate), r.suppression) == ("0", "10", 0.0, "")
    # Wilson 95 % for 0 of 10: (0, z^2 / (n + z^2)) = (0, 3.8415 / 13.8415)
    assert (float(r.ci_low), float(r.ci_high)) == (0.0, pytest.approx(0.27753, abs=1e-4))
    assert float(r.followup_completeness) == 1.0  # 10 followed up of 10 eligible, both rounded from 11


def test_a_rate_interval_and_completeness_from_rounded_counts():
    from pipelines.release import disclosure, export

    frame = pd.DataFrame([{"period_start": dt.date(2024, 1, 1), "numerator_n": 12, "denominator_n": 48, "rate": 0.25,
                           "ci_low": 0.1, "ci_high": 0.4, "followup_completeness": 48 / 61, "metric": "bruising",
                           "eligible_n": 61, "followed_up_n": 48, "event_n": 12, "awaiting_n": 0,
                           "crude_rate": 12 / 61}])
    out = export.release(frame, "rates", ["period_start"], disclosure.Rule()).iloc[0]
    assert (out.numerator_n, out.denominator_n, out.rate) == (10, 50, 0.2)
    # Wilson 95 % for 10 of 50, by hand: centre (0.2 + 1.96^2/100) / (1 + 1.96^2/50) = 0.22141,
    # half-width 1.96 sqrt(0.2 * 0.8 / 50 + 1.96^2 / 10000) / (1 + 1.96^2/50) = 0.10897
    assert (out.ci_low, out.ci_high) == (pytest.approx(0.11244, abs=1e-4), pytest.approx(0.33037, abs=1e-4))
    assert out.followup_completeness == pytest.approx(50 / 60)  # 48 of 61, both rounded
    assert "eligible_n" not in out.index and "crude_rate" not in out.index


def test_a_funnel_release_keeps_nothing_computed_from_hidden_cells(metrics_db, tmp_path):
    """Attack (a): target, phi and tau2 were computed over every clinician, hidden ones included; with the
    denominators shown they solved for the hidden numerators. Now phi and tau2 are gone and the target and limits
    come from the rounded counts shown."""
    from pipelines import stats
    from pipelines.metrics import analysis
    from pipelines.release import disclosure, export

    counted = pd.DataFrame({"clinician": ["A", "B", "C", "D", "E"], "numerator_n": [3, 7, 12, 20, 31],
                            "denominator_n": [50, 40, 80, 100, 120]})
    for c in ("eligible_n", "followed_up_n", "event_n"):
        counted[c] = counted["denominator_n"]
    internal, _ = analysis.funnel_from_counts(counted)
    out = export.release(internal.reindex(columns=export.FUNNEL_COLUMNS), "funnel", ["clinician"],
                         disclosure.Rule()).set_index("clinician")
    assert "phi" not in out.columns and "tau2" not in out.columns
    # A (3) is hidden, then B (7, the smallest numerator left) so that A cannot be had from the total; C, D and E are
    # shown as 10 of 80, 20 of 100 and 30 of 120: the target is 60 / 300, whatever A and B hold
    assert list(out.numerator_n) == ["suppressed", "suppressed", 10, 20, 30]
    assert list(out.denominator_n) == [50, 40, 80, 100, 120]
    assert set(out.target) == {0.2}
    assert list(out.loc[["C", "D", "E"], "rate"]) == [0.125, 0.2, 0.25]
    limits, _ = stats.funnel_proportions([10, 20, 30], [80, 100, 120])
    for c in ("lcl_95", "ucl_95", "lcl_998", "ucl_998"):
        assert list(out.loc[["C", "D", "E"], c]) == pytest.approx(list(limits[c]))
        assert list(out.loc[["A", "B"], c]) == ["suppressed", "suppressed"]
    code, path = run(metrics_db, tmp_path, "funnel", "--outcome", "bruising", "--release", *Q1, *AS_OF)
    assert code == 0 and {"phi", "tau2"}.isdisjoint(pd.read_csv(path, comment="#").columns)


def test_a_control_chart_release_has_its_centre_line_from_the_shown_points():
    from pipelines.metrics import analysis
    from pipelines.release import disclosure, export

    counted = pd.DataFrame({"period_start": [dt.date(2024, m, 1) for m in (1, 2, 3, 4)],
                            "numerator_n": [3, 12, 20, 31], "denominator_n": [50, 60, 100, 120]})
    for c in ("eligible_n", "followed_up_n", "event_n", "awaiting_n"):
        counted[c] = 0
    internal = analysis.spc_from_counts(counted).reindex(columns=export.SPC_COLUMNS)
    out = export.release(internal, "spc", ["period_start"], disclosure.Rule(), outcome_key="bruising")
    # January (3) is hidden and February (12, the smallest left) with it; March 20 of 100 and April 30 of 120
    # (31 rounded) make the centre line 50 / 220, not the 66 / 330 of every month
    assert list(out.numerator_n) == ["suppressed", "suppressed", 20, 30]
    assert list(out.cl) == pytest.approx([50 / 220] * 4)
    cl = 50 / 220
    assert out.ucl[2] == pytest.approx(cl + 3 * (cl * (1 - cl) / 100) ** 0.5)
    assert list(out.ucl[:2]) == ["suppressed", "suppressed"]


def test_a_cost_release_gives_money_no_more_exact_than_the_counts():
    """An exact cost total divided by the price of one correction would count the corrections: money in a release
    is the rounded count times the cell's average per session, the average rounded to 100 NOK."""
    from pipelines.release import disclosure, export

    frame = pd.DataFrame({"month": [dt.date(2024, m, 1) for m in (1, 2, 3)], "correction_n": [12, 2, 6],
                          "correction_cost_nok": [6180.0, 1000.0, 3000.0], "primary_n": [103, 50, 40],
                          "cost_per_100_primary_nok": [0.0] * 3, "revenue_nok": [200_000.0, 95_000.0, 80_000.0],
                          "cost_share": [0.0] * 3, "product_cost_nok": [3000.0, 500.0, 1500.0],
                          "chair_cost_nok": [1980.0, 300.0, 900.0], "consumables_nok": [1200.0, 200.0, 600.0],
                          "unpriced_n": [1, 0, 0]})
    out = export.release(frame, "costs", ["month"], disclosure.Rule())
    jan = out.iloc[0]
    # 12 corrections -> 10; 6,180 NOK / 12 = 515 -> 500 a correction; 103 primary -> 105; revenue 200,000 / 103 =
    # 1,941.7 -> 1,900 a session; parts 250 -> 300, 165 -> 200, 100 a correction
    assert (jan.correction_n, jan.correction_cost_nok, jan.primary_n, jan.revenue_nok) == (10, 5000, 105, 199_500)
    assert (jan.product_cost_nok, jan.chair_cost_nok, jan.consumables_nok, jan.unpriced_n) == (3000, 2000, 1000, 0)
    assert jan.cost_per_100_primary_nok == pytest.approx(100 * 5000 / 105)
    assert jan.cost_share == pytest.approx(5000 / 199_500)
    # February (2) is hidden, and March (6) with it, or January minus the clinic total would give February; their
    # primary sessions (50, 40) are shown, everything computed from the corrections is not
    assert list(out.primary_n) == [105, 50, 40]
    assert set(out.iloc[1:].drop(columns=["month", "primary_n"]).to_numpy().ravel()) == {"suppressed"}


@pytest.mark.parametrize("args, message", [
    # attack (b): Jan-Mar and Jan-Apr differ by April, every hidden clinician-month of it
    (["rates", "--outcome", "bruising", "--by", "clinician", "--period", "all", "--from", "2024-01-01", "--to",
      "2024-04-30"], "2024-01-01 to 2024-04-30 is not one"),
    # attack (c): one day, one clinician, one patient
    (["rates", "--outcome", "bruising", "--period", "all", "--clinician", "A01", "--from", "2024-03-02", "--to",
      "2024-03-02"], "a release covers one whole calendar month, quarter or year"),
    (["rates", "--outcome", "bruising"], "give both the first and the last day (--from and --to"),
    (["funnel", "--outcome", "bruising", "--from", "2024-03-01"], "give both the first and the last day"),
    (["rates", "--outcome", "bruising", *Q1, "--as-of", "2024-04-15"], "must be the last day of a month"),
    (["rates", "--outcome", "bruising", *Q1, "--as-of", "2024-02-29"], "must be on or after the end of the release"),
    (["rates", "--outcome", "bruising", "--from", "2024-04-01", "--to", "2024-06-30"],
     "the newest month end a release can be counted as of is 2024-05-31"),
    (["rates", "--outcome", "bruising", "--from", "2024-03-01", "--to", "2024-03-31", "--period", "quarter"],
     "rows by quarter are longer than the release period"),
    (["spc", "--outcome", "bruising", *Q1, "--period", "week"], "not by week"),
])
def test_releases_only_for_whole_calendar_periods(metrics_db, tmp_path, capsys, args, message):
    code, out = run(metrics_db, tmp_path, *args, "--release")
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


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
    assert set(a.columns) >= {"treated_on", "clinician", "indication", "insufficient_effect__in_numerator"}


def test_rekey_is_hmac_sha256():
    import hashlib
    import hmac

    key = b"k" * 32
    out = records.rekey(pd.Series(["p01", "p01", "p02"]), key, "P")
    assert out[0] == out[1] != out[2]
    assert out[0] == "P" + hmac.new(key, b"p01", hashlib.sha256).hexdigest()[:16]


def test_records_counts_match_the_rates(metrics_con):
    frame = records.records(metrics_con, as_of=dt.date(2024, 6, 30))
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
    ("rates", ["--outcome", "bruising", "--by", "clinician", "--period", "month"],
     {"by": "clinician", "period": "month"}, (2, 3)),
    ("funnel", ["--outcome", "insufficient_effect"], {}, (5, 10)),
    ("funnel", ["--outcome", "bruising"], {}, (1, 1)),
    ("spc", ["--outcome", "correction", "--period", "month"], {"period": "month"}, (3, 4)),
    ("costs", ["--by", "clinician"], {"by": "clinician"}, (5, 10)),
    ("costs", ["--by", "month"], {"by": "month"}, (1, 1)),
])
def test_dashboard_release_equals_cli_release(metrics_db, metrics_con, tmp_path, kind, args, kwargs, rule):
    from dashboard import data
    from pipelines.release import disclosure

    # both count as of the newest month end in the data (2024-05-31; the newest date is 2024-06-20)
    code, out = run(metrics_db, tmp_path, kind, *args, "--release", "--min-numerator", str(rule[0]),
                    "--min-denominator", str(rule[1]), *Q1)
    assert code == 0
    body, rows = data.export_csv(metrics_con, kind, None if kind == "costs" else args[1],
                                 filters=Filters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 3, 31)),
                                 as_of=dt.date(2024, 6, 20), release=disclosure.Rule(*rule),
                                 generated_by="revisor@klinikk.no", **kwargs)
    assert _data_lines(body) == _data_lines(out.read_bytes())
    assert "# as_of: 2024-05-31" in body.decode("utf-8").splitlines()
    assert "# generated_by: revisor@klinikk.no" in body.decode("utf-8").splitlines()
    assert rows == len(pd.read_csv(out, comment="#"))


def test_dashboard_cusum_is_never_a_release(metrics_con):
    from dashboard import data
    from pipelines.release import disclosure, export

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

    def rows_as_set(frame):  # the rows are shuffled in every file
        return sorted(map(tuple, frame.drop(columns=["patient_key", "session_key"]).astype(str).to_numpy()))

    assert rows_as_set(ours) == rows_as_set(cli)
    assert set(ours.patient_key).isdisjoint(cli.patient_key)


def test_record_count_is_the_sessions_before_k_anonymity(metrics_con):
    from pipelines.metrics.counting import Filters

    for f in (Filters(), Filters(clinicians=("B02",)), Filters(areas=("forehead",))):
        count = records.record_count(metrics_con, filters=f, as_of=dt.date(2024, 6, 30))
        frame, info = records.anonymised(metrics_con, filters=f, as_of=dt.date(2024, 6, 30))
        left_out, of = (int(x) for x in info["rows_left_out"].split(" sessions")[0].split(" of "))
        assert of == count and len(frame) == count - left_out
    # hand-counted: B02 treated S04 S05 S06 S09 S10 S12 S15 S16; the whole fixture has 16 sessions
    assert records.record_count(metrics_con, filters=Filters(clinicians=("B02",)),
                                      as_of=dt.date(2024, 6, 30)) == 8
    assert records.record_count(metrics_con, as_of=dt.date(2024, 6, 30)) == 16
