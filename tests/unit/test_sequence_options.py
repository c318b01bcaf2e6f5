"""Unit: declaring sequences (``sequence=``, ``on_dead=``) and what a call prepares; the last
tests run sync and async handlers through a real SQLite file with :func:`drain`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor, JobState
from conveyor.models import ON_DEAD, SEQUENCE
from conveyor.testing import drain
from conveyor.why import explain


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Conveyor]:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")
    yield app
    app.close()


def test_a_template_naming_no_parameter_fails_at_declaration(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match=r"sequence=.*\{acount_id\}.*not a parameter"):
        @app.job(sequence="acct:{acount_id}")
        def charge(ctx: object, account_id: int) -> None: ...


@pytest.mark.parametrize("bad", ["", 7, "acct:{0}", "acct:{"])
def test_a_bad_template_is_refused(app: Conveyor, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="sequence="):
        @app.job(sequence=bad)  # type: ignore[arg-type]
        def charge(ctx: object, account_id: int) -> None: ...


def test_on_dead_takes_block_or_continue_and_needs_a_sequence(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="on_dead= must be 'block'"):
        @app.job(sequence="{account_id}", on_dead="skip")
        def a(ctx: object, account_id: int) -> None: ...
    with pytest.raises(ConfigurationError, match="on_dead= needs sequence="):
        @app.job(on_dead="continue")
        def b(ctx: object, account_id: int) -> None: ...


def test_prepare_fills_the_key_into_the_job_and_its_meta(app: Conveyor) -> None:
    @app.job(sequence="acct:{account_id}", on_dead="continue")
    def charge(ctx: object, account_id: int, cents: int) -> None: ...

    @app.job
    def plain(ctx: object, account_id: int) -> None: ...

    job = charge.prepare(7, cents=100)
    assert (job.sequence_key, job.sequence_blocks) == ("acct:7", False)
    assert '"sequence": "acct:7"' in job.meta_json and ON_DEAD in job.meta_json
    assert plain.prepare(7).sequence_key is None


def test_an_empty_key_is_refused_at_enqueue(app: Conveyor) -> None:
    @app.job(sequence="{account}")
    def charge(ctx: object, account: str) -> None: ...

    with pytest.raises(ArgumentError, match="filled to an empty key"):
        charge.prepare("  ")


def test_sync_jobs_of_one_key_run_in_enqueue_order_and_why_says_what_they_wait_for(
    app: Conveyor,
) -> None:
    ran: list[tuple[str, int]] = []

    @app.job(sequence="acct:{account_id}", priority=0)
    def charge(ctx: object, account_id: int, n: int) -> None:
        ran.append((f"acct:{account_id}", n))

    handles = [charge.enqueue(1, n) for n in range(5)]
    other = charge.enqueue(2, 0)
    assert [h.refresh().state for h in handles] == [JobState.QUEUED] + [JobState.HELD] * 4
    assert other.refresh().state is JobState.QUEUED
    [reason] = explain(app, handles[2].id)
    assert reason.code == "sequence"
    assert f"waiting in sequence `acct:1` behind job {handles[0].id}" in reason.message
    assert "1 job held ahead of it" in reason.message
    drain(app)
    assert [n for key, n in ran if key == "acct:1"] == [0, 1, 2, 3, 4]
    assert {h.refresh().state for h in handles} == {JobState.SUCCEEDED}


def test_async_jobs_keep_order_and_a_dead_one_blocks_its_key(app: Conveyor) -> None:
    ran: list[int] = []

    @app.job(sequence="k:{key}", retries=0)
    async def step(ctx: object, key: str, n: int) -> None:
        await asyncio.sleep(0)
        if n == 1:
            raise ValueError("card declined")
        ran.append(n)

    handles = [step.enqueue("a", n) for n in range(3)]
    drain(app)
    assert ran == [0]
    assert [h.refresh().state for h in handles] == [
        JobState.SUCCEEDED, JobState.DEAD, JobState.HELD,
    ]
    [reason] = explain(app, handles[2].id)
    assert f"behind job {handles[1].id}, which is dead: ValueError: card declined" in (
        reason.message
    )
    assert "replay or discard it to continue" in reason.message
    assert handles[2].refresh().meta[SEQUENCE] == "k:a"


def test_published_events_enqueue_subscribers_in_their_sequence(app: Conveyor) -> None:
    ran: list[int] = []

    @app.job(on="order.placed", sequence="order:{order_id}")
    def ship(ctx: object, order_id: int, step: int) -> None:
        ran.append(step)

    first = app.publish("order.placed", order_id=7, step=1)
    second = app.publish("order.placed", order_id=7, step=2)
    assert [h.refresh().state for h in (*first, *second)] == [JobState.QUEUED, JobState.HELD]
    drain(app)
    assert ran == [1, 2]
