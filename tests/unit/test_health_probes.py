"""The health judge on stamps (a controllable clock: stamps written with chosen ages) and the
readiness probe against a store that does not answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conveyor.errors import ConfigurationError
from conveyor.store import open_store
from conveyor.worker.config import WorkerConfig
from conveyor.worker.health import STARTUP_GRACE, Child, HealthServer, judge, stamp_path

NOW = 1_800_000_000.0
"""The wall clock the stamps are written and judged at: ages are exact, however long the
writing takes on a loaded box."""


def write_stamp(
    folder: Path, worker_id: str, *, silent: float = 0.0, claim_age: float = 0.0,
    heartbeat_age: float = 0.0, slots_full: bool = False,
) -> None:
    stamp_path(str(folder), worker_id).write_text(json.dumps({
        "worker_id": worker_id, "pid": 1, "written": NOW - silent,
        "claim_age": claim_age, "slots_full": slots_full, "heartbeat_age": heartbeat_age,
    }))


def child(worker_id: str, started_ago: float = 100.0) -> Child:
    return Child(worker_id, time.monotonic() - started_ago)


def test_fresh_stamps_are_live(tmp_path: Path) -> None:
    write_stamp(tmp_path, "host:1:0:a", claim_age=0.5, heartbeat_age=3)
    write_stamp(tmp_path, "host:1:1:b", claim_age=60, slots_full=True)  # busy, not stuck
    assert judge(
        str(tmp_path), [child("host:1:0:a"), child("host:1:1:b")], 10, 30, now=NOW
    ) == []


def test_a_silent_loop_a_stuck_claim_and_a_late_heartbeat_are_named(tmp_path: Path) -> None:
    write_stamp(tmp_path, "w-loop", silent=12)
    write_stamp(tmp_path, "w-claim", claim_age=11)
    write_stamp(tmp_path, "w-beat", heartbeat_age=29, silent=2)
    problems = judge(
        str(tmp_path), [child("w-loop"), child("w-claim"), child("w-beat")], 10, 30, now=NOW
    )
    assert problems == [
        "worker w-loop: its event loop has not run for 12.0s (a handler blocking the loop, "
        "or the process is stopped)",
        "worker w-claim: the claim loop is stuck (11.0s)",
        "worker w-beat: leases not renewed for 31.0s (the store does not answer the "
        "heartbeat)",
    ]


def test_a_missing_stamp_is_forgiven_only_while_the_process_starts(tmp_path: Path) -> None:
    assert judge(str(tmp_path), [child("new", started_ago=1)], 10, 30) == []
    late = child("old", started_ago=STARTUP_GRACE + 1)
    assert judge(str(tmp_path), [late], 10, 30) == ["worker old has written no health stamp"]


def test_readyz_says_when_the_store_does_not_answer(tmp_path: Path) -> None:
    # Port 1 on the loopback: nothing listens, so every connection is refused at once.
    server = HealthServer(
        "127.0.0.1", 0, str(tmp_path), list,
        lambda: open_store("postgresql://postgres@127.0.0.1:1/nothing"), stall=10, lease=30,
    )
    try:
        code, body = server.ready()
        assert code == 503 and body["status"] == "unready"
        assert "the store" in body["problem"]
        assert server.live() == (200, {"status": "ok"})
    finally:
        server.close()


def test_readyz_is_ok_on_a_store_that_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'conveyor.db'}"
    open_store(url).close()
    server = HealthServer("127.0.0.1", 0, str(tmp_path), list, lambda: open_store(url), 10, 30)
    try:
        assert server.ready() == (200, {"status": "ok"})
    finally:
        server.close()


def test_bad_health_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="--health-port must be a port number"):
        WorkerConfig(health_port=70000)
    with pytest.raises(ConfigurationError, match="health_stall must be positive"):
        WorkerConfig(health_stall=0)
