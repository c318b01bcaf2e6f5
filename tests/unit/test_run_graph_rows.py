"""The advance's stage rows: what they write back and how their stored text decodes (pure)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from conveyor.models import StageState
from conveyor.store.contract.run_records import ItemPolicy, JobTemplate, NewStage
from conveyor.store.run_graph import (
    new_stage_row,
    stage_from_row,
    template_from_json,
    template_json,
)

TEMPLATE = JobTemplate(
    queue="q", name="p.s", max_attempts=3, priority=2, timeout=1.5, tenant="t",
    meta_json='{"trace": 1}', limit_key="k", limit_max=4, rate_key="r", rate_max=5,
    rate_per=60.0,
)


def test_a_templates_text_is_what_asdict_gave_and_decodes_back() -> None:
    text = template_json(TEMPLATE)
    assert text == json.dumps(asdict(TEMPLATE), sort_keys=True)
    assert template_from_json(text) == TEMPLATE
    other = replace(TEMPLATE, priority=9)  # cached by value: an equal one only
    assert json.loads(template_json(other))["priority"] == 9
    assert template_from_json(template_json(other)) == other


def test_a_stage_row_writes_its_template_back_only_when_it_changed() -> None:
    row = new_stage_row(7, NewStage("s", TEMPLATE, ("a",)), template_json(TEMPLATE))
    assert (row.state, row.pending, row.parents) == (StageState.WAITING, 1, ("a",))
    assert row.as_update()["template"] is None
    row.template = replace(TEMPLATE, max_attempts=9)
    assert json.loads(row.as_update()["template"])["max_attempts"] == 9


def test_a_stage_row_read_without_its_template_refuses_to_make_a_job() -> None:
    row = stage_from_row(
        (3, 1, "s", "active", '["a", "b"]', 0, 1, "skip", 4, 2, 1, None, None, None)
    )
    assert (row.parents, row.policy, row.fan_out) == (("a", "b"), ItemPolicy.SKIP, True)
    with pytest.raises(RuntimeError, match="template was not read"):
        _ = row.template
