"""Whether a psycopg cursor's last statement answered with rows: one check for every driver."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.pq import ExecStatus

TUPLES_OK = ExecStatus.TUPLES_OK


def has_rows(cur: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> bool:
    """Whether the statement just run returned rows to fetch (a result set, even empty).

    What ``cur.description is not None`` says, without building a column description per
    column on every statement.
    """
    result = cur.pgresult
    return result is not None and (result.nfields > 0 or result.status == TUPLES_OK)
