"""The dashboard: dead-letter groups, replay with new arguments, chart series, login sessions.

A replay of many dead jobs is :meth:`~conveyor.store.contract.jobs.JobVerbs.retry_jobs` with
``replay=Replay(...)``.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.web_types import DeadGroup, SeriesPoint, SessionRow


class DashboardVerbs(Protocol):
    """What the dashboard and the HTTP API read and do beyond the job and queue verbs."""

    def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """Dead jobs grouped by (name, error type), the biggest groups first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def replay_with_args(self, job_id: int, args_json: str) -> bool:
        """Replay one dead job with new (already validated) arguments; False if it is not
        dead. The attempts it made with the old arguments stay in its history.

        Guarantees: one transaction, fenced by state (dead). Safe to repeat: the second call returns
        False.
        """
        ...

    def finished_series(self, since: float, bucket: float) -> list[SeriesPoint]:
        """Per queue and bucket since ``since``: jobs succeeded and failures, oldest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def open_session(self, session_id: str, credential: str, role: str, seconds: float) -> None:
        """Record a login that lasts ``seconds`` from now (the store's clock).

        ``session_id`` is a digest of the cookie's secret, never the secret itself, and must
        be new. Expired sessions are deleted on the way, so the table holds live ones only.

        Guarantees: one transaction (it also deletes expired sessions). Not idempotent:
        ``session_id`` must be new.
        """
        ...

    def get_session(self, session_id: str) -> SessionRow | None:
        """The session with this id if it exists and has not expired, else None.

        Guarantees: reads only: writes nothing, so it is safe to repeat; the store's clock.
        """
        ...

    def close_session(self, session_id: str) -> bool:
        """End a session now (a logout), for every dashboard process; False if there was
        none.

        Guarantees: one transaction. Idempotent: the second call returns False.
        """
        ...
