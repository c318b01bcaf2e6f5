"""Schedules fired by real worker processes: once per slot across replicas, kills and restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conveyor.models import JobState
from conveyor.store.watch_types import LedgerEntry, SlotStatus
from conveyor.testing import eventually

from .conftest import Workers, load_itapp

pytestmark = pytest.mark.slow

ON_TIME = 2.0
"""The scheduler's on-time window for one-second slots (conveyor.schedules.scheduler)."""


def ledger(workers: Workers, name: str) -> list[LedgerEntry]:
    """The schedule's whole ledger, oldest slot first."""
    return sorted(workers.app.store.schedule_ledger(name, limit=10_000), key=lambda e: e.slot)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a supervisor's process group and wait for it to exit."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def start_schedulers(workers: Workers, count: int) -> list[subprocess.Popen[bytes]]:
    return [workers.start("schedapp:app", processes=1, concurrency=4) for _ in range(count)]


def wait_all_finished(workers: Workers, name: str) -> list[LedgerEntry]:
    """Wait until every enqueued slot's job has finished; return the ledger."""

    def done() -> list[LedgerEntry] | None:
        entries = ledger(workers, name)
        running = [
            e for e in entries
            if e.status == SlotStatus.ENQUEUED and e.job_state != JobState.SUCCEEDED
        ]
        return None if running else entries

    return eventually(done, timeout=30)


def test_three_schedulers_fire_each_slot_once_even_when_one_is_killed(workers: Workers) -> None:
    workers.app = load_itapp(f"sched{os.getpid()}", "schedapp")
    procs = start_schedulers(workers, 3)
    eventually(lambda: len(ledger(workers, "tick")) >= 3 or None, timeout=30)
    time.sleep(2.5)
    victim = procs[0]
    os.killpg(victim.pid, signal.SIGKILL)  # mid-run: its scheduler and its jobs die at once
    victim.wait(timeout=10)
    time.sleep(4.5)
    for proc in procs[1:]:
        stop(proc)
    # A job the killed process held is rescued when its lease lapses; start one worker to
    # finish such leftovers, with its own scheduler (it must not fire any slot again).
    finisher = workers.start("schedapp:app", processes=1, concurrency=4, lease=2)
    entries = wait_all_finished(workers, "tick")
    stop(finisher)

    slots = [e.slot for e in entries]
    assert len(slots) >= 8
    # One row per slot (the ledger's key), and no gap: every second from first to last.
    assert slots == [slots[0] + i for i in range(len(slots))]
    assert {e.status for e in entries} == {SlotStatus.ENQUEUED}
    assert all(e.job_state == JobState.SUCCEEDED for e in entries)
    # Each enqueued slot ran exactly once (the effects table's UNIQUE key refuses a repeat,
    # which would have left a failed attempt behind).
    effects = sorted(k for k in workers.effects() if k.startswith("tick:"))
    assert effects == sorted(f"tick:{s}" for s in slots)
    assert len({e.job_id for e in entries}) == len(entries)


def test_downtime_obeys_each_catch_up_policy(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers.env["IT_CATCH_UP"] = "1"
    monkeypatch.setenv("IT_CATCH_UP", "1")
    workers.app = load_itapp(f"catch{os.getpid()}", "schedapp")
    first = workers.start("schedapp:app", processes=1, concurrency=8)
    eventually(lambda: len(ledger(workers, "catch_none")) >= 2 or None, timeout=30)
    stop(first)
    time.sleep(7)  # every scheduler is down for about seven one-second slots
    restart = time.time()
    second = workers.start("schedapp:app", processes=1, concurrency=8)
    eventually(lambda: len(_after(ledger(workers, "catch_none"), restart)) >= 10 or None,
               timeout=30)
    stop(second)

    for policy, fired_late in (("latest", 1), ("all", 3), ("none", 0)):
        entries = ledger(workers, f"catch_{policy}")
        after = _after(entries, restart)
        # The catch-up policy is applied by the first round after the restart: its rows share
        # one fired_at (one write). A round that waited for the write lock stamps a later time
        # than the clock it chose slots by, so the slots that came due meanwhile are judged by
        # the next round, a catch-up of its own; only the first round's late slots are counted.
        first_round = min(e.fired_at for e in after)
        late = [e for e in after if e.fired_at == first_round and first_round - e.slot > ON_TIME]
        assert len(late) >= 4, (policy, entries)
        fired = [e for e in late if e.status == SlotStatus.ENQUEUED]
        missed = [e for e in late if e.status == SlotStatus.MISSED]
        assert len(fired) == fired_late, (policy, late)
        assert len(missed) == len(late) - fired_late
        # The slots run are the newest late ones; every other late slot is recorded missed.
        assert [e.slot for e in fired] == [e.slot for e in late][len(late) - fired_late:]
        slots = [e.slot for e in entries]
        assert slots == [slots[0] + i for i in range(len(slots))], policy


def _after(entries: list[LedgerEntry], moment: float) -> list[LedgerEntry]:
    """Ledger rows written after ``moment``."""
    return [e for e in entries if e.fired_at >= moment]
