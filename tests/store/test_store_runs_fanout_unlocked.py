"""Conformance (PostgreSQL): a fan-out's parts after the first write their items before they
take the run's lock, so the completions of the run's items, which take that lock, do not wait
for 2,000 rows to be written; a run stopped meanwhile rolls the part back (decision 130).

SQLite has one writer at a time, whose write transaction is every run's lock: no other
transaction can run beside a part there, so these tests are PostgreSQL's alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from run_helpers import claim_stage, detail, fan, jobs_of, run_one, stage_of, start

from conveyor.models import JobState, RunState
from conveyor.store import Store, run_plans
from conveyor.store.contract.run_records import RunReset
from conveyor.store.sqlite import SQLiteStore

N = 12
"""Items of the fan-out: three parts of four."""


@pytest.fixture
def between(store: Store, monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Arm an action to run once, in the next part, once its items are written (before it
    takes the run's lock, which the part after the first takes last)."""
    if isinstance(store, SQLiteStore):
        pytest.skip("SQLite's write lock is every run's lock: nothing runs beside a part")
    monkeypatch.setattr(run_plans, "EXPAND_PART", 4)
    armed: list[Callable[[], None]] = []
    flush = run_plans.flush

    def hooked(d: Any, progress: Any, now: float | None) -> Iterator[Any]:
        yield from flush(d, progress, now)
        if armed:
            armed.pop()()

    monkeypatch.setattr(run_plans, "flush", hooked)
    return armed.append


def _first_part(store: Store) -> tuple[int, Any, list[str]]:
    """A fan-out run whose expander wrote its first part (under the lock, as a first part is)."""
    run_id = start(store, *fan())
    run_one(store, "a", list(range(N)))
    [expander] = claim_stage(store, "e")
    items = [str(i) for i in range(N)]
    assert store.expand_stage_part(expander.id, expander.token, items) == 4
    return run_id, expander, items


def test_a_later_part_writes_its_items_while_the_run_can_be_locked(
    store: Store, store_url: str, between: Callable[[Callable[[], None]], None]
) -> None:
    run_id, expander, items = _first_part(store)
    took: list[int] = []

    def lock_from_elsewhere() -> None:
        # What a worker completing one of the run's items does first: it must not wait.
        with psycopg.connect(store_url, autocommit=False) as conn:
            row = conn.execute(
                "SELECT id FROM conveyor_runs WHERE id = %s FOR UPDATE NOWAIT", (run_id,)
            ).fetchone()
            took.append(int(row[0]) if row else 0)

    between(lock_from_elsewhere)
    assert store.expand_stage_part(expander.id, expander.token, items) == 8
    assert took == [run_id]
    assert store.expand_stage_part(expander.id, expander.token, items) == N
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left) == (N, N)
    assert len(jobs_of(store, "e", JobState.QUEUED)) == N
    assert store.get_job(expander.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]


def test_a_run_cancelled_while_a_part_is_written_rolls_the_part_back(
    store: Store, open_store_on: Callable[..., Store],
    between: Callable[[Callable[[], None]], None],
) -> None:
    run_id, expander, items = _first_part(store)
    other = open_store_on()
    between(lambda: other.cancel_run(run_id, by="tester"))
    # The part's items were written, then the lock showed the run cancelled: rolled back, and
    # the expander completed without writing more.
    assert store.expand_stage_part(expander.id, expander.token, items) is None
    assert detail(store, run_id).state is RunState.CANCELLED
    assert jobs_of(store, "e", JobState.QUEUED) == []
    assert len(jobs_of(store, "e")) == 1 + 4  # the expander and the first part's items only
    assert store.get_job(expander.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]


def test_a_run_cancelled_and_resumed_while_a_part_is_written_leaves_the_new_expander_alone(
    store: Store, open_store_on: Callable[..., Store],
    between: Callable[[Callable[[], None]], None],
) -> None:
    run_id, expander, items = _first_part(store)
    other = open_store_on()

    def cancel_and_resume() -> None:
        assert other.cancel_run(run_id, by="tester")
        assert other.reset_run(RunReset(run_id, ("e", "f"), by="tester"))

    between(cancel_and_resume)
    # The run runs again and its stage fans out again, but under another expander: the old
    # one writes nothing and finishes nothing of the new one's.
    assert store.expand_stage_part(expander.id, expander.token, items) is None
    assert detail(store, run_id).state is RunState.RUNNING
    [new] = jobs_of(store, "e", JobState.QUEUED)
    assert new != expander.id
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left) == (0, 1)  # nothing fanned out; its expander left
    assert len(jobs_of(store, "e")) == 1 + 4 + 1  # old expander, its first part, the new one
