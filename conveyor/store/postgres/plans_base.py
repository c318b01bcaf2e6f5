"""What every PostgreSQL plan class shares: the schema, its queries, and which plans are one
statement (see :mod:`conveyor.store.postgres.plans` for how plans run)."""

from __future__ import annotations

from typing import Any

from conveyor.store.plan import Plan, Result, Statement
from conveyor.store.postgres.sql import CLOCK, at_clock, query, wake_channel

__all__ = ["Plan", "PlansBase", "Result", "Statement", "at", "is_single", "register_single"]

SINGLE = frozenset(
    {
        "insert_plain_jobs", "claim_plain_jobs", "limited_waiting", "complete_jobs",
        "heartbeat", "set_progress", "put_worker", "live_workers",
        "now", "list_jobs", "count_jobs", "list_attempts", "next_due_in", "retry_jobs",
        "cancel_jobs", "set_queue_paused", "queue_controls",
        "queue_depth", "count_ahead", "once_seen", "record_once", "held_unique_keys",
    }
)
"""Verbs whose plan is one statement: run in autocommit, one round trip, no BEGIN/COMMIT.

``insert_jobs`` only picks a plan (``insert_plain_jobs``, or the transactional
``insert_unique_jobs`` or ``insert_copied_jobs``); claims are picked by the drivers (see
``claim_jobs`` there).
"""


_single_plans: set[str] = set(SINGLE)


def register_single(names: frozenset[str]) -> None:
    """Add one-statement plans defined in another module (the scheduler's and monitor's)."""
    _single_plans.update(names)


def is_single(plan: Plan[Any]) -> bool:
    """True for a plan of a verb in :data:`SINGLE` or registered with :func:`register_single`."""
    return getattr(plan, "__name__", "") in _single_plans


class PlansBase:
    """A schema and its channel; the domain plan classes build on it."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.channel = wake_channel(schema)

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return query(name, self.schema)

    def at(
        self, sql: str, params: dict[str, Any], now: float | None, *, generic: bool = False,
        settings: tuple[tuple[str, str], ...] = (),
    ) -> Statement:
        """``sql`` with ``params`` on the server's clock, or at the caller's ``now`` if given
        (``generic``, ``settings``: see :class:`Statement`)."""
        return at(sql, params, now, generic=generic, settings=settings)


def at(
    sql: str, params: dict[str, Any], now: float | None, *, generic: bool = False,
    settings: tuple[tuple[str, str], ...] = (),
) -> Statement:
    """A statement on the server's clock, or at the caller's ``now`` when one is given (see
    :func:`conveyor.store.postgres.sql.at_clock`): the default path keeps its text as is."""
    if now is None:
        return Statement(sql, params, generic=generic, settings=settings)
    return Statement(
        at_clock(sql), {**params, CLOCK: float(now)}, generic=generic, settings=settings
    )
