"""The monitor inside real worker processes: one active (a lease), alerts delivered once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.monitor.signing import verify
from conveyor.testing import eventually

from .conftest import Workers
from .receivers import Receiver, running_receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


def kinds(hook: Receiver) -> list[tuple[str, str, str]]:
    return [(b["kind"], b["rule"], b["subject"]) for b in hook.bodies]


def test_a_failing_schedule_alerts_once_and_resolves_once(
    workers: Workers, hook: Receiver, tmp_path: Path
) -> None:
    flag = tmp_path / "source-is-up"
    workers.env.update(IT_HOOK_URL=hook.url("/alerts"), IT_FLAG=str(flag))
    # Two supervisors: two monitors compete for the lease, and only one may announce.
    procs = [workers.start("alertapp:app", processes=1, concurrency=4) for _ in range(2)]
    eventually(lambda: kinds(hook) or None, timeout=30)
    firing = hook.bodies[0]
    assert (firing["kind"], firing["rule"], firing["subject"]) == (
        "firing", "missed_run", "nightly"
    )
    assert "failed into the dead-letter queue" in firing["summary"]
    assert "the report source is down" in firing["summary"]

    flag.touch()  # the source is back: the next slots succeed
    eventually(lambda: ("resolved", "missed_run", "nightly") in kinds(hook) or None, timeout=30)
    time.sleep(2)  # later rounds of either monitor must not announce anything more
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert kinds(hook) == [
        ("firing", "missed_run", "nightly"),
        ("resolved", "missed_run", "nightly"),
    ]
    assert all(
        verify("it-secret", h.signature or "", h.body, now=time.time(), tolerance=600)
        for h in hook.hits
    )
    [incident] = workers.app.store.list_incidents(include_resolved=True)
    assert incident.state == "resolved" and incident.subject == "nightly"
