"""SQLite's hot paths as plans: inserting, the claim passes, completing and heartbeats.

Each plan takes ``now`` first, as those of :mod:`.plans` do: the store's clock read by the
store once the transaction is open (for a write, once the write lock is held, so a claim that
waited for the lock never starts its lease in the past), or the caller's. The policies that do
not depend on the dialect are not here but in :mod:`conveyor.store.unique` (unique holds),
:mod:`conveyor.store.limits` (the limited pass) and :mod:`conveyor.store.claim_passes` (which
passes a claim runs); this module gives them SQLite's statements. SQLite has one writer at a
time, so a pass reads its candidates and claims them in one ``BEGIN IMMEDIATE`` transaction,
where PostgreSQL needs row and advisory locks (``FOR UPDATE SKIP LOCKED``) for the same
guarantee.

Statements are built from query texts loaded once; a completion batch runs each statement
shape as one ``executemany`` (see :class:`conveyor.store.plan.Statement`), so the plans cost
no more than the inline code they replaced (docs/architecture.md, "The SQLite store").
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from conveyor.models import JobState
from conveyor.store import claim_passes, limits, rows
from conveyor.store.limits import PassHint
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    NewJob,
)
from conveyor.store.sequences import has_sequence, insert_in_sequence, no_lock
from conveyor.store.sqlite.connection import query
from conveyor.store.sqlite.plans import update_for
from conveyor.store.sqlite.sequence_plans import advance_after, sequence_release
from conveyor.store.unheld import release_unheld
from conveyor.store.unique import has_unique, insert_unique

Candidate = tuple[int, int, float, int, str, int]
"""A plain claim candidate: (id, priority, run_at, turn, tenant, jobs its tenant read)."""

# -- producing ------------------------------------------------------------------------------------


def insert_jobs(
    now: float, jobs: Sequence[NewJob], *, take_lock: bool = False
) -> Plan[list[InsertedJob]]:
    """Insert a batch inside the write transaction open on the connection.

    Without unique keys this is one statement. With them, the holders of the batch's keys
    are read first (:func:`conveyor.store.unique.insert_unique`): under the write lock nothing
    can commit between the read and the insert. ``take_lock`` is for a caller's transaction,
    which may not hold the write lock yet.
    """
    if has_sequence(jobs):
        # Held jobs first, then the first of each free key released, under the write lock.
        lock = _take_write_lock if take_lock else no_lock
        return insert_in_sequence(
            jobs,
            lock,
            partial(_insert_unique_or_rows, now, take_lock=False),
            partial(sequence_release, now),
        )
    return _insert_unique_or_rows(now, jobs, take_lock=take_lock)


def _insert_unique_or_rows(
    now: float, jobs: Sequence[NewJob], *, take_lock: bool
) -> Plan[list[InsertedJob]]:
    if not has_unique(jobs):
        return insert_rows(now, jobs)  # the plan itself: no generator around it
    return insert_unique(
        jobs,
        _take_write_lock if take_lock else _locked,
        lambda keys: Statement(query("unique_holders"), {"keys": json.dumps(keys), "now": now}),
        partial(insert_rows, now),
    )


def _locked(keys: list[str]) -> Plan[None]:
    """The store's own writes run in ``BEGIN IMMEDIATE``: the write lock is already held."""
    return
    yield  # a plan of no statements


def _take_write_lock(keys: list[str]) -> Plan[None]:
    # A write that changes nothing takes the write lock (Python's sqlite3 opens the
    # transaction first). If the caller's transaction already read an older snapshot,
    # SQLite refuses the upgrade ("database is locked") rather than let a holder be missed.
    yield Statement(query("take_write_lock"))


def _deadline(job: NewJob, run_at: float) -> float | None:
    """The start deadline: an absolute ``start_by``, else ``expires_in`` after the job is due."""
    if job.start_by is not None:
        return job.start_by
    return None if job.expires_in is None else run_at + job.expires_in


def insert_rows(now: float, jobs: Sequence[NewJob]) -> Plan[list[InsertedJob]]:
    """One INSERT ... SELECT over a JSON array: one statement however many jobs (none for
    an empty batch)."""
    if not jobs:
        return []
    due = [job.run_at if job.run_at is not None else now + job.delay for job in jobs]
    packed = json.dumps(
        [
            {
                "queue": job.queue,
                "name": job.name,
                "args": job.args_json,
                "priority": job.priority,
                "max_attempts": job.max_attempts,
                "run_at": run_at,
                "expires_at": _deadline(job, run_at),
                "timeout": job.timeout,
                "unique_key": job.unique_key,
                "unique_for": job.unique_for,
                "tenant": job.tenant,
                "meta": job.meta_json,
                "limit_key": job.limit_key,
                "limit_max": job.limit_max,
                "rate_key": job.rate_key,
                "rate_max": job.rate_max,
                "rate_per": job.rate_per,
                "sequence_key": job.sequence_key,
                "sequence_blocks": job.sequence_blocks if job.sequence_key else None,
            }
            for job, run_at in zip(jobs, due, strict=True)
        ]
    )
    params = {"jobs": packed, "now": now, **rows.INSERTED_STATES}
    found = yield Statement(query("insert_jobs"), params)
    # Ids are assigned in insertion order, which follows the input order.
    found.rows.sort(key=lambda r: r[0])
    return [InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in found.rows]


# -- completing and leases ------------------------------------------------------------------------


def complete_jobs(now: float, completions: Sequence[Completion]) -> Plan[list[CompletionResult]]:
    """Apply outcomes for attempts still holding their job; refuse the rest.

    Three statements at most whatever the batch: the running rows, one ``executemany`` per
    statement shape (a retry moves run_at, a release un-charges the attempt...), the attempts.
    """
    if not completions:
        return []
    ids = json.dumps([c.job_id for c in completions])
    found = yield Statement(query("select_running"), {"ids": ids})
    held = {r[0]: r for r in found.rows}
    results = []
    by_statement: dict[str, list[dict[str, Any]]] = {}
    attempts: list[dict[str, Any]] = []
    for c in completions:
        row = held.pop(c.job_id, None)  # a second completion for one attempt is refused
        if row is None or row[1] != c.token:
            results.append(CompletionResult(c.job_id, accepted=False))
            continue
        statement, params = update_for(c, now)
        by_statement.setdefault(statement, []).append(params)
        error = c.error
        attempts.append(
            {
                "job_id": c.job_id,
                "attempt": row[2],
                "token": c.token,
                "worker_id": row[3],
                "started_at": row[4],
                "now": now,
                "outcome": str(c.outcome),
                "error_type": error.type if error else None,
                "error_message": error.message if error else None,
                "traceback": error.traceback if error else None,
            }
        )
        results.append(CompletionResult(c.job_id, accepted=True))
    for statement, batch in by_statement.items():
        yield Statement(query(statement), many=batch)
    if attempts:
        yield Statement(query("insert_attempt"), many=attempts)
    # A sequenced job that ended frees its key: the next one is released in this transaction.
    ended = [
        c.job_id for c, r in zip(completions, results, strict=True)
        if r.accepted and c.in_sequence and c.state.is_final
    ]
    if ended:
        yield from advance_after(now, ended)
    return results


Completing = Callable[[float, Sequence[Completion]], Plan[list[CompletionResult]]]
"""A plan that applies completions at ``now``: :func:`complete_jobs`, or the store's wrapper
that also advances pipeline runs (:func:`conveyor.store.sqlite.run_verbs.completing`)."""


def complete_and_claim(
    now: float,
    completions: Sequence[Completion],
    params: ClaimParams,
    hint: PassHint,
    complete: Completing = complete_jobs,
) -> Plan[tuple[list[CompletionResult], list[ClaimedJob]]]:
    """Complete (with ``complete``), then the claim's passes
    (:func:`conveyor.store.claim_passes.claim`), in one transaction at one ``now``."""
    completed = yield from complete(now, completions)
    claimed = yield from claim_passes.in_plan(
        claim_passes.claim(params, hint),
        partial(limited_waiting, now),
        partial(claim_limited_jobs, now),
        partial(claim_plain_jobs, now),
    )
    return completed, claimed


def heartbeat(now: float, params: HeartbeatParams) -> Plan[frozenset[int]]:
    """Mark the worker seen and renew the leases held under the given tokens."""
    yield Statement(query("touch_worker"), {"worker_id": params.worker_id, "now": now})
    tokens = dict(params.held)
    if not tokens:
        return frozenset()
    renewed = yield Statement(
        query("heartbeat"),
        {
            "now": now,
            "lease_seconds": params.lease_seconds,
            "worker_id": params.worker_id,
            "held": json.dumps(list(tokens.items())),
        },
    )
    return frozenset(job_id for job_id, token in renewed.rows if tokens.get(job_id) == token)


def release_unheld_jobs(
    now: float, worker_id: str, held: Sequence[tuple[int, int]]
) -> Plan[list[int]]:
    """Release uncharged the running jobs of ``worker_id`` it does not hold (the shared plan,
    :func:`conveyor.store.unheld.release_unheld`, with this store's statements)."""
    running = Statement(query("worker_running"), {"worker_id": worker_id})
    return release_unheld(worker_id, held, running, partial(complete_jobs, now))


# -- the plain claim ------------------------------------------------------------------------------


def wants_jobs(params: ClaimParams) -> bool:
    """Whether a claim for ``params`` can take anything (else no pass takes the write lock)."""
    return params.limit > 0 and bool(params.queues) and bool(params.names)


def claim_plain_jobs(now: float, params: ClaimParams) -> Plan[list[ClaimedJob]]:
    """Claim the best ``limit`` ready plain jobs across the given queues.

    Each queue's candidates are read in fair order (claim_candidates.sql: each tenant's head
    through the ready index, no sort of a backlog, first only as deep as a tenant can
    contribute when all have work, read again in full when that could be inexact), merged
    across queues by priority, turn, run_at and id, and the winners updated in the same
    immediate transaction. Paused queues are read in that transaction too, so a claim never
    starts a job of a queue whose pause committed before it.
    """
    if not wants_jobs(params):
        return []
    names = json.dumps(list(params.names))
    stopped = yield Statement(query("paused_queues"))
    paused = {r[0] for r in stopped.rows}
    open_queues = [q for q in dict.fromkeys(params.queues) if q not in paused]
    alone = len(open_queues) == 1
    found: dict[str, list[Candidate]] = {}
    for queue in open_queues:
        found[queue] = yield from _candidates(now, queue, names, params.limit, alone=alone)
    while True:
        winners = _merge(found, params.limit)
        # A tenant that read fewer than ``limit`` jobs and has all of them chosen may have
        # more that should have been: read its queue's full heads and merge again (once per
        # queue at most). A read's last column is the same on all its rows, and a full read
        # (or claim_heads.sql's) reads ``limit``, so only short reads need the count.
        short_reads = {q for q, rows_ in found.items() if rows_ and rows_[0][5] < params.limit}
        if not short_reads:
            break
        taken = Counter((queue, c[4]) for c, queue in winners)
        short = {
            queue for c, queue in winners if queue in short_reads and taken[(queue, c[4])] >= c[5]
        }
        if not short:
            break
        for queue in short:
            found[queue] = yield from _candidates(now, queue, names, params.limit, full=True)
    chosen = [c[0] for c, _ in winners]
    if not chosen:
        return []
    claimed = yield _claim(now, params, chosen)
    # RETURNING order is unspecified; restore the claim order.
    place = {job_id: i for i, job_id in enumerate(chosen)}
    claimed.rows.sort(key=lambda r: place[r[0]])
    return [rows.claimed_from_row(r) for r in claimed.rows]


def _merge(found: dict[str, list[Candidate]], limit: int) -> list[tuple[Candidate, str]]:
    """The best ``limit`` candidates across queues in the fair order of docs/queues.md
    (priority, turn, run_at, id), each with its queue. Each queue's rows come in that order,
    so a claim of one queue needs no sort."""
    if len(found) == 1:
        [(queue, only)] = found.items()
        return [(c, queue) for c in only[:limit]]
    return sorted(
        ((c, queue) for queue, rows_ in found.items() for c in rows_),
        key=lambda w: (-w[0][1], w[0][3], w[0][2], w[0][0]),
    )[:limit]


def _candidates(
    now: float, queue: str, names: str, limit: int, *, alone: bool = False, full: bool = False
) -> Plan[list[Candidate]]:
    """``queue``'s best ``limit`` ready plain jobs in fair order, with tenant and reads.

    The short read (``full`` false) reads fewer jobs per tenant; see :func:`claim_plain_jobs`
    for when its answer stands. A queue claimed alone whose ready jobs all belong to one
    tenant group (the common case: no tenants at all) needs no turns: its fair order is
    priority, run_at, id, read straight from the ready index at a fifth of the cost of the
    fair read (two index probes decide). With other queues in the claim, turns are needed to
    merge across queues.
    """
    name = "claim_candidates"
    if alone and not full:
        groups = yield Statement(query("claim_tenant_groups"), {"queue": queue})
        lowest, highest = groups.rows[0]
        if lowest == highest:  # one tenant group, or no ready job at all
            name = "claim_heads"
    found = yield Statement(
        query(name), {"now": now, "queue": queue, "names": names, "limit": limit, "full": full}
    )
    return found.rows


def _claim(now: float, params: ClaimParams, chosen: list[int]) -> Statement:
    """Claim the chosen jobs by id: the write lock held since they were read says they are
    still ready."""
    return Statement(
        query("claim_jobs"),
        {
            "worker_id": params.worker_id,
            "now": now,
            "lease_seconds": params.lease_seconds,
            "ids": json.dumps(chosen),
        },
    )


# -- the limited pass -----------------------------------------------------------------------------


def claim_limited_jobs(now: float, params: ClaimParams) -> Plan[list[ClaimedJob]]:
    """The limited pass (:func:`conveyor.store.limits.claim_limited`) under the write lock,
    which serialises claimers: the counts read in it stay true until the claim commits."""
    return limits.claim_limited(
        params, partial(_limited_candidates, now), partial(_limited_spent, now), _limited_claim
    )


def limited_waiting(now: float, params: ClaimParams) -> Plan[bool]:
    """The cheap look: whether a limited pass would find a candidate. Run in a read of its
    own, it spares a worker with limited types but no limited job waiting the write lock."""
    if not wants_jobs(params):
        return False
    found = yield from _limited_candidates(now, params, limits.window(params.limit))
    return bool(found)


def _limited_candidates(
    now: float, params: ClaimParams, window: int
) -> Plan[list[limits.Candidate]]:
    """The first ``window`` ready limited jobs of the queues, in claim order.

    Each queue is read in index order and cut at the window; the merge takes the best.
    """
    names = json.dumps(list(params.names))
    found: list[tuple[Any, ...]] = []
    for queue in dict.fromkeys(params.queues):
        read = yield Statement(
            query("limited_candidates"),
            {"queue": queue, "names": names, "now": now, "window": window},
        )
        found += read.rows
    # Rows end with (priority, run_at); with the id that is the claim order across queues.
    found.sort(key=lambda r: (-r[6], r[7], r[0]))
    return [limits.Candidate.from_row(r) for r in found[:window]]


def _limited_spent(
    now: float, params: ClaimParams, read: list[limits.Candidate]
) -> Plan[limits.Spending]:
    spent = yield Statement(
        query("limited_spent"),
        {
            "limit_keys": json.dumps(limits.limit_keys(read)),
            "rate_keys": json.dumps(limits.rate_keys(read)),
            "now": now,
        },
    )
    running, starts = limits.spent_from_rows(spent.rows)
    return limits.Spending(now, running, starts)  # the write lock: every candidate is ready


def _limited_claim(
    params: ClaimParams, decision: limits.Decision, now: float
) -> Plan[list[tuple[Any, ...]]]:
    claimed = yield _claim(now, params, decision.chosen)
    recorded = [decision.starts[r[0]] for r in claimed.rows if r[0] in decision.starts]
    if recorded:
        yield Statement(
            query("limited_expire_starts"),
            {"keys": json.dumps(sorted({s.key for s in recorded})), "now": now},
        )
        yield Statement(
            query("limited_record_start"),
            {
                "now": now,
                "starts": json.dumps([[s.key, s.expires_at, s.rate_max] for s in recorded]),
            },
        )
    return claimed.rows
