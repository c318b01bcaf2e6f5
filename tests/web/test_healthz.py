"""The dashboard's unauthenticated ``/healthz``: up or down, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conveyor import Conveyor

from .conftest import Served


def test_healthz_needs_no_token_and_says_only_up(served: Served) -> None:
    answer = served.anonymous.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "up"}
    assert answer.headers["cache-control"].startswith("no-store")
    # Still no way in anywhere else without a token.
    assert served.anonymous.get("/api/health").status_code == 401


def test_healthz_is_down_when_the_store_does_not_answer(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve(Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}"))
    # Point the app at a PostgreSQL that is not there (port 1 on the loopback refuses).
    served.app.close()
    served.app.url = "postgresql://postgres@127.0.0.1:1/nothing"
    answer = served.anonymous.get("/healthz")
    assert (answer.status_code, answer.json()) == (503, {"status": "down"})
