"""The command line turns a UserError into one line and exit code 1, and nothing else (issue 11, part 7)."""

from __future__ import annotations

import pytest

from pipelines import __main__ as cli
from pipelines.errors import UserError
from pipelines.ingest.read import InputError
from pipelines.ingest.store import LoadBusyError
from pipelines.metrics import registry
from pipelines.release.build import ExportOptionError
from pipelines.release.disclosure import NotForRelease


def test_a_user_error_is_one_line_and_exit_code_1(monkeypatch, capsys):
    def fails(args):
        raise UserError("the file is empty; export the data again")

    monkeypatch.setitem(cli.COMMANDS, "docs", fails)
    assert cli.main(["docs"]) == 1
    assert capsys.readouterr().err == "error: the file is empty; export the data again\n"


def test_a_bug_is_not_dressed_up_as_a_message(monkeypatch):
    """A ValueError from a programming mistake used to be printed as if it were the user's fault."""
    def bug(args):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setitem(cli.COMMANDS, "docs", bug)
    with pytest.raises(ValueError, match="broadcast"):
        cli.main(["docs"])


@pytest.mark.parametrize("error", [InputError, LoadBusyError, ExportOptionError, NotForRelease,
                                   registry.UnknownOutcome])
def test_the_messages_meant_for_the_user_are_user_errors(error):
    assert issubclass(error, UserError)


def test_an_unknown_outcome_on_the_command_line_is_a_message(tmp_path, capsys):
    code = cli.main(["export", "rates", "--outcome", "ptosiss", "-o", str(tmp_path / "x.csv"),
                     "--db", str(tmp_path / "none.duckdb")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ptosiss" in err and err.count("\n") == 1
