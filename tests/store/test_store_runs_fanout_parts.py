"""Conformance: a long fan-out is written in parts, so its first items run while the rest
are written, and a retried expander continues after what an earlier attempt wrote."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from run_helpers import (
    args_of,
    claim_stage,
    detail,
    done,
    fan,
    finish,
    jobs_of,
    run_one,
    stage_of,
    start,
)

from conveyor.models import JobState, RunState
from conveyor.store import Store, run_plans
from conveyor.store.protocol import ClaimedJob, HeartbeatParams
from conveyor.store.threaded import ThreadedAsyncStore


def one_part(store: Store, job_id: int, token: int, items: list[str]) -> int | None:
    """One transaction of ``expand_stage`` (what an attempt wrote before it died)."""
    return store.expand_stage_part(job_id, token, items)


def item(job: ClaimedJob) -> int:
    """The item a claimed stage job is for."""
    return int(json.loads(job.args_json)["item"])


def test_the_first_items_can_run_before_the_fan_out_is_written(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    n = 6 * run_plans.EXPAND_PART
    other = open_store_on()  # another connection, as another worker process has
    run_id = start(store, *fan())
    run_one(store, "a", list(range(n)))
    [expander] = claim_stage(store, "e")
    seen: list[tuple[int, int, JobState]] = []
    wrote = threading.Event()

    def write() -> None:
        try:
            assert store.expand_stage(expander.id, expander.token, [str(i) for i in range(n)])
        finally:
            wrote.set()

    writer = threading.Thread(target=write)
    writer.start()
    # Items of the first parts are claimed and finished while later parts are written.
    while not wrote.is_set():
        claimed = claim_stage(other, "e", limit=200, worker="w2")
        if claimed:
            state = other.get_job(expander.id).state  # type: ignore[union-attr]
            results = other.complete_jobs([done(j, item(j)) for j in claimed])
            assert all(r.accepted for r in results)
            seen += [(j.id, item(j), state) for j in claimed]
    writer.join()
    assert any(state is JobState.RUNNING for _, _, state in seen), "no item ran before the end"
    while claimed := claim_stage(store, "e", limit=2000):
        results = store.complete_jobs([done(j, item(j)) for j in claimed])
        assert all(r.accepted for r in results)
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left, e.items_failed) == (n, 0, 0)
    ids = jobs_of(store, "e")
    assert len(ids) == n + 1  # the expander and one job per item, none twice
    [gather] = claim_stage(store, "f")
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None and json.loads(got.parents[0].output_json) == list(range(n))
    assert finish(store, gather, n)
    assert detail(store, run_id).state is RunState.SUCCEEDED


def _retried_expander(store: Store, n: int, written: int) -> tuple[int, Any]:
    """A run whose first expander attempt wrote ``written`` of ``n`` items and then lost its
    job (handed back, as a worker's lost claim is); the next attempt's claim."""
    run_id = start(store, *fan(attempts=3))
    run_one(store, "a", list(range(n)))
    [first] = claim_stage(store, "e", worker="dies")
    items = [str(i) for i in range(n)]
    assert one_part(store, first.id, first.token, items) == written
    assert store.release_unheld("dies", []) == [first.id]
    # The retry, and the first part's items: those are claimable already.
    retry = next(j for j in claim_stage(store, "e") if j.id == first.id)
    assert retry.token != first.token
    assert one_part(store, first.id, first.token, items) is None  # the old attempt is fenced
    return run_id, retry


def test_a_retried_expander_continues_after_what_was_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_plans, "EXPAND_PART", 4)
    run_id, retry = _retried_expander(store, 10, 4)
    assert store.expand_stage(retry.id, retry.token, [str(i) for i in range(10)])
    items = sorted(args_of(store, j)["item"] for j in jobs_of(store, "e") if j != retry.id)
    assert items == list(range(10))  # each item once, though two attempts wrote them
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left) == (10, 10)
    assert store.get_job(retry.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]


def test_a_retried_expander_with_other_items_fails_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_plans, "EXPAND_PART", 4)
    run_id, retry = _retried_expander(store, 10, 4)
    assert not store.expand_stage(retry.id, retry.token, [str(i) for i in range(7)])
    run = detail(store, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and "gave 7 items where an earlier attempt" in run.error
    assert jobs_of(store, "e", JobState.QUEUED) == []  # the first attempt's items cancelled


def test_a_fan_out_on_the_store_thread_lets_the_heartbeat_renew_between_parts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread serves every store call of a process (ThreadedAsyncStore, SQLite's async
    # store). A fan-out that held it for all its parts kept the heartbeat waiting, on a slow
    # box past the lease, and the worker's own jobs were rescued from under it.
    monkeypatch.setattr(run_plans, "EXPAND_PART", 4)
    start(store, *fan())
    run_one(store, "a", list(range(12)))
    [expander] = claim_stage(store, "e")
    calls: list[str] = []
    in_first_part, renewal_queued = threading.Event(), threading.Event()
    write_part, renew = store.expand_stage_part, store.heartbeat

    def part(*args: Any, **kwargs: Any) -> int | None:
        calls.append("part")
        if len(calls) == 1:
            in_first_part.set()
            assert renewal_queued.wait(10)
        return write_part(*args, **kwargs)

    def beat(params: HeartbeatParams) -> frozenset[int]:
        calls.append("beat")
        return renew(params)

    monkeypatch.setattr(store, "expand_stage_part", part)
    monkeypatch.setattr(store, "heartbeat", beat)

    async def scenario() -> tuple[bool, frozenset[int]]:
        astore = ThreadedAsyncStore(store)
        items = [str(i) for i in range(12)]
        fan_out = asyncio.create_task(astore.expand_stage(expander.id, expander.token, items))
        await asyncio.to_thread(in_first_part.wait, 10)
        held = ((expander.id, expander.token),)
        renewal = asyncio.create_task(astore.heartbeat(HeartbeatParams("w1", held, 30.0)))
        await asyncio.sleep(0)  # the renewal is now queued on the store's thread
        renewal_queued.set()
        return await fan_out, await renewal

    completed, still_held = asyncio.run(scenario())
    assert completed
    assert still_held == frozenset({expander.id})  # renewed while the expander still ran
    assert calls == ["part", "beat", "part", "part"]
