"""Conformance: fan-out stages (expand_stage), item failure policies, and fan-in under races."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import pytest
from run_helpers import (
    BOOM,
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

from conveyor.models import JobState, RunState, StageState
from conveyor.store import Store, open_async_store
from conveyor.store.contract.run_records import (
    EXPANDER_ITEM,
    ItemFailure,
    ItemPolicy,
    ParentOutput,
)
from conveyor.store.protocol import ClaimedJob, CompletionKind, Retention
from conveyor.store.run_graph import INLINE_INPUT_MAX, given_json, stage_args


def expand(store: Store, items: list[object]) -> None:
    """Run the expander of stage e with ``items``."""
    [expander] = claim_stage(store, "e")
    assert expander.args_json and json.loads(expander.args_json)["item"] == EXPANDER_ITEM
    assert store.expand_stage(expander.id, expander.token, [json.dumps(i) for i in items])
    assert not store.expand_stage(expander.id, expander.token, ["1"])  # fenced: done already
    assert store.get_job(expander.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]


def test_fan_out_of_ten_thousand_items_and_fan_in_once(store: Store) -> None:
    run_id = start(store, *fan())
    run_one(store, "a", {"chunks": 10_000})
    began = time.perf_counter()
    expand(store, list(range(10_000)))
    took = time.perf_counter() - began
    assert took < 10, f"writing 10,000 items took {took:.1f}s"
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left) == (10_000, 10_000)
    assert len(jobs_of(store, "e", JobState.QUEUED)) == 10_000
    item = store.stage_input(e.id, 1234)
    assert item is not None and item.item_input_json == "1234" and item.parents == ()
    # Each item's job carries its input too: an item reads nothing when it starts.
    some = args_of(store, jobs_of(store, "e")[1234])
    assert some["given"] == {"item_input": some["item"]}
    left = 10_000
    while claimed := claim_stage(store, "e", limit=2_000):
        # Completed in reverse order, to show the outputs still come back in item order.
        pairs = [(j, json.loads(j.args_json)["item"]) for j in reversed(claimed)]
        results = store.complete_jobs([done(j, i * 2) for j, i in pairs])
        assert all(r.accepted for r in results)
        left -= len(claimed)
        assert len(jobs_of(store, "f")) == (1 if left == 0 else 0)
    assert len(jobs_of(store, "f")) == 1
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None
    [parent] = got.parents
    assert parent.fan_out and json.loads(parent.output_json) == [i * 2 for i in range(10_000)]


def test_an_empty_fan_out_succeeds_at_once_with_an_empty_list(store: Store) -> None:
    run_id = start(store, *fan())
    run_one(store, "a", [])
    expander = store.stage_input(stage_of(store, run_id, "e").id, EXPANDER_ITEM)
    assert expander is not None and expander.parents == (ParentOutput("a", "[]"),)
    expand(store, [])
    assert stage_of(store, run_id, "e").state is StageState.SUCCEEDED
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None and got.parents[0].output_json == "[]"
    run_one(store, "f", "ok")
    assert detail(store, run_id).state is RunState.SUCCEEDED


def _fail_item_two(store: Store, policy: ItemPolicy) -> tuple[int, ClaimedJob]:
    """Items 0..4; 0, 1 and 2 are claimed, 0 succeeds, 2 dies; returns item 1 (running)."""
    run_id = start(store, *fan(policy))
    run_one(store, "a", None)
    expand(store, ["i0", "i1", "i2", "i3", "i4"])
    claimed = claim_stage(store, "e", limit=3)  # items 0, 1, 2 run; 3 and 4 wait
    by_item = {json.loads(j.args_json)["item"]: j for j in claimed}
    assert finish(store, by_item[0], "o0")
    assert finish(store, by_item[2], kind=CompletionKind.DEAD, error=BOOM)
    return run_id, by_item[1]


def test_policy_fail_fails_the_run_and_cancels_the_rest(store: Store) -> None:
    run_id, running = _fail_item_two(store, ItemPolicy.FAIL)
    run = detail(store, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and "'e'" in run.error and "item 2" in run.error
    assert "boom" in run.error
    # Queued items and the running item 1 are cancelled; f never starts.
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 3
    assert jobs_of(store, "e", JobState.QUEUED, JobState.RUNNING) == []
    assert jobs_of(store, "f") == []
    assert not finish(store, running, "late")  # its attempt was cancelled with the run
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_left, e.items_failed) == (StageState.FAILED, 0, 1)


@pytest.mark.parametrize("policy", [ItemPolicy.SKIP, ItemPolicy.COLLECT])
def test_policies_skip_and_collect_finish_with_the_right_counts(
    store: Store, policy: ItemPolicy
) -> None:
    run_id, running = _fail_item_two(store, policy)
    assert detail(store, run_id).state is RunState.RUNNING
    assert finish(store, running, "o1")
    while claimed := claim_stage(store, "e"):
        for job in claimed:
            assert finish(store, job, "o" + str(json.loads(job.args_json)["item"]))
    e = stage_of(store, run_id, "e")
    assert (e.state, e.items_left, e.items_failed) == (StageState.SUCCEEDED, 0, 1)
    got = store.stage_input(stage_of(store, run_id, "f").id, 0)
    assert got is not None
    [parent] = got.parents
    assert json.loads(parent.output_json) == ["o0", "o1", "o3", "o4"]
    expected = (ItemFailure(2, '"i2"', "ValueError: boom"),) if policy is ItemPolicy.COLLECT else ()
    assert parent.failures == expected
    run_one(store, "f", 4)
    assert detail(store, run_id).state is RunState.SUCCEEDED


def test_a_failed_expander_fails_the_run_whatever_the_policy(store: Store) -> None:
    run_id = start(store, *fan(ItemPolicy.SKIP))
    run_one(store, "a", None)
    [expander] = claim_stage(store, "e")
    assert finish(store, expander, kind=CompletionKind.DEAD, error=BOOM)
    run = detail(store, run_id)
    assert run.state is RunState.FAILED and "expander" in (run.error or "")


def test_an_expander_finishing_without_fanning_out_fails_the_run(store: Store) -> None:
    run_id = start(store, *fan())
    run_one(store, "a", None)
    run_one(store, "e", None)  # the wrapper returned without calling expand_stage
    run = detail(store, run_id)
    assert run.state is RunState.FAILED and "expand_stage" in (run.error or "")


def _race(open_store_on: Callable[..., Store], store: Store, rounds: int) -> None:
    """Two connections complete the last two items of a fan-out at the same moment."""
    stores = [open_store_on(), open_store_on()]
    for _ in range(rounds):
        run_id = start(store, *fan())
        run_one(store, "a", None)
        expand(store, [1, 2])
        jobs = claim_stage(store, "e")
        assert len(jobs) == 2
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def complete(
            own: Store,
            job: ClaimedJob,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait(timeout=10)
                [r] = own.complete_jobs([done(job, 1)])
                assert r.accepted
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [
            threading.Thread(target=complete, args=(own, job))
            for own, job in zip(stores, jobs, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        f = stage_of(store, run_id, "f")
        assert f.state is StageState.ACTIVE and len(f.job_ids) == 1, f
    assert len(jobs_of(store, "f")) == rounds


def test_the_last_two_items_finishing_at_once_fire_the_child_exactly_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    _race(open_store_on, store, rounds=25)


def test_stage_output_page_pages_item_outputs_in_item_order(store: Store) -> None:
    run_id, running = _fail_item_two(store, ItemPolicy.SKIP)
    # Not succeeded yet: the stage exists, no values.
    page = store.stage_output_page(run_id, "e", 0, 10)
    assert page is not None and (page.state, page.total, page.outputs_json) == (
        StageState.ACTIVE, 0, ()
    )
    assert finish(store, running, "o1")
    while claimed := claim_stage(store, "e"):
        for job in claimed:
            item = json.loads(job.args_json)["item"]
            assert finish(store, job, None if item == 4 else {"o": item})
    # Items 0 and 1 finished in _fail_item_two; item 2 died (left out, as the child gets it);
    # item 4's output is JSON null.
    whole = store.stage_output_page(run_id, "e", 0, 1000)
    assert whole is not None and whole.fan_out and whole.total == 4
    assert [json.loads(t) for t in whole.outputs_json] == ["o0", "o1", {"o": 3}, None]
    middle = store.stage_output_page(run_id, "e", 1, 2)
    assert middle is not None and middle.outputs_json == whole.outputs_json[1:3]
    past = store.stage_output_page(run_id, "e", 9, 5)
    assert past is not None and (past.total, past.outputs_json) == (4, ())
    plain = store.stage_output_page(run_id, "a", 0, 5)
    assert plain is not None and not plain.fan_out
    assert (plain.state, plain.total, plain.outputs_json) == (StageState.SUCCEEDED, 1, ("null",))
    assert store.stage_output_page(run_id, "nope", 0, 5) is None
    assert store.stage_output_page(run_id + 1000, "e", 0, 5) is None
    with pytest.raises(ValueError, match="offset"):
        store.stage_output_page(run_id, "e", -1, 5)


def test_stage_output_page_of_ten_thousand_items_reads_one_page(store: Store) -> None:
    run_id = start(store, *fan(ItemPolicy.SKIP))
    run_one(store, "a", None)
    expand(store, list(range(10_000)))
    while claimed := claim_stage(store, "e", limit=2000):
        store.complete_jobs([done(j, json.loads(j.args_json)["item"] * 2) for j in claimed])
    page = store.stage_output_page(run_id, "e", 9_990, 100)
    assert page is not None and page.total == 10_000
    assert [json.loads(t) for t in page.outputs_json] == [2 * i for i in range(9_990, 10_000)]

    async def twin() -> tuple[str, ...]:
        astore = open_async_store(store)
        try:
            got = await astore.stage_output_page(run_id, "e", 5, 3)
            assert got is not None
            return got.outputs_json
        finally:
            await astore.release()

    assert asyncio.run(twin()) == ("10", "12", "14")


def test_get_run_reads_item_outputs_up_to_a_bound(store: Store) -> None:
    """``get_run(outputs=N)`` reads the outputs of a fan-out stage's first N items only: a
    stage with more leaves its output out (paged by stage_output_page), with its counts and
    every job id still read; a stage with N or fewer, and every plain stage, are whole."""
    run_id = start(store, *fan(ItemPolicy.SKIP))
    run_one(store, "a", {"n": 5})
    expand(store, list(range(5)))
    running = store.get_run(run_id, outputs=2)
    assert running is not None
    e = running.stages[1]
    assert (e.output_json, e.output_left_out) == (None, False)  # not succeeded: nothing to leave
    while claimed := claim_stage(store, "e"):
        store.complete_jobs([done(j, json.loads(j.args_json)["item"] * 2) for j in claimed])
    whole = detail(store, run_id)
    for bound in (0, 2, 4):
        got = store.get_run(run_id, outputs=bound)
        assert got is not None
        a, e, f = got.stages
        assert e.output_json is None and e.output_left_out, bound
        assert (e.items_total, e.items_left, e.items_failed) == (5, 0, 0)
        assert e.job_ids == whole.stages[1].job_ids and len(e.job_ids) == 6  # expander + 5
        assert (a.output_json, a.output_left_out) == ('{"n": 5}', False)  # plain: whole
        assert f.state is StageState.ACTIVE and f.job_ids == whole.stages[2].job_ids
    for bound in (5, 6, None):
        got = store.get_run(run_id, outputs=bound)
        assert got == whole, bound
        assert json.loads(got.stages[1].output_json or "") == [0, 2, 4, 6, 8]
    assert store.get_run(run_id + 1000, outputs=2) is None
    with pytest.raises(ValueError, match="outputs"):
        store.get_run(run_id, outputs=-1)

    async def twin() -> tuple[bool, bool]:
        astore = open_async_store(store)
        try:
            bounded = await astore.get_run(run_id, outputs=3)
            full = await astore.get_run(run_id)
            assert bounded is not None and full is not None
            return bounded.stages[1].output_left_out, full == whole
        finally:
            await astore.release()

    assert asyncio.run(twin()) == (True, True)


def test_a_fan_outs_jobs_carry_what_stage_args_makes_and_items_their_texts(store: Store) -> None:
    # SQLite makes a part's arguments in SQL from the items' texts (decision 136); both stores
    # must give each job exactly the arguments run_graph's builders make, inline input only
    # where it fits, and each item row its text.
    # The longest string whose JSON text (two quotes more) still fits beside its wrapping.
    limit = INLINE_INPUT_MAX - len('{"item_input": }') - 2
    items: list[object] = [
        1, 'é "quoted" \\ \u2603', {"a": [1, 2.5, None]}, "x" * limit, "y" * (limit + 1), [],
    ]
    run_id = start(store, *fan())
    run_one(store, "a", None)
    expand(store, items)
    stage_id = stage_of(store, run_id, "e").id
    jobs = sorted(claim_stage(store, "e"), key=lambda j: json.loads(j.args_json)["item"])
    assert len(jobs) == len(items)
    for n, (job, value) in enumerate(zip(jobs, items, strict=True)):
        text = json.dumps(value)  # as expand() wrote it
        expected = stage_args(run_id, stage_id, n, given_json(item_input=text))
        assert json.loads(job.args_json) == json.loads(expected), n
        assert ("given" in json.loads(job.args_json)) == (n != 4), n  # the one over the limit
        got = store.stage_input(stage_id, n)
        assert got is not None and got.item_input_json is not None
        assert json.loads(got.item_input_json) == value


TRICKY = ["back\\slash", "tab\there", "line\nbreak", "cr\rhere", "\\N", "quote\"", "ünïcødé ✓",
          "", None, {"nested": ["a\\b", 1.5]}, "\\.", "\x01control"]


def test_item_inputs_come_back_exactly_from_a_long_part(store: Store) -> None:
    # Long enough to be written the bulk way (COPY on PostgreSQL); every text COPY would give
    # a meaning to is in some item's input.
    items = [TRICKY[n % len(TRICKY)] for n in range(1_200)]
    run_id = start(store, *fan())
    run_one(store, "a", None)
    expand(store, items)
    e = stage_of(store, run_id, "e")
    assert (e.items_total, e.items_left) == (len(items), len(items))
    for n in range(len(TRICKY)):
        got = store.stage_input(e.id, n)
        assert got is not None and json.loads(got.item_input_json) == TRICKY[n], n
    [job] = [j for j in claim_stage(store, "e", limit=2_000) if _item_of(j) == 7]
    assert json.loads(job.args_json)["given"] == {"item_input": TRICKY[7]}


def _item_of(job: ClaimedJob) -> int:
    return int(json.loads(job.args_json)["item"])


def test_pruning_a_run_removes_its_items(
    store: Store, count_rows: Callable[[str], int]
) -> None:
    # Long enough for the bulk write; the items go with their run when it is pruned, and a
    # run that still runs keeps its own.
    kept = start(store, *fan())
    run_id = start(store, *fan())
    for job in claim_stage(store, "a"):
        assert finish(store, job, None)
    [first, second] = sorted(claim_stage(store, "e"), key=lambda j: j.id)
    assert store.expand_stage(first.id, first.token, [json.dumps(i) for i in range(600)])
    assert store.expand_stage(second.id, second.token, [json.dumps(i) for i in range(700)])
    # Each run's rows: its items, its expander's and its first stage's.
    assert count_rows("conveyor_stage_items") == 602 + 702
    e = stage_of(store, run_id, "e")
    assert store.cancel_run(run_id)
    assert store.stage_input(e.id, 3) is not None  # a finished run keeps them until pruned
    store.prune(Retention(runs=600), now=store.now() + 3600)
    assert store.get_run(run_id) is None and store.get_run(kept) is not None
    assert count_rows("conveyor_stage_items") == 602
