"""pipelines/metrics/signals.py (signal list, batched frames, case review), pipelines/metrics/responses.py, pipelines/metrics/lookups.py
and the dashboard's CSV builder (dashboard/data.py export_csv against the CLI)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from pipelines import stats
from pipelines.demo.build import run_demo
from pipelines.ingest import store
from pipelines.metrics import analysis, counting, lookups, registry, responses, signals
from pipelines.metrics.counting import Filters

END = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("signals") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture
def con(demo_db):
    c = duckdb.connect(str(demo_db), read_only=True)
    yield c
    c.close()


# --------------------------------------------------------------------------------------------------------------
# batched frames equal the per-outcome analysis functions
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", [Filters(), Filters(clinicians=("C01", "C02")),
                                     Filters(date_from=dt.date(2025, 1, 1), areas=("glabella",))])
def test_spc_frames_equal_analysis_spc(con, filters):
    frames = signals.spc_frames(con, filters=filters)
    assert set(frames) == set(registry.OUTCOMES_BY_KEY)
    for key in ("insufficient_effect", "ptosis", "bruising", "headache_non_response", "allergic_reaction"):
        expected = analysis.spc(con, key, filters=filters)
        pd.testing.assert_frame_equal(frames[key].reset_index(drop=True), expected.reset_index(drop=True))


def test_spc_frames_pass_chart_and_rules(con):
    frames = signals.spc_frames(con, ["correction"], chart="pp", rules="mdc", period="quarter")
    expected = analysis.spc(con, "correction", chart="pp", rules="mdc", period="quarter")
    pd.testing.assert_frame_equal(frames["correction"].reset_index(drop=True), expected.reset_index(drop=True))


@pytest.mark.parametrize("method", analysis.FUNNEL_METHODS)
def test_funnel_frames_equal_analysis_funnel(con, method):
    frames = signals.funnel_frames(con, ["insufficient_effect", "bruising", "correction"], method=method)
    for key, (frame, info) in frames.items():
        expected, expected_info = analysis.funnel(con, key, method=method)
        pd.testing.assert_frame_equal(frame, expected)
        assert info == expected_info


def test_funnel_without_events_is_empty_not_an_error(con):
    # a filter where an outcome has no event: analysis.funnel needs a target strictly between 0 and 1
    f = Filters(clinicians=("C08",), date_from=dt.date(2026, 1, 1))
    counted = counting.counts(con, "allergic_reaction", by="clinician", filters=f)
    assert counted["numerator_n"].sum() == 0
    frame, info = signals.funnel(con, "allergic_reaction", filters=f)
    assert frame.empty and np.isnan(info["target"])


def test_cusum_wrapper_reports_why_it_is_empty(con):
    frame, reason = signals.cusum(con, "insufficient_effect")
    assert reason == "" and not frame.empty
    pd.testing.assert_frame_equal(frame, analysis.cusum(con, "insufficient_effect"))
    empty, reason = signals.cusum(con, "insufficient_effect", filters=Filters(clinicians=("nobody",)))
    assert empty.empty and reason == "no_events"


# --------------------------------------------------------------------------------------------------------------
# signals from frames, on series small enough to check by hand
# --------------------------------------------------------------------------------------------------------------


def _spc_frame(events, n, start=dt.date(2025, 1, 1)) -> pd.DataFrame:
    periods = pd.date_range(start, periods=len(events), freq="MS").date
    counts = pd.DataFrame({"period_start": periods, "eligible_n": n, "followed_up_n": n, "event_n": events,
                           "awaiting_n": 0, "numerator_n": events, "denominator_n": n})
    return analysis.spc_from_counts(counts)


def test_sigma_signal_is_listed_with_its_limit():
    frame = _spc_frame([5, 4, 6, 5, 5, 30, 5, 4, 6, 5], [100] * 10)
    out = signals.spc_signals({"bruising": frame})
    sigma = out[out["rule"] == "sigma"]
    assert len(sigma) == 1
    row = sigma.iloc[0]
    assert row["period"] == dt.date(2025, 6, 1) and row["direction"] == "high" and bool(row["concern"])
    assert row["value"] == pytest.approx(0.30) and row["numerator_n"] == 30 and row["denominator_n"] == 100
    assert row["limit"] == pytest.approx(frame.loc[5, "ucl"])
    assert row["value"] > row["limit"]


def test_longest_run_is_located():
    # 12 points: 9 below the centre line then 3 far above (the run rule: longest run 9 > round(log2 12) + 3 = 7)
    rate = pd.Series([0.1] * 9 + [0.5] * 3)
    cl = pd.Series([0.2] * 12)
    assert signals.longest_run(rate, cl) == (9, 0, 8, "low")
    # points on the centre line are skipped, not run-breaking
    assert signals.longest_run(pd.Series([0.3, 0.2, 0.3, 0.3]), pd.Series([0.2] * 4)) == (3, 0, 3, "high")


def test_runs_signal_is_one_entry_at_the_end_of_the_longest_run():
    events = [2] * 9 + [20] * 3
    frame = _spc_frame(events, [100] * 12)
    assert bool(frame["runs_signal"].iloc[0])
    out = signals.spc_signals({"bruising": frame})
    runs = out[out["rule"] == "runs_longest"]
    assert len(runs) == 1
    r = runs.iloc[0]
    assert r["detail_a"] == 9 and r["limit"] == 7
    assert r["run_start"] == dt.date(2025, 1, 1) and r["period"] == dt.date(2025, 9, 1)
    assert r["direction"] == "low" and not bool(r["concern"])  # fewer bruises than the centre line: improving


def test_runs_of_a_rare_event_are_marked_rare():
    rare = signals.spc_signals({"infection": _spc_frame([0] * 10 + [1, 1], [20] * 12)})
    common = signals.spc_signals({"bruising": _spc_frame([2] * 9 + [20] * 3, [100] * 12)})
    assert list(rare.loc[rare["rule"] == "runs_longest", "detail_b"]) == ["rare"]
    assert list(common.loc[common["rule"] == "runs_longest", "detail_b"]) == [None]


def test_mdc_reading_of_the_latest_point_is_listed():
    frame = _spc_frame([5] * 11 + [40], [100] * 12)
    out = signals.spc_signals({"ptosis": frame})
    mdc = out[out["rule"].str.startswith("mdc_")]
    assert list(mdc["rule"]) == ["mdc_astronomical"]
    assert mdc.iloc[0]["period"] == dt.date(2025, 12, 1)
    assert stats.variation_reading(frame) == "special_cause_concerning"


def test_funnel_and_cusum_signals_and_newest_first():
    funnel = pd.DataFrame({"clinician": ["A", "B", "C"], "numerator_n": [1, 30, 10], "denominator_n": [100, 100, 100],
                           "rate": [0.01, 0.30, 0.10], "target": 0.1, "lcl_998": [0.03] * 3, "ucl_998": [0.2] * 3,
                           "flag": ["low", "high", ""]})
    f = signals.funnel_signals({"correction": (funnel, {})}, dt.date(2026, 6, 30))
    assert list(f["clinician"]) == ["A", "B"] and list(f["direction"]) == ["low", "high"]
    assert list(f["concern"]) == [False, True] and list(f["limit"]) == [0.03, 0.2]
    cus = pd.DataFrame({"clinician": ["A", "A", "B"], "treated_on": [dt.date(2026, 1, 5), dt.date(2026, 3, 1),
                                                                     dt.date(2026, 2, 1)],
                        "cusum": [3.5, 1.0, 4.0], "threshold": [3.2, 3.2, 3.1], "signal": [True, False, True]})
    c = signals.cusum_signals({"ptosis": cus})
    assert len(c) == 2 and set(c["clinician"]) == {"A", "B"}
    spc = signals.spc_signals({"bruising": _spc_frame([5, 4, 6, 5, 5, 30, 5, 4, 6, 5], [100] * 10)})
    out = signals.collect(spc, f, c)
    assert list(out["on"]) == sorted(out["on"], reverse=True)
    assert out.iloc[0]["kind"] == "funnel" and out.iloc[-1]["on"] == dt.date(2025, 6, 1)
    assert signals.collect().empty


def test_signals_on_the_demo_are_consistent_with_the_charts(con):
    keys = ["insufficient_effect", "correction", "ptosis", "bruising", "double_vision", "infection"]
    out = signals.signals(con, keys)
    assert set(out["outcome"]) <= set(keys)
    assert set(out["kind"]) <= set(signals.KINDS) and not out.empty
    assert list(out["on"]) == sorted(out["on"], reverse=True)
    for r in out[out["rule"] == "sigma"].itertuples():
        frame = analysis.spc(con, r.outcome)
        point = frame[frame["period_start"] == r.period].iloc[0]
        assert bool(point["sigma_signal"]) and point["numerator_n"] == r.numerator_n
    for r in out[out["kind"] == "funnel"].itertuples():
        frame, _ = analysis.funnel(con, r.outcome)
        assert frame.set_index("clinician").loc[r.clinician, "flag"] == r.direction
    cusum_rows = out[out["kind"] == "cusum"]
    for key in set(cusum_rows["outcome"]):
        chart = analysis.cusum(con, key)
        assert int(chart["signal"].sum()) == int((cusum_rows["outcome"] == key).sum())


# --------------------------------------------------------------------------------------------------------------
# case review
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["ptosis", "headache_non_response", "correction"])
def test_case_review_pages_through_the_sessions_behind_the_rate(con, key):
    f = Filters(date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 6, 30))
    rows = counting.session_outcomes(con, key, filters=f)
    counted = counting.counts(con, key, filters=f).iloc[0]
    page1, total = signals.case_review(con, key, which="numerator", filters=f, limit=5)
    assert total == counted["numerator_n"] == int(rows["in_numerator"].sum())
    assert len(page1) == min(5, total)
    assert list(page1["treated_on"]) == sorted(page1["treated_on"], reverse=True)
    assert page1["in_numerator"].all()
    everything = pd.concat([signals.case_review(con, key, filters=f, limit=7, offset=o)[0]
                            for o in range(0, total + 7, 7)])
    assert sorted(everything["treatment_id"]) == sorted(rows.loc[rows["in_numerator"], "treatment_id"])
    _, den = signals.case_review(con, key, which="denominator", filters=f, limit=1)
    assert den == counted["denominator_n"]
    lost, lost_n = signals.case_review(con, key, which="lost", filters=f, limit=1000)
    assert lost_n == counted["eligible_n"] - counted["followed_up_n"]
    assert (~lost["followed_up"].astype(bool)).all()
    assert set(page1.columns) >= {"treatment_id", "patient_ref", "contacts_n", "last_contact_day", "last_effect"}
    assert not any(c in page1.columns for c in ("name", "fnr", "phone", "email"))


def test_case_review_past_the_end_and_bad_set(con):
    page, total = signals.case_review(con, "ptosis", limit=10, offset=10**7)
    assert page.empty and total > 0
    with pytest.raises(ValueError, match="which"):
        signals.case_review(con, "ptosis", which="everything")


# --------------------------------------------------------------------------------------------------------------
# headache / sweating change (pipelines/metrics/responses.py) agrees with the registry outcomes
# --------------------------------------------------------------------------------------------------------------


def test_headache_responders_match_the_registry_non_response(con):
    change = responses.headache_change(con, period=None).set_index("indication")
    rates = counting.counts(con, "headache_non_response", by="indication").set_index("indication")
    for ind in ("migraine", "tension_headache"):
        c, r = change.loc[ind], rates.loc[ind]
        assert c["eligible_n"] == r["eligible_n"]
        assert c["measured_n"] == r["followed_up_n"]
        assert c["responders_n"] == r["denominator_n"] - r["numerator_n"]
        assert c["lost_n"] == r["eligible_n"] - r["followed_up_n"]
        assert c["change_low"] < c["change_mean"] < c["change_high"]


def test_headache_change_by_quarter_sums_to_the_total(con):
    total = responses.headache_change(con, period=None)
    by_q = responses.headache_change(con, period="quarter")
    for col in ("eligible_n", "measured_n", "lost_n", "responders_n"):
        assert by_q[col].sum() == total[col].sum()
    with pytest.raises(ValueError):
        responses.headache_change(con, period="decade")


def test_change_distribution_bins_agree_with_the_responder_definition(con):
    dist = responses.headache_change_distribution(con)
    change = responses.headache_change(con, period=None).set_index("indication")
    for ind, part in dist.groupby("indication"):
        assert part.loc[part["responder"], "sessions_n"].sum() == change.loc[ind, "responders_n"]
        assert part.loc[part["bin_start"].isna(), "sessions_n"].sum() == change.loc[ind, "lost_n"]
        assert part["sessions_n"].sum() == change.loc[ind, "eligible_n"]
    binned = dist[dist["bin_start"].notna()]
    assert (binned["bin_start"] >= -100).all() and (binned["bin_end"] <= 100).all()


def test_hdss_change_covers_every_eligible_session(con):
    hdss = responses.hdss_change(con)
    counted = counting.counts(con, "hyperhidrosis_non_response").iloc[0]
    assert hdss["sessions_n"].sum() == counted["eligible_n"]
    assert set(hdss["hdss_drop"].dropna()) <= {-3, -2, -1, 0, 1, 2, 3}


# --------------------------------------------------------------------------------------------------------------
# reference tables and filter values
# --------------------------------------------------------------------------------------------------------------


def test_filter_options_and_session_count(con):
    opts = lookups.filter_options(con)
    assert opts["first_date"] <= opts["last_date"] <= END
    assert "cosmetic" in opts["indications"] and "glabella" in opts["areas"] and "C01" in opts["clinicians"]
    total = con.execute("SELECT count(*) FROM treatments").fetchall()[0][0]
    assert lookups.session_count(con) == total
    c01 = con.execute("SELECT count(*) FROM treatments WHERE clinician = 'C01' AND areas LIKE '%glabella%'"
                      ).fetchall()[0][0]
    assert lookups.session_count(con, Filters(clinicians=("C01",), areas=("glabella",))) == c01
    assert lookups.session_count(con, Filters(clinicians=("'; DROP TABLE treatments; --",))) == 0


def test_reference_tables(con):
    prices = lookups.product_prices(con, as_of=END)
    assert prices.groupby("product")["in_force"].sum().max() == 1
    botox = prices[prices["product"] == "Botox"]
    in_force = botox[botox["in_force"]].iloc[0]
    assert in_force["valid_from"] == max(d for d in botox["valid_from"] if d <= END)
    dysport = prices[prices["product"] == "Dysport"].iloc[0]
    assert dysport["cost_per_botox_unit_nok"] == pytest.approx(dysport["cost_per_unit_nok"] / 0.37)
    costs = lookups.clinician_costs(con)
    assert (costs["cost_per_hour_nok"] == 60 * costs["cost_per_minute_nok"]).all()
    assert list(costs["clinician"]) == sorted(costs["clinician"])


def test_empty_database_reads(tmp_path):
    db = tmp_path / "empty.duckdb"
    c = duckdb.connect(str(db))
    store.init_schema(c)
    c.close()
    c = duckdb.connect(str(db), read_only=True)
    try:
        opts = lookups.filter_options(c)
        assert opts["first_date"] is None and opts["clinicians"] == ()
        assert lookups.session_count(c) == 0
        assert signals.signals(c).empty
        assert responses.headache_change(c).empty
    finally:
        c.close()


# --------------------------------------------------------------------------------------------------------------
# the dashboard's downloads are the CLI's files
# --------------------------------------------------------------------------------------------------------------


def _without_generated(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(("# generated_at", "# generated_by"))]


@pytest.mark.parametrize("kind, args, kwargs, excel", [
    ("rates", ["--outcome", "ptosis", "--by", "clinician", "--period", "quarter"],
     {"by": "clinician", "period": "quarter"}, False),
    ("rates", ["--outcome", "ptosis", "--period", "all"], {"period": "all"}, True),
    ("funnel", ["--outcome", "insufficient_effect", "--method", "exact"], {"method": "exact"}, False),
    ("spc", ["--outcome", "correction", "--chart", "pp", "--rules", "mdc"], {"chart": "pp", "rules": "mdc"}, True),
    ("costs", ["--by", "product", "--consumables-nok", "150"], {"by": "product", "consumables_nok": 150.0}, True),
    ("cusum", ["--outcome", "bruising"], {}, False),
])
def test_dashboard_csv_equals_cli_export(demo_db, tmp_path, kind, args, kwargs, excel):
    from dashboard import data

    out = tmp_path / f"{kind}.csv"
    cmd = [sys.executable, "-m", "pipelines", "export", kind, *args, "--db", str(demo_db), "--output", str(out),
           "--clinician", "C01", "--clinician", "C02", "--from", "2024-06-01"]
    if excel:
        cmd += ["--excel", "--lang", "en"]  # Norwegian Excel's format with English headers, as the function below
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    f = Filters(clinicians=("C01", "C02"), date_from=dt.date(2024, 6, 1))
    c = duckdb.connect(str(demo_db), read_only=True)
    try:
        body, rows = data.export_csv(c, kind, None if kind == "costs" else args[1], filters=f,
                                     as_of=counting.default_as_of(c), excel=excel, db_path_text=str(demo_db), **kwargs)
    finally:
        c.close()
    cli = out.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") == excel == cli.startswith(b"\xef\xbb\xbf")
    encoding = "utf-8-sig" if excel else "utf-8"
    assert _without_generated(body.decode(encoding)) == _without_generated(cli.decode(encoding))
    frame = pd.read_csv(out, comment="#", sep=";" if excel else ",", decimal="," if excel else ".",
                        encoding=encoding)
    assert len(frame) == rows
