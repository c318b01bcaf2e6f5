"""Conformance: a batch of a fan-out's successes counts its stage down (decisions 131, 134).

A completion batch whose items all succeeded, are a fan-out's and leave their stage unfinished
is applied in one statement on both stores (on PostgreSQL under the run's row lock, taken in
that statement). What it writes must be what the full advance would have written: the items'
states and outputs, the stage's count, and nothing else; and batches taking that way beside
batches taking the full one (a failure, the stage's last item) from two connections at once
must lose no count and start the fan-in exactly once.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable

from run_helpers import (
    BOOM,
    claim_stage,
    detail,
    done,
    fan,
    jobs_of,
    run_one,
    stage_of,
    start,
)

from conveyor.models import JobState, RunState, StageState
from conveyor.store import Store
from conveyor.store.contract.run_records import ItemPolicy
from conveyor.store.protocol import ClaimedJob, CompletionKind


def _fan_out(store: Store, items: int, policy: ItemPolicy) -> int:
    run_id = start(store, *fan(policy))
    run_one(store, "a", None)
    [expander] = claim_stage(store, "e")
    assert store.expand_stage(expander.id, expander.token, [json.dumps(i) for i in range(items)])
    return run_id


def _item(job: ClaimedJob) -> int:
    return int(json.loads(job.args_json)["item"])


def test_a_batch_of_successes_counts_down_and_writes_what_the_advance_would(
    store: Store,
) -> None:
    run_id = _fan_out(store, 10, ItemPolicy.SKIP)
    before = detail(store, run_id)
    jobs = sorted(claim_stage(store, "e"), key=_item)
    # Items 0..3 succeed in one batch: the stage's count goes down and nothing else moves.
    results = store.complete_jobs([done(j, f"o{_item(j)}") for j in jobs[:4]])
    assert all(r.accepted for r in results)
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_total, e.items_left, e.items_failed) == (
        StageState.ACTIVE, 10, 6, 0
    )
    after = detail(store, run_id)
    assert after.state is RunState.RUNNING
    assert after.last_progress_at == before.last_progress_at
    assert jobs_of(store, "f") == []
    # A failure (policy skip) and the rest take the full advance, which reads the count the
    # batch above left; the collector gets the outputs that batch wrote.
    store.complete_jobs(
        [done(jobs[4], kind=CompletionKind.DEAD, error=BOOM)]
        + [done(j, f"o{_item(j)}") for j in jobs[5:9]]
    )
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_left, e.items_failed) == (StageState.ACTIVE, 1, 1)
    store.complete_jobs([done(jobs[9], "o9")])
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_left, e.items_failed) == (StageState.SUCCEEDED, 0, 1)
    [f] = claim_stage(store, "f")
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None
    [parent] = got.parents
    assert json.loads(parent.output_json) == [f"o{i}" for i in range(10) if i != 4]
    assert f.id in jobs_of(store, "f")


def test_two_connections_finishing_a_fan_out_lose_no_count_and_fan_in_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    items = 1200
    run_id = _fan_out(store, items, ItemPolicy.COLLECT)
    failing = set(random.Random(7).sample(range(items), 30))
    errors: list[BaseException] = []

    def work(own: Store, worker: str) -> None:
        try:
            while claimed := claim_stage(own, "e", limit=25, worker=worker):
                own.complete_jobs(
                    [
                        done(j, kind=CompletionKind.DEAD, error=BOOM)
                        if _item(j) in failing
                        else done(j, _item(j))
                        for j in claimed
                    ]
                )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(open_store_on(), f"w{n}")) for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_left, e.items_failed) == (StageState.SUCCEEDED, 0, len(failing))
    assert len(jobs_of(store, "f")) == 1
    assert len(jobs_of(store, "e", JobState.SUCCEEDED)) == items - len(failing) + 1  # + expander
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None
    [parent] = got.parents
    assert json.loads(parent.output_json) == [i for i in range(items) if i not in failing]
    assert sorted(f.item for f in parent.failures) == sorted(failing)
