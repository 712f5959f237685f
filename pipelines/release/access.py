"""Who may see what, and the access log (Normen: access control, and logging of who saw or exported what).

The dashboard's pages are declared here, once (`PAGES`: file, URL path, title, icon, menu section and the roles that
may open it), because which role opens which page is an access rule; the dashboard routes, builds its menu and links
from this table and never lists pages itself (tests/test_app_pages.py checks it against dashboard/pages/).

Roles come from the identity provider's token (a `roles` or `role` claim) or, when the provider sends none, from a
role file mapping e-mail addresses to roles (CSV `email,role[,clinician_code]`; default `data/roles.csv`, or
`$CLINIC_ROLES_FILE`). A token role counts only when it is one of the role names (after an optional deployment
prefix such as `klinikk.`); the role file counts only for an e-mail address the provider says it has verified (or,
when the deployment turns it on, for the `preferred_username`).

The `clinician` role (issue 13, item 7) is one injector's own view, tied to one clinician code: the token's
`clinician_code` claim, else the `clinician_code` column of the user's `clinician` rows in the role file
(`clinician_codes_for`). No code, two different codes, or a code the database's `clinicians` table does not hold
(`clinician_known`) is refused with a page naming the problem (dashboard/auth.py), never shown data.

The access log is an append-only JSON Lines file beside the published database (`data/clinic.access.jsonl`, or
`$CLINIC_ACCESS_LOG`), written in ASCII (`ensure_ascii`), one entry per `\\n`-terminated line. Each entry carries an
HMAC-SHA256 of its content and of the previous entry's hash, keyed with a secret kept outside the log (a key file
beside it, `clinic.access.key`, or `$CLINIC_ACCESS_LOG_KEY_FILE`; created owner-only on first use). An edit, a
deleted or reordered line, or the whole log rewritten with recomputed hashes breaks the chain, and `verify_log`
says where. A line that cannot be read is reported (`read_log(...).bad_lines`), never fatal. The app only ever
appends; nothing in it can rewrite the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import UserError
from pipelines.ingest.store import PRIVATE_FILE_MODE, private_dir, tighten

ROLES = ("doctor", "manager", "auditor", "admin", "clinician", "loader")
CLINICIAN_ROLE = "clinician"  # one injector's own results only, tied to a clinician code (issue 13, item 7)
# loads the month's exports from the browser and sees nothing else: the person who exports from the booking or
# journal system (issue 14); what a load shows of its own files (counts, rejected rows) was in those files already
LOADER_ROLE = "loader"
CLINICIAN_CODE_CLAIM = "clinician_code"  # the token claim (a string) naming the clinician code

_FIGURE_ROLES = ("doctor", "manager", "admin")  # the quality and cost figures


@dataclass(frozen=True)
class Page:
    """One page of the dashboard. The dashboard reads this table for its routing, menu and links
    (dashboard/auth.py `navigation`, dashboard/components.py `page_link`); the access log names a page by `name`."""
    name: str  # the file dashboard/pages/<name>.py, and the page's name in the access log ("page export")
    url_path: str  # its URL: /<url_path> (links and bookmarks rely on it: never change one)
    title_key: str  # dashboard/i18n.py key of its title in the menu and on the page
    icon: str
    section_key: str  # dashboard/i18n.py key of its menu section
    roles: tuple[str, ...]  # who may open it. Session-level case lists are the doctor's (and the admin's) only.

    @property
    def file(self) -> str:
        """The page's script, relative to the app's root (what st.Page and st.page_link take)."""
        return f"{PAGE_FOLDER}/{self.name}.py"


PAGE_FOLDER = "dashboard/pages"
# Every page of the dashboard, in menu order: the only list of pages (tests/test_app_pages.py checks it against the
# files in dashboard/pages/).
PAGES: tuple[Page, ...] = (
    Page("overview", "overview", "page_overview", ":material/dashboard:", "nav_section_quality", _FIGURE_ROLES),
    Page("complications", "complications", "page_complications", ":material/monitor_heart:", "nav_section_quality",
         _FIGURE_ROLES),
    # products and lots (issue 13): the doctor sees lots, the recall list and the expired-lot sessions; the manager
    # the aggregate by product only, small cells hidden
    Page("lots", "lots", "page_lots", ":material/inventory_2:", "nav_section_quality", _FIGURE_ROLES),
    Page("clinicians", "clinicians", "page_clinicians", ":material/groups:", "nav_section_quality", _FIGURE_ROLES),
    # issue 13, item 7: one injector's own rates, funnel position among unnamed peers, O/E and CUSUM
    Page("my_results", "my_results", "page_my_results", ":material/person:", "nav_section_quality",
         (CLINICIAN_ROLE,)),
    Page("responses", "responses", "page_responses", ":material/neurology:", "nav_section_quality", _FIGURE_ROLES),
    # the quality meeting: review each signal episode, record process changes (pipelines/release/reviews.py)
    Page("signals", "signals", "page_signals", ":material/rule:", "nav_section_quality", ("doctor", "admin")),
    # adverse-event report drafts for melde.no and their reporting status (issue 13): the case list, the drafts and
    # the recording are the doctor's only (capability `adverse_event_report`); the admin opens the page (every page
    # is the admin's) and sees only that it is the doctor's
    Page("adverse_events", "adverse_events", "page_adverse_events", ":material/report:", "nav_section_quality",
         ("doctor", "admin")),
    Page("costs", "costs", "page_costs", ":material/payments:", "nav_section_management", _FIGURE_ROLES),
    Page("data_quality", "data_quality", "page_data_quality", ":material/fact_check:", "nav_section_data",
         ("doctor", "auditor", "admin")),
    Page("export", "export", "page_export", ":material/download:", "nav_section_data", ("auditor", "admin")),
    Page("load", "load", "page_load", ":material/upload_file:", "nav_section_data", ("admin", LOADER_ROLE)),
    Page("about", "about", "page_about", ":material/menu_book:", "nav_section_data", ROLES),
    Page("access_log", "access_log", "page_access_log", ":material/policy:", "nav_section_data", ("admin",)),
)
PAGES_BY_NAME: dict[str, Page] = {p.name: p for p in PAGES}
PAGE_ROLES: dict[str, tuple[str, ...]] = {p.name: p.roles for p in PAGES}  # page -> roles that may open it
# pages that show none of the clinic's figures (no sidebar filters for a role that opens only these)
PAGES_WITHOUT_FIGURES = ("load", "about")


def page(name: str) -> Page:
    """The page called `name`; KeyError names the pages there are."""
    try:
        return PAGES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no page `{name}` (pages: {', '.join(PAGES_BY_NAME)})") from None


# capabilities inside pages
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "case_review": ("doctor", "admin"),  # lists of sessions (pseudonymous references)
    "record_export": ("auditor", "admin"),  # the pseudonymised record-level export
    "unsuppressed_export": ("admin",),  # aggregate exports without small-cell suppression (internal use)
    "lots": ("doctor", "admin"),  # outcomes by lot, dilution and dose band (a lot is a handful of sessions)
    "recall": ("doctor",),  # the recall list: every session with a lot (a case list, issue 13)
    "adverse_event_report": ("doctor",),  # open an adverse-event draft, record it reported (a case, issue 13)
}
EXPORT_ROLES: dict[str, tuple[str, ...]] = {
    "rates": ("auditor", "admin"),
    "funnel": ("auditor", "admin"),
    "oe": ("auditor", "admin"),
    "signals": ("auditor", "admin"),
    "spc": ("auditor", "admin"),
    "costs": ("auditor", "admin"),
    "cusum": ("auditor", "admin"),
    "records": ("auditor", "admin"),
    "recall": ("doctor",),  # on the Products and lots page, never on the Export page
    "adverse-events": ("doctor",),  # on the Adverse events page, never on the Export page (a case list)
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


@dataclass(frozen=True)
class RoleRow:
    """One row of the role file: an e-mail address (lower case), a role and, for the clinician role, its code."""
    email: str
    role: str
    clinician_code: str = ""


CLINICIAN_CODE_COLUMN = "clinician_code"  # the role file's optional column (only on `clinician` rows)


def read_role_rows(path: Path | None = None) -> list[RoleRow]:
    """The role file's rows (CSV `email,role` with an optional `clinician_code` column). A missing file means no
    rows; ValueError names a bad row: an unknown role, or a clinician code on a row that is not `clinician`."""
    path = Path(path) if path else default_roles_file()
    if not path.exists():
        return []
    rows: list[RoleRow] = []
    for i, row in enumerate(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))), start=2):
        email = (row.get("email") or "").strip().lower()
        role = (row.get("role") or "").strip().lower()
        code = (row.get(CLINICIAN_CODE_COLUMN) or "").strip()
        if not email or role not in ROLES:
            raise ValueError(f"{path.name}: row {i}: needs an e-mail and one of the roles {', '.join(ROLES)}")
        if code and role != CLINICIAN_ROLE:
            raise ValueError(f"{path.name}: row {i}: a {CLINICIAN_CODE_COLUMN} belongs on a `{CLINICIAN_ROLE}` row "
                             f"only (this row gives the role `{role}`): leave the column empty here, or give the "
                             f"code its own row with the role {CLINICIAN_ROLE}")
        rows.append(RoleRow(email, role, code))
    return rows


def role_mapping(rows: list[RoleRow]) -> dict[str, tuple[str, ...]]:
    """e-mail -> roles, in file order."""
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.email, []).append(r.role)
    return {k: tuple(v) for k, v in out.items()}


def clinician_code_mapping(rows: list[RoleRow]) -> dict[str, tuple[str, ...]]:
    """e-mail -> the distinct clinician codes of its `clinician` rows (a row without a code adds none)."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if r.role == CLINICIAN_ROLE and r.clinician_code and r.clinician_code not in out.get(r.email, []):
            out.setdefault(r.email, []).append(r.clinician_code)
    return {k: tuple(v) for k, v in out.items()}


def read_role_file(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """e-mail (lower case) -> roles. A missing file means no mapping."""
    return role_mapping(read_role_rows(path))


def token_clinician_codes(claims: Mapping) -> tuple[str, ...]:
    """The clinician codes in the token's `clinician_code` claim: a string (trimmed; blank is none), or a list of
    strings (each trimmed, distinct; other items ignored, so the app can say "two codes" rather than pick one).
    Any other shape gives none. Codes are compared as written (C03 is not c03), as in the clinicians table."""
    raw = claims.get(CLINICIAN_CODE_CLAIM)
    values = [raw] if isinstance(raw, str) else ([x for x in raw if isinstance(x, str)]
                                                 if isinstance(raw, (list, tuple)) else [])
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


def clinician_codes_for(claims: Mapping, role_codes: Mapping[str, tuple[str, ...]] | None = None, *,
                        match_preferred_username: bool = False) -> tuple[str, ...]:
    """The clinician codes of a signed-in user: the token's `clinician_code` claim when it has one, else the
    role file's codes for the verified e-mail (or preferred_username when turned on; role_file_keys). One code is
    what the clinician role needs; none or two are refused by the app (dashboard/auth.py), never resolved here.
    Never from the URL or a widget."""
    found = token_clinician_codes(claims)
    if found:
        return found
    keys = role_file_keys(claims, match_preferred_username)
    if not keys:
        return ()
    if role_codes is None:
        role_codes = clinician_code_mapping(read_role_rows())
    for key in keys:
        if key in role_codes:
            return role_codes[key]
    return ()


def clinician_codes(con) -> tuple[str, ...]:
    """The codes of the database's `clinicians` table, sorted (the demo's preview box offers them)."""
    return tuple(r[0] for r in con.execute("SELECT clinician FROM clinicians ORDER BY clinician").fetchall())


def clinician_known(con, code: str) -> bool:
    """True when `code` is a row of the database's `clinicians` table (the value bound, never pasted into SQL)."""
    return bool(con.execute("SELECT count(*) FROM clinicians WHERE clinician = ?", [code]).fetchall()[0][0])


def token_roles(claims: Mapping, prefix: str = "") -> tuple[str, ...]:
    """The roles in the token's `roles` claim (or `role` when there is no `roles`): a string of names separated by
    commas or spaces, or a list of strings (other items are ignored); any other shape (a dict, a number) gives none.
    Each name is trimmed and lower-cased; with a `prefix` (e.g. "klinikk.") only prefixed names count and the
    prefix is removed (`klinikk.doctor` -> doctor, a bare `doctor` -> nothing). Only the role names (ROLES)
    count."""
    raw = claims.get("roles") if "roles" in claims else claims.get("role")
    if isinstance(raw, str):
        names = raw.replace(",", " ").split()
    elif isinstance(raw, (list, tuple)):
        names = [x for x in raw if isinstance(x, str)]
    else:
        return ()
    prefix = prefix.strip().lower()
    found: list[str] = []
    for name in names:
        name = name.strip().lower()
        if prefix:
            if not name.startswith(prefix):
                continue
            name = name[len(prefix):]
        if name in ROLES and name not in found:
            found.append(name)
    return tuple(found)


def is_verified(value: object) -> bool:
    """The `email_verified` claim says yes: boolean True or the string "true" (any case); anything else is no."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def role_file_keys(claims: Mapping, match_preferred_username: bool = False) -> tuple[str, ...]:
    """The names the role file may be looked up by: the `email` claim when `email_verified` is true, then (only
    when the deployment turns it on) the `preferred_username` claim. Lower case."""
    keys: list[str] = []
    email = claims.get("email")
    if isinstance(email, str) and email.strip() and is_verified(claims.get("email_verified")):
        keys.append(email.strip().lower())
    username = claims.get("preferred_username")
    if match_preferred_username and isinstance(username, str) and username.strip():
        keys.append(username.strip().lower())
    return tuple(dict.fromkeys(keys))


def roles_for(claims: Mapping, role_file: Mapping[str, tuple[str, ...]] | None = None, *, prefix: str = "",
              match_preferred_username: bool = False) -> tuple[str, ...]:
    """Roles of a signed-in user: the token's roles (`token_roles`), else the role file by verified e-mail (or
    preferred_username, when turned on). No role means no access."""
    found = token_roles(claims, prefix)
    if found:
        return found
    keys = role_file_keys(claims, match_preferred_username)
    if not keys:
        return ()
    if role_file is None:
        role_file = read_role_file()
    for key in keys:
        if key in role_file:
            return tuple(dict.fromkeys(role_file[key]))
    return ()


# --------------------------------------------------------------------------------------------------------------
# The access log
# --------------------------------------------------------------------------------------------------------------

EVENTS = ("sign_in", "sign_out", "page_view", "export", "refused", "alert", "upload", "load",
          "edit")  # edit: a signal review, a process change
KEY_FILE_ENV = "CLINIC_ACCESS_LOG_KEY_FILE"
KEY_FORMAT = "clinic-access-log-key/1"


class AccessLogError(UserError):
    """The access log cannot be written or checked (e.g. its key file is missing): fix it before going on."""


def log_path_for(db_path: Path) -> Path:
    env = os.environ.get("CLINIC_ACCESS_LOG")
    if env:
        return Path(env)
    return Path(db_path).with_name(Path(db_path).stem + ".access.jsonl")


def key_path_for(log_path: Path) -> Path:
    """The key file of a log: `$CLINIC_ACCESS_LOG_KEY_FILE`, else beside the log (`clinic.access.key`)."""
    env = os.environ.get(KEY_FILE_ENV)
    if env:
        return Path(env)
    return Path(log_path).with_name(Path(log_path).stem + ".key")


@dataclass(frozen=True)
class Entry:
    user: str
    role: str
    event: str
    what: str
    filters: str = ""
    rows_n: int | None = None
    file_sha256: str = ""


@dataclass(frozen=True)
class LogKey:
    """The secret the chain is keyed with, and what the log held before it was keyed (old logs): the first
    `unkeyed_entries_n` entries are chained with plain SHA-256, the last of them has hash `unkeyed_last_hash`."""
    key: bytes
    created_at: str
    unkeyed_entries_n: int = 0
    unkeyed_last_hash: str = ""


@dataclass(frozen=True)
class BadLine:
    line_n: int  # 1-based line number in the file
    reason: str
    text: str  # the start of the line, for the access-log page


class LogEntries(list):
    """The readable entries of a log, in file order; `bad_lines` lists the lines that could not be read and
    `line_numbers[i]` is the line the i-th entry was on."""

    def __init__(self, entries=(), bad_lines=(), line_numbers=()):
        super().__init__(entries)
        self.bad_lines: list[BadLine] = list(bad_lines)
        self.line_numbers: list[int] = list(line_numbers)


def _body(record: Mapping) -> bytes:
    return json.dumps({k: v for k, v in record.items() if k != "hash"}, sort_keys=True,
                      ensure_ascii=False).encode("utf-8")


def _plain_digest(record: Mapping) -> str:
    """The unkeyed SHA-256 of logs written before the chain was keyed."""
    return hashlib.sha256(_body(record)).hexdigest()


def _keyed_digest(record: Mapping, key: bytes) -> str:
    return hmac.new(key, _body(record), hashlib.sha256).hexdigest()


_TEXT_FIELDS = ("at", "user", "role", "event", "what", "filters", "file_sha256", "prev_hash", "hash")


def _parse_line(raw: bytes) -> tuple[dict | None, str]:
    """(entry, "") for a readable entry, (None, reason) for a bad line, (None, "") for a blank one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    if not text.strip():
        return None, ""
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(record, dict):
        return None, "not a log entry"
    wrong = [k for k in _TEXT_FIELDS if not isinstance(record.get(k), str)]
    rows_n = record.get("rows_n")
    if rows_n is not None and (not isinstance(rows_n, int) or isinstance(rows_n, bool)):
        wrong.append("rows_n")
    if wrong:
        return None, f"not a log entry ({', '.join(wrong)} missing or of the wrong type)"
    return record, ""


def read_log(path: Path) -> LogEntries:
    """The log's readable entries (lines split on "\\n" only, so a U+2028 or any other character inside a value
    never splits an entry); unreadable lines are in `.bad_lines`, never an exception."""
    path = Path(path)
    if not path.exists():
        return LogEntries()
    entries, bad, numbers = [], [], []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        record, reason = _parse_line(raw)
        if record is not None:
            entries.append(record)
            numbers.append(n)
        elif reason:
            bad.append(BadLine(n, reason, raw[:200].decode("utf-8", errors="replace")))
    return LogEntries(entries, bad, numbers)


def read_key(key_path: Path) -> LogKey | None:
    """The log key, None when the key file does not exist; AccessLogError when it cannot be used."""
    key_path = Path(key_path)
    try:
        data = json.loads(key_path.read_text(encoding="utf-8"))
        key = bytes.fromhex(data["key"])
        if data.get("format") != KEY_FORMAT or len(key) < 32:
            raise ValueError("unknown format")
        return LogKey(key, str(data.get("created_at", "")), int(data.get("unkeyed_entries_n", 0)),
                      str(data.get("unkeyed_last_hash", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AccessLogError(f"the access-log key file {key_path} cannot be used ({exc}); put the right key file "
                             f"back (or point ${KEY_FILE_ENV} at it)") from None


def _create_key(key_path: Path, log: LogEntries, log_path: Path) -> LogKey:
    """A new key for a new log, or for an old log written before the chain was keyed (its entries become the
    unkeyed part, anchored by the hash of the last one). Refused when the log's last entry is not an unkeyed one:
    then the log was keyed and its key file has gone missing."""
    if log and _plain_digest(log[-1]) != log[-1].get("hash"):
        raise AccessLogError(
            f"the access log {log_path} is keyed but its key file {key_path} is missing, so no entry can be added "
            f"or checked: put the key file back (or point ${KEY_FILE_ENV} at it). If the key is lost, move the log "
            "aside (keep it) and start a new one.")
    key = LogKey(secrets.token_bytes(32), dt.datetime.now().replace(microsecond=0).isoformat(), len(log),
                 log[-1]["hash"] if log else "")
    text = json.dumps({"format": KEY_FORMAT, "key": key.key.hex(), "created_at": key.created_at,
                       "unkeyed_entries_n": key.unkeyed_entries_n, "unkeyed_last_hash": key.unkeyed_last_hash},
                      indent=1) + "\n"
    private_dir(key_path.parent)
    tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, key_path)  # never replaces a key another process created meanwhile
    except FileExistsError:
        return read_key(key_path)  # type: ignore[return-value]
    finally:
        tmp.unlink()
    return key


def _tail(fh) -> tuple[dict | None, bool]:
    """(the last readable entry, whether the file ends with a newline) of a file opened in binary mode, read from
    the end (appends stay cheap as the log grows). Unreadable lines at the end are skipped."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    if end == 0:
        return None, True
    fh.seek(end - 1)
    ends_with_newline = fh.read(1) == b"\n"
    step, start = 4096, end
    while start > 0:
        start = max(0, start - step)
        fh.seek(start)
        lines = fh.read(end - start).split(b"\n")
        whole = lines if start == 0 else lines[1:]  # the first piece may be cut
        for raw in reversed(whole):
            record, _ = _parse_line(raw)
            if record is not None:
                return record, ends_with_newline
        step *= 2
    return None, ends_with_newline


def append(path: Path, entry: Entry, *, at: dt.datetime | None = None) -> dict:
    """Append one entry under an exclusive lock, chained to the last readable entry by its keyed hash. The log,
    its key file and any folder created for them are owner-only (0600 / 0700)."""
    if entry.event not in EVENTS:
        raise ValueError(f"unknown access-log event `{entry.event}`")
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            tighten(fh.fileno())
            key_path = key_path_for(path)
            key = read_key(key_path)
            if key is None:
                key = _create_key(key_path, read_log(path), path)
            last, ends_with_newline = _tail(fh)
            record = {
                "at": (at or dt.datetime.now()).replace(microsecond=0).isoformat(),
                "user": entry.user, "role": entry.role, "event": entry.event, "what": entry.what,
                "filters": entry.filters, "rows_n": entry.rows_n, "file_sha256": entry.file_sha256,
                "prev_hash": last["hash"] if last else "",
            }
            record["hash"] = _keyed_digest(record, key.key)
            line = json.dumps(record, ensure_ascii=True) + "\n"
            if not ends_with_newline:  # a torn last line (a crash mid-write) stays alone on its line
                line = "\n" + line
            fh.seek(0, os.SEEK_END)
            fh.write(line.encode("ascii"))
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return record


def verify_log(path: Path) -> tuple[bool, str]:
    """(intact, message): every entry's keyed hash matches its content and points at the previous entry's hash,
    and every line is readable. The message says where the chain breaks first. Entries from before the log was
    keyed (an old log) are checked with plain SHA-256 and must end in the hash the key file recorded."""
    path = Path(path)
    log = read_log(path)
    if not log and not log.bad_lines:
        return True, "intact"
    key_path = key_path_for(path)
    try:
        key = read_key(key_path)
    except AccessLogError as exc:
        return False, str(exc)
    if key is None:
        return False, (f"its key file {key_path} is missing, so the entries cannot be checked: put the key file "
                       f"back (or point ${KEY_FILE_ENV} at it)")
    problems: list[tuple[int, str]] = [(b.line_n, f"line {b.line_n} cannot be read ({b.reason})")
                                       for b in log.bad_lines[:1]]
    prev = ""
    for i, record in enumerate(log, start=1):
        line_n = log.line_numbers[i - 1]
        if record.get("prev_hash") != prev:
            problems.append((line_n, f"entry {i} does not follow entry {i - 1}: a line was removed or reordered"))
            break
        unkeyed = i <= key.unkeyed_entries_n
        digest = _plain_digest(record) if unkeyed else _keyed_digest(record, key.key)
        if not hmac.compare_digest(digest, str(record.get("hash"))):
            problems.append((line_n, f"entry {i} was changed after it was written"))
            break
        if i == key.unkeyed_entries_n and record["hash"] != key.unkeyed_last_hash:
            problems.append((line_n, f"entry {i} is not the last entry from before the log was keyed: entries "
                                     "from before keying were changed, removed or added"))
            break
        prev = record["hash"]
    else:
        if len(log) < key.unkeyed_entries_n:
            problems.append((float("inf"), f"the log has {len(log)} entries, but {key.unkeyed_entries_n} were written "
                                      "before it was keyed: entries were removed"))
    if problems:
        return False, min(problems)[1]
    if key.unkeyed_entries_n:
        return True, (f"intact; entries 1–{key.unkeyed_entries_n} were written before the log was keyed "
                      f"({key.created_at}): they are chained with plain SHA-256, anchored by the key file")
    return True, "intact"
