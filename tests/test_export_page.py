"""The Export page's release rule (security issue 10, parts 5 and 9) through Streamlit's AppTest, signed in.

- Numbers in the URL (`?hide_num=inf`, `1e309`, `-1`, `abc`, a value below the default) gave a traceback or a
  looser rule; now they give a message and the default rule, and a link can never loosen the rule, not even for an
  administrator (who may loosen it on the page itself).
- Release files follow the library's rule: a whole calendar month, quarter or year picked on the page, counts
  rounded to 5, and the page says so in one sentence."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from app_session import AUTH, isolated_app
from conftest import ROOT
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from pipelines.demo.build import run_demo

TIMEOUT = 60
EMAIL = {"auditor": "revisor@klinikk.no", "admin": "admin@klinikk.no"}
BAD_URL = "The link held a value this page cannot use for"
RULE_SENTENCE = ("Release files cover one whole calendar month, quarter or year, hide small counts and round every "
                 "other count to the nearest 5")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("export_page") / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    return db


@pytest.fixture(autouse=True)
def _isolated(demo_db, tmp_path, monkeypatch):
    yield from isolated_app(demo_db, tmp_path, monkeypatch)


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file_id -> the callable a download button registered (what the server runs on a click)."""
    registered: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        registered[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return registered


def export_page(role: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": EMAIL[role], "roles": [role]}
    at.query_params["lang"] = "en"
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page("dashboard/pages/export.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def rule_shown(at: AppTest) -> tuple[int, int]:
    return at.number_input(key="w_hide_num").value, at.number_input(key="w_hide_den").value


def click(at: AppTest, downloads: dict, label: str) -> str:
    button = next(b for b in at.get("download_button") if b.label == label)
    return downloads[button.proto.deferred_file_id]().decode("utf-8")


@pytest.mark.parametrize("role", ["auditor", "admin"])
@pytest.mark.parametrize("query, names", [
    ({"hide_num": "inf", "hide_den": "1e309", "consumables": "nan"}, "hide_num, hide_den, consumables"),
    ({"hide_num": "-1", "hide_den": "abc"}, "hide_num, hide_den"),
    ({"hide_num": "1", "hide_den": "2"}, "hide_num, hide_den"),  # looser than the default: never from a link
    ({"hide_num": "4.5", "hide_den": "9"}, "hide_num, hide_den"),
    ({"hide_num": "99999999999999999999", "consumables": "-inf"}, "hide_num, consumables"),
])
def test_bad_numbers_in_the_url_give_a_message_and_the_default_rule(role, query, names, downloads):
    at = export_page(role, outcome="bruising", **query)
    assert f"{BAD_URL}: {names}." in warnings(at)
    assert rule_shown(at) == (4, 10)
    assert "numerators 1–4 and denominators under 10 hidden" in texts(at)
    body = click(at, downloads, "Download Funnel")
    assert "# suppression: numerators 1-4 and denominators under 10 hidden, with complementary suppression" in \
        body.splitlines()
    if "consumables" in query:
        assert at.number_input(key="w_consumables").value == 100.0


def test_a_stricter_rule_from_the_url_is_taken_without_a_message():
    at = export_page("auditor", outcome="bruising", hide_num="9", hide_den="30")
    assert rule_shown(at) == (9, 30) and BAD_URL not in warnings(at)


def test_only_the_administrators_own_input_loosens_the_rule(downloads):
    at = export_page("admin", outcome="bruising", hide_num="1")
    assert rule_shown(at)[0] == 4 and f"{BAD_URL}: hide_num." in warnings(at)
    at.number_input(key="w_hide_num").set_value(1).run()
    assert not at.exception
    assert rule_shown(at)[0] == 1
    assert "# suppression: numerators 1-1 and denominators under 10 hidden" in click(at, downloads, "Download Rates")


def test_release_files_cover_the_calendar_period_picked_and_say_why(downloads):
    at = export_page("auditor", outcome="bruising", release_period="2025-Q2", **{"from": "2025-05-03"})
    assert RULE_SENTENCE in texts(at)
    assert at.selectbox(key="w_release_period").value == "2025-Q2"
    body = click(at, downloads, "Download Rates")
    lines = body.splitlines()
    # the sidebar's dates do not apply to a release; the release is counted as of the newest month end
    assert "# filters: from 2025-04-01 / to 2025-06-30" in lines and "# release_period: 2025-Q2" in lines
    assert "# as_of: 2026-06-30" in lines
    frame = pd.read_csv(io.StringIO(body), comment="#", dtype=str, keep_default_na=False)
    assert list(frame.period_start) == ["2025-04-01", "2025-05-01", "2025-06-01"]
    shown = [int(v) for c in ("numerator_n", "denominator_n") for v in frame[c] if v != "suppressed"]
    assert shown and all(v % 5 == 0 for v in shown)
    assert set(frame.suppression) <= {"", "suppressed"}
    # a period that is not a whole calendar month, quarter or year cannot be picked: the newest year instead
    at = export_page("auditor", outcome="bruising", release_period="2025-01-01..2025-04-30")
    assert at.selectbox(key="w_release_period").value == "2025"
    # rows longer than the release are not offered (a month's release has no quarterly rows), weeks never
    at = export_page("auditor", outcome="bruising", release_period="2025-03", rates_period="quarter")
    assert at.selectbox(key="w_rates_period").options == ["Month", "Whole period"]
    assert "Week" not in at.segmented_control(key="w_spc_period").options
