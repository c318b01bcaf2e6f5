"""Migration 0011 moves both old outboxes into one delivery table without losing a row.

A database is built the way Conveyor left it at version 10 (alert notifications in
conveyor_notifications, completion webhooks in conveyor_job_webhooks, some delivered, some
pending, one given up), then the current Conveyor opens it and migrates, on both stores.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from store_helpers import at_version

from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState
from conveyor.store import Store
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.sql import migrations as pg_migrations
from conveyor.store.sql_script import statements
from conveyor.store.sqlite import SQLiteStore

BEFORE = 10
NOW = time.time()


def sqlite_at_version_10(path: Path) -> None:
    conn = at_version(path, BEFORE)
    conn.executemany(
        "INSERT INTO conveyor_notifications (incident_id, kind, sink, payload_json, created_at,"
        " next_try_at, attempts, delivered_at, failed_at, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (7, "firing", "log", '{"n": 1}', NOW - 50, NOW - 50, 1, NOW - 49, None, None),
            (7, "firing", "webhook:http://x/hook", '{"n": 2}', NOW - 40, NOW + 30, 2, None,
             None, "HTTP 503"),
            (8, "resolved", "email:ops", '{"n": 3}', NOW - 30, NOW - 30, 1, None, NOW - 29,
             "550 mailbox"),
        ],
    )
    conn.executemany(
        "INSERT INTO conveyor_job_webhooks (job_id, url, payload_json, finished_at, state, "
        "attempts, next_try_at, last_error, delivered_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (41, "https://a.test/h", '{"job_id": 41}', NOW - 45.25, "pending", 1, NOW + 60,
             "timed out", None, NOW - 45),
            (42, "https://b.test/h", '{"job_id": 42}', NOW - 35.5, "delivered", 1, NOW - 35,
             None, NOW - 34, NOW - 35),
        ],
    )
    conn.close()


def postgres_at_version_10(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
        conn.execute(
            f'CREATE TABLE "{schema}".conveyor_schema_version (version INTEGER PRIMARY KEY, '  # type: ignore[arg-type]
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for number, sql in pg_migrations(schema):
            if number > BEFORE:
                break
            for statement in statements(sql):
                conn.execute(statement)  # type: ignore[arg-type]
            conn.execute(
                f'INSERT INTO "{schema}".conveyor_schema_version (version) VALUES (%s)',  # type: ignore[arg-type]
                (number,),
            )
        t = "to_timestamp(%s)"
        conn.execute(
            f'INSERT INTO "{schema}".conveyor_notifications (incident_id, kind, sink, '  # type: ignore[arg-type]
            "payload_json, created_at, next_try_at, attempts, delivered_at, failed_at, "
            f"last_error) VALUES (7, 'firing', 'log', '{{\"n\": 1}}', {t}, {t}, 1, {t}, NULL,"
            f" NULL), (7, 'firing', 'webhook:http://x/hook', '{{\"n\": 2}}', {t}, {t}, 2, "
            f"NULL, NULL, 'HTTP 503'), (8, 'resolved', 'email:ops', '{{\"n\": 3}}', {t}, {t},"
            f" 1, NULL, {t}, '550 mailbox')",
            (NOW - 50, NOW - 50, NOW - 49, NOW - 40, NOW + 30, NOW - 30, NOW - 30, NOW - 29),
        )
        conn.execute(
            f'INSERT INTO "{schema}".conveyor_job_webhooks (job_id, url, payload_json, '  # type: ignore[arg-type]
            "finished_at, state, attempts, next_try_at, last_error, delivered_at, created_at) "
            f"VALUES (41, 'https://a.test/h', '{{\"job_id\": 41}}', %s, 'pending', 1, {t}, "
            f"'timed out', NULL, {t}), (42, 'https://b.test/h', '{{\"job_id\": 42}}', %s, "
            f"'delivered', 1, {t}, NULL, {t}, {t})",
            (NOW - 45.25, NOW + 60, NOW - 45, NOW - 35.5, NOW - 35, NOW - 34, NOW - 35),
        )


def check_migrated(store: Store) -> None:
    rows = list(reversed(store.list_deliveries()))  # oldest first
    assert [(r.kind, r.subject, r.destination) for r in rows] == [
        (DeliveryKind.ALERT, 7, "log"),
        (DeliveryKind.WEBHOOK, 41, "https://a.test/h"),
        (DeliveryKind.ALERT, 7, "webhook:http://x/hook"),
        (DeliveryKind.WEBHOOK, 42, "https://b.test/h"),
        (DeliveryKind.ALERT, 8, "email:ops"),
    ]
    by = {(r.kind, r.destination): r for r in rows}

    def row(kind: DeliveryKind, destination: str) -> DeliveryRow:
        return by[(kind, destination)]

    delivered = row(DeliveryKind.ALERT, "log")
    assert (delivered.state, delivered.event, delivered.attempts) == (
        DeliveryState.DELIVERED, "firing", 1)
    assert delivered.payload_json == '{"n": 1}'
    retrying = row(DeliveryKind.ALERT, "webhook:http://x/hook")
    assert (retrying.state, retrying.attempts, retrying.last_error) == (
        DeliveryState.PENDING, 2, "HTTP 503")
    assert abs(retrying.next_try_at - (NOW + 30)) < 0.01
    gave_up = row(DeliveryKind.ALERT, "email:ops")
    assert (gave_up.state, gave_up.event, gave_up.last_error) == (
        DeliveryState.FAILED, "resolved", "550 mailbox")
    assert gave_up.failed_at is not None and abs(gave_up.failed_at - (NOW - 29)) < 0.01
    pending = row(DeliveryKind.WEBHOOK, "https://a.test/h")
    assert (pending.state, pending.attempts, pending.last_error, pending.event_at) == (
        DeliveryState.PENDING, 1, "timed out", NOW - 45.25)
    assert pending.payload_json == '{"job_id": 41}' and pending.event == "finished"
    assert row(DeliveryKind.WEBHOOK, "https://b.test/h").state is DeliveryState.DELIVERED

    # The undelivered rows are served from the new table: due ones once their time comes.
    later = NOW + 3600
    claimed = store.claim_deliveries("after-migration", 10, 30, now=later)
    assert sorted((r.kind, r.subject) for r in claimed) == [
        (DeliveryKind.ALERT, 7), (DeliveryKind.WEBHOOK, 41)]
    # A webhook's finish is still known: the same finish is not added twice.
    assert store.jobs_to_notify(0.0) == []


def test_sqlite_migration_keeps_every_delivery(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite_at_version_10(path)
    store = SQLiteStore(str(path))
    try:
        check_migrated(store)
        conn = sqlite3.connect(path)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
        assert "conveyor_notifications" not in tables
        assert "conveyor_job_webhooks" not in tables
    finally:
        store.close()


def test_postgres_migration_keeps_every_delivery(
    fresh_postgres_url: Callable[[], str],
) -> None:
    url = fresh_postgres_url()
    postgres_at_version_10(url, "old_outbox")
    store = PostgresStore(url, schema="old_outbox")
    try:
        check_migrated(store)
        with psycopg.connect(url) as conn:
            found = conn.execute(
                "SELECT to_regclass('old_outbox.conveyor_notifications'), "
                "to_regclass('old_outbox.conveyor_job_webhooks')"
            ).fetchone()
        assert found == (None, None)
    finally:
        store.close()
