"""The ``prune`` verb as plans: one per transaction, for the sync and the async store alike."""

from __future__ import annotations

from conveyor.store.contract.records import Retention
from conveyor.store.postgres.monitor_plans import monitor_plans
from conveyor.store.postgres.outbox_plans import outbox_plans
from conveyor.store.postgres.plans import Plan, Plans
from conveyor.store.postgres.run_verbs import prune_runs


def prune_plans(
    plans: Plans, retention: Retention, limit: int, now: float | None
) -> list[Plan[int]]:
    """The plans :meth:`~conveyor.store.contract.jobs.JobVerbs.prune` runs, in order, each in a
    transaction of its own: the jobs' batch (with once records and rate starts), the monitor's
    records, the finished webhook deliveries, the finished pipeline runs past ``retention.runs``
    (a running run is never pruned). Their counts add up to the verb's answer.

    Separate transactions keep each one short; a crash between them leaves only less deleted.
    """
    return [
        plans.prune_jobs(retention, limit, now),
        monitor_plans(plans.schema).prune_watch(retention, limit, now),
        outbox_plans(plans.schema).prune_deliveries(limit),
        prune_runs(plans, retention, limit, now),
    ]
