"""The SQLite store's dashboard verbs (see :mod:`conveyor.store.contract.dashboard`).

Writes run under SQLite's single write lock (``BEGIN IMMEDIATE``): a replay reads the dead
jobs it takes and updates them with nothing committing in between.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.store import replay_plans, series_plans
from conveyor.store.filters import SQLITE, where
from conveyor.store.plan import Plan, Statement
from conveyor.store.series_plans import RolledRow
from conveyor.store.sqlite import sequence_plans
from conveyor.store.sqlite.connection import query
from conveyor.store.sqlite.driver import drive
from conveyor.store.web_checks import NO_ID_ABOVE, check_bucket, check_limit, replay_spacing
from conveyor.store.web_types import ActionRow, DeadGroup, NewSession, SeriesPoint, SessionRow

if TYPE_CHECKING:
    from conveyor.store.contract.records import JobFilter, Replay
    from conveyor.store.sqlite.connection import Database


class SQLiteWebVerbs:
    """Mixed into the SQLite store."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database

        def now(self) -> float: ...

    def record_action(self, actor: str, action: str, target: str, details_json: str) -> int:
        """See :meth:`~conveyor.store.contract.audit.AuditVerbs.record_action`."""
        with self.db.write() as conn:
            row = conn.execute(
                query("web_action_record"),
                {
                    "now": self.now(),
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "details_json": details_json,
                },
            ).fetchone()
        return int(row[0])

    def list_actions(
        self, limit: int = 100, before_id: int | None = None, target: str | None = None
    ) -> list[ActionRow]:
        """See :meth:`~conveyor.store.contract.audit.AuditVerbs.list_actions`."""
        params = {
            "limit": check_limit(limit),
            "before": NO_ID_ABOVE if before_id is None else before_id,
            "target": target,
        }
        name = "web_actions_all" if target is None else "web_actions_of_target"
        with self.db.read() as conn:
            found = conn.execute(query(name), params).fetchall()
        return [ActionRow(*r) for r in found]

    def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """See :meth:`DashboardVerbs.dead_groups`."""
        with self.db.read() as conn:
            found = conn.execute(query("web_dead_groups"), {"limit": check_limit(limit)})
            return [
                DeadGroup(
                    name=r[0],
                    error_type=r[1],
                    count=r[2],
                    newest_at=r[3],
                    oldest_at=r[4],
                    sample_message=r[5],
                )
                for r in found.fetchall()
            ]

    def _replay_dead(self, flt: JobFilter, replay: Replay, now: float | None = None) -> list[int]:
        """``retry_jobs(flt, replay=...)``: see
        :meth:`~conveyor.store.contract.jobs.JobVerbs.retry_jobs`; the plan is
        :func:`.replay_plans.replay_dead`."""
        replay_spacing(replay.per_second)  # a bad rate is refused before the write lock
        with self.db.write() as conn:
            at = self.now() if now is None else now  # the store's, under the write lock
            return drive(conn, replay_plans.replay_dead(REPLAY, flt, replay, at))

    def finished_series(
        self, since: float, bucket: float, *, now: float | None = None
    ) -> list[SeriesPoint]:
        """See :meth:`DashboardVerbs.finished_series`; buckets in which nothing finished are left
        out (a chart draws them as zero). Buckets that settled since the last read are stored
        under the write lock afterwards (:mod:`conveyor.store.series_plans`), so a read takes
        the lock about once a bucket, not every time."""
        size = check_bucket(bucket)
        at = self.now() if now is None else now
        with self.db.read() as conn:
            points, settled = drive(conn, series_plans.read_series(SERIES, since, size, at))
        if settled:
            with self.db.write() as conn:
                drive(conn, series_plans.save_series(SERIES, size, settled, at))
        return points

    def put_session(
        self, session_id: str, session: NewSession | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`DashboardVerbs.put_session`."""
        with self.db.write() as conn:
            if session is None:
                cur = conn.execute(query("web_session_close"), {"id": session_id})
                return cur.rowcount == 1
            at = self.now() if now is None else now  # the store's, under the write lock
            conn.execute(query("web_session_prune"), {"now": at})
            conn.execute(
                query("web_session_open"),
                {
                    "id": session_id,
                    "credential": session.credential,
                    "role": session.role,
                    "now": at,
                    "seconds": float(session.seconds),
                },
            )
        return True

    def get_session(self, session_id: str, *, now: float | None = None) -> SessionRow | None:
        """See :meth:`DashboardVerbs.get_session`."""
        with self.db.read() as conn:
            row = conn.execute(
                query("web_session_get"),
                {"id": session_id, "now": self.now() if now is None else now},
            ).fetchone()
        return None if row is None else SessionRow(row[0], row[1], float(row[2]))


class SQLiteReplayDialect:
    """:func:`.replay_plans.replay_dead`'s statements on SQLite (see ``ReplayDialect``): the
    write lock holds the picked jobs, so nothing else can take them before the move."""

    def pick(self, flt: JobFilter, now: float | None) -> Statement:
        """``web_replay_pick`` with the filter's clause (ages computed at ``now``)."""
        clause, params = where(SQLITE, flt, _clock(now))
        return Statement(query("web_replay_pick").replace("{where}", clause), params)

    def move(
        self, moves: Sequence[tuple[int, str, float]], args_json: str | None, now: float | None
    ) -> Statement:
        """``web_replay_jobs``, the moves as one JSON array."""
        return Statement(
            query("web_replay_jobs"),
            {"moves": json.dumps(list(moves)), "args": args_json, "now": _clock(now)},
        )

    def stage_jobs(self, ids: Sequence[int], now: float | None) -> Statement:
        """``run_stage_jobs`` of ``ids``."""
        return Statement(query("run_stage_jobs"), {"ids": json.dumps(list(ids))})

    def requeue(self, ids: list[int], now: float | None) -> Plan[list[int]]:
        """:func:`.sequence_plans.requeue` of ``ids``."""
        return sequence_plans.requeue(_clock(now), ids)


def _clock(now: float | None) -> float:
    if now is None:  # the SQLite store reads its clock under the write lock before the plan
        raise RuntimeError("a SQLite replay plan was started without a clock")
    return now


REPLAY = SQLiteReplayDialect()


class SQLiteSeriesDialect:
    """:mod:`.series_plans`' statements on SQLite (see ``SeriesDialect``)."""

    def rolled(self, since: float, bucket: float) -> Statement:
        """``web_series_rolled``."""
        return Statement(query("web_series_rolled"), {"since": since, "bucket": bucket})

    def finished(self, since: float, bucket: float) -> Statement:
        """``web_finished_series``."""
        return Statement(query("web_finished_series"), {"since": since, "bucket": bucket})

    def save(self, rows: Sequence[RolledRow]) -> Statement:
        """``web_series_save``, once per row."""
        return Statement(
            query("web_series_save"), many=[series_plans.rolled_params(r) for r in rows]
        )

    def prune(self, bucket: float, before: float) -> Statement:
        """``web_series_prune``."""
        return Statement(query("web_series_prune"), {"bucket": bucket, "before": before})


SERIES = SQLiteSeriesDialect()
