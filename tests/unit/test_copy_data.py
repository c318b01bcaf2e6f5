"""Unit: the binary COPY data of PostgreSQL's bulk insert (decision 124), without a server."""

from __future__ import annotations

import dataclasses
import struct
from datetime import UTC, datetime

import pytest

from conveyor.models import JobState
from conveyor.store.postgres.copy_rows import BLOCK_ROWS, COLUMNS, copy_data
from conveyor.store.protocol import JobBatch, NewJob

NOW = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
JOB = NewJob(queue="q", name="n", args_json="{}", max_attempts=3)


def test_rows_come_in_blocks_framed_by_the_signature_and_the_trailer() -> None:
    n = BLOCK_ROWS * 2 + 1
    data = copy_data(JobBatch(JOB, ['{"é":"\\t"}'] * n), list(range(1, n + 1)), NOW)
    blocks = list(data.blocks)
    assert blocks[0].startswith(b"PGCOPY\n\xff\r\n\x00") and blocks[-1] == b"\xff\xff"
    assert len(blocks) == 2 + 3  # signature, three blocks of rows, trailer
    assert [i.id for i in data.inserted] == list(range(1, n + 1))
    assert {i.state for i in data.inserted} == {JobState.QUEUED}
    assert {i.created_at for i in data.inserted} == {NOW.timestamp()}
    first = blocks[1]
    count, id_length, job_id, args_length, version = struct.unpack_from(">hiqiB", first)
    assert (count, id_length, job_id, version) == (COLUMNS, 8, 1, 1)
    assert first[19 : 19 + args_length - 1] == '{"é":"\\t"}'.encode()


def test_shapes_are_packed_once_each_and_states_follow_the_due_time() -> None:
    later = dataclasses.replace(JOB, delay=60.0)
    jobs = [JOB, later, JOB, later]
    data = copy_data(jobs, [1, 2, 3, 4], NOW)
    rows = b"".join(list(data.blocks)[1:-1])
    assert [i.state for i in data.inserted] == [JobState.QUEUED, JobState.SCHEDULED] * 2
    assert rows.count(b"queued") == 2 and rows.count(b"scheduled") == 2


def test_bad_input_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="2 jobs but 1 ids"):
        copy_data([JOB, JOB], [1], NOW)
    with pytest.raises(ValueError, match="does not fit"):
        copy_data([dataclasses.replace(JOB, priority=2**31)], [1], NOW)
