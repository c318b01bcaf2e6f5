"""Usage accounting with real worker processes: a known workload (20 jobs, sync and async,
each reporting tokens=10 and cost=0.5 and burning a known amount of CPU) adds up to known
totals per job name and tenant, on both stores."""

from __future__ import annotations

import pytest

from conveyor.models import JobState

from .conftest import Workers

pytestmark = pytest.mark.slow

CPU = 0.05
"""CPU seconds each job burns."""


def test_usage_totals_match_a_known_workload(workers: Workers) -> None:
    app = workers.app
    handles = [
        *(app.get("metered").enqueue(cpu=CPU, tenant="acme") for _ in range(10)),
        *(app.get("metered_async").enqueue(cpu=CPU, tenant="globex") for _ in range(10)),
    ]
    proc = workers.start(queues=["metered"], processes=2, concurrency=1, burst=True)
    assert proc.wait(timeout=60) == 0
    assert {h.refresh().state for h in handles} == {JobState.SUCCEEDED}

    # A burst worker writes its last batch of usage before it exits.
    by_name = {t.key: t for t in app.store.usage_totals("name")}
    assert set(by_name) == {"metered", "metered_async"}
    for total in by_name.values():
        assert (total.attempts, total.jobs) == (10, 10)
        assert total.units == {"cost": 5.0, "tokens": 100.0}
        assert total.cpu >= 10 * CPU * 0.95  # the clocks' granularity, no more
        assert total.wall >= total.cpu * 0.9 / 2  # at most two cores ran them
        assert total.memory_mb > 1
    # Sync jobs count their own thread's CPU: nothing else's (generous for a loaded box).
    assert by_name["metered"].cpu < 10 * CPU * 3
    by_tenant = {t.key: t.units for t in app.store.usage_totals("tenant")}
    assert by_tenant == {"acme": {"cost": 5.0, "tokens": 100.0},
                         "globex": {"cost": 5.0, "tokens": 100.0}}
    (everything,) = app.store.usage_totals(since=app.store.now() - 3600)
    assert (everything.attempts, everything.units["cost"]) == (20, 10.0)
