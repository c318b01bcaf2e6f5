"""PostgreSQL's statements for sequences (``sequence=``); the policy is
:mod:`conveyor.store.sequences`.

A sequence's writers serialize on one advisory transaction lock per key (``sequence_lock.sql``),
taken before the release statement runs: under READ COMMITTED that statement then sees every
job of the key committed before the lock was granted, so an insert and the end of the key's
head cannot miss each other (as a unique key's insert does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conveyor.errors import ConfigurationError
from conveyor.store import sequences
from conveyor.store.contract.records import InsertedJob, NewJob
from conveyor.store.plan import Plan, Statement
from conveyor.store.postgres.plans_base import PlansBase, at


class SequencePlans:
    """The sequence statements of one schema."""

    def __init__(self, plans: PlansBase) -> None:
        self.plans = plans

    def lock(self, keys: list[str]) -> Plan[None]:
        """Advisory transaction locks on ``keys`` (sorted by the caller)."""
        if not keys:
            return
        found = yield Statement("SELECT current_setting('transaction_isolation')", {})
        if found.rows and found.rows[0][0] == "repeatable read":
            raise ConfigurationError(
                "enqueueing jobs with sequence= inside a REPEATABLE READ transaction cannot see "
                "the jobs of their keys committed after it started; enqueue them in a READ "
                "COMMITTED (the default) or SERIALIZABLE transaction"
            )
        yield Statement(self.plans.q("sequence_lock"), {"keys": keys})

    def release(self, keys: list[str], now: float | None) -> Statement:
        """The statement that releases the first held job of each free key of ``keys``."""
        params = {"keys": keys, "channel": self.plans.channel, **sequences.release_params()}
        return at(self.plans.q("sequence_release"), params, now)

    def keys_of(self, ids: list[int]) -> Statement:
        """The statement that reads the sequence keys of jobs ``ids``."""
        return Statement(self.plans.q("sequence_keys"), {"ids": ids})

    def advance(self, ids: Sequence[int], now: float | None) -> Plan[list[int]]:
        """Release the next job of each key of jobs ``ids`` that is free now."""
        return sequences.advance(
            self.keys_of, self.lock, lambda keys: self.release(keys, now), list(ids)
        )

    def advance_keys(self, keys: list[str], now: float | None) -> Plan[list[int]]:
        """Release the next job of each key of ``keys`` that is free now."""
        return sequences.advance_keys(self.lock, lambda k: self.release(k, now), sorted(set(keys)))

    def requeue(self, ids: list[int], now: float | None) -> Plan[list[int]]:
        """Put the sequenced jobs among ``ids`` (just made to run again) back in line as held,
        then release each key's first: a replayed job goes ahead of the key's later jobs."""
        if not ids:
            return []
        found = yield self.keys_of(ids)
        keys = sorted({str(r[0]) for r in found.rows})
        if not keys:
            return []
        yield from self.lock(keys)
        yield Statement(
            f'UPDATE "{self.plans.schema}".conveyor_jobs SET state = %(state)s '
            "WHERE id = ANY(%(ids)s::bigint[]) AND sequence_key IS NOT NULL",
            {"state": sequences.requeue_state(), "ids": ids},
        )
        released = yield self.release(keys, now)
        return sorted(int(r[0]) for r in released.rows)

    def insert(
        self,
        jobs: Sequence[NewJob],
        insert: Callable[[Sequence[NewJob]], Plan[list[InsertedJob]]],
        now: float | None,
    ) -> Plan[list[InsertedJob]]:
        """Insert a batch with sequenced jobs (see :func:`.sequences.insert_in_sequence`)."""
        return sequences.insert_in_sequence(
            jobs, self.lock, insert, lambda keys: self.release(keys, now)
        )


def sequence_plans(plans: PlansBase) -> SequencePlans:
    """The sequence statements of ``plans``' schema."""
    return SequencePlans(plans)
