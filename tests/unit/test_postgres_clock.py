"""PostgreSQL's caller's-clock rewrite (``postgres/sql.py: at_clock``), checked without a server.

The conformance suite (tests/store/test_store_clock.py) checks what the verbs do with ``now=``
on a real server; this checks the rewrite leaves no server clock behind in any shipped query.
"""

from __future__ import annotations

import re
from importlib import resources

from conveyor.store.postgres.sql import CLOCK, at_clock, query

SERVER_CLOCK = re.compile(r"\b(now|clock_timestamp|statement_timestamp|transaction_timestamp)\(")


def _names() -> list[str]:
    folder = resources.files("conveyor.store.postgres").joinpath("queries")
    return sorted(e.name[: -len(".sql")] for e in folder.iterdir() if e.name.endswith(".sql"))


def test_no_query_reads_the_server_clock_once_given_the_callers() -> None:
    rewritten = 0
    for name in _names():
        if name == "now":  # the store's clock itself: never run at the caller's
            continue
        sql = query(name, "public")
        at = at_clock(sql)
        assert not SERVER_CLOCK.search(at), name
        if at != sql:
            rewritten += 1
            assert f"%({CLOCK})s" in at
    assert rewritten > 20  # most verbs read the clock


def test_the_rewrite_touches_only_the_clock() -> None:
    sql = "SELECT now(), known_now(), %(now)s, clock_timestamp() - interval '1 s'"
    assert at_clock(sql) == (
        f"SELECT to_timestamp(%({CLOCK})s::float8), known_now(), %(now)s, "
        f"to_timestamp(%({CLOCK})s::float8) - interval '1 s'"
    )
