"""SQLite's statements for sequences (``sequence=``); the policy is
:mod:`conveyor.store.sequences`. Every write holds the one write lock, so no key lock is taken.
"""

from __future__ import annotations

import json

from conveyor.store import sequences
from conveyor.store.plan import Plan, Statement
from conveyor.store.sqlite.connection import query


def sequence_release(now: float, keys: list[str]) -> Statement:
    """The statement that releases the first held job of each free key of ``keys``."""
    return Statement(
        query("sequence_release"),
        {"keys": json.dumps(keys), "now": now, **sequences.release_params()},
    )


def sequence_keys_of(ids: list[int]) -> Statement:
    """The statement that reads the sequence keys of jobs ``ids``."""
    return Statement(query("sequence_keys"), {"ids": json.dumps(ids)})


def advance_after(now: float, ids: list[int]) -> Plan[list[int]]:
    """Release the next job of each key of jobs ``ids`` that is free now (released ids)."""
    return sequences.advance(
        sequence_keys_of, sequences.no_lock, lambda keys: sequence_release(now, keys), ids
    )


def advance_keys(now: float, keys: list[str]) -> Plan[list[int]]:
    """Release the next job of each key of ``keys`` that is free now (released ids)."""
    return sequences.advance_keys(
        sequences.no_lock, lambda k: sequence_release(now, k), sorted(set(keys))
    )


def requeue(now: float, ids: list[int]) -> Plan[list[int]]:
    """Put the sequenced jobs among ``ids`` (just made to run again) back in line as held,
    then release each key's first: a replayed job goes ahead of the key's later jobs."""
    if not ids:
        return []
    found = yield sequence_keys_of(ids)
    keys = [str(r[0]) for r in found.rows]
    if not keys:
        return []
    yield Statement(
        "UPDATE conveyor_jobs SET state = :state "
        "WHERE id IN (SELECT value FROM json_each(:ids)) AND sequence_key IS NOT NULL",
        {"state": sequences.requeue_state(), "ids": json.dumps(ids)},
    )
    return (yield from advance_keys(now, keys))
