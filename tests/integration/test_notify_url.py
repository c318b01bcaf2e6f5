"""Completion webhooks end to end: real worker processes POST each finished job's notify_url
to a loopback receiver once, signed; failures are retried with backoff and stay visible.

The receivers are on loopback, which webhooks reach only when allowed: the tests allow it
with ``CONVEYOR_WEBHOOK_ALLOW``, except those showing that it is refused otherwise."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState
from conveyor._webhooks import MAX_ATTEMPTS
from conveyor.delivery import Deliverer, WebhookSender
from conveyor.monitor.signing import verify
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers, load_itapp
from .receivers import (
    ALLOW_LOOPBACK,
    LOOPBACK,
    DripReceiver,
    Receiver,
    running_drip_receiver,
    running_receiver,
)

SECRET = "it-notify-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as recv:
        yield recv


@pytest.fixture
def drip() -> Iterator[DripReceiver]:
    with running_drip_receiver(interval=0.5) as recv:
        yield recv


def allow_loopback(workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let this process and the workers send webhooks to the loopback receivers."""
    workers.env["CONVEYOR_WEBHOOK_ALLOW"] = ALLOW_LOOPBACK
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOW", ALLOW_LOOPBACK)


@pytest.fixture
def app(workers: Workers, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Conveyor]:
    """The test's own copy of ``notifyapp`` on the workers' database, loopback allowed."""
    allow_loopback(workers, monkeypatch)
    loaded = load_itapp(tmp_path.name, "notifyapp")
    try:
        yield loaded
    finally:
        loaded.close()


def get_webhook(app: Conveyor, job_id: int) -> DeliveryRow | None:
    """A job's webhook delivery, or None."""
    found = app.store.list_deliveries(kind=DeliveryKind.WEBHOOK, subject=job_id, limit=1)
    return found[0] if found else None


def delivery(app: Conveyor, job_id: int) -> DeliveryRow:
    row = get_webhook(app, job_id)
    assert row is not None, f"job {job_id} has no webhook delivery yet"
    return row


def failing_webhooks(app: Conveyor) -> list[int]:
    """The jobs whose webhook failed and is not delivered (retrying or given up)."""
    rows = app.store.list_deliveries(kind=DeliveryKind.WEBHOOK, failing=True)
    return [r.subject for r in rows]


def test_each_finished_job_is_posted_once_and_signed(
    workers: Workers, app: Conveyor, receiver: Receiver
) -> None:
    url = receiver.url()
    added = app.get("notify.add").enqueue(a=2, b=3, notify_url=url)
    failed = app.get("notify.fail").enqueue(order_id=7, notify_url=url + "?from=test")
    plain = app.get("notify.add").enqueue(a=1, b=1)
    workers.start("notifyapp:app", processes=2)  # two notifiers race for every delivery

    eventually(lambda: len(receiver.delivered()) == 2, timeout=30)
    # A later job's webhook arriving shows the notifiers kept running after the first two.
    marker = app.get("notify.add").enqueue(a=0, b=0, notify_url=url)
    eventually(lambda: len(receiver.delivered()) == 3, timeout=30)
    eventually(lambda: delivery(app, marker.id).state is DeliveryState.DELIVERED, timeout=10)

    bodies = {h.json()["job_id"]: h for h in receiver.delivered()}
    assert Counter(h.json()["job_id"] for h in receiver.hits) == {
        added.id: 1, failed.id: 1, marker.id: 1,
    }
    for hit in bodies.values():
        assert hit.signature is not None
        assert verify(SECRET, hit.signature, hit.body, now=time.time())
        assert not verify("another-secret", hit.signature, hit.body, now=time.time())

    done = bodies[added.id].json()
    job = app.store.get_job(added.id)
    assert job is not None and job.finished_at is not None
    assert done == {
        "job_id": added.id, "name": "notify.add", "queue": "default", "state": "succeeded",
        "result": 5, "finished_at": job.finished_at, "attempts": 1,
    }
    dead = bodies[failed.id]
    assert dead.path == "/hook?from=test"
    assert dead.json()["state"] == "dead"
    assert dead.json()["error"] == {"type": "ValueError", "message": "order 7 has no customer"}
    assert "result" not in dead.json()

    plain_job = app.store.get_job(plain.id)
    assert plain_job is not None and plain_job.state == "succeeded"
    assert get_webhook(app, plain.id) is None  # no notify_url, no delivery
    for job_id in (added.id, failed.id):
        row = delivery(app, job_id)
        assert row.state is DeliveryState.DELIVERED and row.attempts == 1


def test_a_failing_receiver_is_retried_until_it_takes_the_webhook(
    workers: Workers, app: Conveyor, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    handle = app.get("notify.add").enqueue(a=20, b=22, notify_url=receiver.url())
    workers.start("notifyapp:app")

    eventually(lambda: delivery(app, handle.id).state is DeliveryState.DELIVERED, timeout=30)
    row = delivery(app, handle.id)
    assert row.attempts == 3
    assert row.last_error is not None and "HTTP 500" in row.last_error  # the history stays
    assert [h.status for h in receiver.hits] == [500, 500, 204]
    assert receiver.hits[-1].json()["result"] == 42
    assert failing_webhooks(app) == []


def test_a_failing_delivery_is_visible_while_it_retries(
    workers: Workers, app: Conveyor, receiver: Receiver
) -> None:
    receiver.fail_first = 3  # the third failure waits a minute (notifyapp's backoff)
    handle = app.get("notify.add").enqueue(a=1, b=2, notify_url=receiver.url())
    workers.start("notifyapp:app")

    eventually(lambda: delivery(app, handle.id).attempts == 3, timeout=30)
    row = delivery(app, handle.id)
    assert row.state is DeliveryState.PENDING
    assert failing_webhooks(app) == [handle.id]

    shown = subprocess.run(
        [sys.executable, "-m", "conveyor", "jobs", "show", str(handle.id)],
        env=workers.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    (line,) = [line for line in shown.splitlines() if line.strip().startswith("notify")]
    assert "failing (the receiver answered HTTP 500" in line, shown
    assert "3 attempts" in line and "next try in" in line, shown


# -- where webhooks may go, and for how long --------------------------------------------------


@pytest.fixture
def strict_app(workers: Workers, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[
    Conveyor
]:
    """``notifyapp`` with nothing allowed: only public destinations."""
    workers.env.pop("CONVEYOR_WEBHOOK_ALLOW", None)
    monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOW", raising=False)
    loaded = load_itapp(tmp_path.name + "_strict", "notifyapp")
    try:
        yield loaded
    finally:
        loaded.close()


def test_a_host_resolving_to_loopback_is_refused_when_sending(
    workers: Workers, strict_app: Conveyor, receiver: Receiver
) -> None:
    # A host name passes at enqueue (no DNS there); what it resolves to is checked on sending.
    url = receiver.url().replace(LOOPBACK, "localhost")
    handle = strict_app.get("notify.add").enqueue(a=1, b=2, notify_url=url)
    workers.start("notifyapp:app")

    eventually(lambda: delivery(strict_app, handle.id).state is DeliveryState.FAILED, timeout=30)
    row = delivery(strict_app, handle.id)
    assert row.attempts == 1  # refused destinations are not retried
    assert row.last_error is not None
    assert "refused to send to localhost: it resolves to 127.0.0.1, a loopback address" in (
        row.last_error
    )
    assert "webhook_allow" in row.last_error and "CONVEYOR_WEBHOOK_ALLOW" in row.last_error
    assert receiver.hits == []  # nothing reached the receiver


def test_a_dripping_receiver_is_cut_off_at_the_deadline_and_retried(
    workers: Workers, app: Conveyor, drip: DripReceiver
) -> None:
    workers.env["IT_WEBHOOK_TIMEOUT"] = "2s"
    handle = app.get("notify.add").enqueue(a=1, b=2, notify_url=drip.url())
    workers.start("notifyapp:app")

    eventually(lambda: delivery(app, handle.id).attempts >= 1, timeout=30)
    row = delivery(app, handle.id)
    assert row.last_error is not None
    assert "no answer within 2s (the deadline of the whole request)" in row.last_error
    assert row.state is DeliveryState.PENDING  # a failed attempt, to be retried
    # The worker hung up on the first answer while it was still dripping.
    eventually(lambda: drip.drips[0].hung_up, timeout=10)


def test_a_slow_receiver_does_not_hold_up_the_others(
    workers: Workers, app: Conveyor, drip: DripReceiver, receiver: Receiver
) -> None:
    workers.env["IT_WEBHOOK_TIMEOUT"] = "30s"  # the slow POST hangs for the whole test
    slow = app.get("notify.add").enqueue(a=1, b=2, notify_url=drip.url())
    workers.start("notifyapp:app", processes=1)
    eventually(lambda: drip.hanging() == 1, timeout=30)

    fast = app.get("notify.add").enqueue(a=3, b=4, notify_url=receiver.url())
    eventually(lambda: delivery(app, fast.id).state is DeliveryState.DELIVERED, timeout=20)
    assert [h.json()["job_id"] for h in receiver.delivered()] == [fast.id]
    # ...while the same worker's POST to the slow receiver was still waiting for its answer.
    assert drip.hanging() == 1 and len(drip.drips) == 1
    assert delivery(app, slow.id).attempts == 0


# -- the deliverer driven directly ------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def direct_app(backend_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[
    Conveyor
]:
    """``notifyapp`` on a fresh database, without its secret (webhooks go unsigned)."""
    monkeypatch.setenv("CONVEYOR_URL", backend_url)
    monkeypatch.delenv("CONVEYOR_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOW", ALLOW_LOOPBACK)
    loaded = load_itapp(tmp_path.name + "_direct", "notifyapp")
    loaded.webhook_secret = None
    loaded.store.migrate()
    try:
        yield loaded
    finally:
        loaded.close()


def test_a_cancelled_job_is_posted_unsigned_without_a_secret(
    direct_app: Conveyor, receiver: Receiver
) -> None:
    handle = direct_app.get("notify.add").enqueue(a=1, b=1, notify_url=receiver.url(), delay=60)
    assert direct_app.store.cancel_jobs(JobFilter(ids=(handle.id,))) == [handle.id]
    notifier = Deliverer(
        direct_app.store,
        [WebhookSender(secret=None, allow=direct_app.webhook_allow, backoff=(0.01,))],
    )
    report = notifier.tick()
    assert report.added == 1 and report.delivered == 1
    (hit,) = receiver.hits
    assert hit.signature is None
    assert hit.json()["state"] == "cancelled" and hit.json()["attempts"] == 0
    assert notifier.tick().added == 0  # nothing new to add, nothing sent again
    assert len(receiver.hits) == 1


def test_an_unreachable_receiver_is_given_up_after_max_attempts(
    direct_app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://{LOOPBACK}:{closed_port()}/hook"
    handle = direct_app.get("notify.add").enqueue(a=1, b=1, notify_url=url, delay=60)
    direct_app.store.cancel_jobs(JobFilter(ids=(handle.id,)))
    notifier = Deliverer(
        direct_app.store,
        [
            WebhookSender(
                secret=None, allow=direct_app.webhook_allow, backoff=(0.01,), timeout=2.0
            )
        ],
    )

    def given_up() -> bool:
        notifier.tick()
        return delivery(direct_app, handle.id).state is DeliveryState.FAILED

    eventually(given_up, timeout=30, interval=0.02)
    row = delivery(direct_app, handle.id)
    assert row.attempts == MAX_ATTEMPTS
    assert row.last_error is not None and "could not connect" in row.last_error
    assert failing_webhooks(direct_app) == [handle.id]
    # Failed webhooks are logged where the notifier always logged them.
    failures = {r.name for r in caplog.records if "failed on attempt" in r.getMessage()}
    assert failures == {"conveyor.notifier"}
