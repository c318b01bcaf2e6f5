"""Unit: event subscriptions checked when declared, and what publish refuses before writing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor
from conveyor.store.protocol import JobFilter


def test_subscribers_that_no_payload_could_satisfy_are_refused_at_declaration(
    tmp_path: Path,
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")

    @app.job(on="order.placed")
    def receipt(ctx: Any, order_id: int, note: str = "") -> None: ...

    @app.job(on=["order.placed", "order.paid"])
    def audit(ctx: Any, **fields: Any) -> None: ...  # takes anything

    with pytest.raises(ConfigurationError, match=(
        r"job '.*stock' cannot subscribe to event 'order.placed': job '.*stock' requires "
        r"warehouse, which job '.*receipt' does not accept"
    )):
        @app.job(on="order.placed")
        def stock(ctx: Any, order_id: int, warehouse: str) -> None: ...

    with pytest.raises(ConfigurationError, match=r"requires order_id, which job '.*ping'"):
        @app.job(on="order.placed")
        def ping(ctx: Any) -> None: ...

    assert [d.name for d in app.subscribers["order.placed"]] == [receipt.name, audit.name]
    assert [d.name for d in app.subscribers["order.paid"]] == [audit.name]
    assert len(app.jobs) == 2  # the refused ones were not registered either
    for bad in ("", " order", ["a", 3], [], 5, "a\x00b"):
        with pytest.raises(ConfigurationError, match=r"event name|on= takes"):
            app.job(on=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "c.db").exists()  # declaring touches no database


def test_publish_refuses_a_bad_payload_or_no_subscriber_and_writes_nothing(
    tmp_path: Path,
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")

    @app.job(on="order.placed")
    def receipt(ctx: Any, order_id: int) -> None: ...

    @app.job(on="order.placed")
    async def stock(ctx: Any, order_id: int) -> None: ...

    with pytest.raises(ArgumentError, match=(
        r"event 'order.placed', subscriber '.*receipt': .*order_id.*nothing was enqueued"
    )):
        app.publish("order.placed", order_id="seven")
    with pytest.raises(ConfigurationError, match=(
        r"no job subscribes to event 'order.shipped' \(events with subscribers: order.placed\)"
    )):
        app.publish("order.shipped", order_id=7)
    assert app.publish("order.shipped", allow_none=True, order_id=7) == []
    assert app.store.count_jobs(JobFilter()) == 0
    handles = app.publish("order.placed", order_id=7, priority=5)
    assert sorted(h.name for h in handles) == sorted([receipt.name, stock.name])
    jobs = app.store.list_jobs(JobFilter())
    assert {(j.args["order_id"], j.priority) for j in jobs if j.args} == {(7, 5)}
    app.close()
