"""SQLite's claim passes: the limited pass and the plain (fair) claim, under the single writer.

Which passes a claim runs is decided once, in :mod:`conveyor.store.claim_passes`; this module
is how SQLite runs each one. SQLite has one writer at a time, so a pass reads its candidates
and claims them in one ``BEGIN IMMEDIATE`` transaction, where PostgreSQL needs row and
advisory locks (``FOR UPDATE SKIP LOCKED``) for the same guarantee.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.store import limits, rows
from conveyor.store.protocol import ClaimedJob, ClaimParams
from conveyor.store.sqlite.connection import query

if TYPE_CHECKING:
    from conveyor.store.sqlite.connection import Database


class SQLiteClaimVerbs:
    """The claim passes of :class:`~conveyor.store.sqlite.SQLiteStore` (a mixin)."""

    if TYPE_CHECKING:
        db: Database

        def now(self) -> float: ...

    def _now(self, params: ClaimParams) -> float:
        # The caller's clock when given (see conveyor.store.protocol), else the store's.
        return self.now() if params.now is None else params.now

    def claim_limited_jobs(
        self, params: ClaimParams, *, look_first: bool = True
    ) -> list[ClaimedJob]:
        """Claim limited jobs within their keys' budgets (see :mod:`conveyor.store.limits`).

        With ``look_first``, a read without the write lock looks for candidates first, so a
        worker with limited types but no limited job waiting never queues for the writer.
        Then one immediate transaction reads the candidates (again) and claims: the write lock
        serialises claimers, so the counts read there stay true until the claim commits.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        names = json.dumps(list(params.names))
        window = limits.window(params.limit)
        if look_first:
            with self.db.read() as conn:
                if not _limited_candidates(conn, params.queues, names, self._now(params), window):
                    return []
        with self.db.write() as conn:
            now = self._now(params)
            candidates = _limited_candidates(conn, params.queues, names, now, window)
            if not candidates:
                return []
            spent = conn.execute(
                query("limited_spent"),
                {
                    "limit_keys": json.dumps(limits.limit_keys(candidates)),
                    "rate_keys": json.dumps(limits.rate_keys(candidates)),
                    "now": now,
                },
            ).fetchall()
            running, starts = limits.spent_from_rows(spent)
            decision = limits.choose(candidates, running, starts, now, params.limit)
            if not decision.chosen:
                return []
            claimed = conn.execute(
                query("claim_jobs"),
                {
                    "worker_id": params.worker_id,
                    "now": now,
                    "lease_seconds": params.lease_seconds,
                    "ids": json.dumps(decision.chosen),
                },
            ).fetchall()
            recorded = [decision.starts[r[0]] for r in claimed if r[0] in decision.starts]
            if recorded:
                conn.execute(
                    query("limited_expire_starts"),
                    {"keys": json.dumps(sorted({s.key for s in recorded})), "now": now},
                )
                conn.execute(
                    query("limited_record_start"),
                    {
                        "now": now,
                        "starts": json.dumps([[s.key, s.expires_at, s.rate_max] for s in recorded]),
                    },
                )
        claimed.sort(key=lambda r: (-r[7], r[13], r[0]))
        return [rows.claimed_from_row(r) for r in claimed]

    def claim_plain_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """Claim the best ``limit`` ready jobs across the given queues.

        Each queue's candidates are read in fair order (claim_candidates.sql: each tenant's
        head through the ready index, no sort of a backlog, first only as deep as a tenant
        can contribute when all have work, read again in full when that could be inexact),
        merged across queues by priority, turn, run_at and id, and the winners updated in the
        same immediate transaction. Paused
        queues are read in that transaction too, so a claim never starts a job of a queue whose
        pause committed before it.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        names = json.dumps(list(params.names))
        with self.db.write() as conn:
            # "Now" is read once the write lock is held: a claim that waited for it must not
            # start its lease in the past (the rescuer would take the job at once).
            now = self._now(params)
            paused = {r[0] for r in conn.execute(query("paused_queues")).fetchall()}
            open_queues = [q for q in dict.fromkeys(params.queues) if q not in paused]
            alone = len(open_queues) == 1
            found: dict[str, list[tuple[int, int, float, int, str, int]]] = {}
            for queue in open_queues:
                found[queue] = self._candidates(conn, queue, alone, now, names, params.limit)
            while True:
                # (id, priority, run_at, turn, tenant, read): the fair order of docs/queues.md
                # across queues. A tenant that read fewer than ``limit`` jobs and has all of
                # them chosen may have more that should have been: read its queue's full heads
                # and merge again (once per queue at most).
                winners = sorted(
                    ((c, queue) for queue, rows_ in found.items() for c in rows_),
                    key=lambda w: (-w[0][1], w[0][3], w[0][2], w[0][0]),
                )[: params.limit]
                taken = Counter((queue, c[4]) for c, queue in winners)
                short = {
                    queue
                    for c, queue in winners
                    if c[5] < params.limit and taken[(queue, c[4])] >= c[5]
                }
                if not short:
                    break
                for queue in short:
                    found[queue] = self._candidates(
                        conn, queue, alone, now, names, params.limit, full=True
                    )
            chosen = [c[0] for c, _ in winners]
            if not chosen:
                return []
            claimed = conn.execute(
                query("claim_jobs"),
                {
                    "worker_id": params.worker_id,
                    "now": now,
                    "lease_seconds": params.lease_seconds,
                    "ids": json.dumps(chosen),
                },
            ).fetchall()
        # RETURNING order is unspecified; restore the claim order.
        place = {job_id: i for i, job_id in enumerate(chosen)}
        claimed.sort(key=lambda r: place[r[0]])
        return [rows.claimed_from_row(r) for r in claimed]

    def _candidates(
        self,
        conn: sqlite3.Connection,
        queue: str,
        alone: bool,
        now: float,
        names: str,
        limit: int,
        *,
        full: bool = False,
    ) -> list[tuple[int, int, float, int, str, int]]:
        """``queue``'s best ``limit`` ready plain jobs in fair order, with tenant and reads.

        The short read (``full`` false) reads fewer jobs per tenant; see claim_plain_jobs for
        when its answer stands.
        """
        name = "claim_candidates" if full else _candidates_query(conn, queue, alone=alone)
        return conn.execute(
            query(name),
            {"now": now, "queue": queue, "names": names, "limit": limit, "full": full},
        ).fetchall()


def _candidates_query(conn: sqlite3.Connection, queue: str, *, alone: bool) -> str:
    """The query that reads ``queue``'s claim candidates in fair order.

    A queue claimed alone whose ready jobs all belong to one tenant group (the common case:
    no tenants at all) needs no turns: its fair order is priority, run_at, id, read straight
    from the ready index at a fifth of the cost of the fair read (two index probes decide).
    With other queues in the claim, turns are needed to merge across queues.
    """
    if alone:
        lowest, highest = conn.execute(query("claim_tenant_groups"), {"queue": queue}).fetchone()
        if lowest == highest:  # one tenant group, or no ready job at all
            return "claim_heads"
    return "claim_candidates"


def _limited_candidates(
    conn: sqlite3.Connection, queues: Sequence[str], names: str, now: float, window: int
) -> list[limits.Candidate]:
    """The first ``window`` ready limited jobs of ``queues`` in claim order.

    Each queue is read in index order and cut at the window; the merge takes the best.
    """
    found: list[tuple[Any, ...]] = []
    for queue in dict.fromkeys(queues):
        found += conn.execute(
            query("limited_candidates"),
            {"queue": queue, "names": names, "now": now, "window": window},
        ).fetchall()
    # Rows end with (priority, run_at); with the id that is the claim order across queues.
    found.sort(key=lambda r: (-r[6], r[7], r[0]))
    return [limits.Candidate.from_row(r) for r in found[:window]]
