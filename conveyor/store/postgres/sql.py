"""Loading this dialect's SQL files, qualified with the configured schema."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from conveyor.errors import ConfigurationError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


def check_schema(schema: str) -> str:
    """Return ``schema`` if it is a plain lower-case identifier, else raise."""
    if not _IDENTIFIER.match(schema):
        raise ConfigurationError(
            f"schema name {schema!r} must be a lower-case identifier (letters, digits, '_', "
            "at most 48 characters, not starting with a digit)"
        )
    return schema


@cache
def _text(folder: str, name: str) -> str:
    return resources.files("conveyor.store.postgres").joinpath(f"{folder}/{name}").read_text()


_INCLUDE = re.compile(r"^[ \t]*-- @include ([a-z_]+)[ \t]*$", re.MULTILINE)


@cache
def query(name: str, schema: str) -> str:
    """The SQL of ``queries/<name>.sql`` with ``{schema}`` filled in (read once). A line
    ``-- @include OTHER`` stands for ``queries/OTHER.sql``'s text: a piece several statements
    share (the claims' tenants CTE) is written once."""
    text = _INCLUDE.sub(
        lambda m: _text("queries", f"{m.group(1)}.sql").strip("\n"), _text("queries", f"{name}.sql")
    )
    return text.replace("{schema}", f'"{schema}"')


_MARKER = re.compile(r"^[ \t]*-- @(part|hook) ([a-z_]+)\b.*$", re.MULTILINE)


def parts(name: str, schema: str) -> dict[str, str]:
    """The ``-- @part NAME`` sections of ``queries/<name>.sql``, for a statement composed of
    several files' SQL (``postgres/claim_round.py``).

    A file that another statement reuses marks where each reusable part starts with a comment
    line ``-- @part NAME`` (the part runs to the next marker or the end; text before the first
    is the file's header), and a place the composer may fill in with ``-- @hook NAME`` (see
    :func:`fill_hook`). The file still runs as it is: markers are comments. A composer asks for
    parts by name, so an edit that drops or renames one fails at once with the file's name,
    not later with a malformed statement.
    """
    return split_parts(query(name, schema), f"queries/{name}.sql")


def split_parts(sql: str, where: str) -> dict[str, str]:
    """The ``-- @part`` sections of ``sql`` by name (see :func:`parts`); ``where`` names the
    file in errors."""
    found = [
        (m.group(2), m.start(), m.end()) for m in _MARKER.finditer(sql) if m.group(1) == "part"
    ]
    names = [n for n, _, _ in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"{where} marks a part twice: {names}")
    ends = [start for _, start, _ in found[1:]] + [len(sql)]
    return {n: sql[end:stop].strip("\n") for (n, _, end), stop in zip(found, ends, strict=True)}


def part(name: str, schema: str, section: str) -> str:
    """Part ``section`` of ``queries/<name>.sql`` (see :func:`parts`); raise if it has none."""
    found = parts(name, schema)
    if section not in found:
        raise RuntimeError(
            f"queries/{name}.sql has no '-- @part {section}' marker (it has {sorted(found)}); "
            "a statement composed from it needs one"
        )
    return found[section]


def fill_hook(sql: str, hook: str, text: str) -> str:
    """``sql`` with its one ``-- @hook HOOK`` comment line replaced by ``text``; raise when it
    has no such hook, or several."""
    lines = [m for m in _MARKER.finditer(sql) if m.group(1) == "hook" and m.group(2) == hook]
    if len(lines) != 1:
        raise RuntimeError(f"expected one '-- @hook {hook}' line, found {len(lines)}")
    return sql[: lines[0].start()] + text + sql[lines[0].end() :]


CLOCK = "conveyor_now"
"""The parameter that carries the caller's clock (epoch seconds) into a statement."""

_SERVER_CLOCK = re.compile(r"\b(?:now|clock_timestamp)\(\)")


@cache
def at_clock(sql: str) -> str:
    """``sql`` run at the caller's clock: each ``now()`` and ``clock_timestamp()`` reads the
    :data:`CLOCK` parameter instead.

    The queries are written against the server's clock (``now()``, the transaction's start, or
    ``clock_timestamp()`` where a statement must read the time after waiting for locks);
    a verb given ``now=`` runs the very same text with that one function replaced, so the
    default path keeps its statement unchanged and a test can advance time without sleeping.
    """
    return _SERVER_CLOCK.sub(f"to_timestamp(%({CLOCK})s::float8)", sql)


def inline_nulls(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``sql`` with each ``%(name)s`` whose value is ``None`` written as ``NULL``, and the
    parameters left.

    For a hot statement with many optional parameters (a one-job insert has 26, most of them
    ``None`` for a plain job): psycopg spends per parameter on every call (reordering,
    adapting, the prepared-statement key), and the server binds each one; a ``NULL`` in the
    text costs neither. Each pattern of absent values is its own statement text, so its own
    prepared statement (few patterns occur: which options a job type uses is mostly fixed).
    A parameter cast in the text (``%(x)s::float8``) keeps its type; a bare one becomes an
    untyped ``NULL``, which PostgreSQL gives the type its place needs, as it does an untyped
    ``None`` parameter.
    """
    nulls = tuple(name for name, value in params.items() if value is None)
    if not nulls:
        return sql, params
    return _without(sql, nulls), {k: v for k, v in params.items() if v is not None}


@cache
def _without(sql: str, nulls: tuple[str, ...]) -> str:
    for name in nulls:
        sql = sql.replace(f"%({name})s", "NULL")
    return sql


def migrations(schema: str) -> list[tuple[int, str]]:
    """Numbered migrations shipped with the package, in order, for ``schema``."""
    folder = resources.files("conveyor.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            sql = entry.read_text().replace("{schema}", f'"{schema}"')
            found.append((int(entry.name.split("_", 1)[0]), sql))
    return sorted(found)


def wake_channel(schema: str) -> str:
    """The channel that wakes idle workers (PostgreSQL LISTEN/NOTIFY): one per schema, never
    built from queue names. "Notify" in Conveyor means telling people and systems (alerts,
    `notify_url`), so the wake-up path is named for what it does."""
    return f"conveyor_{schema}"
