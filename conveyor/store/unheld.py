"""Handing back the jobs a worker holds without knowing it, decided once for every store.

A claim can commit while its answer never reaches the worker (the connection broke, the server
restarted, between its COMMIT and the reply). The worker then holds jobs it never started:
``running``, its worker id, a lease, an attempt counted. Its heartbeat renews only the jobs it
knows, so without this they would wait a whole lease for the rescuer, which counts the attempt
as failed (on the last attempt: ``dead``) although no handler ever ran.

:func:`release_unheld` is the plan both stores run for ``release_unheld``: read the running
jobs of the worker that are not among the (id, token) pairs it holds, then release each one
with :func:`conveyor._lifecycle.unheld_attempt` through the store's own completion plan, so
the write is the shutdown release's (fenced by state and token, the attempt un-charged, an
attempt row recorded), in one transaction. Each store gives only its select statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conveyor._lifecycle import Completion, unheld_attempt
from conveyor.errors import ConfigurationError
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import CompletionResult


def release_unheld(
    worker_id: str,
    unheld: Statement,
    complete: Callable[[Sequence[Completion]], Plan[list[CompletionResult]]],
) -> Plan[list[int]]:
    """Release the jobs ``unheld`` finds; return their ids, sorted.

    ``unheld`` reads ``(id, token)`` of every ``running`` job of ``worker_id`` whose pair the
    worker did not name; ``complete(completions)`` applies completions as ``complete_jobs``
    does. A job completed or rescued between the two is refused by the completion's fence
    and left out of the answer.
    """
    found = yield unheld
    if not found.rows:
        return []
    completions = [unheld_attempt(int(r[0]), int(r[1]), worker_id) for r in found.rows]
    results = yield from complete(completions)
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
