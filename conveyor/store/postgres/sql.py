"""Loading this dialect's SQL files, qualified with the configured schema."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

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


@cache
def query(name: str, schema: str) -> str:
    """The SQL of ``queries/<name>.sql`` with ``{schema}`` filled in (read once)."""
    return _text("queries", f"{name}.sql").replace("{schema}", f'"{schema}"')


def migrations(schema: str) -> list[tuple[int, str]]:
    """Numbered migrations shipped with the package, in order, for ``schema``."""
    folder = resources.files("conveyor.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            sql = entry.read_text().replace("{schema}", f'"{schema}"')
            found.append((int(entry.name.split("_", 1)[0]), sql))
    return sorted(found)


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel: one per schema, never built from queue names."""
    return f"conveyor_{schema}"
