"""The supervisor's autoscaler and a process's recycler, on a controllable clock."""

from __future__ import annotations

import pytest

from conveyor._scaling import QueueNeed
from conveyor.cli.worker import parse_processes
from conveyor.errors import ConfigurationError
from conveyor.worker.autoscale import Autoscaler
from conveyor.worker.config import WorkerConfig
from conveyor.worker.recycle import Recycler


def need(slots: float) -> list[QueueNeed]:
    """One queue asking for ``slots`` slots to keep up."""
    return [QueueNeed(queue="q", ready=0, running=0, attempts_per_second=1.0,
                      mean_seconds=1.0, keep_up_slots=slots, catch_up_slots=0.0)]


def test_growing_is_immediate_and_capped() -> None:
    scaler = Autoscaler(least=1, most=4, slots_per_process=8, cooldown=10)
    assert scaler.decide(1, need(20), now=0) == 3
    assert scaler.decide(3, need(100), now=1) == 4  # never past the most


def test_shrinking_waits_a_cooldown_and_goes_one_at_a_time() -> None:
    scaler = Autoscaler(least=1, most=4, slots_per_process=8, cooldown=10)
    assert scaler.decide(4, need(0), now=0) == 4
    assert scaler.decide(4, need(0), now=9) == 4  # not a whole cooldown yet
    assert scaler.decide(4, need(0), now=10) == 3
    assert scaler.decide(3, need(0), now=15) == 3  # the next step waits a cooldown again
    assert scaler.decide(3, need(0), now=20) == 2
    assert scaler.decide(2, need(0), now=30) == 1
    assert scaler.decide(1, need(0), now=100) == 1  # never below the least


def test_a_lull_shorter_than_the_cooldown_keeps_the_processes() -> None:
    scaler = Autoscaler(least=1, most=4, slots_per_process=8, cooldown=10)
    assert scaler.decide(3, need(0), now=0) == 3
    assert scaler.decide(3, need(20), now=5) == 3  # the load came back: the timer resets
    assert scaler.decide(3, need(0), now=12) == 3
    assert scaler.decide(3, need(0), now=22) == 2


def test_the_recycler_counts_jobs_and_looks_at_memory_once_a_second() -> None:
    assert Recycler(max_jobs=3).after_job(2) is None
    assert "ran 3 jobs" in (Recycler(max_jobs=3).after_job(3) or "")
    readings = iter([100.0, 900.0])
    clock = [0.0]
    recycler = Recycler(max_memory_mb=500, memory=lambda: next(readings),
                        clock=lambda: clock[0])
    assert recycler.after_job(1) is None  # 100 MiB
    assert recycler.after_job(2) is None  # not looked at again within the second
    clock[0] = 1.5
    assert "900 MiB" in (recycler.after_job(3) or "")


def test_processes_take_a_number_or_a_range() -> None:
    assert parse_processes("2") == (2, None)
    assert parse_processes("1..8") == (1, 8)
    for bad in ("0", "8..1", "x", "1..", "..4"):
        with pytest.raises(ConfigurationError, match="--processes"):
            parse_processes(bad)
    with pytest.raises(ConfigurationError, match="at least the least"):
        WorkerConfig(processes=3, max_processes=2)
    with pytest.raises(ConfigurationError, match="max_jobs_per_process"):
        WorkerConfig(max_jobs_per_process=0)
