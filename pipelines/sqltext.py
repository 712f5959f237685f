"""The one place where a name or a constant becomes SQL text.

Rule (docs/security.md): nothing taken from a file, a URL, a widget or a token ever becomes SQL text. Values are
bound (`?` / `$name`); columns read from a file get positional names (`c0`, `c1`, ... and `extra__<position>`), so
a header is only ever data. What remains is SQL text built from the project's own constants: contract column and
table names, registry keys and literals, option names checked against a fixed list. Those go through here:

- `ident(name)` quotes an identifier (doubling `"`), and refuses NUL and anything that is not a str;
- `literal(text)` quotes a string constant (doubling `'`), for constants of the contract and the registry only;
- `choice(value, allowed, what)` returns `value` if it is one of a fixed set of SQL keywords (a date_trunc unit, a
  group-by column), else raises: an option from the command line or a URL becomes SQL only through a fixed list;
- `one_statement(sql)` raises unless `sql` parses as exactly one statement.
"""

from __future__ import annotations

from collections.abc import Iterable


class UnsafeSqlText(ValueError):
    """Text that may not become SQL (a programming error, never a user's input error)."""


def _plain_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise UnsafeSqlText(f"{what} must be a str, not {type(text).__name__}")
    if "\x00" in text:
        raise UnsafeSqlText(f"{what} contains a NUL character")
    return text


def ident(name: str) -> str:
    """A quoted SQL identifier: `ident('a"b')` -> `"a""b"`."""
    return '"' + _plain_text(name, "an identifier").replace('"', '""') + '"'


def literal(text: str) -> str:
    """A quoted SQL string literal for a constant of the project: `literal("it's")` -> `'it''s'`."""
    return "'" + _plain_text(text, "a literal").replace("'", "''") + "'"


def choice(value: str, allowed: Iterable[str], what: str) -> str:
    """`value` if it is one of `allowed` (fixed SQL words such as date_trunc units), else UnsafeSqlText."""
    options = tuple(allowed)
    if value not in options:
        raise UnsafeSqlText(f"{what} must be one of {', '.join(options)}, not {value!r}")
    return value


def one_statement(sql: str) -> str:
    """`sql` unchanged if it is exactly one statement (DuckDB's own parser decides)."""
    import duckdb

    count = len(duckdb.extract_statements(sql))
    if count != 1:
        raise UnsafeSqlText(f"expected one SQL statement, found {count}")
    return sql


__all__ = ["UnsafeSqlText", "ident", "literal", "choice", "one_statement"]
