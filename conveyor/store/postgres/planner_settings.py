"""Planner settings for one statement, set just before it and put back just after it.

A statement marked with :attr:`~conveyor.store.plan.Statement.settings` runs between two small
statements on the same connection: the first saves each setting's current value in a
transaction-local custom variable (``conveyor.was_<name>``) and sets the new value
(``set_config(..., true)``, transaction-local); the second sets each back from what was saved.
All three travel in one pipeline with one Sync, so the statement keeps its single round trip,
and nothing outlives it: on an autocommit connection the three share the Sync's implicit
transaction, inside a transaction the values are put back before the next statement is
planned (decision 132). Behind a transaction pooler this still holds: the three are one
transaction's statements, or inside one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import psycopg

from conveyor.store.plan import Result, Statement
from conveyor.store.postgres.generic_plan import GENERIC_SETTINGS, run_between, run_between_async

Settings = tuple[tuple[str, str], ...]

INDEX_WALKS: Settings = (
    ("enable_bitmapscan", "off"),
    ("enable_sort", "off"),
    # Pricing plans out adds a huge constant to one that still needs a sort (of a few rows),
    # past jit_above_cost: sessions start with JIT off, but not where a pooler refused the
    # startup option.
    ("jit", "off"),
)
"""For a statement written as ordered walks of indexes whose plan must not depend on the
table's statistics (decision 132): no bitmap scan (which cannot mark the dead index entries
it meets, so a table whose finished jobs have not been vacuumed yet is read whole again at
every run) and no sort where an index gives the order (on a table never analyzed, the planner
guesses one matching row and sorts every waiting job instead of reading a window in order)."""

_NAME = re.compile(r"[a-z_]+")
_VALUE = re.compile(r"[A-Za-z0-9_.]+")


def _checked(settings: Sequence[tuple[str, str]]) -> Settings:
    # The names and values are the code's constants, spliced into SQL: refuse anything else.
    for name, value in settings:
        if not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
            raise ValueError(f"not a planner setting Conveyor sets: {name}={value}")
    return tuple(settings)


@cache
def set_sql(settings: Settings) -> str:
    """The statement that saves each setting's value and sets the new one (transaction-local)."""
    parts = [
        f"set_config('conveyor.was_{name}', current_setting('{name}'), true), "
        f"set_config('{name}', '{value}', true)"
        for name, value in _checked(settings)
    ]
    return "SELECT " + ", ".join(parts)


@cache
def restore_sql(settings: Settings) -> str:
    """The statement that puts each setting back to the value :func:`set_sql` saved."""
    parts = [
        f"set_config('{name}', current_setting('conveyor.was_{name}'), true)"
        for name, _ in _checked(settings)
    ]
    return "SELECT " + ", ".join(parts)


def settings_for(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], statement: Statement
) -> Settings:
    """The settings ``statement`` runs with on ``conn`` when it is not its own transaction
    (decision 133): its own; for a statement marked generic on a connection that prepares
    statements, :data:`~conveyor.store.postgres.generic_plan.GENERIC_SETTINGS`, so that it is
    planned once there too (a worker's round that completes stage jobs or claims limited ones
    is a transaction, and its plain claim was planned anew at every round). Behind a
    transaction pooler nothing is prepared, so there is no plan to keep."""
    if statement.settings:
        return statement.settings
    if statement.generic and conn.prepare_threshold is not None:
        return GENERIC_SETTINGS
    return ()


def prepare_now(statement: Statement, settings: Settings) -> bool | None:
    """psycopg's ``prepare`` for ``statement`` run with ``settings``: a generic statement from
    its first run (its generic plan is worth having only once it is kept), else psycopg's
    own rule."""
    return True if statement.generic and settings else None


def run_with_settings(
    conn: psycopg.Connection[Any], statement: Statement, settings: Settings
) -> Result:
    """Run ``statement`` on ``conn`` with ``settings``, set before it and put back after it in
    one round trip (:func:`~conveyor.store.postgres.generic_plan.run_between`). On an error the
    pipeline's Sync has ended an implicit transaction, or the caller's transaction is aborted
    and rolled back by its owner."""
    return run_between(
        conn, set_sql(settings), statement, restore_sql(settings),
        prepare=prepare_now(statement, settings),
    )


async def run_with_settings_async(
    conn: psycopg.AsyncConnection[Any], statement: Statement, settings: Settings
) -> Result:
    """The async twin of :func:`run_with_settings`."""
    return await run_between_async(
        conn, set_sql(settings), statement, restore_sql(settings),
        prepare=prepare_now(statement, settings),
    )
