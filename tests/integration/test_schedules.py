"""Schedules fired by real worker processes: once per slot across replicas, kills and restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conveyor.models import JobState
from conveyor.schedules.scheduler import ALIVE_LEASE
from conveyor.store.watch_types import LedgerEntry, SlotStatus
from conveyor.testing import eventually

from .conftest import Workers, load_itapp

pytestmark = pytest.mark.slow


def ledger(workers: Workers, name: str) -> list[LedgerEntry]:
    """The schedule's whole ledger, oldest slot first."""
    return sorted(workers.app.store.schedule_ledger(name, limit=10_000), key=lambda e: e.slot)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a supervisor's process group and wait for it to exit."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def start_schedulers(workers: Workers, count: int) -> list[subprocess.Popen[bytes]]:
    return [workers.start("schedapp:app", processes=1, concurrency=4) for _ in range(count)]


def schedapp_with(workers: Workers, monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    """Use schedapp with the schedules ``flag`` (an environment variable it reads) selects, in
    the workers started from now on and in the test's own copy of the app."""
    workers.env[flag] = "1"
    monkeypatch.setenv(flag, "1")
    workers.app = load_itapp(f"{flag.lower()}{os.getpid()}", "schedapp")


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
    # A job the killed process held is rescued when its lease lapses; start one worker to
    # finish such leftovers, with its own scheduler (it must not fire any slot again). It
    # starts before the others stop, so some scheduler runs at every moment: a gap longer
    # than the on-time window (a slow start on a busy box) would rightly record slots missed.
    before = {w.id for w in workers.app.store.live_workers(stale_after=60)}
    finisher = workers.start("schedapp:app", processes=1, concurrency=4, lease=2)
    eventually(
        lambda: {w.id for w in workers.app.store.live_workers(stale_after=60)} - before or None,
        timeout=30,
    )
    for proc in procs[1:]:
        stop(proc)
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


def test_a_standby_fires_every_slot_on_time_when_the_holder_is_killed(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two supervisors: the one whose scheduler holds the alive lease keeps the pace, the
    # other stands by with a round every 2 seconds (half the 4-second slots' on-time window,
    # decision 143). Kill the holder: its lease runs on for up to 30 s, and meanwhile the
    # standby's rounds must fire every slot on time (none recorded missed).
    schedapp_with(workers, monkeypatch, "IT_STANDBY")
    procs = start_schedulers(workers, 2)
    eventually(lambda: len(ledger(workers, "every4")) >= 2 or None, timeout=40)
    holder = eventually(lambda: workers.app.store.lease_holder(ALIVE_LEASE), timeout=20)
    pid = int(holder.split(":")[1])
    [victim] = [p for p in procs if os.getpgid(pid) == p.pid]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.time()
    eventually(
        lambda: len([e for e in ledger(workers, "every4") if e.slot > killed_at]) >= 4 or None,
        timeout=40,
    )
    for proc in procs:
        if proc is not victim:
            stop(proc)
    slots = [e.slot for e in ledger(workers, "every4")]
    assert slots == [slots[0] + 4 * i for i in range(len(slots))]  # one row per slot, no gap
    missed = [e for e in ledger(workers, "every4") if e.status != SlotStatus.ENQUEUED]
    assert missed == []


def test_downtime_obeys_each_catch_up_policy(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedapp_with(workers, monkeypatch, "IT_CATCH_UP")
    first = workers.start("schedapp:app", processes=1, concurrency=8)
    eventually(lambda: len(ledger(workers, "catch_none")) >= 2 or None, timeout=30)
    stop(first)
    time.sleep(7)  # every scheduler is down for about seven one-second slots
    restart = time.time()
    second = workers.start("schedapp:app", processes=1, concurrency=8)
    eventually(lambda: len(_after(ledger(workers, "catch_none"), restart)) >= 10 or None,
               timeout=30)
    stop(second)

    # The catch-up policy is applied by the first round after the restart; the three schedules
    # share one-second slots and are written by that round in one transaction (one fired_at).
    # Which slots the round judged late is known from catch_none alone, whose late slots are
    # all recorded missed: fired_at is stamped under the write lock, after the clock the round
    # chose slots by, so a slot's lateness cannot be read back from fired_at - slot.
    firsts = {p: _first_round(ledger(workers, f"catch_{p}"), restart) for p in POLICIES}
    assert len({entries[0].fired_at for entries in firsts.values()}) == 1, firsts
    late_slots = [e.slot for e in firsts["none"] if e.status == SlotStatus.MISSED]
    assert len(late_slots) >= 4, firsts["none"]
    on_time = [e for e in firsts["none"] if e.slot not in late_slots]
    assert all(e.status == SlotStatus.ENQUEUED for e in on_time), firsts["none"]
    assert late_slots == [e.slot for e in firsts["none"]][: len(late_slots)]  # the oldest due

    for policy, fired_late in (("latest", 1), ("all", 3), ("none", 0)):
        late = [e for e in firsts[policy] if e.slot in late_slots]
        assert [e.slot for e in late] == late_slots, (policy, firsts[policy])
        fired = [e for e in late if e.status == SlotStatus.ENQUEUED]
        missed = [e for e in late if e.status == SlotStatus.MISSED]
        assert len(fired) == fired_late, (policy, late)
        assert len(missed) == len(late) - fired_late
        # The slots run are the newest late ones; every other late slot is recorded missed.
        assert [e.slot for e in fired] == late_slots[len(late_slots) - fired_late:]
        slots = [e.slot for e in ledger(workers, f"catch_{policy}")]
        assert slots == [slots[0] + i for i in range(len(slots))], policy


POLICIES = ("latest", "all", "none")


def _first_round(entries: list[LedgerEntry], moment: float) -> list[LedgerEntry]:
    """The ledger rows of the first round written after ``moment`` (they share a fired_at)."""
    after = _after(entries, moment)
    first = min(e.fired_at for e in after)
    return [e for e in after if e.fired_at == first]


def _after(entries: list[LedgerEntry], moment: float) -> list[LedgerEntry]:
    """Ledger rows written after ``moment``."""
    return [e for e in entries if e.fired_at >= moment]
