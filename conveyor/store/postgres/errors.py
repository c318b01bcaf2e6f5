"""Translating psycopg errors into Conveyor's: driver types never leak above the store."""

from __future__ import annotations

import psycopg
import psycopg_pool
from psycopg import errors as pgerrors

from conveyor.errors import ConveyorError, StoreError, StoreUnavailableError

# Errors after which the same operation may well succeed on a fresh connection: the server
# restarted, our backend was terminated, the pool was exhausted, or the primary is read-only
# during a failover.
_TRANSIENT = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    pgerrors.ReadOnlySqlTransaction,
    pgerrors.SerializationFailure,
    pgerrors.DeadlockDetected,
)


def translate(exc: Exception, where: str) -> ConveyorError:
    """The Conveyor error for a psycopg failure during ``where``."""
    if isinstance(exc, _TRANSIENT):
        return StoreUnavailableError(
            f"PostgreSQL is unavailable ({where}: {type(exc).__name__}: {exc}); the operation "
            "was not applied and it is safe to retry (unless the connection broke while "
            "committing, when, as with any database, its outcome is unknown)"
        )
    return StoreError(
        f"PostgreSQL refused {where} ({type(exc).__name__}: {exc}); nothing was changed"
    )


def is_driver_error(exc: BaseException) -> bool:
    """True for the exceptions :func:`translate` handles."""
    return isinstance(exc, psycopg.Error | psycopg_pool.PoolTimeout)
