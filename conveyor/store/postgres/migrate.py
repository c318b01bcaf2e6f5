"""Numbered migrations with a version table, applied under a transaction-level advisory lock."""

from __future__ import annotations

from conveyor.errors import MigrationError
from conveyor.store.postgres.plans import Plan, Statement
from conveyor.store.postgres.sql import migrations
from conveyor.store.sql_script import statements

LATEST_VERSION = max(version for version, _ in migrations("public"))
_LOCK_KEY = 0x636F6E76  # "conv": one well-known key serialises concurrent migrators


def version_plan(schema: str) -> Plan[int]:
    """The applied schema version, 0 when nothing was applied."""
    found = yield Statement(
        "SELECT to_regclass(%(table)s) IS NOT NULL",
        {"table": f'"{schema}".conveyor_schema_version'},
    )
    if not found.rows[0][0]:
        return 0
    result = yield Statement(f'SELECT MAX(version) FROM "{schema}".conveyor_schema_version')
    return int(result.rows[0][0] or 0)


def migrate_plan(schema: str) -> Plan[int]:
    """Apply the missing migrations; safe when several processes run it at once."""
    yield Statement("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _LOCK_KEY})
    exists = yield Statement(
        "SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s", {"schema": schema}
    )
    if not exists.rows:  # CREATE SCHEMA needs a privilege an existing schema does not
        yield Statement(f'CREATE SCHEMA "{schema}"')
    yield Statement(
        f'CREATE TABLE IF NOT EXISTS "{schema}".conveyor_schema_version ('
        "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    result = yield Statement(f'SELECT MAX(version) FROM "{schema}".conveyor_schema_version')
    current = int(result.rows[0][0] or 0)
    if current > LATEST_VERSION:
        raise MigrationError(
            f"schema {schema!r} has version {current}, newer than this Conveyor knows "
            f"({LATEST_VERSION}); upgrade Conveyor"
        )
    for version, sql in migrations(schema):
        if version <= current:
            continue
        for part in statements(sql):
            yield Statement(part)
        yield Statement(
            f'INSERT INTO "{schema}".conveyor_schema_version (version) VALUES (%(v)s)',
            {"v": version},
        )
        current = version
    return current
