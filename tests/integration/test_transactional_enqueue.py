"""enqueue(connection=...): the job is written in the caller's transaction, or not at all."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from conveyor import ConfigurationError, Conveyor
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import drain


def build(url: str) -> tuple[Conveyor, Any]:
    app = Conveyor(url)

    @app.job(name="welcome")
    def welcome(ctx: Any, user_id: int) -> int:
        return user_id

    return app, welcome


def jobs(app: Conveyor) -> int:
    return app.store.count_jobs(JobFilter())


@pytest.fixture
def pg(fresh_postgres_url: Callable[[], str]) -> Iterator[tuple[Conveyor, Any, str]]:
    url = fresh_postgres_url()
    app, welcome = build(url)
    yield app, welcome, url
    app.close()


def test_psycopg_commit_writes_the_job_and_rollback_leaves_none(
    pg: tuple[Conveyor, Any, str],
) -> None:
    app, welcome, url = pg
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO users VALUES (1)")
        kept = welcome.enqueue(user_id=1, connection=conn)
        assert jobs(app) == 0  # not visible before the caller commits
        conn.commit()
        conn.execute("INSERT INTO users VALUES (2)")
        welcome.enqueue_many([{"user_id": 2}, {"user_id": 3}], connection=conn)
        conn.rollback()
    assert jobs(app) == 1
    assert kept.refresh().state is JobState.QUEUED
    drain(app)
    assert kept.result(timeout=1) == 1


def test_psycopg_async_connection(pg: tuple[Conveyor, Any, str]) -> None:
    app, welcome, url = pg

    async def produce() -> int:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            handle = await welcome.enqueue_async(user_id=5, connection=conn)
            await conn.commit()
            await welcome.enqueue_async(user_id=6, connection=conn)
            await conn.rollback()
        await app.aclose()
        return handle.id

    job_id = asyncio.run(produce())
    assert [j.id for j in app.store.list_jobs(JobFilter())] == [job_id]


def test_sqlalchemy_connection_and_session(pg: tuple[Conveyor, Any, str]) -> None:
    app, welcome, url = pg
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            welcome.enqueue(user_id=1, connection=conn)
            conn.rollback()
            welcome.enqueue(user_id=2, connection=conn)
            conn.commit()
        with Session(engine) as session:
            session.execute(sqlalchemy.text("SELECT 1"))
            welcome.enqueue(user_id=3, connection=session)
            session.commit()
            welcome.enqueue(user_id=4, connection=session)
            session.rollback()
    finally:
        engine.dispose()
    assert sorted(j.args["user_id"] for j in app.store.list_jobs(JobFilter()) if j.args) == [2, 3]


def test_sqlalchemy_async_session(pg: tuple[Conveyor, Any, str]) -> None:
    app, welcome, url = pg

    async def produce() -> None:
        engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            async with AsyncSession(engine) as session:
                await welcome.enqueue_async(user_id=7, connection=session)
                await session.commit()
                await welcome.enqueue_async(user_id=8, connection=session)
                await session.rollback()
        finally:
            await engine.dispose()
            await app.aclose()

    asyncio.run(produce())
    assert [j.args for j in app.store.list_jobs(JobFilter())] == [{"user_id": 7}]


def test_sqlite_connection_to_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    app, welcome = build(f"sqlite:///{path}")
    app.store.migrate()
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO users VALUES (1)")
        welcome.enqueue(user_id=1, connection=conn)
        conn.commit()
        conn.execute("INSERT INTO users VALUES (2)")
        welcome.enqueue(user_id=2, connection=conn)
        conn.rollback()
    finally:
        conn.close()
    assert [j.args for j in app.store.list_jobs(JobFilter())] == [{"user_id": 1}]
    other = sqlite3.connect(tmp_path / "other.db")
    try:
        with pytest.raises(ConfigurationError, match="not to Conveyor's database"):
            welcome.enqueue(user_id=3, connection=other)
    finally:
        other.close()
    app.close()


def test_a_connection_of_the_wrong_kind_is_refused(pg: tuple[Conveyor, Any, str]) -> None:
    app, welcome, _ = pg
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(ConfigurationError, match=r"takes a psycopg.Connection"):
            welcome.enqueue(user_id=1, connection=conn)
    finally:
        conn.close()
    assert jobs(app) == 0


def test_a_dict_row_connection_works(pg: tuple[Conveyor, Any, str]) -> None:
    from psycopg.rows import dict_row

    _, welcome, url = pg
    with psycopg.connect(url, row_factory=dict_row) as conn:
        handle = welcome.enqueue(user_id=9, connection=conn)
        conn.commit()
    assert handle.refresh().args == {"user_id": 9}


def test_a_connection_to_another_database_is_refused(
    pg: tuple[Conveyor, Any, str], fresh_postgres_url: Callable[[], str]
) -> None:
    app, welcome, _ = pg
    with (
        psycopg.connect(fresh_postgres_url()) as other,
        pytest.raises(ConfigurationError, match="not to Conveyor's"),
    ):
        welcome.enqueue(user_id=1, connection=other)
    assert jobs(app) == 0
