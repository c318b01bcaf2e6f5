"""The PgQueuer side of ``versus_pgqueuer.py``: the same no-op async job, through PgQueuer.

Needs the benchmark-only extra (``pip install -e '.[peers]'``); nothing in Conveyor or its
tests imports it. Each function takes a database URL of a fresh database and measures one
figure the way ``bench.py`` measures Conveyor's. Timings come from the server's clock where
Conveyor's do: PgQueuer's ``pgqueuer_log`` holds a row per job per status (``queued``,
``picked``, ``successful``), each stamped by the server when it was written, which is the
counterpart of Conveyor's ``created_at``, ``started_at`` and ``finished_at``.

Run as a script, it is one worker process: ``pgqueuer_peer.py worker URL drain|continuous``
(the driver starts two, as Conveyor's supervisor starts two worker processes).

The driver is asyncpg, PgQueuer's recommended and fastest one (its own benchmark page puts it
1.7x ahead of its psycopg driver), so the comparison is against PgQueuer at its best.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

ENTRYPOINT = "noop"
PAYLOAD = b'{"i": 0}'
"""A payload of the size Conveyor's ``{"i": i}`` arguments have."""
BATCH_SIZE = 10
"""PgQueuer's default ``QueueManager.run(batch_size=...)``: its jobs per dequeue."""


async def _connect(url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(url)


async def install(url: str) -> None:
    """Create PgQueuer's tables, types, trigger and functions in the database at ``url``."""
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def enqueue_single(url: str, n: int, warm_up: int) -> float:
    """Seconds for ``n`` one-job ``enqueue`` calls from one connection (after ``warm_up``)."""
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))
        for _ in range(warm_up):
            await queries.enqueue(ENTRYPOINT, PAYLOAD, 0)
        start = time.perf_counter()
        for _ in range(n):
            await queries.enqueue(ENTRYPOINT, PAYLOAD, 0)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def enqueue_bulk(url: str, batch: int, batches: int, warm_up: int) -> float:
    """Seconds for ``batches`` list ``enqueue`` calls of ``batch`` jobs each."""
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))
        await queries.enqueue([ENTRYPOINT] * warm_up, [PAYLOAD] * warm_up, [0] * warm_up)
        names, priorities = [ENTRYPOINT] * batch, [0] * batch
        payloads: list[bytes | None] = [PAYLOAD] * batch
        start = time.perf_counter()
        for _ in range(batches):
            await queries.enqueue(names, payloads, priorities)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def prefill(url: str, n: int, chunk: int = 1_000) -> None:
    """``n`` queued jobs, in bulk (untimed)."""
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))
        for first in range(0, n, chunk):
            size = min(chunk, n - first)
            await queries.enqueue([ENTRYPOINT] * size, [PAYLOAD] * size, [0] * size)
    finally:
        await conn.close()


async def server_now(url: str) -> float:
    """The server's clock, in epoch seconds."""
    conn = await _connect(url)
    try:
        return float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())"))
    finally:
        await conn.close()


async def outcome(url: str) -> dict[str, Any]:
    """What the log says happened: counts per status, distinct jobs, jobs left queued, and the
    first pick and last success (server clock, epoch seconds)."""
    conn = await _connect(url)
    try:
        rows = await conn.fetch(
            "SELECT status::text, count(*), count(DISTINCT job_id),"
            " extract(epoch FROM min(created)), extract(epoch FROM max(created))"
            " FROM pgqueuer_log GROUP BY 1"
        )
        left = await conn.fetchval("SELECT count(*) FROM pgqueuer")
    finally:
        await conn.close()
    by = {r[0]: r for r in rows}
    done = by.get("successful")
    picked = by.get("picked")
    return {
        "succeeded": int(done[1]) if done else 0,
        "succeeded_distinct": int(done[2]) if done else 0,
        "picked": int(picked[1]) if picked else 0,
        "left_in_queue": int(left),
        "first_pick": float(picked[3]) if picked else None,
        "last_success": float(done[4]) if done else None,
        "statuses": sorted(by),
    }


async def pick_latencies_ms(url: str, after_id: int) -> list[float]:
    """Per job with an id above ``after_id``, ``picked`` minus ``queued`` (both the server's
    stamps), ascending, in ms."""
    conn = await _connect(url)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM p.created - q.created) * 1000"
            " FROM pgqueuer_log q JOIN pgqueuer_log p ON p.job_id = q.job_id"
            " WHERE q.status = 'queued' AND p.status = 'picked' AND q.job_id > $1",
            after_id,
        )
    finally:
        await conn.close()
    return sorted(float(r[0]) for r in rows)


async def enqueue_paced(url: str, n: int, interval: float) -> tuple[int, float]:
    """One warm-up job (waited for), then ``n`` one-job enqueues ``interval`` seconds apart;
    the warm-up job's id (timed jobs have larger ones) and the seconds the pacing took."""
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))
        [warm] = await queries.enqueue(ENTRYPOINT, PAYLOAD, 0)
        deadline = time.monotonic() + 60
        while await count_succeeded(url) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the PgQueuer workers did not run the warm-up job in 60 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # let them reach their idle wait
        start = time.monotonic()
        for i in range(n):
            pause = start + i * interval - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            await queries.enqueue(ENTRYPOINT, PAYLOAD, 0)
        return int(warm), time.monotonic() - start
    finally:
        await conn.close()


async def count_succeeded(url: str) -> int:
    """Jobs logged ``successful`` so far."""
    conn = await _connect(url)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
        )
    finally:
        await conn.close()


async def work(url: str, mode: str) -> None:
    """One worker process: PgQueuer's ``QueueManager`` with the no-op entrypoint.

    ``drain`` exits once the queue is empty (Conveyor's ``burst``); ``continuous`` runs until
    SIGTERM/SIGINT.
    """
    import signal

    from pgqueuer import types
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    conn = await _connect(url)
    manager = QueueManager(Queries(AsyncpgDriver(conn)))

    @manager.entrypoint(ENTRYPOINT)
    async def noop(job: Any) -> None:
        """Do nothing, on the event loop (Conveyor's ``bench.noop_async``)."""

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, manager.shutdown.set)
    modes = types.QueueExecutionMode
    run_mode = modes.drain if mode == "drain" else modes.continuous
    try:
        await manager.run(batch_size=BATCH_SIZE, mode=run_mode)
    finally:
        await conn.close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "worker" or sys.argv[3] not in ("drain", "continuous"):
        raise SystemExit("usage: pgqueuer_peer.py worker URL drain|continuous")
    asyncio.run(work(sys.argv[2], sys.argv[3]))
