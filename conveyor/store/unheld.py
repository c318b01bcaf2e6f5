"""Handing back the jobs a worker holds without knowing it, decided once for every store.

A claim can commit while its answer never reaches the worker (the connection broke, the server
restarted, between its COMMIT and the reply). The worker then holds jobs it never started:
``running``, its worker id, a lease, an attempt counted. Its heartbeat renews only the jobs it
knows, so without this they would wait a whole lease for the rescuer, which counts the attempt
as failed (on the last attempt: ``dead``) although no handler ever ran.

:func:`release_unheld` is the plan both stores run for ``release_unheld``: read the running
jobs of the worker, keep those that are not among the (id, token) pairs it holds, then release
each one with :func:`conveyor._lifecycle.unheld_attempt` through the store's own completion
plan, so the write is the shutdown release's (fenced by state and token, the attempt
un-charged, an attempt row recorded), in one transaction. Each store gives only its select
statement (``worker_running.sql``) and its completion plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conveyor._lifecycle import Completion, unheld_attempt
from conveyor.errors import ConfigurationError
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import CompletionResult


def release_unheld(
    worker_id: str,
    held: Sequence[tuple[int, int]],
    running: Statement,
    complete: Callable[[Sequence[Completion]], Plan[list[CompletionResult]]],
) -> Plan[list[int]]:
    """Release the running jobs of ``worker_id`` that are not ``held``; return their ids, sorted.

    ``running`` reads ``(id, token)`` of every ``running`` job of ``worker_id`` (no more than
    its slots, plus what lost claims took, so they are filtered here rather than by a join
    with ``held`` in SQL); ``complete(completions)`` applies completions as ``complete_jobs``
    does. A job completed or rescued between the two is refused by the completion's fence and
    left out of the answer.
    """
    found = yield running
    kept = set(held)
    unheld = [(int(r[0]), int(r[1])) for r in found.rows if (r[0], r[1]) not in kept]
    if not unheld:
        return []
    results = yield from complete([unheld_attempt(i, t, worker_id) for i, t in unheld])
    return sorted(r.job_id for r in results if r.accepted)


def validate_held(worker_id: str, held: Sequence[tuple[int, int]]) -> None:
    """Refuse arguments that would release the wrong jobs: an empty worker id, or a held
    entry that is not an (id, token) pair of integers (``ConfigurationError``)."""
    if not isinstance(worker_id, str) or not worker_id:
        raise ConfigurationError(
            f"release_unheld needs the worker's id (a non-empty string), got {worker_id!r}"
        )
    for pair in held:
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
        ):
            raise ConfigurationError(
                f"release_unheld takes the held jobs as (job id, token) pairs of integers, "
                f"got {pair!r}"
            )
