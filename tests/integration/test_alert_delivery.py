"""Alerts end to end: the monitor delivers each incident's notices to a real loopback webhook
receiver and a real aiosmtpd SMTP server, exactly once per sink, and retries failures."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from conveyor import Conveyor
from conveyor._outbox import DeliveryKind, DeliveryRow
from conveyor.monitor.config import Firing
from conveyor.monitor.delivery import BACKOFF, MAX_ATTEMPTS, backoff, deliver_due
from conveyor.monitor.incidents import reconcile
from conveyor.monitor.service import Monitor
from conveyor.monitor.sinks import EmailSink, Sink, WebhookSink
from conveyor.schedules.timing import Every
from conveyor.store import Store, open_store
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, ErrorInfo
from conveyor.store.watch_types import NoticeKind, SlotFire, SlotStatus

from .receivers import LOOPBACK, Receiver, running_receiver

PERIOD = 60.0


def notifications(store: Store, incident_id: int | None = None) -> list[DeliveryRow]:
    """The alert notices in the outbox (of one incident), newest first."""
    return store.list_deliveries(kind=DeliveryKind.ALERT, subject=incident_id)


# -- receivers -----------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as recv:
        yield recv


@dataclass
class Mailbox:
    """What the SMTP server accepted: (sender, recipients, raw message)."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as sock:  # a free loopback port for the controller to bind
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=LOOPBACK, port=port, server_hostname="mail.test")
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# -- an app on each backend ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
    return make()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store = open_store(url)
    yield store
    store.close()


def build_app(url: str, sinks: list[Sink]) -> Conveyor:
    app = Conveyor(url)

    @app.job(name="report")
    def report(ctx: Any) -> int:
        return 1

    app.schedule("minutely", "report", every=PERIOD, grace="10m")
    app.configure_monitor(rules=[], sinks=sinks, reminder=None)
    return app


def run_slot(app: Conveyor, store: Store, periods_ago: int, kind: CompletionKind) -> None:
    """Fire a slot of ``minutely`` as the scheduler does and finish its job as ``kind``."""
    latest = Every(PERIOD).previous_at_or_before(store.now())
    assert latest is not None
    fire = SlotFire(
        slot=latest - periods_ago * PERIOD,
        status=SlotStatus.ENQUEUED,
        job=app.jobs["report"].prepare(),
    )
    [written] = store.fire_slots("minutely", [fire])
    assert written.written
    params = ClaimParams(
        worker_id="w", queues=("default",), names=("report",), limit=1, lease_seconds=30
    )
    [job] = store.claim_jobs(params)
    error = None if kind is CompletionKind.SUCCEEDED else ErrorInfo("ValueError", "boom")
    [done] = store.complete_jobs([Completion(job.id, job.token, kind, "1", error=error)])
    assert done.accepted


# -- tests ---------------------------------------------------------------------------------------


def test_each_sink_gets_one_firing_and_one_resolved_notice(
    url: str, store: Store, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    webhook = WebhookSink(receiver.url(), timeout=5, allow=[LOOPBACK])
    email = EmailSink(LOOPBACK, port, sender="conveyor@example.com", to="ops@example.com")
    app = build_app(url, [webhook, email])
    try:
        store.put_schedules([d.to_row() for d in app.schedules.values()])
        monitor = Monitor(app, store=store)

        run_slot(app, store, 30, CompletionKind.DEAD)
        opened = monitor.tick()
        assert opened.opened == [("missed_run", "minutely")]
        assert (opened.delivered, opened.failed_deliveries) == (2, 0)
        monitor.tick()  # nothing new: nothing sent again

        run_slot(app, store, 0, CompletionKind.SUCCEEDED)
        resolved = monitor.tick()
        assert resolved.resolved == [("missed_run", "minutely")]
        assert resolved.delivered == 2
        monitor.tick()

        assert [(b["kind"], b["rule"], b["subject"]) for b in receiver.bodies] == [
            ("firing", "missed_run", "minutely"),
            ("resolved", "missed_run", "minutely"),
        ]
        assert (
            "failed into the dead-letter queue (ValueError: boom)"
            in (receiver.bodies[0]["summary"])
        )
        assert receiver.bodies[1]["resolved_at"] is not None
        subjects = [message_from_bytes(raw)["Subject"] for _, _, raw in mailbox.messages]
        assert subjects == [
            "[conveyor] FIRING missed_run minutely",
            "[conveyor] RESOLVED missed_run minutely",
        ]
        assert all(rcpt == ["ops@example.com"] for _, rcpt, _ in mailbox.messages)
        [incident] = store.list_incidents(include_resolved=True)
        rows = notifications(store, incident.id)
        assert len(rows) == 4
        assert all(row.delivered_at is not None and row.attempts <= 1 for row in rows)
    finally:
        app.close()


def test_a_failing_webhook_is_retried_and_its_error_stays_visible(
    store: Store, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    webhook = WebhookSink(receiver.url(), timeout=5, allow=[LOOPBACK])
    email = EmailSink(LOOPBACK, port, sender="conveyor@example.com", to="ops@example.com")
    sinks: dict[str, Sink] = {webhook.name: webhook, email.name: email}
    receiver.fail_first = 1
    now = store.now()
    reconcile(
        store,
        firing_incidents=[],
        evaluated={"queue_age"},
        findings=[Firing("queue_age", "emails", "queue emails: the oldest job waited 11m")],
        sinks=list(sinks),
        now=now,
    )

    # The first round fails for the webhook only; backdating "now" by the first backoff makes
    # the retry due at once instead of in ten seconds.
    first = deliver_due(store, sinks, store.now() - BACKOFF[0])
    assert (first.delivered, first.failed) == (1, 1)
    [incident] = store.firing_incidents()
    by_sink = {row.destination: row for row in notifications(store, incident.id)}
    failed = by_sink[webhook.name]
    assert failed.delivered_at is None and failed.failed_at is None
    assert failed.attempts == 1
    assert failed.last_error is not None and "HTTP 500" in failed.last_error
    assert by_sink[email.name].delivered_at is not None

    second = deliver_due(store, sinks, store.now())
    assert (second.delivered, second.failed) == (1, 0)
    retried = {row.destination: row for row in notifications(store, incident.id)}[webhook.name]
    assert retried.delivered_at is not None and retried.attempts >= 1
    assert [b["kind"] for b in receiver.bodies] == ["firing"]
    assert len(mailbox.messages) == 1
    assert deliver_due(store, sinks, store.now()).delivered == 0


def test_a_sink_no_longer_configured_is_given_up(store: Store, receiver: Receiver) -> None:
    webhook = WebhookSink(receiver.url(), timeout=5, allow=[LOOPBACK])
    reconcile(
        store,
        firing_incidents=[],
        evaluated={"no_worker"},
        findings=[Firing("no_worker", "emails", "queue emails: 3 jobs ready but no worker")],
        sinks=["webhook:http://gone.example/hook"],
        now=store.now(),
    )
    report = deliver_due(store, {webhook.name: webhook}, store.now())
    assert (report.failed, report.given_up) == (1, 1)
    [row] = notifications(store)
    assert NoticeKind(row.event) is NoticeKind.FIRING
    assert row.failed_at is not None
    assert row.last_error is not None and "no longer configured" in row.last_error
    assert store.claim_deliveries("test", 100, 60.0, kinds=[DeliveryKind.ALERT]) == []


def test_retries_back_off_then_give_up() -> None:
    waits = [backoff(attempts) for attempts in range(1, MAX_ATTEMPTS + 1)]
    assert waits == [10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 3600.0, None]


def test_a_failing_sinks_other_notices_wait_for_the_next_round_only(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    webhook = WebhookSink(receiver.url(), timeout=5, allow=[LOOPBACK])
    receiver.fail_first = 1
    reconcile(  # two incidents: two notices for the one sink
        store,
        firing_incidents=[],
        evaluated={"queue_age"},
        findings=[
            Firing("queue_age", subject, f"queue {subject}: waited 11m")
            for subject in ("emails", "reports")
        ],
        sinks=[webhook.name],
        now=store.now(),
    )
    first = deliver_due(store, {webhook.name: webhook})
    assert (first.delivered, first.failed, first.deferred) == (0, 1, 1)
    # Failed alerts are logged where the monitor always logged them.
    assert [r.name for r in caplog.records if "failed on attempt" in r.getMessage()] == [
        "conveyor.monitor"
    ]
    # The deferred notice was given back untried: due at once, not after its lease.
    [waiting] = [row for row in notifications(store) if row.attempts == 0]
    assert (waiting.lease_owner, waiting.lease_until) == (None, None)
    second = deliver_due(store, {webhook.name: webhook})
    assert (second.delivered, second.failed) == (1, 0)
    assert [b["subject"] for b in receiver.bodies] == [json.loads(waiting.payload_json)["subject"]]
