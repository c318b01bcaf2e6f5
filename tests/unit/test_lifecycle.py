"""The job state machine without a database: every row of the table, decide(), lost_attempt()."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from conveyor._jobs import JobOptions
from conveyor._lifecycle import (
    INSERTED_DUE,
    INSERTED_HELD,
    INSERTED_LATER,
    TRANSITIONS,
    WORKER_LOST,
    Action,
    Completion,
    CompletionKind,
    Outcome,
    Raised,
    Released,
    Succeeded,
    TimedOut,
    Transition,
    Undecodable,
    decide,
    lost_attempt,
    sources,
    target,
    transition,
)
from conveyor._once import OnceConflictError
from conveyor._retries import Cancel, Permanent, Retry, Snooze
from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import ClaimedJob

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def job(attempt: int = 1, max_attempts: int = 3, meta_json: str = "{}") -> ClaimedJob:
    return ClaimedJob(
        id=7, queue="default", name="t", args_json="{}", attempt=attempt,
        max_attempts=max_attempts, token=42, priority=0, timeout=None, lease_until=0.0,
        started_at=0.0, created_at=0.0, meta_json=meta_json,
    )


@dataclass(frozen=True)
class Rules:
    retry_on: tuple[type[BaseException], ...] = ()
    give_up_on: tuple[type[BaseException], ...] = ()
    max_snoozes: int | None = 100


PLAIN = Rules()


# -- the table, row by row ---------------------------------------------------------------------

WAITING = (JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING)

ROWS = {
    (JobState.RUNNING, CompletionKind.SUCCEEDED): (JobState.SUCCEEDED, AttemptOutcome.SUCCEEDED, 0),
    (JobState.RUNNING, CompletionKind.RETRY): (JobState.RETRYING, AttemptOutcome.FAILED, 0),
    (JobState.RUNNING, CompletionKind.DEAD): (JobState.DEAD, AttemptOutcome.DEAD, 0),
    (JobState.RUNNING, CompletionKind.CANCELLED): (JobState.CANCELLED, AttemptOutcome.CANCELLED, 0),
    (JobState.RUNNING, CompletionKind.RELEASED): (JobState.QUEUED, AttemptOutcome.RELEASED, -1),
    (JobState.RUNNING, CompletionKind.LOST): (JobState.RETRYING, AttemptOutcome.LOST, 0),
    (JobState.RUNNING, CompletionKind.SNOOZED): (JobState.SCHEDULED, AttemptOutcome.SNOOZED, -1),
    (JobState.SCHEDULED, Action.CLAIM): (JobState.RUNNING, None, 1),
    (JobState.QUEUED, Action.CLAIM): (JobState.RUNNING, None, 1),
    (JobState.RETRYING, Action.CLAIM): (JobState.RUNNING, None, 1),
    (JobState.SCHEDULED, Action.CANCEL): (JobState.CANCELLED, None, 0),
    (JobState.QUEUED, Action.CANCEL): (JobState.CANCELLED, None, 0),
    (JobState.RETRYING, Action.CANCEL): (JobState.CANCELLED, None, 0),
    (JobState.RUNNING, Action.CANCEL): (JobState.CANCELLED, AttemptOutcome.CANCELLED, 0),
    (JobState.SCHEDULED, Action.EXPIRE): (JobState.CANCELLED, None, 0),
    (JobState.QUEUED, Action.EXPIRE): (JobState.CANCELLED, None, 0),
    (JobState.RETRYING, Action.EXPIRE): (JobState.CANCELLED, None, 0),
    (JobState.SCHEDULED, Action.RETRY_NOW): (JobState.QUEUED, None, 0),
    (JobState.QUEUED, Action.RETRY_NOW): (JobState.QUEUED, None, 0),
    (JobState.RETRYING, Action.RETRY_NOW): (JobState.QUEUED, None, 0),
    (JobState.DEAD, Action.RETRY_NOW): (JobState.QUEUED, None, 0),
    (JobState.CANCELLED, Action.RETRY_NOW): (JobState.QUEUED, None, 0),
    (JobState.DEAD, Action.RETRY_LATER): (JobState.SCHEDULED, None, 0),
    (JobState.HELD, Action.CANCEL): (JobState.CANCELLED, None, 0),
    (JobState.HELD, Action.ADVANCE): (JobState.QUEUED, None, 0),
    (JobState.HELD, Action.ADVANCE_LATER): (JobState.SCHEDULED, None, 0),
    (JobState.SCHEDULED, Action.REQUEUE): (JobState.HELD, None, 0),
    (JobState.QUEUED, Action.REQUEUE): (JobState.HELD, None, 0),
}


@pytest.mark.parametrize(("key", "expected"), ROWS.items(), ids=str)
def test_every_row_of_the_table(
    key: tuple[JobState, CompletionKind | Action],
    expected: tuple[JobState, AttemptOutcome | None, int],
) -> None:
    row = transition(*key)
    assert (row.to, row.outcome, row.attempt_delta) == expected


def test_the_table_has_exactly_these_rows() -> None:
    assert set(TRANSITIONS) == set(ROWS)


def test_only_finished_jobs_retried_get_fresh_attempts() -> None:
    fresh = {s for (s, e), t in TRANSITIONS.items() if t.fresh_attempts}
    assert fresh == {JobState.DEAD, JobState.CANCELLED}
    retries = (Action.RETRY_NOW, Action.RETRY_LATER)
    assert all(e in retries for (s, e), t in TRANSITIONS.items() if t.fresh_attempts)
    # Of the waiting states' retries, none is fresh: they keep their attempts.
    assert not any(TRANSITIONS[s, Action.RETRY_NOW].fresh_attempts for s in WAITING)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (JobState.SUCCEEDED, Action.RETRY_NOW),  # a succeeded job is never run again
        (JobState.RUNNING, Action.RETRY_NOW),
        (JobState.SUCCEEDED, Action.CANCEL),
        (JobState.DEAD, Action.CANCEL),
        (JobState.CANCELLED, Action.CANCEL),
        (JobState.RUNNING, Action.CLAIM),
        (JobState.QUEUED, CompletionKind.SUCCEEDED),  # only a running attempt completes
        (JobState.DEAD, CompletionKind.RETRY),
    ],
)
def test_missing_pairs_are_refused(state: JobState, event: CompletionKind | Action) -> None:
    with pytest.raises(ValueError, match=f"a {state} job has no transition"):
        transition(state, event)


def test_sources_and_targets_of_the_operator_actions() -> None:
    assert sources(Action.CANCEL) == (
        JobState.HELD, JobState.SCHEDULED, JobState.QUEUED, JobState.RUNNING, JobState.RETRYING,
    )
    assert target(Action.CANCEL) is JobState.CANCELLED
    assert set(sources(Action.RETRY_NOW)) == {
        JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING, JobState.DEAD, JobState.CANCELLED,
    }
    assert target(Action.RETRY_NOW) is JobState.QUEUED
    assert sources(Action.RETRY_LATER) == (JobState.DEAD,)
    assert target(Action.RETRY_LATER) is JobState.SCHEDULED
    assert sources(CompletionKind.SUCCEEDED) == (JobState.RUNNING,)


def test_new_jobs_start_waiting_and_claimable() -> None:
    # A delayed insert waits as a spread replay does; a due one is queued as a retry is.
    assert INSERTED_DUE is target(Action.RETRY_NOW)
    assert INSERTED_LATER is target(Action.RETRY_LATER)
    assert {INSERTED_DUE, INSERTED_LATER} <= set(sources(Action.CLAIM))
    # A sequenced job starts held, and is released as a new job would have started.
    assert INSERTED_HELD not in set(sources(Action.CLAIM))
    assert target(Action.ADVANCE) is INSERTED_DUE
    assert target(Action.ADVANCE_LATER) is INSERTED_LATER


STORE = Path(__file__).resolve().parents[2] / "conveyor" / "store"


def test_no_insert_statement_names_the_state_it_writes() -> None:
    # The stores take a new job's state from the lifecycle as parameters (rows.INSERTED_STATES).
    inserts = sorted(STORE.glob("*/queries/insert_job*.sql"))
    assert len(inserts) >= 3
    for path in inserts:
        code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
        named = [str(s) for s in JobState if f"'{s}'" in code]
        assert not named, f"{path.name} names {named}"


def test_every_completion_carries_its_row() -> None:
    for kind in CompletionKind:
        c = Completion(1, 2, kind)
        row = TRANSITIONS[JobState.RUNNING, kind]
        assert (c.state, c.outcome, c.attempt_delta) == (row.to, row.outcome, row.attempt_delta)


def test_the_diagram_draws_exactly_the_table() -> None:
    text = ARCHITECTURE.read_text()
    diagram = text[text.index("stateDiagram-v2") : text.index("```", text.index("stateDiagram-v2"))]
    drawn = {
        (JobState(a), JobState(b))
        for a, b in re.findall(r"^\s*(\w+) --> (\w+)", diagram, re.MULTILINE)
    }
    assert drawn == {(s, t.to) for (s, _), t in TRANSITIONS.items()}


# -- decide(): how an attempt ended -> the completion ------------------------------------------


def kind_of(
    outcome: Outcome, *, attempt: int = 1, rules: Rules = PLAIN, delay: float = 5.0
) -> Completion:
    return decide(job(attempt=attempt), rules, outcome, delay)


def test_success_stores_the_result() -> None:
    c = kind_of(Succeeded({"n": 1}))
    assert (c.kind, c.state, c.outcome, c.result_json) == (
        CompletionKind.SUCCEEDED, JobState.SUCCEEDED, AttemptOutcome.SUCCEEDED, '{"n": 1}',
    )
    assert (c.job_id, c.token) == (7, 42)


def test_a_result_that_is_not_json_is_dead_without_retry() -> None:
    c = kind_of(Succeeded(object()))
    assert (c.state, c.error and c.error.type) == (JobState.DEAD, "ResultNotJSON")


def test_an_error_with_attempts_left_is_retried_after_the_backoff() -> None:
    c = kind_of(Raised(ValueError("boom")), delay=5.0)
    assert (c.kind, c.state, c.outcome, c.retry_delay) == (
        CompletionKind.RETRY, JobState.RETRYING, AttemptOutcome.FAILED, 5.0,
    )
    assert c.error is not None and c.error.type == "ValueError" and c.error.message == "boom"


def test_an_error_on_the_last_attempt_is_dead() -> None:
    c = kind_of(Raised(ValueError("boom")), attempt=3)
    assert (c.kind, c.state, c.outcome) == (CompletionKind.DEAD, JobState.DEAD, AttemptOutcome.DEAD)


def test_a_timeout_is_retried_then_dead() -> None:
    c = kind_of(TimedOut(2.5))
    assert (c.state, c.error and c.error.type) == (JobState.RETRYING, "TimeoutError")
    assert c.error is not None and "2.5s" in c.error.message
    assert kind_of(TimedOut(2.5), attempt=3).state is JobState.DEAD


def test_interrupted_by_shutdown_is_released_without_charging_the_attempt() -> None:
    c = kind_of(Released(), attempt=3)
    assert (c.kind, c.state, c.outcome, c.attempt_delta, c.error) == (
        CompletionKind.RELEASED, JobState.QUEUED, AttemptOutcome.RELEASED, -1, None,
    )


def test_undecodable_arguments_are_dead_at_once() -> None:
    c = kind_of(Undecodable(ValueError("bad args")))
    assert (c.state, c.error and c.error.type) == (JobState.DEAD, "ValueError")


def test_permanent_is_dead_at_once() -> None:
    assert kind_of(Raised(Permanent("no"))).state is JobState.DEAD


def test_cancel_is_cancelled_even_with_attempts_left() -> None:
    c = kind_of(Raised(Cancel("stop")))
    assert (c.kind, c.state, c.outcome) == (
        CompletionKind.CANCELLED, JobState.CANCELLED, AttemptOutcome.CANCELLED,
    )


def test_retry_after_uses_its_own_delay() -> None:
    c = kind_of(Raised(Retry(after=30)), delay=5.0)
    assert (c.state, c.retry_delay) == (JobState.RETRYING, 30.0)
    assert kind_of(Raised(Retry(after=30)), attempt=3).state is JobState.DEAD


def test_give_up_on_is_dead_at_once() -> None:
    rules = Rules(give_up_on=(KeyError,))
    assert kind_of(Raised(KeyError("k")), rules=rules).state is JobState.DEAD
    assert kind_of(Raised(ValueError("v")), rules=rules).state is JobState.RETRYING


def test_retry_on_retries_only_the_listed_errors() -> None:
    rules = Rules(retry_on=(ConnectionError,))
    assert kind_of(Raised(ConnectionError("c")), rules=rules).state is JobState.RETRYING
    assert kind_of(Raised(ValueError("v")), rules=rules).state is JobState.DEAD


def test_give_up_on_wins_over_retry_on() -> None:
    rules = Rules(retry_on=(OSError,), give_up_on=(ConnectionError,))
    assert kind_of(Raised(ConnectionError("c")), rules=rules).state is JobState.DEAD


def test_a_once_conflict_is_retried_at_once_even_on_the_last_attempt() -> None:
    c = kind_of(Raised(OnceConflictError("k")), attempt=3, delay=5.0)
    assert (c.kind, c.state, c.retry_delay) == (CompletionKind.RETRY, JobState.RETRYING, 0.0)
    assert c.error is not None and c.error.type == "OnceConflictError"


def test_decide_reads_a_job_types_declared_options() -> None:
    options = JobOptions(give_up_on=(KeyError,))
    assert decide(job(), options, Raised(KeyError("k")), 1.0).state is JobState.DEAD


# -- lost_attempt(): the rescuer's rule (lease lost) -------------------------------------------


def test_a_lost_attempt_with_attempts_left_is_retried_in_its_old_place() -> None:
    c = lost_attempt(7, 42, attempt=1, max_attempts=3, worker_id="w1")
    assert (c.kind, c.state, c.outcome, c.retry_delay) == (
        CompletionKind.LOST, JobState.RETRYING, AttemptOutcome.LOST, 0.0,
    )
    assert c.error is not None and c.error.type == WORKER_LOST and "w1" in c.error.message


def test_a_lost_last_attempt_is_dead() -> None:
    c = lost_attempt(7, 42, attempt=3, max_attempts=3, worker_id=None)
    assert (c.kind, c.state, c.outcome) == (CompletionKind.DEAD, JobState.DEAD, AttemptOutcome.DEAD)


def test_transition_rows_are_values() -> None:
    assert Transition(JobState.QUEUED, None) == Transition(JobState.QUEUED, None, 0, False)


# -- Snooze ---------------------------------------------------------------------------------------


def test_a_snooze_on_the_last_attempt_waits_uncharged_with_its_reason() -> None:
    c = decide(job(attempt=1, max_attempts=1), PLAIN, Raised(Snooze("30s", reason="not yet")), 5.0)
    assert (c.kind, c.state, c.outcome, c.attempt_delta, c.retry_delay) == (
        CompletionKind.SNOOZED, JobState.SCHEDULED, AttemptOutcome.SNOOZED, -1, 30.0,
    )
    assert c.error is not None
    assert (c.error.type, c.error.message, c.error.traceback) == ("Snooze", "not yet", None)


def test_a_snooze_past_max_snoozes_is_dead_with_a_clear_error() -> None:
    rules = Rules(max_snoozes=3)
    assert decide(job(meta_json='{"snoozes": 2}'), rules, Raised(Snooze(1)), 0).kind is (
        CompletionKind.SNOOZED
    )
    c = decide(job(meta_json='{"snoozes": 3}'), rules, Raised(Snooze(1, reason="poll")), 0)
    assert (c.kind, c.state) == (CompletionKind.DEAD, JobState.DEAD)
    assert c.error is not None and c.error.type == "SnoozeLimit"
    assert "snoozed 3 times, its max_snoozes" in c.error.message
    assert "(poll)" in c.error.message and "max_snoozes=" in c.error.message
    uncapped = Rules(max_snoozes=None)
    c = decide(job(meta_json='{"snoozes": 5000}'), uncapped, Raised(Snooze(1)), 0)
    assert c.kind is CompletionKind.SNOOZED
