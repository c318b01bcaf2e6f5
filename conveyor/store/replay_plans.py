"""The dead-letter replay, written once for every store (see :mod:`.plan`).

:func:`replay_dead` is what ``retry_jobs(flt, replay=Replay(...))`` runs inside one
transaction: pick the dead jobs the filter matches, oldest death first (PostgreSQL locks them;
SQLite holds its one write lock), refuse the whole replay if any of them is a stage job of a
pipeline run (:func:`~conveyor.store.run_graph.refuse_stage_jobs`), then give each a fresh
attempt in the state the lifecycle decides for it, due at its place in the spread that
``replay.per_second`` asks for (:func:`~conveyor.store.web_checks.replay_moves`). Each store
gives only its three statements (a :class:`ReplayDialect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.store.contract.records import JobFilter, Replay
from conveyor.store.plan import Plan, Statement
from conveyor.store.run_graph import refuse_stage_jobs
from conveyor.store.web_checks import replay_filter, replay_moves, replay_spacing


class ReplayDialect(Protocol):
    """What a store gives :func:`replay_dead`: its three statements."""

    def pick(self, flt: JobFilter, now: float | None) -> Statement:
        """Ids of the dead jobs ``flt`` matches, oldest death first, held until the
        transaction ends; ``flt`` is already a replay's (:func:`.replay_filter`)."""
        ...

    def move(
        self, moves: Sequence[tuple[int, str, float]], args_json: str | None, now: float | None
    ) -> Statement:
        """Fresh attempts for the jobs of ``moves`` (id, target state, delay in seconds) still
        dead, with ``args_json`` as their arguments if given (and workers woken where the
        store wakes them); returns the ids it moved."""
        ...

    def stage_jobs(self, ids: Sequence[int], now: float | None) -> Statement:
        """``run_stage_jobs``: which of ``ids`` are stage jobs of a run (id, run, stage)."""
        ...

    def requeue(self, ids: list[int], now: float | None) -> Plan[list[int]]:
        """Put the sequenced jobs among ``ids`` back in line (see
        :mod:`conveyor.store.sequences`)."""
        ...


def replay_dead(
    d: ReplayDialect, flt: JobFilter, replay: Replay, now: float | None
) -> Plan[list[int]]:
    """Replay the dead jobs ``flt`` matches; the ids replayed, oldest death first.

    Raises :class:`~conveyor.errors.ConfigurationError` on a bad rate before any statement.
    """
    replay_spacing(replay.per_second)  # a bad rate is refused before anything is read
    picked = yield d.pick(replay_filter(flt), now)
    ids = [int(r[0]) for r in picked.rows]
    if not ids:
        return []
    # A dead stage job is revived by resuming its run, not alone (decision 75).
    staged = yield d.stage_jobs(ids, now)
    refuse_stage_jobs(staged.rows)
    result = yield d.move(replay_moves(ids, replay.per_second), replay.args_json, now)
    replayed = {int(r[0]) for r in result.rows}
    # A replayed job of a sequence goes back in line: first of its key again.
    yield from d.requeue(sorted(replayed), now)
    return [job_id for job_id in ids if job_id in replayed]
