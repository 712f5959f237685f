"""The monthly quality report (issue 12, item 3): `python -m pipelines report --month YYYY-MM [--lang] [--release]
-o FILE.pdf|.html`, read back with pypdf. Figures are checked against the hand-made metrics fixture
(tests/fixtures/metrics, hand counts in tests/test_metrics.py and tests/test_costs.py), March 2024:
primary sessions S01 S02 S04 S05; S03 (2024-03-18) corrects S02 with 6 Botox units in 10 minutes by A01."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pypdf
import pytest

from conftest import query
from pipelines.__main__ import main
from pipelines.release import access


@pytest.fixture(scope="module")
def fixture_db(metrics_db, tmp_path_factory) -> Path:
    """A private copy of the metrics fixture database (the report logs to the access log beside it)."""
    folder = tmp_path_factory.mktemp("report_db")
    db = folder / "clinic.duckdb"
    shutil.copy(metrics_db, db)
    return db


def pdf_pages(path: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(str(path)).pages]


def report(db: Path, out: Path, *args: str) -> int:
    return main(["report", "--db", str(db), "-o", str(out), *args])


@pytest.fixture(scope="module")
def internal_nb(fixture_db, tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("report_out") / "rapport-2024-03.pdf"
    assert report(fixture_db, out, "--month", "2024-03") == 0
    return pdf_pages(out)


def test_the_headline_table_counts_the_month_by_hand(internal_nb):
    text = " ".join(internal_nb)
    assert "Kvalitetsrapport mars 2024" in text
    assert "Behandlinger utført i mars 2024" in text
    # insufficient effect: primary cosmetic S01 S02 S04 S05; judged 10-28 d only S01 and S02; event S02 -> 1 / 2
    assert "Manglende effekt 1 / 2 50,0 %" in text
    # correction: the four primaries; S02 corrected by S03 within 28 days -> 1 / 4
    assert re.search(r"Korrigering \(gratis etterbehandling\) 1 / 4 25,0 %", text)
    # eyelid ptosis: upper face S01 S02 S03 S04; answered 0-28 d S01 S02; event S01 -> 1 / 2
    assert "Hengende øyelokk 1 / 2 50,0 %" in text
    # asymmetry: face S01-S05; answered 10-28 d S01 S02; none -> 0 / 2
    assert "Asymmetri 0 / 2 0,0 %" in text
    # the reference range and the completeness (2 of the 4 eligible sessions judged: 50 %)
    assert re.search(r"Manglende effekt 1 / 2 50,0 % [\d,]+–[\d,]+ % 2–17 % 50 %", text)


def test_the_costs_count_the_correction_by_hand(internal_nb):
    text = " ".join(internal_nb)
    # S03: 6 units x 32 NOK (price from 2024-03-10) + 10 min x 30 NOK + 100 NOK consumables = 592 NOK; 4 primaries
    # -> 14 800 NOK per 100 primary treatments (the numbers in Norwegian format: a no-break space groups thousands)
    assert re.search(r"mars 2024 1 4 kr\s592 kr\s14\s800", text), text
    # with its 95 % interval: Garwood limits for 1 correction (0.0253, 5.5716) x 592 NOK x 100 / 4 primaries
    assert re.search(r"kr\s14\s800 \(kr\s375–kr\s82\s460\)", text), text
    # the same month a year before has no data
    assert "mars 2023 – – – –" in text
    # this year so far: January-March 2024, primaries S07-S10, S11, S12, S14, S01, S02, S04, S05 = 11, one
    # correction (592 NOK) -> 5 382 per 100; the last 12 months add S13 (October 2023): 12 -> 4 933
    assert re.search(r"jan\. 2024–mars 2024 1 11 kr\s592 kr\s5\s382", text), text
    assert re.search(r"apr\. 2023–mars 2024 1 12 kr\s592 kr\s4\s933", text), text


def test_every_page_carries_the_provenance(internal_nb, fixture_db):
    assert len(internal_nb) >= 2
    snapshot = query(fixture_db, "SELECT version FROM snapshot_info")[0][0]
    for page in internal_nb:
        assert f"Øyeblikksbilde: {snapshot}" in page
        assert re.search(r"Data til og med: (\d{2}\.\d{2}\.\d{4}) · Talt per: \1", page)  # internal: as of the data
        assert "Bruk: internt: små tall er ikke skjult" in page
    assert str(fixture_db) not in " ".join(internal_nb)  # no machine path


def test_the_report_is_in_the_access_log(internal_nb, fixture_db):
    entries = [e for e in access.read_log(access.log_path_for(fixture_db)) if e["what"].startswith("report 2024-03")]
    assert entries and entries[0]["event"] == "export" and entries[0]["what"] == "report 2024-03 -> rapport-2024-03.pdf"
    assert len(entries[0]["file_sha256"]) == 64


def test_a_release_report_shows_only_suppressed_rounded_figures(fixture_db, tmp_path):
    out = tmp_path / "release.pdf"
    assert report(fixture_db, out, "--month", "2024-03", "--release", "--lang", "en") == 0
    text = " ".join(pdf_pages(out))
    assert "Quality report March 2024" in text
    # every numerator here is 0 or 1 and every denominator under 10: hidden, never printed
    assert "1 / 2" not in text and "1 / 4" not in text and "50.0 %" not in text and "25.0 %" not in text
    assert "Insufficient effect – / – – " in text and "small count: hidden" in text
    assert "592" not in text and "14,800" not in text  # the month's one correction is a small cell
    assert "Use: for use outside the clinic: numerators 1-4 and denominators under 10 hidden" in text
    # signals name clinicians: left out
    assert "Signals and their reviews name clinicians and are internal" in text
    assert "A01" not in text and "B02" not in text


def test_html_has_the_same_content_and_the_charts(fixture_db, tmp_path):
    out = tmp_path / "rapport.html"
    assert report(fixture_db, out, "--month", "2024-03") == 0
    html = out.read_text(encoding="utf-8")
    assert "<h1>Kvalitetsrapport mars 2024</h1>" in html
    assert "Manglende effekt</td><td class=num>1 / 2</td><td class=num>50,0" in html
    # six control charts and the cost chart, drawn by kaleido as images (the suite installs chromium)
    assert html.count("data:image/png;base64,") == 7


@pytest.mark.parametrize("args, message", [
    (["--month", "2024-3"], "--month `2024-3` is not a month; write YYYY-MM"),
    (["--month", "2024-13"], "--month `2024-13` is not a month"),
    (["--month", "2025-01"], "has no data yet. Choose --month 2024-06 or earlier"),
    (["--month", "2020-01"], "is before them"),
])
def test_a_month_outside_the_data_says_what_to_choose(fixture_db, tmp_path, capsys, args, message):
    assert report(fixture_db, tmp_path / "r.pdf", *args) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()


def test_the_output_must_be_pdf_or_html_and_never_a_clinic_file(fixture_db, tmp_path, capsys):
    assert report(fixture_db, tmp_path / "r.docx", "--month", "2024-03") == 1
    assert "the report is written as .pdf or .html" in capsys.readouterr().err
    target = fixture_db.with_name("clinic.snapshots") / "r.pdf"
    # inside the kept snapshots: refused like an export's -o (pipelines.release.cli.check_output)
    assert report(fixture_db, target, "--month", "2024-03") == 1
    assert "is inside the kept snapshots" in capsys.readouterr().err
    assert not target.exists()


def test_a_release_of_a_month_whose_end_the_data_have_not_reached_is_refused(fixture_db, tmp_path, capsys):
    newest = query(fixture_db, "SELECT max(treated_on) FROM treatments")[0][0]
    month = f"{newest:%Y-%m}"
    assert report(fixture_db, tmp_path / "r.pdf", "--month", month, "--release") == 1
    assert "release an earlier period" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_with_reviews(tmp_path_factory):
    """A small demo clinic (data through 2026-06-30) with one reviewed episode and a process change in May 2026."""
    import datetime as dt

    from pipelines.demo.build import run_demo
    from pipelines.metrics import signals
    from pipelines.release import reviews

    folder = tmp_path_factory.mktemp("report_demo")
    db = folder / "clinic.duckdb"
    run_demo(db, n_treatments=3000, end_date=dt.date(2026, 6, 30), progress=False)
    log = access.log_path_for(db)
    reviews.add_process_change(db, {"changed_on": "2026-05-12", "description": "Ny fortynningsrutine for Vistabel",
                                    "outcome": "", "product": "", "clinician": "", "rebase": "no"},
                               user="lege@klinikk.no", role="doctor", access_log=log, today=dt.date(2026, 6, 30))
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        episodes = signals.episode_list(con, filters=__import__("pipelines.metrics.counting", fromlist=["Filters"])
                                        .Filters(date_to=dt.date(2026, 5, 31)))
    finally:
        con.close()
    concerning = episodes[episodes["concern"].astype(bool)]
    assert len(concerning) >= 2
    episode = concerning.iloc[0]
    reviews.record_review(reviews.reviews_path_for(db), episode,
                          reviews.Review("action_taken", "Gjennomgått med behandler <b>x</b> & co", "Kari Lege",
                                         dt.date(2026, 7, 15)),
                          user="lege@klinikk.no", role="doctor", access_log=log)
    return db, episode, len(concerning)


def test_the_report_holds_the_reviews_and_the_months_process_changes(demo_with_reviews, tmp_path):
    db, episode, listed = demo_with_reviews
    out = tmp_path / "rapport.pdf"
    assert report(db, out, "--month", "2026-05") == 0
    text = " ".join(pdf_pages(out))
    assert "Prosessendringer denne måneden" in text
    assert "12.05.2026 Ny fortynningsrutine for Vistabel hele klinikken nei" in text
    assert f"står på listen i alt, 1 av dem er vurdert" in text
    assert f"{listed} står på listen i alt" in text
    assert "Tiltak iverksatt (lege@klinikk.no" in text
    assert "Gjennomgått med behandler <b>x</b> & co" in text  # a reviewer's text is text, never PDF markup
    assert "tiltak: Kari Lege innen 15.07.2026" in text
    assert text.count("ikke vurdert") == listed - 1
    # a release leaves the reviews out, keeps the clinic-wide change
    release = tmp_path / "release.pdf"
    assert report(db, release, "--month", "2026-05", "--release") == 0
    released = " ".join(pdf_pages(release))
    assert "Gjennomgått med behandler" not in released and "lege@klinikk.no" not in released
    assert "Ny fortynningsrutine for Vistabel" in released
