"""What the real-browser tests share: the dashboard under `streamlit run` on a free port, in demo mode
(`dashboard_server`) or behind a local OpenID Connect provider (`signed_in_stack`, oidc-provider-mock), and waiting
for a page's script to finish (`settle`). The repository's .streamlit/ is never touched: each server reads a
secrets file of its own (`--secrets.files`)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, what: str) -> None:
    """Until `url` answers 200; a process that ends first, or 40 s without an answer, raises with its stderr."""
    for _ in range(160):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.25)
    raise RuntimeError(f"{what} did not start: " + proc.stderr.read().decode(errors="replace")[-2000:])


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def start_dashboard(port: int, secrets_file: Path, env: Mapping[str, str | None]) -> subprocess.Popen:
    """`streamlit run streamlit_app.py` on 127.0.0.1:`port`, headless, with `env` added to this process's (a None
    value removes the variable)."""
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets_file)],
        cwd=ROOT, env=full, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)


@contextmanager
def dashboard_server(db: Path) -> Iterator[str]:
    """The dashboard in demo mode (asked for, as `make run` does) on `db`, with no secrets (no sign-in) and the
    access log beside the database (`db`.access.jsonl). Yields its base URL."""
    port = free_port()
    proc = start_dashboard(port, db.with_name("no-secrets.toml"),
                           {"CLINIC_DB": str(db), "CLINIC_ACCESS_LOG": str(db.with_suffix(".access.jsonl")),
                            "CLINIC_DEMO": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/_stcore/health", proc, "streamlit")
        yield base
    finally:
        stop(proc)


@contextmanager
def signed_in_stack(tmp: Path, db: Path, users: Mapping[str, dict], roles_csv: str) -> Iterator[dict]:
    """The identity provider (oidc-provider-mock, one predefined user per `users` entry: sub -> claims) and the
    dashboard in sign-in mode on `db` (never demo mode: CLINIC_DEMO is removed), on free ports; the secrets file,
    the role file (`roles_csv`, its whole text) and the access log under `tmp`. Yields {base, log, db}."""
    idp_port, app_port = free_port(), free_port()
    issuer, base = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{app_port}"
    (tmp / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "{base}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "clinic-dashboard"\n'
        'client_secret = "test-only"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n', encoding="utf-8")
    (tmp / "roles.csv").write_text(roles_csv, encoding="utf-8")
    claims = [arg for sub, c in users.items() for arg in ("--user-claims", json.dumps({"sub": sub, **c}))]
    idp = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(idp_port), *claims],
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    env = {"CLINIC_DB": str(db), "CLINIC_ACCESS_LOG": str(tmp / "access.jsonl"),
           "CLINIC_ROLES_FILE": str(tmp / "roles.csv"), "CLINIC_DEMO": None}
    app = start_dashboard(app_port, tmp / "secrets.toml", env)
    try:
        wait_up(f"{issuer}/.well-known/openid-configuration", idp, "oidc-provider-mock")
        wait_up(f"{base}/_stcore/health", app, "streamlit")
        yield {"base": base, "log": tmp / "access.jsonl", "db": db}
    finally:
        stop(app)
        stop(idp)


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished running (it may start a moment after an interaction)."""
    page.wait_for_timeout(250)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
