"""The clinician role: each injector's own view (issue 13, item 7).

A `clinician` role is tied to one clinician code (the token's `clinician_code` claim, else the role file's
`clinician_code` column) and opens only "My results" (and About): its own rates beside the clinic's, its place in
the funnel among unnamed colleagues, its O/E and its CUSUM. Without exactly one code the database knows, it gets a
"no access" page naming the problem and no data (fail closed). Sign-in mode is put up as in tests/test_app_auth.py:
`at.secrets["auth"]` and `at.user`; demo mode with CLINIC_DEMO=1 on the demo generator's database.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from app_session import demo_app, isolated_app, navigation_spy, signed_in_app
from conftest import write
from streamlit.testing.v1 import AppTest

from dashboard import auth
from dashboard.auth import ROOT_PAGE
from pipelines.demo.build import run_demo
from pipelines.metrics import analysis
from pipelines.release import access

END = dt.date(2026, 6, 30)
TIMEOUT = 90
EMAIL = "injektor@klinikk.no"
CODE = "C03"
VERIFIED = {"email_verified": True}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("clinician") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=END, progress=False)
    return db


@pytest.fixture(scope="module")
def codes(demo_db) -> list[str]:
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT clinician FROM clinicians ORDER BY 1").fetchall()]
    finally:
        con.close()


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    yield from isolated_app(demo_db, tmp_path, monkeypatch)


@pytest.fixture
def menu(monkeypatch) -> dict:
    return navigation_spy(monkeypatch)


def log() -> list[dict]:
    return access.read_log(access.log_path_for(Path("unused")))


def signed_in(claims: dict, page: str | None = None, *, clinic: dict | None = None, **query) -> AppTest:
    """The app in sign-in mode, signed in as EMAIL with these token claims."""
    return signed_in_app({"is_logged_in": True, "email": EMAIL, **claims}, page, clinic=clinic, timeout=TIMEOUT,
                         **query)


def demo(page: str | None = None, **query) -> AppTest:
    return demo_app(page, timeout=TIMEOUT, **query)


def clinician(page: str | None = None, code: object = CODE, **query) -> AppTest:
    return signed_in({"roles": ["clinician"], "clinician_code": code}, page, **query)




def charts(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def shows_no_data(at: AppTest) -> bool:
    return not at.get("plotly_chart") and not at.dataframe and not at.metric and not at.get("download_button")


def everything_on_screen(at: AppTest) -> str:
    """Every text, table cell, metric and chart (as JSON) the run drew, sidebar included (but the demo's own
    preview boxes, which offer every code on purpose)."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error", "success") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.proto.delta} {m.proto.help}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += charts(at)
    parts += [f"{s.label} {s.options} {s.value}" for s in at.selectbox
              if s.key not in ("w_preview_role", "w_preview_code")]
    parts += [f"{s.label} {s.options}" for s in at.multiselect]
    return "\n".join(parts)


def values(array) -> list:
    """A chart's data array: a list, or plotly's typed array ({"dtype": ..., "bdata": base64})."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])).tolist()
    return list(array)


def mentions(text: str, code: str) -> bool:
    """The code in the text as written or JSON-escaped (ÅSH is \\u00c5SH in a chart's JSON)."""
    return code in text or json.dumps(code)[1:-1] in text


# --------------------------------------------------------------------------------------------------------------
# The code: role file (with and without the column) and token claim
# --------------------------------------------------------------------------------------------------------------


def test_a_role_file_without_the_code_column_stays_valid(tmp_path):
    path = write(tmp_path / "roles.csv", "email,role\nkari@klinikk.no,doctor\nanne@klinikk.no,clinician\n")
    assert access.read_role_file(path) == {"kari@klinikk.no": ("doctor",), "anne@klinikk.no": ("clinician",)}
    assert access.clinician_code_mapping(access.read_role_rows(path)) == {}, "a clinician row without a code"


def test_the_role_file_code_column(tmp_path):
    path = write(tmp_path / "roles.csv", "email,role,clinician_code\nkari@klinikk.no,doctor,\n"
                                         "Anne@klinikk.no,clinician, C03 \nbo@klinikk.no,clinician,C01\n"
                                         "bo@klinikk.no,clinician,C02\nbo@klinikk.no,clinician,C01\n")
    assert access.read_role_file(path)["anne@klinikk.no"] == ("clinician",)
    mapping = access.clinician_code_mapping(access.read_role_rows(path))
    assert mapping == {"anne@klinikk.no": ("C03",), "bo@klinikk.no": ("C01", "C02")}
    assert access.clinician_codes_for({"email": "ANNE@klinikk.no", **VERIFIED}, mapping) == ("C03",)
    assert access.clinician_codes_for({"email": "anne@klinikk.no"}, mapping) == (), "an unverified address: none"
    assert access.clinician_codes_for({"email": "bo@klinikk.no", **VERIFIED}, mapping) == ("C01", "C02")


def test_a_code_on_a_row_of_another_role_is_refused(tmp_path):
    path = write(tmp_path / "roles.csv", "email,role,clinician_code\nkari@klinikk.no,doctor,C01\n")
    with pytest.raises(ValueError, match="roles.csv: row 2: a clinician_code belongs on a `clinician` row only"):
        access.read_role_file(path)


@pytest.mark.parametrize("claim, found", [
    ("C03", ("C03",)),
    ("  C03 ", ("C03",)),
    ("", ()),
    (["C03"], ("C03",)),
    (["C03", "C03"], ("C03",)),
    (["C01", "C03"], ("C01", "C03")),  # two codes are kept, so the app can refuse rather than pick one
    ([7, None, "C03"], ("C03",)),
    ({"code": "C03"}, ()),
    (3, ()),
    (None, ()),
])
def test_the_token_claim(claim, found):
    assert access.token_clinician_codes({"clinician_code": claim}) == found


def test_the_token_claim_comes_before_the_role_file():
    mapping = {"anne@klinikk.no": ("C01",)}
    claims = {"email": "anne@klinikk.no", **VERIFIED}
    assert access.clinician_codes_for({**claims, "clinician_code": "C03"}, mapping) == ("C03",)
    assert access.clinician_codes_for(claims, mapping) == ("C01",)


def test_the_role_with_a_prefix_and_its_place_in_the_role_table():
    assert access.token_roles({"roles": ["klinikk.clinician"]}, "klinikk.") == ("clinician",)
    assert access.token_roles({"roles": ["clinician"]}, "klinikk.") == ()
    assert [p.name for p in access.PAGES if access.may_open(["clinician"], p.name)] == ["my_results", "about"]
    assert not any(access.may(["clinician"], c) for c in access.CAPABILITIES)
    assert not any(access.may_export(["clinician"], k) for k in access.EXPORT_ROLES)
    assert auth.Viewer("x", ("clinician",), clinician_codes=("C03",)).home() == "my_results"
    assert auth.Viewer("x", ("clinician",), clinician_codes=("C03",)).role == "clinician:C03"


# --------------------------------------------------------------------------------------------------------------
# Signed in: the start page, the log, the page's figures
# --------------------------------------------------------------------------------------------------------------


def test_a_clinician_from_the_token_starts_on_their_own_results(menu):
    at = clinician()
    assert at.title[0].value == "My results"
    assert menu["visible"] == ["my_results", "about"] and menu["position"] == "sidebar"
    assert any(f"clinician {CODE}" in c.value for c in at.caption)
    assert any(f"Signed in as {EMAIL} (Clinician (own results) {CODE})" in c.value for c in at.caption)
    assert [(r["event"], r["user"], r["role"], r["what"]) for r in log()] == [
        ("sign_in", EMAIL, "clinician:C03", "dashboard"),
        ("page_view", EMAIL, "clinician:C03", "my_results")]
    assert log()[-1]["filters"] == "outcome=insufficient_effect; filters: none"


def test_the_role_prefix_applies_to_the_clinician_role(menu):
    at = signed_in({"roles": ["klinikk.clinician"], "clinician_code": CODE}, clinic={"role_prefix": "klinikk."})
    assert at.title[0].value == "My results" and menu["visible"] == ["my_results", "about"]


def test_a_clinician_from_the_role_file(tmp_path, menu):
    write(tmp_path / "roles.csv", f"email,role,clinician_code\n{EMAIL},clinician,{CODE}\n")
    at = signed_in(VERIFIED)
    assert at.title[0].value == "My results" and menu["visible"] == ["my_results", "about"]
    assert [r["role"] for r in log()] == ["clinician:C03", "clinician:C03"]
    # the token names the role, the role file the code
    at = signed_in({"roles": ["clinician"], **VERIFIED})
    assert at.title[0].value == "My results"


def test_the_page_shows_the_clinicians_own_rate_beside_the_clinics(demo_db):
    """Hand count with plain SQL: "treated despite a listed risk" counts every session whose three risk questions
    were all answered (window 0 days: closed by the data's date, 30 June 2026), the event being any of them yes."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        answered = ("neuromuscular_disease IS NOT NULL AND aminoglycoside_antibiotics IS NOT NULL "
                    "AND pregnant_or_breastfeeding IS NOT NULL")
        risk = "(neuromuscular_disease OR aminoglycoside_antibiotics OR pregnant_or_breastfeeding)"

        def count(where: str, params: list) -> tuple[int, int]:
            den = con.execute(f"SELECT count(*) FROM treatments WHERE {answered} AND treated_on <= ? {where}",
                              [END, *params]).fetchall()[0][0]
            num = con.execute(f"SELECT count(*) FROM treatments WHERE {answered} AND {risk} AND treated_on <= ? "
                              f"{where}", [END, *params]).fetchall()[0][0]
            return num, den

        mine_num, mine_den = count("AND clinician = ?", [CODE])
        all_num, all_den = count("", [])
    finally:
        con.close()
    assert mine_den >= 20 and all_den > mine_den and all_num > 0
    at = clinician()
    table = at.dataframe[0].value
    row = table[table["Outcome"] == "Treated despite a listed risk"].iloc[0]
    assert row["Sessions"] == f"{mine_den:,}" and row["Events"] == str(mine_num)
    assert row["Your rate"] == f"{100 * mine_num / mine_den:.1f}\u00a0%"
    assert row["Clinic rate"] == f"{100 * all_num / all_den:.1f}\u00a0%"
    assert list(table.columns) == ["Outcome", "Sessions", "Events", "Your rate", "95 % interval", "Clinic rate",
                                   "Clinic 95 %"]


def test_the_period_filter_narrows_the_figures_to_whole_months(demo_db):
    """As for every role without session-level access, a period is widened to whole calendar months: 10 March to
    20 August 2025 counts 1 March to 31 August (hand count with plain SQL, as above)."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        where = ("clinician = ? AND treated_on BETWEEN ? AND ? AND neuromuscular_disease IS NOT NULL AND "
                 "aminoglycoside_antibiotics IS NOT NULL AND pregnant_or_breastfeeding IS NOT NULL")
        params = [CODE, dt.date(2025, 3, 1), dt.date(2025, 8, 31)]
        den = con.execute(f"SELECT count(*) FROM treatments WHERE {where}", params).fetchall()[0][0]
        num = con.execute(f"SELECT count(*) FROM treatments WHERE {where} AND (neuromuscular_disease OR "
                          "aminoglycoside_antibiotics OR pregnant_or_breastfeeding)", params).fetchall()[0][0]
    finally:
        con.close()
    at = clinician("my_results", **{"from": "2025-03-10", "to": "2025-08-20"})
    table = at.dataframe[0].value
    row = table[table["Outcome"] == "Treated despite a listed risk"].iloc[0]
    assert 10 <= den < 100 and (row["Sessions"], row["Events"]) == (f"{den}", str(num))
    assert any("clinician C03, 2025-03-01 to 2025-08-31" in c.value for c in at.caption)


def test_the_page_names_no_other_clinician_anywhere(codes):
    others = [c for c in codes if c != CODE]
    for outcome in ("insufficient_effect", "eyelid_ptosis", "bruising"):
        at = clinician("my_results", outcome=outcome)
        assert at.selectbox(key="w_outcome").value == outcome
        assert at.title[0].value == "My results"
        screen = everything_on_screen(at)
        assert mentions(screen, CODE)
        assert [c for c in others if mentions(screen, c)] == [], outcome
    assert not [m for m in at.sidebar.multiselect if m.label == "Clinicians"], "no clinician filter offered"


def test_the_funnel_marks_the_clinician_and_leaves_every_colleague_unnamed(codes):
    at = clinician("my_results", outcome="bruising")
    funnel = json.loads(charts(at)[0])
    assert funnel["layout"]["title"]["text"].startswith("<b>Bruising: each clinician against the clinic rate")
    spec = charts(at)[0]
    assert [c for c in codes if c != CODE and mentions(spec, c)] == [], "no other code in text, hover or legend"
    points = [(x, t, h[0]) for tr in funnel["data"] if tr.get("mode") == "markers+text"
              for x, t, h in zip(values(tr["x"]), tr["text"], tr["customdata"], strict=True)]
    mine = [p for p in points if p[1] == CODE]
    peers = [p for p in points if p[1] != CODE]
    assert len(mine) == 1 and mine[0][2].startswith(f"<b>{CODE}</b>")
    assert len(peers) >= 5 and {p[1] for p in peers} == {""}
    assert all(p[2].startswith("<b>Colleague</b>") for p in peers)
    ring = [tr for tr in funnel["data"] if tr.get("name") == "Selected clinician"]
    assert len(ring) == 1 and values(ring[0]["x"]) == [mine[0][0]], "the clinician's own point is ringed"


def test_the_observed_expected_and_cusum_are_the_clinicians_own(demo_db):
    at = clinician("my_results", outcome="insufficient_effect")
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        oe, _ = analysis.case_mix(con, "insufficient_effect", as_of=END, min_sessions=10)
    finally:
        con.close()
    r = oe[oe["clinician"] == CODE].iloc[0]
    metric = next(m for m in at.metric if m.label == "Observed / expected")
    assert metric.value == f"{r['oe_ratio']:.2f}"
    assert metric.proto.delta == (f"{r['observed_n']:.0f} / {r['expected_n']:.1f} · 95 %: "
                                  f"{r['oe_low']:.2f}–{r['oe_high']:.2f}")
    titles = [json.loads(s)["layout"]["title"]["text"] for s in charts(at)]
    assert any(f"risk-adjusted CUSUM for {CODE}" in t for t in titles)
    oe_chart = json.loads(charts(at)[1])
    assert oe_chart["data"][0]["y"] == [CODE], "the O/E chart holds the clinician's own row only"


def test_the_clinician_filter_from_the_url_is_ignored():
    with_filter = clinician("my_results", clin=["C01", "C02"])
    assert not [m for m in with_filter.sidebar.multiselect if m.label == "Clinicians"]
    plain = clinician()
    assert with_filter.dataframe[0].value.equals(plain.dataframe[0].value)


# --------------------------------------------------------------------------------------------------------------
# Fail closed: no code, two codes, an unknown code; a code from the URL counts for nothing
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("claims, roles_csv, problem, words", [
    ({"roles": ["clinician"]}, None, "no code", "no clinician code is given for you"),
    ({"roles": ["clinician"], "clinician_code": "  "}, None, "no code", "no clinician code is given for you"),
    ({"roles": ["clinician"], "clinician_code": ["C01", "C03"]}, None, "two codes",
     "more than one clinician code is given for you (C01, C03)"),
    ({**VERIFIED}, "clinician,C01\n{email},clinician,C03\n", "two codes",
     "more than one clinician code is given for you (C01, C03)"),
    ({"roles": ["clinician"], "clinician_code": "C99"}, None, "unknown code",
     "the clinician code C99, but the database has no clinician with that code"),
    ({"roles": ["clinician"], "clinician_code": "c03"}, None, "unknown code", "the clinician code c03"),
    ({**VERIFIED}, "clinician,\n", "no code", "no clinician code is given for you"),
    # with another role beside it: the whole sign-in is refused until the configuration is fixed
    ({"roles": ["doctor", "clinician"]}, None, "no code", "no clinician code is given for you"),
])
def test_the_clinician_role_without_exactly_one_known_code_sees_nothing(claims, roles_csv, problem, words,
                                                                          tmp_path, menu):
    if roles_csv:
        write(tmp_path / "roles.csv", "email,role,clinician_code\n" + f"{EMAIL}," + roles_csv.format(email=EMAIL))
    for page in (None, "my_results", "about"):
        at = signed_in(claims, page, preview_code=CODE)  # a code in the URL unlocks nothing outside demo mode
        assert at.title[0].value == "No access", page
        assert any(words in e.value for e in at.error), [e.value for e in at.error]
        assert shows_no_data(at) and not menu["visible"] and menu["position"] == "hidden"
        assert [b.label for b in at.button] == ["Sign out"]
    refused = [r for r in log() if r["event"] == "refused"]
    assert refused and {(r["user"], r["what"]) for r in refused} == {(EMAIL, f"dashboard: clinician role, {problem}")}
    assert not [r for r in log() if r["event"] == "page_view"]


def test_a_code_in_the_url_never_changes_whose_results_are_shown(codes):
    at = clinician("my_results", preview_code="C01", clinician="C01")
    screen = everything_on_screen(at)
    assert mentions(screen, CODE) and not mentions(screen, "C01")
    assert {r["role"] for r in log()} == {"clinician:C03"}


@pytest.mark.parametrize("page", [p.name for p in access.PAGES if p.name not in ("my_results", "about")])
def test_every_other_page_is_refused_to_the_clinician(page):
    at = clinician(page)
    if page == ROOT_PAGE:  # the root URL is the start page: My results
        assert at.title[0].value == "My results"
        assert not [r for r in log() if r["event"] == "refused"]
        return
    assert at.title[0].value == "Not available for your role"
    assert shows_no_data(at)
    refused = [r for r in log() if r["event"] == "refused"]
    assert [(r["user"], r["role"], r["what"]) for r in refused] == [(EMAIL, "clinician:C03", f"page {page}")]


def test_about_is_open_to_the_clinician():
    at = clinician("about")
    assert at.title[0].value == "About the metrics"


# --------------------------------------------------------------------------------------------------------------
# Demo mode: "Preview as role" offers the clinician, and a code to preview
# --------------------------------------------------------------------------------------------------------------


def test_demo_previews_a_clinician_chosen_in_the_sidebar(codes, menu):
    at = demo()
    assert "Clinician (own results)" in at.selectbox(key="w_preview_role").options
    assert not [s for s in at.selectbox if s.key == "w_preview_code"], "a code box only when previewing a clinician"
    at.selectbox(key="w_preview_role").set_value("clinician").run()
    assert at.title[0].value == "My results" and menu["visible"] == ["my_results", "about"]
    box = at.selectbox(key="w_preview_code")
    assert list(box.options) == codes and box.value == codes[0]
    box.set_value("C05").run()
    assert at.title[0].value == "My results"
    assert any("clinician C05" in c.value for c in at.caption)
    assert at.query_params["preview_code"] == "C05" and at.query_params["role"] == "clinician"
    screen = everything_on_screen(at)
    assert mentions(screen, "C05") and [c for c in codes if c != "C05" and mentions(screen, c)] == []
    views = [r for r in log() if r["event"] == "page_view"]
    assert [(r["user"], r["role"]) for r in views] == [("demo", f"clinician:{codes[0]}"), ("demo", "clinician:C05")]


def test_demo_keeps_the_previewed_code_in_the_url():
    at = demo(role="clinician", preview_code="C07")
    assert at.title[0].value == "My results" and at.selectbox(key="w_preview_code").value == "C07"
    at = demo(role="clinician", preview_code="C99")  # not a clinician of the database: the first one
    assert at.selectbox(key="w_preview_code").value == "C01"
    at = demo("clinicians", role="clinician", preview_code="C07")
    assert at.title[0].value == "Not available for your role"
    assert [(r["role"], r["what"]) for r in log() if r["event"] == "refused"] == [("clinician:C07",
                                                                                    "page clinicians")]
