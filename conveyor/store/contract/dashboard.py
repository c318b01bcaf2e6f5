"""The dashboard: dead-letter groups, replay with new arguments, chart series, login sessions.

A replay of dead jobs (many, or one with new arguments) is
:meth:`~conveyor.store.contract.jobs.JobVerbs.retry_jobs` with ``replay=Replay(...)``.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.web_types import DeadGroup, NewSession, SeriesPoint, SessionRow


class DashboardVerbs(Protocol):
    """What the dashboard and the HTTP API read and do beyond the job and queue verbs."""

    def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """Dead jobs grouped by (name, error type), the biggest groups first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def finished_series(
        self, since: float, bucket: float, *, now: float | None = None
    ) -> list[SeriesPoint]:
        """Per queue and bucket since ``since``: jobs succeeded and failures, oldest first.

        A bucket that ended long enough before ``now`` (the caller's clock, defaulting to the
        store's) is *settled*: its counts are kept in a rollup and read from there afterwards,
        so they no longer change when its jobs are pruned or a dead one is replayed
        (:mod:`conveyor.store.series_plans`).

        Guarantees: reads the jobs; writes only the rollup of settled buckets (the same counts
        whoever writes them first), so it is safe to repeat and to run from many processes.
        """
        ...

    def put_session(
        self, session_id: str, session: NewSession | None, *, now: float | None = None
    ) -> bool:
        """Record a login (``session``, lasting ``session.seconds`` from ``now``), or
        (``session=None``) end session ``session_id`` for every dashboard process (a logout).
        True when something was written: always for a login; for a logout, whether there was
        such a session.

        ``session_id`` is a digest of the cookie's secret, never the secret itself, and a login's
        must be new. A login deletes expired sessions on the way, so the table holds live ones
        only. ``now``: the caller's clock, defaulting to the store's.

        Guarantees: one transaction (a login also deletes expired sessions). A login is not
        idempotent (``session_id`` must be new); a logout is: the second call returns False.
        """
        ...

    def get_session(self, session_id: str, *, now: float | None = None) -> SessionRow | None:
        """The session with this id if it exists and has not expired at ``now`` (the caller's
        clock, defaulting to the store's), else None.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...
