"""The scale hint's arithmetic (``conveyor._scaling``): keep up plus catch up, in processes."""

from __future__ import annotations

import pytest

from conveyor._scaling import queue_needs, scale_hint
from conveyor.models import QueueStats
from conveyor.store.watch_types import QueueLoad

WINDOW = 300.0


def hint_for(ready: int, running: int, attempts: int, busy: float, *, slots: int = 8,
             wait: float = 30.0, **options: object) -> int:
    """The processes advised for one queue with these figures."""
    needs = queue_needs([QueueStats(queue="q", queued=ready, running=running)],
                        [QueueLoad(queue="q", attempts=attempts, busy_seconds=busy)]
                        if attempts else [],
                        window=WINDOW, target_wait=wait)
    return scale_hint(needs, slots_per_process=slots, target_wait=wait, window=WINDOW,
                      **options).processes  # type: ignore[arg-type]


def test_idle_queues_need_no_process() -> None:
    assert hint_for(0, 0, 0, 0.0) == 0


def test_keeping_up_is_the_slots_the_window_kept_busy() -> None:
    # 3,000 attempts of 0.8 s in 5 minutes kept 8 slots busy: one process of 8 slots.
    assert hint_for(0, 0, 3000, 2400.0) == 1
    # Twice the work: two processes.
    assert hint_for(0, 0, 6000, 4800.0) == 2
    # What runs right now counts when the window saw less.
    assert hint_for(0, 17, 10, 5.0) == 3


def test_a_backlog_adds_the_slots_that_start_it_within_the_target_wait() -> None:
    # 600 ready jobs of 1 s each, to start within 30 s: 20 slots, 3 processes of 8.
    assert hint_for(600, 0, 300, 300.0) == 3
    # A longer target wait needs fewer.
    assert hint_for(600, 0, 300, 300.0, wait=300.0) == 1


def test_ready_jobs_of_unknown_run_time_get_one_process() -> None:
    assert hint_for(5000, 0, 0, 0.0) == 1


def test_schedules_keep_one_process_when_no_standalone_scheduler_runs() -> None:
    assert hint_for(0, 0, 0, 0.0, schedules_need_workers=True) == 1
    needs = queue_needs([], [], window=WINDOW, target_wait=30)
    hint = scale_hint(needs, slots_per_process=8, target_wait=30, window=WINDOW,
                      schedules_need_workers=True)
    assert "no `conveyor scheduler` is running" in hint.reason


def test_the_cap_wins_and_says_so() -> None:
    needs = queue_needs([QueueStats(queue="q", queued=10_000)],
                        [QueueLoad(queue="q", attempts=100, busy_seconds=100.0)],
                        window=WINDOW, target_wait=30)
    hint = scale_hint(needs, slots_per_process=8, target_wait=30, window=WINDOW, most=4)
    assert hint.processes == 4 and "capped at --max 4" in hint.reason


def test_paused_queues_need_nothing() -> None:
    needs = queue_needs([QueueStats(queue="q", queued=500, paused=True)], [],
                        window=WINDOW, target_wait=30)
    assert needs == []


def test_a_step_and_a_spike_give_bounded_counts_that_follow_the_load() -> None:
    """A synthetic arrival curve, one hint per minute over a 5-minute window: the advice
    rises with a step, stays bounded through a one-minute spike (the window averages it),
    and comes back down, never jumping back and forth between neighbouring minutes."""
    per_minute = [100] * 5 + [1000] * 10 + [100] * 5 + [5000] + [100] * 10
    run_time = 0.5  # seconds per job; 8 slots per process
    advice = []
    for minute in range(len(per_minute)):
        recent = per_minute[max(0, minute - 4): minute + 1]
        attempts = sum(recent)
        advice.append(hint_for(0, 0, attempts, attempts * run_time))
    # The step (5 -> 15) lifts the advice once it outweighs the window's quiet minutes; the
    # spike (minute 20) holds it up for the five minutes it stays in the window: 4 changes,
    # no back and forth.
    assert advice == [1] * 9 + [2] * 6 + [1] * 5 + [2] * 5 + [1] * 6, advice
    reversals = sum(
        1 for a, b, c in zip(advice, advice[1:], advice[2:], strict=False)
        if (b - a) * (c - b) < 0
    )
    assert reversals == 0


def test_slots_per_process_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slots per process"):
        scale_hint([], slots_per_process=0, target_wait=30, window=WINDOW)


def test_a_bounded_backlog_is_named_as_a_lower_bound() -> None:
    needs = queue_needs([QueueStats(queue="q", queued=10_000, at_least=("queued",))],
                        [QueueLoad(queue="q", attempts=300, busy_seconds=300.0)],
                        window=WINDOW, target_wait=30)
    assert needs[0].ready_at_least
    hint = scale_hint(needs, slots_per_process=8, target_wait=30, window=WINDOW)
    assert "at least 10,000 ready jobs" in hint.reason
