"""Alert rules and check-ins on real stores: each fires for its subject, then resolves
(both backends). Rules run through :class:`Monitor` ticks, so incidents are checked too."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace

import pytest
from store_helpers import claim_one, complete, insert, new_job, wait_until

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.models import WorkerInfo
from conveyor.monitor.config import Firing, Rule
from conveyor.monitor.rules import (
    BacklogGrowth,
    Budget,
    DeadLetterGrowth,
    Expirations,
    FailureRate,
    NoWorker,
    QueueAge,
    UnknownJobs,
    default_rules,
)
from conveyor.monitor.service import Monitor
from conveyor.store import Store
from conveyor.store.contract.usage import UsageRow
from conveyor.store.protocol import CompletionKind, ErrorInfo
from conveyor.store.watch_types import IncidentRow, IncidentState

QUEUE = "default"


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    app = Conveyor(store_url)
    yield app
    app.close()


def monitor_with(app: Conveyor, store: Store, *rules: Rule) -> Monitor:
    app.configure_monitor(rules=list(rules), reminder=None)
    return Monitor(app, store=store)


def firing(store: Store) -> list[tuple[str, str]]:
    return [(i.rule, i.subject) for i in store.firing_incidents()]


def only_incident(store: Store) -> IncidentRow:
    [incident] = store.list_incidents(include_resolved=True)
    return incident


def finish(store: Store, kind: CompletionKind, count: int = 1) -> None:
    """Insert and finish ``count`` jobs of queue ``default`` as ``kind``."""
    for _ in range(count):
        insert(store, new_job())
        job = claim_one(store)
        error = None if kind is CompletionKind.SUCCEEDED else ErrorInfo("OSError", "disk full")
        assert complete(store, job, kind, error=error, result=1)


def worker(
    queues: tuple[str, ...] = (QUEUE,), names: tuple[str, ...] = ("send_email",)
) -> WorkerInfo:
    return WorkerInfo(id="w-1", hostname="host", pid=1, queues=queues, names=names)


# -- rules ---------------------------------------------------------------------------------------


def test_dead_letter_growth_fires_then_resolves_when_the_window_passes(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, DeadLetterGrowth(threshold=2, window=1.0))
    finish(store, CompletionKind.DEAD)
    assert monitor.tick().opened == []  # one is below the threshold

    finish(store, CompletionKind.DEAD)
    assert monitor.tick().opened == [("dlq_growth", QUEUE)]
    assert "2 jobs went to the dead-letter queue" in only_incident(store).summary

    opened = only_incident(store).opened_at
    wait_until(lambda: store.now() > opened + 1.5)
    assert monitor.tick().resolved == [("dlq_growth", QUEUE)]


def test_queue_age_fires_for_an_old_ready_job_and_resolves_once_taken(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, QueueAge(older_than=0.2))
    insert(store, new_job())
    assert monitor.tick().opened == []
    wait_until(lambda: (s := store.queue_stats()) and (s[0].oldest_queued_age or 0) > 0.3)
    assert monitor.tick().opened == [("queue_age", QUEUE)]
    assert "has waited" in only_incident(store).summary

    claim_one(store)
    assert monitor.tick().resolved == [("queue_age", QUEUE)]


def test_failure_rate_needs_enough_attempts_then_fires_and_resolves(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, FailureRate(above=0.5, window="1h", min_attempts=3))
    finish(store, CompletionKind.DEAD, count=2)
    assert monitor.tick().opened == []  # two attempts are too few to judge

    finish(store, CompletionKind.SUCCEEDED)
    assert monitor.tick().opened == [("failure_rate", QUEUE)]
    assert "67% of attempts failed" in only_incident(store).summary

    finish(store, CompletionKind.SUCCEEDED, count=2)  # 2 of 5 failed now
    assert monitor.tick().resolved == [("failure_rate", QUEUE)]


def test_unknown_jobs_fires_when_live_workers_do_not_know_a_waiting_name(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, UnknownJobs(), NoWorker())
    insert(store, new_job(name="resize"))
    store.put_worker("w-1", worker(names=("send_email",)))
    report = monitor.tick()
    assert report.opened == [("unknown_job", QUEUE)]
    assert "resize" in only_incident(store).summary

    store.put_worker("w-1", worker(names=("send_email", "resize")))
    assert monitor.tick().resolved == [("unknown_job", QUEUE)]


def test_no_worker_fires_for_ready_work_nobody_reads(app: Conveyor, store: Store) -> None:
    monitor = monitor_with(app, store, NoWorker(), UnknownJobs())
    insert(store, new_job())
    store.put_worker("w-1", worker(queues=("other",)))
    assert monitor.tick().opened == [("no_worker", QUEUE)]
    assert "no live worker reads the queue" in only_incident(store).summary

    store.put_worker("w-1", worker(queues=()))  # no queue list: reads every queue
    assert monitor.tick().resolved == [("no_worker", QUEUE)]


def test_a_paused_queue_needs_no_worker(app: Conveyor, store: Store) -> None:
    monitor = monitor_with(app, store, NoWorker())
    insert(store, new_job())
    store.set_queue_paused(QUEUE, True, "ops")
    assert monitor.tick().opened == []


def test_a_rule_filtered_to_one_queue_ignores_the_others(app: Conveyor, store: Store) -> None:
    monitor = monitor_with(app, store, NoWorker(), QueueAge(older_than=0.01, queue="emails"))
    insert(store, new_job(queue="emails"), new_job(queue="reports"))
    wait_until(lambda: all((s.oldest_queued_age or 0) > 0.05 for s in store.queue_stats()))
    report = monitor.tick()
    assert sorted(report.opened) == [
        ("no_worker", "emails"),
        ("no_worker", "reports"),
        ("queue_age", "emails"),
    ]


def test_a_failing_rule_is_skipped_and_its_incidents_stay(app: Conveyor, store: Store) -> None:
    class Flaky:
        name = "flaky"
        broken = False

        def evaluate(self, store: Store, now: float) -> list[Firing]:
            if self.broken:
                raise RuntimeError("lost the metrics")
            return [Firing("flaky", "thing", "the thing is flaky")]

    flaky = Flaky()
    monitor = monitor_with(app, store, flaky, NoWorker())
    assert monitor.tick().opened == [("flaky", "thing")]

    flaky.broken = True
    insert(store, new_job())
    report = monitor.tick()
    assert report.rule_errors == ["flaky: RuntimeError: lost the metrics"]
    assert report.opened == [("no_worker", QUEUE)]  # the other rules still ran
    assert sorted(firing(store)) == [("flaky", "thing"), ("no_worker", QUEUE)]


def test_a_rule_taken_out_of_the_configuration_resolves_its_incidents(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, NoWorker())
    insert(store, new_job())
    assert monitor.tick().opened == [("no_worker", QUEUE)]

    app.configure_monitor(rules=[QueueAge()], reminder=None)
    assert monitor.tick().resolved == [("no_worker", QUEUE)]


def test_backlog_growth_fires_once_the_backlog_grew_over_a_whole_window(
    app: Conveyor, store: Store
) -> None:
    rule = BacklogGrowth(window=60, min_ready=5)
    monitor = monitor_with(app, store, rule)
    t0 = store.now()
    insert(store, *[new_job() for _ in range(3)])
    assert monitor.tick(now=t0).opened == []
    insert(store, *[new_job() for _ in range(4)])
    # The caller's clock, advanced instead of sleeping: half a window is not a window.
    assert monitor.tick(now=t0 + 30).opened == []
    insert(store, new_job())
    assert complete(store, claim_one(store), now=t0 + 40)  # one drained
    assert monitor.tick(now=t0 + 61).opened == [("backlog_growth", QUEUE)]
    summary = only_incident(store).summary
    assert "grew from 3 to 7 ready jobs" in summary and "to drain" in summary, summary
    details = json.loads(only_incident(store).details_json)
    assert details["ready"] == 7 and details["ready_before"] == 3
    assert details["arrival_per_second"] > details["drain_per_second"] > 0

    for _ in range(7):  # drained to nothing: resolved
        assert complete(store, claim_one(store))
    assert monitor.tick(now=t0 + 62).resolved == [("backlog_growth", QUEUE)]


def test_a_steady_or_small_backlog_does_not_fire(app: Conveyor, store: Store) -> None:
    monitor = monitor_with(app, store, BacklogGrowth(window=60, min_ready=5))
    t0 = store.now()
    insert(store, *[new_job() for _ in range(6)])
    assert monitor.tick(now=t0).opened == []
    assert monitor.tick(now=t0 + 61).opened == []  # large, but not growing
    small = monitor_with(app, store, BacklogGrowth(window=60, min_ready=50))
    assert small.tick(now=t0).opened == []
    insert(store, new_job())
    assert small.tick(now=t0 + 61).opened == []  # growing, but below min_ready


def test_rules_validate_their_options() -> None:
    with pytest.raises(ConfigurationError, match="threshold"):
        DeadLetterGrowth(threshold=0)
    with pytest.raises(ConfigurationError, match="window"):
        DeadLetterGrowth(window="soon")
    with pytest.raises(ConfigurationError, match="above"):
        FailureRate(above=1.5)
    with pytest.raises(ConfigurationError, match="min_attempts"):
        FailureRate(min_attempts=0)
    with pytest.raises(ConfigurationError, match="queue"):
        QueueAge(queue="bad queue name!")
    with pytest.raises(ConfigurationError, match="min_ready"):
        BacklogGrowth(min_ready=0)
    assert sorted(r.name for r in default_rules()) == [
        "dlq_growth",
        "failure_rate",
        "long_transaction",
        "no_worker",
        "queue_age",
        "sequence_blocked",
        "stalled_jobs",
        "unknown_job",
    ]


# -- check-ins -----------------------------------------------------------------------------------

PERIOD = 2.0


def test_a_silent_check_in_fires_and_a_ping_in_its_window_resolves_it(
    app: Conveyor, store: Store
) -> None:
    app.checkin("backup", every=PERIOD, grace=0)
    monitor = monitor_with(app, store)
    assert monitor.tick().opened == []  # no slot since it was created
    [row] = store.list_checkins()

    # The first slot after the check-in was created passes without a ping.
    first = math.floor(row.created_at / PERIOD) * PERIOD + PERIOD
    wait_until(lambda: store.now() >= first)
    assert monitor.tick().opened == [("checkin", "backup")]
    incident = only_incident(store)
    assert incident.summary.startswith("backup: no check-in for the ")

    # A ping counts for the slot at or after it; once that slot is due, the incident resolves.
    ping = store.record_checkin("backup")
    assert ping is not None
    owner = math.ceil(ping / PERIOD) * PERIOD
    wait_until(lambda: store.now() >= owner)
    report = monitor.tick()
    assert report.resolved == [("checkin", "backup")], (ping, owner, store.now())
    assert only_incident(store).state is IncidentState.RESOLVED


def test_expirations_fire_per_queue_for_jobs_not_started_by_their_deadline(
    app: Conveyor, store: Store
) -> None:
    monitor = monitor_with(app, store, Expirations(threshold=2, window="1h"))
    t = store.now()
    insert(
        store,
        replace(new_job(), start_by=t - 1),
        replace(new_job(queue="other"), start_by=t - 1),
    )
    finish(store, CompletionKind.CANCELLED)  # a cancel is no expiry
    assert len(store.cancel_expired()) == 2
    assert monitor.tick().opened == []  # one per queue is below the threshold
    insert(store, replace(new_job(), start_by=t - 1))
    assert len(store.cancel_expired()) == 1
    assert monitor.tick().opened == [("expirations", QUEUE)]
    assert "2 jobs expired unstarted in the last 1h" in only_incident(store).summary
    [counts] = [c for c in store.window_counts(t - 60) if c.queue == QUEUE]
    assert (counts.expired, counts.dead) == (2, 0)
    with pytest.raises(ConfigurationError, match="Expirations: threshold must be"):
        Expirations(threshold=0)


def _spend(store: Store, at: float, tenant: str | None, cost: float) -> None:
    job_id = insert(store, new_job(tenant=tenant))[0]
    store.record_usage([UsageRow(job_id=job_id, attempt=1, name="a", queue=QUEUE, tenant=tenant,
                                 finished_at=at, wall=1.0, cpu=0.5, memory_mb=50.0,
                                 units={"cost": cost, "tokens": 1000})])


def test_budget_fires_per_tenant_over_its_window_and_resolves_as_it_slides(
    app: Conveyor, store: Store
) -> None:
    t = store.now()
    monitor = monitor_with(app, store, Budget("cost", 10, per="1h", by="tenant"))
    _spend(store, t - 7200, "acme", 50)  # outside the window
    _spend(store, t - 1800, "acme", 6)
    _spend(store, t - 60, "acme", 6)
    _spend(store, t - 60, "globex", 10)  # at the limit is within it
    _spend(store, t - 60, None, 3)
    assert monitor.tick(now=t).opened == [("budget", "cost:acme")]
    summary = only_incident(store).summary
    assert summary.startswith("tenant acme: cost reached 12 in the last 1h, over the budget of 10")
    assert "conveyor usage --by tenant --since 3600s" in summary
    # Half an hour later the older 6 left the window: within budget, resolved.
    assert monitor.tick(now=t + 1801).resolved == [("budget", "cost:acme")]
    # One budget over everything, keyed by the unit.
    overall = Budget("cost", 20, per="1h")
    [fired] = overall.evaluate(store, t)
    assert (fired.subject, fired.details["spent"]) == ("cost", 25.0)
    assert fired.summary.startswith("all jobs: cost reached 25")
    [queue] = Budget("tokens", 1000, per="1h", by="queue").evaluate(store, t)
    assert (queue.subject, queue.details["spent"]) == (f"tokens:{QUEUE}", 4000.0)
    assert Budget("tokens", 4000, per="1h", by="queue").evaluate(store, t) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "total cost", "limit": 1}, "Budget: unit is the name a handler reports"),
        ({"unit": "cost", "limit": math.inf}, "Budget: limit must be a finite number"),
        ({"unit": "cost", "limit": "5"}, "Budget: limit must be a finite number"),
        ({"unit": "cost", "limit": 5, "by": "worker"}, "Budget: by must be one of 'name'"),
        ({"unit": "cost", "limit": 5, "per": "0s"}, "Budget: per must be longer than zero"),
    ],
)
def test_budget_refuses_bad_settings_by_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Budget(**kwargs)  # type: ignore[arg-type]
