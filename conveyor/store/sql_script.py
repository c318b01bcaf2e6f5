"""Splitting a migration file into statements."""

from __future__ import annotations


def statements(sql: str) -> list[str]:
    """The statements of ``sql``, split at semicolons, with whole-line ``--`` comments dropped.

    Comments go first because prose in them may hold a semicolon. Migrations keep semicolons
    out of string literals, so the split is otherwise exact.
    """
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in code.split(";") if part.strip()]
