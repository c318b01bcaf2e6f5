"""The dead-man's switch: judging ledger slots (pure, hand-made entries and instants)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor.models import JobState
from conveyor.monitor.judge import BAD_VERDICTS, decides, judge, summary
from conveyor.schedules.definition import ScheduleDef, build_schedule
from conveyor.schedules.timing import Cron
from conveyor.store.watch_types import LedgerEntry, ScheduleRow, SlotStatus, Verdict

BERLIN = ZoneInfo("Europe/Berlin")
SLOT = datetime(2026, 6, 1, 3, 0, tzinfo=BERLIN).timestamp()
GRACE = 30 * 60.0
DEADLINE = SLOT + GRACE


def nightly(**options: Any) -> ScheduleDef:
    return build_schedule(
        "nightly_report", "report", Cron("0 3 * * *", "Europe/Berlin"), grace="30m", **options
    )


def entry(**fields: Any) -> LedgerEntry:
    base: dict[str, Any] = {
        "schedule": "nightly_report",
        "slot": SLOT,
        "status": SlotStatus.ENQUEUED,
        "fired_at": SLOT + 0.2,
        "job_id": 7,
        "job_state": JobState.QUEUED,
    }
    base.update(fields)
    return LedgerEntry(**base)


def succeeded(result: Any = None, *, started: float = 60.0, took: float = 5.0) -> LedgerEntry:
    return entry(
        job_state=JobState.SUCCEEDED,
        started_at=SLOT + started,
        finished_at=SLOT + started + took,
        result_json=json.dumps(result),
    )


# -- verdicts ------------------------------------------------------------------------------------


def test_missed_and_skipped_slots_are_judged_at_once() -> None:
    missed = judge(entry(status=SlotStatus.MISSED, job_id=None, job_state=None), nightly(), SLOT)
    skipped = judge(entry(status=SlotStatus.SKIPPED, job_id=None, job_state=None), nightly(), SLOT)
    assert missed is not None and missed[0] is Verdict.MISSED
    assert skipped is not None and skipped[0] is Verdict.SKIPPED


def test_a_success_within_the_grace_is_ok() -> None:
    assert judge(succeeded({"rows": 3}), nightly(), SLOT + 120) == (Verdict.OK, None)


def test_a_success_after_the_deadline_is_late() -> None:
    late = judge(succeeded(started=GRACE - 1, took=10), nightly(), DEADLINE + 60)
    assert late is not None
    assert late[0] is Verdict.LATE
    assert "after the deadline" in (late[1] or "")


def test_expectation_false_is_unexpected_and_quotes_the_result() -> None:
    definition = nightly(expect=lambda result: result["rows"] > 0)
    verdict = judge(succeeded({"rows": 0}), definition, SLOT + 120)
    assert verdict is not None
    assert verdict[0] is Verdict.UNEXPECTED
    assert verdict[1] == 'expect returned False for result {"rows": 0}'
    assert judge(succeeded({"rows": 1}), definition, SLOT + 120) == (Verdict.OK, None)


def test_expectation_that_raises_is_unexpected_with_the_exception() -> None:
    definition = nightly(expect=lambda result: result["rows"] > 0)
    verdict = judge(succeeded(None), definition, SLOT + 120)
    assert verdict is not None
    assert verdict[0] is Verdict.UNEXPECTED
    assert (verdict[1] or "").startswith("expect raised TypeError")


def test_long_exception_text_is_truncated() -> None:
    def explode(result: Any) -> bool:
        raise ValueError("x" * 5000)

    verdict = judge(succeeded(1), nightly(expect=explode), SLOT + 120)
    assert verdict is not None
    assert len(verdict[1] or "") <= 300


def test_a_run_longer_than_max_duration_is_unexpected() -> None:
    definition = nightly(max_duration="1m")
    verdict = judge(succeeded(1, took=61), definition, SLOT + 200)
    assert verdict is not None
    assert verdict[0] is Verdict.UNEXPECTED
    assert "max_duration" in (verdict[1] or "")
    assert judge(succeeded(1, took=59), definition, SLOT + 200) == (Verdict.OK, None)


def test_dead_and_cancelled_runs_failed() -> None:
    dead = entry(job_state=JobState.DEAD, error_type="ValueError", error_message="boom")
    assert judge(dead, nightly(), SLOT + 10) == (Verdict.FAILED, "dead: ValueError: boom")
    cancelled = judge(entry(job_state=JobState.CANCELLED), nightly(), SLOT + 10)
    assert cancelled == (Verdict.FAILED, "cancelled")


def test_a_pruned_job_failed() -> None:
    assert judge(entry(job_state=None), nightly(), SLOT + 10) == (
        Verdict.FAILED,
        "job pruned before it was judged",
    )


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"job_state": JobState.QUEUED}, "queued, not started"),
        (
            {"job_state": JobState.RUNNING, "started_at": SLOT + 5 * 60},
            "still running since 03:05",
        ),
        (
            {"job_state": JobState.RETRYING, "error_type": "TimeoutError", "error_message": "db"},
            "retrying after TimeoutError: db",
        ),
    ],
)
def test_an_unfinished_run_waits_for_its_deadline_then_is_late(
    fields: dict[str, Any], said: str
) -> None:
    unfinished = entry(**fields)
    assert judge(unfinished, nightly(), DEADLINE - 1) is None
    assert judge(unfinished, nightly(), DEADLINE) == (Verdict.LATE, said)


def test_without_a_definition_the_grace_is_zero() -> None:
    assert judge(entry(), None, SLOT) is not None
    assert judge(entry(), None, SLOT - 1) is None


# -- what decides and what is said --------------------------------------------------------------


def test_the_newest_judged_slot_that_is_not_skipped_decides() -> None:
    newest_first = [
        entry(slot=SLOT + 3 * 86400),  # not judged yet
        entry(slot=SLOT + 2 * 86400, verdict=Verdict.SKIPPED),
        entry(slot=SLOT + 86400, verdict=Verdict.OK),
        entry(slot=SLOT, verdict=Verdict.FAILED),
    ]
    decider = decides(newest_first)
    assert decider is not None and decider.verdict is Verdict.OK
    assert decides(newest_first[:2]) is None
    assert Verdict.OK not in BAD_VERDICTS and Verdict.SKIPPED not in BAD_VERDICTS


def test_summaries_name_the_slot_and_the_deadline_in_the_schedule_zone() -> None:
    definition = nightly()
    late = summary(definition, entry(), Verdict.LATE, "queued, not started")
    assert late == (
        "nightly_report: the 03:00 Europe/Berlin run did not succeed by 03:30 "
        "(queued, not started)"
    )
    dead = entry(job_state=JobState.DEAD, error_type="ValueError", error_message="boom")
    assert summary(definition, dead, Verdict.FAILED) == (
        "nightly_report: the 03:00 Europe/Berlin run failed into the dead-letter queue "
        "(ValueError: boom)"
    )
    assert summary(definition, entry(), Verdict.UNEXPECTED, "took 99s") == (
        "nightly_report: the 03:00 Europe/Berlin run succeeded but broke its expectation "
        "(took 99s)"
    )
    missed = entry(status=SlotStatus.MISSED, job_state=None)
    assert summary(definition, missed, Verdict.MISSED) == (
        "nightly_report: the 03:00 Europe/Berlin slot was missed: no scheduler was running"
    )


def test_summary_from_a_stored_row_matches_the_definition() -> None:
    row = ScheduleRow(
        name="nightly_report",
        job_name="report",
        timing="cron:0 3 * * *",
        tz="Europe/Berlin",
        grace=GRACE,
    )
    assert summary(row, entry(), Verdict.LATE) == summary(nightly(), entry(), Verdict.LATE)
