"""SQLite only: migration 0009 rebuilds an existing jobs table so its ids are never reused.

The database is built the way an older Conveyor left it: migrations applied up to version 8,
then rows written (jobs in every state, attempts, and records that name jobs since discarded),
then the current Conveyor opens it and migrates.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

from store_helpers import at_version, new_job

from conveyor.store.protocol import JobFilter
from conveyor.store.sqlite import SQLiteStore
from conveyor.store.sqlite.connection import LATEST_VERSION

REBUILT = 9
COLUMNS_ADDED_LATER = {
    "expires_at": None, "progress_at": None, "sequence_key": None, "sequence_blocks": None,
}
"""Job columns later migrations add (0014: start deadlines, 0018: when progress last
changed, 0021: sequences), with the value old rows get."""
INDEXES_ADDED_LATER = {"conveyor_jobs_expiring"}


def as_rebuilt(rows: list[tuple[tuple[str, object], ...]]) -> list[tuple[tuple[str, object], ...]]:
    """Job rows without the columns added after the rebuild, each checked to hold its default."""
    for row in rows:
        for name, value in row:
            if name in COLUMNS_ADDED_LATER:
                assert value == COLUMNS_ADDED_LATER[name], (name, value)
    return [tuple(kv for kv in row if kv[0] not in COLUMNS_ADDED_LATER) for row in rows]




def fill(conn: sqlite3.Connection) -> None:
    """Jobs 1..4 in several states with every kind of column set, attempts, and traces of
    discarded jobs 5..9 elsewhere (the old schema would have handed 5 out again)."""
    now = time.time()
    insert = (
        "INSERT INTO conveyor_jobs (id, queue, name, args, state, priority, attempt, "
        "max_attempts, token, run_at, created_at, started_at, finished_at, lease_until, "
        "worker_id, timeout, result, progress, progress_message, error_type, error_message, "
        "unique_key, tenant, meta, unique_for, limit_key, limit_max, rate_key, rate_max, "
        "rate_per) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)"
    )
    conn.executemany(
        insert,
        [
            (1, "default", "a", '{"x": 1}', "succeeded", 0, 1, 3, 1, now - 9, now - 10, now - 8,
             now - 7, None, "w1", 30.0, '"ok"', 1.0, "done", None, None, "u:1", "t1",
             '{"notify_url": "http://127.0.0.1:9/x"}', 60.0, None, None, None, None, None),
            (2, "mail", "b", "{}", "queued", 5, 0, 3, 0, now - 5, now - 6, None, None, None,
             None, None, None, None, None, None, None, None, None, "{}", None, "l:1", 2, None,
             None, None),
            (3, "mail", "c", "{}", "running", 0, 1, 3, 1, now - 4, now - 4, now - 3, None,
             now + 30, "w2", None, None, 0.5, "half", None, None, None, "t2", "{}", None, None,
             None, "r:1", 5, 1.0),
            (4, "default", "d", "{}", "dead", 0, 3, 3, 3, now - 2, now - 3, now - 2, now - 1,
             None, "w1", None, None, None, None, "Boom", "it broke", None, None, "{}", None,
             None, None, None, None, None),
        ],
    )
    conn.execute(
        "INSERT INTO conveyor_attempts (job_id, attempt, token, worker_id, started_at, "
        "finished_at, outcome) VALUES (1, 1, 1, 'w1', ?, ?, 'succeeded'), "
        "(5, 1, 1, 'w1', ?, ?, 'failed')",
        (now - 8, now - 7, now - 8, now - 7),
    )
    conn.execute("INSERT INTO conveyor_once VALUES ('charge:1', 6, ?)", (now,))
    conn.execute(
        "INSERT INTO conveyor_schedule_slots (schedule, slot, status, fired_at, job_id) "
        "VALUES ('nightly', ?, 'enqueued', ?, 7)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO conveyor_job_webhooks (job_id, url, payload_json, finished_at, state, "
        "next_try_at, created_at) VALUES (8, 'http://127.0.0.1:9/x', '{}', ?, 'pending', ?, ?)",
        (now, now, now),
    )
    conn.execute(
        "INSERT INTO conveyor_actions (at, actor, action, target) VALUES "
        "(?, 'ops', 'discard', 'job:9'), (?, 'ops', 'pause', 'queue:mail')",
        (now, now),
    )


def dump(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    """Every row of ``table`` with named columns, in id order (column order may not matter)."""
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        return [tuple(sorted(dict(row).items())) for row in found]
    finally:
        conn.row_factory = None


LATER_INDEXES = INDEXES_ADDED_LATER | {"conveyor_jobs_waiting", "conveyor_jobs_sequence"}
"""Indexes of the jobs table that migrations after the rebuild add."""


def indexes(conn: sqlite3.Connection) -> dict[str, str]:
    """Index name -> its CREATE statement with spacing normalised, for the jobs table."""
    found = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conveyor_jobs' "
        "AND sql IS NOT NULL"
    ).fetchall()
    return {name: " ".join(sql.split()) for name, sql in found}


def as_or_chains(sql: str) -> str:
    """``sql`` with each ``state IN ('a', 'b', ...)`` written ``(state = 'a' OR state = 'b' ...)``,
    as migration 0022 rewrote the partial indexes' predicates."""
    return re.sub(
        r"state IN \(([^)]*)\)",
        lambda m: "(" + " OR ".join(f"state = {v.strip()}" for v in m.group(1).split(",")) + ")",
        sql,
    )


def test_the_rebuild_keeps_every_row_and_index_and_ids_are_never_reused(tmp_path: Path) -> None:
    assert LATEST_VERSION >= REBUILT
    path = tmp_path / "old.db"
    conn = at_version(path, REBUILT - 1)
    fill(conn)
    jobs_before = dump(conn, "conveyor_jobs")
    attempts_before = dump(conn, "conveyor_attempts")
    indexes_before = indexes(conn)
    assert len(indexes_before) == 11
    conn.close()

    store = SQLiteStore(path)
    try:
        assert store.db.schema_version() == LATEST_VERSION
        check = sqlite3.connect(path)
        try:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert as_rebuilt(dump(check, "conveyor_jobs")) == jobs_before
            assert dump(check, "conveyor_attempts") == attempts_before
            after = indexes(check)
            # Migration 0022 later wrote their state IN lists as OR chains, nothing else.
            assert {name: after.get(name) for name in indexes_before} == {
                name: as_or_chains(sql) for name, sql in indexes_before.items()
            }
            # Only the indexes later migrations add are new (0014: conveyor_jobs_expiring,
            # 0015: conveyor_jobs_waiting, 0021: conveyor_jobs_sequence).
            assert set(after) - set(indexes_before) == LATER_INDEXES
            table_sql = check.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'conveyor_jobs'"
            ).fetchone()[0]
            assert "AUTOINCREMENT" in table_sql
            assert "conveyor_jobs_rebuilt" not in table_sql
        finally:
            check.close()

        # The store reads the migrated rows as it wrote them.
        assert [j.id for j in store.list_jobs(JobFilter())] == [4, 3, 2, 1]
        first = store.get_job(1)
        assert first is not None and first.result == "ok" and first.tenant == "t1"

        # The first new id is past every id given out before that left a trace (9, an
        # audit row), not the largest id still in the table plus one (5).
        [new] = store.insert_jobs([new_job()])
        assert new.id == 10
        assert store.discard_jobs(JobFilter(ids=(4,))) == 1
        assert store.discard_jobs(JobFilter(ids=(1,))) == 1
        [after] = store.insert_jobs([new_job()])
        assert after.id == 11
    finally:
        store.close()


def test_a_fresh_database_gets_the_same_schema_as_a_migrated_one(tmp_path: Path) -> None:
    old = at_version(tmp_path / "old.db", REBUILT - 1)
    old.close()
    SQLiteStore(tmp_path / "old.db").close()
    SQLiteStore(tmp_path / "fresh.db").close()

    def schema(path: Path) -> list[tuple[str, str]]:
        conn = sqlite3.connect(path)
        try:
            found = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
            ).fetchall()
        finally:
            conn.close()
        return [(name, " ".join(sql.split())) for name, sql in found]

    assert schema(tmp_path / "old.db") == schema(tmp_path / "fresh.db")


def test_an_empty_old_database_starts_its_ids_at_one(tmp_path: Path) -> None:
    at_version(tmp_path / "old.db", REBUILT - 1).close()
    store = SQLiteStore(tmp_path / "old.db")
    try:
        assert [i.id for i in store.insert_jobs([new_job(), new_job()])] == [1, 2]
    finally:
        store.close()
