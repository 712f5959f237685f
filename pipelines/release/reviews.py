"""The signal review log: what the quality meeting concluded about each signal episode, and the one validated path
by which the dashboard adds a process change.

A review is kept in an append-only JSON Lines file beside the published database (`data/clinic.reviews.jsonl`, or
`$CLINIC_REVIEWS_FILE`), never in the database: a load, a restore or a rebuild of the database replaces the
database file and leaves this file alone. Each review is one `\\n`-terminated ASCII line (`ensure_ascii`, so a
line break typed into the note is `\\n` inside the JSON string, never a new line), appended under an exclusive
`fcntl` lock; two people reviewing at once both land, one after the other. The latest review of an episode wins;
the earlier ones stay in the file (the history). A line that cannot be read is skipped (`read_reviews(...)
.bad_lines`): its episode then shows as open, the safe side. The file is owner-only (0600).

Every review is first written to the access log (pipelines/release/access.py, HMAC-chained, event `edit`), under
the review file's lock, and only then to the review file: a review the access log cannot take (its key file is
missing, say) is refused, so no review exists that the access log does not hold.

The episode a review belongs to is named by its identity (`episode_key`): kind, rule, outcome, clinician, side
and first date (pipelines/metrics/episodes.py). A new episode of the same rule, outcome and clinician starts on a
later date, so it is open again. A funnel flag is re-judged on the whole period at each as-of date (its episode's
first date is the end of the period analysed); its review holds for the calendar month of that date, so the
meeting confirms a persisting funnel flag once a month.

Conclusions (`CONCLUSIONS`): common_cause (common-cause variation, nothing to act on), cause_found, action_taken,
investigating (being investigated). Every reviewed episode is `review_status = reviewed`; one still being
investigated keeps `conclusion = investigating` (pending work, shown as such).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.errors import UserError
from pipelines.ingest import store
from pipelines.metrics import registry
from pipelines.metrics.counting import Filters
from pipelines.release import access

REVIEWS_FILE_ENV = "CLINIC_REVIEWS_FILE"
CONCLUSIONS = ("common_cause", "cause_found", "action_taken", "investigating")
STATUSES = ("open", "reviewed")
REVIEW_ROLES = ("doctor", "admin")  # who may review a signal or add a process change
EPISODE_KINDS = ("spc", "funnel", "cusum")
NOTE_MAX_CHARS = 2000
OWNER_MAX_CHARS = 100
# the review columns added to an episode list (with_reviews); the first four go into `export signals`
REVIEW_COLUMNS = ["review_status", "reviewed_by", "reviewed_at", "conclusion", "note", "action_owner", "due_on"]
_RECORD_TEXT = ("key", "kind", "rule", "outcome", "clinician", "direction", "first_date", "conclusion", "note",
                "action_owner", "due_on", "reviewed_by", "role", "reviewed_at")


class ReviewError(UserError, ValueError):
    """A review or process change that cannot be recorded (the message says what to change)."""


def reviews_path_for(db_path: Path | None = None) -> Path:
    """The review file: `$CLINIC_REVIEWS_FILE`, else `<database stem>.reviews.jsonl` beside the published
    database."""
    env = os.environ.get(REVIEWS_FILE_ENV)
    if env:
        return Path(env)
    db_path = Path(db_path) if db_path else store.default_db_path()
    return db_path.with_name(db_path.stem + ".reviews.jsonl")


# --------------------------------------------------------------------------------------------------------------
# The episode's identity
# --------------------------------------------------------------------------------------------------------------


def _date(value) -> dt.date | None:
    if value is None or (not isinstance(value, (str, dt.date)) and pd.isna(value)) or value == "":
        return None
    return pd.Timestamp(value).date()


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def identity(kind, rule, outcome, clinician, direction, first_date) -> tuple[str, str, str, str, str, str]:
    """The identity of an episode: (kind, rule, outcome, clinician or '', side or '', first date ISO); a funnel
    flag's first date is its month (module docstring)."""
    day = _date(first_date)
    if day is None:
        raise ReviewError("an episode needs its first date")
    if kind == "funnel":
        day = day.replace(day=1)
    return (_text(kind), _text(rule), _text(outcome), _text(clinician).upper(), _text(direction), day.isoformat())


def episode_key(episode) -> str:
    """The key of an episode row (a row of signals.episode_list, or a mapping with the same fields): the identity
    joined by `|`."""
    return "|".join(identity(episode["kind"], episode["rule"], episode["outcome"], episode.get("clinician"),
                             episode.get("direction"), episode["first_date"]))


# --------------------------------------------------------------------------------------------------------------
# Writing and reading the file
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """What the reviewer says about one episode."""

    conclusion: str
    note: str = ""
    action_owner: str = ""
    due_on: dt.date | None = None


def _checked(review: Review) -> Review:
    if review.conclusion not in CONCLUSIONS:
        raise ReviewError(f"conclusion must be one of {', '.join(CONCLUSIONS)} (got `{review.conclusion}`)")
    note = (review.note or "").strip()
    owner = (review.action_owner or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ReviewError(f"the note has {len(note)} characters; shorten it to at most {NOTE_MAX_CHARS}")
    if len(owner) > OWNER_MAX_CHARS or any(ch in owner for ch in "\r\n\t"):
        raise ReviewError(f"the action owner must be one line of at most {OWNER_MAX_CHARS} characters")
    if review.due_on is not None and not isinstance(review.due_on, dt.date):
        raise ReviewError("the due date must be a date")
    return Review(review.conclusion, note, owner, review.due_on)


def _checked_episode(episode) -> tuple[str, ...]:
    ident = identity(episode["kind"], episode["rule"], episode["outcome"], episode.get("clinician"),
                     episode.get("direction"), episode["first_date"])
    if ident[0] not in EPISODE_KINDS:
        raise ReviewError(f"kind must be one of {', '.join(EPISODE_KINDS)} (got `{ident[0]}`)")
    try:
        registry.get(ident[2])
    except ValueError as exc:  # registry.UnknownOutcome names the known ones
        raise ReviewError(str(exc).strip('"')) from None
    if not ident[1] or len(ident[1]) > 40 or not ident[1].replace("_", "").isalnum():
        raise ReviewError(f"`{ident[1]}` is not a signal rule")
    if ident[4] not in ("", "high", "low"):
        raise ReviewError("direction must be high, low or empty")
    return ident


def _check_role(user: str, role: str) -> None:
    if not user or not str(user).strip():
        raise ReviewError("a review needs the signed-in user's name")
    if role not in REVIEW_ROLES:
        raise ReviewError(f"only {' or '.join(REVIEW_ROLES)} may do this (signed in as {role or 'no role'})")


def _append_line(fh, record: dict) -> None:
    fh.seek(0, os.SEEK_END)
    line = json.dumps(record, ensure_ascii=True, sort_keys=True) + "\n"
    if fh.tell():
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":  # a torn last line (a crash mid-write) stays alone on its line
            line = "\n" + line
    fh.seek(0, os.SEEK_END)
    fh.write(line.encode("ascii"))
    fh.flush()
    os.fsync(fh.fileno())


def record_review(path: Path, episode, review: Review, *, user: str, role: str, access_log: Path,
                  at: dt.datetime | None = None) -> dict:
    """Add one review of an episode (a row of signals.episode_list or a mapping with kind, rule, outcome,
    clinician, direction and first_date). Checked first (ReviewError: conclusion, lengths, role); then, under the
    review file's exclusive lock, written to the access log (an AccessLogError refuses the review) and appended to
    the review file. Returns the record written."""
    _check_role(user, role)
    review = _checked(review)
    ident = _checked_episode(episode)
    key = "|".join(ident)
    now = (at or dt.datetime.now()).replace(microsecond=0)
    record = {"key": key, "kind": ident[0], "rule": ident[1], "outcome": ident[2], "clinician": ident[3],
              "direction": ident[4], "first_date": ident[5], "conclusion": review.conclusion, "note": review.note,
              "action_owner": review.action_owner, "due_on": review.due_on.isoformat() if review.due_on else "",
              "reviewed_by": str(user).strip(), "role": role, "reviewed_at": now.isoformat()}
    append_logged(path, record, access_log=access_log, at=now,
                  entry=access.Entry(str(user).strip(), role, "edit", f"signal review: {key}",
                                     filters=f"conclusion {review.conclusion}"))
    return record


def append_logged(path: Path, record: dict, *, access_log: Path, entry: access.Entry, at: dt.datetime) -> None:
    """Append one record to an append-only JSON Lines file (owner-only, created with its folder if need be): under
    the file's exclusive lock, `entry` is written to the access log first (an AccessLogError refuses the record),
    then the record as one ASCII line. Shared by the review file and the adverse-event report file
    (pipelines/release/adverse_events.py)."""
    path = Path(path)
    store.private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, store.PRIVATE_FILE_MODE)
    with os.fdopen(fd, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            store.tighten(fh.fileno())
            access.append(access_log, entry, at=at)
            _append_line(fh, record)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Reviews(list):
    """The readable reviews of a file, in file order (oldest first); `bad_lines` holds the 1-based numbers of the
    lines that could not be read."""

    def __init__(self, records=(), bad_lines=()):
        super().__init__(records)
        self.bad_lines: list[int] = list(bad_lines)


def json_record(raw: bytes, text_fields) -> dict | None:
    """One line of an append-only JSON Lines file as a record: a JSON object whose `text_fields` are all strings;
    None for anything else (a torn or edited line: read_lines counts it as unreadable)."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or any(not isinstance(record.get(k), str) for k in text_fields):
        return None
    return record


def _parse(raw: bytes) -> dict | None:
    record = json_record(raw, _RECORD_TEXT)
    if record is None or record["conclusion"] not in CONCLUSIONS:
        return None
    return record


def read_reviews(path: Path) -> Reviews:
    """Every readable review of the file, oldest first (a missing file: none)."""
    records, bad = read_lines(path, _parse, what="review file", env=REVIEWS_FILE_ENV, error=ReviewError)
    return Reviews(records, bad)


def read_lines(path: Path, parse, *, what: str, env: str, error: type[Exception]) -> tuple[list[dict], list[int]]:
    """(records, 1-based numbers of the lines `parse` refused) of an append-only JSON Lines file, oldest first; a
    missing file has none. A file that exists but cannot be read raises `error` (fail closed: no list that would
    show everything as open / not reported)."""
    path = Path(path)
    if not path.exists():
        return [], []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"the {what} {path} cannot be read ({exc.strerror}); give the dashboard's account read access "
                    f"to it (or point ${env} at the right file)") from None
    records, bad = [], []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        record = parse(raw)
        if record is None:
            bad.append(n)
        else:
            records.append(record)
    return records, bad


def latest(reviews: list[dict]) -> dict[str, dict]:
    """{episode key: its latest review} (the file's order is the order the reviews were written in)."""
    out: dict[str, dict] = {}
    for r in reviews:
        out[r["key"]] = r
    return out


def history(reviews: list[dict], episode) -> list[dict]:
    """Every review of one episode, oldest first."""
    key = episode if isinstance(episode, str) else episode_key(episode)
    return [r for r in reviews if r["key"] == key]


# --------------------------------------------------------------------------------------------------------------
# Episodes with their reviews
# --------------------------------------------------------------------------------------------------------------


def _month_key(key: str) -> str:
    """A key with its first date cut to the month (for a list dated by month: signals.by_month)."""
    parts = key.split("|")
    return "|".join([*parts[:-1], parts[-1][:8] + "01"])


def with_reviews(episodes: pd.DataFrame, reviews: list[dict], *, by_month: bool = False) -> pd.DataFrame:
    """An episode list (signals.episode_list) with REVIEW_COLUMNS: review_status open | reviewed, and the latest
    review's reviewed_by, reviewed_at (ISO), conclusion, note, action_owner and due_on ('' when open).
    `by_month`: the list is dated by month (signals.by_month, viewers without case access): reviews and episodes
    are matched on the month of their first date."""
    out = episodes.copy()
    found = latest(reviews)
    if by_month:
        found = {_month_key(k): r for k, r in found.items()}
    keys = [episode_key(r) for _, r in out.iterrows()] if len(out) else []
    if by_month:
        keys = [_month_key(k) for k in keys]
    hits = [found.get(k) for k in keys]
    out["episode_key"] = pd.Series(keys, index=out.index, dtype=object)
    out["review_status"] = pd.Series(["reviewed" if h else "open" for h in hits], index=out.index, dtype=object)
    for column, field in (("reviewed_by", "reviewed_by"), ("reviewed_at", "reviewed_at"),
                          ("conclusion", "conclusion"), ("note", "note"), ("action_owner", "action_owner"),
                          ("due_on", "due_on")):
        out[column] = pd.Series([h[field] if h else "" for h in hits], index=out.index, dtype=object)
    return out


def review_counts(frame: pd.DataFrame, *, concerning_only: bool = False) -> dict[str, int]:
    """{"open": n, "reviewed": n, "investigating": n} of an episode list with reviews (with_reviews);
    `concerning_only`: count the episodes on the worse side only."""
    if frame is None or frame.empty:
        return {"open": 0, "reviewed": 0, "investigating": 0}
    if concerning_only:
        frame = frame[frame["concern"].astype(bool)]
    status = frame["review_status"]
    return {"open": int((status == "open").sum()), "reviewed": int((status == "reviewed").sum()),
            "investigating": int((frame["conclusion"] == "investigating").sum())}


def summary(episodes: pd.DataFrame, reviews_file: Path, *, by_month: bool = False) -> dict[str, int]:
    """review_counts of an episode list against the review file (the overview's open / reviewed counts)."""
    return review_counts(with_reviews(episodes, read_reviews(reviews_file), by_month=by_month))


def episodes_with_reviews(con: duckdb.DuckDBPyConnection, reviews_file: Path, *, filters: Filters = Filters(),
                          as_of: dt.date | None = None) -> pd.DataFrame:
    """The overview's episode list (signals.episode_list) with each episode's review (with_reviews), newest
    first. Filter on `review_status` for the open ones, `conclusion == 'investigating'` for the pending ones."""
    from pipelines.metrics import signals

    return with_reviews(signals.episode_list(con, filters=filters, as_of=as_of), read_reviews(reviews_file))


# --------------------------------------------------------------------------------------------------------------
# Process changes from the dashboard: the loader's own validation and load
# --------------------------------------------------------------------------------------------------------------

PROCESS_CHANGE_FIELDS = ("changed_on", "description", "outcome", "product", "clinician", "rebase")


def add_process_change(db_path: Path, change: dict, *, user: str, role: str, access_log: Path | None = None,
                       today: dt.date | None = None):
    """Add one process change through the loader: the row is written to a one-row CSV (owner-only, in a private
    temporary folder) and checked with the loader's own rules against the published database (the contract's
    types and allowed values, a known clinician); a row with a problem raises ReviewError with the loader's
    fix-it messages and nothing is stored. A good row is written to the access log and then loaded
    (pipelines.ingest.load.load_files: a new snapshot is published). Returns the LoadResult.

    `change`: {changed_on, description, outcome, product, clinician, rebase}; dates as date or text, rebase as
    bool or yes/no text, '' or None for an empty optional field."""
    from pipelines.ingest import edits

    _check_role(user, role)
    unknown = set(change) - set(PROCESS_CHANGE_FIELDS)
    if unknown:
        raise ReviewError(f"a process change has no field {', '.join(sorted(unknown))}")
    row = {}
    for name in PROCESS_CHANGE_FIELDS:
        value = change.get(name)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, dt.date):
            value = value.isoformat()
        row[name] = "" if value is None else " ".join(str(value).split())  # one line: no line breaks, tabs
    today = today or dt.date.today()
    problems = edits.check_rows(db_path, "process_changes", [row], today=today)
    if problems:
        raise ReviewError("the process change was not saved: " + "; ".join(problems))
    log = access_log or access.log_path_for(Path(db_path))
    access.append(log, access.Entry(str(user).strip(), role, "edit",
                                    f"process change: {row['changed_on']} {row['description'][:200]}",
                                    filters=f"rebase {row['rebase'] or 'no'}"))
    return edits.load_rows(db_path, "process_changes", [row], today=today)


__all__ = ["reviews_path_for", "identity", "episode_key", "Review", "record_review", "read_reviews", "latest",
           "history", "with_reviews", "review_counts", "summary", "episodes_with_reviews", "add_process_change",
           "append_logged", "read_lines",
           "CONCLUSIONS", "STATUSES", "REVIEW_ROLES", "REVIEW_COLUMNS", "ReviewError"]
