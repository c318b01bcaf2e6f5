"""Unit: JobBatch, the jobs of one template differing only in their arguments (decision 124)."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor.store.protocol import JobBatch, NewJob
from conveyor.store.sequences import has_sequence
from conveyor.store.unique import has_unique

TEMPLATE = NewJob(
    queue="q", name="n", args_json='{"ignored":1}', max_attempts=4, priority=2, delay=1.5,
    tenant="t", meta_json='{"k":"v"}', expires_in=9.0,
)


def test_a_batch_reads_as_the_jobs_it_stands_for() -> None:
    batch = JobBatch(TEMPLATE, ['{"i":0}', '{"i":1}', '{"i":2}'])
    expected = [dataclasses.replace(TEMPLATE, args_json=f'{{"i":{i}}}') for i in range(3)]
    assert len(batch) == 3
    assert list(batch) == expected
    assert batch[1] == expected[1] and batch[-1] == expected[2]
    sliced = batch[1:]
    assert isinstance(sliced, JobBatch) and list(sliced) == expected[1:]
    assert "3 n jobs" in repr(batch)


def test_a_batch_answers_the_store_checks_from_its_template() -> None:
    assert not has_unique(JobBatch(TEMPLATE, ["{}"]))
    assert has_unique(JobBatch(dataclasses.replace(TEMPLATE, unique_key="k"), ["{}"]))
    assert not has_sequence(JobBatch(TEMPLATE, ["{}"]))
    assert has_sequence(JobBatch(dataclasses.replace(TEMPLATE, sequence_key="s"), ["{}"]))


def test_a_batch_refuses_a_template_with_middleware_state() -> None:
    with pytest.raises(ValueError, match="enqueue middleware"):
        JobBatch(dataclasses.replace(TEMPLATE, enqueueing=object()), ["{}"])
