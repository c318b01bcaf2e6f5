"""Argument checks shared by both stores' dashboard verbs (see :mod:`.contract.dashboard`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from conveyor._lifecycle import Action, transition
from conveyor.errors import ConfigurationError
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter

NO_ID_ABOVE = 2**63 - 1
"""Stands for "no before_id": above every id either store can hand out."""


def replay_filter(flt: JobFilter) -> JobFilter:
    """The filter a replay applies: dead jobs only, and every match, not one page.

    ``limit`` and ``before_id`` are dropped so that a replay takes exactly what
    :meth:`~conveyor.store.protocol.Store.count_jobs` counted for its confirmation.
    """
    return replace(flt, states=(JobState.DEAD,), before_id=None, limit=None)


def replay_spacing(per_second: float | None) -> float:
    """Seconds between two replayed jobs' due times (0 without a rate); raise on a bad rate."""
    if per_second is None:
        return 0.0
    if not per_second > 0 or per_second == float("inf"):
        raise ConfigurationError(
            f"a replay rate must be a positive number of jobs per second, got {per_second!r}; "
            "leave it out to replay every job at once"
        )
    return 1.0 / float(per_second)


def replay_moves(ids: Sequence[int], per_second: float | None) -> list[tuple[int, str, float]]:
    """(id, target state, delay in seconds) of each dead job a replay takes, ``ids`` oldest
    death first: the i-th is due ``i / per_second`` seconds from now, and the target state is
    the lifecycle's (:mod:`conveyor._lifecycle`: due now, or waiting until then)."""
    spacing = replay_spacing(per_second)
    moves = []
    for place, job_id in enumerate(ids):
        delay = place * spacing
        event = Action.RETRY_LATER if delay > 0 else Action.RETRY_NOW
        moves.append((job_id, str(transition(JobState.DEAD, event).to), delay))
    return moves


def check_bucket(bucket: float) -> float:
    """A chart bucket's size in seconds; raise unless it is positive."""
    if not bucket > 0 or bucket == float("inf"):
        raise ConfigurationError(
            f"a series bucket must be a positive number of seconds, got {bucket!r}"
        )
    return float(bucket)


def check_limit(limit: int) -> int:
    """A page size; raise when it is negative."""
    if limit < 0:
        raise ConfigurationError(f"a page size cannot be negative, got {limit!r}")
    return limit
