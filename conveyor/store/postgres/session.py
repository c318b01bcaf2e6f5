"""How Conveyor's own PostgreSQL connections start: with JIT compilation off.

Conveyor's statements are small and read few rows along indexes, but on a big table the
planner's estimate of a claim can pass ``jit_above_cost`` anyway, and then most of the
statement's time goes into compiling it (29 of 31 ms per claim with a million queued jobs,
issue 14). So every connection Conveyor opens asks for ``jit=off`` in its startup packet
(libpq's ``options=-c jit=off``): no extra round trip, no ``SET`` that a pooler could carry over
to another client, and whatever the server's or the database's setting.

PgBouncer refuses an ``options`` startup parameter it does not track (and before 1.20 any
``options`` at all). A connection it refuses for that reason is opened again without the
option, once per process with a warning; behind PgBouncer, ``ALTER ROLE … SET jit = off``
turns JIT off for Conveyor's role instead (docs/postgres.md, "JIT").
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger("conveyor.store.postgres")

JIT_OFF = "-c jit=off"
"""The startup option every Conveyor connection sends."""

_refused: set[str] = set()
"""Connection strings whose server (a pooler) refused the startup option: not sent again."""


def connect_kwargs(url: str, *, pooled: bool = False, **extra: Any) -> dict[str, Any]:
    """The keyword arguments Conveyor connects with: ``extra`` plus ``options`` holding the URL's
    own options (kept: a later keyword would replace them) and :data:`JIT_OFF`.

    ``pooled`` (behind a transaction pooler, :mod:`.pooling`): no startup option, and no
    server-side prepared statements (``prepare_threshold=None``).
    """
    if pooled:
        return {**extra, "prepare_threshold": None}
    if url in _refused:
        return dict(extra)
    own = str(conninfo_to_dict(url).get("options") or "")
    if JIT_OFF in own:
        return dict(extra)
    return {**extra, "options": f"{own} {JIT_OFF}".strip()}


def refused_options(exc: BaseException) -> bool:
    """Whether ``exc`` is a pooler refusing the ``options`` startup parameter."""
    text = str(exc).lower()
    return "unsupported" in text and "startup parameter" in text and "options" in text


def _without_option(url: str, kwargs: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    if url not in _refused:
        _refused.add(url)
        log.warning(
            "the server refused the startup option %r (%s); connecting without it. Behind "
            "PgBouncer, run ALTER ROLE <conveyor's role> SET jit = off instead",
            JIT_OFF,
            str(exc).strip(),
        )
    own = str(conninfo_to_dict(url).get("options") or "")
    rest = {k: v for k, v in kwargs.items() if k != "options"}
    return {**rest, "options": own} if own else rest


class SessionConnection(psycopg.Connection[Any]):
    """A connection opened with :func:`connect_kwargs`' options, and again without them when a
    pooler refuses them (the pool's ``connection_class``)."""

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> SessionConnection:
        """Connect with the startup option, or without it when it is refused."""
        try:
            return super().connect(conninfo, **kwargs)
        except psycopg.OperationalError as exc:
            if "options" not in kwargs or not refused_options(exc):
                raise
            return super().connect(conninfo, **_without_option(conninfo, kwargs, exc))


class AsyncSessionConnection(psycopg.AsyncConnection[Any]):
    """The async twin of :class:`SessionConnection`."""

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> AsyncSessionConnection:
        """Connect with the startup option, or without it when it is refused."""
        try:
            return await super().connect(conninfo, **kwargs)
        except psycopg.OperationalError as exc:
            if "options" not in kwargs or not refused_options(exc):
                raise
            return await super().connect(conninfo, **_without_option(conninfo, kwargs, exc))
