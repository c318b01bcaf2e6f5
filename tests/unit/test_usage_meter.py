"""The usage meter and writer (conveyor.worker.usage): memory is read at most every 0.1 s; on
SQLite the writer hands its batch to the store's own thread, on a real database file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from conveyor.store.contract.usage import UsageRow, UsageTotal
from conveyor.store.protocol import NewJob
from conveyor.store.sqlite.async_store import AsyncSQLiteStore
from conveyor.store.sqlite.store import SQLiteStore
from conveyor.worker import usage
from conveyor.worker.usage import MEMORY_EVERY, UsageMeter, UsageWriter


def test_memory_is_read_at_most_every_tenth_of_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = iter([100.0, 200.0])
    monkeypatch.setattr(usage, "resident_mb", lambda: next(reads))
    meter = UsageMeter()
    assert meter.memory_mb(0.0) == 100.0
    assert meter.memory_mb(MEMORY_EVERY / 2) == 100.0  # the same reading, shared
    assert meter.memory_mb(MEMORY_EVERY) == 200.0  # stale: read again


def test_the_sqlite_writer_runs_on_the_store_thread(tmp_path: Path) -> None:
    sync = SQLiteStore(tmp_path / "usage.db")
    [job] = sync.insert_jobs([NewJob(queue="q", name="a", args_json="{}", max_attempts=1)])
    store = AsyncSQLiteStore(sync)
    threads: list[str] = []
    record = sync.record_usage

    def recording(rows: list[UsageRow]) -> None:
        threads.append(threading.current_thread().name)
        record(rows)

    sync.record_usage = recording  # type: ignore[method-assign]
    meter = UsageMeter()
    meter.add(UsageRow(job_id=job.id, attempt=1, name="a", queue="q", tenant=None,
                       finished_at=1000.0, wall=0.5, cpu=0.25, memory_mb=50.0))

    async def write() -> list[UsageTotal]:
        await UsageWriter(store, meter).tick()
        try:
            return sync.usage_totals()
        finally:
            await store.close()

    (total,) = asyncio.run(write())
    assert [name.startswith("conveyor-store") for name in threads] == [True]
    assert not meter.pending
    assert (total.attempts, total.cpu, total.units) == (1, 0.25, {})
