"""SQLite's writing of a fan-out's part (decision 136), statement by statement (sans-I/O).

The part's item rows take their job ids from the first id and their place, which holds when the
ids follow each other (they do: one INSERT under the write lock). Should they not, the rows go
the general way, each with the id its job got. The real database runs the first path in the
conformance suite; this drives the plan by hand to reach the second.
"""

from __future__ import annotations

import json

import pytest

from conveyor.store.contract.run_records import JobTemplate
from conveyor.store.plan import Result
from conveyor.store.run_graph import FanPart
from conveyor.store.sqlite.run_verbs import SQLiteRunDialect

TEMPLATE = JobTemplate(queue="q", name="p.e", max_attempts=2)
PART = FanPart(stage_id=7, first=4, items_json=["1", '"a"'])


def test_item_rows_take_their_ids_from_the_first_one_when_the_ids_follow_each_other() -> None:
    plan = SQLiteRunDialect().insert_fan_part(TEMPLATE, 3, PART, now=1.0)
    jobs = next(plan)
    assert "INSERT INTO conveyor_jobs" in jobs.sql
    assert json.loads(jobs.params["items"]) == ["1", '"a"']
    assert (jobs.params["queue"], jobs.params["name"], jobs.params["max_attempts"]) == (
        "q", "p.e", 2
    )
    assert (jobs.params["run_id"], jobs.params["stage_run_id"], jobs.params["first"]) == (3, 7, 4)
    items = plan.send(Result([(11,), (10,)], 2))
    assert items.params["first_id"] == 10 and items.params["first"] == 4
    with pytest.raises(StopIteration):
        plan.send(Result([], 2))


def test_item_rows_go_the_general_way_when_the_ids_do_not_follow_each_other() -> None:
    plan = SQLiteRunDialect().insert_fan_part(TEMPLATE, 3, PART, now=1.0)
    next(plan)
    items = plan.send(Result([(10,), (12,)], 2))
    assert "json_each(:batch)" in items.sql
    assert json.loads(items.params["batch"]) == [[7, 4, 10, "1"], [7, 5, 12, '"a"']]
    with pytest.raises(StopIteration):
        plan.send(Result([], 2))
