"""Roles and the access log: who may open what, roles from the token or the role file, a tamper-evident log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pwd
import stat

import pytest
from conftest import FIXTURES, TODAY, write

from pipelines.release import access
from pipelines.release.access import Entry

OS_USER = pwd.getpwuid(os.getuid()).pw_name


def test_role_matrix():
    assert access.may_open(["doctor"], "complications") and access.may(["doctor"], "case_review")
    assert access.may_open(["manager"], "costs") and not access.may(["manager"], "case_review")
    assert not access.may_open(["manager"], "export") and not access.may_open(["manager"], "data_quality")
    assert access.may_open(["auditor"], "export") and access.may_open(["auditor"], "data_quality")
    assert not access.may_open(["auditor"], "complications") and access.may_open(["auditor"], "about")
    assert access.may_open(["admin"], "access_log") and not access.may_open(["doctor"], "access_log")
    assert access.may_export(["auditor"], "records") and not access.may_export(["manager"], "rates")
    assert not access.may_open([], "overview")


def test_roles_from_the_token_then_the_role_file(tmp_path):
    roles_file = write(tmp_path / "roles.csv", "email,role\nkari@klinikk.no,doctor\nkari@klinikk.no,admin\n"
                                                "ola@klinikk.no,manager\n")
    mapping = access.read_role_file(roles_file)
    assert access.roles_for({"email": "x@y.no", "roles": ["auditor", "janitor"]}, mapping) == ("auditor",)
    assert access.roles_for({"email": "x@y.no", "role": "Manager"}, mapping) == ("manager",)
    assert access.roles_for({"email": "x@y.no", "roles": "doctor, admin"}, mapping) == ("doctor", "admin")
    assert access.roles_for({"email": "KARI@klinikk.no", "email_verified": True}, mapping) == ("doctor", "admin")
    assert access.roles_for({"email": "nobody@klinikk.no", "email_verified": True}, mapping) == ()


def test_role_file_errors_name_the_row(tmp_path):
    bad = write(tmp_path / "roles.csv", "email,role\nkari@klinikk.no,boss\n")
    with pytest.raises(ValueError, match="roles.csv: row 2: needs an e-mail and one of the roles"):
        access.read_role_file(bad)


def test_access_log_appends_a_hash_chain(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    t0 = dt.datetime(2026, 11, 1, 9, 0)
    first = access.append(log, Entry("kari@klinikk.no", "doctor", "sign_in", "dashboard"), at=t0)
    second = access.append(log, Entry("kari@klinikk.no", "doctor", "page_view", "complications",
                                      filters="clinicians = C04", rows_n=12), at=t0)
    third = access.append(log, Entry("ola@klinikk.no", "auditor", "export", "rates", rows_n=40,
                                     file_sha256="ab" * 32), at=t0)
    assert first["prev_hash"] == "" and second["prev_hash"] == first["hash"] and third["prev_hash"] == second["hash"]
    assert [r["event"] for r in access.read_log(log)] == ["sign_in", "page_view", "export"]
    assert access.verify_log(log) == (True, "intact")


def test_an_edited_or_removed_entry_breaks_the_chain(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    for what in ("overview", "complications", "export"):
        access.append(log, Entry("kari@klinikk.no", "doctor", "page_view", what))
    lines = log.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["what"] = "about"
    log.write_text("\n".join([lines[0], json.dumps(edited), lines[2]]) + "\n")
    assert access.verify_log(log) == (False, "entry 2 was changed after it was written")
    log.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert access.verify_log(log) == (False, "entry 2 does not follow entry 1: a line was removed or reordered")


def test_unknown_events_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown access-log event `delete`"):
        access.append(tmp_path / "log.jsonl", Entry("a", "admin", "delete", "x"))


def test_log_path_sits_beside_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_ACCESS_LOG", raising=False)
    assert access.log_path_for(tmp_path / "clinic.duckdb") == tmp_path / "clinic.access.jsonl"
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "elsewhere.jsonl"))
    assert access.log_path_for(tmp_path / "clinic.duckdb") == tmp_path / "elsewhere.jsonl"


def test_a_command_line_export_is_logged_with_its_hash(metrics_db, tmp_path, monkeypatch):
    import hashlib

    from pipelines.__main__ import main

    log = tmp_path / "access.jsonl"
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(log))
    out = tmp_path / "rates.csv"
    assert main(["export", "rates", "--outcome", "ptosis", "--period", "all", "--release", "--clinician", "A01",
                 "--from", "2024-01-01", "--to", "2024-03-31",  # a release covers a whole calendar period
                 "-o", str(out), "--db", str(metrics_db), "--as-of", "2024-06-30"]) == 0
    [entry] = access.read_log(log)
    assert (entry["event"], entry["role"], entry["what"]) == ("export", "command line", "rates -> rates.csv (release)")
    assert entry["filters"] == "from 2024-01-01 / to 2024-03-31 / clinicians = A01" and entry["rows_n"] == 1
    assert entry["file_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert access.verify_log(log) == (True, "intact")


def test_appends_stay_chained_across_a_long_log_with_non_ascii_text(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    for i in range(300):
        access.append(log, Entry("kåre@klinikk.no", "doctor", "page_view", f"komplikasjoner ø{i}" * (i % 7 + 1)))
    assert access.verify_log(log) == (True, "intact") and len(access.read_log(log)) == 300


# --------------------------------------------------------------------------------------------------------------
# Role claims (issue 10, part 3)
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim, roles", [
    (" Doctor ,ADMIN  manager", ("doctor", "admin", "manager")),  # trimmed, lower-cased, comma or space separated
    (["doctor", " Auditor "], ("doctor", "auditor")),
    (["doctor", 7, None, True, {"admin": True}, ["admin"]], ("doctor",)),  # non-strings in a list are ignored
    ({"admin": True}, ()),  # a dict is no list of roles (iterating it used to give its keys: admin)
    ({"roles": ["admin"]}, ()),
    (42, ()),
    (True, ()),
    (None, ()),
    ("administrator doctors janitor", ()),  # only the four names, whole
    (["doctor", "doctor"], ("doctor",)),
])
def test_token_roles_only_the_four_names_from_a_string_or_a_list_of_strings(claim, roles):
    assert access.roles_for({"email": "x@klinikk.no", "roles": claim}, {}) == roles
    assert access.token_roles({"roles": claim}) == roles


def test_a_token_claim_of_another_shape_falls_back_to_the_verified_role_file():
    mapping = {"kari@klinikk.no": ("doctor",)}
    assert access.roles_for({"email": "kari@klinikk.no", "email_verified": True, "roles": {"admin": 1}},
                            mapping) == ("doctor",)


@pytest.mark.parametrize("verified, found", [
    (True, True), ("true", True), ("TRUE", True), (" True ", True),
    (None, False), (False, False), ("false", False), ("yes", False), (1, False), ("1", False), ([True], False),
])
def test_the_role_file_applies_only_to_a_verified_email(verified, found):
    mapping = {"kari@klinikk.no": ("admin",)}
    claims = {"email": "Kari@Klinikk.no"} | ({} if verified is None else {"email_verified": verified})
    assert access.roles_for(claims, mapping) == (("admin",) if found else ())


def test_preferred_username_matches_the_role_file_only_when_turned_on():
    mapping = {"leder@klinikk.no": ("manager",)}
    claims = {"preferred_username": "Leder@klinikk.no", "email": "leder@klinikk.no", "email_verified": False}
    assert access.roles_for(claims, mapping) == ()
    assert access.roles_for(claims, mapping, match_preferred_username=True) == ("manager",)
    assert access.roles_for({"preferred_username": {"x": 1}}, mapping, match_preferred_username=True) == ()


def test_a_role_prefix_for_a_shared_identity_provider():
    assert access.roles_for({"roles": ["klinikk.doctor"]}, {}, prefix="klinikk.") == ("doctor",)
    assert access.roles_for({"roles": "KLINIKK.Admin other.admin"}, {}, prefix="klinikk.") == ("admin",)
    assert access.roles_for({"roles": ["doctor", "admin"]}, {}, prefix="klinikk.") == (), "bare names mean nothing"
    assert access.roles_for({"roles": ["klinikk.janitor", "klinikk."]}, {}, prefix="klinikk.") == ()
    assert access.roles_for({"role": "klinikk.manager"}, {}, prefix="klinikk.") == ("manager",)


# --------------------------------------------------------------------------------------------------------------
# The access log: readable whatever it holds, keyed, owner-only (issue 10, part 8)
# --------------------------------------------------------------------------------------------------------------

ODD = "clinicians = C01\u2028C02\u2029\x85\x0b\x0c\x1c\r end"


def test_a_value_with_line_separators_round_trips_in_an_ascii_file(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    access.append(log, Entry("kari@klinikk.no", "doctor", "page_view", "complications: case review", filters=ODD,
                             rows_n=3))
    access.append(log, Entry("kari@klinikk.no", "doctor", "sign_out", "dashboard"))
    raw = log.read_bytes()
    assert raw.isascii() and raw.count(b"\n") == 2, "one entry per line, nothing but ASCII in the file"
    entries = access.read_log(log)
    assert [e["filters"] for e in entries] == [ODD, ""] and not entries.bad_lines
    assert access.verify_log(log) == (True, "intact")


def _old_entry(prev: str, **fields) -> dict:
    """An entry as the code before keying wrote it: plain SHA-256, ensure_ascii=False."""
    record = {"at": "2026-01-05T09:00:00", "user": "kari@klinikk.no", "role": "doctor", "event": "page_view",
              "what": "complications", "filters": "", "rows_n": None, "file_sha256": "", "prev_hash": prev} | fields
    body = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return record | {"hash": hashlib.sha256(body.encode("utf-8")).hexdigest()}


def _write_old_log(path, records) -> None:
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))


def test_an_old_log_with_a_raw_line_separator_is_read_and_kept_on_keying(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    first = _old_entry("", filters=ODD)
    second = _old_entry(first["hash"], event="sign_out", what="dashboard")
    _write_old_log(log, [first, second])
    assert "\u2028".encode() in log.read_bytes()  # what made every sign-in crash: str.splitlines split the entry
    assert [e["filters"] for e in access.read_log(log)] == [ODD, ""]
    assert access.verify_log(log)[0] is False, "no key yet: nothing can vouch for the entries"
    third = access.append(log, Entry("ola@klinikk.no", "manager", "sign_in", "dashboard"))
    assert third["prev_hash"] == second["hash"]
    key = access.read_key(access.key_path_for(log))
    assert (key.unkeyed_entries_n, key.unkeyed_last_hash) == (2, second["hash"])
    intact, message = access.verify_log(log)
    assert intact and message.startswith("intact; entries 1–2 were written before the log was keyed")
    # the old part stays anchored: rewriting it with recomputed plain hashes is seen
    forged = _old_entry("", filters="clinicians = C02")
    lines = log.read_text(encoding="utf-8").split("\n")
    log.write_text("\n".join([json.dumps(forged), json.dumps(_old_entry(forged["hash"], event="sign_out",
                                                                         what="dashboard")), *lines[2:]]),
                   encoding="utf-8")
    assert access.verify_log(log) == (False, "entry 2 is not the last entry from before the log was keyed: entries "
                                             "from before keying were changed, removed or added")


@pytest.mark.parametrize("where", ["middle", "end", "torn end"])
def test_a_bad_line_is_reported_never_fatal_and_appending_goes_on(tmp_path, where):
    log = tmp_path / "clinic.access.jsonl"
    for what in ("overview", "complications", "export"):
        access.append(log, Entry("kari@klinikk.no", "doctor", "page_view", what))
    lines = log.read_text().split("\n")[:-1]
    if where == "middle":
        log.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    elif where == "end":
        log.write_text("\n".join([*lines, '["a", "list"]']) + "\n")
    else:  # a write cut off by a crash: no newline at the end
        log.write_text("\n".join(lines) + "\n" + lines[2][:40])
    entries = access.read_log(log)
    assert [e["what"] for e in entries] == ["overview", "complications", "export"]
    [bad] = entries.bad_lines
    assert bad.line_n == (2 if where == "middle" else 4)
    new = access.append(log, Entry("kari@klinikk.no", "doctor", "sign_out", "dashboard"))
    assert new["prev_hash"] == entries[-1]["hash"], "chained to the last readable entry"
    after = access.read_log(log)
    assert [e["what"] for e in after] == ["overview", "complications", "export", "dashboard"]
    assert [b.line_n for b in after.bad_lines] == [bad.line_n], "the torn line stays alone on its line"
    intact, message = access.verify_log(log)
    assert not intact and message.startswith(f"line {bad.line_n} cannot be read (")


def test_entries_of_the_wrong_shape_are_bad_lines(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    record = access.append(log, Entry("kari@klinikk.no", "doctor", "sign_in", "dashboard"))
    odd = [record | {"what": {"x": 1}}, record | {"rows_n": "12"}, {k: v for k, v in record.items() if k != "at"}]
    with open(log, "a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in odd))
    entries = access.read_log(log)
    assert len(entries) == 1
    assert [b.reason for b in entries.bad_lines] == ["not a log entry (what missing or of the wrong type)",
                                                     "not a log entry (rows_n missing or of the wrong type)",
                                                     "not a log entry (at missing or of the wrong type)"]


def _rechain(records: list[dict], digest) -> str:
    prev, out = "", []
    for r in records:
        r = {k: v for k, v in r.items() if k != "hash"} | {"prev_hash": prev}
        r["hash"] = digest(r)
        prev = r["hash"]
        out.append(json.dumps(r))
    return "\n".join(out) + "\n"


def test_a_rewrite_with_recomputed_hashes_is_detected(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    for user in ("kari@klinikk.no", "ola@klinikk.no", "per@klinikk.no"):
        access.append(log, Entry(user, "doctor", "page_view", "complications: case review", rows_n=4))
    assert access.verify_log(log) == (True, "intact")
    records = access.read_log(log)
    records[1]["user"] = "someone@klinikk.no"  # hide who looked

    def plain(r):
        return hashlib.sha256(json.dumps(r, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    log.write_text(_rechain(records, plain))
    assert access.verify_log(log) == (False, "entry 1 was changed after it was written")
    import hmac

    log.write_text(_rechain(records, lambda r: hmac.new(b"guessed key" * 3, json.dumps(
        r, sort_keys=True, ensure_ascii=False).encode(), hashlib.sha256).hexdigest()))
    assert access.verify_log(log) == (False, "entry 1 was changed after it was written")
    assert access.key_path_for(log).read_bytes() not in log.read_bytes()


def test_a_keyed_log_without_its_key_is_neither_verified_nor_extended(tmp_path):
    log = tmp_path / "clinic.access.jsonl"
    access.append(log, Entry("kari@klinikk.no", "doctor", "sign_in", "dashboard"))
    key = access.key_path_for(log)
    assert key == tmp_path / "clinic.access.key"
    key.rename(tmp_path / "elsewhere.key")
    intact, message = access.verify_log(log)
    assert not intact and f"its key file {key} is missing" in message
    with pytest.raises(access.AccessLogError, match="is keyed but its key file .* is missing.*put the key file back"):
        access.append(log, Entry("kari@klinikk.no", "doctor", "sign_out", "dashboard"))
    assert len(access.read_log(log)) == 1


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """A permissive umask, as on many servers: files must be owner-only by themselves, not by luck."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_log_and_its_key_are_owner_only_and_the_key_can_live_elsewhere(tmp_path, monkeypatch, open_umask):
    log = tmp_path / "logs" / "deep" / "clinic.access.jsonl"
    monkeypatch.setenv("CLINIC_ACCESS_LOG_KEY_FILE", str(tmp_path / "keys" / "access.key"))
    access.append(log, Entry("kari@klinikk.no", "doctor", "sign_in", "dashboard"))
    assert access.key_path_for(log) == tmp_path / "keys" / "access.key"
    assert not (log.parent / "clinic.access.key").exists()
    assert (_mode(log), _mode(tmp_path / "keys" / "access.key")) == (0o600, 0o600)
    assert (_mode(tmp_path / "logs"), _mode(log.parent), _mode(tmp_path / "keys")) == (0o700, 0o700, 0o700)
    os.chmod(log, 0o644)  # an old log, created before
    access.append(log, Entry("kari@klinikk.no", "doctor", "sign_out", "dashboard"))
    assert _mode(log) == 0o600
    assert access.verify_log(log) == (True, "intact")


def test_the_database_snapshots_and_exports_are_owner_only(tmp_path, monkeypatch, open_umask):
    from pipelines.__main__ import main
    from pipelines.ingest.load import load_files
    from pipelines.ingest.store import DbPaths

    db = tmp_path / "data" / "clinic.duckdb"
    load_files(sorted((FIXTURES / "metrics").glob("*.csv")), db, today=TODAY)
    paths = DbPaths(db)
    snapshots = list(paths.snapshots.iterdir())
    assert snapshots
    for path in (db, paths.work, paths.lock, *snapshots):
        assert _mode(path) == 0o600, path
    assert (_mode(db.parent), _mode(paths.snapshots)) == (0o700, 0o700)
    assert not [p for p in db.parent.iterdir() if p.is_file() and _mode(p) & 0o077]

    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(tmp_path / "data" / "clinic.access.jsonl"))
    out = tmp_path / "exports" / "2024" / "rates.csv"
    assert main(["export", "rates", "--outcome", "ptosis", "--period", "all", "-o", str(out), "--db", str(db),
                 "--as-of", "2024-06-30"]) == 0
    assert _mode(out) == 0o600 and _mode(out.parent) == 0o700 and _mode(tmp_path / "exports") == 0o700
    for path in (tmp_path / "data" / "clinic.access.jsonl", tmp_path / "data" / "clinic.access.key"):
        assert _mode(path) == 0o600, path
    out.write_text("old")
    os.chmod(out, 0o644)  # writing over an older, readable file makes it owner-only
    assert main(["export", "rates", "--outcome", "ptosis", "--period", "all", "-o", str(out), "--db", str(db),
                 "--as-of", "2024-06-30"]) == 0
    assert _mode(out) == 0o600


def test_the_command_line_user_is_the_os_account_not_the_environment(metrics_db, tmp_path, monkeypatch):
    from pipelines.__main__ import main
    from pipelines.release import export

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "mallory")
    assert export._user() == OS_USER != "mallory"
    log = tmp_path / "access.jsonl"
    monkeypatch.setenv("CLINIC_ACCESS_LOG", str(log))
    out = tmp_path / "rates.csv"
    assert main(["export", "rates", "--outcome", "ptosis", "--period", "all", "-o", str(out), "--db",
                 str(metrics_db), "--as-of", "2024-06-30"]) == 0
    [entry] = access.read_log(log)
    assert entry["user"] == OS_USER
    assert f"# generated_by: {OS_USER}" in out.read_text().splitlines()
