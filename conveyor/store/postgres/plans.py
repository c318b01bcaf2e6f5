"""Every store verb as a plan: a generator that yields statements and receives their results.

Writing each verb once as a plan, and running it with a sync or an async driver, gives the
synchronous and asynchronous stores the same SQL and the same row mapping without writing any
verb twice (the "sans-I/O" style). A plan runs inside one transaction.

The verbs live by domain: :mod:`~conveyor.store.postgres.job_plans` (producing, working,
workers) and :mod:`~conveyor.store.postgres.admin_plans` (inspecting, queue controls, acting,
pruning, once records); :class:`Plans` joins them for the drivers.
"""

from __future__ import annotations

from conveyor.store.postgres.admin_plans import AdminPlans
from conveyor.store.postgres.job_plans import JobPlans, completion_row
from conveyor.store.postgres.plans_base import (
    SINGLE,
    Plan,
    Result,
    Statement,
    is_single,
    register_single,
)

__all__ = [
    "SINGLE",
    "Plan",
    "Plans",
    "Result",
    "Statement",
    "completion_row",
    "is_single",
    "register_single",
]


class Plans(JobPlans, AdminPlans):
    """The verbs, bound to a schema."""
