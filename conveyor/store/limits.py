"""The limited claim pass, decided once for every store.

Jobs of a limited type (``limit=Concurrency(...)``, ``rate=Rate(...)``) are claimed by a pass of
their own before the plain claim. :func:`claim_limited` is that pass as one plan for every
store: read candidate jobs in claim order with their keys locked (PostgreSQL: advisory locks,
in the statement that reads the candidates; SQLite: its single writer lock), count what each
key has spent in a later statement, ask :func:`choose` which candidates may start now, and
claim them with their rate starts. A store gives only its statements for the three steps, so
both stores enforce exactly the same limits.

Rules: a key's concurrency budget is its smallest ``limit_max`` seen (rows of one key may
disagree after a code change); a rate key's budget is its smallest ``rate_max`` and its longest
``rate_per``. A candidate is taken, in order, when every key it counts against has room; taking
it spends that room at once, so later candidates of the same key see it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from conveyor.store import rows
from conveyor.store.plan import Plan
from conveyor.store.protocol import ClaimedJob, ClaimParams, LimitStatus

WINDOW_FACTOR = 4
MIN_WINDOW = 32
"""Candidates read per limited pass: ``max(slots * WINDOW_FACTOR, MIN_WINDOW)``. Keys already
full or spent are filtered out before this window is cut, so it only needs to cover keys that
may still have room."""

RECHECK_SECONDS = 0.5
"""``next_due_in`` counts a due limited job as due this much later: it may be held back by its
limit, and an idle worker should recheck it soon rather than spin on claims that take nothing.
A limited job finishing wakes workers sooner (PostgreSQL NOTIFY, SQLite's data_version)."""

LOCK_NAMESPACE = "conveyor-limits:"
"""Prefix of advisory-lock names, so limit keys never share a lock with unique keys."""


def window(slots: int) -> int:
    """How many candidates a limited pass reads for ``slots`` free slots."""
    return max(slots * WINDOW_FACTOR, MIN_WINDOW)


class Candidate(NamedTuple):
    """A ready limited job, in claim order, with the limits its row carries.

    A named tuple: a pass reads a window of four candidates per free slot on every round,
    and a tuple is made from a row in one step (a frozen dataclass's fields are set one by
    one)."""

    id: int
    limit_key: str | None
    limit_max: int | None
    rate_key: str | None
    rate_max: int | None
    rate_per: float | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Candidate:
        """From ``(id, limit_key, limit_max, rate_key, rate_max, rate_per, ...)``, whose
        columns have these types in both stores' schemas (INTEGER, TEXT, DOUBLE PRECISION
        or REAL); any further columns are left out."""
        return cls._make(row[:6])


@dataclass(frozen=True, slots=True)
class Spent:
    """What a key has used: running jobs (concurrency) or starts in its window (rate).

    ``max`` is the smallest budget recorded on those rows, or None when there are none.
    """

    count: int = 0
    max: int | None = None


@dataclass(frozen=True, slots=True)
class RateStart:
    """One start to record: it counts against ``key`` until ``expires_at``."""

    key: str
    expires_at: float
    rate_max: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The candidates to claim, in order, and the rate starts claiming them spends."""

    chosen: list[int] = field(default_factory=list)
    starts: dict[int, RateStart] = field(default_factory=dict)
    """Job id -> the start to record if that job is claimed."""


@dataclass(frozen=True, slots=True)
class Spending:
    """What a pass's second read found: the keys' spending at ``now``, under their locks."""

    now: float
    running: dict[str, Spent]
    starts: dict[str, Spent]
    ready: frozenset[int] | None = None
    """The candidates still ready; None when the lock held since they were read says all are
    (SQLite's write lock; PostgreSQL reads them without row locks, so it must say)."""


def claim_limited(
    params: ClaimParams,
    candidates: Callable[[ClaimParams, int], Plan[list[Candidate]]],
    spent: Callable[[ClaimParams, list[Candidate]], Plan[Spending]],
    claim: Callable[[ClaimParams, Decision, float], Plan[list[tuple[Any, ...]]]],
    decide_concurrency: Callable[[ClaimParams, list[Candidate]], Plan[list[tuple[Any, ...]]]]
    | None = None,
) -> Plan[list[ClaimedJob]]:
    """The limited pass for ``params``, in one transaction; the claimed jobs in claim order.

    ``candidates(params, window)`` reads up to ``window`` ready limited jobs in claim order and
    locks their keys; ``spent(params, read)`` counts, in a later statement, what those keys
    have spent; ``claim(params, decision, now)`` claims the chosen jobs, records their rate
    starts and returns their rows (those of :func:`conveyor.store.rows.claimed_from_row`).
    Every job of ``params.names`` whose row carries a limit is a candidate: the row, not the
    worker's code, says whether a job is limited.

    ``decide_concurrency(params, read)``, when a store gives it, replaces ``spent``, ``choose``
    and ``claim`` for a window without rate keys: one statement that counts the keys' running
    jobs, decides as :func:`choose` would (a key's candidate starts while its place among the
    key's ready candidates is within the key's room) and claims (PostgreSQL, decision 111:
    one round trip fewer on every limited round).
    """
    if params.limit <= 0 or not params.queues or not params.names:
        return []
    read = yield from candidates(params, window(params.limit))
    if not read:
        return []
    if decide_concurrency is not None and not rate_keys(read):
        found = yield from decide_concurrency(params, read)
    else:
        found = yield from _decide(params, read, spent, claim)
    # Claim order across queues: priority, run_at, id.
    found.sort(key=lambda r: (-r[7], r[13], r[0]))
    return [rows.claimed_from_row(r) for r in found]


def _decide(
    params: ClaimParams,
    read: list[Candidate],
    spent: Callable[[ClaimParams, list[Candidate]], Plan[Spending]],
    claim: Callable[[ClaimParams, Decision, float], Plan[list[tuple[Any, ...]]]],
) -> Plan[list[tuple[Any, ...]]]:
    spending = yield from spent(params, read)
    if spending.ready is not None:
        # Candidates a concurrent pass claimed while this one waited for the locks would only
        # take slots of this decision that the claim then skips.
        read = [c for c in read if c.id in spending.ready]
    decision = choose(read, spending.running, spending.starts, spending.now, params.limit)
    if not decision.chosen:
        return []
    return (yield from claim(params, decision, spending.now))


STRAY_LOOK_INTERVAL = 1.0
"""How often, at most, a worker whose code declares no limited type looks for limited rows."""


class PassHint:
    """When a store's claims should run the limited pass, learned from the last ones.

    A worker that declares limited types runs the pass on every claim, straight into its
    transaction while the last pass took jobs, else after a cheap look. Any other worker may
    still meet limited rows (a deploy removed a limit; an older worker never had it): it
    looks for them after its plain claim, while the last look found some, else at most every
    :data:`STRAY_LOOK_INTERVAL` seconds, so its claims do not pay a look each.
    """

    def __init__(self) -> None:
        self.fruitful = True
        self.next_stray_look = 0.0

    def look_first(self) -> bool:
        """For a worker with limited types: look before opening the pass's transaction."""
        return not self.fruitful

    def stray_look_due(self) -> bool:
        """For a worker without limited types: whether to look for limited rows now."""
        return self.fruitful or time.monotonic() >= self.next_stray_look

    def after_look(self, found: bool) -> None:
        """Record what a look run on its own (before the pass's transaction) found: with a
        candidate waiting, the pass that follows goes straight into its transaction."""
        self.after_pass(1 if found else 0)

    def after_pass(self, took: int) -> None:
        """Record what a pass (or look) took."""
        self.fruitful = took > 0
        if not self.fruitful:
            self.next_stray_look = time.monotonic() + STRAY_LOOK_INTERVAL


def limit_keys(candidates: Iterable[Candidate]) -> list[str]:
    """The distinct concurrency keys of ``candidates``, sorted."""
    return sorted({c.limit_key for c in candidates if c.limit_key is not None})


def rate_keys(candidates: Iterable[Candidate]) -> list[str]:
    """The distinct rate keys of ``candidates``, sorted."""
    return sorted({c.rate_key for c in candidates if c.rate_key is not None})


def spent_from_rows(
    found: Iterable[Sequence[Any]],
) -> tuple[dict[str, Spent], dict[str, Spent]]:
    """Rows of ``(kind, key, count, max)`` (kind ``limit`` or ``rate``) as two mappings."""
    running: dict[str, Spent] = {}
    starts: dict[str, Spent] = {}
    for kind, key, count, smallest in found:
        target = running if kind == "limit" else starts
        target[key] = Spent(int(count), None if smallest is None else int(smallest))
    return running, starts


def _smallest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def choose(
    candidates: Sequence[Candidate],
    running: Mapping[str, Spent],
    starts: Mapping[str, Spent],
    now: float,
    slots: int,
) -> Decision:
    """Which candidates may start at ``now``, taking at most ``slots``, in the given order.

    ``running`` counts running jobs per concurrency key; ``starts`` counts, per rate key, the
    starts whose window has not ended at ``now``. Pure: the caller holds the keys' locks.
    """
    limit_max: dict[str, int | None] = {k: v.max for k, v in running.items()}
    rate_max: dict[str, int | None] = {k: v.max for k, v in starts.items()}
    rate_per: dict[str, float] = {}
    for c in candidates:
        if c.limit_key is not None:
            limit_max[c.limit_key] = _smallest(limit_max.get(c.limit_key), c.limit_max)
        if c.rate_key is not None:
            rate_max[c.rate_key] = _smallest(rate_max.get(c.rate_key), c.rate_max)
            rate_per[c.rate_key] = max(rate_per.get(c.rate_key, 0.0), c.rate_per or 0.0)
    used_running = {k: v.count for k, v in running.items()}
    used_starts = {k: v.count for k, v in starts.items()}
    decision = Decision()
    for c in candidates:
        if len(decision.chosen) >= slots:
            break
        if c.limit_key is not None:
            ceiling = limit_max.get(c.limit_key)
            if ceiling is not None and used_running.get(c.limit_key, 0) >= ceiling:
                continue
        if c.rate_key is not None:
            ceiling = rate_max.get(c.rate_key)
            if ceiling is not None and used_starts.get(c.rate_key, 0) >= ceiling:
                continue
        decision.chosen.append(c.id)
        if c.limit_key is not None:
            used_running[c.limit_key] = used_running.get(c.limit_key, 0) + 1
        if c.rate_key is not None:
            used_starts[c.rate_key] = used_starts.get(c.rate_key, 0) + 1
            decision.starts[c.id] = RateStart(
                c.rate_key, now + rate_per[c.rate_key], rate_max[c.rate_key] or 1
            )
    return decision


def status_from_rows(
    job: Sequence[Any], running: Sequence[Sequence[Any]], starts: Sequence[Sequence[Any]]
) -> LimitStatus:
    """A :class:`LimitStatus` from the job's ``(limit_key, limit_max, rate_key, rate_max,
    rate_per)``, its key's running ``(id, limit_max)`` and live starts ``(expires_at, max)``."""
    limit_key, limit_max, rate_key, rate_max, rate_per = job
    if limit_key is not None:
        limit_max = _smallest(limit_max, *(r[1] for r in running))
    until = None
    if rate_key is not None:
        rate_max = _smallest(rate_max, *(s[1] for s in starts))
        until = spent_until([float(s[0]) for s in starts], rate_max or 1)
    return LimitStatus(
        limit_key=limit_key,
        limit_max=limit_max,
        running=tuple(int(r[0]) for r in running),
        rate_key=rate_key,
        rate_max=rate_max,
        rate_per=None if rate_per is None else float(rate_per),
        spent_until=until,
    )


def spent_until(expiries: Sequence[float], budget: int) -> float | None:
    """When a rate key with live starts expiring at ``expiries`` has room again (None: now)."""
    if len(expiries) < budget:
        return None
    ordered = sorted(expiries)
    # Room comes back when all but budget - 1 of the live starts have left the window.
    return ordered[len(ordered) - budget]
