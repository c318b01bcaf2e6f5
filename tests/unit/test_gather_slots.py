"""The claim loop gathers freed slots before a small claim: with fewer than half its slots free
it waits, up to ``GATHER_SLOTS``, for the jobs it just started to end, so a process whose
slots once freed at two moments claims once a round again, not twice (a claim of 49 jobs, then
one of 1, for the rest of its life)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.worker import claim_loop
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig

SLOTS = 10


def _worker(tmp_path: Path) -> WorkerProcess:
    app = Conveyor(f"sqlite:///{tmp_path / 'gather.db'}")
    worker = WorkerProcess(app, WorkerConfig(concurrency=SLOTS), "w-gather")
    worker._slot_freed = asyncio.Event()
    return worker


def _executor(running: int) -> Any:
    return SimpleNamespace(running={i: object() for i in range(running)})


def _finish(worker: WorkerProcess, executor: Any, ids: list[int]) -> None:
    """What the executor does as attempts end: the slot is freed and the loop told."""
    assert worker._slot_freed is not None
    for job_id in ids:
        del executor.running[job_id]
        worker._slot_freed.set()


def test_it_waits_for_the_jobs_just_started_to_free_half_the_slots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim_loop, "GATHER_SLOTS", 3600.0)  # only the slots can end it

    async def scenario() -> int:
        worker, executor = _worker(tmp_path), _executor(running=SLOTS - 1)
        loop = asyncio.get_running_loop()
        # They end one at a time: four free half the slots (5 busy of 10); a fifth ends
        # long after, and the gather must not have waited for it.
        for job_id in range(4):
            loop.call_later(0.001 * (job_id + 1), _finish, worker, executor, [job_id])
        late = loop.call_later(60.0, _finish, worker, executor, [4])
        await asyncio.wait_for(worker._gather_slots(executor), 30)
        late.cancel()
        return len(executor.running)

    assert asyncio.run(scenario()) == SLOTS - SLOTS // 2  # returned as half were free


def test_it_claims_what_is_free_when_nothing_ends_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim_loop, "GATHER_SLOTS", 0.01)

    async def scenario() -> int:
        worker, executor = _worker(tmp_path), _executor(running=SLOTS - 1)
        await asyncio.wait_for(worker._gather_slots(executor), 30)  # long jobs: no gathering
        return len(executor.running)

    assert asyncio.run(scenario()) == SLOTS - 1


def test_with_half_the_slots_free_it_does_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim_loop, "GATHER_SLOTS", 3600.0)

    async def scenario() -> None:
        worker = _worker(tmp_path)
        for running in (0, 1, SLOTS // 2):
            await asyncio.wait_for(worker._gather_slots(_executor(running)), 30)

    asyncio.run(scenario())
