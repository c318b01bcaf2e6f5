"""``complete_and_claim`` on PostgreSQL: a worker's finished attempts and its next claim at once.

The plain case is one statement (one round trip, autocommit): complete_jobs.sql's CTEs, then
claim_jobs.sql's, the claim's UPDATE as a CTE too. The two files stay the only text of each
half; this module joins them when the statement is first built and fails loudly if either file
no longer has the shape it expects. A worker with limited job types needs the limited pass's
transaction anyway, so its round is that transaction with the completion as its first statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from conveyor.store import claim_passes, rows
from conveyor.store.limits import PassHint
from conveyor.store.postgres.plans import (
    Plan,
    Plans,
    completion_row,
    register_single,
)
from conveyor.store.postgres.run_verbs import completing
from conveyor.store.postgres.sql import query
from conveyor.store.protocol import ClaimedJob, ClaimParams, Completion, CompletionResult

CLAIMED_COLUMNS = 15
"""Columns claim_jobs.sql returns (the row of ``rows.claimed_from_row`` plus its claim order)."""

_COMPLETE_TAIL = "\nSELECT done.id FROM done"
_CLAIM_HEAD = "WITH RECURSIVE "
_CLAIM_UPDATE = "\nUPDATE "
_RUNNING = "WHERE j.state = 'running' AND j.queue = ANY(%(queues)s::text[])"


@cache
def complete_and_claim_sql(schema: str) -> str:
    """The one statement of a plain round, built from complete_jobs.sql and claim_jobs.sql."""
    complete = query("complete_jobs", schema)
    claim = query("claim_jobs", schema)
    # Comment lines first in claim_jobs.sql are dropped; the statement starts at WITH.
    claim = claim[claim.index(_CLAIM_HEAD) :]
    if not complete.startswith("WITH ") or complete.count(_COMPLETE_TAIL) != 1:
        raise RuntimeError("complete_jobs.sql no longer has the shape claim_round.py expects")
    if claim.count(_CLAIM_UPDATE) != 1 or claim.count(_RUNNING) != 1:
        raise RuntimeError("claim_jobs.sql no longer has the shape claim_round.py expects")
    complete_ctes = complete[len("WITH ") : complete.index(_COMPLETE_TAIL)]
    claim_ctes, update = claim[len(_CLAIM_HEAD) :].split(_CLAIM_UPDATE)
    # One snapshot serves the whole statement: the attempts completed here still read as
    # running, so the fair order must not count them as their tenants' held slots.
    claim_ctes = claim_ctes.replace(_RUNNING, _RUNNING + " AND j.id NOT IN (SELECT id FROM done)")
    padding = ", ".join(["NULL"] * CLAIMED_COLUMNS)
    return (
        f"WITH RECURSIVE {complete_ctes},\n{claim_ctes},\n"
        f"claimed AS (\nUPDATE {update}\n)\n"
        "SELECT NULL::bigint AS done_id, claimed.* FROM claimed\n"
        "UNION ALL\n"
        f"SELECT done.id, {padding} FROM done, (SELECT COUNT(*) FROM woken) AS notified"
    )


def _answer(
    completions: Sequence[Completion], unique: dict[int, Completion], accepted: set[int]
) -> list[CompletionResult]:
    return [
        CompletionResult(c.job_id, accepted=c.job_id in accepted and unique[c.job_id] is c)
        for c in completions
    ]


def complete_and_claim_plain(
    plans: Plans, completions: Sequence[Completion], params: ClaimParams
) -> Plan[tuple[list[CompletionResult], list[ClaimedJob]]]:
    """Complete, then claim plain jobs: one statement (see :func:`complete_and_claim_sql`)."""
    if params.limit <= 0 or not params.queues or not params.names:
        return (yield from plans.complete_jobs(completions, params.now)), []
    unique: dict[int, Completion] = {}
    for c in completions:
        unique.setdefault(c.job_id, c)  # a second completion of one attempt is refused
    batch = [completion_row(c) for c in unique.values()]
    result = yield plans.at(
        complete_and_claim_sql(plans.schema),
        {
            "batch": json.dumps(batch),
            "channel": plans.channel,
            "queues": list(params.queues),
            "names": list(params.names),
            "limit": params.limit,
            "worker_id": params.worker_id,
            "lease_seconds": params.lease_seconds,
        },
        params.now,
    )
    accepted = {r[0] for r in result.rows if r[0] is not None}
    # The claimed rows come without a completed id; the last column is their claim order.
    found = sorted((r[1:] for r in result.rows if r[0] is None), key=lambda r: r[-1])
    return _answer(completions, unique, accepted), [rows.claimed_from_row(r) for r in found]


def complete_then_claim(
    plans: Plans, completions: Sequence[Completion], params: ClaimParams, hint: PassHint
) -> Plan[tuple[list[CompletionResult], list[ClaimedJob]]]:
    """Complete, then the claim's passes (:func:`conveyor.store.claim_passes.claim`), in one
    transaction. Returns the completion results and every job claimed."""
    completed = yield from completing(plans, completions, params.now)
    claimed = yield from passes_in_plan(plans, claim_passes.claim(params, hint))
    return completed, claimed


def passes_in_plan(plans: Plans, policy: claim_passes.Policy) -> Plan[list[ClaimedJob]]:
    """Run the claim-pass ``policy`` as statements of the plan it is part of."""
    try:
        step = next(policy)
        while True:
            found: list[ClaimedJob] = []
            if isinstance(step, claim_passes.PlainPass):
                found = yield from plans.claim_plain_jobs(step.params)
            elif not step.look_first or (yield from plans.limited_waiting(step.params)):
                found = yield from plans.claim_limited_jobs(step.params)
            step = policy.send(found)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


register_single(frozenset({"complete_and_claim_plain"}))
