"""Roles and the access log: who may open what, roles from the token or the role file, a tamper-evident log."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import write
from pipelines import access
from pipelines.access import Entry


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
    assert access.roles_for({"email": "KARI@klinikk.no"}, mapping) == ("doctor", "admin")
    assert access.roles_for({"email": "nobody@klinikk.no"}, mapping) == ()


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
