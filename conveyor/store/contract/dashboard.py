"""The dashboard: dead-letter groups and replays, chart series, and login sessions.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.contract.records import JobFilter
from conveyor.store.web_types import DeadGroup, SeriesPoint, SessionRow


class DashboardVerbs(Protocol):
    """What the dashboard and the HTTP API read and do beyond the job and queue verbs."""

    def dead_groups(self, limit: int = 100) -> list[DeadGroup]:
        """Dead jobs grouped by (name, error type), the biggest groups first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def replay_jobs(self, flt: JobFilter, per_second: float | None = None) -> list[int]:
        """Put matching dead jobs back in the queue with fresh attempts, keeping their history.

        With ``per_second``, the i-th job (oldest first) is due ``i / per_second`` seconds from
        now instead of at once, so a large replay does not stampede a recovering dependency.
        Returns the replayed ids. Only dead jobs are touched, whatever ``flt.states`` says.

        Guarantees: one transaction, fenced by state (dead, judged inside it). Idempotent: replayed
        jobs are no longer dead, so a repeat returns [].
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
