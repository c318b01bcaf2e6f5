"""Conformance: incidents (one firing per rule and subject) and the notification outbox."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from conveyor._outbox import DeliveryKind, DeliveryRow, NewDelivery
from conveyor.store import Store
from conveyor.store.protocol import Retention
from conveyor.store.watch_types import (
    IncidentChange,
    IncidentRow,
    IncidentState,
    NoticeKind,
)

KEEP_ALL = Retention(watch=3600.0)
ALERT = DeliveryKind.ALERT
OWNER = "conformance-deliverer"
LEASE = 60.0


def open_one(store: Store, rule: str = "missed_run", subject: str = "nightly") -> IncidentRow:
    """Open an incident that must not exist yet."""
    change = store.upsert_incident(
        rule, subject, firing=True, summary=f"{subject} broke {rule}", details_json='{"slot": 1}'
    )
    assert change is not None and change.opened
    return change.row


def fire_again(store: Store, row: IncidentRow, summary: str, details_json: str) -> IncidentChange:
    """Say that ``row``'s rule fires for its subject (again), with new texts."""
    change = store.upsert_incident(
        row.rule, row.subject, firing=True, summary=summary, details_json=details_json
    )
    assert change is not None
    return change


def resolve(store: Store, row: IncidentRow, now: float | None = None) -> IncidentRow | None:
    """Say that ``row``'s rule no longer fires for its subject; the resolved row, if any."""
    change = store.upsert_incident(row.rule, row.subject, firing=False, now=now)
    assert change is None or not change.opened
    return None if change is None else change.row


def alert(
    incident: IncidentRow, sink: str, payload: str, kind: NoticeKind = NoticeKind.FIRING
) -> NewDelivery:
    """An alert notice for one sink, as the monitor adds it."""
    return NewDelivery(ALERT, incident.id, str(kind), sink, payload, incident.opened_at)


def notify(store: Store, incident: IncidentRow, *sinks: str) -> list[DeliveryRow]:
    """Queue a firing notification per sink and return the incident's outbox, oldest first."""
    store.add_deliveries([alert(incident, sink, '{"n": 1}') for sink in sinks])
    return list(reversed(notifications(store, incident.id)))


def notifications(
    store: Store, incident_id: int | None = None, limit: int = 100
) -> list[DeliveryRow]:
    """The alert outbox (of one incident), newest first."""
    return store.list_deliveries(kind=ALERT, subject=incident_id, limit=limit)


def due(store: Store, limit: int = 100, now: float | None = None) -> list[DeliveryRow]:
    """Claim the alert notices due (at ``now``) as this test's deliverer, as they were before
    the claim (so they compare equal to the listed rows)."""
    claimed = store.claim_deliveries(OWNER, limit, LEASE, kinds=[ALERT], now=now)
    for row in claimed:
        assert row.lease_owner == OWNER
    return [dataclasses.replace(row, lease_owner=None, lease_until=None) for row in claimed]


def record(
    store: Store,
    row: DeliveryRow,
    *,
    error: str | None,
    retry_in: float | None,
    now: float | None = None,
) -> bool:
    """Record an attempt on a claimed notice as this test's deliverer."""
    return store.record_delivery(
        row.id, OWNER, row.attempts, error=error, retry_in=retry_in, now=now
    )


# -- incidents ---------------------------------------------------------------------------------


def test_an_opened_incident_is_firing_with_its_facts(store: Store) -> None:
    before = store.now()
    change = store.upsert_incident(
        "missed_run",
        "nightly",
        firing=True,
        summary="nightly did not run",
        details_json='{"slot": 3}',
    )
    assert change is not None and change.opened
    row = change.row
    assert (row.rule, row.subject, row.state) == ("missed_run", "nightly", IncidentState.FIRING)
    assert (row.summary, row.details_json) == ("nightly did not run", '{"slot": 3}')
    assert before - 1 <= row.opened_at <= store.now() + 1
    assert row.updated_at == row.opened_at
    assert (row.resolved_at, row.last_notified_at, row.notify_count) == (None, None, 0)
    assert store.firing_incidents() == [row]


def test_incidents_are_opened_refreshed_and_resolved_at_the_callers_clock(store: Store) -> None:
    opened = store.upsert_incident("r", "s", firing=True, summary="a", now=1000.0)
    assert opened is not None and opened.opened
    assert (opened.row.opened_at, opened.row.updated_at) == (1000.0, 1000.0)
    refreshed = store.upsert_incident("r", "s", firing=True, summary="b", now=2000.0)
    assert refreshed is not None and not refreshed.opened
    assert (refreshed.row.opened_at, refreshed.row.updated_at) == (1000.0, 2000.0)
    store.mark_notified(opened.row.id, now=2500.0)
    [notified] = store.firing_incidents()
    assert (notified.last_notified_at, notified.notify_count) == (2500.0, 1)
    resolved = resolve(store, opened.row, now=3000.0)
    assert resolved is not None
    assert (resolved.resolved_at, resolved.updated_at, resolved.summary) == (3000.0, 3000.0, "b")


def test_one_rule_fires_one_incident_per_subject(store: Store) -> None:
    first = open_one(store)
    again = fire_again(store, first, "again", "{}")
    assert not again.opened and again.row.id == first.id
    other_subject = open_one(store, subject="hourly")
    other_rule = open_one(store, rule="failed_run")
    ids = {first.id, other_subject.id, other_rule.id}
    assert len(ids) == 3
    assert [i.id for i in store.firing_incidents()] == [first.id, other_subject.id, other_rule.id]
    # Firing again refreshed the one incident; it opened no second one.
    assert store.firing_incidents()[0] == again.row
    assert (again.row.summary, again.row.opened_at) == ("again", first.opened_at)


def test_after_resolving_the_rule_can_fire_a_new_incident(store: Store) -> None:
    first = open_one(store)
    assert resolve(store, first) is not None
    second = open_one(store)
    assert second.id != first.id
    assert [i.id for i in store.firing_incidents()] == [second.id]
    assert not fire_again(store, second, "again", "{}").opened


def test_resolve_marks_it_resolved_once(store: Store) -> None:
    row = open_one(store)
    resolved = resolve(store, row)
    assert resolved is not None
    assert resolved.id == row.id and resolved.state is IncidentState.RESOLVED
    assert resolved.resolved_at is not None and resolved.resolved_at >= row.opened_at
    assert resolved.updated_at == resolved.resolved_at
    assert (resolved.summary, resolved.opened_at) == (row.summary, row.opened_at)
    assert store.firing_incidents() == []
    assert resolve(store, row) is None
    assert store.upsert_incident("never", "fired", firing=False) is None
    assert store.list_incidents(include_resolved=True) == [resolved]


def test_firing_again_refreshes_the_firing_incident_and_leaves_resolved_ones_alone(
    store: Store,
) -> None:
    row = open_one(store)
    updated = fire_again(store, row, "still broken", '{"slot": 2}').row
    assert store.firing_incidents() == [updated]
    assert (updated.summary, updated.details_json) == ("still broken", '{"slot": 2}')
    assert updated.opened_at == row.opened_at and updated.updated_at >= row.updated_at
    resolved = resolve(store, row)
    # Firing after the resolve opens a new incident; the resolved one is left as it is.
    reopened = fire_again(store, row, "broken again", "{}")
    assert reopened.opened and reopened.row.id != row.id
    assert store.list_incidents(include_resolved=True) == [reopened.row, resolved]


def test_mark_notified_counts_notifications(store: Store) -> None:
    row = open_one(store)
    store.mark_notified(row.id)
    [once] = store.firing_incidents()
    assert once.notify_count == 1
    assert once.last_notified_at is not None and once.last_notified_at >= row.opened_at
    store.mark_notified(row.id)
    [twice] = store.firing_incidents()
    assert twice.notify_count == 2 and twice.last_notified_at >= once.last_notified_at
    store.mark_notified(987_654)  # an unknown id is harmless


def test_list_incidents_is_newest_first_and_hides_resolved_unless_asked(store: Store) -> None:
    a = open_one(store, subject="a")
    b = open_one(store, subject="b")
    c = open_one(store, subject="c")
    resolve(store, b)
    assert [i.id for i in store.list_incidents()] == [c.id, a.id]
    assert [i.id for i in store.list_incidents(include_resolved=True)] == [c.id, b.id, a.id]
    assert [i.id for i in store.list_incidents(include_resolved=True, limit=2)] == [c.id, b.id]
    assert [i.id for i in store.list_incidents(limit=1)] == [c.id]
    assert [i.id for i in store.list_incidents(include_resolved=True, limit=None)] == [
        c.id,
        b.id,
        a.id,
    ]
    assert [i.id for i in store.firing_incidents()] == [a.id, c.id]


def test_monitors_racing_to_open_one_incident_open_it_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    stores = [open_store_on() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    opened: list[IncidentChange | None] = []
    errors: list[BaseException] = []

    def race(own: Store) -> None:
        try:
            barrier.wait()
            opened.append(
                own.upsert_incident(
                    "no_worker", "default", firing=True, summary="no worker", details_json="{}"
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert all(change is not None for change in opened)
    winners = [change.row for change in opened if change is not None and change.opened]
    assert len(opened) == len(stores) and len(winners) == 1
    # The others refreshed the one incident (with the same texts): still one, the winner's.
    [incident] = store.list_incidents(include_resolved=True)
    assert (incident.id, incident.opened_at) == (winners[0].id, winners[0].opened_at)


# -- the outbox --------------------------------------------------------------------------------


def test_added_notifications_are_due_now_in_order(store: Store) -> None:
    incident = open_one(store)
    before = store.now()
    outbox = notify(store, incident, "log", "webhook:https://example.test/hook", "email:ops")
    assert [n.destination for n in outbox] == [
        "log",
        "webhook:https://example.test/hook",
        "email:ops",
    ]
    for n in outbox:
        assert (n.kind, n.subject, n.event, n.payload_json) == (
            ALERT,
            incident.id,
            NoticeKind.FIRING,
            '{"n": 1}',
        )
        assert before - 1 <= n.created_at <= store.now() + 1
        assert n.next_try_at == n.created_at
        assert (n.attempts, n.delivered_at, n.failed_at, n.last_error) == (0, None, None, None)
    # Claimed up to the limit, oldest first; the rest on the next claim.
    assert due(store, limit=2) == outbox[:2]
    assert due(store) == outbox[2:]


def test_adding_no_notifications_is_harmless(store: Store) -> None:
    assert store.add_deliveries([]) == 0
    assert notifications(store) == []
    assert due(store) == []


def test_list_notifications_is_newest_first_for_one_incident_or_all(store: Store) -> None:
    first = open_one(store, subject="a")
    second = open_one(store, subject="b")
    a = notify(store, first, "log", "email:ops")
    b = notify(store, second, "log")
    store.add_deliveries([alert(first, "log", '{"n": 2}', NoticeKind.REMINDER)])
    everything = notifications(store)
    assert [n.subject for n in everything] == [first.id, second.id, first.id, first.id]
    assert everything[0].event == NoticeKind.REMINDER
    assert everything[1:] == [*b, *reversed(a)]
    assert notifications(store, limit=2) == everything[:2]
    assert [n.id for n in notifications(store, first.id)] == [
        everything[0].id,
        a[1].id,
        a[0].id,
    ]
    assert notifications(store, first.id, limit=1) == everything[:1]
    assert notifications(store, 987_654) == []


def test_a_delivered_notification_is_no_longer_due(store: Store) -> None:
    incident = open_one(store)
    [n] = notify(store, incident, "log")
    assert due(store) == [n]
    assert record(store, n, error=None, retry_in=None)
    [done] = notifications(store, incident.id)
    assert done.delivered_at is not None and done.delivered_at >= n.created_at
    assert (done.attempts, done.failed_at, done.last_error) == (1, None, None)
    assert due(store) == []


def test_a_failed_delivery_is_counted_and_tried_again_later(store: Store) -> None:
    incident = open_one(store)
    [n] = notify(store, incident, "webhook:https://example.test/hook")
    assert due(store) == [n]
    now = store.now()
    assert record(store, n, error="HTTP 503", retry_in=3600, now=now)
    [failed] = notifications(store, incident.id)
    assert (failed.attempts, failed.last_error) == (1, "HTTP 503")
    assert (failed.delivered_at, failed.failed_at) == (None, None)
    assert abs(failed.next_try_at - (now + 3600)) < 0.001
    assert due(store) == []

    # Due again once its next try comes (the claim is made at that time).
    later = now + 3600
    [retry] = due(store, now=later)
    assert (retry.id, retry.attempts, retry.last_error) == (n.id, 1, "HTTP 503")
    assert record(store, retry, error="timed out", retry_in=0, now=later)
    [again] = due(store, now=later)
    assert (again.id, again.attempts, again.last_error) == (n.id, 2, "timed out")

    assert record(store, again, error=None, retry_in=None)
    [delivered] = notifications(store, incident.id)
    assert delivered.attempts == 3 and delivered.delivered_at is not None
    assert delivered.last_error == "timed out"  # what went wrong before stays readable
    assert due(store, now=later) == []


def test_a_failed_delivery_without_a_next_try_is_given_up(store: Store) -> None:
    incident = open_one(store)
    [n] = notify(store, incident, "email:ops")
    assert due(store) == [n]
    assert record(store, n, error="550 mailbox unavailable", retry_in=None)
    [given_up] = notifications(store, incident.id)
    assert given_up.failed_at is not None and given_up.failed_at >= n.created_at
    assert (given_up.attempts, given_up.delivered_at) == (1, None)
    assert given_up.last_error == "550 mailbox unavailable"
    assert due(store, now=store.now() + 86_400) == []


def test_a_final_notification_is_not_changed_by_a_late_report(store: Store) -> None:
    incident = open_one(store)
    [delivered, given_up] = notify(store, incident, "log", "email:ops")
    assert due(store) == [delivered, given_up]
    assert record(store, delivered, error=None, retry_in=None)
    assert record(store, given_up, error="refused", retry_in=None)
    before = notifications(store, incident.id)
    assert not record(store, delivered, error="late failure", retry_in=0)
    assert not record(store, given_up, error=None, retry_in=None)
    for final in before:  # a report that counted the attempt is late too
        assert not store.record_delivery(final.id, OWNER, final.attempts, error=None,
                                         retry_in=None)
    assert not store.record_delivery(987_654, OWNER, 0, error=None, retry_in=None)  # unknown
    assert notifications(store, incident.id) == before
    assert due(store) == []


def test_due_notifications_come_by_due_time(store: Store) -> None:
    incident = open_one(store)
    first, second, third = notify(store, incident, "a", "b", "c")
    assert due(store) == [first, second, third]
    now = store.now()
    assert record(store, first, error="x", retry_in=20, now=now)
    assert record(store, second, error="x", retry_in=10, now=now)
    assert record(store, third, error="x", retry_in=3600, now=now)
    assert [n.id for n in due(store, now=now + 20)] == [second.id, first.id]


def test_a_released_notification_is_due_again_untried(store: Store) -> None:
    incident = open_one(store)
    first, second = notify(store, incident, "a", "b")
    assert due(store) == [first, second]
    assert store.release_deliveries([second.id], "someone-else") == 0  # not their claim
    assert due(store) == []
    assert store.release_deliveries([second.id, 987_654], OWNER) == 1
    assert store.release_deliveries([], OWNER) == 0
    assert due(store) == [second]  # attempts unchanged, due at once
    assert record(store, first, error=None, retry_in=None)
    assert store.release_deliveries([first.id], OWNER) == 0  # delivered: nothing to give back
    assert notifications(store, incident.id)[-1].delivered_at is not None


# -- pruning -----------------------------------------------------------------------------------


def test_pruning_drops_old_resolved_incidents_with_their_notifications(store: Store) -> None:
    # The caller's clock, advanced instead of sleeping: the recent one resolves 0.3 s later.
    t = store.now()
    later = t + 0.3
    old = open_one(store, subject="old")
    notify(store, old, "log", "email:ops")
    resolve(store, old, now=t)
    firing = open_one(store, subject="firing")
    [pending] = notify(store, firing, "log")
    recent = open_one(store, subject="recent")
    notify(store, recent, "log")
    resolve(store, recent, now=later)

    assert store.prune(KEEP_ALL, now=later) == 0
    assert store.prune(Retention(watch=0.2), now=later) == 3  # the old incident and its two
    remaining = store.list_incidents(include_resolved=True)
    assert sorted(i.subject for i in remaining) == ["firing", "recent"]
    assert notifications(store, old.id) == []
    assert len(notifications(store, recent.id)) == 1
    # A firing incident is never pruned, nor its undelivered notification.
    # the recent one, resolved, and its one
    assert store.prune(Retention(watch=0.0), now=later + 0.01) == 2
    assert [i.id for i in store.list_incidents(include_resolved=True)] == [firing.id]
    assert due(store) == [pending]


def test_pruning_drops_old_delivered_and_given_up_notifications(store: Store) -> None:
    incident = open_one(store)
    delivered, given_up, retrying, waiting = notify(store, incident, "a", "b", "c", "d")
    assert due(store, limit=3) == [delivered, given_up, retrying]
    t = store.now()
    assert record(store, delivered, error=None, retry_in=None, now=t)
    assert record(store, given_up, error="refused", retry_in=None, now=t)
    assert record(store, retrying, error="503", retry_in=3600, now=t)
    later = t + 0.05  # the caller's clock, advanced instead of sleeping
    assert store.prune(KEEP_ALL, now=later) == 0
    assert store.prune(Retention(watch=0.0), now=later) == 2
    assert {n.id for n in notifications(store, incident.id)} == {retrying.id, waiting.id}
    assert [i.id for i in store.firing_incidents()] == [incident.id]


def test_pruning_stops_at_the_limit_per_table(store: Store) -> None:
    t = store.now()
    incidents = [open_one(store, subject=f"s{n}") for n in range(3)]
    for incident in incidents:
        notify(store, incident, "log", "email:ops")
        resolve(store, incident, now=t)
    later = t + 0.05  # the caller's clock, advanced instead of sleeping
    # Two notifications go first; an incident goes only once its notifications are gone.
    assert store.prune(Retention(watch=0.0), limit=2, now=later) == 3
    assert len(store.list_incidents(include_resolved=True)) == 2
    assert len(notifications(store)) == 4
    assert store.prune(Retention(watch=0.0), limit=2, now=later) == 3
    assert store.prune(Retention(watch=0.0), limit=2, now=later) == 3
    assert store.list_incidents(include_resolved=True) == []
    assert notifications(store) == []
    assert store.prune(Retention(watch=0.0), limit=2, now=later) == 0
