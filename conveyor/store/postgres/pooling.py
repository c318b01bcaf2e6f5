"""Running behind a connection pooler in transaction mode (PgBouncer ``pool_mode=transaction``).

A transaction-pooling PgBouncer hands each transaction to whichever server connection is free,
so nothing may outlive one transaction on a server connection. Conveyor's statements already
keep no session state (its advisory locks are transaction-scoped, it creates no temporary
tables and issues no ``SET``); three connection habits do not survive the pooler, and
:class:`Pooling` switches them off:

- psycopg prepares a statement on the server after its fifth run (``prepare_threshold``); the
  prepared statement lives on one server connection, and PgBouncer before 1.21 does not follow
  it to the next one ("prepared statement ... does not exist"). Behind a pooler the threshold is
  ``None``: every statement is sent with its text.
- the ``options=-c jit=off`` startup parameter (:mod:`.session`) is refused by PgBouncer unless
  its ``ignore_startup_parameters`` lists it, and even then it is dropped, not applied. Behind a
  pooler it is not sent; JIT is turned off where the pooler's server connections start (the
  PgBouncer database entry's ``connect_query='SET jit = off'``, or ``ALTER ROLE ... SET jit =
  off``), and the store warns once when it finds JIT on.
- a LISTEN connection idles outside any transaction, so the pooler may give its server
  connection to someone else: notifications would be lost. Wake-ups LISTEN on
  :attr:`Pooling.listen_url`, a direct connection to PostgreSQL, when one is given; without
  one, idle workers poll every ``poll_interval`` (1 s by default).

Chosen with ``PostgresStore(url, pooler="transaction", listen_url=...)`` or, for every process
of a deployment, the environment variables :data:`POOLER_ENV` and :data:`LISTEN_URL_ENV`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from conveyor.errors import ConfigurationError

POOLER_ENV = "CONVEYOR_PG_POOLER"
"""Environment variable naming the pooler mode: ``transaction`` or ``none`` (the default)."""

LISTEN_URL_ENV = "CONVEYOR_PG_LISTEN_URL"
"""Environment variable holding a direct PostgreSQL URL for LISTEN behind a pooler."""

MODES = ("none", "transaction")
"""The pooler modes Conveyor knows (``session`` pooling needs nothing special: say ``none``)."""


@dataclass(frozen=True)
class Pooling:
    """How this store's connections reach PostgreSQL."""

    mode: str = "none"
    """``transaction`` behind a transaction-pooling PgBouncer, else ``none``."""

    listen_url: str | None = None
    """A direct connection for LISTEN; ``None`` means the store URL (or polling behind a pooler)."""

    @property
    def transaction(self) -> bool:
        """Whether connections go through a transaction pooler."""
        return self.mode == "transaction"

    def listen_target(self, url: str) -> str | None:
        """The URL to LISTEN on, or ``None`` when wake-ups must come from polling."""
        if self.listen_url:
            return self.listen_url
        return None if self.transaction else url


def pooling(pooler: str | None = None, listen_url: str | None = None) -> Pooling:
    """The pooling settings from the arguments, else from the environment; a clear error for a
    mode Conveyor does not know."""
    mode = (pooler if pooler is not None else os.environ.get(POOLER_ENV, "")).strip().lower()
    mode = mode or "none"
    if mode == "session":
        mode = "none"  # session pooling keeps a server connection per client: nothing to change
    if mode not in MODES:
        source = "pooler=" if pooler is not None else f"{POOLER_ENV}="
        raise ConfigurationError(
            f"{source}{mode!r} is not a pooler mode Conveyor knows; use 'transaction' behind "
            "PgBouncer's pool_mode=transaction, or 'none' (also right for session pooling)"
        )
    listen = listen_url if listen_url is not None else os.environ.get(LISTEN_URL_ENV)
    listen = (listen or "").strip() or None
    if listen is not None and not listen.startswith(("postgres://", "postgresql://")):
        raise ConfigurationError(
            f"listen_url {listen!r} is not a PostgreSQL URL; give a direct connection to the "
            "server (postgresql://user@host:5432/dbname), not through the pooler"
        )
    return Pooling(mode, listen)
