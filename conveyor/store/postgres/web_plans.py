"""The dashboard verbs as plans (see :mod:`conveyor.store.postgres.plans` for what a plan is).

Every plan but the chart series' (:mod:`conveyor.store.series_plans`) is one statement, so each
runs in autocommit. Times cross as epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from conveyor.store import replay_plans, series_plans
from conveyor.store.filters import POSTGRES, where
from conveyor.store.postgres.plans import Plan, Plans, Statement, register_single
from conveyor.store.postgres.plans_base import at
from conveyor.store.postgres.sequence_plans import SequencePlans
from conveyor.store.protocol import JobFilter, Replay
from conveyor.store.series_plans import RolledRow
from conveyor.store.web_checks import NO_ID_ABOVE, check_bucket, check_limit
from conveyor.store.web_types import ActionRow, DeadGroup, NewSession, SeriesPoint, SessionRow

WEB_SINGLE = frozenset(
    {
        "record_action", "list_actions", "dead_groups",
        "put_session", "get_session",
    }
)  # fmt: skip
"""Every plan below is one statement: autocommit, no BEGIN/COMMIT round trips."""
register_single(WEB_SINGLE)


class WebPlans:
    """The dashboard verbs, bound to a schema through the store's :class:`Plans`."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return self.plans.q(name)

    def record_action(self, actor: str, action: str, target: str, details_json: str) -> Plan[int]:
        """Insert one action, stamped with the server's clock."""
        result = yield Statement(
            self.q("web_action_record"),
            {"actor": actor, "action": action, "target": target, "details_json": details_json},
        )
        return int(result.rows[0][0])

    def list_actions(
        self, limit: int, before_id: int | None, target: str | None
    ) -> Plan[list[ActionRow]]:
        """Actions newest first, all or one target's."""
        params = {
            "limit": check_limit(limit),
            "before": NO_ID_ABOVE if before_id is None else before_id,
            "target": target,
        }
        name = "web_actions_all" if target is None else "web_actions_of_target"
        result = yield Statement(self.q(name), params)
        return [ActionRow(*r) for r in result.rows]

    def dead_groups(self, limit: int) -> Plan[list[DeadGroup]]:
        """Dead jobs grouped by name and error type, biggest first."""
        result = yield Statement(self.q("web_dead_groups"), {"limit": check_limit(limit)})
        return [
            DeadGroup(
                name=r[0],
                error_type=r[1],
                count=r[2],
                newest_at=r[3],
                oldest_at=r[4],
                sample_message=r[5],
            )
            for r in result.rows
        ]

    def replay_jobs(
        self, flt: JobFilter, replay: Replay, now: float | None = None
    ) -> Plan[list[int]]:
        """The shared plan :func:`.replay_plans.replay_dead` on PostgreSQL. Runs in a
        transaction."""
        return replay_plans.replay_dead(PostgresReplayDialect(self.plans), flt, replay, now)

    def finished_series(
        self, since: float, bucket: float, now: float
    ) -> Plan[tuple[list[SeriesPoint], list[RolledRow]]]:
        """Succeeded and failed counts per queue and bucket, oldest first, and the buckets
        that settled since the last read (:func:`.series_plans.read_series`)."""
        return series_plans.read_series(self, float(since), check_bucket(bucket), now)

    def save_series(self, bucket: float, rows: Sequence[RolledRow], now: float) -> Plan[None]:
        """Store settled buckets (:func:`.series_plans.save_series`). Runs in a transaction."""
        return series_plans.save_series(self, bucket, rows, now)

    def rolled(self, since: float, bucket: float) -> Statement:
        """See :meth:`.series_plans.SeriesDialect.rolled`."""
        return Statement(self.q("web_series_rolled"), {"since": since, "bucket": bucket})

    def finished(self, since: float, bucket: float) -> Statement:
        """See :meth:`.series_plans.SeriesDialect.finished`."""
        return Statement(self.q("web_finished_series"), {"since": since, "bucket": bucket})

    def save(self, rows: Sequence[RolledRow]) -> Statement:
        """See :meth:`.series_plans.SeriesDialect.save`."""
        return Statement(
            self.q("web_series_save"), many=[series_plans.rolled_params(r) for r in rows]
        )

    def prune(self, bucket: float, before: float) -> Statement:
        """See :meth:`.series_plans.SeriesDialect.prune`."""
        return Statement(self.q("web_series_prune"), {"bucket": bucket, "before": before})

    def put_session(
        self, session_id: str, session: NewSession | None, now: float | None = None
    ) -> Plan[bool]:
        """Insert a session expiring ``session.seconds`` from ``now`` (or the server's clock),
        pruning expired ones; or delete one session."""
        if session is None:
            result = yield Statement(self.q("web_session_close"), {"id": session_id})
            return result.rowcount == 1
        yield at(
            self.q("web_session_open"),
            {
                "id": session_id,
                "credential": session.credential,
                "role": session.role,
                "seconds": float(session.seconds),
            },
            now,
        )
        return True

    def get_session(self, session_id: str, now: float | None = None) -> Plan[SessionRow | None]:
        """The session with this id unexpired at ``now`` (or the server's clock)."""
        result = yield at(self.q("web_session_get"), {"id": session_id}, now)
        if not result.rows:
            return None
        credential, role, expires_at = result.rows[0]
        return SessionRow(credential, role, float(expires_at))


class PostgresReplayDialect:
    """:func:`.replay_plans.replay_dead`'s statements on PostgreSQL (see ``ReplayDialect``):
    the pick locks the jobs it takes; the move sends the same NOTIFY as inserts and retries."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    def pick(self, flt: JobFilter, now: float | None) -> Statement:
        """``web_replay_pick`` with the filter's clause, on the server's clock or ``now``."""
        clause, params = where(POSTGRES, flt)
        return at(self.plans.q("web_replay_pick").replace("{where}", clause), params, now)

    def move(
        self, moves: Sequence[tuple[int, str, float]], args_json: str | None, now: float | None
    ) -> Statement:
        """``web_replay_jobs``, the moves as three arrays."""
        return at(
            self.plans.q("web_replay_jobs"),
            {
                "ids": [m[0] for m in moves],
                "states": [m[1] for m in moves],
                "delays": [m[2] for m in moves],
                "args": args_json,
                "channel": self.plans.channel,
            },
            now,
        )

    def stage_jobs(self, ids: Sequence[int], now: float | None) -> Statement:
        """``run_stage_jobs`` of ``ids``."""
        return at(self.plans.q("run_stage_jobs"), {"ids": json.dumps(list(ids))}, now)

    def requeue(self, ids: list[int], now: float | None) -> Plan[list[int]]:
        """:meth:`.SequencePlans.requeue` of ``ids``."""
        return SequencePlans(self.plans).requeue(ids, now)
