"""Errors meant for the person at the keyboard.

A `UserError` says what is wrong and how to fix it in one line (a file that cannot be read, a load already running,
an unknown outcome, an export option that does not fit). The command line prints it as `error: ...` and exits 1;
the dashboard shows it as a message. Every other exception is a fault of the program: the command line lets it end
in a traceback, because turning it into a one-line message would hide a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """A message for the user: what is wrong, and how to fix it."""


class NoDatabaseError(UserError, FileNotFoundError):
    """There is no database yet where one is needed."""


__all__ = ["UserError", "NoDatabaseError"]
