"""The delivery service's pace: a round a second while there is work, backing off to
IDLE_INTERVAL while its rounds find none (an idle fleet's statements, issue 14 item 5)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conveyor import Conveyor
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind
from conveyor.worker.outbox_service import IDLE_INTERVAL, DeliveryService, next_interval


def test_the_pause_doubles_while_idle_up_to_the_idle_interval_and_resets_on_work() -> None:
    pauses = [1.0]
    for _ in range(5):
        pauses.append(next_interval(pauses[-1], 1.0, busy=False))
    assert pauses == [1.0, 2.0, 4.0, IDLE_INTERVAL, IDLE_INTERVAL, IDLE_INTERVAL]
    assert next_interval(IDLE_INTERVAL, 1.0, busy=True) == 1.0
    assert next_interval(1.0, 10.0, busy=False) == 10.0  # never below the configured pace


def test_rounds_that_find_nothing_slow_down_and_a_finished_webhook_job_speeds_them_up(
    tmp_path: Path,
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}", webhook_allow=["127.0.0.1"])

    @app.job()
    def ping(ctx: Any) -> None: ...

    app.store.migrate()
    service = DeliveryService(app)

    def finish_a_webhook_job() -> None:
        handle = ping.enqueue(notify_url="http://127.0.0.1:9/hook")
        params = ClaimParams(
            worker_id="w", queues=("default",), names=tuple(app.jobs), limit=1,
            lease_seconds=30.0,
        )
        [claimed] = app.store.claim_jobs(params)
        assert claimed.id == handle.id
        done = Completion(claimed.id, claimed.token, CompletionKind.SUCCEEDED)
        assert app.store.complete_jobs([done])[0].accepted

    async def pauses() -> list[float]:
        seen = []
        for _ in range(3):
            await service.tick()
            seen.append(service.interval)
        finish_a_webhook_job()
        await service.tick()  # enrolls its webhook
        seen.append(service.interval)
        return seen

    try:
        assert asyncio.run(pauses()) == [2.0, 4.0, IDLE_INTERVAL, 1.0]
    finally:
        service.deliverer.close()
        app.close()
