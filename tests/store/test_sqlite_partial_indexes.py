"""SQLite only: partial-index predicates stay free of IN lists, and the queries match them.

SQLite codes an IN of three or more constants as an ephemeral table, and an UPDATE that
changes a job's state tests every partial index predicate that names ``state`` on the old row
and the new one: six such predicates made ``finish_job`` build 13 ephemeral tables per job
(32 µs of CPU against 13 with OR chains; decision 110, migration 0022). These tests keep the
cost from coming back and check that every query still prepares against the rewritten
indexes (SQLite refuses an ``INDEXED BY`` whose predicate the query's WHERE does not imply).
"""

from __future__ import annotations

import re
import sqlite3
import time
from importlib import resources
from pathlib import Path

from store_helpers import at_version

from conveyor.store.protocol import ClaimParams
from conveyor.store.sqlite import SQLiteStore
from conveyor.store.sqlite.connection import LATEST_VERSION, query

OR_CHAINS = 22
"""The migration that rewrote the IN-list predicates as OR chains."""
WAITING_IN = re.compile(
    r"(?<![+\w.])(\w+\.)?state\s+IN\s*\(\s*'queued',\s*'scheduled',\s*'retrying'\s*\)"
)
FINISHED_IN = re.compile(
    r"(?<![+\w.])(\w+\.)?state\s+IN\s*\(\s*'succeeded',\s*'dead',\s*'cancelled'\s*\)"
)


def _migrated(path: Path) -> sqlite3.Connection:
    SQLiteStore(path).close()
    return sqlite3.connect(path)


def _partial_indexes(conn: sqlite3.Connection) -> dict[str, str]:
    """Each partial index's name and the text of its WHERE clause."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
    ).fetchall()
    return {name: " ".join(sql.split(" WHERE ", 1)[1].split()) for name, sql in rows}


def _query_files() -> dict[str, str]:
    folder = resources.files("conveyor.store.sqlite").joinpath("queries")
    return {e.name: e.read_text() for e in folder.iterdir() if e.name.endswith(".sql")}


def test_no_partial_index_predicate_is_an_in_list(tmp_path: Path) -> None:
    conn = _migrated(tmp_path / "c.db")
    try:
        predicates = _partial_indexes(conn)
    finally:
        conn.close()
    assert "conveyor_jobs_ready" in predicates  # the query found the indexes at all
    offenders = {n: p for n, p in predicates.items() if re.search(r"\bIN\s*\(", p, re.I)}
    assert not offenders, (
        "partial index predicates with IN lists cost an ephemeral table per row on every "
        f"UPDATE of their columns; write them as OR chains: {offenders}"
    )


def test_a_state_change_builds_no_table_per_index(tmp_path: Path) -> None:
    conn = _migrated(tmp_path / "c.db")
    try:
        for name in ("finish_job", "claim_jobs"):
            sql = query(name)
            params = dict.fromkeys(re.findall(r"(?<!:):([a-z_]+)", sql), 1)
            program = conn.execute(f"EXPLAIN {sql}", params).fetchall()
            opened = sum(1 for op in program if op[1] == "OpenEphemeral")
            # finish_job: none (13 before 0022; 1, the CHECK's list of states, before 0023).
            # claim_jobs: its own IN (SELECT ...) subqueries (16 before 0022, 4 before 0023).
            assert opened <= {"finish_job": 0, "claim_jobs": 3}[name], (name, opened)
    finally:
        conn.close()


def test_queries_write_the_state_sets_as_the_predicates_do() -> None:
    # The planner matches a partial index only on the identical expression, so one spelling
    # everywhere: a query with the IN form would silently lose the index (or, with INDEXED
    # BY, fail to prepare). A unary + (state kept off every index on purpose) is exempt.
    offenders = [
        name for name, sql in _query_files().items()
        if WAITING_IN.search(sql) or FINISHED_IN.search(sql)
    ]
    assert not offenders, offenders


def test_every_query_prepares_against_the_indexes(tmp_path: Path) -> None:
    conn = _migrated(tmp_path / "c.db")
    try:
        for name, text in _query_files().items():
            sql = re.sub(r"\{\w+\}", "1", text)  # templates' clauses: any true expression
            numbered = [int(n) for n in re.findall(r"\?(\d+)", sql)]  # usage_insert's
            params: dict[str, None] | tuple[None, ...] = (
                (None,) * max(numbered) if numbered
                else dict.fromkeys(re.findall(r"(?<!:):([a-z_0-9]+)", sql))
            )
            try:
                conn.execute(f"EXPLAIN {sql}", params).fetchall()
            except sqlite3.Error as exc:
                raise AssertionError(f"{name}: {exc}") from exc
    finally:
        conn.close()


MEETS = {
    "next_due": {"conveyor_jobs_ready", "conveyor_jobs_ready_limited"},
    "queue_counts": {"conveyor_jobs_waiting", "conveyor_jobs_finished"},
    "count_ahead": {"conveyor_jobs_waiting"},
    "queue_depth": {"conveyor_jobs_waiting"},
    "claim_tenant_groups": {"conveyor_jobs_ready_tenant"},
    "claim_candidates": {"conveyor_jobs_ready_tenant"},
    "web_finished_series": {"conveyor_jobs_finished"},
}
"""Queries that reach the rewritten indexes without naming them (no INDEXED BY to fail), and
the indexes their plans must use: a predicate the query no longer implies loses them silently."""


def test_queries_without_indexed_by_still_use_the_indexes(tmp_path: Path) -> None:
    conn = _migrated(tmp_path / "c.db")
    try:
        conn.execute(
            "INSERT INTO conveyor_jobs (queue, name, args, state, max_attempts, run_at, "
            "created_at, finished_at) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
            "FROM g WHERE n < 2000) SELECT 'q' || (n % 3), 'send', '{}', CASE n % 4 WHEN 0 "
            "THEN 'succeeded' WHEN 1 THEN 'dead' ELSE 'queued' END, 3, n, 0, "
            "CASE WHEN n % 4 < 2 THEN n END FROM g"
        )
        conn.commit()
        for analyzed in (False, True):  # by the indexes' shape alone, then with statistics
            if analyzed:
                conn.execute("ANALYZE")
            for name, wanted in MEETS.items():
                sql = query(name)
                params = dict.fromkeys(re.findall(r"(?<!:):([a-z_0-9]+)", sql))
                plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                used = set(re.findall(r"INDEX (conveyor_jobs_\w+)", plan))
                assert wanted <= used, (name, analyzed, plan)
    finally:
        conn.close()


def _at_version(path: Path, version: int) -> None:
    conn = at_version(path, version)
    try:
        now = time.time()
        conn.executemany(
            "INSERT INTO conveyor_jobs (queue, name, args, state, max_attempts, run_at, "
            "created_at, finished_at, expires_at) VALUES ('q', 'send', '{}', ?, 3, ?, ?, ?, ?)",
            [("queued", now - 5, now - 5, None, None),
             ("queued", now - 4, now - 4, None, now - 1),  # expired: cancel_expired takes it
             ("dead", now - 3, now - 3, now - 2, None),
             ("succeeded", now - 3, now - 3, now - 1, None)],
        )
    finally:
        conn.close()


def test_a_schema_21_database_migrates_and_its_jobs_are_found(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _at_version(path, OR_CHAINS - 1)
    conn = sqlite3.connect(path)
    try:
        assert any(" IN (" in p for p in _partial_indexes(conn).values())  # as 0021 left it
    finally:
        conn.close()
    store = SQLiteStore(path)
    try:
        assert store.db.schema_version() == LATEST_VERSION >= OR_CHAINS
        # Each verb below reads its rows along one of the rebuilt indexes, two of them
        # naming it with INDEXED BY.
        assert store.cancel_expired() == [2]
        claimed = store.claim_jobs(ClaimParams("w", ("q",), ("send",), 10, 60.0))
        assert [j.id for j in claimed] == [1]
        assert [g.count for g in store.dead_groups()] == [1]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        predicates = _partial_indexes(conn)
        names = [r[1] for r in conn.execute("PRAGMA index_list(conveyor_jobs)")]
    finally:
        conn.close()
    assert not any(" IN (" in p for p in predicates.values()), predicates
    for name in ("ready", "ready_limited", "ready_tenant", "finished", "expiring", "waiting"):
        assert f"conveyor_jobs_{name}" in names
