"""Every dashboard page through Streamlit's AppTest on a small demo database: it renders without an exception,
shows the elements its user needs (charts, tables, signals), reacts to filters and to the URL, switches language,
and turns an empty / missing / unreadable database or a filter that selects nothing into a clear message."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from dashboard import i18n
from pipelines.demo.build import mark_as_demo, run_demo
from pipelines.ingest import store
from pipelines.metrics import analysis, costs, counting, lookups, registry
from pipelines.metrics.counting import Filters
from pipelines.release import access

END = dt.date(2026, 6, 30)
TIMEOUT = 60
PAGES = [p.name for p in access.PAGES if p.name not in ("access_log", "load")]  # these read no figures
# a page the demo's admin may not open is previewed as a role that may (issue 13 item 7: the clinician's own view)
AS_ROLE = {"my_results": {"role": "clinician"}}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("app") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.setenv("CLINIC_DEMO", "1")  # demo mode, as `make run`: it serves only demo-generated databases
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def use_db(monkeypatch):
    def point(path: Path) -> Path:
        monkeypatch.setenv("CLINIC_DB", str(path))
        return path
    return point


def app(page: str | None = None, **query) -> AppTest:
    """The app in demo mode (CLINIC_DEMO=1, secrets without an [auth] section, whatever .streamlit/secrets.toml
    holds); sign-in and roles: tests/test_app_auth.py."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["tests"] = {"note": "secrets without an [auth] section"}
    for k, v in query.items():
        at.query_params[k] = v
    if page and page != "overview":
        at.switch_page(access.page(page).file)
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def title(fig: dict) -> str:
    return fig["layout"]["title"]["text"]


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def hover(fig: dict) -> str:
    return "\n".join(str(v) for tr in fig["data"] for v in (tr.get("customdata") or []))


def cusum_done(at: AppTest, seconds: float = 40) -> AppTest:
    """The overview checks the CUSUM charts in the background: rerun until their signals are in the list."""
    pending = set(i18n.TEXTS["signals_cusum_pending"])
    deadline = time.time() + seconds
    while any(i.value in pending for i in at.info) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert not any(i.value in pending for i in at.info)
    return at


def cusum_cheap(**query) -> dict:
    """Two clinicians keep the overview's all-outcome CUSUM check short."""
    return {"clin": ["C01", "C02"], **query}


# --------------------------------------------------------------------------------------------------------------
# the page table (pipelines/release/access.py PAGES): the only list of pages
# --------------------------------------------------------------------------------------------------------------

# The URLs people bookmarked and the in-app links use: written out here on purpose, so that a changed URL path in
# the table fails this test instead of silently breaking links.
URLS_TODAY = {"overview": "overview", "complications": "complications", "clinicians": "clinicians",
              "responses": "responses", "costs": "costs", "data_quality": "data_quality", "export": "export",
              "about": "about", "access_log": "access_log", "load": "load", "signals": "signals", "lots": "lots",
              "adverse_events": "adverse_events",
              "my_results": "my_results"}  # issue 13, item 7: the clinician role's own view


def test_every_page_file_is_in_the_page_table_and_every_table_page_has_its_file():
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dashboard" / "pages").glob("*.py")
             if p.name != "__init__.py"}
    table = [p.file for p in access.PAGES]
    assert len(table) == len(set(table)), "a page is in the table twice"
    assert files - set(table) == set(), "page files that are not in the table (no menu entry, no URL, no roles)"
    assert set(table) - files == set(), "pages in the table without their file"


def test_page_urls_are_unique_and_unchanged():
    assert {p.name: p.url_path for p in access.PAGES} == URLS_TODAY
    assert len({p.url_path for p in access.PAGES}) == len(access.PAGES)


def test_every_page_has_its_titles_roles_and_section_in_both_languages():
    from dashboard import auth

    for p in access.PAGES:
        for lang in i18n.LANGS:  # i18n.t raises KeyError for a key it does not have
            assert i18n.t(p.title_key, lang) and i18n.t(p.section_key, lang), (p.name, lang)
        assert p.roles and set(p.roles) <= set(access.ROLES), p.name
        assert p.icon.startswith(":material/"), p.name
    assert auth.ROOT_PAGE in access.PAGES_BY_NAME and set(auth.HOME_ORDER) <= set(access.PAGES_BY_NAME)
    assert access.PAGE_ROLES == {p.name: p.roles for p in access.PAGES}
    with pytest.raises(KeyError, match="no page `overveiw`"):
        access.page("overveiw")


def test_in_app_links_use_the_tables_url_path(demo_db, use_db):
    use_db(demo_db)
    at = app(lang="en")
    no_exception(at)
    table = at.dataframe[0].value
    links = [v for col in table.columns for v in table[col] if isinstance(v, str) and "outcome=" in v]
    assert links and all(v.startswith(f"{access.page('complications').url_path}?") for v in links)


# --------------------------------------------------------------------------------------------------------------
# each page on the demo database
# --------------------------------------------------------------------------------------------------------------


def test_overview_rates_references_readings_and_signals(demo_db, use_db):
    use_db(demo_db)
    at = app(scope="all", improving="true")  # every listed row (the default: concerning ones new since a meeting)
    no_exception(at)
    cusum_done(at)
    no_exception(at)
    assert any("kind=" not in p.proto.query_string and "tab=cusum" in p.proto.query_string
               for p in at.get("page_link")), "CUSUM signals link to the clinician's CUSUM"
    markdown = [m.value for m in at.markdown]
    assert "*klinikken*" in markdown or "*Klinikken*" in markdown, "a clinic-wide episode names the clinic"
    assert "nan" not in markdown and "None" not in markdown
    assert at.title[0].value == "Oversikt"
    table = at.dataframe[0].value
    labels = [o.label("nb") for o in registry.OUTCOMES]
    assert list(table.iloc[:, 0]) == labels
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        rates = counting.rates(con, None).set_index("metric")
        n = lookups.session_count(con)
    finally:
        con.close()
    row = table.iloc[0]
    r = rates.loc[registry.OUTCOMES[0].key]
    assert row.iloc[1].strip() == i18n.pct(r["rate"], "nb")
    assert row.iloc[3] == f"{i18n.number(r['numerator_n'], 'nb')} / {i18n.number(r['denominator_n'], 'nb')}"
    assert any("Vanlig variasjon" in str(v) or "Spesiell" in str(v) for v in table["Variasjon"])
    assert not any(str(v).endswith("Vanlig") for v in table["Variasjon"]), "issue 16: 'vanlig variasjon'"
    metrics_shown = {m.label: m.value for m in at.metric}
    assert metrics_shown["Behandlinger i perioden"] == i18n.number(n, "nb")
    forest = charts(at)[0]
    assert "referanse" in title(forest).lower()
    assert forest["layout"]["shapes"], "reference ranges are drawn as bands"
    assert " av " in hover(forest) and "95 % intervall" in hover(forest)
    links = at.get("page_link")
    assert links, "every signal links to its chart"
    queries = [p.proto.query_string for p in links]
    assert all("outcome=" in q for q in queries)
    assert any(p.proto.page == "clinicians" and "clinician=" in q for p, q in zip(links, queries, strict=True))
    kinds = at.get("button_group")[-1] if at.get("button_group") else None
    assert kinds is not None


def test_overview_reacts_to_filters_and_url(demo_db, use_db):
    use_db(demo_db)
    at = cusum_done(app(**cusum_cheap(lang="en")))
    no_exception(at)
    assert at.title[0].value == "Overview"
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        n = lookups.session_count(con, Filters(clinicians=("C01", "C02")))
        n_c1 = lookups.session_count(con, Filters(clinicians=("C01",)))
    finally:
        con.close()
    assert {m.label: m.value for m in at.metric}["Sessions in the period"] == i18n.number(n, "en")
    assert at.multiselect(key="w_clin").value == ["C01", "C02"]
    at.multiselect(key="w_clin").set_value(["C01"]).run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Sessions in the period"] == i18n.number(n_c1, "en")
    assert at.query_params["clin"] in ("C01", ["C01"])
    assert all("clin=C01" in p.proto.query_string for p in at.get("page_link"))


def test_complications_chart_breakdown_and_case_review(demo_db, use_db):
    use_db(demo_db)
    at = app("complications", lang="en", outcome="ptosis", point="2025-06-01")
    no_exception(at)
    figs = charts(at)
    spc = figs[0]
    assert title(spc).startswith("<b>Ptosis (eyelid or brow): p-chart")
    assert spc["layout"]["shapes"], "the reference range is a band"
    names = {tr.get("name") for tr in spc["data"]}
    assert {"Centre line", "3-sigma limits", "Rate", "Selected for review"} <= names
    assert " of " in hover(spc) and "Limits:" in hover(spc)
    assert [title(f) for f in figs[1:4]] == ["<b>Ptosis (eyelid or brow) by indication</b>",
                                            "<b>Ptosis (eyelid or brow) by area</b>",
                                            "<b>Ptosis (eyelid or brow) by product</b>"]
    assert at.selectbox(key="w_point").value == "2025-06-01"
    review = at.dataframe[-1].value
    assert "Patient (pseudonym)" in review.columns and len(review) <= 25
    assert set(review["Treated"].astype(str).str[:7]) == {"2025-06"}
    at.selectbox(key="w_outcome").set_value("bruising").run()
    no_exception(at)
    assert title(charts(at)[0]).startswith("<b>Bruising")
    at.segmented_control(key="w_rules").set_value("mdc").run()
    no_exception(at)
    assert "Making Data Count" in charts(at)[0]["layout"]["title"]["subtitle"]["text"]
    assert at.query_params["outcome"] == "bruising" and at.query_params["rules"] == "mdc"


def test_date_range_from_the_url_reaches_the_counts(demo_db, use_db):
    use_db(demo_db)
    at = app("complications", lang="en", outcome="bruising", **{"from": "2025-01-01", "to": "2025-06-30"})
    no_exception(at)
    assert (at.text_input(key="w_from").value, at.text_input(key="w_to").value) == ("2025-01-01", "2025-06-30")
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        r = counting.counts(con, "bruising", filters=Filters(date_from=dt.date(2025, 1, 1),
                                                            date_to=dt.date(2025, 6, 30))).iloc[0]
    finally:
        con.close()
    rate = next(m for m in at.metric if m.label == "Rate")
    assert rate.proto.delta.startswith(f"{i18n.number(r['numerator_n'], 'en')} of "
                                       f"{i18n.number(r['denominator_n'], 'en')}")
    points = [p for p in charts(at)[0]["data"] if p.get("name") == "Rate"][0]["x"]
    assert min(points)[:7] == "2025-01" and max(points)[:7] == "2025-06"
    at.text_input(key="w_from").set_value("2025-03-01").run()
    no_exception(at)
    assert at.query_params["from"] == "2025-03-01" and at.query_params["to"] == "2025-06-30"


def test_complications_marks_signals_with_the_rule(demo_db, use_db):
    use_db(demo_db)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        from pipelines.metrics import signals

        sig = signals.spc_signals(signals.spc_frames(con))
    finally:
        con.close()
    sigma = sig[sig["rule"] == "sigma"]
    assert not sigma.empty, "the demo data has at least one point outside its limits"
    first = sigma.iloc[0]
    at = app("complications", lang="en", outcome=first["outcome"])
    no_exception(at)
    spc = charts(at)[0]
    assert "Signal: Outside the 3-sigma limits" in hover(spc)
    symbols = [s for tr in spc["data"] if tr.get("name") == "Rate" for s in tr["marker"]["symbol"]]
    assert any(s.startswith("diamond") for s in symbols)


def test_the_demos_process_changes_and_targets_are_on_the_charts(demo_db, use_db):
    """Issue 12: the demo's re-basing aftercare change (2025-10-30, 243 days before END) starts a new part of the
    bruising chart from November 2025 (its own centre line), is marked at its date on the control chart and on
    the clinicians' CUSUM, and the bruising target (5 %) is drawn with its assurance reading."""
    use_db(demo_db)
    at = app("complications", lang="en", outcome="bruising")
    no_exception(at)
    spc = charts(at)[0]
    marks = [a for a in spc["layout"]["annotations"] if a.get("hovertext")]
    assert [a["hovertext"] for a in marks] == [
        "2025-10-30: New aftercare routine: cold pack and no massage leaflet for every patient (new chart part "
        "from here)"]
    centre = [tr for tr in spc["data"] if tr.get("legendgroup") == "cl"]
    assert len(centre) == 2 and str(centre[1]["x"][0]).startswith("2025-11-01")
    target = [tr for tr in spc["data"] if str(tr.get("name", "")).startswith("Target 5.0")]
    assert len(target) == 1 and target[0]["y"] == [5.0, 5.0]
    at = app("clinicians", lang="en", outcome="bruising", clinician="C02", tab="cusum")
    no_exception(at)
    cusum = [f for f in charts(at) if "CUSUM" in title(f) or "C02" in title(f)][-1]
    assert any("New aftercare routine" in str(a.get("hovertext")) for a in cusum["layout"]["annotations"])
    at = app("data_quality", lang="en")  # the completeness over time of bruising, the page's first outcome
    no_exception(at)
    over_time = [f for f in charts(at) if "completeness" in title(f).lower()][0]
    assert any("New aftercare routine" in str(a.get("hovertext")) for a in over_time["layout"]["annotations"])


def test_clinicians_funnel_table_and_cusum(demo_db, use_db):
    use_db(demo_db)
    at = app("clinicians", lang="en", outcome="insufficient_effect", clinician="C02")
    no_exception(at)
    funnel, oe, cusum = charts(at)[:3]
    sub = funnel["layout"]["title"]["subtitle"]["text"]
    assert "Arcsine" in sub and "95 %" in sub and "99.8 %" in sub and "overdispersion" in sub
    assert {"95 % limits", "99.8 % limits", "Clinic rate"} <= {tr.get("name") for tr in funnel["data"]}
    assert "Selected clinician" in {tr.get("name") for tr in funnel["data"]}
    assert "observed / expected" in title(oe)
    assert "C02" in title(cusum)
    table = at.dataframe[-1].value
    assert list(table["Clinician"]) == sorted(table["Clinician"]), "listed by code, never ranked by rate"
    assert {"Sessions", "Events", "Rate", "95 % interval", "Funnel position", "Observed / expected",
            "CUSUM status"} <= set(table.columns)
    at.selectbox(key="w_method").set_value("exact").run()
    no_exception(at)
    assert "Exact binomial" in charts(at)[0]["layout"]["title"]["subtitle"]["text"]


def test_costs_recompute_with_consumables(demo_db, use_db):
    use_db(demo_db)
    at = app("costs", lang="en")
    no_exception(at)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        base = costs.cost_summary(con, "month")
    finally:
        con.close()
    shown = {m.label: m for m in at.metric}
    assert shown["Correction cost"].value == i18n.nok(base["correction_cost_nok"].sum(), "en")
    at.text_input(key="w_consumables").set_value("300").run()  # typed in the page's language (issue 16)
    no_exception(at)
    expected = base["correction_cost_nok"].sum() + 200 * base["correction_n"].sum()
    assert {m.label: m.value for m in at.metric}["Correction cost"] == i18n.nok(expected, "en")
    assert at.query_params["consumables"] == "300"
    titles = [title(f) for f in charts(at)]
    assert any("Correction rate" in t for t in titles) and any("cost by month" in t.lower() for t in titles)
    editors = {tuple(d.value.columns): json.loads(d.proto.columns) for d in at.dataframe if d.proto.editing_mode}
    prices = editors[("product", "valid_from", "cost_per_unit_nok", "botox_equivalent_factor", "in_force")]
    clinicians = editors[("clinician", "profession", "cost_per_minute_nok")]
    assert prices["valid_from"]["label"] == "Valid from" and clinicians["cost_per_minute_nok"]["label"] == "NOK per minute"
    assert [c for c, v in prices.items() if not v.get("disabled") and c != "_index"] == ["cost_per_unit_nok"]
    assert [c for c, v in clinicians.items() if not v.get("disabled") and c != "_index"] == ["cost_per_minute_nok"]
    assert any("never stored" in i.value for i in at.info)
    assert not any("What-if:" in w.value for w in at.warning), "nothing edited: the loaded values"


def test_responses_rates_and_headache_change(demo_db, use_db):
    use_db(demo_db)
    at = app("responses", lang="en")
    no_exception(at)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        migraine = counting.rates(con, "headache_non_response", filters=Filters(indications=("migraine",))).iloc[0]
    finally:
        con.close()
    values = [m.value for m in at.metric if m.label == "Responder rate"]
    assert len(values) == 3
    assert values[0] == i18n.pct(1 - migraine["rate"], "en")
    assert "Lost to follow-up counts as non-responders." in texts(at)
    titles = [title(f) for f in charts(at)]
    assert any("Responder rate" in t for t in titles) and any("headache days" in t for t in titles)
    at.multiselect(key="w_ind").set_value(["hyperhidrosis"]).run()
    no_exception(at)
    assert texts(at).count("Not in the current filters.") == 2


def test_data_quality_loads_rejects_and_completeness(demo_db, use_db):
    use_db(demo_db)
    at = app("data_quality", lang="en")
    no_exception(at)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        loads = con.execute("SELECT count(*) FROM load_log").fetchall()[0][0]
        rejected = con.execute("SELECT count(*) FROM rejected_rows WHERE status = 'pending'").fetchall()[0][0]
    finally:
        con.close()
    frames = [d.value for d in at.dataframe]
    assert len(frames[0]) == loads and {"Loaded at", "File", "Rows loaded", "Rejected"} <= set(frames[0].columns)
    assert frames[0]["Loaded at"].str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$").all()
    # issue 16: a few rejected rows are a static table that wraps each reason in full (a grid cut them off)
    tables = [t.value for t in at.table]
    assert any(len(f) == rejected and "Reason" in f.columns for f in tables)
    assert all(not f["Reason"].str.endswith("…").any() for f in tables if "Reason" in f.columns)
    titles = [title(f) for f in charts(at)]
    assert any("share followed up" in t for t in titles)
    assert {m.label for m in at.metric} >= {"Newest treatment", "Newest follow-up", "Last load"}


def test_export_offers_every_csv(demo_db, use_db):
    use_db(demo_db)
    at = app("export", lang="en", outcome="ptosis")
    no_exception(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download Rates", "Download Funnel", "Download Control chart", "Download Costs",
                      "Download Pseudonymised records"], "release files by default; O/E, CUSUM and signals are internal only"
    preview = at.dataframe[0].value
    assert "suppressed" in set(preview["numerator_n"].astype(str)) and "suppression" in preview.columns
    at.segmented_control(key="w_mode").set_value("internal").run()
    no_exception(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download Rates", "Download Funnel", "Download Control chart", "Download Costs",
                      "Download Observed / expected", "Download CUSUM", "Download Signals list",
                      "Download Pseudonymised records"]
    assert "suppression" not in at.dataframe[0].value.columns
    assert "Filters in the files: none" in texts(at)
    at.toggle(key="w_excel").set_value(True).run()
    no_exception(at)
    assert at.query_params["excel"] == "True"


def test_about_is_generated_from_the_registry(demo_db, use_db):
    use_db(demo_db)
    at = app("about", lang="en")
    no_exception(at)
    body = texts(at)
    for o in registry.OUTCOMES:
        assert o.label_en in body and o.window_text("en") in body and o.eligible_en in body
        if o.reference:
            assert o.reference.source in body
    assert "Anhøj" in body and "FunnelPlotR" in body and "Wilson" in body
    assert f"{analysis.CUSUM_ARL0:,.0f} sessions" in body


# --------------------------------------------------------------------------------------------------------------
# behaviour across pages
# --------------------------------------------------------------------------------------------------------------


def test_language_switch_keeps_filters_and_outcome(demo_db, use_db):
    use_db(demo_db)
    at = app("complications", lang="en", outcome="asymmetry", clin="C03")
    assert at.title[0].value == "Complications"
    at.segmented_control(key="w_lang").set_value("nb").run()
    no_exception(at)
    assert at.title[0].value == "Komplikasjoner"
    assert title(charts(at)[0]).startswith("<b>Asymmetri")
    assert at.multiselect(key="w_clin").value == ["C03"]
    assert "lang" not in at.query_params  # Norwegian is the default
    at.switch_page(access.page("clinicians").file).run()
    no_exception(at)
    assert at.selectbox(key="w_outcome").value == "asymmetry"
    assert at.multiselect(key="w_clin").value == ["C03"]


def test_signal_link_opens_the_chart_preselected(demo_db, use_db):
    use_db(demo_db)
    at = cusum_done(app(**cusum_cheap(scope="all", improving="true")))
    link = next(p for p in at.get("page_link") if p.proto.page == "complications" and "point=20" in
                p.proto.query_string)
    query = dict(pair.split("=", 1) for pair in link.proto.query_string.split("&"))
    target = app("complications", **{k: v for k, v in query.items() if k != "clin"}, clin=["C01", "C02"])
    no_exception(target)
    assert target.selectbox(key="w_outcome").value == query["outcome"]
    assert target.selectbox(key="w_point").value == query["point"]


@pytest.mark.parametrize("page", PAGES)
def test_filter_that_selects_nothing_gives_a_message(demo_db, use_db, page):
    use_db(demo_db)
    at = app(page, lang="en", clin="C01", ind="hyperhidrosis", area="glabella", **AS_ROLE.get(page, {}))
    no_exception(at)
    if page in ("about", "data_quality"):
        return  # independent of the filters (data quality still lists loads and rejects)
    assert any("No sessions match the filters" in w.value for w in at.warning)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", PAGES)
def test_empty_database_gives_a_message(tmp_path, use_db, page):
    db = use_db(tmp_path / "empty.duckdb")
    con = duckdb.connect(str(db))
    store.init_schema(con)
    mark_as_demo(con, 0)  # an empty database as the demo generator would start it
    con.close()
    at = app(page, lang="en", **AS_ROLE.get(page, {}))
    no_exception(at)
    if page == "my_results":  # no clinician in the database: no code to preview, so no access (fail closed)
        assert at.title[0].value == "No access" and not at.get("plotly_chart")
    elif page != "about":
        assert any("no treatments yet" in i.value for i in at.info)


def test_a_new_snapshot_appears_without_a_restart(demo_db, tmp_path, use_db):
    db = use_db(tmp_path / "clinic.duckdb")
    shutil.copyfile(demo_db, db)
    at = app("costs", lang="en")
    assert at.metric and not any("no treatments yet" in i.value for i in at.info)
    empty = tmp_path / "next.duckdb"
    con = duckdb.connect(str(empty))
    store.init_schema(con)
    mark_as_demo(con, 0)
    con.close()
    os.replace(empty, db)  # what the loader's publish does
    at.run()
    no_exception(at)
    assert any("no treatments yet" in i.value for i in at.info)


@pytest.mark.parametrize("page", ("overview", "complications", "export"))
def test_missing_or_republishing_database_gives_a_message(tmp_path, use_db, page):
    use_db(tmp_path / "nowhere.duckdb")
    at = app(page, lang="en")
    no_exception(at)
    assert any("No database has been published yet" in i.value for i in at.info)
    broken = use_db(tmp_path / "half.duckdb")
    broken.write_bytes(b"not a database yet")
    at = app(page, lang="en")
    no_exception(at)
    assert any("republished" in w.value for w in at.warning)
