"""SQLite only: migration 0023 writes the jobs table's state CHECK as an OR chain.

An IN list of constants is an ephemeral table SQLite builds for every row it checks, so the
claim and the completion each built one per job (decision 113). The table is rebuilt to change
the constraint; these tests build a database as 0022 left it, fill it, migrate it, and check
that every row, index and id counter came through, and that the constraint still refuses a
state outside the eight.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from store_helpers import at_version

from conveyor.store.protocol import ClaimParams
from conveyor.store.sqlite import SQLiteStore
from conveyor.store.sqlite.connection import LATEST_VERSION

OR_CHECK = 23
"""The migration that wrote the state CHECK as an OR chain."""


def _fill(conn: sqlite3.Connection) -> None:
    """Jobs 1..5 in five states, then job 6 deleted, so the id counter is ahead of max(id)."""
    now = time.time()
    rows = [
        (1, "q", "send", "succeeded", now - 9, now - 1, '"ok"', None),
        (2, "q", "send", "queued", now - 5, None, None, None),
        (3, "q", "send", "held", now - 4, None, None, "k"),
        (4, "q", "send", "dead", now - 3, now - 2, None, None),
        (5, "q", "send", "running", now - 2, None, None, None),
        (6, "q", "send", "queued", now - 1, None, None, None),
    ]
    conn.executemany(
        "INSERT INTO conveyor_jobs (id, queue, name, args, state, max_attempts, run_at, "
        "created_at, finished_at, result, sequence_key) "
        "VALUES (?, ?, ?, '{}', ?, 3, ?, ?, ?, ?, ?)",
        [(i, q, n, s, at, at, fin, res, key) for i, q, n, s, at, fin, res, key in rows],
    )
    conn.execute("DELETE FROM conveyor_jobs WHERE id = 6")


def _snapshot(conn: sqlite3.Connection) -> tuple[object, ...]:
    jobs = conn.execute("SELECT * FROM conveyor_jobs ORDER BY id").fetchall()
    indexes = sorted(
        (name, " ".join(sql.split()))
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'conveyor_jobs' AND sql IS NOT NULL"
        )
    )
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'conveyor_jobs'").fetchone()
    return jobs, indexes, seq


def _table_sql(conn: sqlite3.Connection) -> str:
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'conveyor_jobs'"
    ).fetchone()
    return " ".join(str(row[0]).split())


def test_the_rebuild_keeps_rows_indexes_and_the_id_counter(tmp_path: Path) -> None:
    assert LATEST_VERSION >= OR_CHECK
    path = tmp_path / "old.db"
    conn = at_version(path, OR_CHECK - 1)
    _fill(conn)
    before = _snapshot(conn)
    assert "state IN ('held'" in _table_sql(conn)
    conn.close()

    store = SQLiteStore(path)
    try:
        assert store.db.schema_version() == LATEST_VERSION
        claimed = store.claim_jobs(ClaimParams("w", ("q",), ("send",), 10, 60.0))
        assert [j.id for j in claimed] == [2]  # the queued one; held, running, done stay
    finally:
        store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        jobs, indexes, seq = _snapshot(check)
        assert [r for r in jobs if r[0] != 2] == [r for r in before[0] if r[0] != 2]
        assert indexes == before[1]
        assert seq == before[2] == (6,)  # id 6 is never handed out again
        table = _table_sql(check)
        assert " IN (" not in table
        assert "state = 'held' OR state = 'scheduled'" in table
    finally:
        check.close()


def test_the_constraint_still_refuses_an_unknown_state(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "c.db").close()
    conn = sqlite3.connect(tmp_path / "c.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(
                "INSERT INTO conveyor_jobs (queue, name, args, state, max_attempts, run_at, "
                "created_at) VALUES ('q', 'send', '{}', 'finished', 3, 0, 0)"
            )
        conn.execute(
            "INSERT INTO conveyor_jobs (queue, name, args, state, max_attempts, run_at, "
            "created_at) VALUES ('q', 'send', '{}', 'cancelled', 3, 0, 0)"
        )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE conveyor_jobs SET state = 'Queued'")
    finally:
        conn.close()
