"""Alerts after a load (issue 12, item 4): one e-mail per load with the new concerning signal episodes, sent to a
real local SMTP server (aiosmtpd) in the test; nothing configured = nothing happens; a mail server that is down
or silent never fails the load nor holds it long, and the episodes are sent again with the next load."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import socket
import threading
import time
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from pipelines.__main__ import main
from pipelines.demo.build import COLUMN_MAP
from pipelines.demo.generate import write_demo_exports
from pipelines.release import access, alerts

END = dt.date(2026, 6, 30)
ENV_KEYS = alerts.KEYS + (alerts.CONFIG_ENV, alerts.STATE_ENV)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in ENV_KEYS:
        monkeypatch.delenv(k, raising=False)


def configure(monkeypatch, port: int, **extra: str) -> None:
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(port))
    monkeypatch.setenv("CLINIC_ALERT_FROM", "kvalitet@klinikk.example")
    monkeypatch.setenv("CLINIC_ALERT_TO", "lege@klinikk.example, leder@klinikk.example")
    monkeypatch.setenv("CLINIC_DASHBOARD_URL", "https://klinikk.example/dash/")
    for k, v in extra.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, list[Path]]:
    """The demo's export files, split into a first load (reference files and 2023-2024) and a second (2025-26)."""
    out = tmp_path_factory.mktemp("alert_exports")
    files = write_demo_exports(out, n_treatments=3000, end_date=END)
    first = [p for p in files if not any(y in p.name for y in ("2025", "2026"))]
    second = [p for p in files if p not in first]
    assert len(second) == 4 and {"clinicians.csv", "product_prices.csv"} <= {p.name for p in first}
    return {"first": first, "second": second, "all": files}


def load(files, db: Path, *extra: str) -> int:
    return main(["load", *map(str, files), "--db", str(db), "--no-progress", "--map", str(COLUMN_MAP), *extra])


def bodies(inbox: Inbox) -> list[str]:
    return [m.get_content() for _, _, m in inbox.messages]


def episode_lines(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("- ")]


def test_nothing_configured_means_no_alert_no_state_and_no_error(exports, tmp_path, capsys):
    db = tmp_path / "clinic.duckdb"
    assert load(exports["all"], db) == 0
    out = capsys.readouterr().out
    assert "alert" not in out
    assert not alerts.state_path_for(db).exists()


def test_a_load_mails_the_new_concerning_signals_once_and_a_later_load_only_what_is_new(
        exports, tmp_path, monkeypatch, smtp, capsys):
    inbox, port = smtp
    configure(monkeypatch, port)
    db = tmp_path / "clinic.duckdb"

    assert load(exports["first"], db) == 0
    out = capsys.readouterr().out
    con = duckdb.connect(str(db), read_only=True)
    first_listed = alerts.concerning_episodes(con)
    con.close()
    if first_listed:
        assert f"alert: {len(first_listed)} new signal(s) e-mailed to 2 recipient(s)" in out
        assert len(inbox.messages) == 1
    else:
        assert "alert: no new signals" in out
        assert inbox.messages == []
    sent_first = len(inbox.messages)

    assert load(exports["second"], db) == 0
    out = capsys.readouterr().out
    con = duckdb.connect(str(db), read_only=True)
    now_listed = alerts.concerning_episodes(con)
    con.close()
    before = {alerts.episode_key(e) for e in first_listed}
    new = [e for e in now_listed if alerts.episode_key(e) not in before]
    assert new, "the second half of the demo brings new signals (C02's insufficient effect from May 2025)"
    assert len(inbox.messages) == sent_first + 1
    sender, recipients, msg = inbox.messages[-1]
    assert sender == "kvalitet@klinikk.example"
    assert recipients == ["lege@klinikk.example", "leder@klinikk.example"]
    body = msg.get_content()
    lines = episode_lines(body)
    assert len(lines) == len(new)  # only what was not listed after the first load
    assert msg["Subject"].startswith(f"{len(new)} ")
    # the planted problem: clinician C02's insufficient effect, CUSUM, from May 2025 (hand-checked in the demo)
    assert any(line.startswith("- Manglende effekt | C02 | CUSUM krysset terskelen | begynte mai 2025")
               for line in lines), body
    assert "https://klinikk.example/dash/clinicians?outcome=insufficient_effect&clinician=C02" in body
    assert f"alert: {len(new)} new signal(s) e-mailed to 2 recipient(s)" in out

    # the same files again: a publish with nothing new, nothing sent
    assert load(exports["second"], db) == 0
    assert "alert: no new signals" in capsys.readouterr().out
    assert len(inbox.messages) == sent_first + 1

    # every alert is in the access log
    entries = [e for e in access.read_log(access.log_path_for(db)) if e["event"] == "alert"]
    assert len(entries) == sent_first + 1
    assert entries[-1]["what"] == f"{len(new)} new signal(s) e-mailed to 2 recipient(s)"


def _patient_data(db: Path) -> tuple[set[str], set[str], set[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        refs = {r[0] for r in con.execute("SELECT DISTINCT patient_ref FROM treatments").fetchall()}
        ids = {r[0] for r in con.execute("SELECT treatment_id FROM treatments").fetchall()}
        days = {r[0] for r in con.execute("SELECT DISTINCT treated_on FROM treatments").fetchall()}
    finally:
        con.close()
    dates = {d.isoformat() for d in days} | {d.strftime("%d.%m.%Y") for d in days}
    return refs, ids, dates


def test_the_message_never_holds_a_patient_reference_a_session_id_or_a_session_date(
        exports, tmp_path, monkeypatch, smtp):
    inbox, port = smtp
    configure(monkeypatch, port)
    db = tmp_path / "clinic.duckdb"
    assert load(exports["all"], db, "--no-alerts") == 0
    assert inbox.messages == [] and not alerts.state_path_for(db).exists()
    result = alerts.alert_after_load(db, today=dt.date(2026, 7, 1))
    assert result.status == "sent" and len(inbox.messages) == 1
    msg = inbox.messages[0][2]
    text = msg.get_content() + str(msg["Subject"])
    refs, ids, dates = _patient_data(db)
    words = set(text.replace("|", " ").replace("?", " ").replace("&", " ").replace("=", " ").split())
    assert not words & refs
    assert not words & ids
    assert not [d for d in dates if d in text]
    # the CUSUM episode starts on a session's day (2025-05-28 in this demo); only its month is written
    assert "mai 2025" in text and "28.05.2025" not in text and "2025-05-28" not in text


def test_a_mail_server_that_is_down_never_fails_the_load_and_the_alert_comes_with_the_next_load(
        exports, tmp_path, monkeypatch, smtp, capsys):
    inbox, port = smtp
    db = tmp_path / "clinic.duckdb"
    configure(monkeypatch, free_port())  # nobody listens there
    started = time.monotonic()
    assert load(exports["all"], db) == 0
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert "published" in out
    assert "alert: NOT sent (mail server 127.0.0.1:" in out and "will be sent again with the next load" in out
    state = json.loads(alerts.state_path_for(db).read_text())
    pending = len(state["pending"])
    assert pending > 0
    assert took < 60  # the whole load; the refused connection itself costs nothing

    configure(monkeypatch, port)  # the server is back; the next load (here the same files again) sends them
    assert load(exports["second"], db) == 0
    out = capsys.readouterr().out
    assert f"alert: {pending} new signal(s) e-mailed" in out
    body = inbox.messages[0][2].get_content()
    assert len(episode_lines(body)) == pending
    assert all("(sendt på nytt: forrige forsøk kom ikke fram)" in line for line in episode_lines(body))
    assert json.loads(alerts.state_path_for(db).read_text())["pending"] == []


def test_a_silent_mail_server_holds_the_load_no_longer_than_the_deadline(exports, tmp_path, monkeypatch):
    db = tmp_path / "clinic.duckdb"
    assert load(exports["all"], db, "--no-alerts") == 0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection and never says a word
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        configure(monkeypatch, listener.getsockname()[1])
        started = time.monotonic()
        result = alerts.alert_after_load(db, deadline_seconds=1.5)
        took = time.monotonic() - started
    finally:
        listener.close()
    assert result.status == "failed"
    assert "did not answer within 1.5 s" in result.reason or "timed out" in result.reason
    # the signals are computed before the deadline starts; the wait for the server is what is bounded
    assert took < 1.5 + 30
    assert json.loads(alerts.state_path_for(db).read_text())["pending"]


def test_a_broken_configuration_publishes_the_load_and_says_what_to_fix(exports, tmp_path, monkeypatch, capsys):
    db = tmp_path / "clinic.duckdb"
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_ALERT_FROM", "kvalitet@klinikk.example")
    assert load(exports["all"], db) == 0
    out = capsys.readouterr().out
    assert "published" in out
    assert "alert: NOT sent (configuration: CLINIC_SMTP_HOST is set but CLINIC_ALERT_TO is not" in out
    assert json.loads(alerts.state_path_for(db).read_text())["pending"]


@pytest.mark.parametrize("values, message", [
    ({"CLINIC_ALERT_TO": "a@b.example"}, "CLINIC_SMTP_HOST is not"),
    ({"CLINIC_SMTP_HOST": "h", "CLINIC_ALERT_TO": "a@b.example"}, "CLINIC_ALERT_FROM is not set"),
    ({"CLINIC_SMTP_HOST": "h", "CLINIC_ALERT_TO": "a@b.example", "CLINIC_ALERT_FROM": "x@y.example",
      "CLINIC_SMTP_PORT": "smtp"}, "CLINIC_SMTP_PORT `smtp` is not a port number"),
    ({"CLINIC_SMTP_HOST": "h", "CLINIC_ALERT_TO": "a@b.example\r\nBcc: evil@x.example", "CLINIC_ALERT_FROM": "x@y.example"},
     "is not an e-mail address"),
    ({"CLINIC_SMTP_HOST": "h", "CLINIC_ALERT_TO": "a@b.example", "CLINIC_ALERT_FROM": "x@y.example",
      "CLINIC_SMTP_USER": "u"}, "give both CLINIC_SMTP_USER and CLINIC_SMTP_PASSWORD"),
    ({"CLINIC_SMTP_HOST": "h", "CLINIC_ALERT_TO": "a@b.example", "CLINIC_ALERT_FROM": "x@y.example",
      "CLINIC_SMTP_STARTTLS": "maybe"}, "CLINIC_SMTP_STARTTLS `maybe` must be yes or no"),
])
def test_configuration_errors_name_the_key(tmp_path, values, message):
    with pytest.raises(alerts.AlertConfigError, match=message.replace("`", ".").replace("(", ".")):
        alerts.read_config(tmp_path / "clinic.duckdb", values)


def test_the_keys_may_come_from_a_file_and_the_environment_wins(tmp_path):
    db = tmp_path / "clinic.duckdb"
    path = alerts.config_path_for(db)
    path.write_text('CLINIC_SMTP_HOST = "smtp.klinikk.example"\nCLINIC_SMTP_PORT = 587\n'
                    'CLINIC_ALERT_FROM = "kvalitet@klinikk.example"\nCLINIC_ALERT_TO = "a@klinikk.example,b@klinikk.example"\n'
                    'CLINIC_SMTP_STARTTLS = "yes"\nCLINIC_ALERT_LANG = "en"\n', encoding="utf-8")
    config = alerts.read_config(db, {"CLINIC_ALERT_TO": "c@klinikk.example"})
    assert (config.host, config.port, config.starttls, config.lang) == ("smtp.klinikk.example", 587, True, "en")
    assert config.recipients == ("c@klinikk.example",)
    path.write_text(path.read_text() + 'CLINIC_SMTP_USER = "u"\nCLINIC_SMTP_PASSWORD = "secret"\n')
    os.chmod(path, 0o644)
    with pytest.raises(alerts.AlertConfigError, match="others may read it .*chmod 600"):
        alerts.read_config(db, {})
    os.chmod(path, 0o600)
    assert alerts.read_config(db, {}).user == "u"
    path.write_text("CLINIC_SMTP_HOSTNAME = 'x'\n")
    with pytest.raises(alerts.AlertConfigError, match="unknown key.*CLINIC_SMTP_HOSTNAME"):
        alerts.read_config(db, {})


def _ep(kind, rule, outcome, clinician, first):
    return {"kind": kind, "rule": rule, "outcome": outcome, "clinician": clinician, "first_date": first,
            "first_month": first[:7]}


def test_what_counts_as_new():
    a = _ep("cusum", "cusum", "asymmetry", "C01", "2025-03-04")
    b = _ep("spc", "sigma", "bruising", "", "2025-04-01")
    funnel_then = _ep("funnel", "funnel_998", "asymmetry", "C03", "2025-05-31")
    funnel_now = _ep("funnel", "funnel_998", "asymmetry", "C03", "2025-06-30")  # judged again at the new data date
    a_again = _ep("cusum", "cusum", "asymmetry", "C01", "2026-01-10")  # a new run after the first ended
    # first check ever: everything listed is new
    assert alerts.to_send({"listed": None, "pending": []}, [a, b]) == [dict(a, retry=False), dict(b, retry=False)]
    state = {"listed": [alerts.episode_key(e) for e in (a, b, funnel_then)], "pending": []}
    # the same episodes again, and the funnel flag judged at a later date, are not new
    assert alerts.to_send(state, [a, b, funnel_now]) == []
    # a new CUSUM run of the same chart is new
    assert alerts.to_send(state, [a_again, b]) == [dict(a_again, retry=False)]
    # a pending episode is sent again while it is still listed, and dropped once it is not
    state = {"listed": [alerts.episode_key(e) for e in (a, b)], "pending": [a]}
    assert alerts.to_send(state, [a, b]) == [dict(a, retry=True)]
    assert alerts.to_send(state, [b]) == []
