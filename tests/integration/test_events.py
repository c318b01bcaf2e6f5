"""app.publish: every subscriber's job in the caller's transaction, or none (both stores),
sync and async producers, and sync and async subscribers run by a worker."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor
from conveyor.store.protocol import JobFilter
from conveyor.testing import drain


@pytest.fixture
def shop(backend_url: str) -> Iterator[Conveyor]:
    app = Conveyor(backend_url)

    @app.job(name="receipt", on="order.placed")
    def receipt(ctx: Any, order_id: int) -> str:
        return f"receipt {order_id}"

    @app.job(name="stock", on="order.placed")
    async def stock(ctx: Any, order_id: int, **extra: Any) -> str:
        await asyncio.sleep(0)
        return f"stock {order_id}"

    app.store.migrate()
    yield app
    app.close()


def connect(app: Conveyor) -> Any:
    if app.url.startswith("sqlite"):
        return sqlite3.connect(app.url.removeprefix("sqlite:///"))
    return psycopg.connect(app.url)


def names(app: Conveyor) -> list[tuple[str, Any]]:
    return sorted((j.name, j.args) for j in app.store.list_jobs(JobFilter()))


def test_a_published_event_inside_a_rolled_back_transaction_enqueues_nothing(
    shop: Conveyor,
) -> None:
    conn = connect(shop)
    try:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO orders VALUES (7)")
        handles = shop.publish("order.placed", order_id=7, connection=conn)
        assert len(handles) == 2
        conn.rollback()
        assert names(shop) == []  # neither subscriber's job exists
        conn.execute("INSERT INTO orders VALUES (8)")
        shop.publish("order.placed", order_id=8, connection=conn)
        conn.commit()
    finally:
        conn.close()
    assert names(shop) == [("receipt", {"order_id": 8}), ("stock", {"order_id": 8})]
    assert drain(shop).succeeded == 2


def test_publish_async_and_without_a_connection(shop: Conveyor) -> None:
    async def produce() -> list[int]:
        handles = await shop.publish_async("order.placed", order_id=9)
        await shop.aclose()
        return [h.id for h in handles]

    ids = asyncio.run(produce())
    assert len(ids) == 2
    handles = shop.publish("order.placed", order_id=10)
    drain(shop)
    assert sorted(h.result(timeout=1) for h in handles) == ["receipt 10", "stock 10"]
