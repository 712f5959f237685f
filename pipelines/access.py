"""Who may see what, and the access log (Normen: access control, and logging of who saw or exported what).

Roles come from the identity provider's token (a `roles` or `role` claim) or, when the provider sends none, from a
role file mapping e-mail addresses to roles (CSV `email,role`; default `data/roles.csv`, or `$CLINIC_ROLES_FILE`).
The access log is an append-only JSON Lines file beside the published database (`data/clinic.access.jsonl`, or
`$CLINIC_ACCESS_LOG`). Each entry carries the SHA-256 of the previous entry, so an edit or a deleted line breaks
the chain and `verify_log` says where. The app only ever appends; nothing in it can rewrite the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

ROLES = ("doctor", "manager", "auditor", "admin")

# page -> roles that may open it. Session-level case lists are the doctor's (and the admin's) only.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "overview": ("doctor", "manager", "admin"),
    "complications": ("doctor", "manager", "admin"),
    "clinicians": ("doctor", "manager", "admin"),
    "responses": ("doctor", "manager", "admin"),
    "costs": ("doctor", "manager", "admin"),
    "data_quality": ("doctor", "auditor", "admin"),
    "export": ("auditor", "admin"),
    "about": ROLES,
    "access_log": ("admin",),
}
# capabilities inside pages
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "case_review": ("doctor", "admin"),  # lists of sessions (pseudonymous references)
    "record_export": ("auditor", "admin"),  # the pseudonymised record-level export
    "unsuppressed_export": ("admin",),  # aggregate exports without small-cell suppression (internal use)
}
EXPORT_ROLES: dict[str, tuple[str, ...]] = {
    "rates": ("auditor", "admin"),
    "funnel": ("auditor", "admin"),
    "spc": ("auditor", "admin"),
    "costs": ("auditor", "admin"),
    "cusum": ("auditor", "admin"),
    "records": ("auditor", "admin"),
    "access_log": ("admin",),
}


def may_open(roles: tuple[str, ...] | list[str], page: str) -> bool:
    return any(r in PAGE_ROLES.get(page, ()) for r in roles)


def may(roles: tuple[str, ...] | list[str], capability: str) -> bool:
    return any(r in CAPABILITIES.get(capability, ()) for r in roles)


def may_export(roles: tuple[str, ...] | list[str], kind: str) -> bool:
    return any(r in EXPORT_ROLES.get(kind, ()) for r in roles)


# --------------------------------------------------------------------------------------------------------------
# Roles from the token or the role file
# --------------------------------------------------------------------------------------------------------------


def default_roles_file() -> Path:
    return Path(os.environ.get("CLINIC_ROLES_FILE") or "data/roles.csv")


def read_role_file(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """e-mail (lower case) -> roles. A missing file means no mapping."""
    path = Path(path) if path else default_roles_file()
    if not path.exists():
        return {}
    out: dict[str, list[str]] = {}
    for i, row in enumerate(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))), start=2):
        email = (row.get("email") or "").strip().lower()
        role = (row.get("role") or "").strip().lower()
        if not email or role not in ROLES:
            raise ValueError(f"{path.name}: row {i}: needs an e-mail and one of the roles {', '.join(ROLES)}")
        out.setdefault(email, []).append(role)
    return {k: tuple(v) for k, v in out.items()}


def roles_for(claims: dict, role_file: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Roles of a signed-in user: the token's `roles` (list or comma/space separated) or `role` claim, else the
    role file by e-mail. Unknown role names are ignored; no role means no access."""
    raw = claims.get("roles", claims.get("role"))
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    found = tuple(r for r in (str(x).strip().lower() for x in (raw or [])) if r in ROLES)
    if found:
        return found
    email = str(claims.get("email") or "").strip().lower()
    if role_file is None:
        role_file = read_role_file()
    return role_file.get(email, ())


# --------------------------------------------------------------------------------------------------------------
# The access log
# --------------------------------------------------------------------------------------------------------------

EVENTS = ("sign_in", "sign_out", "page_view", "export", "refused")


def log_path_for(db_path: Path) -> Path:
    env = os.environ.get("CLINIC_ACCESS_LOG")
    if env:
        return Path(env)
    return Path(db_path).with_name(Path(db_path).stem + ".access.jsonl")


@dataclass(frozen=True)
class Entry:
    user: str
    role: str
    event: str
    what: str
    filters: str = ""
    rows_n: int | None = None
    file_sha256: str = ""


def _digest(record: dict) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "hash"}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _last_line(fh) -> str:
    """The last non-empty line of a file opened in binary mode, read from the end (appends stay cheap as the log
    grows). Only whole lines are decoded: a block boundary may cut a character, never the line returned."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    step = 4096
    start = end
    while start > 0:
        start = max(0, start - step)
        fh.seek(start)
        lines = [line for line in fh.read(end - start).splitlines() if line.strip()]
        if len(lines) >= 2 or (lines and start == 0):
            return lines[-1].decode("utf-8")
        step *= 2
    return ""


def append(path: Path, entry: Entry, *, at: dt.datetime | None = None) -> dict:
    """Append one entry under an exclusive lock, chained to the previous one by its hash."""
    if entry.event not in EVENTS:
        raise ValueError(f"unknown access-log event `{entry.event}`")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            last = _last_line(fh)
            prev = json.loads(last)["hash"] if last else ""
            record = {
                "at": (at or dt.datetime.now()).replace(microsecond=0).isoformat(),
                "user": entry.user, "role": entry.role, "event": entry.event, "what": entry.what,
                "filters": entry.filters, "rows_n": entry.rows_n, "file_sha256": entry.file_sha256,
                "prev_hash": prev,
            }
            record["hash"] = _digest(record)
            fh.seek(0, os.SEEK_END)
            fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return record


def read_log(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def verify_log(path: Path) -> tuple[bool, str]:
    """(intact, message): every entry's hash matches its content and points at the previous entry's hash."""
    prev = ""
    for i, record in enumerate(read_log(path), start=1):
        if record.get("prev_hash") != prev:
            return False, f"entry {i} does not follow entry {i - 1}: a line was removed or reordered"
        if _digest(record) != record.get("hash"):
            return False, f"entry {i} was changed after it was written"
        prev = record["hash"]
    return True, "intact"
