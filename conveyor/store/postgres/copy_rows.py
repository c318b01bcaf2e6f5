"""The data ``enqueue_many`` COPYs into ``conveyor_jobs`` on PostgreSQL (decisions 100, 124).

``insert_jobs.sql`` computes each job's due time, first state and start deadline in SQL from
``now()``; COPY only carries finished values, so the same rules are applied here, in Python,
from the transaction's ``now()`` read by the statement that reserved the ids. The rules must
stay those of ``insert_jobs.sql`` (the conformance suite runs both paths).

The data is PostgreSQL's binary COPY format, packed here rather than by the driver row by
row (decision 124): a row is its id, its arguments, then 18 columns that jobs of one type
and one set of options share (queue, name, state, due time, ...). Those are packed once per
distinct set, so a row costs one ``struct`` call, one ``str.encode`` and a join, about a
tenth of the driver's ``write_row``; and binary values spare the server parsing text (the
two timestamps most). A :class:`~conveyor.store.protocol.JobBatch` has one set by
construction; for other batches each job's set is looked up in a dict.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from conveyor.models import JobState
from conveyor.store import rows
from conveyor.store.contract.records import InsertedJob, JobBatch, NewJob

COPY_MIN_BATCH = 500
"""Batches at least this long are COPYed; shorter ones take the one-statement INSERT.

COPY costs two more round trips (BEGIN and COMMIT around the id reservation and the copy),
which a short batch does not earn back (see the measurement under decision 100)."""

BLOCK_ROWS = 100
"""Rows per block handed to the driver: the server inserts one block while the next is
packed (a whole batch packed first would leave the server idle meanwhile)."""

COLUMNS = 20
"""``copy_jobs.sql``'s column count: id, args, then the shared columns."""

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the format's signature, no flags, no extension
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"  # a field of length -1
_HEAD = struct.Struct(">hiqiB")
"""A row's start: its field count, the id (length 8, value), the arguments' length and the
jsonb format's version byte (1), which precedes the JSON text."""
_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")
_FLOAT8 = struct.Struct(">id")
_LENGTH = struct.Struct(">i")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_DUE = JobState(rows.INSERTED_STATES["due_state"])
_LATER = JobState(rows.INSERTED_STATES["later_state"])

_SHAPE = attrgetter(
    "queue", "name", "priority", "max_attempts", "run_at", "delay", "timeout", "unique_key",
    "unique_for", "tenant", "meta_json", "limit_key", "limit_max", "rate_key", "rate_max",
    "rate_per", "start_by", "expires_in",
)
"""The fields the shared columns are computed from: jobs equal in these share them."""


@dataclass(frozen=True, slots=True)
class CopyData:
    """A batch ready to COPY: the data in blocks, and what the insert returns for each job.

    ``blocks`` is a generator, read once by the driver as it sends them; ``inserted`` is
    filled while it runs, between blocks, so building it costs no time of its own: the
    server is inserting the block just sent meanwhile. It is complete once ``blocks`` is."""

    blocks: Iterator[bytes]
    inserted: list[InsertedJob]


def copy_data(jobs: Sequence[NewJob], ids: Sequence[int], now: datetime) -> CopyData:
    """The COPY data for ``jobs``, ids in input order, at the transaction's clock ``now``.

    A job without ``run_at`` is due ``delay`` after ``now``, and a job due later than it
    starts ``scheduled`` (else ``queued``), as in SQL. Raises :class:`ValueError` when the
    counts differ or a value does not fit its column.
    """
    if len(ids) != len(jobs):
        raise ValueError(f"{len(jobs)} jobs but {len(ids)} ids")
    inserted: list[InsertedJob] = []
    created = now.timestamp()
    if isinstance(jobs, JobBatch):
        tail, state = _shared(jobs.template, now)
        shared = [(tail, state)] * len(jobs)
        return CopyData(_blocks(ids, jobs.args, shared, created, inserted), inserted)
    shapes: dict[tuple[object, ...], tuple[bytes, JobState]] = {}
    shared = []
    for job in jobs:
        shape = _SHAPE(job)
        found = shapes.get(shape)
        if found is None:
            found = shapes[shape] = _shared(job, now)
        shared.append(found)
    args = [job.args_json for job in jobs]
    return CopyData(_blocks(ids, args, shared, created, inserted), inserted)


def _blocks(
    ids: Sequence[int],
    args: Sequence[str],
    shared: Sequence[tuple[bytes, JobState]],
    created: float,
    inserted: list[InsertedJob],
) -> Iterator[bytes]:
    head = _HEAD.pack
    yield _SIGNATURE
    for start in range(0, len(ids), BLOCK_ROWS):
        end = start + BLOCK_ROWS
        parts: list[bytes] = []
        block = list(zip(ids[start:end], args[start:end], shared[start:end], strict=True))
        for job_id, text, (tail, _) in block:
            data = text.encode()
            parts += (head(COLUMNS, 8, job_id, len(data) + 1, 1), data, tail)
        yield b"".join(parts)
        # The server inserts that block meanwhile (decision 124).
        inserted += [InsertedJob(job_id, state, False, None, None, created)
                     for job_id, _, (_, state) in block]
    yield _TRAILER


def _shared(job: NewJob, now: datetime) -> tuple[bytes, JobState]:
    """The packed columns after id and args, and the job's first state."""
    if job.run_at is not None:
        due = _at(job.run_at)
    elif job.delay:
        due = now + timedelta(seconds=job.delay)
    else:
        due = now
    if job.start_by is not None:
        expires: datetime | None = _at(job.start_by)
    elif job.expires_in is not None:
        expires = due + timedelta(seconds=job.expires_in)
    else:
        expires = None
    state = _LATER if due > now else _DUE
    packed = b"".join(
        (
            _text(job.queue), _text(job.name), _text(str(state)), _int4(job.priority),
            _int4(job.max_attempts), _timestamp(due), _float8(job.timeout),
            _text(job.unique_key), _float8(job.unique_for), _text(job.tenant),
            _jsonb(job.meta_json), _text(job.limit_key), _int4(job.limit_max),
            _text(job.rate_key), _int4(job.rate_max), _float8(job.rate_per),
            _timestamp(expires), _timestamp(now),
        )
    )
    return packed, state


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _jsonb(text: str) -> bytes:
    data = text.encode()
    return _LENGTH.pack(len(data) + 1) + b"\x01" + data


def _int4(value: int | None) -> bytes:
    if value is None:
        return _NULL
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"{value} does not fit the integer column it is written to")
    return _INT4.pack(4, value)


def _float8(value: float | None) -> bytes:
    return _NULL if value is None else _FLOAT8.pack(8, float(value))


def _timestamp(value: datetime | None) -> bytes:
    # timestamptz travels as microseconds since 2000-01-01 UTC; timedelta floor division is
    # exact, so the value is the one psycopg would have sent for the same datetime.
    return _NULL if value is None else _INT8.pack(8, (value - _PG_EPOCH) // _MICROSECOND)
