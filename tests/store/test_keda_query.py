"""The KEDA query shipped in docs/deployment.md, run as printed against PostgreSQL: it asks
for the slots `conveyor scale-hint` computes for the same queues."""

from __future__ import annotations

import math
import re
from pathlib import Path

import psycopg
import pytest
from store_helpers import claim_one, complete, insert_one

from conveyor._scaling import queue_needs
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def keda_query() -> str:
    """The ```sql block of the KEDA section, exactly as a user would copy it."""
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    [query] = [b for b in blocks if b.startswith("-- keda:")]
    return query


def run_query(store_url: str) -> int:
    with psycopg.connect(store_url) as conn:
        row = conn.execute(keda_query()).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


def hint_slots(store: Store) -> int:
    """What scale-hint asks for the emails queue, in slots (window 300 s, wait 30 s)."""
    now = store.now()
    needs = queue_needs(store.queue_stats(now=now), store.queue_load(now - 300),
                        window=300, target_wait=30)
    return sum(math.ceil(n.slots) for n in needs if n.queue == "emails")


def test_the_keda_query_asks_for_the_slots_scale_hint_computes(
    store: Store, store_url: str
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("KEDA's postgresql scaler reads PostgreSQL; SQLite has no KEDA")
    assert run_query(store_url) == 0 == hint_slots(store)

    # Ready jobs with no run time measured yet: one slot, so KEDA starts one pod.
    for _ in range(40):
        insert_one(store, queue="emails")
    insert_one(store, queue="other")  # another Deployment's queue counts nowhere here
    assert run_query(store_url) == 1

    # Measured: ten attempts of 3 s each (the caller's clock, advanced instead of sleeping),
    # one failing and retried later; 29 jobs stay ready.
    start = store.now() + 0.05
    for n in range(10):
        job = claim_one(store, queues=("emails",), now=start)
        kind = CompletionKind.RETRY if n == 0 else CompletionKind.SUCCEEDED
        error = ErrorInfo("ValueError", "boom") if n == 0 else None
        assert complete(store, job, kind, error=error, now=start + 3)
    running = claim_one(store, queues=("emails",), now=start + 3)
    assert running.queue == "emails"
    # Keeping up: busy 30 s / 300 s = 0.1 slot, but one runs now: 1. Catching up: 29 ready x
    # 3 s / 30 s = 2.9 (the retried job waits out its backoff, so it is not ready): 3.9 -> 4.
    assert run_query(store_url) == 4
    assert hint_slots(store) == 4
