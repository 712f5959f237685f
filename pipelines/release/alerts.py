"""Alerts after a load: one e-mail per load when new concerning signal episodes appeared.

What is new: the concerning episodes the overview lists (`export signals`, concern = true) that were not listed
at the last check. What was listed is kept beside the published database (`clinic.alerts.json`, or
`$CLINIC_ALERTS_STATE`), with the episodes whose message could not be delivered: those are sent again with the
next load (while they are still listed). An episode is known by its kind, rule, outcome and clinician, and for a
control chart or CUSUM also by its first date (a new run after an earlier one ended is new); a funnel flag has no
first date of its own (it is judged at the data's newest date), so a clinician's funnel flag is new only when it
was not listed at the last check.

The message names the outcome, the clinician code, the rule in words, the month the episode began and a link to
the chart, and nothing else: never a patient reference, a session id or a session's date (a CUSUM episode starts
on a session's treatment day, so only its month is written).

Configuration (environment first, then the same keys in a TOML file: `$CLINIC_ALERTS_CONFIG`, default
`alerts.toml` beside the database):
    CLINIC_SMTP_HOST, CLINIC_SMTP_PORT (default 25; 465 = SMTP over TLS), CLINIC_ALERT_FROM,
    CLINIC_ALERT_TO (comma-separated), optional CLINIC_SMTP_USER, CLINIC_SMTP_PASSWORD, CLINIC_SMTP_STARTTLS
    (yes/no), CLINIC_DASHBOARD_URL (the links' base, default http://localhost:8501), CLINIC_ALERT_LANG (nb/en).
Nothing configured (no host and no recipients): no alert and no error. A half or broken configuration: the load
still publishes, the message is not sent and the reason is printed (fix-it), and the episodes stay pending.
A mail server that is down or slow never fails the load and holds it at most ALERT_DEADLINE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import smtplib
import ssl
import stat
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pandas as pd

from pipelines.errors import UserError
from pipelines.ingest.store import PRIVATE_FILE_MODE, private_dir
from pipelines.metrics import registry, signals
from pipelines.release import access, export

ALERT_DEADLINE_SECONDS = 8.0  # the longest a load waits for the mail server (connect, talk, send)
SMTP_TIMEOUT_SECONDS = 4.0  # each socket operation
KEYS = ("CLINIC_SMTP_HOST", "CLINIC_SMTP_PORT", "CLINIC_ALERT_FROM", "CLINIC_ALERT_TO", "CLINIC_SMTP_USER",
        "CLINIC_SMTP_PASSWORD", "CLINIC_SMTP_STARTTLS", "CLINIC_DASHBOARD_URL", "CLINIC_ALERT_LANG")
CONFIG_ENV = "CLINIC_ALERTS_CONFIG"
STATE_ENV = "CLINIC_ALERTS_STATE"
DEFAULT_URL = "http://localhost:8501"
STATE_FORMAT = "clinic-alerts/1"
YES = ("yes", "true", "1", "ja", "on")
NO = ("no", "false", "0", "nei", "off", "")

TEXTS = {
    "subject": ("{n} new signal(s) after the load of {day}", "{n} nytt/nye signal(er) etter innlastingen {day}"),
    "intro": ("New signals worth opening appeared when the data were loaded. Each line: outcome, clinician, "
              "what fired, when it began, and the chart.",
              "Nye signaler som bør åpnes kom med innlastingen. Hver linje: utfall, behandler, hva som slo ut, "
              "når det begynte, og diagrammet."),
    "clinic": ("the clinic as a whole", "klinikken samlet"),
    "began": ("began", "begynte"),
    "retry": ("(sent again: the last attempt could not be delivered)", "(sendt på nytt: forrige forsøk kom ikke fram)"),
    "footer": ("Review each signal on the dashboard's signal list. This message holds no patient data.",
               "Vurder hvert signal i signallisten i dashbordet. Meldingen inneholder ingen pasientopplysninger."),
}


class AlertConfigError(UserError):
    """The alert configuration is incomplete or wrong (the message says which key and how to fix it)."""


@dataclass(frozen=True)
class AlertConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str = ""
    password: str = ""
    starttls: bool = False
    dashboard_url: str = DEFAULT_URL
    lang: str = "nb"


@dataclass
class AlertResult:
    status: str  # "off" (nothing configured) | "none" (nothing new) | "sent" | "failed"
    episodes_n: int = 0  # episodes in the message (sent or not)
    recipients_n: int = 0
    reason: str = ""
    message: EmailMessage | None = field(default=None, repr=False)

    def line(self) -> str:
        """One line for the command line's output."""
        if self.status == "sent":
            return f"alert: {self.episodes_n} new signal(s) e-mailed to {self.recipients_n} recipient(s)"
        if self.status == "failed":
            return (f"alert: NOT sent ({self.reason}); the {self.episodes_n} signal(s) will be sent again with the "
                    "next load")
        if self.status == "none":
            return "alert: no new signals"
        return ""


# --------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------


def config_path_for(db_path: Path) -> Path:
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(db_path).with_name("alerts.toml")


def state_path_for(db_path: Path) -> Path:
    env = os.environ.get(STATE_ENV)
    return Path(env) if env else Path(db_path).with_name(Path(db_path).stem + ".alerts.json")


def _file_values(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AlertConfigError(f"{path}: not a readable TOML file ({exc}); write one `KEY = \"value\"` per line, "
                               f"keys: {', '.join(KEYS)}") from None
    unknown = sorted(k for k in data if k not in KEYS)
    if unknown:
        raise AlertConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; the keys are: {', '.join(KEYS)}")
    values = {k: (",".join(str(x) for x in v) if isinstance(v, list) else str(v)) for k, v in data.items()}
    if values.get("CLINIC_SMTP_PASSWORD"):
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AlertConfigError(f"{path} holds CLINIC_SMTP_PASSWORD but others may read it (mode "
                                   f"{stat.S_IMODE(mode):o}); make it owner-only: chmod 600 {path}")
    return values


def read_config(db_path: Path, environ: Mapping[str, str] | None = None) -> AlertConfig | None:
    """The alert configuration, or None when nothing is configured (no host and no recipients).
    AlertConfigError names the missing or wrong key."""
    env = os.environ if environ is None else environ
    values = _file_values(config_path_for(db_path))
    values.update({k: env[k] for k in KEYS if env.get(k) not in (None, "")})
    host = values.get("CLINIC_SMTP_HOST", "").strip()
    to = tuple(a.strip() for a in values.get("CLINIC_ALERT_TO", "").split(",") if a.strip())
    if not host and not to:
        return None
    if not host:
        raise AlertConfigError("CLINIC_ALERT_TO is set but CLINIC_SMTP_HOST is not: name the mail server "
                               "(e.g. CLINIC_SMTP_HOST=smtp.klinikk.no)")
    if not to:
        raise AlertConfigError("CLINIC_SMTP_HOST is set but CLINIC_ALERT_TO is not: give the recipients, "
                               "comma-separated (e.g. CLINIC_ALERT_TO=lege@klinikk.no,kvalitet@klinikk.no)")
    sender = values.get("CLINIC_ALERT_FROM", "").strip()
    if not sender:
        raise AlertConfigError("CLINIC_ALERT_FROM is not set: give the sender address (e.g. "
                               "CLINIC_ALERT_FROM=kvalitet@klinikk.no)")
    for address in (sender, *to):
        if "@" not in address or any(c in address for c in "\r\n<>,; "):
            raise AlertConfigError(f"`{address}` is not an e-mail address (CLINIC_ALERT_FROM / CLINIC_ALERT_TO)")
    port_text = values.get("CLINIC_SMTP_PORT", "25").strip() or "25"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AlertConfigError(f"CLINIC_SMTP_PORT `{port_text}` is not a port number (e.g. 25, 587 or 465)")
    starttls_text = values.get("CLINIC_SMTP_STARTTLS", "no").strip().lower()
    if starttls_text not in YES + NO:
        raise AlertConfigError(f"CLINIC_SMTP_STARTTLS `{starttls_text}` must be yes or no")
    lang = values.get("CLINIC_ALERT_LANG", "nb").strip() or "nb"
    if lang not in ("nb", "en"):
        raise AlertConfigError(f"CLINIC_ALERT_LANG `{lang}` must be nb or en")
    url = values.get("CLINIC_DASHBOARD_URL", DEFAULT_URL).strip().rstrip("/") or DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        raise AlertConfigError(f"CLINIC_DASHBOARD_URL `{url}` must start with http:// or https://")
    user = values.get("CLINIC_SMTP_USER", "").strip()
    password = values.get("CLINIC_SMTP_PASSWORD", "")
    if bool(user) != bool(password):
        raise AlertConfigError("give both CLINIC_SMTP_USER and CLINIC_SMTP_PASSWORD, or neither")
    return AlertConfig(host=host, port=int(port_text), sender=sender, recipients=to, user=user, password=password,
                       starttls=starttls_text in YES, dashboard_url=url, lang=lang)


# --------------------------------------------------------------------------------------------------------------
# What is new
# --------------------------------------------------------------------------------------------------------------


def episode_key(row: Mapping) -> str:
    """An episode's identity: kind, rule, outcome, clinician and (not for a funnel flag) its first date."""
    first = "" if row["kind"] == "funnel" else str(row["first_date"])
    return "|".join([str(row["kind"]), str(row["rule"]), str(row["outcome"]), str(row["clinician"] or ""), first])


def concerning_episodes(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The concerning episodes the overview lists, as of the data's newest date (`export signals`, concern true):
    only the fields a message may carry."""
    frame = export.signals_frame(con)
    frame = frame[frame["concern"] == "true"]
    out = []
    for r in frame.to_dict("records"):
        out.append({"kind": r["kind"], "rule": r["rule"], "outcome": r["outcome"], "clinician": r["clinician"] or "",
                    "first_date": r["first_date"], "first_month": str(r["first_date"])[:7]})
    return out


def _read_state(path: Path) -> dict:
    if not path.exists():
        return {"format": STATE_FORMAT, "listed": None, "pending": []}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("format") != STATE_FORMAT:
            raise ValueError("unknown format")
        return state
    except (OSError, ValueError):
        # an unreadable state: treat as a first check (every listed episode is new), never lose an alert
        return {"format": STATE_FORMAT, "listed": None, "pending": []}


def _write_state(path: Path, state: dict) -> None:
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=True, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def to_send(state: dict, current: list[dict]) -> list[dict]:
    """The episodes a message carries: listed now and either not listed at the last check or still pending from
    a message that was not delivered. The first check ever (no state) counts every listed episode as new."""
    listed_before = set(state["listed"] or [])
    pending = {episode_key(e) for e in state.get("pending", [])}
    out = []
    for e in current:
        k = episode_key(e)
        if k in pending or k not in listed_before:
            out.append(dict(e, retry=k in pending))
    return out


# --------------------------------------------------------------------------------------------------------------
# The message
# --------------------------------------------------------------------------------------------------------------


def _t(key: str, lang: str, **values) -> str:
    en, nb = TEXTS[key]
    return (nb if lang == "nb" else en).format(**values)


def _month(text: str, lang: str) -> str:
    """'mai 2025' / 'May 2025' (CLDR, as the dashboard writes a month out)."""
    from babel import dates as babel_dates

    return babel_dates.format_skeleton("yMMMM", dt.date(int(text[:4]), int(text[5:7]), 1),
                                       locale="nb_NO" if lang == "nb" else "en_US")


def chart_link(episode: Mapping, base_url: str) -> str:
    """The dashboard page that shows the episode's chart: the clinician view for a clinician's signal, the
    complications page's control chart for the clinic as a whole."""
    if episode["clinician"]:
        return f"{base_url}/clinicians?" + urlencode({"outcome": episode["outcome"], "clinician": episode["clinician"]})
    return f"{base_url}/complications?" + urlencode({"outcome": episode["outcome"]})


def message(episodes: list[dict], config: AlertConfig, *, day: dt.date) -> EmailMessage:
    lang = config.lang
    lines = [_t("intro", lang), ""]
    for e in episodes:
        o = registry.get(e["outcome"])
        label = o.label_nb if lang == "nb" else o.label_en
        who = e["clinician"] or _t("clinic", lang)
        rule = signals.rule_words(e["rule"], lang)
        line = f"- {label} | {who} | {rule} | {_t('began', lang)} {_month(e['first_month'], lang)}"
        if e.get("retry"):
            line += " " + _t("retry", lang)
        lines += [line, "  " + chart_link(e, config.dashboard_url)]
    lines += ["", _t("footer", lang)]
    msg = EmailMessage()
    msg["Subject"] = _t("subject", lang, n=len(episodes), day=day.strftime("%d.%m.%Y") if lang == "nb"
                        else day.isoformat())
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.recipients)
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _deliver(msg: EmailMessage, config: AlertConfig) -> None:
    if config.port == 465:
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(msg)


def send(msg: EmailMessage, config: AlertConfig, deadline_seconds: float = ALERT_DEADLINE_SECONDS) -> str:
    """Deliver within the deadline; '' when delivered, else the reason it was not."""
    outcome: dict[str, str] = {}

    def work() -> None:
        try:
            _deliver(msg, config)
            outcome["error"] = ""
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            outcome["error"] = f"mail server {config.host}:{config.port}: {type(exc).__name__}: {exc}"[:300]

    thread = threading.Thread(target=work, name="clinic-alert", daemon=True)
    thread.start()
    thread.join(deadline_seconds)
    if thread.is_alive():
        return f"mail server {config.host}:{config.port} did not answer within {deadline_seconds:g} s"
    return outcome.get("error", "unknown error")


# --------------------------------------------------------------------------------------------------------------
# After a load
# --------------------------------------------------------------------------------------------------------------


def alert_after_load(db_path: Path, *, today: dt.date | None = None, environ: Mapping[str, str] | None = None,
                     deadline_seconds: float = ALERT_DEADLINE_SECONDS) -> AlertResult:
    """Called once a load has published: e-mail the new concerning episodes (one message), remember what is
    listed, keep undelivered episodes pending for the next load. Never raises for the mail server; a broken
    configuration comes back as status "failed" with the reason (the load has published all the same)."""
    db_path = Path(db_path)
    try:
        config = read_config(db_path, environ)
    except AlertConfigError as exc:
        config, config_error = None, str(exc)
    else:
        config_error = ""
        if config is None:
            return AlertResult("off")
    state_path = state_path_for(db_path)
    lock_path = state_path.with_name(state_path.name + ".lock")
    private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _read_state(state_path)
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            current = concerning_episodes(con)
        finally:
            con.close()
        episodes = to_send(state, current)
        if not episodes:
            state.update(listed=sorted(episode_key(e) for e in current), pending=[])
            _write_state(state_path, state)
            return AlertResult("none")
        if config is None:
            reason = f"configuration: {config_error}"
        else:
            msg = message(episodes, config, day=today or dt.date.today())
            reason = send(msg, config, deadline_seconds)
        delivered = not reason
        state.update(listed=sorted(episode_key(e) for e in current),
                     pending=[] if delivered else [{k: v for k, v in e.items() if k != "retry"} for e in episodes])
        _write_state(state_path, state)
    result = AlertResult("sent" if delivered else "failed", episodes_n=len(episodes),
                         recipients_n=len(config.recipients) if config else 0, reason=reason,
                         message=msg if config is not None else None)
    access.append(access.log_path_for(db_path), access.Entry(
        user=export._user(), role="command line", event="alert",
        what=(f"{len(episodes)} new signal(s) e-mailed to {result.recipients_n} recipient(s)" if delivered
              else f"{len(episodes)} new signal(s) not sent: {reason}"[:300])))
    return result
