"""The Postgres store's dashboard verbs (see :mod:`conveyor.store.contract.dashboard`).

Each verb runs one plan of :mod:`conveyor.store.postgres.web_plans`. Replays send the same
NOTIFY as inserts and retries, so idle workers claim the replayed jobs at once.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from conveyor.store.postgres.web_plans import WebPlans
from conveyor.store.web_types import ActionRow, DeadGroup, NewSession, SeriesPoint, SessionRow

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan, Plans
    from conveyor.store.protocol import JobFilter, Replay

T = TypeVar("T")


class PostgresWebVerbs:
    """Mixed into the Postgres store."""

    if TYPE_CHECKING:  # provided by PostgresStore
        plans: Plans

        def run(self, plan: Plan[T], where: str) -> T: ...

        def now(self) -> float: ...

    @cached_property
    def _web_plans(self) -> WebPlans:
        return WebPlans(self.plans)

    def record_action(self, actor: str, action: str, target: str, details_json: str) -> int:
        """See :meth:`~conveyor.store.contract.audit.AuditVerbs.record_action`."""
        return self.run(
            self._web_plans.record_action(actor, action, target, details_json),
            "recording an action",
        )

    def list_actions(
        self, limit: int = 100, before_id: int | None = None, target: str | None = None
    ) -> list[ActionRow]:
        """See :meth:`~conveyor.store.contract.audit.AuditVerbs.list_actions`."""
        return self.run(self._web_plans.list_actions(limit, before_id, target), "listing actions")

    def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """See :meth:`DashboardVerbs.dead_groups`."""
        return self.run(self._web_plans.dead_groups(limit), "grouping dead jobs")

    def _replay_dead(self, flt: JobFilter, replay: Replay, now: float | None = None) -> list[int]:
        """``retry_jobs(flt, replay=...)``: see
        :meth:`~conveyor.store.contract.jobs.JobVerbs.retry_jobs`."""
        return self.run(self._web_plans.replay_jobs(flt, replay, now), "replaying dead jobs")

    def finished_series(
        self, since: float, bucket: float, *, now: float | None = None
    ) -> list[SeriesPoint]:
        """See :meth:`DashboardVerbs.finished_series`; buckets in which nothing finished are left
        out (a chart draws them as zero). Reads in one transaction; buckets that settled since
        the last read are stored in a second (:mod:`conveyor.store.series_plans`)."""
        at = self.now() if now is None else now
        points, settled = self.run(
            self._web_plans.finished_series(since, bucket, at), "reading the finished series"
        )
        if settled:
            self.run(
                self._web_plans.save_series(float(bucket), settled, at),
                "storing settled chart buckets",
            )
        return points

    def put_session(
        self, session_id: str, session: NewSession | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`DashboardVerbs.put_session`."""
        what = "closing a dashboard session" if session is None else "opening a dashboard session"
        return self.run(self._web_plans.put_session(session_id, session, now), what)

    def get_session(self, session_id: str, *, now: float | None = None) -> SessionRow | None:
        """See :meth:`DashboardVerbs.get_session`."""
        return self.run(self._web_plans.get_session(session_id, now), "reading a dashboard session")
