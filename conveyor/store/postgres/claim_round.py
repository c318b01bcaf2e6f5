"""``complete_and_claim`` on PostgreSQL: a worker's finished attempts and its next claim at once.

The plain case is one statement (one round trip, autocommit): complete_jobs.sql's CTEs, then
claim_jobs.sql's, the claim's UPDATE as a CTE too. The two files stay the only text of each
half; they mark the parts this module reuses with ``-- @part``/``-- @hook`` comment lines, and
it composes them when the statement is first built (a missing marker fails then, by name).
A worker with limited job types needs the limited pass's transaction anyway, so its round is
that transaction with the completion as its first statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from conveyor.store import claim_passes, rows
from conveyor.store.limits import PassHint
from conveyor.store.postgres.plans import (
    Plan,
    Plans,
    completion_row,
    register_single,
)
from conveyor.store.postgres.run_verbs import completing
from conveyor.store.postgres.sql import fill_hook, part, query
from conveyor.store.protocol import ClaimedJob, ClaimParams, Completion, CompletionResult

CLAIMED_COLUMNS = 16
"""Columns claim_jobs.sql returns (the row of ``rows.claimed_from_row`` plus its claim order)."""


@cache
def complete_and_claim_sql(schema: str, claim: str = "claim_jobs") -> str:
    """The one statement of a plain round, composed of complete_jobs.sql and ``claim``'s SQL
    (claim_jobs.sql, or claim_jobs_tenants.sql for claims over several tenant groups).

    Each file marks its reusable parts (``-- @part ctes``, ``answer``, ``update``) and the
    claim's ``-- @hook running`` (see :func:`conveyor.store.postgres.sql.parts`): the
    completion's CTEs come first, then the claim's, then the claim's UPDATE as a CTE, and the
    answer is both halves' rows. A missing marker raises when the statement is first built.
    """
    complete_ctes = part("complete_jobs", schema, "ctes").removeprefix("WITH ")
    claim_ctes = part(claim, schema, "ctes").removeprefix("WITH RECURSIVE ")
    part("complete_jobs", schema, "answer")  # the file's own answer, replaced below
    update = part(claim, schema, "update").removeprefix("UPDATE ")
    # One snapshot serves the whole statement: the attempts completed here still read as
    # running, so the fair order must not count them as their tenants' held slots.
    claim_ctes = fill_hook(claim_ctes, "running", "      AND j.id NOT IN (SELECT id FROM done)")
    claim_ctes = fill_hook(claim_ctes, "look", "")  # this round claims whatever is waiting
    padding = ", ".join(["NULL"] * CLAIMED_COLUMNS)
    return (
        f"WITH RECURSIVE {complete_ctes.rstrip().removesuffix(',')},\n"
        f"{claim_ctes.rstrip()},\n"
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
    unique, args = _round_args(plans, completions, params)
    result = yield plans.at(
        complete_and_claim_sql(plans.schema, plans.plain_claim_query()),
        args,
        params.now,
        generic=True,
    )
    accepted = {r[0] for r in result.rows if r[0] is not None}
    # The claimed rows come without a completed id.
    claimed = _claimed(plans, [r[1:] for r in result.rows if r[0] is None])
    return _answer(completions, unique, accepted), claimed


def complete_then_claim(
    plans: Plans, completions: Sequence[Completion], params: ClaimParams, hint: PassHint
) -> Plan[tuple[list[CompletionResult], list[ClaimedJob]]]:
    """Complete, then the claim's passes (:func:`conveyor.store.claim_passes.claim`), in one
    transaction. Returns the completion results and every job claimed."""
    # A stage job's completion advances its run here too, before the claim.
    completed = yield from completing(plans, completions, params.now)
    claimed = yield from claim_passes.in_plan(
        claim_passes.claim(params, hint),
        plans.limited_waiting,
        plans.claim_limited_jobs,
        plans.claim_plain_jobs,
    )
    return completed, claimed


@cache
def look_and_claim_sql(schema: str, claim: str = "claim_jobs") -> str:
    """The one statement of a claim that would look for limited jobs before its plain claim:
    limited_waiting.sql as a CTE, then ``claim``'s SQL claiming only when the look found none.

    The first row says whether the look found a limited job (then nothing was claimed and the
    limited pass follows); the others are the claimed rows. Composed of the two files' text
    as :func:`complete_and_claim_sql` is: the claim's ``-- @hook look`` holds the guard, an
    initplan the planner turns into a one-time filter, so a look that finds a limited job
    costs the claim nothing beyond it.
    """
    look = query("limited_waiting", schema).strip()
    claim_ctes = part(claim, schema, "ctes").removeprefix("WITH RECURSIVE ")
    update = part(claim, schema, "update").removeprefix("UPDATE ")
    claim_ctes = fill_hook(claim_ctes, "look", "      AND NOT (SELECT waiting FROM look)")
    claim_ctes = fill_hook(claim_ctes, "running", "")  # nothing is completed here
    padding = ", ".join(["NULL"] * CLAIMED_COLUMNS)
    return (
        f"WITH RECURSIVE look(waiting) AS (\n{look}\n),\n"
        f"{claim_ctes.rstrip()},\n"
        f"claimed AS (\nUPDATE {update}\n)\n"
        "SELECT waiting, " + padding + " FROM look\n"
        "UNION ALL\n"
        "SELECT NULL::boolean, claimed.* FROM claimed"
    )


def look_and_claim_plain(
    plans: Plans, params: ClaimParams
) -> Plan[tuple[bool, list[ClaimedJob]]]:
    """Look for limited jobs and, when there is none, claim plain jobs: one statement (see
    :func:`look_and_claim_sql`). Returns whether the look found one, and the jobs claimed
    (none when it did).

    For a worker with limited types whose last limited pass took nothing: its claim would
    be the look (one round trip), then, finding nothing, the plain claim (another). After a
    wake-up that second round trip came before the claim, so before the job started.
    """
    if params.limit <= 0 or not params.queues or not params.names:
        return False, []
    result = yield plans.at(
        look_and_claim_sql(plans.schema, plans.plain_claim_query()),
        {**_claim_args(params), "completing": []},
        params.now,
        generic=True,
    )
    waiting = any(r[0] for r in result.rows if r[0] is not None)
    # The claimed rows come after the look's.
    return waiting, _claimed(plans, [r[1:] for r in result.rows if r[0] is None])


@cache
def complete_look_and_claim_sql(schema: str, claim: str = "claim_jobs") -> str:
    """The one statement of a round that would look for limited jobs before its plain claim:
    :func:`complete_and_claim_sql`'s completions, then :func:`look_and_claim_sql`'s look and
    guarded claim. The look leaves out the attempts completed here (``%(completing)s``), which
    its snapshot still sees running.

    Rows: the completed ids (first column), the look's answer (second), the claimed rows.
    """
    complete_ctes = part("complete_jobs", schema, "ctes").removeprefix("WITH ")
    look = query("limited_waiting", schema).strip()
    claim_ctes = part(claim, schema, "ctes").removeprefix("WITH RECURSIVE ")
    update = part(claim, schema, "update").removeprefix("UPDATE ")
    claim_ctes = fill_hook(claim_ctes, "running", "      AND j.id NOT IN (SELECT id FROM done)")
    claim_ctes = fill_hook(claim_ctes, "look", "      AND NOT (SELECT waiting FROM look)")
    padding = ", ".join(["NULL"] * CLAIMED_COLUMNS)
    return (
        f"WITH RECURSIVE {complete_ctes.rstrip().removesuffix(',')},\n"
        f"look(waiting) AS (\n{look}\n),\n"
        f"{claim_ctes.rstrip()},\n"
        f"claimed AS (\nUPDATE {update}\n)\n"
        "SELECT NULL::bigint AS done_id, NULL::boolean AS waiting, claimed.* FROM claimed\n"
        "UNION ALL\n"
        f"SELECT NULL, waiting, {padding} FROM look\n"
        "UNION ALL\n"
        f"SELECT done.id, NULL, {padding} FROM done, (SELECT COUNT(*) FROM woken) AS notified"
    )


def complete_look_and_claim_plain(
    plans: Plans, completions: Sequence[Completion], params: ClaimParams
) -> Plan[tuple[bool, list[CompletionResult], list[ClaimedJob]]]:
    """Complete, look for limited jobs and, when there is none, claim plain jobs: one
    statement (see :func:`complete_look_and_claim_sql`). Returns whether the look found one
    (then nothing was claimed, and the limited pass follows), the completion results and the
    jobs claimed.

    For a worker with limited types whose last limited pass took nothing: its round was a
    look (one round trip), then the completions and the plain claim (another), and an urgent
    job enqueued meanwhile waited for both.
    """
    if params.limit <= 0 or not params.queues or not params.names:
        return False, (yield from plans.complete_jobs(completions, params.now)), []
    unique, args = _round_args(plans, completions, params)
    result = yield plans.at(
        complete_look_and_claim_sql(plans.schema, plans.plain_claim_query()),
        {**args, "completing": list(unique)},
        params.now,
        generic=True,
    )
    accepted = {r[0] for r in result.rows if r[0] is not None}
    waiting = any(r[1] for r in result.rows if r[0] is None and r[1] is not None)
    # The claimed rows have neither.
    claimed = _claimed(plans, [r[2:] for r in result.rows if r[0] is None and r[1] is None])
    return waiting, _answer(completions, unique, accepted), claimed


def _round_args(
    plans: Plans, completions: Sequence[Completion], params: ClaimParams
) -> tuple[dict[int, Completion], dict[str, Any]]:
    """A round's completions, one per job (a second completion of one attempt is refused),
    and the parameters its statement binds for them and the claim."""
    unique: dict[int, Completion] = {}
    for c in completions:
        unique.setdefault(c.job_id, c)
    batch = [completion_row(c) for c in unique.values()]
    return unique, {"batch": json.dumps(batch), "channel": plans.channel, **_claim_args(params)}


def _claim_args(params: ClaimParams) -> dict[str, Any]:
    """The parameters the plain claim's SQL binds."""
    return {
        "queues": list(params.queues),
        "names": list(params.names),
        "limit": params.limit,
        "worker_id": params.worker_id,
        "lease_seconds": params.lease_seconds,
    }


def _claimed(plans: Plans, found: list[tuple[Any, ...]]) -> list[ClaimedJob]:
    """The claimed rows of a round's answer as jobs, in claim order (``RETURNING`` has none:
    each row's last column is its place)."""
    claimed = [rows.claimed_from_row(r) for r in sorted(found, key=lambda r: r[-1])]
    plans.saw_claimed(claimed)
    return claimed


register_single(
    frozenset({"complete_and_claim_plain", "look_and_claim_plain", "complete_look_and_claim_plain"})
)
