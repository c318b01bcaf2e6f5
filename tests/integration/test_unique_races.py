"""Unique keys under a race: 50 producers (threads, OS processes and coroutines) at once.

Every producer enqueues the same two keys, half of them in the opposite order (a deadlock trap
for lock-based stores). Exactly one job per key may be written, and every producer must get
that job's id back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from conveyor import Conveyor
from conveyor.store.protocol import JobFilter

THREADS = 20
PROCESSES = 10
COROUTINES = 20
TIMEOUT = 90.0

Outcome = tuple[int, bool]
"""(job id, duplicate) for one key in one producer."""


def build(url: str) -> tuple[Conveyor, Any]:
    """An app with a unique job, built the same way in every producer process."""
    app = Conveyor(url)

    @app.job(name="charge", unique="charge:{order_id}")
    def charge(ctx: Any, order_id: int) -> int:
        return order_id

    return app, charge


def calls(producer: int) -> list[dict[str, int]]:
    """Both keys, in an order that depends on the producer."""
    orders = [1, 2] if producer % 2 else [2, 1]
    return [{"order_id": order} for order in orders]


def by_key(producer: int, handles: list[Any]) -> dict[int, Outcome]:
    return {
        call["order_id"]: (h.id, h.duplicate)
        for call, h in zip(calls(producer), handles, strict=True)
    }


def produce_in_process(url: str, producer: int, ready: Any, start: Any, results: Any) -> None:
    """Run in a spawned process: enqueue both keys when ``start`` is set, report the handles."""
    app, charge = build(url)
    try:
        app.store.now()  # open (and migrate) before the race, not during it
        ready.put(producer)
        start.wait(timeout=TIMEOUT)
        results.put(by_key(producer, charge.enqueue_many(calls(producer))))
    finally:
        app.close()


class InProcess:
    """Thread and coroutine producers of this process, and what they saw."""

    def __init__(self, url: str, start: Any) -> None:
        self.url = url
        self.start = start
        self.outcomes: list[dict[int, Outcome]] = []
        self.errors: list[BaseException] = []

    def threads(self, charge: Any, first: int) -> list[threading.Thread]:
        """THREADS threads sharing one app, as a web server's threads would."""

        def produce(producer: int) -> None:
            try:
                self.start.wait(timeout=TIMEOUT)
                self.outcomes.append(by_key(producer, charge.enqueue_many(calls(producer))))
            except BaseException as exc:
                self.errors.append(exc)

        return [threading.Thread(target=produce, args=(first + n,)) for n in range(THREADS)]

    def event_loop(self, first: int) -> threading.Thread:
        """One thread running COROUTINES async producers on an app of their own."""
        app, charge = build(self.url)

        async def one(producer: int) -> None:
            handles = await charge.enqueue_many_async(calls(producer))
            self.outcomes.append(by_key(producer, handles))

        async def all_of_them() -> None:
            try:
                await asyncio.gather(*(one(first + n) for n in range(COROUTINES)))
            finally:
                await app.aclose()

        def run() -> None:
            try:
                self.start.wait(timeout=TIMEOUT)
                asyncio.run(all_of_them())
            except BaseException as exc:
                self.errors.append(exc)
            finally:
                app.close()

        return threading.Thread(target=run)


def test_fifty_producers_racing_on_the_same_keys_create_one_job_each(backend_url: str) -> None:
    app, charge = build(backend_url)
    app.store.now()  # migrate once, before anyone races
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=produce_in_process, args=(backend_url, n, ready, start, results))
        for n in range(PROCESSES)
    ]
    local = InProcess(backend_url, start)
    threads = [*local.threads(charge, PROCESSES), local.event_loop(PROCESSES + THREADS)]
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=TIMEOUT)
        for thread in threads:
            thread.start()
        start.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        outcomes = local.outcomes + [results.get(timeout=TIMEOUT) for _ in procs]
        for proc in procs:
            proc.join(timeout=TIMEOUT)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()

    assert not local.errors, local.errors
    assert len(outcomes) == PROCESSES + THREADS + COROUTINES == 50
    jobs = app.store.list_jobs(JobFilter())
    app.close()
    assert len(jobs) == 2
    ids = {(job.args or {})["order_id"]: job.id for job in jobs}
    for order in (1, 2):
        seen = [outcome[order] for outcome in outcomes]
        assert {job_id for job_id, _ in seen} == {ids[order]}
        assert sum(1 for _, duplicate in seen if not duplicate) == 1


def test_enqueue_async_on_a_callers_async_connection(
    fresh_postgres_url: Callable[[], str],
) -> None:
    url = fresh_postgres_url()
    app, charge = build(url)

    async def produce() -> list[Any]:
        try:
            async with await psycopg.AsyncConnection.connect(url) as conn:
                first = await charge.enqueue_async(order_id=1, connection=conn)
                again = await charge.enqueue_async(order_id=1, connection=conn)
                await conn.commit()
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                third = await charge.enqueue_async(order_id=1, connection=conn)
                fresh = await charge.enqueue_async(order_id=2, connection=conn)
            return [first, again, third, fresh]
        finally:
            await app.aclose()

    try:
        first, again, third, fresh = asyncio.run(produce())
        assert [h.duplicate for h in (first, again, third, fresh)] == [False, True, True, False]
        assert first.id == again.id == third.id != fresh.id
        assert app.store.count_jobs(JobFilter()) == 2
    finally:
        app.close()
