"""Issue 13, item 5: rare events on a g-chart of the sessions between events.

- the limits are qicharts2's `qic.g` (R/helper.functions.R): from the mean m, sigma = sqrt(m (m + 1)),
  ucl = m + 3 sigma, lcl = m - 3 sigma floored at 0; the centre line drawn is the median, and the Anhoej run rules
  are read against it. Checked point by point against qicharts2's own functions run in R
  (tests/reference_computed: the shared reference set has no g-chart) on the published example, the "Surgeries
  between deaths" values the qicharts2 vignette prints (`head(fatalities)$dd`: NA, 23, 39, 15, 34, 1), on the demo
  clinic's ptosis (with and without a second part) and on two made-up sequences; and worked by hand below;
- `sessions_between` counted by hand on a tiny clinic loaded through the real loader;
- `export spc --chart g` (one row per event, never released) and the dashboard's automatic choice.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import CLINICIANS_CSV, write

from pipelines import stats
from pipelines.__main__ import main
from pipelines.ingest.load import load_files
from pipelines.metrics import analysis

# --------------------------------------------------------------------------------------------------------------
# the statistics
# --------------------------------------------------------------------------------------------------------------


def test_the_vignettes_published_surgeries_between_deaths_by_hand():
    chart = stats.g_chart([23, 39, 15, 34, 1])
    # mean = (23 + 39 + 15 + 34 + 1) / 5 = 112 / 5 = 22.4; sigma = sqrt(22.4 x 23.4) = sqrt(524.16) = 22.89454...
    sigma = math.sqrt(524.16)
    assert sigma == pytest.approx(22.894541, abs=1e-6)
    assert chart["ucl"].tolist() == pytest.approx([22.4 + 3 * sigma] * 5, abs=1e-12)  # 91.08362...
    assert chart["ucl"].iloc[0] == pytest.approx(91.083623, abs=1e-6)
    assert chart["ucl_95"].iloc[0] == pytest.approx(22.4 + 2 * sigma, abs=1e-12)  # 68.18908...
    # 22.4 - 3 x 22.89 < 0 and 22.4 - 2 x 22.89 < 0: both lower limits are 0
    assert chart["lcl"].tolist() == [0.0] * 5 and chart["lcl_95"].tolist() == [0.0] * 5
    # the centre line drawn is the median of 1, 15, 23, 34, 39
    assert chart["cl"].tolist() == [23.0] * 5
    assert not chart["sigma_signal"].any()
    # runs against the median: 23 lies on it (not useful); 39 above, 15 below, 34 above, 1 below: 4 useful points,
    # 4 runs of 1, 3 crossings; limits round(log2(4)) + 3 = 5 and qbinom(0.05, 3, 0.5) = 0 (P(X = 0) = 0.125)
    first = chart.iloc[0]
    assert (first["n_useful"], first["longest_run"], first["crossings"]) == (4, 1, 3)
    assert (first["longest_run_max"], first["crossings_min"]) == (5, 0)
    assert not chart["runs_signal"].any()


def test_a_long_gap_crosses_the_upper_limit():
    chart = stats.g_chart([1, 2, 3, 2, 1, 100])
    # mean = 109 / 6 = 18.1667; sigma = sqrt(18.1667 x 19.1667) = sqrt(348.194) = 18.6600; ucl = 18.1667 + 55.9799 = 74.1466
    assert chart["ucl"].iloc[0] == pytest.approx(109 / 6 + 3 * math.sqrt(109 / 6 * 115 / 6), abs=1e-12)
    assert chart["ucl"].iloc[0] == pytest.approx(74.1466, abs=1e-4)
    assert chart["sigma_signal"].tolist() == [False] * 5 + [True]
    assert chart["cl"].iloc[0] == 2.0  # median of 1, 1, 2, 2, 3, 100


def test_events_coming_closer_together_fire_the_run_rules():
    values = [50] * 9 + [1] * 9  # nine long gaps, then nine short ones
    chart = stats.g_chart(values)
    first = chart.iloc[0]
    # median (1 + 50) / 2 = 25.5: 9 above then 9 below; 18 useful points, longest run 9 > round(log2(18)) + 3 = 7,
    # 1 crossing < qbinom(0.05, 17, 0.5) = 5
    assert chart["cl"].iloc[0] == 25.5
    assert (first["n_useful"], first["longest_run"], first["longest_run_max"]) == (18, 9, 7)
    assert (first["crossings"], first["crossings_min"]) == (1, 5)
    assert bool(first["runs_signal"])


def test_each_part_has_its_own_limits_and_median():
    chart = stats.g_chart([4, 5, 6, 40, 50, 60], parts=[3])
    assert chart["part"].tolist() == [1, 1, 1, 2, 2, 2]
    assert chart["cl"].tolist() == [5.0] * 3 + [50.0] * 3
    assert chart["ucl"].iloc[0] == pytest.approx(5 + 3 * math.sqrt(5 * 6))
    assert chart["ucl"].iloc[3] == pytest.approx(50 + 3 * math.sqrt(50 * 51))


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="negative"):
        stats.g_chart([3, -1])


# --------------------------------------------------------------------------------------------------------------
# counting the sessions between events on a tiny clinic
# --------------------------------------------------------------------------------------------------------------

TREATMENTS = """treatment_id,patient_ref,treated_on,clinician,indication,areas,product,units,price_nok
T01,p01,2024-01-02,C01,cosmetic,glabella,Botox,20,1900
T02,p02,2024-01-03,C01,cosmetic,glabella,Botox,20,1900
T03,p03,2024-01-04,C02,cosmetic,glabella,Botox,20,1900
T05,p05,2024-01-05,C01,cosmetic,glabella,Botox,20,1900
T04,p04,2024-01-05,C02,cosmetic,glabella,Botox,20,1900
T06,p06,2024-01-08,C01,cosmetic,glabella,Botox,20,1900
T07,p07,2024-01-09,C01,migraine,head_neck,Botox,155,3900
T08,p08,2024-01-10,C02,cosmetic,glabella,Botox,20,1900
T09,p09,2024-01-11,C01,cosmetic,forehead,Botox,10,1900
T10,p10,2024-01-12,C01,cosmetic,glabella,Botox,20,1900
T11,p11,2024-01-15,C02,cosmetic,glabella,Botox,20,1900
T12,p12,2024-01-16,C01,cosmetic,glabella,Botox,20,1900
T13,p13,2024-01-17,C02,cosmetic,glabella,Botox,20,1900
T14,p14,2024-03-20,C01,cosmetic,glabella,Botox,20,1900
T15,p15,2024-01-18,C01,cosmetic,glabella,Botox,20,1900
"""
# T07 (migraine, head and neck) is not eligible for double vision (upper face only); T09 is never followed up; T15's
# follow-up left double vision blank (not assessed: not followed up for it);
# T14's window (28 days) is still open on the data's date (its follow-up on 2024-03-25 is the newest date); T04 and
# T05 share a day and are ordered by treatment_id (T04 first). Double vision at T03, T05, T12, T14.
FOLLOW_UPS = """follow_up_id,treatment_id,seen_on,effect,double_vision
F01,T01,2024-01-16,full,no
F02,T02,2024-01-17,full,no
F03,T03,2024-01-18,full,yes
F04,T04,2024-01-19,full,no
F05,T05,2024-01-19,full,yes
F06,T06,2024-01-22,full,no
F07,T07,2024-01-23,full,yes
F08,T08,2024-01-24,full,no
F10,T10,2024-01-26,full,no
F11,T11,2024-01-29,full,no
F12,T12,2024-01-30,full,yes
F13,T13,2024-01-31,full,no
F14,T14,2024-03-25,full,yes
F15,T15,2024-02-01,full,
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("g")
    files = [write(folder / "1_clinicians.csv", CLINICIANS_CSV), write(folder / "2_treatments.csv", TREATMENTS),
             write(folder / "3_follow_ups.csv", FOLLOW_UPS)]
    db = folder / "db" / "clinic.duckdb"
    assert load_files(files, db, today=dt.date(2024, 3, 31)).rows_rejected == 0
    return db


def test_sessions_between_counted_by_hand(tiny):
    con = duckdb.connect(str(tiny), read_only=True)
    g = analysis.g_chart(con, "double_vision")
    # counted sessions in order: T01, T02, T03*, T04, T05*, T06, T08, T10, T11, T12*, T13 (T07 not eligible, T09
    # not followed up, T15 not assessed, T14 still open). First event T03: T01, T02 before it -> 2; T05: T04 -> 1 (T04 first on the
    # shared day); T12: T06, T08, T10, T11 -> 4; after it T13: 1 session so far
    assert g["event_date"].tolist() == [dt.date(2024, 1, 4), dt.date(2024, 1, 5), dt.date(2024, 1, 16)]
    assert g["sessions_between"].tolist() == [2, 1, 4]
    assert g.attrs["sessions_since_last"] == 1 and g.attrs["sessions_n"] == 11
    # mean 7/3, median 2
    m = 7 / 3
    assert g["cl"].tolist() == [2.0] * 3
    assert g["ucl"].tolist() == pytest.approx([m + 3 * math.sqrt(m * (m + 1))] * 3)
    c01 = analysis.g_chart(con, "double_vision", filters=analysis.Filters(clinicians=("C01",)))
    # C01 in order: T01, T02, T05*, T06, T10, T12*: 3 before T05, 2 between T05 and T12, none after
    assert c01["sessions_between"].tolist() == [2, 2] and c01.attrs["sessions_since_last"] == 0
    con.close()


def test_a_rebasing_change_starts_a_new_part_at_the_first_event_after_it(tiny):
    con = duckdb.connect(str(tiny), read_only=True)
    g = analysis.g_chart(con, "double_vision", part_starts=[dt.date(2024, 1, 5)])
    assert g["part"].tolist() == [1, 2, 2]  # the event of 5 January is the first on or after the change
    assert g["cl"].tolist() == [2.0, 2.5, 2.5]
    con.close()


def test_a_rare_outcome_is_told_apart_from_a_common_one():
    frame = pd.DataFrame({"period_start": [dt.date(2024, m, 1) for m in (1, 2, 3)], "part": [1, 1, 1],
                          "period_closed": [True, True, False], "denominator_n": [40, 60, 5],
                          "cl": [0.02, 0.02, 0.02]})
    # the open March (5 sessions) is left out: 0.02 x mean(40, 60) = 1.0 expected a month: not below 1
    assert not analysis.is_rare(frame)
    assert analysis.is_rare(frame.assign(cl=0.019))  # 0.95 a month
    assert not analysis.is_rare(frame.iloc[:0])


# --------------------------------------------------------------------------------------------------------------
# the export
# --------------------------------------------------------------------------------------------------------------


def read(path):
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)


def test_export_spc_chart_g_has_one_row_per_event(tiny, tmp_path):
    out = tmp_path / "g.csv"
    assert main(["export", "spc", "--outcome", "double_vision", "--chart", "g", "--db", str(tiny),
                 "-o", str(out)]) == 0
    frame = read(out)
    assert list(frame.columns[:5]) == ["event_date", "sessions_between", "cl", "lcl", "ucl"]
    assert frame["event_date"].tolist() == ["2024-01-04", "2024-01-05", "2024-01-16"]
    assert frame["sessions_between"].tolist() == ["2", "1", "4"]
    assert frame["cl"].tolist() == ["2.0"] * 3 and frame["lcl"].tolist() == ["0.0"] * 3
    text = out.read_text()
    assert "# chart: g" in text and "# sessions_since_last_event: 1" in text
    assert "T0" not in text and "p0" not in text  # no treatment id or patient reference in the file


def test_a_g_chart_is_never_released_and_takes_no_period(tiny, tmp_path, capsys):
    out = tmp_path / "g.csv"
    base = ["export", "spc", "--outcome", "double_vision", "--chart", "g", "--db", str(tiny), "-o", str(out)]
    assert main([*base, "--release", "--from", "2024-01-01", "--to", "2024-01-31"]) != 0
    assert "cannot be released" in capsys.readouterr().err
    assert main([*base, "--period", "quarter"]) != 0
    assert "takes no --period" in capsys.readouterr().err
    assert main([*base, "--rules", "mdc"]) != 0
    assert not out.exists()


# --------------------------------------------------------------------------------------------------------------
# the chart
# --------------------------------------------------------------------------------------------------------------


def test_the_chart_draws_the_points_the_median_and_the_open_gap(tiny):
    from dashboard import charts

    con = duckdb.connect(str(tiny), read_only=True)
    g = analysis.g_chart(con, "double_vision")
    con.close()
    fig = charts.g_chart(g, outcome_label="Double vision", lang="en", as_of=dt.date(2024, 3, 25),
                         sessions_since_last=g.attrs["sessions_since_last"], sessions_n=g.attrs["sessions_n"])
    points = next(tr for tr in fig.data if tr.name == "Sessions between events")
    assert list(points.y) == [2, 1, 4]
    median = next(tr for tr in fig.data if tr.name == "Median")
    assert list(median.y) == [2.0, 2.0, 2.0]
    open_gap = next(tr for tr in fig.data if tr.name == "Since the last event")
    assert list(open_gap.y) == [1]
    assert np.all(np.asarray(fig.layout.yaxis.range) >= 0)


# --------------------------------------------------------------------------------------------------------------
# the dashboard picks the g-chart for a rare outcome (roles that see sessions only)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from pipelines.demo.build import run_demo

    db = tmp_path_factory.mktemp("g_demo") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    return db


def _page(demo_db, tmp_path, monkeypatch, **query):
    import streamlit as st
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    from pipelines.release import access

    monkeypatch.setenv("CLINIC_DEMO", "1")
    monkeypatch.setenv("CLINIC_DB", str(demo_db))
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "access.jsonl"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    for k, v in {"lang": "en", **query}.items():
        at.query_params[k] = v
    at.switch_page(access.page("complications").file)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _titles(at) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_a_rare_outcome_is_drawn_as_a_g_chart_for_the_doctor(demo_db, tmp_path, monkeypatch):
    con = duckdb.connect(str(demo_db), read_only=True)
    assert analysis.is_rare(analysis.spc(con, "double_vision"))  # the demo's double vision: under one a month
    assert not analysis.is_rare(analysis.spc(con, "insufficient_effect"))
    events = analysis.g_chart(con, "double_vision")["sessions_between"].tolist()
    con.close()
    at = _page(demo_db, tmp_path, monkeypatch, outcome="double_vision", role="doctor")
    assert _titles(at)[0] == "<b>Double vision: sessions between events (g-chart)</b>"
    assert any("A rare outcome" in c.value for c in at.caption)
    import json

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = next(tr for tr in spec["data"] if tr.get("name") == "Sessions between events")
    y = points["y"]
    if isinstance(y, dict):  # plotly's binary encoding of a numeric array
        import base64

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"])).tolist()
    assert y == events and len(events) >= 2
    # a common outcome stays on the p-chart; the doctor may ask for the p-chart of the rare one
    assert "p-chart" in _titles(_page(demo_db, tmp_path, monkeypatch, outcome="insufficient_effect",
                                      role="doctor"))[0]
    assert "p-chart" in _titles(_page(demo_db, tmp_path, monkeypatch, outcome="double_vision", chart="p",
                                      role="doctor"))[0]


def test_the_manager_gets_the_monthly_chart_of_a_rare_outcome_with_a_note(demo_db, tmp_path, monkeypatch):
    at = _page(demo_db, tmp_path, monkeypatch, outcome="double_vision", chart="g", role="manager")
    assert "p-chart" in _titles(at)[0]  # no g-chart (single events with their dates) for a role without sessions
    assert any("lists single events" in c.value for c in at.caption)


# --------------------------------------------------------------------------------------------------------------
# qicharts2's own g-chart, run in R (tests/reference_computed/README.md)
# --------------------------------------------------------------------------------------------------------------


def test_the_g_chart_equals_qicharts2_point_by_point():
    from conftest import ROOT

    folder = ROOT / "tests" / "reference_computed"
    inputs = pd.read_csv(folder / "g_chart_inputs.csv")
    expected = pd.read_csv(folder / "g_chart_qicharts2.csv")
    assert set(inputs["case"]) == set(expected["case"]) and len(inputs) == len(expected) == 186
    for case, rows in inputs.groupby("case", sort=False):
        ref = expected[expected["case"] == case].reset_index(drop=True)
        starts = rows["part_start"].dropna().unique()
        ours = stats.g_chart(rows["y"].to_numpy(dtype=float), parts=[int(s) for s in starts] or None)
        for a, b in (("cl", "cl"), ("lcl", "lcl"), ("ucl", "ucl"), ("lcl_95", "lcl.95"), ("ucl_95", "ucl.95")):
            np.testing.assert_allclose(ours[a].to_numpy(dtype=float), ref[b].to_numpy(dtype=float), rtol=0,
                                       atol=1e-9, err_msg=f"{case}: {a}")
        for a, b in (("part", "part"), ("n_useful", "n.useful"), ("longest_run", "longest.run"),
                     ("longest_run_max", "longest.run.max"), ("crossings", "n.crossings"),
                     ("crossings_min", "n.crossings.min")):
            assert ours[a].astype(int).tolist() == ref[b].astype(int).tolist(), f"{case}: {a}"
        assert ours["sigma_signal"].tolist() == ref["sigma.signal"].tolist(), case
        assert ours["runs_signal"].tolist() == ref["runs.signal"].tolist(), case
    # what the cases were chosen to show
    assert expected.loc[expected["case"] == "closer_together", "runs.signal"].all()
    assert expected.loc[expected["case"] == "long_gap", "sigma.signal"].tolist() == [False] * 5 + [True]
    assert set(expected.loc[expected["case"] == "demo_ptosis_two_parts", "part"]) == {1, 2}
