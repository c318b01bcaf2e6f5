"""The plan pattern every store verb of several statements follows (sans-I/O).

A plan is a generator that yields :class:`Statement` s and receives each one's :class:`Result`;
what it returns is the verb's answer. It does no I/O, so one plan serves a synchronous and an
asynchronous driver alike, and a driver (PostgreSQL: ``postgres/store.py``,
``postgres/async_store.py``; SQLite: ``sqlite/driver.py``) only runs statements inside one
transaction and hands back rows. Policy that does not depend on the dialect is written once
as such a generator (e.g. :mod:`conveyor.store.claim_passes`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with its parameters (in the dialect's placeholder style).

    With ``many``, the statement runs once per parameter set in it (the driver's
    ``executemany``: one prepared statement, the loop in C) and ``params`` is unused; its
    :class:`Result` has no rows.

    With ``copy``, ``sql`` is a ``COPY ... FROM STDIN`` and ``copy`` yields its data in
    blocks, already in the statement's format, which the driver writes as they come
    (PostgreSQL only: the rows travel as one stream instead of as parameters, and the
    server inserts a block while the next is made); its :class:`Result` has no rows and the
    rows copied as ``rowcount``.
    """

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    many: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]] | None = None
    """Parameter sets for ``executemany``: mappings for named placeholders, or sequences
    for positional ones (cheaper to build and to bind, for a statement run per row)."""
    copy: Iterable[bytes] | None = None
    generic: bool = False
    """Plan it once for any parameter values (PostgreSQL: a generic plan of a prepared
    statement) instead of at each run: for a hot statement whose best plan does not depend on
    its values, such as the worker's claim (decision 120). Other dialects ignore it."""
    settings: tuple[tuple[str, str], ...] = ()
    """Planner settings this statement alone runs with, as (name, value) pairs (PostgreSQL:
    set transaction-locally just before it and put back just after it, in its round trip; see
    :mod:`conveyor.store.postgres.planner_settings`). For a statement whose plan must not
    depend on statistics the table may not have yet (decision 132); not for a statement with
    ``many`` or ``copy``. Other dialects ignore them."""


@dataclass(frozen=True, slots=True)
class Result:
    """What a driver sends back into a plan after running a statement."""

    rows: list[tuple[Any, ...]]
    rowcount: int


Plan = Generator[Statement, Result, T]
